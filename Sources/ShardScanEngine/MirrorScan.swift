import Git
import ShardScanCore

/// The process-wide memory settings of a scan or hunt. Memory follows the work in flight, not the shard: a
/// 1.5 GB pack is read through small windows, and nothing kept grows with the pack.
public enum ScanMemory {
    /// libgit2 (commits, and objects in no pack) maps packs in windows of this size...
    public static let packWindowBytes = 8 << 20
    /// ...at most this many bytes at once, and caches parsed objects up to ``objectCacheBytes``.
    public static let mappedPackBytes = 32 << 20
    public static let objectCacheBytes = 32 << 20
    /// Allocations of this size and up get pages of their own, handed back to the system when freed. glibc
    /// otherwise raises this threshold to the largest block freed so far (up to 32 MB), after which blobs of
    /// a few MB come from the threads' heaps, whose freed holes stay resident: on the large bench shard that
    /// was about 30 MB of peak RSS, growing through the scan. From 256 KB instead, every blob, decoded JSON view
    /// and joined Python file between 256 KB and 1 MB was pages mapped, zeroed and unmapped again: a full scan
    /// of the default bench shard took 9% more CPU (4% on the large one) for 9 MB (5 MB) less peak RSS.
    public static let ownPagesFrom = 1 << 20
    /// Inflated commits and trees (with their delta bases, and the metadata files of releases with findings) the
    /// walk's own reader keeps. A commit's diff reads again only the trees on the path to what it adds (the root,
    /// `packages/`, the project's), which the diff before read: the rest is a new release's subtrees, never read
    /// twice, which fill any larger cache on a shard whose releases hold many files. 8 MB filled on the large
    /// bench shard; 3 MB took 5 MB off its peak RSS in no more time; below that the gain is at the noise's edge
    /// (medians of two A/Bs of 6 and 5 runs: 3.5 and −0.3 MB off at 1.5 MB, 3.1 and 1.8 MB at 0.75 MB), the CPU
    /// time the same, and the default shard's peak did not move.
    public static let treeCacheBytes = 1 << 20

    /// Applies the settings; every scan and hunt calls it before reading (calling it again changes nothing).
    public static func apply() throws {
        try GitSettings.limitMemory(
            packWindowBytes: packWindowBytes, mappedPackBytes: mappedPackBytes, objectCacheBytes: objectCacheBytes)
        ProcessMemory.ownPages(from: ownPagesFrom)
    }
}

/// One run over many shards: starts the run in the sink, scans each shard, ends the run.
public struct MirrorScan {
    /// Where the run is recorded and its findings written (the store, in the command-line tool).
    public let sink: any ScanSink
    public let ruleSet: RuleSet
    public let options: ScanOptions

    /// Bumped when matching behaviour changes, so that stores rescan blobs scanned by older engines.
    public static let engineVersion = "2"

    public init(sink: any ScanSink, ruleSet: RuleSet, options: ScanOptions = ScanOptions()) {
        self.sink = sink
        self.ruleSet = ruleSet
        self.options = options
    }

    /// What a run did.
    public struct Summary: Sendable {
        public var runID: Int64
        public var shards: [ShardResult]
        public var counters: RunCounters

        /// Why the run stopped before its end, when it was asked to.
        public var stopped: String?
        /// Why the run ended early on its own (its workers could not start), when it did.
        public var aborted: String?
        /// What the backfill did, when one ran (`nil` with `--no-backfill`, or when the scan did not end well).
        public var backfill: BackfillSummary?

        public var failedShards: [ShardResult] { shards.filter { $0.status == .failed } }
    }

    /// Scans every source in turn; one failing shard never stops the others. A stop request ends the run
    /// after the shard in progress has written its finished commits. Sources that are not the shard the
    /// store knows under their name are refused, and shards the store expected among them but did not
    /// find are recorded as `missing`; both count as failed shards.
    public func run(_ sources: [ShardSource], report: @escaping (ScanEvent) -> Void) throws -> Summary {
        try ScanMemory.apply()
        let digest = ruleSet.digest(engineVersion: Self.engineVersion)
        let ruleSetID = try sink.ruleSetID(digest: digest)
        let backfillSink = sink as? any BackfillSink
        let ruleDigests = ruleSet.rules.map {
            $0.rule.matchDigest(global: ruleSet.global, engineVersion: Self.engineVersion)
        }
        try backfillSink?.recordRuleSetMembers(
            ruleSetID, rules: zip(ruleSet.rules, ruleDigests).map { RuleMember(id: $0.rule.id, digest: $1) })
        let runID = try sink.startRun(ruleSetID: ruleSetID, ruleCount: ruleSet.rules.count)
        try sink.recordRules(ruleSet.rules.map(\.rule), runID: runID)
        let scanner = ShardScanner(
            sink: sink, ruleSet: ruleSet, ruleSetID: ruleSetID, runID: runID, options: options, report: report)
        var summary = Summary(runID: runID, shards: [], counters: RunCounters())
        for source in sources {
            if let reason = options.stopRequest?.requested {
                summary.stopped = reason
                break
            }
            if let refused = try admit(source, runID: runID) {
                report(.shardFinished(refused))
                summary.shards.append(refused)
                continue
            }
            let result = scanner.scan(source)
            summary.shards.append(result)
            summary.counters += result.counters
            if result.endsRun {
                summary.aborted = result.message
                break
            }
        }
        if summary.stopped == nil, let reason = options.stopRequest?.requested { summary.stopped = reason }
        if summary.stopped == nil {
            for missing in try recordMissing(sources, runID: runID) {
                report(.shardFinished(missing))
                summary.shards.append(missing)
            }
        }
        if options.backfill, let backfillSink, summary.stopped == nil, summary.aborted == nil {
            // Shards scanned to their tip in this run; their ids are the ones the scan just recorded.
            let scanned = Set(summary.shards.filter { $0.status == .finished || $0.status == .upToDate }.map(\.name))
            var shards: [(source: ShardSource, shardID: Int64)] = []
            var seen: Set<String> = []
            for source in sources where scanned.contains(source.name) && seen.insert(source.name).inserted {
                let shardID = try sink.shardID(
                    name: source.name, path: source.repositoryPath, reference: source.reference ?? "",
                    gitDirectory: nil)
                shards.append((source, shardID))
            }
            let backfill = Backfill(
                sink: backfillSink, ruleSet: ruleSet, ruleDigests: ruleDigests, ruleSetID: ruleSetID, runID: runID,
                options: options, report: report)
            let result = try backfill.run(shards)
            summary.backfill = result
            if let reason = options.stopRequest?.requested { summary.stopped = reason }
        }
        let status: RunStatus =
            summary.stopped != nil ? .stopped : summary.failedShards.isEmpty ? .finished : .finishedWithErrors
        try sink.finishRun(runID, status: status)
        return summary
    }
}
