import ArgumentParser

/// `shardscan rules`: tools for rule authors.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check, test, list, explain and profile rule packs.",
        subcommands: [RulesCheck.self, RulesTest.self, RulesList.self, RulesExplain.self, RulesProfile.self]
    )
}
