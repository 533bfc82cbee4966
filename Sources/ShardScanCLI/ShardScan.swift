import ArgumentParser

/// The `shardscan` command.
public struct ShardScan: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "shardscan",
        abstract: "Find leaked secrets and risky content in a git-sharded mirror of PyPI.",
        version: shardscanVersion,
        subcommands: [
            Scan.self, Findings.self, Triage.self, Summary.self, Report.self, Status.self, Demo.self, RulesCommand.self,
            ScanText.self, Hunt.self, Bench.self, MirrorCommand.self, Disclose.self, Merge.self,
        ]
    )

    public init() {}

    /// Runs the command line like swift-argument-parser's own entry point, except that usage errors exit
    /// with status 2, as every other error does (README), rather than 64; help and `--version` still exit 0.
    ///
    /// Only commands that await something (`mirror sync`, `bench`) are async. The others run on the main
    /// thread, outside Swift concurrency's few pool threads: a scan's walking thread waits on its workers for
    /// the whole run.
    @MainActor
    public static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}

/// The version printed by `--version` and written into reports.
public let shardscanVersion = "0.1.0"
