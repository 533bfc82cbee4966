import ArgumentParser
import ShardScanCore
import ShardScanStore

/// `shardscan findings`: what the store knows, filtered.
struct Findings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List findings from the store: rule, project, version, release file, path, line and secret.",
        discussion: """
            Project names match case- and separator-insensitively (Flask_Login = flask-login). The table shows \
            each finding's fingerprint (its first 12 digits, enough for `shardscan triage`) and triage status.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var secrets: SecretOptions

    @Option(help: "Only this project.", completion: Completions.projects)
    var project: String?

    // Not `--version`: that is the tool's own version, which a filter of the same name would hide.
    @Option(help: "Only this release version (with or without --project).")
    var releaseVersion: String?

    @Option(help: "Only this rule id.", completion: Completions.ruleIDs)
    var rule: String?

    @Option(help: "Only this shard.", completion: Completions.shards)
    var shard: String?

    // Not `run`: a property of that name would clash with the command's `run()`.
    @Option(name: .customLong("run"), help: ArgumentHelp("Only the places recorded by this run.", valueName: "run"))
    var runID: Int64?

    @Option(help: "Only the places recorded by runs started on or after this date (YYYY-MM-DD or ISO 8601, UTC).")
    var since: String?

    @Option(
        help: ArgumentHelp(
            "Only findings with this triage status (\(TriageStatus.allCases.map(\.rawValue).joined(separator: ", "))), or triaged for any but open.",
            valueName: "status"))
    var status: String?

    @Option(help: "Only findings at least this sure (high, medium, low).")
    var minConfidence: Confidence?

    @Option(help: "Only findings of rules at least this severe (critical, high, medium, low, info).")
    var severity: Severity?

    @Option(help: "Only credentials (secret) or risky content (content).")
    var kind: RuleKind?

    @Option(help: "Output format.")
    var format: FindingsFormat = .table

    func validate() throws {
        if let status, Self.statuses(status) == nil {
            throw ValidationError(
                "--status takes \(TriageStatus.allCases.map(\.rawValue).joined(separator: ", ")) or triaged, not '\(status)'"
            )
        }
        if let since, !Report.isDate(since) {
            throw ValidationError("--since takes a date like 2026-11-21 or 2026-11-21T04:00:00Z, not '\(since)'")
        }
    }

    /// The statuses `--status` names: one, or every one but `open` for `triaged`.
    static func statuses(_ text: String) -> Set<TriageStatus>? {
        if text == "triaged" { return Set(TriageStatus.allCases.filter(\.isTriaged)) }
        return TriageStatus(rawValue: text).map { [$0] }
    }

    func run() throws {
        var query = FindingQuery(
            project: project, version: releaseVersion, rule: rule, shard: shard, runID: runID, since: since)
        query.statuses = status.flatMap(Self.statuses)
        query.minConfidence = minConfidence
        query.minSeverity = severity
        query.kind = kind
        let rows = try store.open().findings(query)
        print(try FindingsOutput.render(secrets.present(rows), as: format), terminator: "")
        if format == .table { printError("\(rows.count) findings") }
    }
}
