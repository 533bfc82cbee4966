import FuzzSupport
import ShardScanCore

// Every TokenValidator on arbitrary text, and Macaroon.decode on arbitrary bytes. The first byte picks how the
// rest is read, so that one corpus reaches each decoder quickly:
//   0: the rest as text, to every validator;
//   1: `pypi-` + the base64url of the rest, to every validator (the macaroon and its JSON caveats);
//   2: the rest as a binary macaroon, to Macaroon.decode, then as in 1;
//   3: the rest as text after a GitHub/npm/GitLab prefix chosen by the second byte.
// Invariants: nothing crashes; a validator's facts never hold the input secret (once it is longer than 12
// characters, so that short words such as `pypi` may appear as facts); a decoded macaroon has at most
// Macaroon.maximumCaveats caveats and was no larger than Macaroon.maximumSize.

let prefixes = [
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "npm_", "glpat-", "gldt-", "glrt-", "glcbt-", "glptt-",
    "glft-", "glimt-", "glagent-", "gloas-", "glsoat-", "glffct-", "pypi-", "pypi-AgEIcHlwaS5vcmc",
]

func fuzz(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard input.count >= 1 else { return 0 }
    let rest = input.dropFirst()
    switch input[0] % 4 {
    case 0:
        validateAll(String(decoding: rest, as: UTF8.self))
    case 1:
        validateAll("pypi-" + Base64URL.encode(rest))
    case 2:
        decodeMacaroon(Array(rest))
        validateAll("pypi-" + Base64URL.encode(rest))
    default:
        guard let choice = rest.first else { return 0 }
        let prefix = prefixes[Int(choice) % prefixes.count]
        validateAll(prefix + String(decoding: rest.dropFirst(), as: UTF8.self))
    }
    return 0
}

func validateAll(_ secret: String) {
    for validator in TokenValidator.allCases {
        let validation = validator.validate(secret)
        guard secret.utf8.count > 12 else { continue }
        for (key, value) in validation.facts {
            require(
                !containsBytes(value, secret),
                "\(validator.rawValue): fact \(key) holds the secret \(String(reflecting: secret))")
        }
    }
}

func decodeMacaroon(_ raw: [UInt8]) {
    guard let macaroon = try? Macaroon.decode(raw) else { return }
    require(raw.count <= Macaroon.maximumSize, "decoded \(raw.count) bytes, above maximumSize")
    require(macaroon.caveats.count <= Macaroon.maximumCaveats, "\(macaroon.caveats.count) caveats")
    // The signature (the last 32 bytes) and the fields before it all come from the input.
    let fieldBytes =
        (macaroon.location?.count ?? 0) + macaroon.identifier.count
        + macaroon.caveats.reduce(0) {
            $0 + ($1.location?.count ?? 0) + $1.identifier.count + ($1.verificationKeyID?.count ?? 0)
        }
    require(fieldBytes + Macaroon.signatureSize < raw.count, "fields larger than the input")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(UnsafeBufferPointer(start: data, count: size))
}

@main
enum FuzzTokensMain {
    static func main() { runLibFuzzer(testOneInput) }
}
