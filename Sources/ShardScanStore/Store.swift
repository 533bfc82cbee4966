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
    ///
    /// An existing SQLite file that is not a shardscan store is refused before anything is written to it.
    public init(path: String) throws {
        self.path = path
        guard !path.isEmpty else { throw StoreError("the store path is empty; give one with --db PATH") }
        if FileManager.default.fileExists(atPath: path) {
            try Self.checkIsStore(path, allowEmpty: true)
        } else {
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

    /// Opens the existing store at `path` for reading only: nothing is created, migrated or written, not even
    /// the journal mode. A missing file, or a file that is not a shardscan store, is refused.
    ///
    /// On read-only media SQLite cannot create the `-shm` file a WAL store is read through; when there is no
    /// write-ahead log to read either (a store closed cleanly), the file is opened as immutable, which needs
    /// neither.
    public init(readingAt path: String) throws {
        self.path = path
        guard !path.isEmpty else { throw StoreError("the store path is empty; give one with --db PATH") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw StoreError("no store at \(path) (a scan creates one; is --db right?)")
        }
        if isDirectory.boolValue { throw StoreError("\(path) is a folder, not a shardscan store") }
        try Self.checkIsStore(path, allowEmpty: false)
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(30)
        func opened(_ location: String) throws -> DatabaseQueue {
            let queue = try DatabaseQueue(path: location, configuration: configuration)
            try Self.checkSchema(queue, path: path)
            return queue
        }
        do {
            do {
                queue = try opened(path)
            } catch let error as DatabaseError where Self.cannotMakeSharedMemory(error) && !Self.hasWriteAheadLog(path)
            {
                // SQLite takes `file:` URIs as Debian and Ubuntu build it (SQLITE_USE_URI).
                queue = try opened(Self.immutableURI(path))
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where Self.cannotMakeSharedMemory(error) {
            throw StoreError(
                "cannot read store \(path): its folder cannot be written, and SQLite needs to create \(path)-shm "
                    + "to read the transactions still in \(path)-wal; read it where it was written, or copy the store "
                    + "with its -wal file to a writable folder (SQLite error \(error.extendedResultCode.rawValue))")
        } catch {
            throw StoreError("cannot read store \(path): \(Self.explain(error, path: path))")
        }
    }

    /// Whether `error` is SQLite failing to create the `-shm` file of a WAL store it reads (a folder it
    /// cannot write: `SQLITE_READONLY_DIRECTORY`, or `SQLITE_CANTOPEN`).
    static func cannotMakeSharedMemory(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_CANTOPEN || error.resultCode == .SQLITE_READONLY
    }

    /// Whether the store has a write-ahead log with content in it (committed transactions not yet copied
    /// into the main file, which an immutable opening would not see).
    static func hasWriteAheadLog(_ path: String) -> Bool {
        let size = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? NSNumber
        return (size?.intValue ?? 0) > 0
    }

    /// A `file:` URI for `path` with `immutable=1`, its path percent-encoded as SQLite's URI parser expects.
    static func immutableURI(_ path: String) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        let encoded = absolute.addingPercentEncoding(withAllowedCharacters: allowed) ?? absolute
        return "file:\(encoded)?immutable=1"
    }

    /// Refuses a file that is not a SQLite database, or a SQLite database with tables of its own and no
    /// shardscan migrations, reading nothing but its header and schema (and writing nothing).
    public static func checkIsStore(_ path: String, allowEmpty: Bool) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError("cannot read store \(path): \(String(cString: strerror(errno)))")
        }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        try? handle.close()
        if header.isEmpty {
            if allowEmpty { return }
            throw StoreError("\(path) is empty, not a shardscan store (a scan creates one)")
        }
        guard header == Data("SQLite format 3\0".utf8) else {
            throw StoreError("\(path) is not a shardscan store (not a SQLite database); is --db right?")
        }
        var configuration = Configuration()
        configuration.readonly = true
        // Another process may be creating the same new store at this moment.
        configuration.busyMode = .timeout(30)
        let tables: [String]
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            tables = try queue.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        } catch let error as DatabaseError where cannotMakeSharedMemory(error) {
            // Read-only media without a -shm file: the schema is checked again once opened.
            return
        } catch {
            throw StoreError("cannot read store \(path): \(Self.explain(error, path: path))")
        }
        if !tables.isEmpty && !tables.contains("grdb_migrations") {
            throw StoreError(
                "\(path) is a SQLite database but not a shardscan store (it has tables of its own: "
                    + "\(tables.sorted().prefix(5).joined(separator: ", "))); it was left as it was; is --db right?")
        }
    }

    /// Refuses, for reading, a store without shardscan's migrations, one written by a newer shardscan, or
    /// one too old for the queries of this one.
    static func checkSchema(_ queue: DatabaseQueue, path: String) throws {
        let applied: Set<String> = try queue.read { db in
            guard try db.tableExists("grdb_migrations") else { return [] }
            return Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
        }
        let migrations = Schema.migrator.migrations
        guard applied.contains(migrations[0]) else {
            throw StoreError("\(path) is not a shardscan store (no shardscan tables in it); is --db right?")
        }
        if let unknown = applied.subtracting(migrations).sorted().first {
            throw StoreError(
                "store \(path) was written by a newer shardscan (migration \(unknown)); upgrade shardscan")
        }
        if let missing = Schema.neededByReaders.first(where: { !applied.contains($0) }) {
            throw StoreError(
                "store \(path) was written by an older shardscan (migration \(missing) not applied); "
                    + "a scan with this shardscan upgrades it")
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

    /// Marks a run as ended with `status` (`finished`, `finished-with-errors`, `stopped`). Shards that
    /// failed or were missing count as failed.
    public func finishRun(_ runID: Int64, status: RunStatus) throws {
        try finishRun(runID, status: status.rawValue)
    }

    /// Marks a run as ended with `status`, as stored.
    public func finishRun(_ runID: Int64, status: String) throws {
        try writing("record the end of run \(runID)") { db in
            try db.execute(
                sql: """
                    UPDATE run SET finished_at = ?1, status = ?2,
                        shards = (SELECT count(*) FROM run_shard WHERE run_id = ?3),
                        shards_failed = (
                            SELECT count(*) FROM run_shard WHERE run_id = ?3 AND status IN ('failed', 'missing'))
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

    /// The last fully scanned commit of a shard.
    public func watermark(shardID: Int64) throws -> ObjectID? {
        try queue.read { db in
            try ObjectID.fetchOne(db, sql: "SELECT commit_oid FROM watermark WHERE shard_id = ?", arguments: [shardID])
        }
    }

    /// Of `oids`, those already scanned with rule set `ruleSetID`, with how many matches each had.
    ///
    /// Blobs skipped as too large are left out: the limit may have been raised since, so where one appears
    /// again its size is checked again (a header read) and it is read if it now fits.
    public func scannedBlobs(_ oids: [ObjectID], ruleSetID: Int64) throws -> [ObjectID: Int] {
        guard !oids.isEmpty else { return [:] }
        return try queue.read { db in
            var found: [ObjectID: Int] = [:]
            // A blob backfilled for every rule of the set points to a set with the same members.
            let equivalent = try Self.equivalentRuleSets(ruleSetID, db)
            // 64 ids a query: asked for every blob of every commit, one query per id cost a row object and a
            // statement step each, most of them finding nothing.
            for row in try Self.rows(
                of: """
                    SELECT oid, rule_set_id, match_count FROM blob
                    WHERE (skipped IS NULL OR skipped != 'too-large') AND oid IN
                    """, for: oids, db)
            where equivalent.contains(row["rule_set_id"]) {
                found[row["oid"]] = row["match_count"]
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
                    outcome.runID, outcome.shardID, outcome.status.rawValue, outcome.message,
                    outcome.fromCommit, outcome.toCommit,
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
        isoDate(Int64(Date().timeIntervalSince1970))
    }
}
