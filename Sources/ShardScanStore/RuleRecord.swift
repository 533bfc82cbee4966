import Foundation
import GRDB
import ShardScanCore

/// What a rule was when it last ran: enough to describe its findings in a report.
public struct RuleRecord: Codable, Sendable, Equatable, FetchableRecord {
    public var id: String
    public var name: String
    public var severity: Severity
    public var confidence: Confidence
    public var categories: [String]
    public var description: String
    public var references: [String]
    public var kind: RuleKind

    public init(_ rule: Rule) {
        id = rule.id
        name = rule.name
        severity = rule.severity
        confidence = rule.confidence
        categories = rule.categories
        description = rule.description
        references = rule.references
        kind = rule.kind
    }

    public init(row: Row) throws {
        id = row["id"]
        name = row["name"]
        severity = Severity(rawValue: row["severity"]) ?? .high
        confidence = Confidence(rawValue: row["confidence"]) ?? .medium
        categories = (try? JSONDecoder().decode([String].self, from: Data((row["categories"] as String).utf8))) ?? []
        description = row["description"]
        references = (try? JSONDecoder().decode([String].self, from: Data((row["references"] as String).utf8))) ?? []
        kind = (row["kind"] as String?).flatMap(RuleKind.init(rawValue:)) ?? .secret
    }

    /// A stand-in for a rule the store has no record of (a store from before rules were recorded).
    public static func unknown(_ id: String) -> RuleRecord {
        var record = RuleRecord(Rule(id: id, name: id, pattern: ""))
        record.description = ""
        return record
    }
}

extension Store {
    /// Records the rules of run `runID`, replacing older records of the same ids.
    public func recordRules(_ rules: [Rule], runID: Int64) throws {
        try writing("record the rules of run \(runID)") { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO rule (id, name, severity, confidence, categories, description, "references",
                        updated_run_id, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let encoder = JSONEncoder()
            for rule in rules {
                try statement.execute(arguments: [
                    rule.id, rule.name, rule.severity.rawValue, rule.confidence.rawValue,
                    String(decoding: try encoder.encode(rule.categories), as: UTF8.self), rule.description,
                    String(decoding: try encoder.encode(rule.references), as: UTF8.self), runID, rule.kind.rawValue,
                ])
            }
        }
    }

    /// The recorded rules with these ids; ids without a record get ``RuleRecord/unknown(_:)``.
    public func rules(ids: Set<String>) throws -> [String: RuleRecord] {
        let records = try queue.read { db in try RuleRecord.fetchAll(db, sql: "SELECT * FROM rule") }
        var byID = Dictionary(
            records.filter { ids.contains($0.id) }.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for id in ids where byID[id] == nil { byID[id] = .unknown(id) }
        return byID
    }

    /// The run with id `runID`.
    public func run(_ runID: Int64) throws -> RunRecord? {
        try queue.read { db in
            try RunRecord.fetchOne(
                db,
                sql:
                    "SELECT run.*, rule_set.digest FROM run JOIN rule_set ON rule_set.id = run.rule_set_id WHERE run.id = ?",
                arguments: [runID])
        }
    }

    /// Runs whose ids are in `ids`, oldest first.
    public func runs(ids: Set<Int64>) throws -> [RunRecord] {
        guard !ids.isEmpty else { return [] }
        return try queue.read { db in
            try RunRecord.fetchAll(
                db,
                sql: """
                    SELECT run.*, rule_set.digest FROM run JOIN rule_set ON rule_set.id = run.rule_set_id
                    WHERE run.id IN (\(ids.map(String.init).joined(separator: ","))) ORDER BY run.id
                    """)
        }
    }
}
