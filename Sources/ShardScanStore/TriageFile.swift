import Foundation

/// The triage file a team keeps in git (`triage export` / `triage import`): one entry per fingerprint,
/// sorted by fingerprint, pretty-printed with sorted keys, so a change of one status is a diff of a few lines.
/// It holds fingerprints (hashes), never secrets.
public struct TriageFile: Codable, Sendable, Equatable {
    /// Bumped when the shape changes incompatibly.
    public static let currentVersion = 1

    public var schemaVersion: Int
    public var triage: [Entry]

    public struct Entry: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var rule: String?
        public var status: TriageStatus
        public var comment: String
        public var by: String
        public var time: String

        enum CodingKeys: String, CodingKey {
            case fingerprint, rule, status, comment, by, time
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            fingerprint = try container.decode(String.self, forKey: .fingerprint)
            rule = try container.decodeIfPresent(String.self, forKey: .rule)
            status = try container.decode(TriageStatus.self, forKey: .status)
            // Hand-written entries may leave these out.
            comment = try container.decodeIfPresent(String.self, forKey: .comment) ?? ""
            by = try container.decodeIfPresent(String.self, forKey: .by) ?? ""
            time = try container.decode(String.self, forKey: .time)
        }

        public init(_ record: TriageRecord) {
            fingerprint = record.fingerprint
            rule = record.rule
            status = record.status
            comment = record.comment
            by = record.author
            time = record.changedAt
        }

        public var record: TriageRecord {
            TriageRecord(
                fingerprint: fingerprint.lowercased(), rule: rule, status: status, comment: comment, author: by,
                changedAt: time)
        }
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case triage
    }

    public init(_ records: [TriageRecord]) {
        schemaVersion = Self.currentVersion
        triage = records.map(Entry.init).sorted { $0.fingerprint < $1.fingerprint }
    }

    /// The file's bytes: stable for the same records.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    /// Reads and checks a triage file: a known version, full fingerprints, and times that parse.
    public static func decode(_ data: Data) throws -> TriageFile {
        let file: TriageFile
        do {
            file = try JSONDecoder().decode(TriageFile.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw StoreError("not a triage file: \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw StoreError("triage file: \(path(context))\(key.stringValue) is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw StoreError("triage file: \(path(context)): \(context.debugDescription)")
        }
        guard file.schemaVersion == currentVersion else {
            throw StoreError(
                "triage file has schema_version \(file.schemaVersion); this shardscan reads \(currentVersion)")
        }
        for entry in file.triage {
            guard entry.fingerprint.count == 64, entry.fingerprint.allSatisfy(\.isHexDigit) else {
                throw StoreError("triage file: '\(entry.fingerprint)' is not a fingerprint (64 hex digits)")
            }
            // `retired` is what a finding shows while its rule is out of the packs, not a verdict: stored as one it
            // would outlive the rule's return and hide the finding as if still retired. `triage set` refuses it too.
            guard TriageStatus.settable.contains(entry.status) else {
                throw StoreError(
                    "triage file: entry \(entry.fingerprint.prefix(12)): status '\(entry.status.rawValue)' follows the rules and cannot be imported; use one of \(TriageStatus.settable.map(\.rawValue).joined(separator: ", "))"
                )
            }
            guard TriageRecord.date(entry.time) != nil else {
                throw StoreError(
                    "triage file: entry \(entry.fingerprint.prefix(12)): time '\(entry.time)' is not ISO 8601")
            }
        }
        return file
    }

    static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
}
