import ArgumentParser

/// The `shardscan` command.
public struct ShardScan: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "shardscan",
        abstract: "Find leaked secrets and risky content in a git-sharded mirror of PyPI.",
        version: shardscanVersion,
        subcommands: [
            Scan.self, Findings.self, Report.self, Status.self, Demo.self, RulesCommand.self, ScanText.self, Bench.self,
            MirrorCommand.self,
        ]
    )

    public init() {}
}

/// The version printed by `--version` and written into reports.
public let shardscanVersion = "0.1.0"
