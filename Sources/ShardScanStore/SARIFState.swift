import Foundation
import GRDB

/// What the last SARIF state delivery said about one shard: table `sarif_state`.
///
/// GitHub code scanning replaces every alert of a category with each upload, so a shard's SARIF must always
/// state the whole truth; this record lets the next delivery skip shards whose truth has not changed, and
/// remember shards that once had results, whose (empty) run must still be sent to close their alerts.
public struct SARIFStateRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "sarif_state"

    public var shard: String
    /// SHA-256 of the shard's SARIF run as last delivered on its own (`--sarif-dir`); empty when the shard was
    /// only ever part of a whole-mirror file, which says nothing of what its category holds on GitHub.
    public var digest: String
    /// How many results that run held (suppressed ones included).
    public var results: Int
    /// ISO 8601, UTC.
    public var deliveredAt: String

    enum CodingKeys: String, CodingKey {
        case shard, digest, results
        case deliveredAt = "delivered_at"
    }

    public enum Columns {
        public static let shard = Column(CodingKeys.shard)
    }

    public init(shard: String, digest: String, results: Int, deliveredAt: String) {
        self.shard = shard
        self.digest = digest
        self.results = results
        self.deliveredAt = deliveredAt
    }
}

extension Store {
    /// The last SARIF state delivered for each shard, by shard name.
    public func sarifStates() throws -> [String: SARIFStateRecord] {
        try queue.read { db in
            Dictionary(
                uniqueKeysWithValues: try SARIFStateRecord.order(SARIFStateRecord.Columns.shard).fetchAll(db).map {
                    ($0.shard, $0)
                })
        }
    }

    /// Records what was just delivered for these shards; call only once their files are written in full.
    public func recordSARIFStates(_ states: [(shard: String, digest: String, results: Int)]) throws {
        guard !states.isEmpty else { return }
        let now = Self.now()
        try writing("recording SARIF deliveries") { db in
            for state in states {
                try SARIFStateRecord(shard: state.shard, digest: state.digest, results: state.results, deliveredAt: now)
                    .save(db)
            }
        }
    }

    /// Remembers shards that had results in a SARIF state, so that later states keep giving them a run (an empty
    /// one closes their alerts); what `--sarif-dir` recorded for them is kept.
    public func rememberSARIFShards(_ shards: Set<String>) throws {
        let known = try sarifStates()
        let now = Self.now()
        let new = shards.subtracting(known.keys).filter { !$0.isEmpty }
        guard !new.isEmpty else { return }
        try writing("recording SARIF deliveries") { db in
            for shard in new.sorted() {
                try SARIFStateRecord(shard: shard, digest: "", results: 0, deliveredAt: now).insert(db)
            }
        }
    }
}
