import PCRE2
import ShardScanCore

/// The verdict on one example or negative example of a rule.
public struct ExampleResult: Sendable, Equatable {
    public var ruleID: String
    public var location: SourceLocation
    public var isNegative: Bool
    public var passed: Bool
    /// Why it failed, for people.
    public var problem: String?
}

/// Runs rules against their own examples, as `rules check` and `rules test` do.
public enum RuleTester {
    /// Limits for examples: a sane pattern needs a few thousand steps on an example; one that needs
    /// more than this will hang on real files. The interpreter runs them, so steps are counted exactly.
    public static let exampleBudget = MatchLimits(
        matchSteps: 1_000_000, depth: 10_000, heapKiB: 16 * 1024, jitStackBytes: 1 << 20)

    /// Every example and negative example of every rule (or of `ruleID` only), in rule order.
    public static func run(_ ruleSet: RuleSet, ruleID: String? = nil) -> [ExampleResult] {
        var results: [ExampleResult] = []
        let matcher = Matcher(ruleSet: ruleSet, limits: exampleBudget, useJIT: false)
        for (index, compiled) in ruleSet.rules.enumerated() where ruleID == nil || compiled.rule.id == ruleID {
            let rule = compiled.rule
            for (examples, negative) in [(rule.examples, false), (rule.negativeExamples, true)] {
                for example in examples {
                    let outcome = matcher.scan(text: example.text, path: example.path, onlyRule: index)
                    let at = SourceLocation(file: rule.source.file, line: example.line)
                    var problem: String?
                    if let failure = outcome.failures.first {
                        problem = "pattern exceeds the backtracking budget on this example (\(failure.message))"
                    } else if negative, let finding = outcome.findings.first {
                        problem = "negative example matched: \(redact(finding.secret)) at 1:\(finding.column)"
                    } else if !negative && outcome.findings.isEmpty {
                        problem = "example did not match" + Self.hint(rule, compiled, example)
                    }
                    results.append(
                        ExampleResult(
                            ruleID: rule.id, location: at, isNegative: negative, passed: problem == nil,
                            problem: problem))
                }
            }
        }
        return results
    }

    /// Says which gate rejected a pattern match, so the author knows what to fix.
    private static func hint(_ rule: Rule, _ compiled: CompiledRule, _ example: RuleExample) -> String {
        guard rule.paths.admits(example.path) else { return " (its path is outside the rule's `paths`)" }
        let scratch = MatchScratch(limits: exampleBudget)
        var text = example.text
        let match = text.withUTF8 { try? compiled.regex.firstMatch(in: UnsafeRawBufferPointer($0), scratch: scratch) }
        guard let match = match ?? nil else { return " (the pattern does not match)" }
        guard let range = match.groups[compiled.secretGroup] else { return " (the secret group is empty)" }
        let secret = Array(example.text.utf8)[range]
        if let minimum = rule.minEntropy, shannonEntropy(secret) < minimum {
            let entropy = (shannonEntropy(secret) * 100).rounded() / 100
            return " (secret entropy \(entropy) is below min_entropy \(minimum))"
        }
        if let validator = compiled.validator, !validator.validate(String(decoding: secret, as: UTF8.self)).isValid {
            return " (the secret fails its `validate: \(validator.rawValue)` check)"
        }
        if !rule.keywords.isEmpty { return " (no keyword near the match, or a stop-word or allow pattern hit)" }
        return " (a stop-word or allow pattern marks it as a placeholder)"
    }
}
