import Foundation
import Git
import ShardScanCore
import ShardScanStore

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
    /// Blobs waiting for a worker, at most; what bounds memory, whatever the shard's size.
    public var queuedBlobsPerWorker = 64
    /// Read blobs from the packs with shardscan's own reader (``PackReader``) rather than through libgit2,
    /// which stays for refs, commits, trees and loose objects.
    public var packReads = true
    /// New blobs gathered (across commits) and sorted into pack order before the workers get them.
    public var readWindowBlobs = 1024
    /// Bytes of inflated objects each worker's pack reader keeps as delta bases.
    public var deltaCacheBytes = 48 << 20
    /// Raised (by a signal handler) to stop after the work in flight is written.
    public var stopRequest: StopRequest?

    public init() {}
}

/// What the scanner tells the user while it works.
public enum ScanEvent: Sendable {
    case shardStarted(name: String, commits: Int)
    case progress(name: String, commitsDone: Int, commitsTotal: Int, counters: RunCounters)
    case warning(String)
    case shardFinished(ShardResult)
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

/// Scans shards from their watermarks: this thread walks the commits and diffs their trees, workers
/// read and scan the new blobs, and this thread writes the results in commit order, in batches.
///
/// Each blob is read at most once per rule set, across all shards and runs: blobs already in the
/// store's dedupe set only get their new location recorded (when they have findings). A batch holds
/// only commits whose every blob is scanned, so the watermark never gets ahead of the findings.
public final class ShardScanner {
    let store: Store
    let ruleSet: RuleSet
    let ruleSetID: Int64
    let runID: Int64
    let options: ScanOptions
    let report: (ScanEvent) -> Void

    /// The bytes git's own binary check looks at.
    static let binaryProbeLength = 8192

    public init(
        store: Store, ruleSet: RuleSet, ruleSetID: Int64, runID: Int64, options: ScanOptions,
        report: @escaping (ScanEvent) -> Void
    ) {
        self.store = store
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
            shardID = try store.shardID(
                name: source.name, path: source.repositoryPath, reference: source.reference ?? "")
        } catch {
            result.message = "store: \(error)"
            report(.shardFinished(result))
            return result
        }
        var outcome = ShardOutcome(runID: runID, shardID: shardID, status: "running")
        do {
            if let problem = source.problem { throw ShardProblem(problem) }
            let repository = try Repository(at: source.repositoryPath)
            guard let reference = source.reference, let tip = try repository.commitID(ofReference: reference) else {
                throw ShardProblem("reference \(source.reference ?? "?") not found")
            }
            outcome.toCommit = tip.hex
            var hidden: [ObjectID] = []
            if let stored = try store.watermark(shardID: shardID), let watermark = ObjectID(hex: stored) {
                outcome.fromCommit = stored
                if watermark == tip {
                    result.status = .upToDate
                } else if repository.contains(watermark), try repository.isAncestor(watermark, of: tip) {
                    hidden = [watermark]
                } else {
                    let warning =
                        "\(source.name): watermark \(stored.prefix(12)) is not an ancestor of \(reference) (history rewritten?); scanning the whole shard, already-scanned blobs are skipped"
                    report(.warning(warning))
                    outcome.message = warning
                }
            }
            if result.status != .upToDate {
                var walk = ShardWalk(scanner: self, shardID: shardID, name: source.name, path: source.repositoryPath)
                defer { result.counters = walk.counters }
                try walk.run(repository, from: tip, hiding: hidden)
                result.status = .finished
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
        outcome.status = result.status.rawValue
        if result.status != .finished || outcome.message.isEmpty { outcome.message = result.message }
        do {
            try store.recordShardOutcome(outcome)
        } catch {
            result.status = .failed
            result.message += " (and the outcome could not be stored: \(error))"
        }
        report(.shardFinished(result))
        return result
    }
}

/// A blob for a worker to read and scan.
private struct BlobJob: Sendable {
    /// The commit (by its position in the walk) that first needed the blob.
    var commitIndex: Int
    var blob: ObjectID
    /// The shard path, for messages.
    var shardPath: String
    /// The path inside the release, which rules' `paths` see.
    var innerPath: String
}

/// What a worker made of a ``BlobJob``.
private struct BlobResult: Sendable {
    var commitIndex: Int
    var scanned: ScannedBlob?
    var counters = RunCounters()
    var warnings: [String] = []
    /// Why the blob could not be read; the shard fails at this commit.
    var error: String?
}

/// One commit between the watermark and the tip: the blobs it adds, and the scans it waits for.
private struct CommitWork {
    struct Entry {
        var oid: Data
        var change: FileChange
        /// `nil` while the blob's scan (started by this or an earlier commit) is not in yet.
        var matchCount: Int?
    }

    var commit: ObjectID
    /// The commit's time (seconds since 1970): the upload time of the releases it adds.
    var time: Int64 = 0
    var entries: [Entry] = []
    var outstanding = 0
    var blobs: [ScannedBlob] = []
    var counters = RunCounters()
}

/// One walk of one shard: enumerates commits, feeds the workers, and writes finished commits in order.
private struct ShardWalk {
    let scanner: ShardScanner
    let shardID: Int64
    let name: String
    let path: String
    var counters = RunCounters()

    private var batch: Batch
    /// Commits enumerated and not yet moved into the batch, oldest first; `pendingBase` is the walk
    /// index of the first.
    private var pending: [CommitWork] = []
    private var pendingHead = 0
    private var pendingBase = 0
    /// Match counts of blobs scanned in this walk whose rows are not written yet.
    private var resolved: [Data: Int] = [:]
    /// Blobs with a scan under way.
    private var inFlight: Set<Data> = []
    private var jobsPushed = 0
    private var resultsTaken = 0
    /// The first blob a worker could not read. Its commit never completes, so the watermark stays
    /// before it, while the commits before it are still written as their results come in.
    private var unreadableBlob: ShardProblem?
    /// The walk's repository, read on this thread for the metadata of releases with findings.
    private var repository: Repository?
    /// New blobs not handed to the workers yet (set up in ``run``).
    private var window = ReadWindow<BlobJob>(capacity: 1, shares: 1, packs: nil)

    init(scanner: ShardScanner, shardID: Int64, name: String, path: String) {
        self.scanner = scanner
        self.shardID = shardID
        self.name = name
        self.path = path
        batch = Batch(runID: scanner.runID, shardID: shardID)
    }

    mutating func run(_ repository: Repository, from tip: ObjectID, hiding hidden: [ObjectID]) throws {
        self.repository = repository
        let commits = try repository.commits(from: tip, hiding: hidden)
        scanner.report(.shardStarted(name: name, commits: commits.count))
        let workerCount = max(1, scanner.options.workers)
        let options = scanner.options
        var packs: PackSet?
        if options.packReads {
            do {
                packs = try PackSet(repository: repository)
            } catch {
                scanner.report(.warning("\(name): reading blobs through libgit2: \(error)"))
            }
        }
        window = ReadWindow(
            capacity: max(options.readWindowBlobs, max(1, options.queuedBlobsPerWorker) * workerCount),
            shares: workerCount, packs: packs)
        // Each item is one worker's share of a window; two windows may wait.
        let jobs = WorkQueue<[BlobJob]>(capacity: 2 * workerCount)
        // Room for every job that can be in flight, so a worker never waits on this thread.
        let results = WorkQueue<BlobResult>(
            capacity: (jobs.capacity + workerCount) * window.largestShare + workerCount + 1)
        let workers = DispatchGroup()
        for index in 0..<workerCount {
            let worker = BlobWorker(
                repositoryPath: path, ruleSet: scanner.ruleSet, maxBlobSize: options.maxBlobSize, packs: packs,
                deltaCacheBytes: options.deltaCacheBytes)
            workers.enter()
            do {
                try WorkerThread.start {
                    worker.run(jobs: jobs, results: results)
                    workers.leave()
                }
            } catch {
                // Nothing was queued yet: the workers that did start see a closed, empty queue and end.
                workers.leave()
                jobs.close()
                workers.wait()
                throw WorkersUnavailable(started: index, wanted: workerCount, cause: error)
            }
        }

        var failure: Error?
        var treeOfParent: [ObjectID: ObjectID] = [:]
        for (index, commitID) in commits.enumerated() {
            if let reason = scanner.options.stopRequest?.requested {
                failure = ScanStopped(reason: reason)
                break
            }
            do {
                let commit = try repository.commit(commitID)
                treeOfParent[commitID] = commit.tree
                let parentTree = try commit.parents.first.map { (parent) throws(GitError) -> ObjectID in
                    if let tree = treeOfParent.removeValue(forKey: parent) { return tree }
                    return try repository.commit(parent).tree
                }
                let changes = try repository.changes(from: parentTree, to: commit.tree)
                try enqueue(
                    CommitWork(commit: commitID, time: commit.time), index: index, changes: changes, jobs: jobs,
                    results: results)
                while let result = results.tryPop() { try take(result) }
            } catch {
                failure = error
                break
            }
            if unreadableBlob != nil { break }
        }
        // The last window is work in flight too, also when stopping on request; not after a blob could not be
        // read, since no commit after it can be written.
        if (failure == nil && unreadableBlob == nil) || failure is ScanStopped {
            do {
                try pushWindow(jobs: jobs, results: results)
            } catch {
                failure = error
            }
        }
        // Let the workers finish what they hold, keep every commit that completes, and stop them.
        // Every job pushed yields one result; after a store failure the rest are only counted.
        jobs.close()
        while resultsTaken < jobsPushed, let result = results.pop() {
            if failure != nil {
                resultsTaken += 1
                continue
            }
            do {
                try take(result)
            } catch {
                failure = error
            }
        }
        workers.wait()
        do {
            try flush()
        } catch {
            if failure == nil { failure = error }
        }
        if failure == nil { failure = unreadableBlob }
        scanner.report(
            .progress(
                name: name, commitsDone: pendingBase + pendingHead, commitsTotal: commits.count, counters: counters))
        if let failure { throw failure }
    }

    /// Records `work`'s changes: blobs known to the store or to this walk are only located; new ones
    /// go to the workers.
    private mutating func enqueue(
        _ work: CommitWork, index: Int, changes: [FileChange], jobs: WorkQueue<[BlobJob]>,
        results: WorkQueue<BlobResult>
    ) throws {
        var work = work
        let unknown = changes.map { Data($0.blob.bytes) }.filter { resolved[$0] == nil && !inFlight.contains($0) }
        let known = try scanner.store.scannedBlobs(unknown, ruleSetID: scanner.ruleSetID)
        var newJobs: [BlobJob] = []
        for change in changes {
            let oid = Data(change.blob.bytes)
            if let count = resolved[oid] ?? known[oid] {
                work.counters.blobsSeen += 1
                work.entries.append(CommitWork.Entry(oid: oid, change: change, matchCount: count))
            } else if inFlight.contains(oid) {
                work.counters.blobsSeen += 1
                work.entries.append(CommitWork.Entry(oid: oid, change: change, matchCount: nil))
            } else {
                inFlight.insert(oid)
                work.outstanding += 1
                work.entries.append(CommitWork.Entry(oid: oid, change: change, matchCount: nil))
                newJobs.append(
                    BlobJob(
                        commitIndex: index, blob: change.blob, shardPath: change.path,
                        innerPath: ReleasePath.parse(change.path).innerPath))
            }
        }
        pending.append(work)
        window.append(contentsOf: newJobs)
        if window.isFull { try pushWindow(jobs: jobs, results: results) }
        if newJobs.isEmpty { try completeReadyCommits() }
    }

    /// Hands the window's blobs to the workers, in pack order, one contiguous share each.
    private mutating func pushWindow(jobs: WorkQueue<[BlobJob]>, results: WorkQueue<BlobResult>) throws {
        for share in window.drain(id: \.blob) {
            // While the queue is full, take in results: the workers may be waiting for room to give them.
            while !jobs.tryPush(share) {
                guard let result = results.pop() else { break }
                try take(result)
            }
            jobsPushed += share.count
        }
    }

    /// Takes in one worker's result and moves whatever commits it finishes into the batch.
    private mutating func take(_ result: BlobResult) throws {
        resultsTaken += 1
        for warning in result.warnings { scanner.report(.warning(warning)) }
        if let error = result.error {
            if unreadableBlob == nil { unreadableBlob = ShardProblem(error) }
            return
        }
        let position = result.commitIndex - pendingBase
        pending[position].outstanding -= 1
        pending[position].counters += result.counters
        if let scanned = result.scanned {
            pending[position].blobs.append(scanned)
            resolved[scanned.oid] = scanned.findings.count
            inFlight.remove(scanned.oid)
        }
        try completeReadyCommits()
    }

    /// Moves finished commits at the head of the line into the batch, in order, writing it when full.
    private mutating func completeReadyCommits() throws {
        while pendingHead < pending.count && pending[pendingHead].outstanding == 0 {
            var work = pending[pendingHead]
            let unresolved = work.entries.filter { $0.matchCount == nil && resolved[$0.oid] == nil }.map(\.oid)
            let stored =
                unresolved.isEmpty ? [:] : try scanner.store.scannedBlobs(unresolved, ruleSetID: scanner.ruleSetID)
            var withFindings: Set<ReleasePath> = []
            for entry in work.entries {
                let count = entry.matchCount ?? resolved[entry.oid] ?? stored[entry.oid] ?? 0
                if count > 0 {
                    var release = ReleasePath.parse(entry.change.path)
                    release.innerPath = ""
                    withFindings.insert(release)
                    batch.locations.append(
                        BlobLocation(
                            oid: entry.oid, release: ReleasePath.parse(entry.change.path), shardPath: entry.change.path,
                            shardPathBytes: entry.change.pathBytes.map { Data($0) }, commit: work.commit.hex,
                            matchCount: count))
                }
            }
            batch.releases += releases(of: work, withFindings: withFindings)
            batch.blobs += work.blobs
            work.counters.commits = 1
            batch.counters += work.counters
            batch.watermark = work.commit.hex
            pending[pendingHead] = CommitWork(commit: work.commit)
            pendingHead += 1
            if batch.counters.commits >= scanner.options.batchCommits
                || batch.counters.bytesScanned >= scanner.options.batchBytes
            {
                try flush()
                scanner.report(
                    .progress(
                        name: name, commitsDone: pendingBase + pendingHead, commitsTotal: pendingBase + pending.count,
                        counters: counters))
            }
        }
        // Drop the finished prefix now and then, so the line stays as short as the work in flight.
        if pendingHead > 1024 {
            pending.removeFirst(pendingHead)
            pendingBase += pendingHead
            pendingHead = 0
        }
    }

    /// The release files `work` adds, each with its core metadata when it is among `withFindings`. Metadata that
    /// cannot be read is noted in the record's problems, never an error: it must not stop the scan.
    private func releases(of work: CommitWork, withFindings: Set<ReleasePath>) -> [SeenRelease] {
        var seen: [ReleasePath: SeenRelease] = [:]
        var metadataEntry: [ReleasePath: (path: String, blob: ObjectID)] = [:]
        for entry in work.entries {
            var release = ReleasePath.parse(entry.change.path)
            guard !release.project.isEmpty else { continue }
            let inner = release.innerPath
            release.innerPath = ""
            if seen[release] == nil { seen[release] = SeenRelease(release: release, uploadedAt: work.time) }
            if withFindings.contains(release), CoreMetadata.isMetadataPath(inner) {
                // The shallowest file wins (`PKG-INFO` over `pkg-1.0/PKG-INFO`), then the first by name.
                if let known = metadataEntry[release], (known.path.count, known.path) <= (inner.count, inner) {
                    continue
                }
                metadataEntry[release] = (inner, entry.change.blob)
            }
        }
        for (release, entry) in metadataEntry {
            do {
                let metadata = try repository?.withObjectBytes(entry.blob) { bytes in
                    CoreMetadata.parse(bytes.prefix(CoreMetadata.maxBytes), source: entry.path)
                }
                seen[release]?.metadata = metadata
            } catch {
                var metadata = CoreMetadata()
                metadata.source = entry.path
                metadata.problems = ["cannot read: \(error)"]
                seen[release]?.metadata = metadata
            }
        }
        return seen.values.sorted {
            ($0.release.project, $0.release.filename) < ($1.release.project, $1.release.filename)
        }
    }

    private mutating func flush() throws {
        guard !batch.isEmpty else { return }
        counters += try scanner.store.write(batch, ruleSetID: scanner.ruleSetID)
        for blob in batch.blobs { resolved.removeValue(forKey: blob.oid) }
        batch = Batch(runID: scanner.runID, shardID: shardID)
    }
}

/// A worker's own repository handle and matcher; lives on one thread.
private final class BlobWorker: @unchecked Sendable {
    // Created on the spawning thread, used only by the worker thread afterwards.
    let repositoryPath: String
    let ruleSet: RuleSet
    let maxBlobSize: Int
    /// The shard's packs, read with this worker's own ``PackReader``; `nil`: libgit2 reads every blob.
    let packs: PackSet?
    let deltaCacheBytes: Int

    init(repositoryPath: String, ruleSet: RuleSet, maxBlobSize: Int, packs: PackSet?, deltaCacheBytes: Int) {
        self.repositoryPath = repositoryPath
        self.ruleSet = ruleSet
        self.maxBlobSize = maxBlobSize
        self.packs = packs
        self.deltaCacheBytes = deltaCacheBytes
    }

    func run(jobs: WorkQueue<[BlobJob]>, results: WorkQueue<BlobResult>) {
        let reader: ObjectReader
        do {
            if let packs {
                reader = try PackReader(packs: packs, repositoryPath: repositoryPath, cacheBytes: deltaCacheBytes)
            } else {
                reader = try Repository(at: repositoryPath)
            }
        } catch {
            while let share = jobs.pop() {
                for job in share { results.push(BlobResult(commitIndex: job.commitIndex, error: error.message)) }
            }
            return
        }
        let matcher = Matcher(ruleSet: ruleSet)
        while let share = jobs.pop() {
            for job in share { results.push(scan(job, reader: reader, matcher: matcher)) }
        }
    }

    private func scan(_ job: BlobJob, reader: ObjectReader, matcher: Matcher) -> BlobResult {
        var result = BlobResult(commitIndex: job.commitIndex)
        let oid = Data(job.blob.bytes)
        result.counters.blobsNew = 1
        do {
            let size = try reader.objectSize(job.blob)
            if size > maxBlobSize {
                result.counters.blobsTooLarge = 1
                result.scanned = ScannedBlob(oid: oid, size: size, skipped: "too-large", findings: [])
                return result
            }
            result.scanned = try reader.withObjectBytes(job.blob) { bytes in
                let probe = UnsafeRawBufferPointer(rebasing: bytes.prefix(ShardScanner.binaryProbeLength))
                // UTF-16 and UTF-32 text is full of NULs; its byte-order mark tells it from binary.
                if probe.contains(0) && UnicodeForm.detect(bytes) == nil {
                    result.counters.blobsBinary = 1
                    return ScannedBlob(oid: oid, size: size, skipped: "binary", findings: [])
                }
                result.counters.bytesScanned = size
                let outcome = matcher.scan(bytes, path: job.innerPath)
                for failure in outcome.failures {
                    result.counters.ruleFailures += 1
                    result.warnings.append(
                        "rule \(failure.ruleID) on blob \(job.blob.hex) (\(job.shardPath)): \(failure.message)")
                }
                return ScannedBlob(oid: oid, size: size, skipped: nil, findings: outcome.findings)
            }
        } catch {
            result.error =
                "\((error as? GitError)?.message ?? "\(error)") (blob \(job.blob.hex) at \(job.shardPath))"
                + GitProblem.advice(for: error)
        }
        return result
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
