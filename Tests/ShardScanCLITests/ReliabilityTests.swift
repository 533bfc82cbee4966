import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

/// `shardscan scan` killed, interrupted, run twice at once, on a full or read-only disk, over broken shards
/// and with bad rules: it must say what happened, exit 2, and leave a store a rerun completes.
@Suite final class ReliabilityTests {
    static let rules = ScanCommandTests.rules

    let folder: URL
    let rulesPath: String

    init() throws {
        folder = try CLI.temporaryFolder()
        rulesPath = folder.appendingPathComponent("rules.yaml").path
        try Self.rules.write(toFile: rulesPath, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    // MARK: Helpers

    /// Builds `shards` bare shards of `commits` releases under `root`, each release with one GitHub token
    /// and some filler; returns the tokens.
    @discardableResult
    static func buildMirror(at root: String, shards: Int = 1, commits: Int, seed: UInt64 = 7) throws -> [String] {
        var fake = FakeCredentials(seed: seed)
        var tokens: [String] = []
        for shard in 1...shards {
            let repository = try Repository.create(at: "\(root)/pypi-mirror-\(shard)", bare: true)
            var parent: ObjectID?
            for index in 0..<commits {
                let token = fake.githubToken(prefix: "ghp_")
                tokens.append(token)
                let project = "s\(shard)p\(index)"
                let base = "packages/\(project)/\(project)-1.0.tar.gz/\(project)-1.0/"
                let files = [
                    (base + "settings.py", try repository.writeBlob(Array("TOKEN = '\(token)'\n".utf8))),
                    (
                        base + "m.py",
                        try repository.writeBlob(
                            Array(("x = \(index)\n" + String(repeating: "# filler\n", count: 100)).utf8))
                    ),
                ]
                parent = try repository.commit(
                    files: files, parent: parent, message: project,
                    author: Signature(name: "m", email: "m@x.invalid", time: 1_700_000_000 + Int64(index)),
                    reference: "refs/heads/code")
            }
        }
        return tokens
    }

    /// The command line that runs `shardscan` without the capabilities that let root read and write
    /// through file modes, so chmod means what it says; `nil` when that cannot be arranged.
    static func launcherWithoutDACOverride() -> [String]? {
        guard geteuid() == 0 else { return [CLI.executable.path] }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return nil }
        let drop = "-dac_override,-dac_read_search,-fowner"
        let launcher = ["/usr/bin/setpriv", "--inh-caps=\(drop)", "--bounding-set=\(drop)", CLI.executable.path]
        // The kernel or container may not allow it.
        guard (try? Self.run(launcher + ["--version"]))?.status == 0 else { return nil }
        return launcher
    }

    /// Runs `command` (an executable and its arguments) to its end, output to files.
    static func run(_ command: [String], environment: [String: String]? = nil) throws -> CLI.Result {
        let scratch = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (process, out, err) = try start(command, environment: environment, outputIn: scratch)
        process.waitUntilExit()
        return CLI.Result(
            status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8))
    }

    /// Starts `command` with its output going to two new files in `folder`.
    static func start(_ command: [String], environment: [String: String]? = nil, outputIn folder: URL) throws -> (
        Process, URL, URL
    ) {
        let name = UUID().uuidString
        let out = folder.appendingPathComponent("\(name).stdout")
        let err = folder.appendingPathComponent("\(name).stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = environment ?? CLI.childEnvironment
        process.currentDirectoryURL = CLI.packageRoot
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, out, err)
    }

    /// Polls `condition` every few milliseconds until it holds or `seconds` pass.
    static func wait(seconds: Double, for condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(2_000)
        }
        return condition()
    }

    static func hasWatermark(_ db: String) -> Bool {
        guard FileManager.default.fileExists(atPath: db) else { return false }
        return ((try? Store(path: db).shards()) ?? []).contains { $0.watermark != nil }
    }

    /// (fingerprint, shard, shard path, blob) of every finding place.
    static func places(_ db: String) throws -> Set<String> {
        Set(
            try Store(path: db).findings(FindingQuery()).map {
                "\($0.fingerprint) \($0.shard) \($0.shardPath) \($0.blob)"
            })
    }

    static func which(_ tool: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    // MARK: Kills and signals

    /// The same logic as `scripts/crash-test --kills 20`, smaller: five SIGKILLs at different stages.
    @Test func crashTestSurvivesFiveKills() throws {
        guard let python = Self.which("python3"), Self.which("git") != nil else {
            try Test.cancel("scripts/crash-test needs python3 and git")
        }
        let result = try Self.run([
            python, CLI.packageRoot.appendingPathComponent("scripts/crash-test").path, "--kills", "5", "--shards", "2",
            "--commits", "80", "--seed", "11", "--binary", CLI.executable.path, "--workdir", path("crash"),
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("survived 5 SIGKILLs"), "\(result.stdout)")
        #expect(result.stdout.contains("identical to the reference"))
    }

    /// When the signal comes, and how many.
    enum SignalTiming: String, CaseIterable, Sendable {
        /// Once a batch is in the store.
        case midScan
        /// As soon as the run is recorded, before any batch.
        case atRunStart
        /// Twice in a row: the second quits at once, without waiting for the commits in flight.
        case twice
    }

    /// SIGTERM (a service manager stopping the job) and SIGINT (Ctrl-C) during a scan: the scan says so and
    /// exits 128 + the signal (never 0 or 1, which mean no or new findings); once, it first writes the commits
    /// in flight and marks the run stopped; twice, it quits at once. Either way the store is sound, holds only
    /// findings an uninterrupted scan has, and a rerun completes to exactly those.
    @Test(arguments: [
        (SIGTERM, SignalTiming.midScan), (SIGINT, .midScan), (SIGTERM, .atRunStart), (SIGINT, .twice),
    ])
    func aSignalStopsTheScanCleanly(_ signal: Int32, _ timing: SignalTiming) throws {
        let mirror = path("mirror")
        try Self.buildMirror(at: mirror, shards: 2, commits: 200)
        let reference = path("reference.sqlite")
        #expect(try CLI.run(["scan", "--db", reference, "--rules", rulesPath, "--quiet", mirror]).status == 1)
        let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"

        let db = path("signalled.sqlite")
        let (process, _, err) = try Self.start(
            [
                CLI.executable.path, "scan", "--db", db, "--rules", rulesPath, "--batch-commits", "2", mirror,
            ], outputIn: folder)
        let ready: () -> Bool =
            timing == .atRunStart
            ? { ((try? Store(path: db).runs(limit: 1)) ?? []).isEmpty == false } : { Self.hasWatermark(db) }
        #expect(Self.wait(seconds: 60) { ready() || !process.isRunning })
        #expect(process.isRunning, "the scan finished before the signal; make the mirror larger")
        kill(process.processIdentifier, signal)
        if timing == .twice {
            usleep(1_000)
            kill(process.processIdentifier, signal)
        }
        let stopped = Self.wait(seconds: 30) { !process.isRunning }
        if !stopped { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let stderr = try String(contentsOf: err, encoding: .utf8)
        #expect(stopped, "the scan did not stop within 30 s of the signal")
        #expect(process.terminationReason == .exit, "killed by the signal instead of handling it")
        #expect(process.terminationStatus == 128 + signal, "exit \(process.terminationStatus): \(stderr)")
        #expect(stderr.contains(name), "\(stderr)")

        let store = try Store(path: db)
        #expect(try store.integrityCheck() == ["ok"])
        // `stopped`: ended on request after writing its work. A second signal that comes before that end
        // quits at once and leaves the run `running`; the next scan marks it `interrupted`, like a killed one.
        let status = try store.runs(limit: 1).first?.status
        if timing == .twice {
            #expect(status == "running" || status == "stopped", "\(status ?? "no run")")
            if status == "running" { #expect(stderr.contains("again: quitting now"), "\(stderr)") }
        } else {
            #expect(status == "stopped", "\(status ?? "no run")")
        }
        let partial = try Self.places(db)
        let expected = try Self.places(reference)
        #expect(partial.isSubset(of: expected))
        #expect(partial.count < expected.count)

        let rerun = try CLI.run(["scan", "--db", db, "--rules", rulesPath, mirror])
        #expect(rerun.status == 1, "\(rerun.stderr)")
        #expect(try Self.places(db) == expected)
        #expect(rerun.stderr.contains("marked interrupted") == (status == "running"))
    }

    // MARK: One writer

    @Test func aSecondScanOfTheSameStoreIsRefusedAtOnceWhileReadersWork() throws {
        let mirror = path("mirror")
        try Self.buildMirror(at: mirror, commits: 400)
        let db = path("s.sqlite")
        let (first, _, firstErr) = try Self.start(
            [
                CLI.executable.path, "scan", "--db", db, "--rules", rulesPath, "--quiet", "--batch-commits", "1",
                mirror,
            ], outputIn: folder)
        #expect(Self.wait(seconds: 60) { Self.hasWatermark(db) || !first.isRunning })
        // Frozen wherever it is (perhaps inside a write): it holds the lock as long as it lives.
        kill(first.processIdentifier, SIGSTOP)
        defer {
            kill(first.processIdentifier, SIGCONT)
            first.waitUntilExit()
        }
        #expect(first.isRunning, "the first scan finished too soon; make the mirror larger")

        let started = Date()
        let second = try CLI.run(["scan", "--db", db, "--rules", rulesPath, "--quiet", mirror])
        let seconds = Date().timeIntervalSince(started)
        print("second scan:\n\(second.stderr)")
        #expect(second.status == 2, "\(second.stderr)")
        #expect(second.stderr.contains("store \(db) is in use by another scan"), "\(second.stderr)")
        #expect(second.stderr.contains("pid \(first.processIdentifier)"), "\(second.stderr)")
        #expect(seconds < 5, "refused after \(seconds) s")

        // Reading commands do not wait for the scan.
        for command in [["status"], ["findings", "--format", "jsonl"], ["report", "--all", "--format", "json"]] {
            let started = Date()
            let result = try CLI.run(command + ["--db", db])
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect(Date().timeIntervalSince(started) < 10, "\(command) waited for the scan")
        }

        kill(first.processIdentifier, SIGCONT)
        first.waitUntilExit()
        let firstStderr = try String(contentsOf: firstErr, encoding: .utf8)
        #expect(first.terminationStatus == 1, "\(firstStderr)")
        #expect(try Store(path: db).findings(FindingQuery()).count == 400)
        // The lock went with the first scan.
        #expect(try CLI.run(["scan", "--db", db, "--rules", rulesPath, "--quiet", mirror]).status == 0)
    }

    @Test func aKilledScanLeavesNoStaleLockAndItsRunIsMarkedInterrupted() throws {
        let mirror = path("mirror")
        try Self.buildMirror(at: mirror, commits: 400)
        let db = path("s.sqlite")
        let (first, _, _) = try Self.start(
            [
                CLI.executable.path, "scan", "--db", db, "--rules", rulesPath, "--quiet", "--batch-commits", "1",
                mirror,
            ], outputIn: folder)
        #expect(Self.wait(seconds: 60) { Self.hasWatermark(db) || !first.isRunning })
        // Frozen first, so that it cannot finish between the check and the kill.
        kill(first.processIdentifier, SIGSTOP)
        #expect(first.isRunning, "the scan finished before it could be killed; make the mirror larger")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        #expect(try Store(path: db).runs(limit: 1).first?.status == "running")

        let rerun = try CLI.run(["scan", "--db", db, "--rules", rulesPath, mirror])
        #expect(rerun.status == 1, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("1 earlier run(s) of \(db) ended without finishing; marked interrupted"))
        let runs = try Store(path: db).runs(limit: 2)
        #expect(runs.map(\.status) == ["finished", "interrupted"])
        #expect(try Store(path: db).findings(FindingQuery()).count == 400)
    }

    // MARK: Disks that fail

    @Test func aFullDiskFailsTheScanWithExitTwoAndARerunCompletes() throws {
        let mirror = path("mirror")
        try Self.buildMirror(at: mirror, commits: 400)
        let reference = path("reference.sqlite")
        #expect(try CLI.run(["scan", "--db", reference, "--rules", rulesPath, "--quiet", mirror]).status == 1)

        let disk = path("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        guard let mount = Self.which("mount"),
            Self.status(of: [mount, "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk]) == 0
        else {
            try Test.cancel("cannot mount a small tmpfs to fill (needs root and CAP_SYS_ADMIN)")
        }
        defer { _ = Self.status(of: ["/usr/bin/env", "umount", "-l", disk]) }
        let db = disk + "/s.sqlite"
        let (scan, _, err) = try Self.start(
            [
                CLI.executable.path, "scan", "--db", db, "--rules", rulesPath, "--batch-commits", "2", mirror,
            ], outputIn: folder)
        #expect(Self.wait(seconds: 60) { Self.hasWatermark(db) || !scan.isRunning })
        kill(scan.processIdentifier, SIGSTOP)
        #expect(scan.isRunning, "the scan finished before the disk could be filled")
        // Fill the disk to the last byte, then let the scan go on.
        let filler = disk + "/filler"
        _ = Self.status(of: ["/usr/bin/env", "dd", "if=/dev/zero", "of=\(filler)", "bs=4096"])
        kill(scan.processIdentifier, SIGCONT)
        scan.waitUntilExit()
        let stderr = try String(contentsOf: err, encoding: .utf8)
        print("full disk:\n\(stderr)")
        #expect(scan.terminationStatus == 2, "\(stderr)")
        #expect(stderr.contains("store \(db)"), "\(stderr)")
        #expect(stderr.contains("disk holding the store is full"), "\(stderr)")
        #expect(stderr.contains("rolled back"), "\(stderr)")

        // What was written is sound and consistent, and once there is room a rerun completes.
        try FileManager.default.removeItem(atPath: filler)
        let store = try Store(path: db)
        #expect(try store.integrityCheck() == ["ok"])
        let expected = try Self.places(reference)
        let partial = try Self.places(db)
        #expect(partial.isSubset(of: expected))
        #expect(partial.count < expected.count)
        let rerun = try CLI.run(["scan", "--db", db, "--rules", rulesPath, "--quiet", mirror])
        #expect(rerun.status == 1, "\(rerun.stderr)")
        #expect(try Self.places(db) == expected)
        #expect(try Store(path: db).shards().first?.watermark == Store(path: reference).shards().first?.watermark)
    }

    @Test func aReadOnlyStoreOrFolderFailsTheScanWithExitTwoAndStillReads() throws {
        guard let launcher = Self.launcherWithoutDACOverride() else {
            try Test.cancel("running as root without setpriv: chmod cannot make the store read-only")
        }
        let mirror = path("mirror")
        try Self.buildMirror(at: mirror, commits: 10)
        let storeFolder = path("stores")
        try FileManager.default.createDirectory(atPath: storeFolder, withIntermediateDirectories: true)
        let db = storeFolder + "/s.sqlite"
        #expect(try CLI.run(["scan", "--db", db, "--rules", rulesPath, "--quiet", mirror]).status == 1)
        try Self.buildMirror(at: path("more"), commits: 3, seed: 99)
        let more = path("more")
        // Another repository: a shard of its own, not one that takes over pypi-mirror-1's name.
        try FileManager.default.moveItem(atPath: more + "/pypi-mirror-1", toPath: more + "/pypi-mirror-9")

        // A read-only store file.
        #expect(chmod(db, 0o400) == 0)
        let readOnlyFile = try Self.run(launcher + ["scan", "--db", db, "--rules", rulesPath, "--quiet", more])
        print("read-only store:\n\(readOnlyFile.stderr)")
        #expect(readOnlyFile.status == 2, "\(readOnlyFile.stderr)")
        #expect(readOnlyFile.stderr.contains("store \(db)"), "\(readOnlyFile.stderr)")
        #expect(readOnlyFile.stderr.contains("read-only"), "\(readOnlyFile.stderr)")
        let findings = try Self.run(launcher + ["findings", "--db", db, "--format", "jsonl"])
        #expect(findings.status == 0, "\(findings.stderr)")
        #expect(findings.stdout.split(separator: "\n").count == 10)
        #expect(chmod(db, 0o600) == 0)

        // A read-only folder.
        #expect(chmod(storeFolder, 0o555) == 0)
        let readOnlyFolder = try Self.run(launcher + ["scan", "--db", db, "--rules", rulesPath, "--quiet", more])
        #expect(chmod(storeFolder, 0o755) == 0)
        print("read-only folder:\n\(readOnlyFolder.stderr)")
        #expect(readOnlyFolder.status == 2, "\(readOnlyFolder.stderr)")
        #expect(readOnlyFolder.stderr.contains(db), "\(readOnlyFolder.stderr)")

        let store = try Store(path: db)
        #expect(try store.integrityCheck() == ["ok"])
        #expect(try store.findings(FindingQuery()).count == 10)
        #expect(try CLI.run(["scan", "--db", db, "--rules", rulesPath, "--quiet", more]).status == 1)
        #expect(try Store(path: db).findings(FindingQuery()).count == 13)
    }

    @Test func theStoreAndItsLockAreCreatedPrivateWhateverTheUmask() throws {
        let mirror = path("mirror")
        try Self.buildMirror(at: mirror, commits: 2)
        let db = path("private.sqlite")
        let result = try Self.run([
            "/bin/sh", "-c", "umask 000 && exec \"$0\" \"$@\"", CLI.executable.path, "scan", "--db", db, "--rules",
            rulesPath, "--quiet", mirror,
        ])
        #expect(result.status == 1, "\(result.stderr)")
        for file in [db, db + ".lock"] {
            let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?
                .intValue
            #expect(mode == 0o600, "\(file)")
        }
    }

    // MARK: Broken shards

    @Test func brokenShardsFailAloneWithExitTwo() throws {
        guard let launcher = Self.launcherWithoutDACOverride() else {
            try Test.cancel("running as root without setpriv: chmod 000 does not stop root")
        }
        let mirror = path("mirror")
        let tokens = try Self.buildMirror(at: mirror, shards: 5, commits: 3)
        let shard = { (index: Int) in "\(mirror)/pypi-mirror-\(index)" }
        // 2: the first release's leaky blob is gone.
        let repository = try Repository(at: shard(2))
        let blob = try repository.writeBlob(Array("TOKEN = '\(tokens[3])'\n".utf8))
        try FileManager.default.removeItem(
            atPath: "\(shard(2))/objects/\(blob.hex.prefix(2))/\(blob.hex.dropFirst(2))")
        // 3: packed, and the pack cut in half.
        guard let git = Self.which("git"), try Self.run([git, "-C", shard(3), "repack", "-a", "-d", "-q"]).status == 0
        else { try Test.cancel("needs git to pack a shard") }
        let pack = try #require(
            try FileManager.default.contentsOfDirectory(atPath: shard(3) + "/objects/pack").first {
                $0.hasSuffix(".pack")
            })
        let packPath = shard(3) + "/objects/pack/" + pack
        let size = try #require(
            (try FileManager.default.attributesOfItem(atPath: packPath)[.size] as? NSNumber)?.intValue)
        #expect(truncate(packPath, off_t(size / 2)) == 0)
        // 4: the shard folder unreadable; 5: its objects folder unreadable.
        #expect(chmod(shard(4), 0) == 0)
        #expect(chmod(shard(5) + "/objects", 0) == 0)
        defer {
            chmod(shard(4), 0o755)
            chmod(shard(5) + "/objects", 0o755)
        }
        // And a folder that is no git repository at all, named on the command line.
        let plain = path("plain")
        try FileManager.default.createDirectory(atPath: plain + "/src", withIntermediateDirectories: true)

        let db = path("s.sqlite")
        let result = try Self.run(launcher + ["scan", "--db", db, "--rules", rulesPath, "--quiet", mirror, plain])
        #expect(result.status == 2, "\(result.stderr)")
        let failures = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: shard ") }
        #expect(failures.count == 5, "\(result.stderr)")
        for name in ["pypi-mirror-2", "pypi-mirror-3", "pypi-mirror-4", "pypi-mirror-5", "plain"] {
            #expect(failures.contains { $0.hasPrefix("error: shard \(name) failed: ") }, "\(name): \(result.stderr)")
        }
        #expect(result.stderr.contains(blob.hex), "\(result.stderr)")
        for name in ["pypi-mirror-4", "pypi-mirror-5"] {
            #expect(
                failures.contains { $0.hasPrefix("error: shard \(name) failed: ") && $0.contains("ermission denied") },
                "\(result.stderr)")
        }
        print("broken shards:\n\(result.stderr)")

        let store = try Store(path: db)
        let shards = Dictionary(uniqueKeysWithValues: try store.shards().map { ($0.name, $0) })
        #expect(shards["pypi-mirror-1"]?.watermark != nil)
        #expect(shards["pypi-mirror-1"]?.lastStatus == "finished")
        // A path named on the command line that is no repository at all fails the scan but is no shard.
        #expect(shards["plain"] == nil)
        for name in ["pypi-mirror-2", "pypi-mirror-3", "pypi-mirror-4", "pypi-mirror-5"] {
            #expect(shards[name]?.watermark == nil, "\(name)")
            #expect(shards[name]?.lastStatus == "failed", "\(name)")
            #expect(shards[name]?.lastMessage?.isEmpty == false, "\(name)")
        }
        #expect(try store.findings(FindingQuery()).map(\.shard) == Array(repeating: "pypi-mirror-1", count: 3))
        let status = try CLI.run(["status", "--db", db])
        #expect(status.status == 0)
        #expect(status.stdout.components(separatedBy: "(never scanned)").count - 1 == 4, "\(status.stdout)")
        #expect(status.stdout.contains(blob.hex), "\(status.stdout)")
    }

    // MARK: Bad rules

    /// A rule that does not compile stops the scan before it starts (exit 2, nothing scanned: a blob
    /// recorded as scanned without it would never be scanned by it); once it is removed, a rule that hits
    /// the backtracking budget is a counted warning and the others find their secrets.
    @Test func badRulesStopTheScanAndASlowRuleIsACountedWarning() throws {
        let rules =
            Self.rules + "\n" + """
                  - id: broken.unbalanced
                    name: Does not compile
                    pattern: '(?<secret>[a-z'
                  - id: slow.backtracking
                    name: Catastrophic backtracking
                    pattern: '^(?<secret>(a+)+)(?=c)'

                """
        let rulesFile = path("bad-rules.yaml")
        try rules.write(toFile: rulesFile, atomically: true, encoding: .utf8)
        let brokenLine =
            try #require(
                rules.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("[a-z'") }) + 1

        var fake = FakeCredentials(seed: 5)
        let token = fake.githubToken(prefix: "ghp_")
        let aws = "AKIA" + fake.string(16, from: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let content = String(repeating: "a", count: 5_000) + "b\nTOKEN = '\(token)'\nAWS = '\(aws)'\n"
        let shard = path("mirror/pypi-mirror-1")
        let repository = try Repository.create(at: shard, bare: true)
        let blob = try repository.writeBlob(Array(content.utf8))
        let shardPath = "packages/x/x-1.0.tar.gz/x-1.0/aaa.py"
        try repository.commit(
            files: [(shardPath, blob)], parent: nil, message: "x", author: Signature(name: "m", email: "m@x", time: 1),
            reference: "refs/heads/code")

        let db = path("s.sqlite")
        let refused = try CLI.run(["scan", "--db", db, "--rules", rulesFile, path("mirror")])
        print("bad rules:\n\(refused.stderr)")
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(
            refused.stderr.contains(
                "\(rulesFile):\(brokenLine): error: rule broken.unbalanced: pattern does not compile"),
            "\(refused.stderr)")
        #expect(refused.stderr.contains("nothing was scanned"))

        let withoutBroken = rules.replacingOccurrences(
            of: "  - id: broken.unbalanced\n    name: Does not compile\n    pattern: '(?<secret>[a-z'\n", with: "")
        #expect(withoutBroken != rules)
        try withoutBroken.write(toFile: rulesFile, atomically: true, encoding: .utf8)
        let result = try CLI.run(["scan", "--db", db, "--rules", rulesFile, path("mirror")])
        #expect(result.status == 1, "\(result.stderr)")
        let warning = result.stderr.split(separator: "\n").first { $0.contains("rule slow.backtracking") }
        #expect(warning?.contains(blob.hex) == true, "\(result.stderr)")
        #expect(warning?.contains("match limit") == true, "\(result.stderr)")
        #expect(result.stdout.contains("1 rule failures"), "\(result.stdout)")  // the summary, on stdout

        let store = try Store(path: db)
        #expect(try store.runs(limit: 1).first?.counters.ruleFailures == 1)
        let found = try store.findings(FindingQuery())
        #expect(Set(found.map(\.rule)) == ["github.pat-classic", "aws.access-key-id"])
        #expect(Set(found.map(\.secret)) == [token, aws])
        #expect(found.allSatisfy { $0.blob == blob.hex })
    }
}

extension ReliabilityTests {
    /// Runs a system tool quietly; its exit status, or -1 when it cannot start.
    static func status(of command: [String]) -> Int32 {
        (try? run(command, environment: nil))?.status ?? -1
    }
}
