/// Makes fake credentials with the exact structure and checksums of real ones, from a seed, so that tests and
/// demo data can hold tokens the validators accept without holding anything a provider ever issued. The same
/// seed gives the same tokens on every platform.
public struct TokenMint: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits (SplitMix64).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A number in `0..<bound`.
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// `count` characters drawn from `alphabet`.
    public mutating func string(_ count: Int, from alphabet: String) -> String {
        let characters = Array(alphabet)
        return String((0..<count).map { _ in characters[next(below: characters.count)] })
    }

    public static let base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    public static let base64URLAlphabet = base62Alphabet + "-_"

    /// A random version 4 UUID in lower-case hex, the form of PyPI's token identifiers.
    public mutating func uuid() -> String {
        var raw = bytes(16)
        raw[6] = raw[6] & 0x0F | 0x40
        raw[8] = raw[8] & 0x3F | 0x80
        let text = hex(raw)
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(text.dropFirst(range.lowerBound).prefix(range.count))
        }
        return parts.joined(separator: "-")
    }

    // MARK: GitHub and npm

    /// A GitHub token of the 2021 format: `prefix` (`ghp_`, `gho_`, `ghu_`, `ghs_` or `ghr_`), 30 random base62
    /// characters, and their CRC-32 in 6 base62 digits (see `TokenValidator.githubChecksum`).
    public mutating func githubToken(prefix: String = "ghp_") -> String {
        prefix + base62Checksummed()
    }

    /// An npm access token of the 2021 format: `npm_` and the same body as a GitHub token.
    public mutating func npmToken() -> String {
        "npm_" + base62Checksummed()
    }

    private mutating func base62Checksummed() -> String {
        let random = string(30, from: Self.base62Alphabet)
        return random + base62(crc32(random.utf8), width: 6)
    }

    // MARK: GitLab

    /// A GitLab routable token (see `TokenValidator.gitlabChecksum`). `routing` maps routing keys (`c`, `g`,
    /// `o`, `p`, `u`, `t`) to ids, written in base 36 and sorted by key as GitLab does. `versioned: false` makes
    /// the layout GitLab minted before the version field (2024-11 to 2025-04).
    public mutating func gitlabRoutableToken(
        prefix: String = "glpat-", routing: [Character: UInt64] = ["o": 1], versioned: Bool = true
    ) -> String {
        let lines = routing.sorted { $0.key < $1.key }.map { "\($0.key):\(String($0.value, radix: 36))" }
        let routingPayload = Array(lines.joined(separator: "\n").utf8)
        precondition((1...159).contains(routingPayload.count), "GitLab's routing payloads have 1 to 159 bytes")
        let random = bytes(16)
        let payload =
            versioned
            ? random + routingPayload + [UInt8(routingPayload.count)]
            : routingPayload + random + [UInt8(random.count)]
        let encoded = Base64URL.encode(payload)
        let length = String(encoded.utf8.count, radix: 36)
        let checked =
            prefix + encoded + (versioned ? ".01." : ".") + String(repeating: "0", count: 2 - length.count) + length
        return checked + base36(crc32(checked.utf8), width: 7)
    }

    /// A GitLab token of the format before routable tokens: `prefix` and 20 random characters, no checksum.
    public mutating func gitlabLegacyToken(prefix: String = "glpat-") -> String {
        prefix + string(20, from: Self.base64URLAlphabet)
    }

    // MARK: PyPI

    /// A PyPI API token: `pypi-` and the base64url v2 macaroon that `pypiMacaroon` builds.
    public mutating func pypiToken(
        location: String = "pypi.org", identifier: String? = nil, caveats: [PyPICaveat] = []
    ) -> String {
        let raw = pypiMacaroon(location: location, identifier: identifier, caveats: caveats.map(\.json))
        return "pypi-" + Base64URL.encode(raw)
    }

    /// The binary v2 macaroon of a PyPI token, as pymacaroons serializes it: location, identifier (a random
    /// UUID unless given), one first-party caveat per predicate in `caveats`, and a random 32-byte signature
    /// in place of the HMAC only PyPI's key could make.
    public mutating func pypiMacaroon(location: String, identifier: String?, caveats: [String]) -> [UInt8] {
        var out: [UInt8] = [2]
        func field(_ type: UInt8, _ data: [UInt8]) {
            out.append(type)
            var length = data.count
            while length >= 0x80 {
                out.append(UInt8(length & 0x7F) | 0x80)
                length >>= 7
            }
            out.append(UInt8(length))
            out += data
        }
        field(1, Array(location.utf8))
        field(2, Array((identifier ?? uuid()).utf8))
        out.append(0)
        for caveat in caveats {
            field(2, Array(caveat.utf8))
            out.append(0)
        }
        out.append(0)
        field(6, bytes(32))
        return out
    }
}

/// A caveat of a PyPI token, in the JSON PyPI writes (see `TokenValidator.pypiMacaroon`).
public enum PyPICaveat: Sendable, Equatable {
    /// Valid from `notBefore` until `expiresAt`, in Unix seconds.
    case expiration(expiresAt: Int64, notBefore: Int64)
    case projectNames([String])
    case projectIDs([String])
    /// Acts for this user on all of their projects: a user-scoped token.
    case requestUser(String)
    case oidcPublisher(String)
    /// The mapping user-scoped tokens held before 2023.
    case legacyUser
    /// The mapping project-scoped tokens held before 2023.
    case legacyProjects([String])
    /// A predicate written out as it is.
    case raw(String)

    /// The predicate as PyPI serializes it: compact JSON.
    public var json: String {
        switch self {
        case .expiration(let expiresAt, let notBefore): "[0,\(expiresAt),\(notBefore)]"
        case .projectNames(let names): "[1,\(jsonArray(names))]"
        case .projectIDs(let ids): "[2,\(jsonArray(ids))]"
        case .requestUser(let id): "[3,\(jsonString(id))]"
        case .oidcPublisher(let id): "[4,\(jsonString(id))]"
        case .legacyUser: #"{"version":1,"permissions":"user"}"#
        case .legacyProjects(let names): #"{"version":1,"permissions":{"projects":"# + jsonArray(names) + "}}"
        case .raw(let text): text
        }
    }
}

// MARK: Grafana

extension TokenMint {
    /// A Grafana API key of the format before service accounts (see `TokenValidator.grafanaAPIKey`): standard
    /// base64 of `{"k":"<32 random base62>","n":"<name>","id":<organization>}`.
    public mutating func grafanaAPIKey(name: String = "ci", organization: Int = 1) -> String {
        let json =
            "{\"k\":\"\(string(32, from: Self.base62Alphabet))\",\"n\":\(jsonString(name)),\"id\":\(organization)}"
        var encoded = Base64URL.encode(Array(json.utf8))
        encoded = String(encoded.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while encoded.utf8.count % 4 != 0 { encoded += "=" }
        return encoded
    }
}

private func jsonArray(_ strings: [String]) -> String {
    "[" + strings.map(jsonString).joined(separator: ",") + "]"
}

private func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20:
            let digits = hex([UInt8(scalar.value)])
            out += "\\u00" + digits
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// Fake credentials of realistic shape (prefix, length, alphabet, checksum) from a seeded generator: the demo
/// mirror's and the tests'. Its generator (a 64-bit LCG) is not ``TokenMint``'s, and must stay as it is:
/// `scripts/make-bench-shard` derives the same strings from the same seeds.
public struct FakeCredentials: Sendable {
    public static let base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    public static let upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// `count` characters drawn from `alphabet`.
    public mutating func string(_ count: Int, from alphabet: String) -> String {
        let characters = Array(alphabet)
        return String(
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return characters[Int((state >> 33) % UInt64(characters.count))]
            })
    }

    /// A GitHub token of the 2021 format: prefix, 30 random base62 characters, and their CRC-32 in
    /// 6 base62 digits.
    public mutating func githubToken(prefix: String) -> String {
        let body = string(30, from: Self.base62)
        return prefix + body + ShardScanCore.base62(crc32(Array(body.utf8)), width: 6)
    }
}
