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
    }

    public var name: String
    public var status: Status
    public var message: String
    public var counters: RunCounters
}

/// Scans shards one commit at a time from their watermarks, writing batches to the store.
///
/// Each blob is read at most once per rule set, across all shards and runs: blobs already in the
/// store's dedupe set only get their new location recorded (when they have findings).
public final class ShardScanner {
    let store: Store
    let matcher: Matcher
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
        self.matcher = Matcher(ruleSet: ruleSet)
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
                try walk(repository, from: tip, hiding: hidden, shardID: shardID, name: source.name, into: &result)
                result.status = .finished
            }
        } catch {
            result.status = .failed
            result.message = (error as? GitError)?.message ?? "\(error)"
        }
        outcome.status = result.status.rawValue
        if result.status == .failed || outcome.message.isEmpty { outcome.message = result.message }
        do {
            try store.recordShardOutcome(outcome)
        } catch {
            result.status = .failed
            result.message += " (and the outcome could not be stored: \(error))"
        }
        report(.shardFinished(result))
        return result
    }

    private func walk(
        _ repository: Repository, from tip: ObjectID, hiding hidden: [ObjectID], shardID: Int64, name: String,
        into result: inout ShardResult
    ) throws {
        let commits = try repository.commits(from: tip, hiding: hidden)
        report(.shardStarted(name: name, commits: commits.count))
        var batch = Batch(runID: runID, shardID: shardID)
        // Blobs decided in the batch not yet written, with their match counts.
        var pending: [Data: Int] = [:]
        var treeOfParent: [ObjectID: ObjectID] = [:]

        func flush() throws {
            guard !batch.isEmpty else { return }
            result.counters += try store.write(batch, ruleSetID: ruleSetID)
            batch = Batch(runID: runID, shardID: shardID)
            pending.removeAll(keepingCapacity: true)
        }

        do {
            for (index, commitID) in commits.enumerated() {
                let commit = try repository.commit(commitID)
                treeOfParent[commitID] = commit.tree
                let parentTree = try commit.parents.first.map { (parent) throws(GitError) -> ObjectID in
                    if let tree = treeOfParent.removeValue(forKey: parent) { return tree }
                    return try repository.commit(parent).tree
                }
                let changes = try repository.changes(from: parentTree, to: commit.tree)
                let unknown = changes.map { Data($0.blob.bytes) }.filter { pending[$0] == nil }
                let known = try store.scannedBlobs(unknown, ruleSetID: ruleSetID)
                for change in changes {
                    let oid = Data(change.blob.bytes)
                    let matchCount: Int
                    if let count = pending[oid] ?? known[oid] {
                        batch.counters.blobsSeen += 1
                        matchCount = count
                    } else {
                        let scanned = try scanBlob(change, in: repository, counters: &batch.counters)
                        batch.blobs.append(scanned)
                        matchCount = scanned.findings.count
                        pending[oid] = matchCount
                    }
                    if matchCount > 0 {
                        batch.locations.append(
                            BlobLocation(
                                oid: oid, release: ReleasePath.parse(change.path), shardPath: change.path,
                                commit: commitID.hex, matchCount: matchCount))
                    }
                }
                batch.counters.commits += 1
                batch.watermark = commitID.hex
                if batch.counters.commits >= options.batchCommits || batch.counters.bytesScanned >= options.batchBytes {
                    try flush()
                    report(
                        .progress(
                            name: name, commitsDone: index + 1, commitsTotal: commits.count, counters: result.counters))
                }
            }
        } catch {
            // Keep what is complete: the watermark in the batch is the last commit fully processed.
            try? flush()
            throw error
        }
        try flush()
        report(
            .progress(name: name, commitsDone: commits.count, commitsTotal: commits.count, counters: result.counters))
    }

    private func scanBlob(_ change: FileChange, in repository: Repository, counters: inout RunCounters) throws
        -> ScannedBlob
    {
        let oid = Data(change.blob.bytes)
        counters.blobsNew += 1
        let size = try repository.objectSize(change.blob)
        if size > options.maxBlobSize {
            counters.blobsTooLarge += 1
            return ScannedBlob(oid: oid, size: size, skipped: "too-large", findings: [])
        }
        let path = ReleasePath.parse(change.path).innerPath
        return try repository.withObjectBytes(change.blob) { bytes in
            let probe = UnsafeRawBufferPointer(rebasing: bytes.prefix(Self.binaryProbeLength))
            if probe.contains(0) {
                counters.blobsBinary += 1
                return ScannedBlob(oid: oid, size: size, skipped: "binary", findings: [])
            }
            counters.bytesScanned += size
            let outcome = matcher.scan(bytes, path: path)
            for failure in outcome.failures {
                counters.ruleFailures += 1
                report(
                    .warning("rule \(failure.ruleID) on blob \(change.blob.hex) (\(change.path)): \(failure.message)"))
            }
            return ScannedBlob(oid: oid, size: size, skipped: nil, findings: outcome.findings)
        }
    }
}

struct ShardProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
