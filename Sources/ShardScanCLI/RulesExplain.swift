import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanEngine

/// `shardscan rules explain ID`: everything that decides what one rule finds.
struct RulesExplain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show one rule: pattern, keywords, entropy, validator, filters, paths, prefilter and examples.",
        discussion: """
            Filters include the packs' `global:` stopwords and allow patterns, which every secret rule obeys. \
            Exit status: 0 shown, 1 no rule has that id, 2 a pack does not load.
            """
    )

    @Argument(help: "The rule id, such as github.pat-classic.")
    var id: String

    @OptionGroup var rules: RuleOptions

    @Flag(help: "One JSON object instead of text.")
    var json = false

    func run() throws {
        let ruleSet = RuleSet.load(paths: try rules.resolvedPaths())
        let errors = ruleSet.errors
        for error in errors { printError(error.description) }
        guard let index = ruleSet.index(of: id) else {
            let ids = ruleSet.rules.map(\.rule.id)
            var message = "error: no rule `\(terminalSafe(id))` in the packs"
            message += RulePackLoader.didYouMean(id, among: ids)
            let sharingPrefix = ids.filter { $0.hasPrefix(id + ".") || $0.hasPrefix(id + "-") }
            if !sharingPrefix.isEmpty { message += " (rules under it: \(sharingPrefix.joined(separator: ", ")))" }
            printError(message)
            throw errors.isEmpty ? ExitCode.failure : ExitCode(2)
        }
        let explanation = RuleExplanation(
            ruleSet.rules[index].rule, global: ruleSet.global, gate: ruleSet.prefilter.gates[index])
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(explanation), as: UTF8.self))
        } else {
            print(explanation.text(), terminator: "")
        }
        if !errors.isEmpty { throw ExitCode(2) }
    }
}

/// What `rules explain` shows of a rule: its own fields, the global filters it obeys, and how the prefilter
/// gates it.
struct RuleExplanation: Encodable {
    struct Example: Encodable {
        var text: String
        var path: String?
        var line: Int
    }

    var id: String
    var name: String
    var kind: String
    var severity: String
    var confidence: String
    var description: String
    var file: String
    var line: Int
    var pattern: String
    var patternLine: Int
    var keywords: [String]
    var minEntropy: Double?
    var validator: String?
    var onInvalid: String?
    var pathsInclude: [String]
    var pathsExclude: [String]
    var stopwords: [String]
    var allow: [String]
    var allowContext: [String]
    var globalStopwords: [String]
    var globalAllow: [String]
    var globalAllowContext: [String]
    /// `pattern` (Hyperscan runs the pattern itself), `keywords` (the rule runs where a keyword occurs), or
    /// `always` (the rule runs on every blob).
    var prefilter: String
    var categories: [String]
    var references: [String]
    var examples: [Example]
    var negativeExamples: [Example]

    enum CodingKeys: String, CodingKey {
        case id, name, kind, severity, confidence, description, file, line, pattern, keywords, validator
        case patternLine = "pattern_line"
        case minEntropy = "min_entropy"
        case onInvalid = "on_invalid"
        case pathsInclude = "paths_include"
        case pathsExclude = "paths_exclude"
        case stopwords, allow
        case allowContext = "allow_context"
        case globalStopwords = "global_stopwords"
        case globalAllow = "global_allow"
        case globalAllowContext = "global_allow_context"
        case prefilter, categories, references, examples
        case negativeExamples = "negative_examples"
    }

    init(_ rule: Rule, global: GlobalFilters, gate: Prefilter.Gate) {
        id = rule.id
        name = rule.name
        kind = rule.kind.rawValue
        severity = rule.severity.rawValue
        confidence = rule.confidence.rawValue
        description = rule.description
        file = rule.source.file
        line = rule.source.line
        pattern = rule.pattern
        patternLine = rule.patternLine
        keywords = rule.keywords
        minEntropy = rule.minEntropy
        validator = rule.validator
        onInvalid = rule.validator == nil ? nil : rule.onInvalid.rawValue
        pathsInclude = rule.paths.include.map(\.pattern)
        pathsExclude = rule.paths.exclude.map(\.pattern)
        stopwords = rule.stopwords
        allow = rule.allow.map(\.pattern)
        allowContext = rule.allowContext.map(\.pattern)
        // Only secret rules obey the global filters.
        let obeysGlobal = rule.kind == .secret
        globalStopwords = obeysGlobal ? global.stopwords : []
        globalAllow = obeysGlobal ? global.allow.map(\.pattern) : []
        globalAllowContext = obeysGlobal ? global.allowContext.map(\.pattern) : []
        switch gate {
        case .pattern: prefilter = "pattern"
        case .keywords: prefilter = "keywords"
        case .always: prefilter = "always"
        }
        categories = rule.categories
        references = rule.references
        examples = rule.examples.map { Example(text: $0.text, path: $0.path, line: $0.line) }
        negativeExamples = rule.negativeExamples.map { Example(text: $0.text, path: $0.path, line: $0.line) }
    }

    /// The human form: one field a line, lists indented under their heading.
    func text() -> String {
        var out = ""
        func field(_ name: String, _ value: String) { out += "\(name): \(terminalSafe(value))\n" }
        func list(_ name: String, _ values: [String]) {
            guard !values.isEmpty else { return }
            out += "\(name):\n"
            for value in values { out += "  \(terminalSafe(value))\n" }
        }
        field("rule", id)
        if !name.isEmpty { field("name", name) }
        field("kind", "\(kind), severity \(severity), confidence \(confidence)")
        field("defined at", "\(file):\(line)")
        if !description.isEmpty { field("description", description) }
        field("pattern (line \(patternLine))", pattern)
        field("keywords", keywords.isEmpty ? "none (the pattern alone decides)" : keywords.joined(separator: ", "))
        if let minEntropy { field("min entropy", String(format: "%.2f bits per byte", minEntropy)) }
        if let validator { field("validator", "\(validator) (on invalid: \(onInvalid ?? "suppress"))") }
        list("paths include", pathsInclude)
        list("paths exclude", pathsExclude)
        list("stopwords", stopwords)
        list("allow", allow)
        list("allow context", allowContext)
        if !globalStopwords.isEmpty {
            field("global stopwords", "\(globalStopwords.count) (rules explain --json lists them)")
        }
        list("global allow", globalAllow)
        list("global allow context", globalAllowContext)
        switch prefilter {
        case "pattern": field("prefilter", "Hyperscan runs the pattern; PCRE2 confirms where it matches")
        case "keywords": field("prefilter", "runs where a keyword occurs")
        // Out of Hyperscan (refused, or `hyperscan: false`), a rule is still held to its `paths`.
        default:
            field("prefilter", pathsInclude.isEmpty ? "runs on every blob" : "runs on every file its paths include")
        }
        list("categories", categories)
        list("references", references)
        func exampleList(_ heading: String, _ examples: [Example]) {
            out += "\(heading) (\(examples.count)):\n"
            for example in examples {
                let location = "line \(example.line)" + (example.path.map { ", path \($0)" } ?? "")
                out += "  [\(terminalSafe(location))]\n"
                for line in example.text.split(separator: "\n", omittingEmptySubsequences: false) {
                    out += "    \(terminalSafe(String(line)))\n"
                }
            }
        }
        exampleList("examples", examples)
        exampleList("negative examples", negativeExamples)
        return out
    }
}
