import Foundation

// The values a scan hands to its sink (``ScanSink``): what was scanned, where it lies, and how far each shard got.
// They live in the core so that the engine and the store share them without knowing each other.

/// Work done on one shard since the last write, written in one transaction together with the
/// shard's new watermark.
public struct Batch: Sendable {
    public var runID: Int64
    public var shardID: Int64
    /// The commit every change up to which is in this batch or already stored.
    public var watermark: ObjectID?
    public var blobs: [ScannedBlob] = []
    public var locations: [BlobLocation] = []
    /// Every release file the batch's commits add, with or without findings.
    public var releases: [SeenRelease] = []
    public var counters = RunCounters()

    public init(runID: Int64, shardID: Int64) {
        self.runID = runID
        self.shardID = shardID
    }

    public var isEmpty: Bool { watermark == nil && blobs.isEmpty && locations.isEmpty && releases.isEmpty }
}

/// A release file added by a commit: its upload time (the commit's) and, when it has findings, its core metadata.
public struct SeenRelease: Sendable, Equatable {
    /// The release, with an empty inner path.
    public var release: ReleasePath
    /// Seconds since 1970 (UTC) of the commit that added it.
    public var uploadedAt: Int64
    /// Read only for releases with findings; `nil` when the release holds no metadata file.
    public var metadata: CoreMetadata?

    public init(release: ReleasePath, uploadedAt: Int64, metadata: CoreMetadata? = nil) {
        self.release = release
        self.uploadedAt = uploadedAt
        self.metadata = metadata
    }
}

/// Why a blob was not scanned; stored as its raw value.
public enum SkipReason: String, Sendable, Equatable {
    /// Larger than the scan's `maxBlobSize`: only its size was read. Checked again wherever it appears, in
    /// case the limit was raised since.
    case tooLarge = "too-large"
    /// NUL bytes in its first 8 KiB and no UTF-16/UTF-32 byte-order mark: git's own binary check.
    case binary
}

/// A blob read and scanned (or skipped) for the first time under the current rule set.
public struct ScannedBlob: Sendable {
    public var oid: ObjectID
    public var size: Int
    /// Why it was not scanned, or `nil`.
    public var skipped: SkipReason?
    public var findings: [Finding]
    /// The rules (by id) that ran on it when only some did (a backfill); `nil` when the whole rule set did. The
    /// blob's stored matches of these rules are replaced by ``findings``; those of other rules are kept.
    public var rulesRun: [String]?
    /// Rules (by id) whose answer is unknown for this blob (a PCRE2 limit was hit): they count as not applied,
    /// so that a later backfill runs them again.
    public var failedRules: [String] = []
    /// The blob was not read: no rule it lacked applies to its path. Only its rules seen are recorded.
    public var notRead = false

    public init(oid: ObjectID, size: Int, skipped: SkipReason?, findings: [Finding]) {
        self.oid = oid
        self.size = size
        self.skipped = skipped
        self.findings = findings
    }
}

/// One place a blob with findings appears.
public struct BlobLocation: Sendable, Equatable {
    public var oid: ObjectID
    public var release: ReleasePath
    public var shardPath: String
    /// The shard path's bytes when they are not valid UTF-8 (`shardPath` then holds U+FFFD in their place).
    public var shardPathBytes: Data?
    /// The commit that added the blob at this place.
    public var commit: ObjectID
    /// How many matches the blob holds, each of which becomes a finding row at this place.
    public var matchCount: Int

    public init(
        oid: ObjectID, release: ReleasePath, shardPath: String, shardPathBytes: Data? = nil, commit: ObjectID,
        matchCount: Int
    ) {
        self.oid = oid
        self.release = release
        self.shardPath = shardPath
        self.shardPathBytes = shardPathBytes
        self.commit = commit
        self.matchCount = matchCount
    }
}

/// Counts kept per run (and per shard within a run).
public struct RunCounters: Sendable, Equatable, Codable {
    public var commits = 0
    public var blobsNew = 0
    public var blobsSeen = 0
    public var blobsBinary = 0
    public var blobsTooLarge = 0
    public var bytesScanned = 0
    /// New finding rows: (secret, place) pairs not recorded before.
    public var findingsNew = 0
    /// Secrets (per rule) never seen before.
    public var secretsNew = 0
    public var ruleFailures = 0

    public init() {}

    public static func += (lhs: inout RunCounters, rhs: RunCounters) {
        lhs.commits += rhs.commits
        lhs.blobsNew += rhs.blobsNew
        lhs.blobsSeen += rhs.blobsSeen
        lhs.blobsBinary += rhs.blobsBinary
        lhs.blobsTooLarge += rhs.blobsTooLarge
        lhs.bytesScanned += rhs.bytesScanned
        lhs.findingsNew += rhs.findingsNew
        lhs.secretsNew += rhs.secretsNew
        lhs.ruleFailures += rhs.ruleFailures
    }
}

/// How one shard ended in one run.
public struct ShardOutcome: Sendable, Equatable {
    /// Stored as its raw value in `run_shard.status`.
    public enum Status: String, Sendable, Equatable {
        /// Written with the first batch; a run that dies leaves it, and the next scan marks it `interrupted`.
        case running
        case finished
        case upToDate = "up-to-date"
        case failed
        /// Stopped on request; the watermark is at the last commit written.
        case stopped
        /// The store expected the shard among the run's sources and it was not there.
        case missing
        /// The scan died (killed, a crash) while the shard was `running`.
        case interrupted

        /// Whether the shard counts as failed in its run.
        public var isFailure: Bool { self == .failed || self == .missing }
    }

    public var runID: Int64
    public var shardID: Int64
    public var status: Status
    public var message: String
    public var fromCommit: ObjectID?
    public var toCommit: ObjectID?

    public init(
        runID: Int64, shardID: Int64, status: Status, message: String = "", fromCommit: ObjectID? = nil,
        toCommit: ObjectID? = nil
    ) {
        self.runID = runID
        self.shardID = shardID
        self.status = status
        self.message = message
        self.fromCommit = fromCommit
        self.toCommit = toCommit
    }
}

/// A shard as the sink knows it, for telling whether a repository on disk is that shard.
public struct KnownShard: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// The repository path it was last scanned from.
    public var path: String
    /// The resolved git directory it was last scanned from; `nil` for shards last scanned before
    /// shardscan kept it.
    public var gitDirectory: String?
    /// The last fully scanned commit.
    public var watermark: ObjectID?

    public init(id: Int64, name: String, path: String, gitDirectory: String?, watermark: ObjectID?) {
        self.id = id
        self.name = name
        self.path = path
        self.gitDirectory = gitDirectory
        self.watermark = watermark
    }
}
