import Foundation
import GRDB
import ShardScanCore

/// The runs a delivery covers: every place recorded by a run after `afterRun`, up to and including `throughRun`.
public struct DeliveryRange: Sendable, Equatable {
    public var afterRun: Int64
    public var throughRun: Int64

    public init(afterRun: Int64, throughRun: Int64) {
        self.afterRun = afterRun
        self.throughRun = throughRun
    }

    public var isEmpty: Bool { throughRun <= afterRun }
}

/// How many secrets and places of a run count against `scan --fail-on`.
public struct NewFindingCounts: Sendable, Equatable {
    /// Fingerprints never seen by a finished scan before, and not triaged.
    public var secrets = 0
    /// Places of untriaged fingerprints never reported by a finished scan before.
    public var places = 0
}

extension Store {
    /// The cursor of delivery `kind` (`json`, `jsonl`): the last run whose every place has been written out
    /// in full in that kind; 0 before the first delivery.
    public func deliveryCursor(_ kind: String) throws -> Int64 {
        try queue.read { db in
            try Int64.fetchOne(db, sql: "SELECT run_id FROM delivery WHERE kind = ?", arguments: [kind]) ?? 0
        }
    }

    /// What delivery `kind` would write now: the runs after its cursor, up to the last run before any that is
    /// still `running` (a live scan's places are delivered once it ends; a killed one's once the next scan
    /// has marked it interrupted).
    public func pendingDelivery(_ kind: String) throws -> DeliveryRange {
        let cursor = try deliveryCursor(kind)
        return try queue.read { db in
            let firstRunning = try Int64.fetchOne(
                db, sql: "SELECT min(id) FROM run WHERE status = 'running' AND id > ?", arguments: [cursor])
            let last =
                try firstRunning.map { $0 - 1 }
                ?? Int64.fetchOne(db, sql: "SELECT max(id) FROM run")
                ?? 0
            return DeliveryRange(afterRun: cursor, throughRun: max(cursor, last))
        }
    }

    /// Moves delivery `kind`'s cursor to `range.throughRun`: call it only once the delivery is written in full.
    /// The cursor never moves back.
    public func completeDelivery(_ kind: String, _ range: DeliveryRange) throws {
        try writing("record the \(kind) delivery through run \(range.throughRun)") { db in
            try db.execute(
                sql: """
                    INSERT INTO delivery (kind, run_id, delivered_at) VALUES (?1, ?2, ?3)
                    ON CONFLICT(kind) DO UPDATE SET run_id = max(run_id, excluded.run_id),
                        delivered_at = excluded.delivered_at
                    """, arguments: [kind, range.throughRun, Self.now()])
        }
    }

    /// Fingerprints the test-data classifier reopened during the runs after `?1` up to `?2`: a secret known only
    /// as a fixture that turned up in real code is news, like a new one.
    static let reopenedSince = """
        SELECT e.fingerprint FROM triage_event e
        WHERE e.source = 'automatic' AND e.status = 'open'
          AND e.changed_at >= (SELECT min(started_at) FROM run WHERE id > ?1 AND id <= ?2)
        """

    /// What run `runID` found that no earlier finished scan had, leaving out triaged fingerprints and those
    /// below `minConfidence`. Runs that were killed, stopped or failed since the last finished scan count as
    /// part of this one: what they recorded never reached an exit status of 1.
    public func newFindingCounts(runID: Int64, minConfidence: Confidence = .low) throws -> NewFindingCounts {
        let confidences = Confidence.allCases.filter { $0.rank >= minConfidence.rank }.map(\.rawValue)
        let list = confidences.map { "'\($0)'" }.joined(separator: ",")
        return try queue.read { db in
            let baseline =
                try Int64.fetchOne(
                    db, sql: "SELECT max(id) FROM run WHERE id < ? AND status = 'finished'", arguments: [runID]) ?? 0
            let counts = NewFindingCounts(
                secrets: try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM finding f LEFT JOIN rule ru ON ru.id = f.rule
                        LEFT JOIN triage t ON t.fingerprint = f.fingerprint
                        WHERE (f.first_run_id > ?1 AND f.first_run_id <= ?2 OR f.fingerprint IN (\(Self.reopenedSince)))
                          AND \(Self.statusSQL) = 'open'
                          AND coalesce(f.confidence, ru.confidence, 'medium') IN (\(list))
                        """, arguments: [baseline, runID]) ?? 0,
                places: try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM provenance p JOIN match m ON m.blob = p.blob
                        JOIN finding f ON f.id = m.finding_id LEFT JOIN rule ru ON ru.id = f.rule
                        LEFT JOIN triage t ON t.fingerprint = f.fingerprint
                        WHERE p.run_id > ?1 AND p.run_id <= ?2
                          AND \(Self.statusSQL) = 'open'
                          AND coalesce(f.confidence, ru.confidence, 'medium') IN (\(list))
                        """, arguments: [baseline, runID]) ?? 0)
            return counts
        }
    }
}
