import Foundation
import Git
import ShardScanCore

/// What a worker made of a ``BlobRequest``.
struct BlobResult: Sendable {
    var commitIndex: Int
    var scanned: ScannedBlob?
    var counters = RunCounters()
    var warnings: [String] = []
    /// Why the blob could not be read; the shard fails at this commit.
    var error: String?
}

/// Holds a pool's workers until every thread is started, then lets them all run, or none. A worker that opened
/// its repository while the next threads were being created took memory the system then lacked: under `ulimit -v`
/// a started worker's libgit2 crashed on a failed allocation (a segfault, not the refused thread's exit 2).
private final class StartGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var decision: Bool?

    /// Wakes every waiting worker: they run when `run`, else end at once.
    func decide(run: Bool) {
        condition.lock()
        decision = run
        condition.broadcast()
        condition.unlock()
    }

    /// Whether to run, once ``decide(run:)`` has said.
    func waitForDecision() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while decision == nil { condition.wait() }
        return decision!
    }
}

/// Threads that read and scan blobs, each with its own ``BlobReader`` and matcher. They are given whole windows
/// of requests, each worker a contiguous run of every window (``WorkerShares``), and answer through a bounded
/// queue. Only the walking thread calls it.
final class WorkerPool {
    private let shares: WorkerShares
    private let results: WorkQueue<BlobResult>
    private let workers = DispatchGroup()
    /// Requests the workers may hold before the next window is given out; the walk builds the next one meanwhile.
    let lowWater: Int
    /// Every request given out yields one result (unless dropped); the pool is drained when as many were taken.
    private var given = 0
    private var taken = 0

    /// Starts `count` workers on the shard at `repositoryPath`. Throws when the system refuses a thread; the
    /// workers already started have ended by then.
    init(
        count: Int, queuedPerWorker: Int, repositoryPath: String, access: any BlobAccess, ruleSet: RuleSet,
        maxBlobSize: Int
    ) throws(WorkersUnavailable) {
        let workerCount = max(1, count)
        shares = WorkerShares(workers: workerCount)
        lowWater = max(1, queuedPerWorker) * workerCount
        // Room for the results of all the work given out (the queued requests and a window, which a large release
        // stretches), so that workers never wait for a walking thread that is writing a batch or diffing a large
        // commit: with room for the queued requests alone they stood idle for a tenth of a full scan of the
        // default bench shard (perf). A slot is a few words; the blobs' bytes are never queued.
        results = WorkQueue(capacity: lowWater + Self.resultRoom)
        let gate = StartGate()
        for index in 0..<workerCount {
            let worker = BlobWorker(
                repositoryPath: repositoryPath, access: access, ruleSet: ruleSet, maxBlobSize: maxBlobSize)
            workers.enter()
            do {
                try WorkerThread.start { [shares, results, workers] in
                    if gate.waitForDecision() { worker.run(index: index, shares: shares, results: results) }
                    workers.leave()
                }
            } catch {
                // Nothing was given out yet, and the workers that did start have touched nothing: they end.
                workers.leave()
                _ = shares.close(dropping: true)
                gate.decide(run: false)
                workers.wait()
                throw WorkersUnavailable(started: index, wanted: workerCount, cause: error)
            }
        }
        gate.decide(run: true)
    }

    /// Waits, handing results to `take`, until the workers hold at most ``lowWater`` requests: the next window
    /// is then cut into runs while each worker still has work. Results are taken in batches of up to
    /// ``resultBatch``, never more than the requests left above the low-water mark, so the walking thread
    /// sleeps through most results instead of waking for each.
    func waitForRoom(takingResults take: (BlobResult) throws -> Void) rethrows {
        while case let above = shares.pending - lowWater, above > 0 {
            let batch = results.popBatch(atLeast: min(above, Self.resultBatch))
            if batch.isEmpty { return }
            // All are taken off the queue now: should `take` throw, the rest of the batch is dropped, as
            // ``finish(dropping:takingResults:)`` drains results once `take` has thrown.
            taken += batch.count
            for result in batch { try take(result) }
        }
    }

    /// Results the walking thread waits for at once while the workers are busy.
    static let resultBatch = 32
    /// Results queued beyond the requests queued: more than a window (``ScanOptions/windowBlobs``) holds.
    static let resultRoom = 8192

    /// Gives `window`, in read order, to the workers: one contiguous run each.
    func give(_ window: [BlobRequest]) {
        shares.add(window)
        given += window.count
    }

    /// Whether the workers have nothing waiting: they are about to wait for work.
    var isStarving: Bool { shares.pending == 0 }

    /// Requests one worker took from another's share so far.
    var steals: Int { shares.steals }

    /// A result that is ready now, if any.
    func poll() -> BlobResult? {
        guard let result = results.tryPop() else { return nil }
        taken += 1
        return result
    }

    /// Lets the workers finish the requests they hold (or only the ones they have started, when `dropping`),
    /// handing each result to `take` (`nil` once `take` has thrown: the rest are only drained), and waits for the
    /// threads to end. Returns what `take` threw first.
    func finish(dropping: Bool = false, takingResults take: (BlobResult) throws -> Void) -> (any Error)? {
        given -= shares.close(dropping: dropping)
        var failure: (any Error)?
        while taken < given, let result = results.pop() {
            taken += 1
            guard failure == nil else { continue }
            do {
                try take(result)
            } catch {
                failure = error
            }
        }
        workers.wait()
        return failure
    }
}

/// A worker's reader and matcher; lives on one thread.
final class BlobWorker: @unchecked Sendable {
    // Created on the spawning thread, used only by the worker thread afterwards.
    let repositoryPath: String
    let access: any BlobAccess
    let ruleSet: RuleSet
    let maxBlobSize: Int

    init(repositoryPath: String, access: any BlobAccess, ruleSet: RuleSet, maxBlobSize: Int) {
        self.repositoryPath = repositoryPath
        self.access = access
        self.ruleSet = ruleSet
        self.maxBlobSize = maxBlobSize
    }

    func run(index: Int, shares: WorkerShares, results: WorkQueue<BlobResult>) {
        let reader: any BlobReader
        do {
            reader = try access.makeReader(repositoryPath: repositoryPath)
        } catch {
            while let job = shares.next(for: index) {
                results.push(
                    BlobResult(commitIndex: job.commitIndex, error: (error as? GitError)?.message ?? "\(error)"))
            }
            return
        }
        let matcher = Matcher(ruleSet: ruleSet)
        while let job = shares.next(for: index) {
            results.push(scan(job, reader: reader, matcher: matcher))
        }
    }

    /// Matchers for the rule subsets a backfill's blobs lack, by subset: most blobs of a backfill lack the
    /// same few rules (a new pack), and a matcher of their own makes the Hyperscan pass as cheap as they are.
    private var subsetMatchers: [[Int]: Matcher] = [:]

    private func matcher(for subset: [Int]) -> Matcher {
        if let known = subsetMatchers[subset] { return known }
        let made = Matcher(ruleSet: ruleSet.subset(subset))
        // A handful at most in practice (a new pack, a changed rule); bounded anyway.
        if subsetMatchers.count >= 16 { subsetMatchers.removeAll() }
        subsetMatchers[subset] = made
        return made
    }

    private func scan(_ job: BlobRequest, reader: any BlobReader, matcher: Matcher) -> BlobResult {
        var result = BlobResult(commitIndex: job.commitIndex)
        let oid = job.blob
        // A backfill's rules: those the blob lacks decide whether it is read at all (their `paths` are checked
        // before any read); their stored matches are replaced even when none applies here (a changed rule that
        // no longer admits the path has nothing to find). What they find (or reject, or stop finding) may
        // settle against other rules' matches, one hiding the next in a chain of overlaps (see
        // `Matcher.preferSpecific`): then every rule runs, so the blob ends exactly as a fresh scan leaves it.
        var subset: [Int]?
        var replaced: [String]?
        if let rules = job.rules, rules.count < ruleSet.rules.count {
            let admitted = rules.filter { ruleSet.rules[$0].rule.paths.admits(job.innerPath) }
            if admitted.isEmpty && !job.holdsMatchesOfRules {
                var scanned = ScannedBlob(oid: oid, size: 0, skipped: nil, findings: [])
                scanned.rulesRun = rules.map { ruleSet.rules[$0].rule.id }
                scanned.notRead = true
                result.scanned = scanned
                return result
            }
            // A validator that rejects bytes for every rule may hide others' stored matches, and its verdicts
            // are not told apart from "nothing found": with one, every rule runs.
            if !job.holdsMatchesOfRules && !admitted.contains(where: { ruleSet.rules[$0].rejectsForOthers }) {
                subset = admitted
                replaced = rules.map { ruleSet.rules[$0].rule.id }
            }
        }
        result.counters.blobsNew = 1
        do {
            let read = try reader.withBytes(of: job.blob, sizeLimit: maxBlobSize) { bytes -> ScannedBlob in
                let size = bytes.count
                if ShardScanner.isBinary(bytes) {
                    result.counters.blobsBinary = 1
                    return ScannedBlob(oid: oid, size: size, skipped: .binary, findings: [])
                }
                result.counters.bytesScanned = size
                var outcome =
                    subset.map { self.matcher(for: $0).scan(bytes, path: job.innerPath) }
                    ?? matcher.scan(bytes, path: job.innerPath)
                if subset != nil && !outcome.findings.isEmpty {
                    outcome = matcher.scan(bytes, path: job.innerPath)
                    replaced = nil
                }
                for failure in outcome.failures {
                    result.counters.ruleFailures += 1
                    result.warnings.append(
                        "rule \(failure.ruleID) on blob \(job.blob.hex) (\(job.shardPath)): \(failure.message)")
                }
                var scanned = ScannedBlob(oid: oid, size: size, skipped: nil, findings: outcome.findings)
                scanned.rulesRun = replaced
                scanned.failedRules = Array(Set(outcome.failures.map(\.ruleID))).sorted()
                return scanned
            }
            switch read {
            case .read(let scanned):
                result.scanned = scanned
            case .tooLarge(let size):
                result.counters.blobsTooLarge = 1
                result.scanned = ScannedBlob(oid: oid, size: size, skipped: .tooLarge, findings: [])
            }
        } catch {
            result.error =
                "\((error as? GitError)?.message ?? "\(error)") (blob \(job.blob.hex) at \(job.shardPath))"
                + GitProblem.advice(for: error)
        }
        return result
    }
}
