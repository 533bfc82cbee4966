import Foundation
import GRDB
import ShardScanCore

/// What a person decided about a finding. It belongs to the fingerprint (rule and secret), so it holds at
/// every place the secret appears, in every shard, and for releases not published yet.
public enum TriageStatus: String, Codable, CaseIterable, Sendable, DatabaseValueConvertible {
    /// Not looked at yet, or looked at and still a live problem.
    case open
    case confirmed
    case falsePositive = "false-positive"
    case testData = "test-data"
    case revoked
    case accepted
    /// Its rule is no longer among the rules of the last scan (removed from the packs): kept, not reported as
    /// open. Set by the scan, never by triage; the rule coming back reopens it.
    case retired

    /// Whether someone has dealt with it: every status but `open`.
    public var isTriaged: Bool { self != .open }

    /// The statuses triage may set: all but ``retired``, which follows the rules.
    public static let settable = allCases.filter { $0 != .retired }
}

extension Store {
    /// A finding's status in SQL, where `ru` is its rule's row and `t` its triage: `retired` when the rule was
    /// not among the rules of the last scan that recorded rules (every scan records all of its own), else its
    /// triage (`open` when none).
    static let statusSQL =
        "CASE WHEN ru.updated_run_id < (SELECT max(updated_run_id) FROM rule) THEN 'retired' ELSE coalesce(t.status, 'open') END"
}

/// The current triage of one fingerprint: table `triage`.
public struct TriageRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "triage"

    public var fingerprint: String
    /// The rule of the finding, when known; kept so that an export reads well and an imported entry
    /// says what it is about before its secret is found.
    public var rule: String?
    public var status: TriageStatus
    public var comment: String
    public var author: String
    /// ISO 8601, UTC. On import the newer change wins.
    public var changedAt: String

    enum CodingKeys: String, CodingKey {
        case fingerprint, rule, status, comment, author
        case changedAt = "changed_at"
    }

    public enum Columns {
        public static let fingerprint = Column(CodingKeys.fingerprint)
        public static let rule = Column(CodingKeys.rule)
        public static let status = Column(CodingKeys.status)
        public static let changedAt = Column(CodingKeys.changedAt)
    }

    public init(
        fingerprint: String, rule: String? = nil, status: TriageStatus, comment: String = "", author: String,
        changedAt: String
    ) {
        self.fingerprint = fingerprint
        self.rule = rule
        self.status = status
        self.comment = comment
        self.author = author
        self.changedAt = changedAt
    }

    /// Whether this change is newer than `other`, by time (parsed, so differently written times compare).
    public func isNewer(than other: TriageRecord) -> Bool {
        switch (Self.date(changedAt), Self.date(other.changedAt)) {
        case (let mine?, let theirs?): mine > theirs
        default: changedAt > other.changedAt
        }
    }

    static func date(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}

/// One change of a fingerprint's triage, kept forever: table `triage_event`.
public struct TriageEvent: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "triage_event"

    public var id: Int64?
    public var fingerprint: String
    public var status: TriageStatus
    public var comment: String
    public var author: String
    public var changedAt: String
    /// `cli` (a `triage` command) or `import` (from a triage file).
    public var source: String

    enum CodingKeys: String, CodingKey {
        case id, fingerprint, status, comment, author, source
        case changedAt = "changed_at"
    }

    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let fingerprint = Column(CodingKeys.fingerprint)
    }

    init(_ record: TriageRecord, source: String) {
        fingerprint = record.fingerprint
        status = record.status
        comment = record.comment
        author = record.author
        changedAt = record.changedAt
        self.source = source
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A fingerprint prefix that names no finding, or more than one.
public struct FingerprintError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// What importing a triage file did.
public struct TriageImportOutcome: Sendable, Equatable {
    /// Entries newer than the store's (or new to it), now applied.
    public var applied = 0
    /// Entries the store already had, as they are.
    public var unchanged = 0
    /// Entries older than the store's own change, left alone.
    public var olderKept = 0
}

extension Store {
    /// The shortest prefix `triage` takes, as with git's abbreviated ids.
    public static let minimumFingerprintPrefix = 8

    /// The full fingerprints that `prefixes` (each at least 8 hex digits) name, in the order given. A prefix
    /// must name exactly one finding of the store or one triaged fingerprint; a full fingerprint (64 digits)
    /// is taken even when the store has not seen it, so that a secret can be triaged before it turns up.
    public func resolveFingerprints(_ prefixes: [String]) throws -> [String] {
        try queue.read { db in
            var resolved: [String] = []
            for raw in prefixes {
                let prefix = raw.lowercased()
                guard prefix.count >= Self.minimumFingerprintPrefix, prefix.count <= 64,
                    prefix.allSatisfy({ $0.isHexDigit })
                else {
                    throw FingerprintError(
                        description:
                            "'\(raw)' is not a fingerprint or a prefix of one (\(Self.minimumFingerprintPrefix) to 64 hex digits)"
                    )
                }
                // Hex digits sort below "g": a range the unique index answers, where LIKE would scan.
                let matches = try String.fetchAll(
                    db,
                    sql: """
                        SELECT fingerprint FROM finding WHERE fingerprint >= ?1 AND fingerprint < ?1 || 'g'
                        UNION SELECT fingerprint FROM triage WHERE fingerprint >= ?1 AND fingerprint < ?1 || 'g'
                        LIMIT 3
                        """, arguments: [prefix])
                switch matches.count {
                case 1: resolved.append(matches[0])
                case 0 where prefix.count == 64: resolved.append(prefix)
                case 0:
                    throw FingerprintError(
                        description:
                            "no finding has a fingerprint starting with \(prefix) (give all 64 digits to triage a secret not found yet)"
                    )
                default:
                    throw FingerprintError(
                        description:
                            "fingerprint prefix \(prefix) is ambiguous (\(matches.prefix(2).map { String($0.prefix(16)) }.joined(separator: ", "))…); give more digits"
                    )
                }
            }
            return resolved
        }
    }

    /// The fingerprints of the findings of `rule` and (PEP 503 normalized) `project`, either may be nil.
    public func fingerprints(rule: String?, project: String?) throws -> [String] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let rule {
            conditions.append("f.rule = ?")
            _ = arguments.append(contentsOf: [rule])
        }
        if let project {
            conditions.append(
                """
                f.id IN (SELECT m.finding_id FROM match m JOIN provenance p ON p.blob = m.blob
                         JOIN release r ON r.id = p.release_id WHERE r.project_normalized = ?)
                """)
            _ = arguments.append(contentsOf: [ReleasePath.normalize(project)])
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try queue.read { db in
            try String.fetchAll(
                db, sql: "SELECT f.fingerprint FROM finding f \(filter) ORDER BY f.fingerprint", arguments: arguments)
        }
    }

    /// Sets the status of each of `fingerprints` (full ones), with the change in its history; one transaction.
    /// Returns the records written.
    @discardableResult
    public func setTriage(
        _ fingerprints: [String], status: TriageStatus, comment: String, author: String, at time: String? = nil
    ) throws -> [TriageRecord] {
        let changedAt = time ?? Self.now()
        return try writing("record the triage of \(fingerprints.count) fingerprint(s)") { db in
            var written: [TriageRecord] = []
            for fingerprint in Set(fingerprints).sorted() {
                let rule = try String.fetchOne(
                    db, sql: "SELECT rule FROM finding WHERE fingerprint = ?", arguments: [fingerprint])
                let previous = try TriageRecord.fetchOne(db, key: fingerprint)
                let record = TriageRecord(
                    fingerprint: fingerprint, rule: rule ?? previous?.rule, status: status, comment: comment,
                    author: author, changedAt: changedAt)
                try record.save(db)
                var event = TriageEvent(record, source: "cli")
                try event.insert(db)
                written.append(record)
            }
            return written
        }
    }

    /// The triage of each of `fingerprints` that has one. Fingerprints without a record are `open`.
    /// This is what a report asks to state each finding's status and its justification (the comment).
    public func triage(fingerprints: some Collection<String>) throws -> [String: TriageRecord] {
        guard !fingerprints.isEmpty else { return [:] }
        return try queue.read { db in
            var found: [String: TriageRecord] = [:]
            // In chunks, under SQLite's limit on bound parameters.
            let all = Array(Set(fingerprints))
            for start in stride(from: 0, to: all.count, by: 500) {
                let chunk = all[start..<min(start + 500, all.count)]
                for record in try TriageRecord.filter(chunk.contains(TriageRecord.Columns.fingerprint)).fetchAll(db) {
                    found[record.fingerprint] = record
                }
            }
            return found
        }
    }

    /// Every triage record, sorted by fingerprint (the order of an export).
    public func allTriage() throws -> [TriageRecord] {
        try queue.read { db in try TriageRecord.order(TriageRecord.Columns.fingerprint).fetchAll(db) }
    }

    /// Every change of `fingerprint`'s triage, oldest first.
    public func triageHistory(_ fingerprint: String) throws -> [TriageEvent] {
        try queue.read { db in
            try TriageEvent.filter(TriageEvent.Columns.fingerprint == fingerprint).order(TriageEvent.Columns.id)
                .fetchAll(db)
        }
    }

    /// Applies triage records from another store (a triage file): each replaces the store's own when it is
    /// newer, by time; fingerprints the store has not seen are kept for when their secret appears.
    public func importTriage(_ records: [TriageRecord]) throws -> TriageImportOutcome {
        try writing("import \(records.count) triage record(s)") { db in
            var outcome = TriageImportOutcome()
            for var record in records {
                record.fingerprint = record.fingerprint.lowercased()
                if let local = try TriageRecord.fetchOne(db, key: record.fingerprint) {
                    if local.status == record.status && local.comment == record.comment
                        && local.author == record.author && !record.isNewer(than: local) && !local.isNewer(than: record)
                    {
                        outcome.unchanged += 1
                        continue
                    }
                    // A person's verdict wins over the classifier's whatever their times; between two of the
                    // same kind, the newer.
                    let localAutomatic = local.author == Self.automaticAuthor
                    let importedAutomatic = record.author == Self.automaticAuthor
                    if (importedAutomatic && !localAutomatic)
                        || (importedAutomatic == localAutomatic && !record.isNewer(than: local))
                    {
                        outcome.olderKept += 1
                        continue
                    }
                    if record.rule == nil { record.rule = local.rule }
                }
                try record.save(db)
                var event = TriageEvent(record, source: "import")
                try event.insert(db)
                outcome.applied += 1
            }
            return outcome
        }
    }
}
