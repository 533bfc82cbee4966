import Foundation

extension TokenValidator {
    // Grafana's API keys before service accounts, as its HTTP API documentation shows them
    // (https://grafana.com/docs/grafana/v6.0/http_api/auth/): standard base64 of a compact JSON object
    // `{"k":"<random>","n":"<key name>","id":<organization id>}`, so every key starts `eyJrIjoi` (`{"k":"`).
    // The documentation's own sample, `eyJrIjoiT0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk`, is cut short: it
    // decodes to an unterminated object and is rejected, as is any look-alike that is not such an object.
    static func validateGrafanaAPIKey(_ bytes: [UInt8]) -> TokenValidation {
        let facts = ["token_type": "api_key", "format": "legacy"]
        var body = ArraySlice(bytes)
        while body.last == UInt8(ascii: "=") { body = body.dropLast() }
        guard let decoded = Base64URL.decode(body) else { return .invalid("not base64", facts) }
        guard
            let object = try? JSONSerialization.jsonObject(with: Data(decoded)) as? [String: Any]
        else { return .invalid("does not decode to a JSON object", facts) }
        guard let key = object["k"] as? String, key.utf8.count >= 16, key.utf8.allSatisfy(isBase62Digit) else {
            return .invalid("no random part `k` of 16 or more base62 characters", facts)
        }
        guard let name = object["n"] as? String else { return .invalid("no key name `n`", facts) }
        guard let organization = object["id"] as? NSNumber, organization.int64Value >= 1,
            Double(organization.int64Value) == organization.doubleValue
        else { return .invalid("no organization id `id`", facts) }
        var valid = facts
        valid["name"] = String(name.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(64))
        valid["organization_id"] = String(organization.int64Value)
        return TokenValidation(isValid: true, facts: valid)
    }
}
