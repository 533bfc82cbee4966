import Foundation
import Hyperscan
import ShardScanCore

#if canImport(Glibc)
    import Glibc
#endif

/// What each rule cost a ``Matcher`` over the buffers it scanned while profiling (`shardscan rules profile`):
/// how often its prefilter gate let PCRE2 run, for how long, over how many bytes, and what came of it. Also
/// the per-file work that is no rule's own (the Hyperscan pass, the decoded views, statement layouts).
public struct RuleProfile: Sendable, Codable, Equatable {
    /// One rule's cost.
    public struct RuleCost: Sendable, Codable, Equatable {
        public var ruleID: String
        /// Candidate match ends Hyperscan reported for the rule (or its parts): each is a callback in the
        /// Hyperscan pass, and many of them make that pass slow for every rule.
        public var candidates = 0
        /// Buffers the rule's PCRE2 pattern (or its co-occurrence parts) ran on: its gate was open and its
        /// paths admitted the file.
        public var files = 0
        /// Bytes PCRE2 was pointed at: the regions around Hyperscan's candidates, or whole buffers for an
        /// unbounded pattern, a co-occurrence part or an ungated rule.
        public var bytes = 0
        /// Time in PCRE2 and the rule's filters, in nanoseconds.
        public var nanoseconds: UInt64 = 0
        /// Matches that became findings before findings of different rules were reconciled.
        public var findings = 0
        /// With a Hyperscan sample: the time a database of this rule's pattern alone (its parts, for a
        /// co-occurrence rule) takes over the sample, in nanoseconds; `nil` when the rule is not prefiltered.
        public var hyperscanNanoseconds: UInt64?

        public init(ruleID: String) { self.ruleID = ruleID }
    }

    /// Work done per buffer for all rules together.
    public enum Stage: String, Sendable, Codable, CaseIterable {
        /// The one Hyperscan pass that gates every rule.
        case hyperscan
        /// UTF-16/UTF-32 text transcoded to UTF-8.
        case transcode
        /// JSON string escapes decoded.
        case jsonView = "json-view"
        /// Python source joined into logical statements, for `view: statements` rules.
        case statementView = "statement-view"
        /// Statement and function boundaries, for co-occurrence rules scoped to a statement or function.
        case statementLayout = "statement-layout"
        /// Lines, columns and snippets of findings.
        case locate
    }

    /// One stage's cost.
    public struct StageCost: Sendable, Codable, Equatable {
        public var stage: Stage
        /// Buffers it ran on.
        public var files = 0
        /// Bytes it read.
        public var bytes = 0
        public var nanoseconds: UInt64 = 0

        public init(stage: Stage) { self.stage = stage }
    }

    /// Per rule index of the rule set.
    public var rules: [RuleCost]
    /// Per ``Stage``, in declaration order.
    public var stages: [StageCost]
    /// Buffers scanned, and their bytes.
    public var files = 0
    public var bytes = 0
    /// Time in ``Matcher/scan(_:path:onlyRule:)`` altogether, in nanoseconds.
    public var nanoseconds: UInt64 = 0
    /// Bytes each rule's own Hyperscan database was timed over (0: not timed).
    public var hyperscanSampleBytes = 0

    public init(ruleIDs: [String]) {
        rules = ruleIDs.map(RuleCost.init)
        stages = Stage.allCases.map(StageCost.init)
    }

    /// Adds `other`'s counts (a profile of the same rule set) to these.
    public mutating func merge(_ other: RuleProfile) {
        precondition(other.rules.count == rules.count, "profiles of different rule sets")
        for index in rules.indices {
            rules[index].candidates += other.rules[index].candidates
            rules[index].files += other.rules[index].files
            rules[index].bytes += other.rules[index].bytes
            rules[index].nanoseconds += other.rules[index].nanoseconds
            rules[index].findings += other.rules[index].findings
        }
        for index in stages.indices {
            stages[index].files += other.stages[index].files
            stages[index].bytes += other.stages[index].bytes
            stages[index].nanoseconds += other.stages[index].nanoseconds
        }
        files += other.files
        bytes += other.bytes
        nanoseconds += other.nanoseconds
    }

    mutating func add(_ stage: Stage, bytes: Int, since start: UInt64) {
        let index = Stage.allCases.firstIndex(of: stage)!
        stages[index].files += 1
        stages[index].bytes += bytes
        stages[index].nanoseconds += RuleProfile.now() &- start
    }

    mutating func add(rule index: Int, bytes: Int, findings: Int, since start: UInt64) {
        rules[index].files += 1
        rules[index].bytes += bytes
        rules[index].findings += findings
        rules[index].nanoseconds += RuleProfile.now() &- start
    }

    /// A monotonic clock in nanoseconds.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

/// Scans every distinct text blob of shards once with a profiling matcher: what `shardscan rules profile`
/// reports. Blobs are found and read as `hunt` finds and reads them (all of history, each blob once, in pack
/// order, on the path of its first place), skipped as a scan skips them (too large, binary).
public enum RuleProfiler {
    /// - Parameter workers: threads that read and scan; with 1, a rule's time is not inflated by the other
    ///   thread sharing a core.
    ///   - hyperscanSample: when above 0, also time each rule's pattern alone in Hyperscan over the first
    ///     this many bytes of text (whole files, in scan order): what the rule adds to the pass all rules share.
    public static func run(
        _ sources: [ShardSource], ruleSet: RuleSet, maxBlobSize: Int = ScanOptions().maxBlobSize, workers: Int = 1,
        hyperscanSample: Int = 0, warning: (String) -> Void
    ) -> (profile: RuleProfile, counters: HuntCounters) {
        let matchers = ProfilingMatchers(ruleSet: ruleSet, sampleLimit: hyperscanSample)
        let query = HuntQuery(content: .none, maxBlobSize: maxBlobSize, workers: workers)
        let counters = Hunter.run(
            sources, query: query,
            inspect: { path, bytes in
                if ShardScanner.isBinary(bytes) { return }
                matchers.scan(bytes, path: path)
            }, warning: warning, emit: { _ in })
        var profile = matchers.merged()
        let sample = matchers.sample
        if !sample.isEmpty {
            profile.hyperscanSampleBytes = sample.reduce(0) { $0 + $1.count }
            for (index, compiled) in ruleSet.rules.enumerated() {
                profile.rules[index].hyperscanNanoseconds = hyperscanTime(of: compiled.rule, over: sample)
            }
        }
        return (profile, counters)
    }

    /// The time a database of `rule`'s prefilter patterns alone takes over `files`; `nil` when Hyperscan
    /// refuses them.
    static func hyperscanTime(of rule: Rule, over files: [[UInt8]]) -> UInt64? {
        let expressions = rule.cooccurrence?.parts.map(\.pattern) ?? [rule.pattern]
        let patterns = expressions.enumerated().map {
            Database.Pattern(expression: $0.element, id: UInt32($0.offset), flags: Prefilter.patternFlags)
        }
        guard let database = try? Database(patterns: patterns), let scratch = try? Scratch(for: database) else {
            return nil
        }
        let start = RuleProfile.now()
        for file in files {
            file.withUnsafeBytes { bytes in _ = try? database.scan(bytes, scratch: scratch) { _ in true } }
        }
        return RuleProfile.now() &- start
    }
}

/// One profiling matcher per worker thread, made on first use and merged at the end.
private final class ProfilingMatchers: @unchecked Sendable {
    // Guarded by `lock`; each matcher is used only by the thread it was made for.
    private let ruleSet: RuleSet
    private let sampleLimit: Int
    private let lock = NSLock()
    private var byThread: [pthread_t: Matcher] = [:]
    private var sampled = 0
    /// Text files kept for timing each rule's Hyperscan database alone.
    private(set) var sample: [[UInt8]] = []

    init(ruleSet: RuleSet, sampleLimit: Int) {
        self.ruleSet = ruleSet
        self.sampleLimit = sampleLimit
    }

    func scan(_ bytes: UnsafeRawBufferPointer, path: String) {
        let thread = pthread_self()
        let matcher = lock.withLock {
            if sampled < sampleLimit {
                sample.append([UInt8](bytes))
                sampled += bytes.count
            }
            if let existing = byThread[thread] { return existing }
            let made = Matcher(ruleSet: ruleSet, profiling: true)
            byThread[thread] = made
            return made
        }
        _ = matcher.scan(bytes, path: path)
    }

    func merged() -> RuleProfile {
        lock.withLock {
            var total = RuleProfile(ruleIDs: ruleSet.rules.map(\.rule.id))
            for matcher in byThread.values { matcher.profile.map { total.merge($0) } }
            return total
        }
    }
}
