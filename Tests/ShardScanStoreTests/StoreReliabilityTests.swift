import Foundation
import GRDB
import ShardScanCore
import Synchronization
import Testing

@testable import ShardScanStore

/// The store under stress: two writers, a full disk, old and new schemas, file modes.
@Suite final class StoreReliabilityTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-rel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    static func mode(_ path: String) throws -> Int {
        try #require((FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue)
    }

    /// A batch of one commit with one blob holding one finding, at a release of its own.
    static func batch(runID: Int64, shardID: Int64, index: Int, secretLength: Int = 12) -> Batch {
        let oid = ObjectID(bytes: (0..<20).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0) })!
        let secret = String(repeating: "s", count: secretLength) + "\(index)"
        let finding = Finding(
            ruleID: "demo.rule", start: 4, end: 4 + secret.utf8.count, line: 1, column: 5, endLine: 1,
            endColumn: 5 + secret.utf8.count, secret: secret, entropy: 2.5, snippetBefore: "pw =", snippetAfter: "")
        let commit = ObjectID(hex: String(format: "%040x", index + 1))!
        var batch = Batch(runID: runID, shardID: shardID)
        batch.watermark = commit
        batch.blobs = [ScannedBlob(oid: oid, size: 10, skipped: nil, findings: [finding])]
        let shardPath = "packages/p\(index)/p\(index)-1.0.tar.gz/p\(index)-1.0/x.py"
        batch.locations = [
            BlobLocation(
                oid: oid, release: ReleasePath.parse(shardPath), shardPath: shardPath, commit: commit, matchCount: 1)
        ]
        batch.counters.commits = 1
        batch.counters.blobsNew = 1
        return batch
    }

    // MARK: One writer

    /// Dates are written out by hand as ISO 8601 in UTC: the same text `ISO8601DateFormatter` gives, from 1970 to
    /// the end of year 9999 (outside it, the formatter itself).
    @Test(arguments: [
        Int64(0), 1, 59, 86_399, 951_782_400, 1_700_000_000, 2_147_483_647, 4_102_444_800, 253_402_300_799, -1,
        -86_401, 253_402_300_800,
    ])
    func datesAreWrittenAsTheFormatterWouldWriteThem(seconds: Int64) {
        #expect(
            Store.isoDate(seconds) == ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(seconds))))
    }

    @Test func theLockIsExclusiveAndNamesTheProcessHoldingIt() throws {
        let store = path("s.sqlite")
        var first: StoreLock? = try StoreLock(storePath: store)
        #expect(try Self.mode(store + ".lock") == 0o600)
        let error = #expect(throws: StoreError.self) { try StoreLock(storePath: store) }
        #expect(error?.message.contains(store) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("pid \(getpid())") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("in use by another scan") == true)
        // Readers never take the lock.
        #expect(try Store(path: store).findings(FindingQuery()).isEmpty)
        first = nil
        _ = first
        // Released on close (and by the kernel when a holder dies): the next scan gets it.
        let second = try StoreLock(storePath: store)
        withExtendedLifetime(second) {}
    }

    @Test func runsLeftRunningByADeadScanAreMarkedInterrupted() throws {
        let store = try Store(path: path("s.sqlite"))
        let ruleSetID = try store.ruleSetID(digest: "d")
        let finished = try store.startRun(ruleSetID: ruleSetID, ruleCount: 1)
        try store.finishRun(finished, status: "finished")
        let dead = try store.startRun(ruleSetID: ruleSetID, ruleCount: 1)
        let shardID = try store.shardID(name: "s1", path: "/m/s1", reference: "refs/heads/code")
        try store.write(Self.batch(runID: dead, shardID: shardID, index: 1), ruleSetID: ruleSetID)
        #expect(try store.shards().first?.lastStatus == "running")

        #expect(try store.markAbandonedRuns() == 1)
        #expect(try store.run(dead)?.status == "interrupted")
        #expect(try store.run(dead)?.shards == 1)
        #expect(try store.run(finished)?.status == "finished")
        #expect(try store.shards().first?.lastStatus == "interrupted")
        // What the dead run wrote stays: its batches were complete.
        #expect(try store.findings(FindingQuery()).count == 1)
        #expect(try store.markAbandonedRuns() == 0)
    }

    /// `status` polling a store while the first scan creates it: both migrate the new file at once.
    @Test func aNewStoreOpenedByManyAtOnceIsMigratedOnce() throws {
        for round in 0..<20 {
            let storePath = path("race-\(round).sqlite")
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                do {
                    _ = try Store(path: storePath)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            let seen = failures.withLock { $0 }
            #expect(seen.isEmpty, "round \(round): \(seen)")
            if !seen.isEmpty { break }
        }
    }

    // MARK: Failing writes

    @Test func aFullDiskRollsTheBatchBackAndNamesTheStore() throws {
        let storePath = path("full.sqlite")
        let store = try Store(path: storePath)
        let ruleSetID = try store.ruleSetID(digest: "d")
        let runID = try store.startRun(ruleSetID: ruleSetID, ruleCount: 1)
        let shardID = try store.shardID(name: "s1", path: "/m/s1", reference: "refs/heads/code")
        try store.write(Self.batch(runID: runID, shardID: shardID, index: 1), ruleSetID: ruleSetID)
        let watermark = try store.watermark(shardID: shardID)

        // SQLite's own disk-full (SQLITE_FULL): the file may not grow by another page.
        let pages = try store.queue.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count")! }
        try store.queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
        var big = Self.batch(runID: runID, shardID: shardID, index: 2, secretLength: 200_000)
        big.blobs += (3..<50).map { Self.batch(runID: runID, shardID: shardID, index: $0).blobs[0] }
        let error = #expect(throws: StoreError.self) { try store.write(big, ruleSetID: ruleSetID) }
        let message = error?.message ?? ""
        #expect(message.contains(storePath), "\(message)")
        #expect(message.contains("full"), "\(message)")
        #expect(message.contains("rolled back"), "\(message)")

        // Nothing of the batch was kept, and the store is sound.
        #expect(try store.watermark(shardID: shardID) == watermark)
        #expect(try store.findings(FindingQuery()).count == 1)
        #expect(try store.scannedBlobs([big.blobs[0].oid], ruleSetID: ruleSetID).isEmpty)
        #expect(try store.runs(limit: 1).first?.counters.commits == 1)
        let integrity = try store.queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == ["ok"])

        // Space again: the same batch goes in whole.
        try store.queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        try store.write(big, ruleSetID: ruleSetID)
        #expect(try store.watermark(shardID: shardID) == big.watermark)
        #expect(try store.findings(FindingQuery()).count == 2)
        #expect(try store.scannedBlobs(big.blobs.map(\.oid), ruleSetID: ruleSetID).count == big.blobs.count)
    }

    // MARK: Files

    @Test func theStoreItsJournalAndItsLockAreCreatedPrivate() throws {
        let storePath = path("private.sqlite")
        let lock = try StoreLock(storePath: storePath)
        let store = try Store(path: storePath)
        let ruleSetID = try store.ruleSetID(digest: "d")
        let runID = try store.startRun(ruleSetID: ruleSetID, ruleCount: 1)
        try store.write(
            Self.batch(
                runID: runID, shardID: try store.shardID(name: "s", path: "/s", reference: "r"), index: 1),
            ruleSetID: ruleSetID)
        for file in [storePath, storePath + "-wal", storePath + "-shm", storePath + ".lock"] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file)")
            #expect(try Self.mode(file) == 0o600, "\(file)")
        }
        withExtendedLifetime(lock) {}
    }

    // MARK: Schema versions

    @Test func aCommitIDThatIsNotHexStopsTheMigrationAndLeavesTheStoreAsItWas() throws {
        let oldPath = path("v7.sqlite")
        do {
            let queue = try DatabaseQueue(path: oldPath)
            try Schema.migrator.migrate(queue, upTo: "v7-merge-keys")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO shard (id, name, path, reference) VALUES (1, 'pypi-mirror-1', '/m/1', 'refs/heads/code');
                        INSERT INTO rule_set (id, digest) VALUES (1, 'd');
                        INSERT INTO run (id, started_at, status, rule_set_id, rule_count) VALUES (1, 't', 'finished', 1, 1);
                        INSERT INTO watermark (shard_id, commit_oid, run_id, updated_at) VALUES (1, 'not-a-commit', 1, 't');
                        """)
            }
        }
        #expect {
            _ = try Store(path: oldPath)
        } throws: { error in
            "\(error)".contains("not-a-commit") && "\(error)".contains("40 hexadecimal digits")
        }
        let (watermark, applied) = try DatabaseQueue(path: oldPath).read { db in
            (
                try String.fetchOne(db, sql: "SELECT commit_oid FROM watermark"),
                try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
            )
        }
        #expect(watermark == "not-a-commit" && !applied.contains("v8-commit-ids-as-blobs"))
    }

    @Test func aStoreFromTheFirstVersionIsMigratedKeepingItsData() throws {
        let oldPath = path("v1.sqlite")
        do {
            let queue = try DatabaseQueue(path: oldPath)
            try Schema.migrator.migrate(queue, upTo: "v1-initial")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO shard (id, name, path, reference) VALUES (1, 'pypi-mirror-1', '/m/1', 'refs/heads/code');
                        INSERT INTO rule_set (id, digest) VALUES (1, 'old-digest');
                        INSERT INTO run (id, started_at, finished_at, status, rule_set_id, rule_count, commits)
                            VALUES (1, '2024-01-01T00:00:00Z', '2024-01-01T00:01:00Z', 'finished', 1, 3, 1);
                        INSERT INTO watermark (shard_id, commit_oid, run_id, updated_at)
                            VALUES (1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1, '2024-01-01T00:01:00Z');
                        INSERT INTO blob (oid, size, rule_set_id, skipped, match_count) VALUES (x'0102', 30, 1, NULL, 1);
                        INSERT INTO release (id, shard_id, project, project_normalized, version, filename, commit_oid)
                            VALUES (1, 1, 'Acme_Utils', 'acme-utils', '1.0', 'Acme_Utils-1.0.tar.gz',
                                'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
                        INSERT INTO provenance (blob, release_id, shard_path, path, commit_oid, run_id)
                            VALUES (x'0102', 1, 'packages/Acme_Utils/Acme_Utils-1.0.tar.gz/a/k.py', 'a/k.py',
                                'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 1);
                        INSERT INTO finding (id, rule, fingerprint, secret, secret_hash, first_run_id)
                            VALUES (1, 'github.pat-classic', 'fp1', 'ghp_secret', 'h', 1);
                        INSERT INTO match (finding_id, blob, start, "end", line, "column", end_line, end_column, entropy,
                            snippet_before, snippet_after)
                            VALUES (1, x'0102', 5, 15, 2, 6, 2, 16, 3.5, 'k = ', '');
                        """)
            }
            let applied = try queue.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
            }
            #expect(applied == ["v1-initial"])
        }

        let store = try Store(path: oldPath)
        let rows = try store.findings(FindingQuery(project: "acme.utils"))
        #expect(rows.count == 1)
        #expect(rows.first?.secret == "ghp_secret")
        #expect(rows.first?.line == 2)
        #expect(rows.first?.commit == ObjectID(hex: String(repeating: "b", count: 40)))
        #expect(try store.shards().first?.watermark == ObjectID(hex: String(repeating: "a", count: 40)))
        #expect(try store.runs().first?.counters.commits == 1)
        // Written by v2 onwards, and usable at once.
        #expect(try store.rules(ids: ["github.pat-classic"])["github.pat-classic"] == .unknown("github.pat-classic"))
        try store.recordRules([Rule(id: "github.pat-classic", name: "GitHub token", pattern: "x")], runID: 1)
        #expect(try store.rules(ids: ["github.pat-classic"])["github.pat-classic"]?.name == "GitHub token")
        // v4: untriaged, and deliveries start after the runs the old per-run --json already wrote.
        #expect(rows.first?.status == .open)
        #expect(try store.deliveryCursor("json") == 1 && store.deliveryCursor("jsonl") == 1)
        #expect(try store.pendingDelivery("json").isEmpty)
        #expect(try Store(path: path("empty.sqlite")).deliveryCursor("json") == 0)

        // Every table and column of a new store is there, and every migration is recorded.
        func schema(_ path: String) throws -> [String: [String]] {
            try DatabaseQueue(path: path).read { db in
                var tables: [String: [String]] = [:]
                for table in try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")
                {
                    tables[table] = try db.columns(in: table).map(\.name).sorted()
                }
                return tables
            }
        }
        _ = try Store(path: path("new.sqlite"))
        #expect(try schema(oldPath) == schema(path("new.sqlite")))
        let applied = try DatabaseQueue(path: oldPath).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
        #expect(applied == Schema.migrator.migrations.sorted())
    }

    @Test func aStoreFromANewerVersionIsRefusedUntouched() throws {
        let newerPath = path("newer.sqlite")
        _ = try Store(path: newerPath)
        try DatabaseQueue(path: newerPath).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
            try db.execute(sql: "CREATE TABLE future (x)")
        }
        let error = #expect(throws: StoreError.self) { try Store(path: newerPath) }
        let message = error?.message ?? ""
        #expect(message.contains(newerPath), "\(message)")
        #expect(message.contains("newer shardscan"), "\(message)")
        #expect(message.contains("v99-from-the-future"), "\(message)")
        let tables = try DatabaseQueue(path: newerPath).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        #expect(tables.contains("future"))
    }
}
