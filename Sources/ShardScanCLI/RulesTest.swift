import ArgumentParser
import ShardScanCore
import ShardScanEngine

/// `shardscan rules test`: runs examples and negative examples.
struct RulesTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run every rule's examples and negative examples.",
        discussion: "Prints one line per failure and ends with 'N passed, N failed'."
    )

    @Argument(help: "Rule pack files or folders (default: the Rules folder).", completion: .file())
    var paths: [String] = []

    @Option(help: "Test only the rule with this id.", completion: Completions.ruleIDs)
    var rule: String?

    func run() throws {
        let packs = try RuleOptions.resolve(paths)
        let ruleSet = RuleSet.load(paths: packs)
        for error in ruleSet.errors { printError(error.description) }
        if let rule, !ruleSet.rules.contains(where: { $0.rule.id == rule }) {
            throw ValidationError("no rule with id \(rule) compiled from \(packs.joined(separator: ", "))")
        }
        let results = RuleTester.run(ruleSet, ruleID: rule)
        var failed = 0
        for result in results where !result.passed {
            failed += 1
            let kind = result.isNegative ? "negative example" : "example"
            print("FAIL \(result.ruleID) \(kind) at \(result.location): \(result.problem ?? "")")
        }
        print("\(results.count - failed) passed, \(failed) failed")
        if failed > 0 || !ruleSet.errors.isEmpty { throw ExitCode.failure }
    }
}
