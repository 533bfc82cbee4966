import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanEngine

/// `shardscan scan-text`: the rule author's loop over one file.
struct ScanText: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan-text",
        abstract: "Scan one file (or standard input) and print what the rules find.",
        discussion: "Exit status: 0 nothing found, 1 findings, 2 error. Secrets are redacted unless --show-secrets."
    )

    @OptionGroup var rules: RuleOptions

    @Option(help: "Output format.")
    var format: TextFormat = .table

    @Flag(help: "Print secrets in full instead of redacted.")
    var showSecrets = false

    @Argument(
        help: "The file to scan; - for standard input. Its path is what the rules' `paths` globs see.",
        completion: .file())
    var file: String = "-"

    enum TextFormat: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    func run() throws {
        let ruleSet = try rules.loadRuleSet()

        let data: Data
        do {
            data =
                file == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            printError("error: cannot read \(terminalSafe(file)): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        let matcher = Matcher(ruleSet: ruleSet)
        let outcome = data.withUnsafeBytes { matcher.scan($0, path: file == "-" ? nil : file) }
        let rulesByID = Dictionary(ruleSet.rules.map { ($0.rule.id, $0.rule) }, uniquingKeysWith: { first, _ in first })
        // Every secret in the file is masked in every snippet, content findings' included.
        let secrets = outcome.findings.filter { rulesByID[$0.ruleID]?.kind != .content }.map(\.mask)

        switch format {
        case .json:
            let report = TextScanReport(
                file: file,
                findings: outcome.findings.map {
                    TextScanReport.Row($0, rule: rulesByID[$0.ruleID], secrets: secrets, showSecrets: showSecrets)
                },
                ruleFailures: outcome.failures)
            print(try jsonText(report))
        case .table:
            var table = TextTable(
                headers: ["WHERE", "RULE", "SEVERITY", "SECRET", "FACTS"], shrinkable: [0, 1, 3], shrinkFirst: [4])
            for finding in outcome.findings {
                let rule = rulesByID[finding.ruleID]
                let shown = finding.presented(
                    kind: rule?.kind ?? .secret, secrets: secrets, showSecrets: showSecrets
                ).match
                table.rows.append([
                    "\(terminalSafe(file)):\(finding.line):\(finding.column)", terminalSafe(finding.ruleID),
                    rule?.severity.rawValue ?? "", terminalSafe(shown), terminalSafe(factsSummary(finding.facts)),
                ])
            }
            print(table.render(width: TerminalWidth.of()), terminator: "")
            printError("\(outcome.findings.count) findings in \(data.count) bytes from \(ruleSet.rules.count) rules")
        }
        for failure in outcome.failures { printError("warning: \(failure)") }
        if !outcome.findings.isEmpty { throw ExitCode(1) }
    }
}

/// The JSON form of `scan-text` output.
struct TextScanReport: Encodable {
    var file: String
    var findings: [Row]
    var ruleFailures: [RuleFailure]

    enum CodingKeys: String, CodingKey {
        case file, findings
        case ruleFailures = "rule_failures"
    }

    struct Row: Encodable {
        var rule: String
        var name: String
        var severity: String
        var confidence: String
        var line: Int
        var column: Int
        var endLine: Int
        var endColumn: Int
        var secret: String
        var entropy: Double
        var snippet: String
        var kind: String
        var facts: [String: String]

        enum CodingKeys: String, CodingKey {
            case rule, name, severity, confidence, line, column, secret, entropy, snippet, kind, facts
            case endLine = "end_line"
            case endColumn = "end_column"
        }

        init(_ finding: Finding, rule: Rule?, secrets: [SecretMask], showSecrets: Bool) {
            self.rule = finding.ruleID
            self.name = rule?.name ?? ""
            self.severity = rule?.severity.rawValue ?? ""
            self.confidence = finding.confidence?.rawValue ?? rule?.confidence.rawValue ?? ""
            self.line = finding.line
            self.column = finding.column
            self.endLine = finding.endLine
            self.endColumn = finding.endColumn
            let shown = finding.presented(kind: rule?.kind ?? .secret, secrets: secrets, showSecrets: showSecrets)
            self.secret = shown.match
            self.entropy = (finding.entropy * 1000).rounded() / 1000
            self.snippet = shown.snippet
            self.kind = (rule?.kind ?? .secret).rawValue
            self.facts = finding.facts
        }
    }
}
