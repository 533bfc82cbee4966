import Foundation
import GRDB

/// The last `mirror sync` of one shard, as kept in the store's `mirror_sync` table.
public struct MirrorSyncRecord: Sendable, Equatable, Codable, FetchableRecord {
    public var name: String
    public var url: String
    public var path: String
    /// `cloned`, `fetched`, `up-to-date`, `closed` or `failed`.
    public var status: String
    public var message: String
    public var tip: String?
    public var bytes: Int
    public var seconds: Double
    /// `quick` or `full`, the verification passed; `nil` when none was.
    public var verified: String?
    /// When this sync ran (ISO 8601).
    public var syncedAt: String
    /// When a sync of this shard last succeeded; kept through later failures.
    public var lastSuccessAt: String?

    enum CodingKeys: String, CodingKey {
        case name, url, path, status, message, tip, bytes, seconds, verified
        case syncedAt = "synced_at"
        case lastSuccessAt = "last_success_at"
    }

    public init(
        name: String, url: String, path: String, status: String, message: String = "", tip: String? = nil,
        bytes: Int = 0, seconds: Double = 0, verified: String? = nil, syncedAt: String = "",
        lastSuccessAt: String? = nil
    ) {
        self.name = name
        self.url = url
        self.path = path
        self.status = status
        self.message = message
        self.tip = tip
        self.bytes = bytes
        self.seconds = seconds
        self.verified = verified
        self.syncedAt = syncedAt
        self.lastSuccessAt = lastSuccessAt
    }
}

extension Store {
    /// Records one sync of `records`' shards, all in one transaction, stamped now; a shard's last success
    /// time moves only when this sync did not fail.
    public func recordMirrorSync(_ records: [MirrorSyncRecord]) throws {
        let now = Self.now()
        try writing("record the mirror sync") { db in
            for record in records {
                try db.execute(
                    sql: """
                        INSERT INTO mirror_sync
                            (name, url, path, status, message, tip, bytes, seconds, verified, synced_at, last_success_at)
                        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, CASE WHEN ?4 = 'failed' THEN NULL ELSE ?10 END)
                        ON CONFLICT(name) DO UPDATE SET url = excluded.url, path = excluded.path,
                            status = excluded.status, message = excluded.message,
                            tip = coalesce(excluded.tip, mirror_sync.tip), bytes = excluded.bytes,
                            seconds = excluded.seconds, verified = excluded.verified, synced_at = excluded.synced_at,
                            last_success_at = coalesce(excluded.last_success_at, mirror_sync.last_success_at)
                        """,
                    arguments: [
                        record.name, record.url, record.path, record.status, record.message, record.tip,
                        record.bytes, record.seconds, record.verified, now,
                    ])
            }
        }
    }

    /// The last sync of every shard ever synced, by name.
    public func mirrorSyncs() throws -> [MirrorSyncRecord] {
        try queue.read { db in
            try MirrorSyncRecord.fetchAll(db, sql: "SELECT * FROM mirror_sync ORDER BY name")
        }
    }
}
