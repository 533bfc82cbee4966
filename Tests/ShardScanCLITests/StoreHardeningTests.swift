import Foundation
import GRDB
import Git
import ShardScanStore
import Testing

/// The store and the files around it under attack or misuse (issue 11): lock files planted as links, a store
/// reached through two names, reports written under a permissive umask or to FIFOs and links, read commands
/// on missing, foreign and read-only stores, shards that vanish or are replaced, and the messages and exit
/// statuses of mistakes.
@Suite final class StoreHardeningTests {
    let folder: URL
    let rules: String
    let mirror: String
    let db: String

    init() throws {
        folder = try CLI.temporaryFolder()
        rules = folder.appendingPathComponent("rules.yaml").path
        try ReliabilityTests.rules.write(toFile: rules, atomically: true, encoding: .utf8)
        mirror = folder.appendingPathComponent("mirror").path
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        db = folder.appendingPathComponent("S.sqlite").path
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func scan(_ extra: [String] = [], roots: [String]? = nil, in directory: URL? = nil) throws -> CLI.Result {
        try CLI.run(["scan", "--db", db, "--rules", rules, "--quiet"] + extra + (roots ?? [mirror]), in: directory)
    }

    static func mode(_ path: String) throws -> Int {
        ((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    static func fileType(_ path: String) -> mode_t? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & S_IFMT : nil
    }

    /// Runs `shardscan` through `sh -c` with `umask 000`, so files it creates get whatever mode it asks for.
    static func runUnderUmaskZero(_ arguments: [String]) throws -> CLI.Result {
        let quoted = ([CLI.executable.path] + arguments).map {
            "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        return try ReliabilityTests.run(["/bin/sh", "-c", "umask 000; exec " + quoted.joined(separator: " ")])
    }

    // MARK: Item 2 and 3: the lock file

    @Test func aLockFilePlantedAsALinkIsRefusedAndItsTargetKept() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        let victim = path("victim.txt")
        try "precious\n".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: db + ".lock", withDestinationPath: victim)
        let result = try scan()
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("S.sqlite.lock") && result.stderr.contains("symbolic link"), "\(result.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")

        // A hard link to another file is refused too: emptying the lock would empty that file.
        try FileManager.default.removeItem(atPath: db + ".lock")
        try FileManager.default.linkItem(atPath: victim, toPath: db + ".lock")
        let hardLinked = try scan()
        #expect(hardLinked.status == 2, "\(hardLinked.stderr)")
        #expect(hardLinked.stderr.contains("S.sqlite.lock"), "\(hardLinked.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
    }

    @Test func aStoreReachedThroughALinkSharesTheLockOfItsTarget() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        #expect(try scan().status == 1)
        let link = path("link.sqlite")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: db)
        let held = try StoreLock(storePath: db)
        let error = #expect(throws: StoreError.self) { try StoreLock(storePath: link) }
        #expect(error?.message.contains("in use by another scan") == true, "\(String(describing: error))")
        let through = try CLI.run(["scan", "--db", link, "--rules", rules, "--quiet", mirror])
        #expect(through.status == 2 && through.stderr.contains("in use by another scan"), "\(through.stderr)")
        withExtendedLifetime(held) {}
        // No lock file of its own beside the link.
        #expect(!FileManager.default.fileExists(atPath: link + ".lock"))
    }

    // MARK: Item 4: output files

    @Test func reportsAreWrittenPrivateWhateverTheUmask() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        let json = path("new.json")
        let sarif = path("new.sarif")
        let scanned = try Self.runUnderUmaskZero([
            "scan", "--db", db, "--rules", rules, "--quiet", "--json", json, "--sarif", sarif, "--show-secrets", mirror,
        ])
        #expect(scanned.status == 1, "\(scanned.stderr)")
        #expect(try Self.mode(json) == 0o600)
        #expect(try Self.mode(sarif) == 0o600)
        // Replacing a file others could read leaves a private one.
        let report = path("all.jsonl")
        #expect(FileManager.default.createFile(atPath: report, contents: Data("old".utf8)))
        #expect(chmod(report, 0o666) == 0)
        let reported = try Self.runUnderUmaskZero([
            "report", "--db", db, "--all", "--format", "jsonl", "--show-secrets", "--output", report,
        ])
        #expect(reported.status == 0, "\(reported.stderr)")
        #expect(try Self.mode(report) == 0o600)
        #expect(try String(contentsOfFile: report, encoding: .utf8).contains("ghp_"))
    }

    @Test func dashIsStandardOutputAndLinksAreNeverReplaced() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        #expect(try scan().status == 1)
        let dash = try CLI.run(["report", "--db", db, "--all", "--format", "jsonl", "--output", "-"], in: folder)
        #expect(dash.status == 0, "\(dash.stderr)")
        #expect(dash.stdout.contains("\"rule\""))
        #expect(!FileManager.default.fileExists(atPath: path("-")))

        // A link to a regular file is refused, and both stay as they were.
        let target = path("target.txt")
        try "mine\n".write(toFile: target, atomically: true, encoding: .utf8)
        let link = path("report.json")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let refused = try CLI.run(["report", "--db", db, "--all", "--format", "json", "--output", link])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("symbolic link"), "\(refused.stderr)")
        #expect(Self.fileType(link) == S_IFLNK)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "mine\n")

        // /dev/stdout is a link too, to where standard output goes: written through, never replaced.
        let stdout = try CLI.run(["report", "--db", db, "--all", "--format", "jsonl", "--output", "/dev/stdout"])
        #expect(stdout.status == 0, "\(stdout.stderr)")
        #expect(stdout.stdout.contains("\"rule\""))
        #expect(Self.fileType("/dev/stdout") == S_IFLNK)
    }

    @Test func aFIFOIsWrittenIntoNotReplaced() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        #expect(try scan().status == 1)
        let fifo = path("out.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // Opening a FIFO for reading waits for a writer, so the reader runs beside the command.
        let reader = Thread.detachNewThreadAndCollect { () -> Data in
            guard let handle = FileHandle(forReadingAtPath: fifo) else { return Data() }
            return handle.readDataToEndOfFile()
        }
        let result = try CLI.run(["report", "--db", db, "--all", "--format", "jsonl", "--output", fifo])
        #expect(result.status == 0, "\(result.stderr)")
        let read = String(decoding: reader.wait(), as: UTF8.self)
        #expect(read.contains("\"rule\""))
        #expect(Self.fileType(fifo) == S_IFIFO)
    }

    @Test func splitSARIFFilesOfAnEarlierReportAreRemoved() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        #expect(try scan().status == 1)
        let sarif = path("r.sarif")
        for number in 2...3 {
            try "{}".write(toFile: path("r-\(number).sarif"), atomically: true, encoding: .utf8)
        }
        let result = try CLI.run(["report", "--db", db, "--all", "--format", "sarif", "--output", sarif])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: sarif))
        #expect(!FileManager.default.fileExists(atPath: path("r-2.sarif")))
        #expect(!FileManager.default.fileExists(atPath: path("r-3.sarif")))
    }

    // MARK: Item 8: shards that vanished

    @Test func aShardGoneFromItsRootFailsTheScanAndShowsAsMissing() throws {
        try ReliabilityTests.buildMirror(at: mirror, shards: 3, commits: 2)
        #expect(try scan().status == 1)
        // One moved away, one with its HEAD removed.
        try FileManager.default.moveItem(atPath: mirror + "/pypi-mirror-2", toPath: path("elsewhere"))
        try FileManager.default.removeItem(atPath: mirror + "/pypi-mirror-3/HEAD")
        let result = try scan()
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("shard pypi-mirror-2 is gone from mirror root"), "\(result.stderr)")
        #expect(result.stderr.contains("shard pypi-mirror-3 is gone from mirror root"), "\(result.stderr)")
        let status = try CLI.run(["status", "--db", db])
        #expect(status.status == 0, "\(status.stderr)")
        let lines = status.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("pypi-mirror-2") && $0.contains("missing") }, "\(status.stdout)")
        #expect(lines.contains { $0.contains("pypi-mirror-3") && $0.contains("missing") }, "\(status.stdout)")
        #expect(lines.contains { $0.contains("pypi-mirror-1") && $0.contains("up-to-date") }, "\(status.stdout)")

        // Forgotten, it is no longer expected.
        for name in ["pypi-mirror-2", "pypi-mirror-3"] {
            let forgotten = try CLI.run(["status", "--db", db, "--forget", name])
            #expect(forgotten.status == 0, "\(forgotten.stderr)")
        }
        #expect(try scan().status == 0)
        let shards = try Store(readingAt: db).shards().map(\.name)
        #expect(shards == ["pypi-mirror-1"])
    }

    // MARK: Item 10: read commands never write

    @Test func readCommandsRefuseAMissingStoreAndCreateNothing() throws {
        let missing = path("nothing-here.sqlite")
        for command in [["findings"], ["status"], ["report", "--all", "--format", "json"]] {
            let result = try CLI.run(command + ["--db", missing])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("no store at"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: missing))
            #expect(!FileManager.default.fileExists(atPath: missing + "-wal"))
            let empty = try CLI.run(command + ["--db", ""])
            #expect(empty.status == 2, "\(command): \(empty.stderr)")
            #expect(empty.stderr.contains("--db needs a path"), "\(empty.stderr)")
        }
    }

    @Test func readCommandsRefuseAForeignSQLiteFileAndLeaveItAsItWas() throws {
        let foreign = path("someone-else.sqlite")
        let queue = try DatabaseQueue(path: foreign)
        try queue.write { db in
            try db.execute(
                sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes VALUES (1, 'x')")
        }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: foreign))
        for command in [
            ["findings"], ["status"], ["report", "--all", "--format", "json"], ["scan", "--rules", rules, mirror],
        ] {
            let result = try CLI.run(command + ["--db", foreign])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("not a shardscan store"), "\(command): \(result.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == before, "\(command)")
            #expect(!FileManager.default.fileExists(atPath: foreign + "-wal"), "\(command)")
            #expect(!FileManager.default.fileExists(atPath: foreign + ".lock"), "\(command)")
        }
    }

    @Test func readCommandsWorkOnAReadOnlyStoreInAReadOnlyFolder() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 3)
        let storeFolder = path("ro")
        try FileManager.default.createDirectory(atPath: storeFolder, withIntermediateDirectories: true)
        let store = storeFolder + "/S.sqlite"
        #expect(try CLI.run(["scan", "--db", store, "--rules", rules, "--quiet", mirror]).status == 1)
        let listing = try FileManager.default.contentsOfDirectory(atPath: storeFolder).sorted()
        #expect(chmod(store, 0o444) == 0 && chmod(storeFolder, 0o555) == 0)
        defer { chmod(storeFolder, 0o755) }
        guard let launcher = ReliabilityTests.launcherWithoutDACOverride() else {
            print("skipped: running as root without setpriv, file modes do not bind")
            return
        }
        let findings = try ReliabilityTests.run(launcher + ["findings", "--db", store, "--format", "jsonl"])
        #expect(findings.status == 0, "\(findings.stderr)")
        #expect(findings.stdout.split(separator: "\n").count == 3)
        let status = try ReliabilityTests.run(launcher + ["status", "--db", store])
        #expect(status.status == 0 && status.stdout.contains("pypi-mirror-1"), "\(status.stderr)")
        let report = try ReliabilityTests.run(launcher + ["report", "--db", store, "--all", "--format", "jsonl"])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: storeFolder).sorted() == listing)
    }

    @Test func readCommandsReadAStoreNotYetMigratedToTheLatestSchemaWithoutMigratingIt() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        #expect(try scan().status == 1)
        // The store as the shardscan before v4-shard-git-directory left it.
        let queue = try DatabaseQueue(path: db)
        try queue.write { db in
            try db.execute(sql: "ALTER TABLE shard DROP COLUMN git_dir")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v4-shard-git-directory'")
        }
        try queue.close()
        for command in [["findings"], ["status"], ["report", "--all", "--format", "jsonl"]] {
            let result = try CLI.run(command + ["--db", db])
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
        let migrations = try DatabaseQueue(path: db).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(!migrations.contains("v4-shard-git-directory"))
        #expect(try scan().status == 0)
        #expect(try Store(readingAt: db).knownShards().first?.gitDirectory != nil)
    }

    /// Every output a user reads from a store: findings, SARIF, the JSON report and `status`.
    func outputs() throws -> [String] {
        try [
            ["findings", "--format", "json"], ["report", "--all", "--format", "sarif"],
            ["report", "--all", "--format", "jsonl"], ["status"],
        ].map { command in
            let result = try CLI.run(command + ["--db", db])
            #expect(result.status == 0, "\(command): \(result.stderr)")
            return result.stdout
        }
    }

    /// What sqlite3 users see of commit ids, and how the store keeps them (`typeof`), column by column.
    func commitColumns() throws -> (views: [String], types: Set<String>, rows: [String: Int]) {
        try DatabaseQueue(path: db).read { db in
            let views =
                try String.fetchAll(
                    db, sql: "SELECT \"commit\" || ' ' || blob || ' ' || line FROM finding_location ORDER BY 1")
                + String.fetchAll(db, sql: "SELECT shard || ' ' || watermark FROM shard_status ORDER BY 1")
            var types: Set<String> = []
            var rows: [String: Int] = [:]
            for (table, column) in [
                ("watermark", "commit_oid"), ("release", "commit_oid"), ("provenance", "commit_oid"),
                ("run_shard", "from_commit"), ("run_shard", "to_commit"),
            ] {
                types.formUnion(
                    try String.fetchAll(
                        db, sql: "SELECT DISTINCT typeof(\(column)) FROM \(table) WHERE \(column) IS NOT NULL"))
                rows["\(table).\(column)"] = try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM \(table) WHERE \(column) IS NOT NULL")
            }
            return (views, types, rows)
        }
    }

    @Test func commitIDsKeptAsTextByAnOlderShardscanBecomeBlobsAndReadTheSameBeforeAndAfter() throws {
        try ReliabilityTests.buildMirror(at: mirror, shards: 2, commits: 3)
        #expect(try scan().status == 1)
        #expect(try scan().status == 0)
        let written = try outputs()
        let fresh = try commitColumns()
        #expect(fresh.types == ["blob"])
        #expect(fresh.rows["watermark.commit_oid"] == 2 && fresh.rows["provenance.commit_oid"] == 6)
        // The second run started from each shard's watermark.
        #expect(fresh.rows["run_shard.from_commit"] == 2 && fresh.rows["run_shard.to_commit"] == 4)
        #expect(fresh.views.allSatisfy { $0.split(separator: " ").allSatisfy { !$0.isEmpty } })
        let content = try Store(readingAt: db).content()

        // The store as the shardscan before v8-commit-ids-as-blobs left it: hex text, and the views of then.
        let queue = try DatabaseQueue(path: db)
        try queue.write { db in
            try db.execute(
                sql: """
                    UPDATE watermark SET commit_oid = lower(hex(commit_oid));
                    UPDATE release SET commit_oid = lower(hex(commit_oid));
                    UPDATE provenance SET commit_oid = lower(hex(commit_oid));
                    UPDATE run_shard SET from_commit = lower(hex(from_commit)) WHERE from_commit IS NOT NULL;
                    UPDATE run_shard SET to_commit = lower(hex(to_commit)) WHERE to_commit IS NOT NULL;
                    DROP VIEW finding_location;
                    CREATE VIEW finding_location AS
                    SELECT f.id AS finding_id, f.rule, f.fingerprint, s.name AS shard, p.commit_oid AS "commit",
                           lower(hex(m.blob)) AS blob, r.project, r.project_normalized, r.version,
                           r.filename AS release, p.path, p.shard_path, m.line, m."column", m.end_line,
                           m.end_column, p.run_id, nullif(p.shard_path_bytes, X'') AS shard_path_bytes
                    FROM match m JOIN finding f ON f.id = m.finding_id JOIN provenance p ON p.blob = m.blob
                    JOIN release r ON r.id = p.release_id JOIN shard s ON s.id = r.shard_id;
                    DROP VIEW shard_status;
                    CREATE VIEW shard_status AS
                    SELECT s.name AS shard, s.path, s.reference, w.commit_oid AS watermark, w.updated_at, w.run_id
                    FROM shard s LEFT JOIN watermark w ON w.shard_id = s.id;
                    DELETE FROM grdb_migrations WHERE identifier = 'v8-commit-ids-as-blobs';
                    """)
        }
        try queue.close()
        let old = try commitColumns()
        #expect(old.types == ["text"] && old.rows == fresh.rows && old.views == fresh.views)

        // Read commands read it as it is, without migrating it, and print the same bytes.
        #expect(try outputs() == written)
        #expect(try Store(readingAt: db).content() == content)
        let applied = try DatabaseQueue(path: db).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(!applied.contains("v8-commit-ids-as-blobs"))

        // A write command migrates it: every id converted in place, nothing lost, the same bytes out.
        _ = try Store(path: db)
        let migrated = try commitColumns()
        #expect(migrated.types == ["blob"] && migrated.rows == fresh.rows && migrated.views == fresh.views)
        #expect(try outputs() == written)
        #expect(try Store(readingAt: db).content() == content)
        // And the scan goes on from the converted watermarks: nothing new to read.
        let again = try scan()
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Store(readingAt: db).runs(limit: 1).first?.counters.blobsNew == 0)
    }

    // MARK: Item 12: a shard's identity

    @Test func aShardScannedFromInsideItIsNamedAfterItsFolder() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        let inside = URL(fileURLWithPath: mirror + "/pypi-mirror-1")
        let first = try scan(roots: ["."], in: inside)
        #expect(first.status == 1, "\(first.stderr)")
        let again = try scan()
        #expect(again.status == 0, "\(again.stderr)")
        let store = try Store(readingAt: db)
        #expect(try store.shards().map(\.name) == ["pypi-mirror-1"])
        #expect(try store.runs(limit: 1).first?.counters.blobsNew == 0)
    }

    @Test func anotherRepositoryUnderAKnownNameIsRefusedUntilTheShardIsForgotten() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 2)
        #expect(try scan().status == 1)
        let watermark = try Store(readingAt: db).shards().first?.watermark
        let other = path("other")
        try ReliabilityTests.buildMirror(at: other, commits: 3, seed: 99)
        let impostor = other + "/pypi-mirror-1"
        let refused = try scan(roots: [impostor])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("status --forget pypi-mirror-1"), "\(refused.stderr)")
        #expect(try Store(readingAt: db).shards().first?.watermark == watermark)

        let forgotten = try CLI.run(["status", "--db", db, "--forget", "pypi-mirror-1"])
        #expect(forgotten.status == 0, "\(forgotten.stderr)")
        #expect(try Store(readingAt: db).shards().isEmpty)
        #expect(try Store(readingAt: db).findings(FindingQuery()).isEmpty)
        let taken = try scan(roots: [impostor])
        #expect(taken.status == 1, "\(taken.stderr)")
        #expect(try Store(readingAt: db).findings(FindingQuery()).count == 3)
        let unknown = try CLI.run(["status", "--db", db, "--forget", "no-such-shard"])
        #expect(unknown.status == 2 && unknown.stderr.contains("no shard named no-such-shard"), "\(unknown.stderr)")
    }

    @Test func aMistypedRootLeavesNoShardInTheStore() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 1)
        let result = try scan(roots: [mirror, path("mirorr")])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(try Store(readingAt: db).shards().map(\.name) == ["pypi-mirror-1"])
    }

    // MARK: Item 14: messages and exit statuses

    @Test func aFileGivenAsARootIsNamedForWhatItIs() throws {
        let file = path("notes.txt")
        try "x\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(chmod(file, 0o600) == 0)
        let result = try scan(["--show-secrets"], roots: [file])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("not a directory or git repository"), "\(result.stderr)")
        #expect(!result.stderr.contains("Permission denied"), "\(result.stderr)")
    }

    @Test func aShallowCloneIsToldApartAndHowToFixIt() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 3)
        let shallow = path("shallow.git")
        let clone = try ReliabilityTests.run([
            "/usr/bin/git", "clone", "--quiet", "--bare", "--depth", "1", "--branch", "code",
            "file://" + mirror + "/pypi-mirror-1", shallow,
        ])
        guard clone.status == 0 else {
            print("skipped: git cannot make a shallow clone here: \(clone.stderr)")
            return
        }
        let result = try scan(roots: [shallow])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(
            result.stderr.contains("shallow clone") && result.stderr.contains("fetch --unshallow"), "\(result.stderr)")
    }

    @Test func impossibleDatesAreRefused() throws {
        try ReliabilityTests.buildMirror(at: mirror, commits: 1)
        #expect(try scan().status == 1)
        for date in ["2026-11-32", "2026-00-00", "2026-02-29", "2026-13-01", "2026-11-21T24:00:00Z"] {
            let result = try CLI.run(["report", "--db", db, "--since", date, "--format", "json"])
            #expect(result.status == 2, "\(date): \(result.stderr)")
            #expect(result.stderr.contains("real date"), "\(date): \(result.stderr)")
        }
        for date in ["2024-02-29", "2026-11-21", "2026-11-21T04:00:00Z"] {
            let result = try CLI.run(["report", "--db", db, "--since", date, "--format", "json"])
            #expect(result.status == 0, "\(date): \(result.stderr)")
        }
    }

    @Test func usageErrorsExitTwoAndHelpZero() throws {
        let noRoot = try CLI.run(["scan", "--db", db])
        #expect(noRoot.status == 2, "\(noRoot.stderr)")
        #expect(noRoot.stderr.contains("Missing expected argument"), "\(noRoot.stderr)")
        let noJobs = try CLI.run(["scan", "--db", db, "--jobs", "0", mirror])
        #expect(
            noJobs.status == 2 && noJobs.stderr.contains("--jobs must be a number of threads from 1 to"),
            "\(noJobs.stderr)")
        let badFormat = try CLI.run(["findings", "--db", db, "--format", "xml"])
        #expect(badFormat.status == 2, "\(badFormat.stderr)")
        let unknownOption = try CLI.run(["status", "--no-such-option"])
        #expect(unknownOption.status == 2, "\(unknownOption.stderr)")
        #expect(try CLI.run(["--help"]).status == 0)
        #expect(try CLI.run(["scan", "--help"]).status == 0)
        #expect(try CLI.run(["--version"]).status == 0)
    }
}

extension Thread {
    /// A value computed on a new thread, for a blocking call (opening a FIFO) beside the one under test.
    final class Collected<Value: Sendable>: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var value: Value?

        fileprivate func set(_ value: Value) {
            self.value = value
            done.signal()
        }

        func wait() -> Value {
            done.wait()
            return value!
        }
    }

    static func detachNewThreadAndCollect<Value: Sendable>(_ body: @escaping @Sendable () -> Value) -> Collected<Value>
    {
        let collected = Collected<Value>()
        Thread.detachNewThread { collected.set(body()) }
        return collected
    }
}
