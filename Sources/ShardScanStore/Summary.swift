import Foundation
import GRDB

/// What the store holds, counted: the answer of `shardscan summary`.
public struct StoreSummary: Codable, Sendable, Equatable {
    /// One group of a breakdown: distinct fingerprints (`findings`) and the places they appear.
    public struct Count: Codable, Sendable, Equatable {
        public var name: String
        public var findings: Int
        public var places: Int
        /// Of `findings`, those still open.
        public var open: Int
    }

    public var findings: Int
    public var places: Int
    /// Fingerprints with a status other than `open`.
    public var triaged: Int
    /// Fingerprints with no status or `open`.
    public var open: Int
    public var byStatus: [Count]
    public var byRule: [Count]
    public var byKind: [Count]
    public var byShard: [Count]
    /// Every project, most findings first; `topProjects` of the table is a prefix of it.
    public var byProject: [Count]

    enum CodingKeys: String, CodingKey {
        case findings, places, triaged, open
        case byStatus = "by_status"
        case byRule = "by_rule"
        case byKind = "by_kind"
        case byShard = "by_shard"
        case byProject = "by_project"
    }
}

extension Store {
    /// Counts of the store's findings by status, rule, kind, shard and project; most findings first.
    public func summary() throws -> StoreSummary {
        try queue.read { db in
            // One row per place, with what each breakdown groups by; counted in SQL, grouped once per breakdown.
            let places = """
                SELECT f.fingerprint, f.rule, coalesce(ru.kind, 'secret') AS kind, s.name AS shard,
                       CASE WHEN r.project = '' THEN '-' ELSE r.project_normalized END AS project,
                       \(Self.statusSQL) AS status
                FROM match m
                JOIN finding f ON f.id = m.finding_id
                LEFT JOIN rule ru ON ru.id = f.rule
                LEFT JOIN triage t ON t.fingerprint = f.fingerprint
                JOIN provenance p ON p.blob = m.blob
                JOIN release r ON r.id = p.release_id
                JOIN shard s ON s.id = r.shard_id
                """
            func breakdown(_ column: String) throws -> [StoreSummary.Count] {
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(column) AS name, count(DISTINCT fingerprint) AS findings, count(*) AS places,
                               count(DISTINCT CASE WHEN status = 'open' THEN fingerprint END) AS open
                        FROM (\(places)) GROUP BY \(column) ORDER BY findings DESC, places DESC, name
                        """
                ).map {
                    StoreSummary.Count(
                        name: $0["name"], findings: $0["findings"], places: $0["places"], open: $0["open"])
                }
            }
            let totals = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(DISTINCT fingerprint) AS findings, count(*) AS places,
                           count(DISTINCT CASE WHEN status = 'open' THEN fingerprint END) AS open
                    FROM (\(places))
                    """)!
            let findings: Int = totals["findings"]
            let open: Int = totals["open"]
            return StoreSummary(
                findings: findings, places: totals["places"], triaged: findings - open, open: open,
                byStatus: try breakdown("status"), byRule: try breakdown("rule"), byKind: try breakdown("kind"),
                byShard: try breakdown("shard"), byProject: try breakdown("project"))
        }
    }
}
