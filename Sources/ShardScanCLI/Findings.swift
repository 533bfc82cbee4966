import ArgumentParser
import ShardScanStore

/// `shardscan findings`: what the store knows, filtered.
struct Findings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List findings from the store: rule, project, version, release file, path, line and secret.",
        discussion: "Project names match case- and separator-insensitively (Flask_Login = flask-login)."
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var secrets: SecretOptions

    @Option(help: "Only this project.")
    var project: String?

    @Option(help: "Only this version (with or without --project).")
    var version: String?

    @Option(help: "Only this rule id.")
    var rule: String?

    @Option(help: "Only this shard.")
    var shard: String?

    @Option(help: "Only the places recorded by this run.")
    var run: Int64?

    @Option(help: "Output format.")
    var format: FindingsFormat = .table

    func run() async throws {
        let rows = try store.open().findings(
            FindingQuery(project: project, version: version, rule: rule, shard: shard, runID: run))
        print(try FindingsOutput.render(secrets.present(rows), as: format), terminator: "")
        if format == .table { printError("\(rows.count) findings") }
    }
}
