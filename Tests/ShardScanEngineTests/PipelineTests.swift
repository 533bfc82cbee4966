import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

/// The parallel pipeline must find exactly what one worker finds, in any interleaving, and stop cleanly.
@Suite struct PipelineTests {
    /// Two shards of 40 releases each: every release repeats blobs of earlier ones (in the same commit and
    /// across commits and shards) and adds new ones, some with secrets.
    static func buildMirror() throws -> MirrorFixture {
        let mirror = try MirrorFixture()
        let shared = "LICENSE text shared by every release\n"
        let tokens = (0..<12).map { _ in mirror.githubToken() }
        for shard in ["pypi-mirror-1", "pypi-mirror-2"] {
            try mirror.createShard(shard)
            for release in 0..<40 {
                let root = "packages/proj\(release % 7)/proj\(release % 7)-\(release).tar.gz/proj-\(release)"
                var files: [String: String] = [
                    "\(root)/LICENSE": shared,
                    "\(root)/COPYING": shared,
                    "\(root)/src/module_\(release).py": "VALUE = \(release)\n",
                    "\(root)/src/common.py": "# common to a few releases\nX = \(release / 5)\n",
                ]
                if release % 3 == 0 {
                    files["\(root)/src/settings.py"] = "TOKEN = '\(tokens[release % tokens.count])'\n"
                }
                if release % 4 == 0 {
                    files["\(root)/src/db.py"] = "password = \"\(mirror.password())\"\n"
                }
                try mirror.addRelease(shard: shard, files: files)
            }
        }
        return mirror
    }

    struct Place: Hashable {
        var fingerprint: String
        var shard: String
        var shardPath: String
        var line: Int
    }

    static func places(_ mirror: MirrorFixture) throws -> Set<Place> {
        Set(
            try mirror.findings().map {
                Place(fingerprint: $0.fingerprint, shard: $0.shard, shardPath: $0.shardPath, line: $0.line)
            })
    }

    @Test(arguments: [(1, 64, 500), (4, 1, 3), (2, 2, 1)])
    func everyWorkerCountFindsTheSame(workers: Int, queued: Int, batchCommits: Int) throws {
        let reference = try Self.buildMirror()
        var sequential = ScanOptions()
        sequential.workers = 1
        let (referenceSummary, _) = try reference.scan(options: sequential)
        let expected = try Self.places(reference)
        #expect(expected.count > 20)

        let mirror = try Self.buildMirror()
        var options = ScanOptions()
        options.workers = workers
        options.queuedBlobsPerWorker = queued
        options.batchCommits = batchCommits
        let (summary, warnings) = try mirror.scan(options: options)
        #expect(warnings.isEmpty)
        #expect(summary.failedShards.isEmpty)
        #expect(try Self.places(mirror) == expected)
        #expect(summary.counters.blobsNew == referenceSummary.counters.blobsNew)
        #expect(summary.counters.blobsSeen == referenceSummary.counters.blobsSeen)
        #expect(summary.counters.findingsNew == referenceSummary.counters.findingsNew)
        // Each distinct blob is read once, ever: a second scan of the same mirror reads nothing.
        let store = try Store(path: mirror.storePath)
        for shard in try store.shards() {
            let tip = try Repository(at: mirror.shardPath(shard.name)).commitID(ofReference: "refs/heads/code")
            #expect(shard.watermark == tip)
        }
    }

    @Test func aStopRequestWritesFinishedCommitsAndTheNextScanResumes() throws {
        let reference = try Self.buildMirror()
        _ = try reference.scan()
        let expected = try Self.places(reference)

        let mirror = try Self.buildMirror()
        let stop = StopRequest()
        var options = ScanOptions()
        options.batchCommits = 4
        options.workers = 2
        // The walk runs a read window ahead of the workers, and a stop ends the walk: with small windows the
        // stop lands mid-shard, as it does on a real shard with the default window.
        options.windowBlobs = 4
        options.queuedBlobsPerWorker = 1
        options.stopRequest = stop
        let store = try Store(path: mirror.storePath)
        var progressEvents = 0
        let summary = try MirrorScan(sink: store, ruleSet: mirror.ruleSet(), options: options).run(
            ShardLocator.locate([mirror.mirrorPath], branch: "code")
        ) { event in
            if case .progress = event {
                progressEvents += 1
                if progressEvents == 3 { stop.stop(reason: "SIGTERM received", exitStatus: 143) }
            }
        }
        #expect(summary.stopped == "SIGTERM received")
        #expect(summary.shards.map(\.status) == [.stopped])
        #expect(summary.counters.commits >= 8 && summary.counters.commits < 40)
        #expect(try store.runs().first?.status == "stopped")
        #expect(try store.shards().first?.watermark != nil)
        // Every finding written so far is one of the full scan's, and the rerun completes the set.
        #expect(try Self.places(mirror).isSubset(of: expected))
        let (rerun, _) = try mirror.scan()
        #expect(rerun.stopped == nil)
        #expect(rerun.counters.commits == 80 - summary.counters.commits)
        #expect(try Self.places(mirror) == expected)
    }
}
