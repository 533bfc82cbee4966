import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

/// Reading blobs from the packs ourselves (``PackReader``, in pack order) must give what libgit2 gives: the
/// same bytes for every blob, and the same findings, byte for byte.
@Suite struct PackReadTests {
    /// Two shards whose releases carry versions of the same files (so packs hold delta chains), secrets in
    /// some, in two packs each plus loose objects.
    static func buildPackedMirror() throws -> MirrorFixture {
        let mirror = try MirrorFixture()
        let tokens = (0..<6).map { _ in mirror.githubToken() }
        for shard in ["pypi-mirror-1", "pypi-mirror-2"] {
            try mirror.createShard(shard)
            var lines = (0..<300).map { "    value_\($0) = compute(\($0), 'x' * \($0 % 11))" }
            for release in 0..<36 {
                let root = "packages/proj\(release % 5)/proj\(release % 5)-\(release).tar.gz/proj-\(release)"
                lines[(release * 17) % lines.count] = "    # changed in release \(release)"
                lines.insert("    added_\(release) = \(release)", at: (release * 7) % lines.count)
                var module = "def main():\n" + lines.joined(separator: "\n") + "\n"
                if release % 4 == 1 { module += "TOKEN = '\(tokens[release % tokens.count])'\n" }
                var files = [
                    "\(root)/src/module.py": module,
                    "\(root)/LICENSE": "shared license text\n",
                    "\(root)/src/version_\(release).py": "VERSION = \(release)\n",
                ]
                if release % 6 == 0 { files["\(root)/src/db.py"] = "password = \"\(mirror.password())\"\n" }
                try mirror.addRelease(shard: shard, files: files)
                let path = mirror.shardPath(shard)
                if release == 20 {
                    try runGit(["repack", "-adq", "--depth=30"], in: path)
                } else if release == 30 {
                    try runGit(["repack", "-dq"], in: path)
                }
            }
        }
        return mirror
    }

    static func runGit(_ arguments: [String], in folder: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", folder] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "git \(arguments)")
    }

    static func json(_ rows: [FindingRow]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(rows)
    }

    @Test func everyBlobReadsTheSameAsThroughLibgit2() throws {
        let mirror = try Self.buildPackedMirror()
        for shard in ["pypi-mirror-1", "pypi-mirror-2"] {
            let repository = try Repository(at: mirror.shardPath(shard))
            let packs = try PackSet(repository: repository)
            #expect(packs.indexes.count == 2)
            let reader = try PackReader(packs: packs, repositoryPath: mirror.shardPath(shard), cacheBytes: 64 << 10)
            let tip = try repository.commitID(ofReference: "refs/heads/code")
            let commits = try repository.commits(from: try #require(tip))
            var blobs: Set<ObjectID> = []
            var parentTree: ObjectID?
            for id in commits {
                let commit = try repository.commit(id)
                for change in try repository.changes(from: parentTree, to: commit.tree) { blobs.insert(change.blob) }
                parentTree = commit.tree
            }
            var loose = 0
            for blob in packs.packOrder(Array(blobs), id: { $0 }) {
                if packs.location(of: blob) == nil { loose += 1 }
                let expected = try repository.withObjectBytes(blob) { Array($0) }
                #expect(try reader.withObjectBytes(blob) { Array($0) } == expected)
                #expect(try reader.objectSize(blob) == expected.count)
                // The weight the workers' shares are cut by: versions of one file are about the same size.
                if let location = packs.location(of: blob) {
                    let estimate = packs.estimatedSize(at: location)
                    #expect(estimate * 2 >= expected.count && estimate <= max(1, expected.count) * 2, "\(blob)")
                }
            }
            #expect(loose > 0 && loose < blobs.count)
            #expect(reader.statistics.inflatedDeltas > 0)
        }
    }

    /// The libgit2 path and the pack path, with windows and caches small and large, store the same findings.
    @Test(arguments: [(2, 1024, 48 << 20), (2, 8, 16 << 10), (1, 3, 0)])
    func findingsAreTheSameByteForByte(workers: Int, window: Int, cacheBytes: Int) throws {
        let mirror = try Self.buildPackedMirror()
        var old = ScanOptions()
        old.blobAccess = LibGit2BlobAccess()
        old.workers = workers
        let oldStore = mirror.root.appendingPathComponent("libgit2.sqlite").path
        let (oldSummary, oldWarnings) = try mirror.scan(options: old, store: oldStore)
        #expect(oldWarnings.isEmpty)

        var new = ScanOptions()
        new.workers = workers
        new.windowBlobs = window
        new.queuedBlobsPerWorker = 1
        new.blobAccess = PackBlobAccess(deltaCacheBytes: cacheBytes)
        let newStore = mirror.root.appendingPathComponent("packs.sqlite").path
        let (newSummary, newWarnings) = try mirror.scan(options: new, store: newStore)
        #expect(newWarnings.isEmpty)
        #expect(newSummary.failedShards.isEmpty)

        let expected = try mirror.findings(store: oldStore)
        #expect(expected.count > 10)
        #expect(try Self.json(mirror.findings(store: newStore)) == Self.json(expected))
        #expect(newSummary.counters.blobsNew == oldSummary.counters.blobsNew)
        #expect(newSummary.counters.bytesScanned == oldSummary.counters.bytesScanned)
        #expect(newSummary.counters.findingsNew == oldSummary.counters.findingsNew)
        for shard in try Store(path: newStore).shards() {
            let tip = try Repository(at: mirror.shardPath(shard.name)).commitID(ofReference: "refs/heads/code")
            #expect(shard.watermark == tip)
        }
    }

    /// Every reader of a walk shares one mapping of each pack index, and libgit2, which listed the commits, keeps
    /// none: each mapping ends up resident whole, and on a shard of a million objects an index is 28 MB.
    @Test func aWalkMapsEachPackIndexOnce() throws {
        #if !os(Linux)
            try Test.cancel("counts mappings in /proc/self/maps (Linux only)")
        #endif
        let mirror = try Self.buildPackedMirror()
        let indexes = try FileManager.default.subpathsOfDirectory(atPath: mirror.mirrorPath)
            .filter { $0.hasSuffix(".idx") }
            // As the kernel spells it in the maps: other tests' mirrors may hold packs of the same name.
            .compactMap { path in realpath(mirror.mirrorPath + "/" + path, nil).map { String(cString: $0) } }
        #expect(indexes.count == 4)
        func mappings() throws -> [Int] {
            // Read to the end: procfs files report a size of 0.
            guard let file = FileHandle(forReadingAtPath: "/proc/self/maps") else { throw CocoaError(.fileReadUnknown) }
            defer { try? file.close() }
            let maps = String(decoding: file.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
            return indexes.map { index in maps.filter { $0.hasSuffix(" " + index) }.count }
        }
        let sink = MemorySink()
        var seen: [[Int]] = []
        sink.onWrite = { seen.append((try? mappings()) ?? []) }
        var options = ScanOptions()
        options.batchCommits = 5
        let summary = try MirrorScan(sink: sink, ruleSet: mirror.ruleSet(), options: options).run(
            ShardLocator.locate([mirror.mirrorPath], branch: "code")
        ) { _ in }
        #expect(summary.failedShards.isEmpty)
        #expect(seen.count >= 10)
        // One shard's two indexes mapped once each while it is walked, the other's not at all.
        for counts in seen { #expect(counts.sorted() == [0, 0, 1, 1], "\(counts)") }
    }

    /// A pack whose bytes do not hash to the blob's id fails the shard with a message naming the blob; the
    /// other shard is scanned.
    @Test func aCorruptPackEntryFailsTheShardNamingTheBlob() throws {
        let mirror = try Self.buildPackedMirror()
        let shard = mirror.shardPath("pypi-mirror-1")
        let packFolder = shard + "/objects/pack"
        let idx = try #require(
            try FileManager.default.contentsOfDirectory(atPath: packFolder).filter { $0.hasSuffix(".idx") }.sorted()
                .first)
        let path = packFolder + "/" + idx
        let index = try PackIndex(path: path)
        let repository = try Repository(at: shard)
        // Two blobs of the pack: the first is made to point at the second's bytes.
        let blobs = (0..<index.count).filter { (try? repository.objectType(index.id(at: $0))) == 3 }
        let (victim, other) = (blobs[0], blobs[1])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let offsets = 8 + 256 * 4 + index.count * 24
        for byte in 0..<4 { bytes.swapAt(offsets + victim * 4 + byte, offsets + other * 4 + byte) }
        try FileManager.default.removeItem(atPath: path)
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let (summary, _) = try mirror.scan()
        let failed = try #require(summary.failedShards.first)
        #expect(summary.failedShards.count == 1)
        #expect(failed.name == "pypi-mirror-1")
        let named = [index.id(at: victim).hex, index.id(at: other).hex].filter { failed.message.contains($0) }
        #expect(!named.isEmpty, "\(failed.message)")
        #expect(failed.message.contains("hashes to"), "\(failed.message)")
    }
}
