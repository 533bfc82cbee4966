import Foundation

// PyPI API tokens, from PyPI's source (https://github.com/pypi/warehouse): warehouse/macaroons/services.py mints
// `"pypi-" + m.serialize()`, a pymacaroons MACAROON_V2 macaroon in unpadded base64url whose location is the
// index's domain (pypi.org, test.pypi.org) and whose identifier is the token's database id, a UUID. The id is
// not secret: without the key, which only PyPI holds, it cannot sign anything. Caveats are JSON, from
// warehouse/macaroons/caveats/__init__.py and _core.py (`[tag, fields...]`, serialized with sorted keys and no
// spaces) and caveats/_legacy.py (the mappings tokens held before 2023):
//
//     [0, expires_at, not_before]     Expiration (Unix seconds)
//     [1, [normalized names]]         ProjectName
//     [2, [project ids]]              ProjectID
//     [3, user id]                    RequestUser: the token acts for the user on all of their projects
//     [4, publisher id, ...]          OIDCPublisher: a short-lived Trusted Publishing token
//     {"version": 1, "permissions": "user"}                     legacy user scope
//     {"version": 1, "permissions": {"projects": [names]}}      legacy project scope
//     {"exp": …, "nbf": …}, {"project_ids": [ids]}              legacy expiry and project ids
//
// Account settings mint `[3, user id]` for a user-scoped token and `[1, names]` with `[2, ids]` for a
// project-scoped one.

extension TokenValidator {
    /// Caveat predicates longer than this are counted but not parsed.
    static let maximumCaveatSize = 4096
    /// Facts that list names stop after this many.
    static let maximumListedNames = 50

    static func validatePyPI(_ bytes: [UInt8]) -> TokenValidation {
        let prefix = Array("pypi-".utf8)
        guard bytes.starts(with: prefix) else { return .invalid("not a PyPI token prefix") }
        guard let raw = Base64URL.decode(bytes.dropFirst(prefix.count)) else {
            return .invalid("macaroon is not base64url")
        }
        let macaroon: Macaroon
        do {
            macaroon = try Macaroon.decode(raw)
        } catch {
            return .invalid(error.description)
        }
        guard let location = macaroon.location.flatMap(printable), !location.isEmpty else {
            return .invalid("macaroon has no location")
        }
        guard !macaroon.identifier.isEmpty else { return .invalid("macaroon has an empty identifier") }

        var facts: [String: String] = ["location": location]
        switch location {
        case "pypi.org": facts["index"] = "pypi"
        case "test.pypi.org": facts["index"] = "testpypi"
        default: facts["index"] = "other"
        }
        facts["identifier"] = printable(macaroon.identifier) ?? hex(macaroon.identifier.prefix(64))
        facts["caveats"] = String(macaroon.caveats.count)
        var scope = PyPIScope()
        for caveat in macaroon.caveats { scope.add(caveat) }
        facts.merge(scope.facts) { _, new in new }
        return TokenValidation(isValid: true, facts: facts)
    }
}

/// What a PyPI token's caveats allow, gathered from all of them.
struct PyPIScope {
    var projectNames: [String] = []
    var projectIDs: [String] = []
    var userID: String?
    var legacyUser = false
    var publisherID: String?
    var expires: Int64?
    var notBefore: Int64?
    var thirdParty = 0
    var unknown = 0

    mutating func add(_ caveat: Macaroon.Caveat) {
        guard caveat.isFirstParty else {
            thirdParty += 1
            return
        }
        // Caveats nest two levels deep; the depth check keeps the recursive decoder's stack small on any input.
        guard caveat.identifier.count <= TokenValidator.maximumCaveatSize, jsonNestingDepth(caveat.identifier) <= 8,
            let json = try? JSONDecoder().decode(JSONValue.self, from: Data(caveat.identifier))
        else {
            unknown += 1
            return
        }
        if !add(json) { unknown += 1 }
    }

    /// Whether `json` is a caveat PyPI understands.
    mutating func add(_ json: JSONValue) -> Bool {
        switch json {
        case .array(let items):
            guard case .integer(let tag) = items.first else { return false }
            let fields = Array(items.dropFirst())
            switch tag {
            case 0:
                guard fields.count >= 2, case .integer(let expiresAt) = fields[0],
                    case .integer(let notBefore) = fields[1]
                else { return false }
                addExpiry(expiresAt, notBefore)
            case 1:
                guard let names = fields.first?.strings else { return false }
                projectNames += names
            case 2:
                guard let ids = fields.first?.strings else { return false }
                projectIDs += ids
            case 3:
                guard case .string(let id) = fields.first else { return false }
                userID = id
            case 4:
                guard case .string(let id) = fields.first else { return false }
                publisherID = id
            default:
                return false
            }
            return true
        case .object(let members):
            if members["version"] == .integer(1) {
                switch members["permissions"] {
                case .string("user"):
                    legacyUser = true
                case .object(let permissions):
                    guard let names = permissions["projects"]?.strings else { return false }
                    projectNames += names
                default:
                    return false
                }
                return true
            }
            if case .integer(let expiresAt) = members["exp"], case .integer(let notBefore) = members["nbf"] {
                addExpiry(expiresAt, notBefore)
                return true
            }
            if let ids = members["project_ids"]?.strings {
                projectIDs += ids
                return true
            }
            return false
        default:
            return false
        }
    }

    /// Every caveat must hold, so the narrowest window wins.
    mutating func addExpiry(_ expiresAt: Int64, _ notBefore: Int64) {
        expires = min(expires ?? expiresAt, expiresAt)
        self.notBefore = max(self.notBefore ?? notBefore, notBefore)
    }

    var facts: [String: String] {
        var facts: [String: String] = [:]
        if !projectNames.isEmpty || !projectIDs.isEmpty {
            facts["scope"] = "projects"
        } else if publisherID != nil {
            facts["scope"] = "trusted_publisher"
        } else if userID != nil || legacyUser {
            facts["scope"] = "user"
        } else {
            facts["scope"] = "unrestricted"
        }
        if !projectNames.isEmpty { facts["projects"] = listed(projectNames) }
        if !projectIDs.isEmpty { facts["project_ids"] = listed(projectIDs) }
        if let userID, let text = printable(Array(userID.utf8)) { facts["user_id"] = text }
        if let publisherID, let text = printable(Array(publisherID.utf8)) { facts["publisher_id"] = text }
        if let expires { facts["expires"] = iso8601UTC(expires) ?? String(expires) }
        if let notBefore { facts["not_before"] = iso8601UTC(notBefore) ?? String(notBefore) }
        if thirdParty > 0 { facts["third_party_caveats"] = String(thirdParty) }
        if unknown > 0 { facts["unknown_caveats"] = String(unknown) }
        return facts
    }

    /// Distinct names in first-seen order, comma-separated; names that are not plain text are left out.
    func listed(_ names: [String]) -> String {
        var seen = Set<String>()
        var out: [String] = []
        for name in names {
            guard let text = printable(Array(name.utf8)), !text.contains(","), seen.insert(text).inserted else {
                continue
            }
            guard out.count < TokenValidator.maximumListedNames else {
                out.append("…")
                break
            }
            out.append(text)
        }
        return out.joined(separator: ",")
    }
}

/// A JSON value, as much as caveats need. Integers are kept apart from other numbers because PyPI's caveats
/// accept only integers.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value as a list of strings, when it is one.
    var strings: [String]? {
        guard case .array(let items) = self else { return nil }
        var out: [String] = []
        for item in items {
            guard case .string(let text) = item else { return nil }
            out.append(text)
        }
        return out
    }
}

/// How deeply arrays and objects nest in the JSON text `bytes`, counting brackets outside strings.
func jsonNestingDepth(_ bytes: [UInt8]) -> Int {
    var depth = 0
    var deepest = 0
    var inString = false
    var escaped = false
    for byte in bytes {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            depth += 1
            deepest = max(deepest, depth)
        case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
        default: break
        }
    }
    return deepest
}

/// `bytes` as text when they are UTF-8 without control characters and at most 200 bytes, the kind of value
/// that can go into a report as it is.
func printable(_ bytes: [UInt8]) -> String? {
    guard bytes.count <= 200, let text = String(validating: bytes, as: UTF8.self) else { return nil }
    guard text.unicodeScalars.allSatisfy({ !$0.properties.generalCategory.isControlOrFormat }) else { return nil }
    return text
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef")
    var out = ""
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return out
}

extension Unicode.GeneralCategory {
    fileprivate var isControlOrFormat: Bool {
        switch self {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse: true
        default: false
        }
    }
}

/// `seconds` since 1970 as `2024-01-21T22:40:28Z`, for years 1 to 9999.
func iso8601UTC(_ seconds: Int64) -> String? {
    guard seconds >= -62_135_596_800, seconds <= 253_402_300_799 else { return nil }
    var days = seconds / 86_400
    var secondOfDay = seconds % 86_400
    if secondOfDay < 0 {
        secondOfDay += 86_400
        days -= 1
    }
    // Howard Hinnant's civil_from_days (http://howardhinnant.github.io/date_algorithms.html#civil_from_days).
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    func padded(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))T\(padded(secondOfDay / 3600, 2)):"
        + "\(padded(secondOfDay / 60 % 60, 2)):\(padded(secondOfDay % 60, 2))Z"
}
