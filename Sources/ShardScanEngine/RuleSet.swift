import PCRE2
import ShardScanCore

/// A rule with its patterns compiled.
///
/// A class: a matcher looks at several rules for every file it scans, and a copy of the struct this was cost a
/// retain and a release of each of its references (the rule's strings and lists, the regexes) every time.
public final class CompiledRule: Sendable {
    public let rule: Rule
    let regex: Regex
    /// The capture group that holds the secret.
    let secretGroup: Int
    /// The capture group named `id`, if any: the identifier a pair rule found with its secret (a SecretId
    /// before its SecretKey). Its bytes belong to the pair's finding, so no other rule reports them again.
    let idGroup: Int?
    /// The filters a secret must pass: the rule's own, and for secret rules the `global:` ones too.
    let stopwords: [String]
    let allow: [Regex]
    let allowContext: [Regex]
    let validator: TokenValidator?
    /// A co-occurrence rule's parts, `all` ones first; empty for a plain rule.
    let parts: [CompiledPart]

    init(
        rule: Rule, regex: Regex, secretGroup: Int, idGroup: Int?, stopwords: [String], allow: [Regex],
        allowContext: [Regex], validator: TokenValidator?, parts: [CompiledPart]
    ) {
        self.rule = rule
        self.regex = regex
        self.secretGroup = secretGroup
        self.idGroup = idGroup
        self.stopwords = stopwords
        self.allow = allow
        self.allowContext = allowContext
        self.validator = validator
        self.parts = parts
    }

    /// Whether a secret its validator rejects is kept from every other rule too (see `Matcher.settle`).
    var rejectsForOthers: Bool { validator != nil && rule.onInvalid == .suppress }
}

/// One compiled part of a co-occurrence rule.
struct CompiledPart: Sendable {
    let name: String
    let regex: Regex
    /// From `all:` (must be found) rather than `any:` (one of them must be).
    let required: Bool
}

/// Rules compiled once and shared by every matcher. Rules that do not compile are left out and
/// reported in ``diagnostics``; the others work.
public struct RuleSet: Sendable {
    public let rules: [CompiledRule]
    /// Load and compile problems, in file order, and notes on how rules will run.
    public let diagnostics: [RuleDiagnostic]
    /// The `global:` filters every secret rule obeys, as declared.
    public let global: GlobalFilters
    /// Gates rules by one Hyperscan pass over each blob.
    public let prefilter: Prefilter
    /// The rules that read the statement view.
    let statementRules: [Int]
    /// The distinct `paths` of the rules, and per rule the index of its own: most rules share one of a few
    /// (`*.py`, none), so a matcher asks each of them once per file.
    let pathFilters: [PathFilter]
    let pathFilterOfRule: [Int]
    /// Whether some rule reads the statement view, so Python files are worth joining into statements.
    var hasStatementRules: Bool { !statementRules.isEmpty }

    static func statementRules(_ rules: [CompiledRule]) -> [Int] {
        rules.indices.filter { rules[$0].rule.view == .statements }
    }

    static func indexPathFilters(_ rules: [CompiledRule]) -> (filters: [PathFilter], ofRule: [Int]) {
        var filters: [PathFilter] = []
        let ofRule = rules.map { compiled in
            if let known = filters.firstIndex(of: compiled.rule.paths) { return known }
            filters.append(compiled.rule.paths)
            return filters.count - 1
        }
        return (filters, ofRule)
    }

    public var errors: [RuleDiagnostic] { diagnostics.filter { $0.level == .error } }

    /// The digest blobs scanned by this rule set are remembered under.
    public func digest(engineVersion: String) -> String {
        Rule.digest(of: rules.map(\.rule), global: global, engineVersion: engineVersion)
    }

    /// Compiles every loaded rule, and the prefilter over them (kept in `cacheDirectory`, when given,
    /// so the next run loads it instead of compiling).
    public init(_ loaded: LoadedRules, cacheDirectory: String? = nil) {
        self.init(loaded, cacheDirectory: cacheDirectory, prefiltered: true)
    }

    /// `prefiltered: false` runs every rule over every buffer: the reference the prefilter is tested against.
    init(_ loaded: LoadedRules, cacheDirectory: String?, prefiltered: Bool) {
        var diagnostics = loaded.diagnostics
        // A bad global pattern is reported and left out; the rules still run.
        func compileGlobal(_ patterns: [AllowPattern], field: String) -> [Regex] {
            patterns.compactMap { pattern in
                let (regexes, problems) = Self.compileAll([pattern], rule: nil, field: field)
                diagnostics += problems
                return regexes?.first
            }
        }
        let globalAllow = compileGlobal(loaded.global.allow, field: "global allow")
        let globalAllowContext = compileGlobal(loaded.global.allowContext, field: "global allow_context")
        // Side by side on the cores: compiling and JIT-compiling some 300 patterns was a tenth of a scan's start.
        let outcomes = loaded.rules.concurrentMap { [global = loaded.global] rule in
            Self.compile(rule, global: global, globalAllow: globalAllow, globalAllowContext: globalAllowContext)
        }
        var compiled: [CompiledRule] = []
        for (rule, problems) in outcomes {
            diagnostics += problems
            if let rule { compiled.append(rule) }
        }
        global = loaded.global

        let rules = compiled.map(\.rule)
        do {
            prefilter =
                prefiltered
                ? try Prefilter(rules: rules, cacheDirectory: cacheDirectory)
                : Prefilter(ungated: rules, reason: "prefilter turned off")
        } catch {
            prefilter = Prefilter(ungated: rules, reason: "Hyperscan failed: \(error.description)")
            diagnostics.append(
                RuleDiagnostic(
                    .warning, SourceLocation(file: loaded.files.first ?? "<rules>", line: 0),
                    "the Hyperscan prefilter could not be built (\(error.description)); every rule runs on every blob"))
        }
        for (index, reason) in prefilter.rejections.sorted(by: { $0.key < $1.key }) where prefilter.isGating {
            let rule = rules[index]
            // The pack asked for it (`hyperscan: false`): nothing to tell its author.
            guard rule.hyperscan else { continue }
            let fallback =
                if case .keywords = prefilter.gates[index] {
                    "it runs only on files holding one of its keywords"
                } else {
                    "it runs PCRE2 over every file (slower)"
                }
            diagnostics.append(
                RuleDiagnostic(
                    .note, SourceLocation(file: rule.source.file, line: rule.patternLine), rule: rule.id,
                    "Hyperscan cannot prefilter this pattern (\(reason)); \(fallback)"))
        }
        self.rules = compiled
        statementRules = Self.statementRules(compiled)
        (pathFilters, pathFilterOfRule) = Self.indexPathFilters(compiled)
        self.diagnostics = diagnostics.sorted {
            ($0.location.file, $0.location.line) < ($1.location.file, $1.location.line)
        }
    }

    /// Compiles `patterns` (a rule's `allow` or `allow_context`, or a global one); `nil` with the problem when one
    /// does not compile.
    private static func compileAll(_ patterns: [AllowPattern], rule: String?, field: String) -> (
        [Regex]?, [RuleDiagnostic]
    ) {
        var regexes: [Regex] = []
        for allow in patterns {
            do {
                regexes.append(try Regex(allow.pattern))
            } catch {
                return (
                    nil,
                    [
                        RuleDiagnostic(
                            .error, allow.source, rule: rule,
                            "`\(field)` pattern does not compile: \(error.description)")
                    ]
                )
            }
        }
        return (regexes, [])
    }

    /// `rule` compiled, or `nil` with why not.
    private static func compile(
        _ rule: Rule, global: GlobalFilters, globalAllow: [Regex], globalAllowContext: [Regex]
    ) -> (CompiledRule?, [RuleDiagnostic]) {
        let at = SourceLocation(file: rule.source.file, line: rule.patternLine)
        var parts: [CompiledPart] = []
        if let cooccurrence = rule.cooccurrence {
            // Each part on its own first, so that an error names the part and its line.
            var problems: [RuleDiagnostic] = []
            for part in cooccurrence.parts {
                do {
                    parts.append(
                        CompiledPart(
                            name: part.name, regex: try Regex(part.pattern), required: cooccurrence.all.contains(part)))
                } catch {
                    problems.append(
                        RuleDiagnostic(
                            .error, SourceLocation(file: rule.source.file, line: part.line), rule: rule.id,
                            "part `\(part.name)` does not compile: \(error.description)"))
                }
            }
            if !problems.isEmpty { return (nil, problems) }
        }
        do {
            let regex = try Regex(rule.pattern)
            guard let group = regex.groupNumber(named: "secret") ?? (regex.captureCount >= 1 ? 1 : nil) else {
                return (
                    nil,
                    [
                        RuleDiagnostic(
                            .error, at, rule: rule.id,
                            "pattern has no secret group: name one `(?<secret>…)` or add a group")
                    ]
                )
            }
            let (allow, allowProblems) = compileAll(rule.allow, rule: rule.id, field: "allow")
            guard let allow else { return (nil, allowProblems) }
            let (allowContext, contextProblems) = compileAll(rule.allowContext, rule: rule.id, field: "allow_context")
            guard let allowContext else { return (nil, contextProblems) }
            let isSecret = rule.kind == .secret
            return (
                CompiledRule(
                    rule: rule, regex: regex, secretGroup: group, idGroup: regex.groupNumber(named: "id"),
                    stopwords: isSecret ? rule.stopwords + global.stopwords : rule.stopwords,
                    allow: isSecret ? allow + globalAllow : allow,
                    allowContext: isSecret ? allowContext + globalAllowContext : allowContext,
                    validator: rule.validator.flatMap(TokenValidator.init(rawValue:)), parts: parts),
                []
            )
        } catch {
            return (nil, [RuleDiagnostic(.error, at, rule: rule.id, "pattern does not compile: \(error.description)")])
        }
    }

    /// The rules at `indices` alone, with a prefilter of their own: what a backfill runs over blobs that lack
    /// just those rules, so that the Hyperscan pass costs what they cost, not what the whole set does.
    func subset(_ indices: [Int]) -> RuleSet {
        RuleSet(subsetOf: self, indices)
    }

    private init(subsetOf whole: RuleSet, _ indices: [Int]) {
        rules = indices.map { whole.rules[$0] }
        let plain = rules.map(\.rule)
        do {
            prefilter = try Prefilter(rules: plain, cacheDirectory: nil)
        } catch {
            prefilter = Prefilter(ungated: plain, reason: "Hyperscan failed: \(error.description)")
        }
        diagnostics = []
        global = whole.global
        statementRules = Self.statementRules(rules)
        (pathFilters, pathFilterOfRule) = Self.indexPathFilters(rules)
    }

    /// Loads and compiles the packs at `paths`.
    public static func load(paths: [String], cacheDirectory: String? = Prefilter.defaultCacheDirectory) -> RuleSet {
        RuleSet(RulePackLoader.load(paths: paths), cacheDirectory: cacheDirectory)
    }

    /// The index of the rule with id `ruleID`, if it compiled.
    public func index(of ruleID: String) -> Int? {
        rules.firstIndex { $0.rule.id == ruleID }
    }
}
