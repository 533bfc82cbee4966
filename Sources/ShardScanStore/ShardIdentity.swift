import Foundation
import GRDB
import ShardScanCore

/// What `status --forget` removed.
public struct ForgottenShard: Sendable, Equatable {
    public var releases: Int
    public var places: Int
}

extension Store {
    /// Every shard the store knows, with what identifies it.
    public func knownShards() throws -> [KnownShard] {
        try queue.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.id, s.name, s.path, s.git_dir, w.commit_oid
                    FROM shard s LEFT JOIN watermark w ON w.shard_id = s.id ORDER BY s.name
                    """
            ).map {
                KnownShard(
                    id: $0["id"], name: $0["name"], path: $0["path"], gitDirectory: $0["git_dir"],
                    watermark: $0["commit_oid"])
            }
        }
    }

    /// The id of shard `name`, added or updated with its current path, reference and git directory.
    public func shardID(name: String, path: String, reference: String, gitDirectory: String?) throws -> Int64 {
        try writing("record shard \(name)") { db in
            try db.execute(
                sql: """
                    INSERT INTO shard (name, path, reference, git_dir) VALUES (?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET path = excluded.path, reference = excluded.reference,
                        git_dir = coalesce(excluded.git_dir, git_dir)
                    """, arguments: [name, path, reference, gitDirectory])
            return try Int64.fetchOne(db, sql: "SELECT id FROM shard WHERE name = ?", arguments: [name])!
        }
    }

    /// Forgets shard `name`: its watermark, how it ended in each run, its releases and the places of
    /// findings in them, and the shard itself. Findings, and the blobs already scanned, stay: a finding seen
    /// only in this shard is no longer listed, and comes back with its places, without its blob being read
    /// again, when a scan meets that blob in any shard. Returns `nil` when no shard has that name.
    public func forgetShard(name: String) throws -> ForgottenShard? {
        try writing("forget shard \(name)") { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM shard WHERE name = ?", arguments: [name])
            else { return nil }
            try db.execute(
                sql: """
                    DELETE FROM provenance WHERE release_id IN (SELECT id FROM release WHERE shard_id = ?)
                    """, arguments: [id])
            let places = db.changesCount
            try db.execute(sql: "DELETE FROM release WHERE shard_id = ?", arguments: [id])
            let releases = db.changesCount
            try db.execute(sql: "DELETE FROM run_shard WHERE shard_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM watermark WHERE shard_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM backfill WHERE shard_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM shard WHERE id = ?", arguments: [id])
            return ForgottenShard(releases: releases, places: places)
        }
    }
}
