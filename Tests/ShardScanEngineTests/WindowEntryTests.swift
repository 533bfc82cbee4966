import Foundation
import Git
import ShardScanCore
import ShardScanStore
import Testing

@testable import ShardScanEngine

/// A dedupe that knows the match counts it is given.
private struct KnownCounts: BlobDedupe {
    let counts: [ObjectID: Int]
    func scannedBlobs(_ oids: [ObjectID], ruleSetID: Int64) throws -> [ObjectID: Int] {
        counts.filter { oids.contains($0.key) }
    }
}

/// A commit keeps, until it is written, only the files the sequencer still needs: on a shard of many versions of
/// the same projects most files are blobs already scanned with nothing found, and their entries grew a window's
/// memory with the shard.
@Suite struct WindowEntryTests {
    static let release1 = "packages/proj/proj-1.0.tar.gz/proj-1.0/"
    static let release2 = "packages/proj/proj-1.1.tar.gz/proj-1.1/"

    /// A shard whose second release repeats the first one's files and adds one.
    static func shard(_ fixture: MirrorFixture) throws -> (commits: [ObjectID], blobs: [String: ObjectID]) {
        try fixture.createShard("s")
        let token = fixture.githubToken()
        let files = [
            "plain.py": "print('hello')\n", "token.py": "TOKEN = '\(token)'\n",
            "PKG-INFO": "Metadata-Version: 2.1\nName: proj\nVersion: 1.0\n",
        ]
        let first = try fixture.addRelease(
            shard: "s", files: Dictionary(uniqueKeysWithValues: files.map { (release1 + $0.key, $0.value) }))
        var second = Dictionary(uniqueKeysWithValues: files.map { (release2 + $0.key, $0.value) })
        second[release2 + "new.py"] = "print('new')\n"
        let secondCommit = try fixture.addRelease(shard: "s", files: second)
        let repository = try Repository(at: fixture.shardPath("s"))
        var blobs: [String: ObjectID] = [:]
        for (name, text) in files.merging(["new.py": "print('new')\n"], uniquingKeysWith: { $1 }) {
            blobs[name] = try repository.writeBlob(Array(text.utf8))
        }
        return ([first, secondCommit], blobs)
    }

    @Test func filesKnownToHoldNothingLeaveOnlyTheirRelease() throws {
        let fixture = try MirrorFixture()
        let (commits, blobs) = try Self.shard(fixture)
        let repository = try Repository(at: fixture.shardPath("s"))
        let known = KnownCounts(counts: [blobs["plain.py"]!: 0, blobs["token.py"]!: 1, blobs["PKG-INFO"]!: 0])
        for keepsEvery in [false, true] {
            var stream = BlobStream(
                repository: repository, commits: [commits[1]], dedupe: known, ruleSetID: 1, blobs: WalkBlobs())
            stream.keepsEveryEntry = keepsEvery
            var window = BlobWindow()
            #expect(stream.read(into: &window, stopReason: { nil }))
            let work = try #require(window.commits.first)
            #expect(work.releases.map(\.filename) == ["proj-1.1.tar.gz"])
            #expect(work.releases.allSatisfy { $0.innerPath.isEmpty })
            let kept = Set(work.entries.map(\.shardPath))
            // The token's blob has a finding to place, PKG-INFO may be its release's metadata, new.py is not
            // scanned yet; plain.py holds nothing, and a hunt (which wants every place) keeps it all the same.
            var expected: Set = [Self.release2 + "token.py", Self.release2 + "PKG-INFO", Self.release2 + "new.py"]
            if keepsEvery { expected.insert(Self.release2 + "plain.py") }
            #expect(kept == expected)
            #expect(window.requests.map(\.blob) == [blobs["new.py"]!])
            #expect(work.counters.blobsSeen == 3)
        }
    }

    /// Written one commit per batch, later releases' repeated files come from the store's dedupe: the token is
    /// placed in both releases that have it, and a third release of a known blob with nothing in it is still
    /// recorded as the project's latest.
    @Test func aScanStillPlacesKnownFindingsAndRecordsEveryRelease() throws {
        let fixture = try MirrorFixture()
        _ = try Self.shard(fixture)
        try fixture.addRelease(
            shard: "s", files: ["packages/proj/proj-1.2.tar.gz/proj-1.2/plain.py": "print('hello')\n"])
        var options = ScanOptions()
        options.batchCommits = 1
        let (summary, warnings) = try fixture.scan(options: options)
        #expect(warnings.isEmpty)
        #expect(summary.failedShards.isEmpty)
        let rows = try fixture.findings()
        #expect(Set(rows.map(\.release)) == ["proj-1.0.tar.gz", "proj-1.1.tar.gz"])
        #expect(rows.allSatisfy { $0.path == "proj-1.0/token.py" || $0.path == "proj-1.1/token.py" })
        #expect(summary.counters.blobsNew == 4)
        let timeline = try #require(
            try Store(path: fixture.storePath).timeline(fingerprint: rows[0].fingerprint, project: "proj"))
        #expect(timeline.versions == ["1.0", "1.1"])
        #expect(timeline.latestVersion == "1.2")
        #expect(!timeline.stillInLatest)
    }
}
