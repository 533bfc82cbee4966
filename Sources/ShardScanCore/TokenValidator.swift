/// An offline check of a token's structure and checksum, named in rule packs by its raw value
/// (`validator: github-checksum`). It tells a real credential from a fake, a placeholder or a typo without
/// asking the provider: nothing here uses the network.
public enum TokenValidator: String, Sendable, CaseIterable {
    /// GitHub's 2021 format (`ghp_ gho_ ghu_ ghs_ ghr_`): a CRC-32 in the last 6 characters.
    case githubChecksum = "github-checksum"
    /// npm's 2021 format (`npm_`), the same scheme as GitHub's.
    case npmChecksum = "npm-checksum"
    /// GitLab's routable tokens (`glpat-….01.<length><crc>`), with a CRC-32 in base 36, and legacy GitLab
    /// tokens, which carry no checksum.
    case gitlabChecksum = "gitlab-checksum"
    /// PyPI API tokens: `pypi-` and a base64url libmacaroons v2 macaroon.
    case pypiMacaroon = "pypi-macaroon"
    /// Grafana API keys of the format before service accounts (`eyJrIjoi…`): base64 of a JSON object with the
    /// key's random part, name and organization.
    case grafanaAPIKey = "grafana-api-key"

    /// Longer input is rejected before any decoding: the longest token of these kinds (a PyPI macaroon with a
    /// few dozen caveats) is a few kilobytes, and a match of a rule can be much longer.
    public static let maximumLength = 16 * 1024

    /// Checks `secret`, the whole token as a rule matched it (prefix included).
    public func validate(_ secret: String) -> TokenValidation {
        var bytes: [UInt8] = []
        for byte in secret.utf8 {
            guard bytes.count < Self.maximumLength else { return .invalid("longer than any token of this kind") }
            bytes.append(byte)
        }
        switch self {
        case .githubChecksum: return Self.validateGitHub(bytes)
        case .npmChecksum: return Self.validateNPM(bytes)
        case .gitlabChecksum: return Self.validateGitLab(bytes)
        case .pypiMacaroon: return Self.validatePyPI(bytes)
        case .grafanaAPIKey: return Self.validateGrafanaAPIKey(bytes)
        }
    }
}

/// What a validator found out about a token.
public struct TokenValidation: Sendable, Equatable {
    /// Whether the structure and checksum are right. `false` means the token cannot have been issued by the
    /// provider as written: most likely a fake, a placeholder with a real prefix, or a typo.
    public var isValid: Bool
    /// Facts decoded from the token that are not secret, for reports, keyed in snake_case: `token_type`,
    /// `checksum`, `format`, `location`, `identifier`, `scope`, `projects`, `expires`, and, when the token is not
    /// valid, `reason`. Never the secret, nor any part of it that would help use it (such as a macaroon's
    /// signature).
    public var facts: [String: String]

    public init(isValid: Bool, facts: [String: String] = [:]) {
        self.isValid = isValid
        self.facts = facts
    }

    static func invalid(_ reason: String, _ facts: [String: String] = [:]) -> TokenValidation {
        var facts = facts
        facts["reason"] = reason
        return TokenValidation(isValid: false, facts: facts)
    }
}

// MARK: - GitHub and npm

extension TokenValidator {
    /// The classic GitHub token types by prefix.
    static let githubTokenTypes: [String: String] = [
        "ghp_": "personal_access_token", "gho_": "oauth_access_token", "ghu_": "user_to_server_token",
        "ghs_": "server_to_server_token", "ghr_": "refresh_token",
    ]

    // GitHub's format, from "Behind GitHub's new authentication token formats"
    // (https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/): a prefix, 30 random base62
    // characters, and the CRC-32 of those 30 characters in 6 base62 digits, padded with leading zeros. The blog
    // post names neither the digit order nor the covered bytes; public verifiers agree on both: CredSweeper
    // (https://github.com/Samsung/CredSweeper, credsweeper/filters/value_github_check.py) takes crc32 of
    // token[4:-6] and decodes the last 6 with pybase62's default alphabet `0-9A-Za-z`, as does
    // https://gist.github.com/coolaj86/eb8cddfd3e4251258712dfed03e1f86d. npm adopted the same scheme
    // (https://github.blog/2021-09-23-announcing-npms-new-access-token-format/), and npm's own dummy example from
    // that announcement, 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 (quoted in
    // https://github.com/secretlint/secretlint/issues/200), checks out only with the random part alone and
    // `0-9A-Za-z` (ValidatorTests.npmDocumentedExample). So the prefix is not covered.
    static func validateGitHub(_ bytes: [UInt8]) -> TokenValidation {
        let fineGrained = Array("github_pat_".utf8)
        if bytes.starts(with: fineGrained) { return validateGitHubFineGrained(bytes[fineGrained.count...]) }
        guard bytes.count >= 4, let type = githubTokenTypes[String(decoding: bytes[0..<4], as: UTF8.self)] else {
            return .invalid("not a GitHub token prefix")
        }
        return validateBase62Checksummed(bytes[4...], facts: ["token_type": type])
    }

    static func validateNPM(_ bytes: [UInt8]) -> TokenValidation {
        guard bytes.starts(with: Array("npm_".utf8)) else { return .invalid("not an npm token prefix") }
        return validateBase62Checksummed(bytes[4...], facts: ["token_type": "access_token"])
    }

    /// `body`: 30 random base62 characters and their CRC-32 in 6 base62 digits.
    static func validateBase62Checksummed(_ body: ArraySlice<UInt8>, facts: [String: String]) -> TokenValidation {
        guard body.count == 36 else { return .invalid("body is \(body.count) characters, not 36", facts) }
        guard body.allSatisfy(isBase62Digit) else { return .invalid("character outside base62", facts) }
        let random = body.prefix(30)
        let expected = base62(crc32(random), width: 6)
        var facts = facts
        guard expected.utf8.elementsEqual(body.suffix(6)) else {
            facts["checksum"] = "mismatch"
            return .invalid("checksum mismatch", facts)
        }
        facts["checksum"] = "ok"
        return TokenValidation(isValid: true, facts: facts)
    }

    /// Fine-grained personal access tokens (`github_pat_`, 2022) carry no published checksum, so only their
    /// shape is checked: 82 characters of `[A-Za-z0-9_]`, as every public scanner rule has it.
    static func validateGitHubFineGrained(_ body: ArraySlice<UInt8>) -> TokenValidation {
        let facts = ["token_type": "fine_grained_personal_access_token", "checksum": "unpublished"]
        guard body.count == 82 else { return .invalid("body is \(body.count) characters, not 82", facts) }
        guard body.allSatisfy({ isBase62Digit($0) || $0 == UInt8(ascii: "_") }) else {
            return .invalid("character outside [A-Za-z0-9_]", facts)
        }
        return TokenValidation(isValid: true, facts: facts)
    }
}

// MARK: - GitLab

extension TokenValidator {
    /// GitLab's token prefixes (https://docs.gitlab.com/security/tokens/#token-prefixes), for the `token_type` fact.
    static let gitlabTokenTypes: [(prefix: String, type: String)] = [
        ("glpat-", "access_token"), ("gldt-", "deploy_token"), ("glrt-", "runner_authentication_token"),
        ("glrtr-", "runner_authentication_token"), ("glcbt-", "ci_job_token"), ("glptt-", "pipeline_trigger_token"),
        ("glft-", "feed_token"), ("glimt-", "incoming_mail_token"), ("glagent-", "agent_token"),
        ("gloas-", "oauth_application_secret"), ("glsoat-", "scim_oauth_token"),
        ("glffct-", "feature_flags_client_token"),
    ]

    /// Routing keys of a routable token's payload and the facts they become (design document, "Meaning of
    /// fields").
    static let gitlabRoutingFacts: [UInt8: String] = [
        UInt8(ascii: "c"): "cell_id", UInt8(ascii: "g"): "group_id", UInt8(ascii: "o"): "organization_id",
        UInt8(ascii: "p"): "project_id", UInt8(ascii: "u"): "user_id", UInt8(ascii: "t"): "runner_type",
    ]

    static func validateGitLab(_ bytes: [UInt8]) -> TokenValidation {
        if bytes.contains(UInt8(ascii: ".")) { return validateGitLabRoutable(bytes) }
        return validateGitLabLegacy(bytes)
    }

    /// Tokens from before routable tokens: a prefix and random characters, no checksum, so only the shape is
    /// checked. A personal access token has exactly 20 characters after `glpat-`; other kinds vary in length.
    static func validateGitLabLegacy(_ bytes: [UInt8]) -> TokenValidation {
        let known = gitlabTokenTypes.filter { bytes.starts(with: Array($0.prefix.utf8)) }
        guard let (prefix, type) = known.max(by: { $0.prefix.utf8.count < $1.prefix.utf8.count }) else {
            return .invalid("not a GitLab token prefix")
        }
        let body = bytes.dropFirst(prefix.utf8.count)
        let facts = ["token_type": type, "format": "legacy", "checksum": "absent"]
        guard body.allSatisfy(isBase64URLDigit) else { return .invalid("character outside [A-Za-z0-9_-]", facts) }
        if prefix == "glpat-" {
            guard body.count == 20 else { return .invalid("body is \(body.count) characters, not 20", facts) }
        } else {
            guard body.count >= 20 else { return .invalid("body is \(body.count) characters, fewer than 20", facts) }
        }
        return TokenValidation(isValid: true, facts: facts)
    }

    // GitLab's routable tokens, from GitLab's generator, decoder and their tests (gitlab-org/gitlab, mirrored at
    // https://github.com/gitlabhq/gitlabhq: lib/authn/token_field/generator/routable_token.rb,
    // lib/authn/token_field/decoders/v1/routable_payload.rb, spec/support/matchers/token_authenticatable_matchers.rb)
    // and the design document
    // (https://handbook.gitlab.com/handbook/engineering/architecture/design-documents/cells/routable_tokens/):
    //
    //     <prefix><base64-payload>.<version>.<base64-payload-length><crc32>
    //
    // - base64-payload: unpadded base64url of 16 random bytes, the routing payload, and one byte holding the
    //   routing payload's length. The routing payload is sorted `key:value` lines (`c:` cell, `g:` group,
    //   `o:` organization, `p:` project, `u:` user, `t:` runner type), integers in base 36. 27 to 300 characters.
    // - version: 2 base-36 digits, `01`. base64-payload-length: 2 base-36 digits.
    // - crc32: zlib CRC-32 of everything before it, prefix included (so custom instance prefixes work too), in 7
    //   base-36 digits padded with `0`.
    //
    // Tokens minted between 2024-11 and 2025-04 (behind a feature flag) had no version field, and their payload
    // was the routing payload, then the random bytes, then one byte holding the random bytes' length. Both are
    // accepted.
    static func validateGitLabRoutable(_ bytes: [UInt8]) -> TokenValidation {
        var facts = ["format": "routable"]
        guard bytes.count >= 37 else { return .invalid("shorter than any routable token", facts) }
        let checksum = bytes.suffix(7)
        guard checksum.allSatisfy(isBase36Digit) else { return .invalid("checksum is not 7 base-36 digits", facts) }
        let checked = bytes.dropLast(7)
        guard base36(crc32(checked), width: 7).utf8.elementsEqual(checksum) else {
            facts["checksum"] = "mismatch"
            return .invalid("checksum mismatch", facts)
        }
        facts["checksum"] = "ok"

        // `checked` ends with `.<version>.<length>` or, unversioned, `.<length>`.
        let end = checked.endIndex
        guard checked[end - 3] == UInt8(ascii: "."), checked[end - 2..<end].allSatisfy(isBase36Digit),
            let payloadLength = Int(String(decoding: checked[end - 2..<end], as: UTF8.self), radix: 36)
        else { return .invalid("no payload length field", facts) }
        let version: Int?
        let head: ArraySlice<UInt8>
        if checked.count >= 6, checked[end - 6] == UInt8(ascii: ".") {
            guard checked[end - 5..<end - 3].allSatisfy(isBase36Digit),
                let number = Int(String(decoding: checked[end - 5..<end - 3], as: UTF8.self), radix: 36)
            else { return .invalid("version field is not 2 base-36 digits", facts) }
            version = number
            head = checked[..<(end - 6)]
        } else {
            version = nil
            head = checked[..<(end - 3)]
        }
        facts["version"] = version.map(String.init) ?? "unversioned"
        guard (27...300).contains(payloadLength), payloadLength <= head.count else {
            return .invalid("payload length field out of range", facts)
        }
        let prefix = head.dropLast(payloadLength)
        // GitLab's prefixes are `gl…-`, optionally after an instance prefix, or whatever an administrator set;
        // the design document's own example uses `+`. Any printable ASCII but `.` is accepted.
        guard prefix.count <= 64, prefix.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ".") }) else {
            return .invalid("prefix is not a token prefix", facts)
        }
        if !prefix.isEmpty { facts["prefix"] = String(decoding: prefix, as: UTF8.self) }
        if let type = gitlabTokenTypes.filter({ containsSubsequence(prefix, Array($0.prefix.utf8)) })
            .max(by: { $0.prefix.utf8.count < $1.prefix.utf8.count })?.type
        {
            facts["token_type"] = type
        }
        let encoded = head.suffix(payloadLength)
        guard encoded.allSatisfy(isBase64URLDigit), let payload = Base64URL.decode(encoded) else {
            return .invalid("payload is not base64url", facts)
        }

        let routing: ArraySlice<UInt8>
        switch version {
        case nil:
            // routing payload, random bytes, their count
            let randomCount = Int(payload[payload.count - 1])
            guard randomCount >= 16, randomCount + 1 < payload.count else {
                return .invalid("payload layout does not match its version", facts)
            }
            routing = payload[0..<(payload.count - 1 - randomCount)]
        case 1:
            // random bytes, routing payload, its length
            let routingCount = Int(payload[payload.count - 1])
            guard routingCount >= 1, routingCount + 1 + 16 <= payload.count else {
                return .invalid("payload layout does not match its version", facts)
            }
            routing = payload[(payload.count - 1 - routingCount)..<(payload.count - 1)]
        default:
            // A later version may lay the payload out differently: the checksum is all that can be checked.
            return TokenValidation(isValid: true, facts: facts)
        }
        guard let pairs = parseRoutingPayload(routing) else {
            return .invalid("routing payload is not key:value lines", facts)
        }
        for (key, value) in pairs {
            guard let name = gitlabRoutingFacts[key] else { continue }
            facts[name] = value
        }
        return TokenValidation(isValid: true, facts: facts)
    }

    /// `c:1\no:2k` as `[(c, "1"), (o, "98")]`: base-36 integers in decimal, other values as they are.
    static func parseRoutingPayload(_ payload: ArraySlice<UInt8>) -> [(UInt8, String)]? {
        var pairs: [(UInt8, String)] = []
        for line in payload.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            guard line.count >= 3, line[line.startIndex + 1] == UInt8(ascii: ":") else { return nil }
            let key = line[line.startIndex]
            let value = line.dropFirst(2)
            guard key >= UInt8(ascii: "a"), key <= UInt8(ascii: "z"),
                value.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") })
            else { return nil }
            let text = String(decoding: value, as: UTF8.self)
            if value.allSatisfy(isBase36Digit), let number = UInt64(text, radix: 36) {
                pairs.append((key, String(number)))
            } else {
                pairs.append((key, text))
            }
        }
        return pairs
    }
}

// MARK: - Character classes

func isBase62Digit(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
        || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
}

/// Lower case only: GitLab writes base 36 with Ruby's `to_s(36)`.
func isBase36Digit(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
}

func isBase64URLDigit(_ byte: UInt8) -> Bool {
    isBase62Digit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
}

/// Whether `needle` occurs in `haystack`.
func containsSubsequence(_ haystack: some Collection<UInt8>, _ needle: [UInt8]) -> Bool {
    let hay = Array(haystack)
    guard !needle.isEmpty, hay.count >= needle.count else { return needle.isEmpty }
    return (0...(hay.count - needle.count)).contains { start in
        hay[start..<(start + needle.count)].elementsEqual(needle)
    }
}
