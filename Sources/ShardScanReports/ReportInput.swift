import Foundation
import ShardScanCore
import ShardScanStore

/// Which findings a report covers.
public enum ReportSelection: Sendable, Equatable, CustomStringConvertible {
    case run(Int64)
    case since(String)
    case project(String)
    case all
    /// What a delivery (`scan --json`, `report --new`) owes: every place recorded by the runs of the range.
    case delivery(DeliveryRange)
    /// The state of every shard that has or had findings: every place of every finding, with its triage
    /// status (what GitHub needs, since each upload replaces a category's alerts).
    case open

    var query: FindingQuery {
        switch self {
        case .run(let id): FindingQuery(runID: id)
        case .since(let date): FindingQuery(since: date)
        case .project(let name): FindingQuery(project: name)
        case .all, .open: FindingQuery()
        case .delivery(let range):
            {
                var query = FindingQuery()
                query.runs = range
                return query
            }()
        }
    }

    public var kind: String {
        switch self {
        case .run: "run"
        case .since: "since"
        case .project: "project"
        case .all: "all"
        case .delivery: "new"
        case .open: "open"
        }
    }

    public var value: String? {
        switch self {
        case .run(let id): "\(id)"
        case .since(let date): date
        case .project(let name): name
        case .all, .open: nil
        case .delivery(let range):
            range.isEmpty ? "no run after \(range.afterRun)" : "runs \(range.afterRun + 1)-\(range.throughRun)"
        }
    }

    public var description: String { value.map { "\(kind) \($0)" } ?? kind }
}

/// Everything a report is rendered from, read from the store (never from a scan's memory), so any
/// report can be made again later.
public struct ReportInput: Sendable {
    public var selection: ReportSelection
    /// In full; renderers redact unless told otherwise.
    public var rows: [FindingRow]
    public var rules: [String: RuleRecord]
    /// The runs that recorded the rows (for `.run`, that run even when it found nothing).
    public var runs: [RunRecord]
    /// Shards the selection covers even without findings (the shards of the run for `.run`).
    public var shards: [String]
    /// The triage of the rows' fingerprints that have one (a fingerprint missing here is `open`): status,
    /// comment (a SARIF suppression's justification), author and time.
    public var triage: [String: TriageRecord] = [:]

    public init(
        selection: ReportSelection, rows: [FindingRow], rules: [String: RuleRecord], runs: [RunRecord], shards: [String]
    ) {
        self.selection = selection
        self.rows = rows
        self.rules = rules
        self.runs = runs
        self.shards = shards
    }

    public init(store: Store, selection: ReportSelection) throws {
        self.selection = selection
        rows = try store.findings(selection.query)
        rules = try store.rules(ids: Set(rows.map(\.rule)))
        var runIDs = Set(rows.map(\.runID))
        var shardNames = Set(rows.map(\.shard))
        if case .run(let id) = selection {
            runIDs.insert(id)
            shardNames.formUnion(try store.shardOutcomes(runID: id).map(\.shard))
        }
        if case .delivery(let range) = selection, !range.isEmpty {
            // Every run a delivery covers is listed, with or without findings, so its reader sees what ran.
            for id in (range.afterRun + 1)...range.throughRun {
                runIDs.insert(id)
                shardNames.formUnion(try store.shardOutcomes(runID: id).map(\.shard))
            }
        }
        if case .open = selection {
            // A shard that had results once still needs its (now empty) run, or its alerts stay open forever.
            shardNames.formUnion(try store.sarifStates().keys)
        }
        runs = try store.runs(ids: runIDs)
        shards = shardNames.sorted()
        triage = try store.triage(fingerprints: Set(rows.map(\.fingerprint)))
    }
}
