import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

/// Shards damaged on disk: each fails alone, with libgit2's error, its watermark never passing the damage,
/// while the other shards complete.
@Suite struct BrokenShardTests {
    static let healthy = "pypi-mirror-1"
    static let broken = "pypi-mirror-2"

    /// Two shards of three releases each, scanned; then three new releases on the shard to be broken.
    struct Setup {
        let mirror: MirrorFixture
        let scannedTip: ObjectID
        /// The new releases, oldest first, and the blob each added.
        let newCommits: [ObjectID]
        let newBlobs: [ObjectID]
    }

    func setUp() throws -> Setup {
        let mirror = try MirrorFixture()
        for shard in [Self.healthy, Self.broken] {
            try mirror.createShard(shard)
            for index in 0..<3 {
                try mirror.addRelease(
                    shard: shard,
                    files: [
                        "packages/\(shard)p\(index)/\(shard)p\(index)-1.0.tar.gz/a/k.py":
                            "t = '\(mirror.githubToken())'\n"
                    ])
            }
        }
        _ = try mirror.scan()
        let repository = try Repository(at: mirror.shardPath(Self.broken))
        let scannedTip = try #require(try repository.commitID(ofReference: "refs/heads/code"))
        var commits: [ObjectID] = []
        var blobs: [ObjectID] = []
        for index in 3..<6 {
            let body = "t = '\(mirror.githubToken())'\n"
            blobs.append(try repository.writeBlob(Array(body.utf8)))
            commits.append(
                try mirror.addRelease(
                    shard: Self.broken, files: ["packages/late\(index)/late\(index)-1.0.tar.gz/a/k.py": body]))
        }
        // New work on the healthy shard too: it must still be done.
        try mirror.addRelease(
            shard: Self.healthy, files: ["packages/ok/ok-1.0.tar.gz/a/k.py": "t = '\(mirror.githubToken())'\n"])
        return Setup(mirror: mirror, scannedTip: scannedTip, newCommits: commits, newBlobs: blobs)
    }

    static func looseObjectPath(_ id: ObjectID, in repositoryPath: String) -> String {
        let hex = id.hex
        return "\(repositoryPath)/objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    /// Rescans, checks the healthy shard completed and the broken one failed; returns the broken one's result
    /// and its watermark.
    func rescan(_ setup: Setup) throws -> (result: ShardResult, watermark: ObjectID?, outcome: RunShardRecord) {
        let (summary, _) = try setup.mirror.scan()
        #expect(summary.shards.map(\.name) == [Self.healthy, Self.broken])
        #expect(summary.shards.first?.status == .finished)
        #expect(summary.shards.first?.counters.commits == 1)
        #expect(summary.failedShards.map(\.name) == [Self.broken])
        let store = try Store(path: setup.mirror.storePath)
        #expect(try store.findings(FindingQuery(shard: Self.healthy)).count == 4)
        let outcome = try #require(try store.shardOutcomes(runID: summary.runID).first { $0.shard == Self.broken })
        #expect(outcome.status == "failed")
        let result = try #require(summary.shards.last)
        #expect(outcome.message == result.message)
        return (result, try store.shards().first { $0.name == Self.broken }?.watermark, outcome)
    }

    enum Missing: String, CaseIterable, Sendable {
        case blob, tree, commit
    }

    @Test(arguments: Missing.allCases)
    func aMissingObjectFailsTheShardAndKeepsItsWatermark(_ missing: Missing) throws {
        let setup = try setUp()
        let repository = try Repository(at: setup.mirror.shardPath(Self.broken))
        let first = setup.newCommits[0]
        let victim: ObjectID =
            switch missing {
            case .blob: setup.newBlobs[0]
            case .tree: try repository.commit(first).tree
            case .commit: first
            }
        try FileManager.default.removeItem(
            atPath: Self.looseObjectPath(victim, in: setup.mirror.shardPath(Self.broken)))

        let (result, watermark, _) = try rescan(setup)
        #expect(result.message.contains(victim.hex), "\(result.message)")
        #expect(result.message.contains("not found") || result.message.contains("object"), "\(result.message)")
        #expect(watermark == setup.scannedTip)
        #expect(try setup.mirror.findings(FindingQuery(shard: Self.broken)).count == 3)
    }

    /// Damage in the last new commit: the watermark never passes it, and sits where its findings are.
    @Test func theWatermarkNeverPassesTheDamage() throws {
        let setup = try setUp()
        try FileManager.default.removeItem(
            atPath: Self.looseObjectPath(setup.newBlobs[2], in: setup.mirror.shardPath(Self.broken)))
        let (result, watermark, _) = try rescan(setup)
        #expect(result.message.contains(setup.newBlobs[2].hex))
        let allowed = [setup.scannedTip, setup.newCommits[0], setup.newCommits[1]]
        let kept = try #require(
            watermark.flatMap { allowed.firstIndex(of: $0) }, "watermark \(watermark?.hex ?? "none")")
        #expect(try setup.mirror.findings(FindingQuery(shard: Self.broken)).count == 3 + kept)
    }

    /// Damage in the last new commit: every commit before it is complete and kept, whatever order the
    /// workers finish in (ten rounds with four workers, as the order differs from round to round).
    @Test(arguments: 0..<10)
    func everyCommitBeforeTheDamageIsKept(_ round: Int) throws {
        let setup = try setUp()
        try FileManager.default.removeItem(
            atPath: Self.looseObjectPath(setup.newBlobs[2], in: setup.mirror.shardPath(Self.broken)))
        var options = ScanOptions()
        options.workers = 4
        let (summary, _) = try setup.mirror.scan(options: options)
        #expect(summary.failedShards.map(\.name) == [Self.broken])
        let watermark = try Store(path: setup.mirror.storePath).shards().first { $0.name == Self.broken }?.watermark
        #expect(watermark == setup.newCommits[1], "round \(round)")
        #expect(try setup.mirror.findings(FindingQuery(shard: Self.broken)).count == 5)
    }

    @Test func aTruncatedPackFailsTheShard() throws {
        let setup = try setUp()
        let path = setup.mirror.shardPath(Self.broken)
        guard git(["-C", path, "repack", "-a", "-d", "-q"]) == 0 else {
            try Test.cancel("needs the git command line to pack the repository")
        }
        let packs = try FileManager.default.contentsOfDirectory(atPath: path + "/objects/pack").filter {
            $0.hasSuffix(".pack")
        }
        let pack = try #require(packs.first.map { path + "/objects/pack/" + $0 })
        #expect(packs.count == 1)
        let size = try #require((FileManager.default.attributesOfItem(atPath: pack)[.size] as? NSNumber)?.intValue)
        #expect(truncate(pack, off_t(size / 2)) == 0)

        let (result, watermark, outcome) = try rescan(setup)
        #expect(!result.message.isEmpty)
        print("truncated pack: \(result.message)")
        // Not just libgit2's "object not found": what it means for a full clone, and what to do.
        #expect(result.message.contains("truncated or damaged pack") && result.message.contains("re-fetch the shard"))
        #expect(outcome.message == result.message)
        #expect(watermark == setup.scannedTip)
    }

    @Test func aFolderThatIsNotGit() throws {
        let mirror = try MirrorFixture()
        try mirror.createShard(Self.healthy)
        try mirror.addRelease(shard: Self.healthy, files: ["packages/a/a-1.0.tar.gz/a/k.py": "k = 1\n"])
        let plain = mirror.root.appendingPathComponent("plain").path
        try FileManager.default.createDirectory(atPath: plain + "/objects", withIntermediateDirectories: true)
        try "not git".write(toFile: plain + "/README", atomically: true, encoding: .utf8)
        // Named on the command line: a failed shard. Inside a mirror root: not a shard, left out, unless it
        // looks like a repository (HEAD and objects) that does not open.
        let named = ShardLocator.locate([mirror.shardPath(Self.healthy), plain], branch: "code")
        #expect(named.map(\.name) == [Self.healthy, "plain"])
        #expect(named.last?.problem == "not a git repository, and no git repositories directly under it")
        let store = try Store(path: mirror.storePath)
        let summary = try MirrorScan(sink: store, ruleSet: mirror.ruleSet()).run(named) { _ in }
        #expect(summary.shards.map(\.status) == [.finished, .failed])
        #expect(summary.shards.last?.message == named.last?.problem)
        #expect(try store.shards().first { $0.name == "plain" }?.watermark == nil)

        try FileManager.default.moveItem(atPath: plain, toPath: mirror.mirrorPath + "/plain")
        #expect(ShardLocator.locate([mirror.mirrorPath], branch: "code").map(\.name) == [Self.healthy])
        try "ref: refs/heads/code\n".write(toFile: mirror.mirrorPath + "/plain/HEAD", atomically: true, encoding: .utf8)
        let located = ShardLocator.locate([mirror.mirrorPath], branch: "code")
        #expect(located.map(\.name) == ["plain", Self.healthy])
        #expect(located.first?.problem?.contains("plain") == true, "\(located)")
    }

    @Test func anUnreadableShardFolderIsReportedNotSkipped() throws {
        let mirror = try MirrorFixture()
        for shard in [Self.healthy, Self.broken] {
            try mirror.createShard(shard)
            try mirror.addRelease(shard: shard, files: ["packages/a/a-1.0.tar.gz/a/k.py": "k = 1\n"])
        }
        let path = mirror.shardPath(Self.broken)
        #expect(chmod(path, 0) == 0)
        defer { chmod(path, 0o755) }
        if (try? FileManager.default.contentsOfDirectory(atPath: path)) != nil {
            try Test.cancel(
                Comment(
                    rawValue: "this process reads through chmod 000 (root with CAP_DAC_OVERRIDE); "
                        + "ReliabilityTests.brokenShardsFailAloneWithExitTwo runs the scan without those capabilities"))
        }
        let (summary, _) = try mirror.scan()
        #expect(summary.shards.map(\.name) == [Self.healthy, Self.broken])
        #expect(summary.shards.map(\.status) == [.finished, .failed])
        #expect(summary.shards.last?.message.contains("ermission denied") == true)
    }
}

/// Runs the git command line; its exit status, or -1 when git is not installed.
func git(_ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git"] + arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
    } catch {
        return -1
    }
    process.waitUntilExit()
    return process.terminationStatus
}
