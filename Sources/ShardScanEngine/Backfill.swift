import Foundation
import Git
import ShardScanCore

/// How much a backfill may do in one run; the rest waits for the next.
public struct BackfillBudget: Sendable, Equatable {
    /// Wall-clock seconds from the start of the backfill.
    public var seconds: Double?
    /// Bytes read and scanned.
    public var bytes: Int?

    public init(seconds: Double? = nil, bytes: Int? = nil) {
        self.seconds = seconds
        self.bytes = bytes
    }

    /// No limit.
    public static let unlimited = BackfillBudget()
}

/// What a backfill did in one run.
public struct BackfillSummary: Sendable {
    /// Some blob lacked a rule of the run (or was skipped under a lower size limit): there was work.
    public var needed = false
    /// Shards whose history is now backfilled for the run's rules.
    public var shardsDone: [String] = []
    /// Shards whose backfill waits for a later run (the budget ran out, or the scan was stopped).
    public var shardsLeft: [String] = []
    /// Shards whose backfill failed, with why.
    public var shardsFailed: [(name: String, message: String)] = []
    /// `blobsNew` counts blobs read again, `bytesScanned` their bytes, `blobsSeen` blobs whose lacking rules all
    /// exclude their path (not read), `findingsNew`/`secretsNew` what they found.
    public var counters = RunCounters()
    /// Why it stopped early: its budget, or a stop request.
    public var stopped: String?
    /// The budget ran out (then ``stopped`` says which).
    public var budgetReached = false

    public init() {}
}

/// Re-reads already-scanned blobs of every shard's history for the rules they have not seen (new or changed
/// rules, rules that failed on them, blobs skipped under a lower size limit), and only for those: the walk is the
/// scan's own (``ShardWalk``) from the root commit to the shard's watermark, so each blob is met first where a
/// fresh scan would meet it, and every place of a blob that gains findings is recorded. Each batch moves the
/// shard's backfill position, so a killed backfill resumes there.
struct Backfill {
    let sink: any BackfillSink
    let ruleSet: RuleSet
    /// Each rule's ``Rule/matchDigest(global:engineVersion:)``, in ``RuleSet/rules`` order.
    let ruleDigests: [String]
    let ruleSetID: Int64
    let runID: Int64
    let options: ScanOptions
    let report: (ScanEvent) -> Void

    /// Backfills `shards` (each with its id in the store) in turn, within `options.backfillBudget`.
    func run(_ shards: [(source: ShardSource, shardID: Int64)]) throws -> BackfillSummary {
        var summary = BackfillSummary()
        let current = Set(ruleDigests)
        let stale = try sink.ruleSetsInUse().filter { _, members in
            guard let members else { return true }
            return !current.isSubset(of: members)
        }
        let maxBlobSize = options.maxBlobSize
        let tooLarge = try sink.hasTooLargeBlobs(upTo: maxBlobSize)
        guard !stale.isEmpty || tooLarge else { return summary }

        let dedupe = BackfillDedupe(
            sink: sink, ruleSet: ruleSet, digests: ruleDigests, stale: stale, maxBlobSize: maxBlobSize)
        let started = Date()
        let budget = options.backfillBudget
        // Written by the walk's own thread (in the write closure) and read by it (between commits).
        let bytesRead = Counter()
        let budgetReached: () -> String? = {
            if let seconds = budget.seconds, Date().timeIntervalSince(started) >= seconds {
                return "backfill budget of \(BackfillBudget.describe(seconds: seconds)) reached"
            }
            if let bytes = budget.bytes, bytesRead.value >= bytes {
                return "backfill budget of \(BackfillBudget.describe(bytes: bytes)) reached"
            }
            return nil
        }
        let events = report
        let scanner = ShardScanner(
            sink: sink, ruleSet: ruleSet, ruleSetID: ruleSetID, runID: runID, options: options,
            report: { event in
                switch event {
                case .shardStarted(let name, let commits): events(.backfillStarted(name: name, commits: commits))
                case .progress(let name, let done, let total, let counters):
                    events(.backfillProgress(name: name, commitsDone: done, commitsTotal: total, counters: counters))
                default: events(event)
                }
            })
        for (source, shardID) in shards {
            guard let tip = try sink.watermark(shardID: shardID) else { continue }
            let position = try sink.backfillPosition(shardID: shardID)
            let sameTarget = position.map { $0.ruleSetID == ruleSetID && $0.maxBlobSize >= maxBlobSize } ?? false
            if sameTarget, let position, position.done { continue }
            // A retry asked for by this very run (a rule failed in its scan of the shard) waits for the next run:
            // a failure under this run's load or limits would most likely repeat at once.
            if sameTarget, let position, position.isRetry, position.runID == runID { continue }
            let retrying = sameTarget && position?.isRetry == true
            summary.needed = true
            if summary.stopped != nil {
                summary.shardsLeft.append(source.name)
                continue
            }
            if let reason = options.stopRequest?.requested ?? budgetReached() {
                summary.stopped = reason
                summary.budgetReached = options.stopRequest?.requested == nil
                summary.shardsLeft.append(source.name)
                continue
            }
            do {
                let repository = try Repository(at: source.repositoryPath)
                var hidden: [ObjectID] = []
                var failures = 0
                if sameTarget, let commit = position?.commit, repository.contains(commit),
                    try repository.isAncestor(commit, of: tip)
                {
                    hidden = [commit]
                }
                if hidden != [tip] {
                    var walk = ShardWalk(
                        scanner: scanner, shardID: shardID, name: source.name, path: source.repositoryPath,
                        dedupe: dedupe,
                        write: { [sink, ruleSetID] batch in
                            for blob in batch.blobs where !blob.failedRules.isEmpty { dedupe.handled.insert(blob.oid) }
                            let counters = try sink.writeBackfill(batch, ruleSetID: ruleSetID, maxBlobSize: maxBlobSize)
                            bytesRead.value += counters.bytesScanned
                            return counters
                        },
                        storedCounts: { [sink] in try sink.blobStates($0).mapValues(\.matchCount) })
                    walk.rulesFor = { dedupe.take($0) }
                    walk.budgetReached = budgetReached
                    defer { summary.counters += walk.counters }
                    try walk.run(repository, from: tip, hiding: hidden)
                    failures = walk.counters.ruleFailures
                }
                if failures > 0 && !retrying {
                    // Rules failed on some blobs (they count as not applied there): the next run tries once more.
                    try sink.retryBackfill(
                        shardID: shardID, ruleSetID: ruleSetID, maxBlobSize: maxBlobSize, runID: runID)
                } else {
                    try sink.finishBackfill(
                        shardID: shardID, ruleSetID: ruleSetID, maxBlobSize: maxBlobSize, commit: tip, runID: runID)
                }
                summary.shardsDone.append(source.name)
                report(.backfillFinished(name: source.name, message: "backfilled"))
            } catch let stopped as ScanStopped {
                summary.stopped = stopped.reason
                summary.budgetReached = options.stopRequest?.requested == nil
                summary.shardsLeft.append(source.name)
                report(.backfillFinished(name: source.name, message: "stopped: \(stopped.reason)"))
            } catch let unavailable as WorkersUnavailable {
                summary.shardsFailed.append((source.name, unavailable.description))
                break
            } catch {
                let message = GitProblem.describe(error)
                summary.shardsFailed.append((source.name, message))
                report(.backfillFinished(name: source.name, message: "failed: \(message)"))
            }
        }
        return summary
    }
}

/// A count one thread keeps and reads.
private final class Counter: @unchecked Sendable {
    var value = 0
}

/// The backfill's answer to "which blobs need no read": a blob that has seen every rule of the run needs none;
/// one that lacks some gets a request for just those (see ``take(_:)``). Used on the walking thread only.
final class BackfillDedupe: BlobDedupe, @unchecked Sendable {
    let sink: any BackfillSink
    let digests: [String]
    let ruleIndex: [String: Int]
    /// Rule sets that lack some rule of the run, with their members (`nil`: unknown, so every rule is lacking).
    let stale: [Int64: Set<String>?]
    let maxBlobSize: Int
    private let allRules: [Int]
    /// What to run on each blob requested and not yet taken: the rules it lacks, and whether it holds matches
    /// of some of them.
    private var pending: [ObjectID: (rules: [Int], holdsMatches: Bool)] = [:]
    private var lackingBySet: [Int64: [Int]] = [:]
    /// Blobs handled in this backfill whose rule set still lacks something (a rule failed on them): not again.
    var handled: Set<ObjectID> = []

    init(sink: any BackfillSink, ruleSet: RuleSet, digests: [String], stale: [Int64: Set<String>?], maxBlobSize: Int) {
        self.sink = sink
        self.digests = digests
        self.stale = stale
        self.maxBlobSize = maxBlobSize
        allRules = Array(ruleSet.rules.indices)
        ruleIndex = Dictionary(
            ruleSet.rules.enumerated().map { ($1.rule.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func scannedBlobs(_ oids: [ObjectID], ruleSetID: Int64) throws -> [ObjectID: Int] {
        guard !oids.isEmpty else { return [:] }
        let states = try sink.blobStates(oids)
        var done: [ObjectID: Int] = [:]
        for oid in oids {
            guard let state = states[oid] else {
                // Below the watermark yet never stored (a store merged from part of a fleet): a blob like any new one.
                pending[oid] = (allRules, false)
                continue
            }
            if handled.contains(oid) {
                done[oid] = state.matchCount
                continue
            }
            switch state.skipped {
            case .binary:
                done[oid] = state.matchCount
                continue
            case .tooLarge:
                if state.size <= maxBlobSize { pending[oid] = (allRules, false) } else { done[oid] = 0 }
                continue
            case nil:
                break
            }
            guard let members = stale[state.ruleSetID] else {
                done[oid] = state.matchCount
                continue
            }
            let lacking = lacking(state.ruleSetID, members: members)
            let holdsMatches = state.rulesWithMatches.contains { ruleIndex[$0].map(lacking.contains) ?? false }
            pending[oid] = (lacking, holdsMatches)
        }
        return done
    }

    /// The rules of the run that rule set `id` lacks, worked out once per set.
    private func lacking(_ id: Int64, members: Set<String>?) -> [Int] {
        if let known = lackingBySet[id] { return known }
        let lacking = members.map { members in allRules.filter { !members.contains(digests[$0]) } } ?? allRules
        lackingBySet[id] = lacking
        return lacking
    }

    /// The rules blob `oid`'s request is to run (asked once, when the request is made).
    func take(_ oid: ObjectID) -> (rules: [Int], holdsMatches: Bool)? {
        pending.removeValue(forKey: oid)
    }
}

extension BackfillBudget {
    /// `90` → `1m30s`.
    public static func describe(seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        return (h > 0 ? "\(h)h" : "") + (m > 0 ? "\(m)m" : "") + (s > 0 || total == 0 ? "\(s)s" : "")
    }

    /// Bytes in the largest unit that divides them: `20GB`, `512MB`, `1000B`.
    public static func describe(bytes: Int) -> String {
        for (unit, size) in [("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)B"
    }

    /// Parses `30m`, `2h`, `45s`, `1h30m` (a duration) or `20GB`, `512MB`, `100KB`, `1000B` (bytes; binary units).
    public static func parse(_ text: String) -> BackfillBudget? {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        guard !lower.isEmpty else { return nil }
        for (unit, size) in [("tb", 1 << 40), ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("b", 1)]
        where lower.hasSuffix(unit) {
            guard let number = Double(lower.dropLast(unit.count)), number > 0, number * Double(size) < 9e18 else {
                return nil
            }
            return BackfillBudget(bytes: Int(number * Double(size)))
        }
        var seconds = 0.0
        var digits = ""
        for character in lower {
            if character.isNumber || character == "." {
                digits.append(character)
                continue
            }
            guard let number = Double(digits) else { return nil }
            switch character {
            case "h": seconds += number * 3600
            case "m": seconds += number * 60
            case "s": seconds += number
            default: return nil
            }
            digits = ""
        }
        guard digits.isEmpty, seconds > 0 else { return nil }
        return BackfillBudget(seconds: seconds)
    }
}
