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
