/// How a run ended; stored as its raw value in `run.status`.
public enum RunStatus: String, Sendable, Equatable {
    case running
    case finished
    case finishedWithErrors = "finished-with-errors"
    case stopped
    case interrupted
}

/// Which blobs are already scanned under a rule set: what a scan asks before reading a blob, so that each blob
/// is read at most once per rule set across shards and runs.
public protocol BlobDedupe {
    /// Of `oids`, those already scanned with rule set `ruleSetID`, with how many matches each had. Blobs skipped
    /// as too large are left out (the limit may have been raised since).
    func scannedBlobs(_ oids: [ObjectID], ruleSetID: Int64) throws -> [ObjectID: Int]
}

/// Where a scan puts what it finds, and where it keeps its place: the engine writes to it and asks it for
/// watermarks and already-scanned blobs, never knowing how it stores them. The SQLite store implements it; tests
/// use one in memory.
///
/// Calls come from the scan's one walking thread, in order: the rule set and run first, then per shard its id,
/// watermark, batches (in commit order, each with the shard's new watermark) and outcome, then the end of the run.
public protocol ScanSink: BlobDedupe {
    /// The id of the rule set with `digest`, added when new.
    func ruleSetID(digest: String) throws -> Int64
    /// Records the start of a run and returns its id.
    func startRun(ruleSetID: Int64, ruleCount: Int) throws -> Int64
    /// Records what each rule of the run is, for reports rendered later.
    func recordRules(_ rules: [Rule], runID: Int64) throws
    /// Marks the run as ended.
    func finishRun(_ runID: Int64, status: RunStatus) throws

    /// Every shard the sink knows.
    func knownShards() throws -> [KnownShard]
    /// The id of shard `name`, added or updated with its current path and reference (and git directory when
    /// given; a `nil` one keeps the one recorded).
    func shardID(name: String, path: String, reference: String, gitDirectory: String?) throws -> Int64
    /// The last commit of shard `shardID` whose every blob is written.
    func watermark(shardID: Int64) throws -> ObjectID?

    /// Writes `batch` at once (all or nothing), with its watermark. Returns its counters with `findingsNew` and
    /// `secretsNew` filled in from what was really new.
    @discardableResult
    func write(_ batch: Batch, ruleSetID: Int64) throws -> RunCounters
    /// Records how a shard ended in a run.
    func recordShardOutcome(_ outcome: ShardOutcome) throws
}

/// One rule of a rule set as backfill compares them: its id and the digest of what it finds
/// (``Rule/matchDigest(global:engineVersion:)``).
public struct RuleMember: Sendable, Hashable {
    public var id: String
    public var digest: String

    public init(id: String, digest: String) {
        self.id = id
        self.digest = digest
    }
}

/// What the store knows of one blob, for a backfill to tell which rules it lacks.
public struct StoredBlobState: Sendable, Equatable {
    /// The set of rules it has seen.
    public var ruleSetID: Int64
    public var size: Int
    public var skipped: SkipReason?
    public var matchCount: Int
    /// The rules (by id) with matches in it.
    public var rulesWithMatches: [String]

    public init(ruleSetID: Int64, size: Int, skipped: SkipReason?, matchCount: Int, rulesWithMatches: [String]) {
        self.ruleSetID = ruleSetID
        self.size = size
        self.skipped = skipped
        self.matchCount = matchCount
        self.rulesWithMatches = rulesWithMatches
    }
}

/// Where one shard's backfill stands: toward which rule set and size limit, up to which commit, and whether it
/// reached the shard's watermark.
public struct BackfillPosition: Sendable, Equatable {
    public var ruleSetID: Int64
    public var maxBlobSize: Int
    /// The last commit whose every blob is backfilled (`nil` with ``done`` false: from the root commit).
    public var commit: ObjectID?
    public var done: Bool
    /// The run that set it.
    public var runID: Int64

    public init(ruleSetID: Int64, maxBlobSize: Int, commit: ObjectID?, done: Bool, runID: Int64) {
        self.ruleSetID = ruleSetID
        self.maxBlobSize = maxBlobSize
        self.commit = commit
        self.done = done
        self.runID = runID
    }

    /// Set by run `runID` for the next run: a rule failed on some blob of the shard in `runID` (a PCRE2 limit),
    /// and the next run's backfill walks the shard from its root to run it again there.
    public var isRetry: Bool { commit == nil && !done }
}

/// A sink that can backfill: it knows which rules each blob has seen (as an interned set of rule digests), so
/// that a scan after a rule change re-reads old blobs for the new or changed rules only.
public protocol BackfillSink: ScanSink {
    /// Records the rules rule set `ruleSetID` is made of (the run's). A rule set recorded before members were
    /// kept gets them now: its digest is over the same definitions, so they are exactly its rules.
    func recordRuleSetMembers(_ ruleSetID: Int64, rules: [RuleMember]) throws
    /// The members (digests) of every rule set some blob was scanned with, `nil` for a set whose members are
    /// unknown (recorded before members were kept, under rules never run since).
    func ruleSetsInUse() throws -> [Int64: Set<String>?]
    /// Whether some blob skipped as too large is at most `size` bytes: a raised limit makes it worth reading.
    func hasTooLargeBlobs(upTo size: Int) throws -> Bool
    /// What the store knows of each of `oids` (absent: not stored).
    func blobStates(_ oids: [ObjectID]) throws -> [ObjectID: StoredBlobState]
    /// Where shard `shardID`'s backfill stands, if one ever ran.
    func backfillPosition(shardID: Int64) throws -> BackfillPosition?
    /// Writes a backfill batch at once: each blob's matches of the rules it ran are replaced, it now counts as
    /// having seen rule set `ruleSetID` (less its failed rules), its new places are recorded, and the shard's
    /// backfill position moves to the batch's watermark. Returns its counters, `findingsNew`/`secretsNew` filled in.
    @discardableResult
    func writeBackfill(_ batch: Batch, ruleSetID: Int64, maxBlobSize: Int) throws -> RunCounters
    /// Records that shard `shardID` is backfilled up to `commit` (its watermark) for rule set `ruleSetID`.
    func finishBackfill(shardID: Int64, ruleSetID: Int64, maxBlobSize: Int, commit: ObjectID, runID: Int64) throws
    /// Records that some rule failed on a blob of shard `shardID` in run `runID`: the next run backfills the
    /// shard from its root for rule set `ruleSetID` (see ``BackfillPosition/isRetry``).
    func retryBackfill(shardID: Int64, ruleSetID: Int64, maxBlobSize: Int, runID: Int64) throws
}
