import Foundation
import ShardScanCore

/// Turns scan results, which come in any order, into batches of whole commits in walk order: a commit enters a
/// batch only once every blob it needs is scanned and every commit before it has entered, so a batch's watermark
/// (its last commit) never gets ahead of the findings. Used on the walking thread only.
struct CommitSequencer {
    /// Where batches go, and what it knows of blobs scanned before.
    struct Output {
        /// Writes a batch; returns its counters with what was really new filled in.
        var write: (Batch) throws -> RunCounters
        /// Match counts of blobs already written (see ``BlobDedupe``).
        var scannedBlobs: ([ObjectID]) throws -> [ObjectID: Int]
        /// The core metadata in the file `path` (`blob`), for releases with findings: `nil` when it cannot be
        /// read, with the reason.
        var metadata: (_ blob: ObjectID, _ path: String) -> Result<CoreMetadata, any Error>
        /// Warnings from workers, and progress after each batch.
        var report: (ScanEvent) -> Void
    }

    let runID: Int64
    let shardID: Int64
    let name: String
    /// A batch is written after this many commits, or this many bytes scanned, whichever comes first.
    let batchCommits: Int
    let batchBytes: Int
    let blobs: WalkBlobs
    let output: Output

    /// What the batches written so far held, as the sink counted it.
    private(set) var counters = RunCounters()
    /// The last commit written.
    private(set) var watermark: ObjectID?
    /// The first blob a worker could not read. Its commit never completes, so the watermark stays before it,
    /// while the commits before it are still written as their results come in.
    private(set) var unreadableBlob: ShardProblem?

    private var batch: Batch
    /// Commits appended and not yet moved into the batch, oldest first; `pendingBase` is the walk index of the
    /// first.
    private var pending: [CommitWork] = []
    private var pendingHead = 0
    private var pendingBase = 0

    init(
        runID: Int64, shardID: Int64, name: String, batchCommits: Int, batchBytes: Int, blobs: WalkBlobs,
        output: Output
    ) {
        self.runID = runID
        self.shardID = shardID
        self.name = name
        self.batchCommits = batchCommits
        self.batchBytes = batchBytes
        self.blobs = blobs
        self.output = output
        batch = Batch(runID: runID, shardID: shardID)
    }

    /// Commits moved into batches (written or not).
    var commitsDone: Int { pendingBase + pendingHead }
    /// Commits appended.
    var commitsAppended: Int { pendingBase + pending.count }

    /// Appends the next commit of the walk. Its requests must not be handed to workers before it is appended.
    mutating func append(_ work: CommitWork) {
        pending.append(work)
    }

    /// Takes in one worker's result and moves whatever commits it finishes into the batch.
    mutating func complete(_ result: BlobResult) throws {
        for warning in result.warnings { output.report(.warning(warning)) }
        if let error = result.error {
            if unreadableBlob == nil { unreadableBlob = ShardProblem(error) }
            return
        }
        let position = result.commitIndex - pendingBase
        pending[position].outstanding -= 1
        pending[position].counters += result.counters
        if let scanned = result.scanned {
            pending[position].blobs.append(scanned)
            blobs.resolved[scanned.oid] = scanned.findings.count
            blobs.inFlight.remove(scanned.oid)
        }
        try completeReadyCommits()
    }

    /// Moves finished commits at the head of the line into the batch, in order, writing it when full.
    mutating func completeReadyCommits() throws {
        while pendingHead < pending.count && pending[pendingHead].outstanding == 0 {
            var work = pending[pendingHead]
            let unresolved = work.entries.filter { $0.matchCount == nil && blobs.resolved[$0.oid] == nil }.map(\.oid)
            let stored = unresolved.isEmpty ? [:] : try output.scannedBlobs(unresolved)
            var withFindings: Set<ReleasePath> = []
            for entry in work.entries {
                let count = entry.matchCount ?? blobs.resolved[entry.oid] ?? stored[entry.oid] ?? 0
                if count > 0 {
                    var release = entry.release
                    release.innerPath = ""
                    withFindings.insert(release)
                    batch.locations.append(
                        BlobLocation(
                            oid: entry.oid, release: entry.release, shardPath: entry.shardPath,
                            shardPathBytes: entry.shardPathBytes, commit: work.commit, matchCount: count))
                }
            }
            batch.releases += releases(of: work, withFindings: withFindings)
            batch.blobs += work.blobs
            work.counters.commits = 1
            batch.counters += work.counters
            batch.watermark = work.commit
            pending[pendingHead] = CommitWork(commit: work.commit)
            pendingHead += 1
            if batch.counters.commits >= batchCommits || batch.counters.bytesScanned >= batchBytes {
                try flush()
                output.report(
                    .progress(
                        name: name, commitsDone: commitsDone, commitsTotal: commitsAppended, counters: counters))
            }
        }
        // Drop the finished prefix now and then, so the line stays as short as the work in flight.
        if pendingHead > 1024 {
            pending.removeFirst(pendingHead)
            pendingBase += pendingHead
            pendingHead = 0
        }
    }

    /// Writes the batch, if it holds anything.
    mutating func flush() throws {
        guard !batch.isEmpty else { return }
        counters += try output.write(batch)
        if let written = batch.watermark { watermark = written }
        // The sink answers for these now.
        for blob in batch.blobs { blobs.resolved.removeValue(forKey: blob.oid) }
        batch = Batch(runID: runID, shardID: shardID)
    }

    /// The release files `work` adds, each with its core metadata when it is among `withFindings`. Metadata that
    /// cannot be read is noted in the record's problems, never an error: it must not stop the scan.
    private func releases(of work: CommitWork, withFindings: Set<ReleasePath>) -> [SeenRelease] {
        var seen: [ReleasePath: SeenRelease] = [:]
        for release in work.releases { seen[release] = SeenRelease(release: release, uploadedAt: work.time) }
        var metadataEntry: [ReleasePath: (path: String, blob: ObjectID)] = [:]
        for entry in work.entries {
            var release = entry.release
            guard !release.project.isEmpty else { continue }
            let inner = release.innerPath
            release.innerPath = ""
            if withFindings.contains(release), CoreMetadata.isMetadataPath(inner) {
                // The shallowest file wins (`PKG-INFO` over `pkg-1.0/PKG-INFO`), then the first by name.
                if let known = metadataEntry[release], (known.path.count, known.path) <= (inner.count, inner) {
                    continue
                }
                metadataEntry[release] = (inner, entry.oid)
            }
        }
        for (release, entry) in metadataEntry {
            switch output.metadata(entry.blob, entry.path) {
            case .success(let metadata):
                seen[release]?.metadata = metadata
            case .failure(let error):
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
}
