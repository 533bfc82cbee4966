import PCRE2
import ShardScanCore

/// A rule with its pattern compiled.
public struct CompiledRule: Sendable {
    public let rule: Rule
    let regex: Regex
    /// The capture group that holds the secret.
    let secretGroup: Int
}

/// Rules compiled once and shared by every matcher. Rules that do not compile are left out and
/// reported in ``diagnostics``; the others work.
public struct RuleSet: Sendable {
    public let rules: [CompiledRule]
    /// Load and compile problems, in file order.
    public let diagnostics: [RuleDiagnostic]

    public var errors: [RuleDiagnostic] { diagnostics.filter { $0.level == .error } }

    /// Compiles every loaded rule.
    public init(_ loaded: LoadedRules) {
        var compiled: [CompiledRule] = []
        var diagnostics = loaded.diagnostics
        for rule in loaded.rules {
            let at = SourceLocation(file: rule.source.file, line: rule.patternLine)
            do {
                let regex = try Regex(rule.pattern)
                guard let group = regex.groupNumber(named: "secret") ?? (regex.captureCount >= 1 ? 1 : nil) else {
                    diagnostics.append(
                        RuleDiagnostic(
                            .error, at, rule: rule.id,
                            "pattern has no secret group: name one `(?<secret>…)` or add a group"))
                    continue
                }
                compiled.append(CompiledRule(rule: rule, regex: regex, secretGroup: group))
            } catch {
                diagnostics.append(
                    RuleDiagnostic(.error, at, rule: rule.id, "pattern does not compile: \(error.description)"))
            }
        }
        self.rules = compiled
        self.diagnostics = diagnostics.sorted {
            ($0.location.file, $0.location.line) < ($1.location.file, $1.location.line)
        }
    }

    /// Loads and compiles the packs at `paths`.
    public static func load(paths: [String]) -> RuleSet {
        RuleSet(RulePackLoader.load(paths: paths))
    }

    /// The subset with the given rule id, keeping diagnostics; `nil` when no such rule compiled.
    public func only(ruleID: String) -> RuleSet? {
        let kept = rules.filter { $0.rule.id == ruleID }
        return kept.isEmpty ? nil : RuleSet(rules: kept, diagnostics: diagnostics)
    }

    init(rules: [CompiledRule], diagnostics: [RuleDiagnostic]) {
        self.rules = rules
        self.diagnostics = diagnostics
    }
}
