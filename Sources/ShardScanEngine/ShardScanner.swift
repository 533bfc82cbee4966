import Foundation
import Git
import ShardScanCore

/// Settings of a scan.
public struct ScanOptions: Sendable {
    /// Blobs larger than this are skipped and counted, not read.
    public var maxBlobSize = 50_000_000
    /// Write a batch after this many commits...
    public var batchCommits = 500
    /// ...or after this many bytes scanned, whichever comes first.
    public var batchBytes = 64 << 20
    /// Threads that read and scan blobs, each with its own repository handle and matcher.
    public var workers = min(ScanOptions.maxWorkers, ProcessInfo.processInfo.activeProcessorCount)
    /// The most workers a scan takes: past this, threads only add memory and contention.
    public static let maxWorkers = 256
    /// Blobs waiting for a worker, at most; what bounds memory, whatever the shard's size. Deep enough to keep the
    /// workers busy while the walking thread writes a batch (with 64, a full scan of the default bench shard took
    /// about 2% longer, A/B).
    public var queuedBlobsPerWorker = 256
    /// The walk hands blobs to the workers in windows of up to this many new blobs (the commit that reaches it
    /// is kept whole, so a window may hold a few more)...
    public var windowBlobs = 1024
    /// ...read from this many commits at most: a window is put in read order as a whole (see ``BlobReadOrder``).
    /// A window closes early when the workers run out of work, so they never wait for it to fill. It holds
    /// requests, not bytes; the bytes in memory are bounded by the workers' queue.
    public var windowCommits = 256
    /// What reads the blobs, and in which order within a window.
    public var blobAccess: any BlobAccess = PackBlobAccess()
    /// Raised (by a signal handler) to stop after the work in flight is written.
    public var stopRequest: StopRequest?
    /// Shards other workers of a fleet scan (`scan --worker`): not this run's to call missing.
    public var shardsElsewhere: Set<String> = []
    /// After the scan, re-read old blobs for the rules they have not seen (see ``Backfill``).
    public var backfill = true
    /// How much backfill one run does; the rest continues next run.
    public var backfillBudget = BackfillBudget.unlimited

    public init() {}
}

/// What the scanner tells the user while it works.
public enum ScanEvent: Sendable {
    case shardStarted(name: String, commits: Int)
    case progress(name: String, commitsDone: Int, commitsTotal: Int, counters: RunCounters)
    case warning(String)
    case shardFinished(ShardResult)
    /// A shard's backfill starts: `commits` of its history to walk.
    case backfillStarted(name: String, commits: Int)
    case backfillProgress(name: String, commitsDone: Int, commitsTotal: Int, counters: RunCounters)
    /// A shard's backfill ended: `message` says how.
    case backfillFinished(name: String, message: String)
}

/// How one shard ended.
public struct ShardResult: Sendable {
    public enum Status: String, Sendable {
        case finished
        case upToDate = "up-to-date"
        case failed
        /// Stopped on request; the watermark is at the last commit written.
        case stopped
    }

    public var name: String
    public var status: Status
    public var message: String
    public var counters: RunCounters
    /// The failure is the machine's, not the shard's (workers could not start): the next shards would
    /// fail the same way, so the run ends.
    public var endsRun = false
}

/// Scans shards from their watermarks: this thread walks the commits and diffs their trees (``BlobStream``),
/// workers read and scan the new blobs (``WorkerPool``), and this thread puts the results back in commit order
/// (``CommitSequencer``) and writes them to the sink in batches.
///
/// Each blob is read at most once per rule set, across all shards and runs: blobs the sink already knows
/// only get their new location recorded (when they have findings). A batch holds only commits whose every
/// blob is scanned, so the watermark never gets ahead of the findings.
public final class ShardScanner {
    let sink: any ScanSink
    let ruleSet: RuleSet
    let ruleSetID: Int64
    let runID: Int64
    let options: ScanOptions
    let report: (ScanEvent) -> Void

    /// The bytes git's own binary check looks at.
    static let binaryProbeLength = 8192

    /// Whether `bytes` are skipped as binary, as git tells: a NUL in the first ``binaryProbeLength`` bytes. UTF-16
    /// and UTF-32 text is full of NULs; its byte-order mark tells it from binary. Asked of every blob, so the
    /// NUL is looked for with memchr, not a byte-at-a-time loop.
    static func isBinary(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let probeLength = min(bytes.count, binaryProbeLength)
        guard probeLength > 0, memchr(bytes.baseAddress!, 0, probeLength) != nil else { return false }
        return UnicodeForm.detect(bytes) == nil
    }

    public init(
        sink: any ScanSink, ruleSet: RuleSet, ruleSetID: Int64, runID: Int64, options: ScanOptions,
        report: @escaping (ScanEvent) -> Void
    ) {
        self.sink = sink
        self.ruleSet = ruleSet
        self.ruleSetID = ruleSetID
        self.runID = runID
        self.options = options
        self.report = report
    }

    /// Scans `source` from its watermark to its tip. Never throws: a failure is the result's status,
    /// with the watermark left at the last commit fully written.
    public func scan(_ source: ShardSource) -> ShardResult {
        var result = ShardResult(name: source.name, status: .failed, message: "", counters: RunCounters())
        let shardID: Int64
        do {
            shardID = try sink.shardID(
                name: source.name, path: source.repositoryPath, reference: source.reference ?? "", gitDirectory: nil)
        } catch {
            result.message = "store: \(error)"
            report(.shardFinished(result))
            return result
        }
        var outcome = ShardOutcome(runID: runID, shardID: shardID, status: .running)
        do {
            if let problem = source.problem { throw ShardProblem(problem) }
            let repository = try Repository(at: source.repositoryPath)
            guard let reference = source.reference, let tip = try repository.commitID(ofReference: reference) else {
                throw ShardProblem("reference \(source.reference ?? "?") not found")
            }
            outcome.toCommit = tip
            var hidden: [ObjectID] = []
            if let watermark = try sink.watermark(shardID: shardID) {
                outcome.fromCommit = watermark
                if watermark == tip {
                    result.status = .upToDate
                } else if repository.contains(watermark), try repository.isAncestor(watermark, of: tip) {
                    hidden = [watermark]
                } else {
                    let warning =
                        "\(source.name): watermark \(watermark.hex.prefix(12)) is not an ancestor of \(reference) (history rewritten?); scanning the whole shard, already-scanned blobs are skipped"
                    report(.warning(warning))
                    outcome.message = warning
                }
            }
            if result.status != .upToDate {
                var walk = ShardWalk(
                    scanner: self, shardID: shardID, name: source.name, path: source.repositoryPath,
                    dedupe: sink, write: { [sink, ruleSetID] in try sink.write($0, ruleSetID: ruleSetID) },
                    storedCounts: { [sink, ruleSetID] in try sink.scannedBlobs($0, ruleSetID: ruleSetID) })
                defer { result.counters = walk.counters }
                try walk.run(repository, from: tip, hiding: hidden)
                result.status = .finished
                if let backfillSink = sink as? any BackfillSink {
                    // Rules failed on some blobs (they count as not applied there): the next run's backfill runs
                    // them there once more. A backfill under way (or a retry) reaches these blobs by itself.
                    if walk.counters.ruleFailures > 0,
                        try outcome.fromCommit == nil || backfillSink.backfillPosition(shardID: shardID)?.done ?? true
                    {
                        try backfillSink.retryBackfill(
                            shardID: shardID, ruleSetID: ruleSetID, maxBlobSize: options.maxBlobSize, runID: runID)
                    } else if outcome.fromCommit == nil {
                        // Scanned from its root with every rule (blobs known under other rules were read again):
                        // nothing to backfill in this shard for these rules.
                        try backfillSink.finishBackfill(
                            shardID: shardID, ruleSetID: ruleSetID, maxBlobSize: options.maxBlobSize, commit: tip,
                            runID: runID)
                    }
                }
            }
        } catch let stopped as ScanStopped {
            result.status = .stopped
            result.message = stopped.description
        } catch let unavailable as WorkersUnavailable {
            result.status = .failed
            result.message = unavailable.description
            result.endsRun = true
        } catch {
            result.status = .failed
            result.message = GitProblem.describe(error)
        }
        outcome.status = ShardOutcome.Status(rawValue: result.status.rawValue) ?? .failed
        if result.status != .finished || outcome.message.isEmpty { outcome.message = result.message }
        do {
            try sink.recordShardOutcome(outcome)
        } catch {
            result.status = .failed
            result.message += " (and the outcome could not be stored: \(error))"
        }
        report(.shardFinished(result))
        return result
    }
}

/// One walk of one shard: the stream's windows go, in read order, to the workers; their results go through
/// the sequencer to the sink.
/// A backfill walks the same way, with its own dedupe (which also says which rules each blob lacks), writer and
/// stop condition (its budget).
struct ShardWalk {
    let scanner: ShardScanner
    let shardID: Int64
    let name: String
    let path: String
    /// What the stream asks which blobs need no read.
    let dedupe: any BlobDedupe
    /// Where batches go.
    let write: (Batch) throws -> RunCounters
    /// Match counts of blobs written, for commits whose blobs were scanned in an earlier batch.
    let storedCounts: ([ObjectID]) throws -> [ObjectID: Int]
    /// The rules each new request is to run, when not all (a backfill).
    var rulesFor: ((ObjectID) -> (rules: [Int], holdsMatches: Bool)?)?
    /// Asked between commits besides the stop request: a backfill's budget.
    var budgetReached: () -> String? = { nil }
    var counters = RunCounters()

    init(
        scanner: ShardScanner, shardID: Int64, name: String, path: String, dedupe: any BlobDedupe,
        write: @escaping (Batch) throws -> RunCounters, storedCounts: @escaping ([ObjectID]) throws -> [ObjectID: Int]
    ) {
        self.scanner = scanner
        self.shardID = shardID
        self.name = name
        self.path = path
        self.dedupe = dedupe
        self.write = write
        self.storedCounts = storedCounts
    }

    mutating func run(_ repository: Repository, from tip: ObjectID, hiding hidden: [ObjectID]) throws {
        let commits = try repository.commits(from: tip, hiding: hidden)
        // The walk reads through pack readers of its own from here on.
        try repository.closeObjectDatabase()
        scanner.report(.shardStarted(name: name, commits: commits.count))
        let options = scanner.options
        let access = options.blobAccess
        let readOrder = try access.makeReadOrder(repositoryPath: path)
        let ruleSetID = scanner.ruleSetID
        let blobs = WalkBlobs()
        var stream = BlobStream(
            repository: repository, commits: commits, dedupe: dedupe, ruleSetID: ruleSetID, blobs: blobs)
        stream.rulesFor = rulesFor
        // The metadata of releases with findings, a small file each, is read on this thread by the stream's reader
        // of commits and trees. A reader of its own kept a delta cache of up to 12 MB for them, which grew the
        // walking thread's heap by 3 MB over a scan of the large bench shard.
        let reader: any BlobReader =
            stream.objects.map { PackBlobReader(reader: $0) } ?? LibGit2BlobReader(repository: repository)
        let report = scanner.report
        var sequencer = CommitSequencer(
            runID: scanner.runID, shardID: shardID, name: name, batchCommits: options.batchCommits,
            batchBytes: options.batchBytes, blobs: blobs,
            output: CommitSequencer.Output(
                write: write,
                scannedBlobs: storedCounts,
                metadata: { blob, path in
                    Result {
                        try reader.withBytes(of: blob) { bytes in
                            CoreMetadata.parse(bytes.prefix(CoreMetadata.maxBytes), source: path)
                        }
                    }
                },
                report: report))
        defer { counters = sequencer.counters }
        let pool = try WorkerPool(
            count: options.workers, queuedPerWorker: options.queuedBlobsPerWorker, repositoryPath: path,
            access: access, ruleSet: scanner.ruleSet, maxBlobSize: options.maxBlobSize)

        var failure: (any Error)?
        let stopRequest = options.stopRequest
        let budgetReached = budgetReached
        // The window being built. It closes when full, at the end of the walk, or as soon as the workers run out
        // of work (the walk never keeps them waiting to make a bigger window), and goes to the workers, one
        // contiguous run each, once what they hold of the last one runs low.
        var building = BlobWindow()
        var streamOpen = true
        var streamEnd: (any Error)?
        do {
            while sequencer.unreadableBlob == nil {
                while let result = pool.poll() { try sequencer.complete(result) }
                let full =
                    building.requests.count >= max(1, options.windowBlobs)
                    || building.commits.count >= max(1, options.windowCommits)
                let starving = !building.commits.isEmpty && pool.isStarving
                if streamOpen && !full && !starving {
                    streamOpen = stream.read(
                        into: &building, stopReason: { stopRequest?.requested ?? budgetReached() })
                    continue
                }
                try pool.waitForRoom { try sequencer.complete($0) }
                if let reason = stopRequest?.requested { throw ScanStopped(reason: reason) }
                // Nothing after an unreadable blob's commit can be written.
                if sequencer.unreadableBlob != nil { break }
                if let end = building.end { streamEnd = end }
                if building.commits.isEmpty {
                    if !streamOpen { break }
                    continue
                }
                if building.requests.count > 1 { readOrder.arrange(&building.requests) }
                for work in building.commits { sequencer.append(work) }
                try sequencer.completeReadyCommits()
                pool.give(building.requests)
                building = BlobWindow()
            }
        } catch {
            failure = error
        }
        if failure == nil { failure = streamEnd }
        // Let the workers finish what they hold (on a stop request, only what they started), keep every commit
        // that completes, and stop them. After a sink failure the rest are only drained.
        let drained = pool.finish(dropping: stopRequest?.requested != nil) { result in
            guard failure == nil else { return }
            try sequencer.complete(result)
        }
        if failure == nil { failure = drained }
        do {
            try sequencer.flush()
        } catch {
            if failure == nil { failure = error }
        }
        if failure == nil { failure = sequencer.unreadableBlob }
        report(
            .progress(
                name: name, commitsDone: sequencer.commitsDone, commitsTotal: commits.count,
                counters: sequencer.counters))
        if let failure { throw failure }
    }
}

/// The scan stopped on request (a signal) after writing the work in flight.
public struct ScanStopped: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "stopped (\(reason)); the watermark is at the last commit written" }
}

struct ShardProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
