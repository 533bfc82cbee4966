import Foundation
import GRDB
import ShardScanCore

#if canImport(Glibc)
    import Glibc
#endif

/// A failure of the store, with what to do about it.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }

    public init(_ message: String) { self.message = message }
}

/// The SQLite store: shards, watermarks, runs, the blob dedupe set, releases, provenance and findings.
///
/// One writer at a time; every batch is one transaction, so a crash loses at most the batch in flight.
public final class Store: Sendable {
    let queue: DatabaseQueue
    public let path: String

    /// Opens (creating, with mode 0600, and migrating as needed) the store at `path`.
    public init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            // Created before SQLite opens it, so it is never readable by others, even briefly.
            let descriptor = open(path, O_CREAT | O_WRONLY | O_EXCL, 0o600)
            if descriptor < 0 && errno != EEXIST {
                throw StoreError("cannot create store \(path): \(String(cString: strerror(errno)))")
            }
            if descriptor >= 0 { close(descriptor) }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            let migrator = Schema.migrator
            let known = Set(migrator.migrations)
            let applied = try queue.read { db in try migrator.appliedIdentifiers(db) }
            if let unknown = applied.first(where: { !known.contains($0) }) {
                throw StoreError(
                    "store \(path) was written by a newer shardscan (migration \(unknown)); upgrade shardscan")
            }
            try migrator.migrate(queue)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("cannot open store \(path): \(error)")
        }
    }

    /// The id of the rule set with `digest`, added when new.
    public func ruleSetID(digest: String) throws -> Int64 {
        try queue.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO rule_set (digest) VALUES (?)", arguments: [digest])
            return try Int64.fetchOne(db, sql: "SELECT id FROM rule_set WHERE digest = ?", arguments: [digest])!
        }
    }

    /// Records the start of a run and returns its id.
    public func startRun(ruleSetID: Int64, ruleCount: Int) throws -> Int64 {
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO run (started_at, status, rule_set_id, rule_count) VALUES (?, 'running', ?, ?)",
                arguments: [Self.now(), ruleSetID, ruleCount])
            return db.lastInsertedRowID
        }
    }

    /// Marks a run as ended with `status` (`finished`, `failed`, `interrupted`).
    public func finishRun(_ runID: Int64, status: String) throws {
        try queue.write { db in
            try db.execute(
                sql: """
                    UPDATE run SET finished_at = ?1, status = ?2,
                        shards = (SELECT count(*) FROM run_shard WHERE run_id = ?3),
                        shards_failed = (SELECT count(*) FROM run_shard WHERE run_id = ?3 AND status = 'failed')
                    WHERE id = ?3
                    """,
                arguments: [Self.now(), status, runID])
        }
    }

    /// The id of shard `name`, added or updated with its current path and reference.
    public func shardID(name: String, path: String, reference: String) throws -> Int64 {
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO shard (name, path, reference) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET path = excluded.path, reference = excluded.reference
                    """, arguments: [name, path, reference])
            return try Int64.fetchOne(db, sql: "SELECT id FROM shard WHERE name = ?", arguments: [name])!
        }
    }

    /// The last fully scanned commit of a shard, as hex.
    public func watermark(shardID: Int64) throws -> String? {
        try queue.read { db in
            try String.fetchOne(db, sql: "SELECT commit_oid FROM watermark WHERE shard_id = ?", arguments: [shardID])
        }
    }

    /// Of `oids`, those already scanned with rule set `ruleSetID`, with how many matches each had.
    public func scannedBlobs(_ oids: [Data], ruleSetID: Int64) throws -> [Data: Int] {
        guard !oids.isEmpty else { return [:] }
        return try queue.read { db in
            var found: [Data: Int] = [:]
            let statement = try db.cachedStatement(
                sql: "SELECT match_count FROM blob WHERE oid = ? AND rule_set_id = ?")
            for oid in oids {
                if let count = try Int.fetchOne(statement, arguments: [oid, ruleSetID]) { found[oid] = count }
            }
            return found
        }
    }

    /// Records how a shard ended in a run.
    public func recordShardOutcome(_ outcome: ShardOutcome) throws {
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO run_shard (run_id, shard_id, status, message, from_commit, to_commit)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(run_id, shard_id) DO UPDATE SET status = excluded.status,
                        message = excluded.message, from_commit = excluded.from_commit, to_commit = excluded.to_commit
                    """,
                arguments: [
                    outcome.runID, outcome.shardID, outcome.status, outcome.message, outcome.fromCommit,
                    outcome.toCommit,
                ])
        }
    }

    static func now() -> String {
        ISO8601DateFormatter().string(from: Date())
    }
}

/// How one shard ended in one run.
public struct ShardOutcome: Sendable {
    public var runID: Int64
    public var shardID: Int64
    /// `running`, `finished`, `up-to-date` or `failed`.
    public var status: String
    public var message: String
    public var fromCommit: String?
    public var toCommit: String?

    public init(
        runID: Int64, shardID: Int64, status: String, message: String = "", fromCommit: String? = nil,
        toCommit: String? = nil
    ) {
        self.runID = runID
        self.shardID = shardID
        self.status = status
        self.message = message
        self.fromCommit = fromCommit
        self.toCommit = toCommit
    }
}
