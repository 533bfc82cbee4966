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
            try Self.enableWAL(queue)
            try Self.migrate(queue, path: path)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("cannot open store \(path): \(Self.explain(error, path: path))")
        }
    }

    /// Switches a new store to write-ahead logging. Changing the journal mode needs the file to itself,
    /// and SQLite answers "database is locked" at once, without waiting, when another process opens the new
    /// store at the same moment; so it tries again for a while.
    static func enableWAL(_ queue: DatabaseQueue) throws {
        var attempt = 0
        while true {
            do {
                let mode = try queue.writeWithoutTransaction { db in
                    try String.fetchOne(db, sql: "PRAGMA journal_mode")
                }
                if mode?.lowercased() == "wal" { return }
                try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
                return
            } catch let error as DatabaseError
                where (error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED) && attempt < 200
            {
                attempt += 1
                usleep(10_000)
            }
        }
    }

    /// Refuses a store written by a newer shardscan, and applies the migrations not yet applied.
    ///
    /// Each migration runs in its own transaction, so when two processes open a store that needs them at the
    /// same moment (a `status` while the first scan starts), the slower one fails ("table … already exists",
    /// "no such table: grdb_migrations") and rolls back; it looks again, and finds them applied.
    static func migrate(_ queue: DatabaseQueue, path: String) throws {
        let migrator = Schema.migrator
        let known = Set(migrator.migrations)
        var attempt = 0
        while true {
            do {
                let applied = try queue.read { db in try migrator.appliedIdentifiers(db) }
                if let unknown = applied.first(where: { !known.contains($0) }) {
                    throw StoreError(
                        "store \(path) was written by a newer shardscan (migration \(unknown)); upgrade shardscan")
                }
                try migrator.migrate(queue)
                return
            } catch let error as StoreError {
                throw error
            } catch {
                attempt += 1
                if attempt >= 5 { throw error }
                usleep(UInt32(20_000 * attempt))
            }
        }
    }

    /// Runs `updates` in one write transaction. A failure (a full disk, a read-only store) rolls the whole
    /// transaction back and comes out as a ``StoreError`` that names the store and what was not written.
    func writing<T>(_ what: @autoclosure () -> String, _ updates: (Database) throws -> T) throws -> T {
        do {
            return try queue.write(updates)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(
                "store \(path): cannot \(what()); the transaction was rolled back: \(Self.explain(error, path: path))")
        }
    }

    /// A SQLite error in words a user can act on, with SQLite's own message.
    static func explain(_ error: any Error, path: String) -> String {
        guard let error = error as? DatabaseError else { return "\(error)" }
        let detail = "SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "\(error.resultCode)")"
        switch error.resultCode {
        case .SQLITE_FULL:
            return "the disk holding the store is full (\(detail))"
        case .SQLITE_READONLY:
            return
                "the store is read-only: \(path), its -wal and -shm files and its folder must be writable (\(detail))"
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return "the store or its folder cannot be opened for writing (\(detail))"
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return "the store is damaged or not a shardscan store (\(detail))"
        case .SQLITE_IOERR:
            return "an I/O error (disk full, file too large, or a failing disk?) (\(detail))"
        default:
            return detail
        }
    }

    /// The id of the rule set with `digest`, added when new.
    public func ruleSetID(digest: String) throws -> Int64 {
        try writing("record the rule set") { db in
            try db.execute(sql: "INSERT OR IGNORE INTO rule_set (digest) VALUES (?)", arguments: [digest])
            return try Int64.fetchOne(db, sql: "SELECT id FROM rule_set WHERE digest = ?", arguments: [digest])!
        }
    }

    /// Records the start of a run and returns its id.
    public func startRun(ruleSetID: Int64, ruleCount: Int) throws -> Int64 {
        try writing("start a run") { db in
            try db.execute(
                sql: "INSERT INTO run (started_at, status, rule_set_id, rule_count) VALUES (?, 'running', ?, ?)",
                arguments: [Self.now(), ruleSetID, ruleCount])
            return db.lastInsertedRowID
        }
    }

    /// Marks a run as ended with `status` (`finished`, `finished-with-errors`, `stopped`).
    public func finishRun(_ runID: Int64, status: String) throws {
        try writing("record the end of run \(runID)") { db in
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
        try writing("record shard \(name)") { db in
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
    ///
    /// Blobs skipped as too large are left out: the limit may have been raised since, so where one appears
    /// again its size is checked again (a header read) and it is read if it now fits.
    public func scannedBlobs(_ oids: [Data], ruleSetID: Int64) throws -> [Data: Int] {
        guard !oids.isEmpty else { return [:] }
        return try queue.read { db in
            var found: [Data: Int] = [:]
            let statement = try db.cachedStatement(
                sql: """
                    SELECT match_count FROM blob
                    WHERE oid = ? AND rule_set_id = ? AND (skipped IS NULL OR skipped != 'too-large')
                    """)
            for oid in oids {
                if let count = try Int.fetchOne(statement, arguments: [oid, ruleSetID]) { found[oid] = count }
            }
            return found
        }
    }

    /// Records how a shard ended in a run.
    public func recordShardOutcome(_ outcome: ShardOutcome) throws {
        try writing("record how a shard ended in run \(outcome.runID)") { db in
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

    /// SQLite's `PRAGMA integrity_check`: `["ok"]` for a sound store, else the problems it found.
    public func integrityCheck() throws -> [String] {
        try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// Marks the runs (and their shards) still `running` as `interrupted`: they belong to scans that died
    /// without finishing (SIGKILL, a crash, a power cut). Call it holding the ``StoreLock``, so that no live
    /// scan is among them. Returns how many runs were marked.
    @discardableResult
    public func markAbandonedRuns() throws -> Int {
        try writing("mark abandoned runs as interrupted") { db in
            try db.execute(
                sql: """
                    UPDATE run_shard SET status = 'interrupted',
                        message = 'the scan ended without finishing this shard (killed?)'
                    WHERE status = 'running'
                    """)
            try db.execute(
                sql: """
                    UPDATE run SET status = 'interrupted',
                        shards = (SELECT count(*) FROM run_shard WHERE run_id = run.id),
                        shards_failed = (SELECT count(*) FROM run_shard WHERE run_id = run.id AND status = 'failed')
                    WHERE status = 'running'
                    """)
            return db.changesCount
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
