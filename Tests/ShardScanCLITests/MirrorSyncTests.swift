import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

/// `shardscan mirror sync` against bare repositories built at test time, as file:// URLs and through a
/// `git daemon` on 127.0.0.1: clones, open-shard fetches, --check-all, leftovers of killed clones, damaged
/// objects and unreachable remotes.
@Suite final class MirrorSyncTests {
    let folder: URL
    var fake = FakeCredentials(seed: 19)
    var time: Int64 = 1_700_000_000

    init() throws {
        folder = try CLI.temporaryFolder()
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    var remotes: String { folder.appendingPathComponent("remotes").path }
    var root: String { folder.appendingPathComponent("mirror").path }
    var db: String { folder.appendingPathComponent("s.sqlite").path }
    var listPath: String { folder.appendingPathComponent("repositories.txt").path }

    func remotePath(_ name: String) -> String { "\(remotes)/\(name).git" }

    // MARK: Helpers

    /// A bare remote shard `name` with `releases` releases on `refs/heads/code`, each with one token.
    func makeRemote(_ name: String, releases: Int = 2) throws {
        _ = try Repository.create(at: remotePath(name), bare: true)
        for _ in 0..<releases { try addRelease(name) }
    }

    /// Adds a release commit to remote `name`; returns the new tip and the blob holding its token.
    @discardableResult
    func addRelease(_ name: String) throws -> (tip: ObjectID, blob: ObjectID) {
        let repository = try Repository(at: remotePath(name))
        let parent = try repository.commitID(ofReference: "refs/heads/code")
        time += 60
        let project = "p\(time)"
        let blob = try repository.writeBlob(Array("TOKEN = '\(fake.githubToken(prefix: "ghp_"))'\n".utf8))
        let tip = try repository.commit(
            files: [("packages/\(project)/\(project)-1.0.tar.gz/\(project)-1.0/settings.py", blob)], parent: parent,
            message: project, author: Signature(name: "m", email: "m@x.invalid", time: time),
            reference: "refs/heads/code")
        return (tip, blob)
    }

    func remoteTip(_ name: String) throws -> ObjectID? {
        try Repository(at: remotePath(name)).commitID(ofReference: "refs/heads/code")
    }

    func localTip(_ name: String) throws -> ObjectID? {
        try Repository(at: "\(root)/\(name)").commitID(ofReference: "refs/heads/code")
    }

    func writeList(_ urls: [String]) throws {
        let text = "# shards, oldest first\n\n" + urls.map { "\($0)   # a comment\n" }.joined()
        try text.write(toFile: listPath, atomically: true, encoding: .utf8)
    }

    func fileURL(_ name: String) -> String { URL(fileURLWithPath: remotePath(name)).absoluteString }

    struct Report: Decodable {
        var shards: [ShardSyncResult]
        func status(_ name: String) -> ShardSyncStatus? { shards.first { $0.name == name }?.status }
        func result(_ name: String) -> ShardSyncResult? { shards.first { $0.name == name } }
    }

    /// Runs `mirror sync` with a JSON report and decodes it.
    func sync(_ extra: [String] = [], list: String? = nil) throws -> (CLI.Result, Report) {
        let result = try CLI.run(
            ["mirror", "sync", "--db", db, "--list", list ?? listPath, "--format", "json", "--jobs", "2"] + extra
                + [root])
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        return (result, report)
    }

    /// Overwrites loose object `id` of the repository at `path` with bytes that do not inflate.
    func corruptLooseObject(_ id: ObjectID, in path: String) throws {
        let file = "\(path)/objects/\(id.hex.prefix(2))/\(id.hex.dropFirst(2))"
        #expect(FileManager.default.fileExists(atPath: file))
        chmod(file, 0o644)
        try Data(repeating: 0x5A, count: 64).write(to: URL(fileURLWithPath: file))
    }

    // MARK: Tests

    @Test func firstSyncClonesAllLaterOnlyOpenShardsAndCheckAllTheMovedOnes() throws {
        let names = ["pypi-mirror-1", "pypi-mirror-2", "pypi-mirror-3"]
        for name in names { try makeRemote(name) }
        try writeList(names.map(fileURL))

        let (first, report) = try sync()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(report.shards.map(\.name) == names)
        for name in names {
            #expect(report.status(name) == .cloned)
            #expect(try localTip(name) == remoteTip(name))
            #expect(report.result(name)?.tip == (try remoteTip(name))?.hex)
            #expect((report.result(name)?.bytes ?? 0) > 0)
            #expect(try Repository(at: "\(root)/\(name)").isBare)
        }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/.pypi-mirror-1.partial"))
        let scanned = ShardLocator.locate([root], branch: "code")
        #expect(scanned.map(\.name) == names && scanned.allSatisfy { $0.reference == "refs/heads/code" })

        // Shard 1 is closed (the last two are open), yet it moved; shard 3 moved too.
        let closedBefore = try localTip("pypi-mirror-1")
        try addRelease("pypi-mirror-1")
        try addRelease("pypi-mirror-3")
        let (second, secondReport) = try sync()
        #expect(second.status == 0, "\(second.stderr)")
        #expect(secondReport.status("pypi-mirror-1") == .closed)
        #expect(try localTip("pypi-mirror-1") == closedBefore)
        #expect(secondReport.status("pypi-mirror-2") == .upToDate)
        #expect(secondReport.status("pypi-mirror-3") == .fetched)
        #expect(try localTip("pypi-mirror-3") == remoteTip("pypi-mirror-3"))

        let (third, thirdReport) = try sync(["--check-all"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(thirdReport.status("pypi-mirror-1") == .fetched)
        #expect(try localTip("pypi-mirror-1") == remoteTip("pypi-mirror-1"))
        #expect(thirdReport.status("pypi-mirror-2") == .upToDate)
        #expect(thirdReport.status("pypi-mirror-3") == .upToDate)

        // The store keeps each shard's last sync.
        let records = try Store(path: db).mirrorSyncs()
        #expect(records.map(\.name) == names)
        #expect(records.first?.status == "fetched")
        #expect(records.first?.tip == (try remoteTip("pypi-mirror-1"))?.hex)
        #expect(records.allSatisfy { $0.lastSuccessAt != nil && $0.verified == "quick" })

        // The table says the same.
        let table = try CLI.run(["mirror", "sync", "--db", db, "--list", listPath, root])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("pypi-mirror-1") && table.stdout.contains("closed"))
        #expect(table.stdout.contains("up-to-date"))
    }

    @Test func leftoverPartialCloneIsNeverScannedAndIsRedone() throws {
        try makeRemote("pypi-mirror-1")
        try makeRemote("pypi-mirror-2")
        try writeList([fileURL("pypi-mirror-1"), fileURL("pypi-mirror-2")])
        // What a clone killed after its first pack arrived leaves: a repository with a branch, under the
        // hidden name, and no shard folder.
        let partial = MirrorSync.partialPath(root: root, name: "pypi-mirror-2")
        let stale = try Repository.create(at: partial, bare: true)
        let blob = try stale.writeBlob(Array("half".utf8))
        try stale.commit(
            files: [("x", blob)], parent: nil, message: "stale", author: Signature(name: "m", email: "m@x", time: 1),
            reference: "refs/heads/code")
        #expect(ShardLocator.locate([root], branch: "code").allSatisfy { !$0.name.contains("partial") })

        let (run, report) = try sync()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(report.status("pypi-mirror-2") == .cloned)
        #expect(report.result("pypi-mirror-2")?.message.contains("unfinished clone") == true)
        #expect(!FileManager.default.fileExists(atPath: partial))
        #expect(try localTip("pypi-mirror-2") == remoteTip("pypi-mirror-2"))
    }

    @Test func killedMidCloneThenRerunCompletes() throws {
        // A shard large enough that its clone is still running when the process is killed.
        try makeRemote("pypi-mirror-1")
        let repository = try Repository(at: remotePath("pypi-mirror-1"))
        var generator = SystemRandomNumberGenerator()
        var files: [(path: String, blob: ObjectID)] = []
        for index in 0..<4 {
            // Random, so that it does not compress: the clone has a megabyte of work per file.
            let words = (0..<131_072).map { _ in generator.next() as UInt64 }
            files.append(("big/\(index).bin", try repository.writeBlob(words.withUnsafeBytes { Array($0) })))
        }
        try repository.commit(
            files: files, parent: try remoteTip("pypi-mirror-1"), message: "big",
            author: Signature(name: "m", email: "m@x", time: 2), reference: "refs/heads/code")
        try writeList([fileURL("pypi-mirror-1")])

        let partial = MirrorSync.partialPath(root: root, name: "pypi-mirror-1")
        let (process, _, _) = try ReliabilityTests.start(
            [CLI.executable.path, "mirror", "sync", "--db", db, "--list", listPath, "--quiet", root],
            outputIn: folder)
        let started = ReliabilityTests.wait(seconds: 30) {
            FileManager.default.fileExists(atPath: partial + "/objects")
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try #require(started, "the clone never started")
        // Killed mid-clone: nothing passes for the shard.
        // The clone takes seconds (4 MB packed by libgit2); the kill comes within milliseconds of its start.
        #expect(!FileManager.default.fileExists(atPath: "\(root)/pypi-mirror-1"))
        #expect(FileManager.default.fileExists(atPath: partial))
        #expect(ShardLocator.locate([root], branch: "code").allSatisfy { $0.reference == nil })

        let (rerun, report) = try sync()
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(report.status("pypi-mirror-1") == .cloned)
        #expect(report.result("pypi-mirror-1")?.message.contains("unfinished clone") == true)
        #expect(!FileManager.default.fileExists(atPath: partial))
        #expect(try localTip("pypi-mirror-1") == remoteTip("pypi-mirror-1"))
    }

    @Test func corruptRemoteObjectFailsThatShardAloneAndLeavesNothing() throws {
        for name in ["pypi-mirror-1", "pypi-mirror-2", "pypi-mirror-3"] { try makeRemote(name) }
        let (_, blob) = try addRelease("pypi-mirror-2")
        try corruptLooseObject(blob, in: remotePath("pypi-mirror-2"))
        try writeList(["pypi-mirror-1", "pypi-mirror-2", "pypi-mirror-3"].map(fileURL))

        let (run, report) = try sync()
        #expect(run.status == 2)
        #expect(report.status("pypi-mirror-1") == .cloned)
        #expect(report.status("pypi-mirror-3") == .cloned)
        #expect(report.status("pypi-mirror-2") == .failed)
        let message = report.result("pypi-mirror-2")?.message ?? ""
        #expect(message.contains("clone failed") && message.contains("next sync tries again"), "\(message)")
        #expect(message.contains("the remote is damaged: object \(blob)"), "\(message)")
        #expect(run.stderr.contains("shard pypi-mirror-2 failed"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/pypi-mirror-2"))
        #expect(!FileManager.default.fileExists(atPath: MirrorSync.partialPath(root: root, name: "pypi-mirror-2")))
        #expect(try Store(path: db).mirrorSyncs().first { $0.name == "pypi-mirror-2" }?.status == "failed")
    }

    @Test func fullVerificationNamesTheDamagedObjectAndWhatToDo() throws {
        for name in ["pypi-mirror-1", "pypi-mirror-2"] { try makeRemote(name, releases: 4) }
        try writeList(["pypi-mirror-1", "pypi-mirror-2"].map(fileURL))
        let (first, _) = try sync(["--verify", "full"])
        #expect(first.status == 0, "\(first.stderr)")

        // Damage the middle of the cloned shard's pack.
        let packs = "\(root)/pypi-mirror-1/objects/pack"
        let pack = try #require(
            try FileManager.default.contentsOfDirectory(atPath: packs).first { $0.hasSuffix(".pack") })
        let url = URL(fileURLWithPath: "\(packs)/\(pack)")
        chmod(url.path, 0o644)
        var bytes = try Data(contentsOf: url)
        for offset in (bytes.count / 2)..<(bytes.count / 2 + 8) { bytes[offset] ^= 0xFF }
        try bytes.write(to: url)

        let (run, report) = try sync(["--verify", "full"])
        #expect(run.status == 2)
        #expect(report.status("pypi-mirror-2") == .upToDate)
        #expect(report.result("pypi-mirror-2")?.verified == .full)
        #expect(report.status("pypi-mirror-1") == .failed)
        let message = report.result("pypi-mirror-1")?.message ?? ""
        #expect(message.contains("damaged") && message.contains("object "), "\(message)")
        #expect(message.contains("delete \(root)/pypi-mirror-1"), "\(message)")
    }

    @Test func unreachableRemoteFailsAlone() throws {
        try makeRemote("pypi-mirror-1")
        try makeRemote("pypi-mirror-3")
        let missing = URL(fileURLWithPath: folder.appendingPathComponent("nowhere/pypi-mirror-2.git").path)
        try writeList([fileURL("pypi-mirror-1"), missing.absoluteString, fileURL("pypi-mirror-3")])

        let (run, report) = try sync()
        #expect(run.status == 2)
        #expect(report.status("pypi-mirror-1") == .cloned)
        #expect(report.status("pypi-mirror-3") == .cloned)
        #expect(report.status("pypi-mirror-2") == .failed)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/pypi-mirror-2"))
        #expect(!FileManager.default.fileExists(atPath: MirrorSync.partialPath(root: root, name: "pypi-mirror-2")))
    }

    @Test func gitDaemonClonesAndFetchesOverTheNetwork() throws {
        let names = ["pypi-mirror-1", "pypi-mirror-2"]
        for name in names { try makeRemote(name) }
        guard let daemon = try GitDaemon(basePath: remotes, logIn: folder) else {
            print("skipped: git daemon could not start on 127.0.0.1 (is /usr/lib/git-core/git-daemon installed?)")
            return
        }
        defer { daemon.stop() }
        // A port where nothing listens, for the unreachable shard.
        let closedPort = try GitDaemon.freePort()
        try writeList(
            names.map { "git://127.0.0.1:\(daemon.port)/\($0).git" } + [
                "git://127.0.0.1:\(closedPort)/pypi-mirror-9.git"
            ])

        let (first, report) = try sync(["--open", "3"])
        #expect(first.status == 2)
        for name in names {
            #expect(report.status(name) == .cloned, "\(first.stderr)")
            #expect(try localTip(name) == remoteTip(name))
        }
        #expect(report.status("pypi-mirror-9") == .failed)

        try addRelease("pypi-mirror-2")
        let (second, secondReport) = try sync(["--open", "3"])
        #expect(second.status == 2)
        #expect(secondReport.status("pypi-mirror-1") == .upToDate)
        #expect(secondReport.status("pypi-mirror-2") == .fetched, "\(second.stderr)")
        #expect(try localTip("pypi-mirror-2") == remoteTip("pypi-mirror-2"))
    }

    @Test func listIsDownloadedOverHTTP() throws {
        try makeRemote("pypi-mirror-1")
        try writeList([fileURL("pypi-mirror-1")])
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            print("skipped: no /usr/bin/python3 to serve the list over HTTP")
            return
        }
        let port = try GitDaemon.freePort()
        let (server, _, _) = try ReliabilityTests.start(
            ["/usr/bin/python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", folder.path],
            outputIn: folder)
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        guard ReliabilityTests.wait(seconds: 10, for: { GitDaemon.accepts(port: port) }) else {
            print("skipped: python3 -m http.server did not start on 127.0.0.1")
            return
        }
        let (run, report) = try sync(list: "http://127.0.0.1:\(port)/repositories.txt")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(report.status("pypi-mirror-1") == .cloned)

        let missing = try CLI.run(
            ["mirror", "sync", "--db", db, "--list", "http://127.0.0.1:\(port)/nope.txt", root])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot download the shard list") && missing.stderr.contains("HTTP 404"))
    }

    @Test func scanRunsAfterTheSyncThroughTheScanCommand() throws {
        try makeRemote("pypi-mirror-1", releases: 3)
        try writeList([fileURL("pypi-mirror-1")])
        let rules = folder.appendingPathComponent("rules.yaml").path
        try ScanCommandTests.rules.write(toFile: rules, atomically: true, encoding: .utf8)
        let json = folder.appendingPathComponent("new.json").path

        let run = try CLI.run(
            ["mirror", "sync", "--db", db, "--list", URL(fileURLWithPath: listPath).absoluteString, "--scan", root]
                + ["--", "--rules", rules, "--json", json])
        #expect(run.status == 1, "\(run.stderr)")  // the scan's "new findings"
        #expect(run.stdout.contains("cloned"))
        #expect(try Store(path: db).findings(FindingQuery()).count == 3)
        #expect(FileManager.default.fileExists(atPath: json))

        let bad = try CLI.run(["mirror", "sync", "--db", db, "--list", listPath, root, "--", "--rules", rules])
        #expect(bad.status != 0 && bad.stderr.contains("--scan"))
    }

    @Test func listParsing() throws {
        let entries = try ShardList.parse(
            "# comment\n\nhttps://example.invalid/org/pypi-mirror-1.git\n  file:///srv/x/pypi-mirror-2/  # open\n",
            origin: "list")
        #expect(entries.map(\.name) == ["pypi-mirror-1", "pypi-mirror-2"])
        #expect(entries.map(\.line) == [3, 4])
        #expect(throws: ShardListError.self) {
            try ShardList.parse("https://a.invalid/x.git\nhttps://b.invalid/x.git\n", origin: "list")
        }
        #expect(throws: ShardListError.self) { try ShardList.parse("# nothing\n", origin: "list") }
        #expect(ShardList.shardName("git@github.com:org/shard.git") == "shard")
        #expect(ShardList.shardName("https://example.invalid/.hidden.git") == nil)
    }
}

/// A `git daemon` serving the bare repositories under a folder on 127.0.0.1, on a free port.
final class GitDaemon {
    let process: Process
    let port: Int

    /// Starts the daemon; `nil` when it is not installed or does not start listening within ten seconds.
    init?(basePath: String, logIn folder: URL) throws {
        let executable = "/usr/lib/git-core/git-daemon"
        guard FileManager.default.isExecutableFile(atPath: executable) else { return nil }
        port = try Self.freePort()
        let (process, _, _) = try ReliabilityTests.start(
            [
                executable, "--reuseaddr", "--listen=127.0.0.1", "--port=\(port)", "--base-path=\(basePath)",
                "--export-all", "--informative-errors", basePath,
            ], outputIn: folder)
        self.process = process
        let port = self.port
        guard ReliabilityTests.wait(seconds: 10, for: { Self.accepts(port: port) }) else {
            stop()
            return nil
        }
    }

    func stop() {
        // SIGKILL: a child of the test runner may inherit SIGTERM blocked.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else { throw CocoaError(.fileReadUnknown) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
