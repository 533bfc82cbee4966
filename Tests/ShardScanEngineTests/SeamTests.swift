import Foundation
import Git
import ShardScanCore
import ShardScanStore
import Synchronization
import Testing

@testable import ShardScanEngine

/// A sink that keeps everything in memory, as the engine hands it over: no SQLite.
final class MemorySink: ScanSink {
    struct Place: Hashable {
        var fingerprint: String
        var shard: String
        var commit: String
        var blob: String
        var shardPath: String
        var line: Int
    }

    var ruleSets: [String: Int64] = [:]
    var runs: [Int64: RunStatus] = [:]
    var shardIDs: [String: Int64] = [:]
    var watermarks: [Int64: ObjectID] = [:]
    /// Blobs by rule set.
    var blobs: [Int64: [ObjectID: ScannedBlob]] = [:]
    var locations: [(shardID: Int64, location: BlobLocation)] = []
    var outcomes: [ShardOutcome] = []
    /// Every batch's watermark, in the order written.
    var batchWatermarks: [ObjectID] = []
    /// Called as each batch is written, in the middle of a walk.
    var onWrite: (() -> Void)?

    func ruleSetID(digest: String) throws -> Int64 {
        if let id = ruleSets[digest] { return id }
        ruleSets[digest] = Int64(ruleSets.count + 1)
        return ruleSets[digest]!
    }

    func startRun(ruleSetID: Int64, ruleCount: Int) throws -> Int64 {
        let id = Int64(runs.count + 1)
        runs[id] = .running
        return id
    }

    func recordRules(_ rules: [Rule], runID: Int64) throws {}

    func finishRun(_ runID: Int64, status: RunStatus) throws { runs[runID] = status }

    func knownShards() throws -> [KnownShard] {
        shardIDs.map { KnownShard(id: $1, name: $0, path: "", gitDirectory: nil, watermark: watermarks[$1]) }
    }

    func shardID(name: String, path: String, reference: String, gitDirectory: String?) throws -> Int64 {
        if let id = shardIDs[name] { return id }
        shardIDs[name] = Int64(shardIDs.count + 1)
        return shardIDs[name]!
    }

    func watermark(shardID: Int64) throws -> ObjectID? { watermarks[shardID] }

    func scannedBlobs(_ oids: [ObjectID], ruleSetID: Int64) throws -> [ObjectID: Int] {
        var found: [ObjectID: Int] = [:]
        for oid in oids {
            if let blob = blobs[ruleSetID]?[oid], blob.skipped != .tooLarge { found[oid] = blob.findings.count }
        }
        return found
    }

    func write(_ batch: Batch, ruleSetID: Int64) throws -> RunCounters {
        onWrite?()
        for blob in batch.blobs { blobs[ruleSetID, default: [:]][blob.oid] = blob }
        locations += batch.locations.map { (batch.shardID, $0) }
        if let watermark = batch.watermark {
            watermarks[batch.shardID] = watermark
            batchWatermarks.append(watermark)
        }
        return batch.counters
    }

    func recordShardOutcome(_ outcome: ShardOutcome) throws { outcomes.append(outcome) }

    /// Every place of every finding, as the store's `findings` lists them.
    func places() -> Set<Place> {
        let names = Dictionary(uniqueKeysWithValues: shardIDs.map { ($1, $0) })
        var places: Set<Place> = []
        for (shardID, location) in locations {
            for ruleSet in blobs.values {
                for finding in ruleSet[location.oid]?.findings ?? [] {
                    places.insert(
                        Place(
                            fingerprint: Finding.fingerprint(ruleID: finding.ruleID, secret: finding.secret),
                            shard: names[shardID]!, commit: location.commit.hex, blob: location.oid.hex,
                            shardPath: location.shardPath, line: finding.line))
                }
            }
        }
        return places
    }
}

/// Reads in reverse walk order, counting windows and reads: a read-order hook and a reader plugged in.
struct ReversingAccess: BlobAccess {
    final class Counts: Sendable {
        let windows = Atomic(0)
        let largestWindow = Atomic(0)
        let reads = Atomic(0)
    }

    struct Reversed: BlobReadOrder {
        let counts: Counts
        func arrange(_ window: inout [BlobRequest]) {
            counts.windows.add(1, ordering: .relaxed)
            counts.largestWindow.max(window.count, ordering: .relaxed)
            window.reverse()
        }
    }

    struct CountingReader: BlobReader {
        let base: any BlobReader
        let counts: Counts
        func size(of blob: ObjectID) throws -> Int { try base.size(of: blob) }
        func withBytes<Result>(of blob: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> Result) throws
            -> Result
        {
            counts.reads.add(1, ordering: .relaxed)
            // Slower than the walk, so that windows fill (a window closes early when the workers run dry).
            usleep(2000)
            return try base.withBytes(of: blob, body)
        }
    }

    let counts = Counts()

    func makeReadOrder(repositoryPath: String) throws -> any BlobReadOrder { Reversed(counts: counts) }

    func makeReader(repositoryPath: String) throws -> any BlobReader {
        CountingReader(base: try LibGit2BlobAccess().makeReader(repositoryPath: repositoryPath), counts: counts)
    }
}

/// The seams of the engine: its sink, its read order and readers, and the sequencer that orders results.
@Suite struct SeamTests {
    static func storePlaces(_ mirror: MirrorFixture) throws -> Set<MemorySink.Place> {
        Set(
            try mirror.findings().map {
                MemorySink.Place(
                    fingerprint: $0.fingerprint, shard: $0.shard, commit: $0.commit.hex, blob: $0.blob,
                    shardPath: $0.shardPath, line: $0.line)
            })
    }

    static func storeWatermarks(_ mirror: MirrorFixture) throws -> [String: String] {
        Dictionary(
            uniqueKeysWithValues: try Store(path: mirror.storePath).shards().map { ($0.name, $0.watermark?.hex ?? "") })
    }

    @Test func anInMemorySinkGetsWhatTheStoreGets() throws {
        let mirror = try PipelineTests.buildMirror()
        let (stored, _) = try mirror.scan()
        let expected = try Self.storePlaces(mirror)
        #expect(expected.count > 20)

        let sink = MemorySink()
        let sources = ShardLocator.locate([mirror.mirrorPath], branch: "code")
        let summary = try MirrorScan(sink: sink, ruleSet: mirror.ruleSet()).run(sources) { _ in }
        #expect(summary.failedShards.isEmpty)
        #expect(sink.places() == expected)
        let watermarks = Dictionary(
            uniqueKeysWithValues: sink.shardIDs.map { ($0, sink.watermarks[$1]?.hex ?? "") })
        #expect(watermarks == (try Self.storeWatermarks(mirror)))
        #expect(summary.counters.blobsNew == stored.counters.blobsNew)
        #expect(summary.counters.blobsSeen == stored.counters.blobsSeen)
        #expect(sink.runs[summary.runID] == .finished)
        #expect(sink.outcomes.map(\.status) == [.finished, .finished])

        // The sink's dedupe answers the next run: nothing is read again, every shard is up to date.
        let again = try MirrorScan(sink: sink, ruleSet: mirror.ruleSet()).run(sources) { _ in }
        #expect(again.counters.blobsNew == 0)
        #expect(again.shards.map(\.status) == [.upToDate, .upToDate])
    }

    @Test(arguments: [1024, 7])
    func aReversingReadOrderGivesTheSameStore(windowBlobs: Int) throws {
        let reference = try PipelineTests.buildMirror()
        let (referenceSummary, _) = try reference.scan()

        let mirror = try PipelineTests.buildMirror()
        var options = ScanOptions()
        options.windowBlobs = windowBlobs
        options.workers = 2
        options.batchCommits = 3
        let access = ReversingAccess()
        options.blobAccess = access
        let (summary, warnings) = try mirror.scan(options: options)
        #expect(warnings.isEmpty)
        #expect(summary.failedShards.isEmpty)
        #expect(access.counts.windows.load(ordering: .relaxed) >= 2)
        #expect(access.counts.largestWindow.load(ordering: .relaxed) > 1)
        // A window closes at `windowBlobs`, keeping whole the commit that reaches it (at most 6 new blobs here).
        #expect(access.counts.largestWindow.load(ordering: .relaxed) < windowBlobs + 6)
        // Every new blob went through the plugged-in reader (metadata is read by the walk's own reader).
        #expect(access.counts.reads.load(ordering: .relaxed) >= summary.counters.blobsNew)
        // Fixture paths are not releases' metadata files, so the reads are the workers' alone.
        #expect(try Self.storePlaces(mirror) == (try Self.storePlaces(reference)))
        #expect(try Self.storeWatermarks(mirror) == (try Self.storeWatermarks(reference)))
        #expect(summary.counters == referenceSummary.counters)
    }

    /// A sequencer over `commits` commits, commit `i` needing `blobsPerCommit[i]` new blobs, writing each
    /// commit as its own batch into `written`.
    static func sequencer(
        blobsPerCommit: [Int], unreadable: Set<Int> = [], written: @escaping (Batch) -> Void
    ) -> (CommitSequencer, [BlobResult]) {
        let blobs = WalkBlobs()
        var sequencer = CommitSequencer(
            runID: 1, shardID: 1, name: "s", batchCommits: 1, batchBytes: .max, blobs: blobs,
            output: CommitSequencer.Output(
                write: { batch in
                    written(batch)
                    return batch.counters
                },
                scannedBlobs: { _ in [:] },
                metadata: { _, _ in .failure(ShardProblem("no metadata here")) },
                report: { _ in }))
        var results: [BlobResult] = []
        var serial: UInt8 = 0
        for (index, count) in blobsPerCommit.enumerated() {
            var work = CommitWork(commit: Self.id(200 + index))
            for _ in 0..<count {
                serial += 1
                let oid = Self.id(Int(serial))
                blobs.inFlight.insert(oid)
                work.outstanding += 1
                work.entries.append(
                    CommitWork.Entry(
                        oid: oid, release: ReleasePath.parse("packages/p/p-1.tar.gz/x\(serial)"),
                        shardPath: "packages/p/p-1.tar.gz/x\(serial)", shardPathBytes: nil, matchCount: nil))
                var result = BlobResult(commitIndex: index)
                if unreadable.contains(index) {
                    result.error = "cannot read"
                } else {
                    result.scanned = ScannedBlob(oid: oid, size: 1, skipped: nil, findings: [])
                }
                results.append(result)
            }
            sequencer.append(work)
        }
        return (sequencer, results)
    }

    static func id(_ value: Int) -> ObjectID { ObjectID(bytes: [UInt8](repeating: UInt8(value % 256), count: 20))! }

    @Test func theSequencerNeverWritesPastAnUnscannedCommit() throws {
        let blobsPerCommit = [2, 0, 1, 3, 0, 0, 1, 2]
        var generator = TokenMint(seed: 13)
        for round in 0..<50 {
            var written: [ObjectID] = []
            var (sequencer, results) = Self.sequencer(blobsPerCommit: blobsPerCommit) { written.append($0.watermark!) }
            try sequencer.completeReadyCommits()
            // Results arrive in any order (reversed in round 0); after each, what is written is a prefix of
            // the walk, and every commit in it has all its results in.
            var order = Array(results.indices.reversed())
            if round > 0 { order.shuffle(using: &generator) }
            var arrived = [Int](repeating: 0, count: blobsPerCommit.count)
            for index in order {
                try sequencer.complete(results[index])
                arrived[results[index].commitIndex] += 1
                let complete = zip(arrived, blobsPerCommit).prefix { $0 == $1 }.count
                #expect(written == (0..<complete).map { Self.id(200 + $0) }, "round \(round)")
            }
            try sequencer.flush()
            #expect(written.count == blobsPerCommit.count)
        }
    }

    @Test func anUnreadableBlobHoldsTheWatermarkBeforeItsCommit() throws {
        var written: [ObjectID] = []
        var (sequencer, results) = Self.sequencer(blobsPerCommit: [1, 1, 1, 1], unreadable: [2]) {
            written.append($0.watermark!)
        }
        for result in results.reversed() { try sequencer.complete(result) }
        try sequencer.flush()
        #expect(written == [Self.id(200), Self.id(201)])
        #expect(sequencer.unreadableBlob != nil)
        #expect(sequencer.watermark == Self.id(201))
    }
}

extension TokenMint: RandomNumberGenerator {}
