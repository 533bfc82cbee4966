import ArgumentParser
import ShardScanCore
import ShardScanEngine

/// `shardscan rules check`: every rule parses, compiles and passes its own examples.
struct RulesCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse and compile rule packs and run their examples; exit 0 only when all pass.",
        discussion: """
            Problems are printed as file:line: error: rule ID: message.
            Exit status: 0 all pass, 1 an example fails, 2 a pack does not load or compile (scan refuses such packs).
            """
    )

    @Argument(help: "Rule pack files or folders (default: the Rules folder).", completion: .file())
    var paths: [String] = []

    func run() throws {
        let packs = try RuleOptions.resolve(paths)
        let loaded = RulePackLoader.load(paths: packs)
        let ruleSet = RuleSet(loaded, cacheDirectory: Prefilter.defaultCacheDirectory)
        var problems = ruleSet.diagnostics
        for result in RuleTester.run(ruleSet) where !result.passed {
            problems.append(RuleDiagnostic(.error, result.location, rule: result.ruleID, result.problem ?? "failed"))
        }
        for compiled in ruleSet.rules {
            let rule = compiled.rule
            if rule.examples.isEmpty {
                problems.append(RuleDiagnostic(.warning, rule.source, rule: rule.id, "no examples"))
            }
            if rule.negativeExamples.isEmpty {
                problems.append(RuleDiagnostic(.warning, rule.source, rule: rule.id, "no negative examples"))
            }
        }
        problems.sort { ($0.location.file, $0.location.line) < ($1.location.file, $1.location.line) }
        for problem in problems { print(problem) }
        let errors = problems.filter { $0.level == .error }.count
        let warnings = problems.filter { $0.level == .warning }.count
        let prefiltered = ruleSet.prefilter.gates.filter { if case .pattern = $0 { true } else { false } }.count
        print(
            "\(loaded.files.count) files, \(ruleSet.rules.count) rules compiled: \(errors) errors, \(warnings) warnings; \(prefiltered) of \(ruleSet.rules.count) prefiltered by Hyperscan"
        )
        // A pack that does not load is what `scan` refuses to run with; failing examples are a rule to fix.
        if !ruleSet.errors.isEmpty { throw ExitCode(2) }
        if errors > 0 { throw ExitCode.failure }
    }
}
