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

/// Threads that read and scan blobs, each with its own ``BlobReader`` and matcher, fed through a bounded queue
/// and answering through another. Only the walking thread calls it.
final class WorkerPool {
    private let jobs: WorkQueue<BlobRequest>
    private let results: WorkQueue<BlobResult>
    private let workers = DispatchGroup()
    /// Every request pushed yields one result; the pool is drained when as many were taken.
    private var pushed = 0
    private var taken = 0

    /// Starts `count` workers on the shard at `repositoryPath`. Throws when the system refuses a thread; the
    /// workers already started have ended by then.
    init(
        count: Int, queuedPerWorker: Int, repositoryPath: String, access: any BlobAccess, ruleSet: RuleSet,
        maxBlobSize: Int
    ) throws(WorkersUnavailable) {
        let workerCount = max(1, count)
        jobs = WorkQueue(capacity: max(1, queuedPerWorker) * workerCount)
        // Room for every result that can be in flight, so a worker never waits on the walking thread.
        results = WorkQueue(capacity: jobs.capacity + workerCount + 1)
        for index in 0..<workerCount {
            let worker = BlobWorker(
                repositoryPath: repositoryPath, access: access, ruleSet: ruleSet, maxBlobSize: maxBlobSize)
            workers.enter()
            do {
                try WorkerThread.start { [jobs, results, workers] in
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
    }

    /// Queues `request`; while the queue is full, hands results to `take`, since the workers may be waiting for
    /// room to give them.
    func submit(_ request: BlobRequest, takingResults take: (BlobResult) throws -> Void) rethrows {
        while !jobs.tryPush(request) {
            guard let result = results.pop() else { break }
            taken += 1
            try take(result)
        }
        pushed += 1
    }

    /// Queues `request` if there is room now.
    func trySubmit(_ request: BlobRequest) -> Bool {
        guard jobs.tryPush(request) else { return false }
        pushed += 1
        return true
    }

    /// Whether the workers have nothing queued: they are about to wait for work.
    var isStarving: Bool { jobs.isEmpty }

    /// A result that is ready now, if any.
    func poll() -> BlobResult? {
        guard let result = results.tryPop() else { return nil }
        taken += 1
        return result
    }

    /// Lets the workers finish the requests they hold, handing each result to `take` (`nil` once `take` has
    /// thrown: the rest are only drained), and waits for the threads to end. Returns what `take` threw first.
    func finish(takingResults take: (BlobResult) throws -> Void) -> (any Error)? {
        jobs.close()
        var failure: (any Error)?
        while taken < pushed, let result = results.pop() {
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

    func run(jobs: WorkQueue<BlobRequest>, results: WorkQueue<BlobResult>) {
        let reader: any BlobReader
        do {
            reader = try access.makeReader(repositoryPath: repositoryPath)
        } catch {
            while let job = jobs.pop() {
                results.push(
                    BlobResult(commitIndex: job.commitIndex, error: (error as? GitError)?.message ?? "\(error)"))
            }
            return
        }
        let matcher = Matcher(ruleSet: ruleSet)
        while let job = jobs.pop() {
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
        // no longer admits the path has nothing to find). Companions (rules whose findings in the blob the
        // lacking ones may settle against) run only when the lacking rules find something there, or may reject
        // bytes for other rules (a validator): otherwise they could change nothing, and keep their matches.
        var subset: [Int]?
        var withCompanions: [Int]?
        var replaced: [String]?
        var replacedWithCompanions: [String]?
        if let rules = job.rules {
            let admitted = rules.filter { ruleSet.rules[$0].rule.paths.admits(job.innerPath) }
            if admitted.isEmpty {
                var scanned = ScannedBlob(oid: oid, size: 0, skipped: nil, findings: [])
                scanned.rulesRun = rules.map { ruleSet.rules[$0].rule.id }
                scanned.notRead = true
                result.scanned = scanned
                return result
            }
            let companions = job.companionRules.filter { ruleSet.rules[$0].rule.paths.admits(job.innerPath) }
            subset = admitted
            replaced = rules.map { ruleSet.rules[$0].rule.id }
            if !companions.isEmpty {
                withCompanions = Array(Set(admitted + companions)).sorted()
                replacedWithCompanions = (rules + companions).map { ruleSet.rules[$0].rule.id }
            }
        }
        result.counters.blobsNew = 1
        do {
            let size = try reader.size(of: job.blob)
            if size > maxBlobSize {
                result.counters.blobsTooLarge = 1
                result.scanned = ScannedBlob(oid: oid, size: size, skipped: .tooLarge, findings: [])
                return result
            }
            result.scanned = try reader.withBytes(of: job.blob) { bytes in
                let probe = UnsafeRawBufferPointer(rebasing: bytes.prefix(ShardScanner.binaryProbeLength))
                // UTF-16 and UTF-32 text is full of NULs; its byte-order mark tells it from binary.
                if probe.contains(0) && UnicodeForm.detect(bytes) == nil {
                    result.counters.blobsBinary = 1
                    return ScannedBlob(oid: oid, size: size, skipped: .binary, findings: [])
                }
                result.counters.bytesScanned = size
                var outcome =
                    subset.map { self.matcher(for: $0).scan(bytes, path: job.innerPath) }
                    ?? matcher.scan(bytes, path: job.innerPath)
                if let withCompanions, let subset,
                    !outcome.findings.isEmpty || subset.contains(where: { ruleSet.rules[$0].rejectsForOthers })
                {
                    outcome = matcher.scan(bytes, path: job.innerPath, rules: withCompanions)
                    replaced = replacedWithCompanions
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
        } catch {
            result.error =
                "\((error as? GitError)?.message ?? "\(error)") (blob \(job.blob.hex) at \(job.shardPath))"
                + GitProblem.advice(for: error)
        }
        return result
    }
}
