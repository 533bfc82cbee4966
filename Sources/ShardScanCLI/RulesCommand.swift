import ArgumentParser

/// `shardscan rules`: tools for rule authors.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check and test rule packs.",
        subcommands: [RulesCheck.self, RulesTest.self]
    )
}
