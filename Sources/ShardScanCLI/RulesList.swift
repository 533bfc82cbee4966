import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanEngine

/// `shardscan rules list`: every rule of the packs, one line each.
struct RulesList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the rules of the packs: id, kind, severity, confidence, keywords, validator.",
        discussion: """
            Packs that do not load are reported as `rules check` reports them (exit 2); the rules that did load \
            are still listed, so a broken pack shows what it would have added.
            """
    )

    @Argument(help: "Rule pack files or folders (default: the Rules folder).", completion: .file())
    var paths: [String] = []

    @Option(help: "Only rules of this kind (secret or content).")
    var kind: RuleKind?

    @Flag(help: "One JSON array of rule objects instead of a table.")
    var json = false

    func run() throws {
        let loaded = RulePackLoader.load(paths: try RuleOptions.resolve(paths))
        let rules = loaded.rules.filter { kind == nil || $0.kind == kind }.sorted { $0.id < $1.id }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(rules.map(RuleSummary.init)), as: UTF8.self))
        } else {
            var table = TextTable(headers: ["ID", "KIND", "SEVERITY", "CONFIDENCE", "KEYWORDS", "VALIDATOR"])
            table.shrinkable = [0, 4, 5]
            table.shrinkFirst = [4]
            for rule in rules {
                table.rows.append(
                    [
                        rule.id, rule.kind.rawValue, rule.severity.rawValue, rule.confidence.rawValue,
                        rule.keywords.joined(separator: ","), rule.validator ?? "-",
                    ].map(terminalSafe))
            }
            print(table.render(width: TerminalWidth.of()), terminator: "")
            print("\(rules.count) rules in \(loaded.files.count) files")
        }
        let errors = loaded.diagnostics.filter { $0.level == .error }
        for error in errors { printError(error.description) }
        if !errors.isEmpty { throw ExitCode(2) }
    }
}

/// One rule in `rules list --json`.
struct RuleSummary: Encodable {
    var id: String
    var kind: String
    var severity: String
    var confidence: String
    var keywords: [String]
    var validator: String?
    var file: String
    var line: Int

    init(_ rule: Rule) {
        id = rule.id
        kind = rule.kind.rawValue
        severity = rule.severity.rawValue
        confidence = rule.confidence.rawValue
        keywords = rule.keywords
        validator = rule.validator
        file = rule.source.file
        line = rule.source.line
    }
}
