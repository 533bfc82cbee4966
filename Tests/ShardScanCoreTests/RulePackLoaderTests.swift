import Foundation
import ShardScanCore
import Testing

@Suite struct RulePackLoaderTests {
    @Test func readsEveryField() throws {
        let yaml = """
            rules:
              - id: demo.token
                name: Demo token
                pattern: 'demo_(?<secret>[a-z0-9]{8})'
                min_entropy: 2.5
                keywords: [Demo_]
                stopwords: [EXAMPLE]
                severity: critical
                confidence: high
                categories: [secret, demo]
                description: A demo.
                references: [https://example.invalid/docs]
                paths:
                  include: ['**/*.py']
                  exclude: [tests/**]
                examples:
                  - 'x = "demo_a1b2c3d4"'
                  - text: 'y = "demo_q9w8e7r6"'
                    path: pkg/settings.py
                negative_examples:
                  - 'x = "demo_"'
            """
        let pack = RulePackLoader.parse(yaml, file: "demo.yaml")
        let (rules, diagnostics) = (pack.rules, pack.diagnostics)
        #expect(diagnostics.isEmpty)
        let rule = try #require(rules.first)
        #expect(rule.id == "demo.token")
        #expect(rule.minEntropy == 2.5)
        #expect(rule.keywords == ["demo_"])
        #expect(rule.stopwords == ["example"])
        #expect(rule.severity == .critical)
        #expect(rule.confidence == .high)
        #expect(rule.paths.include.map(\.pattern) == ["**/*.py"])
        #expect(rule.examples.count == 2)
        #expect(rule.examples[1].path == "pkg/settings.py")
        #expect(rule.examples[0].line == 17)
        #expect(rule.source == SourceLocation(file: "demo.yaml", line: 2))
        #expect(rule.patternLine == 4)
    }

    @Test func syntaxErrorNamesFileAndLine() {
        let yaml = "rules:\n  - id: a.b\n    name: [unclosed\n"
        let pack = RulePackLoader.parse(yaml, file: "broken.yaml")
        let (rules, diagnostics) = (pack.rules, pack.diagnostics)
        #expect(rules.isEmpty)
        #expect(diagnostics.count == 1)
        #expect(diagnostics[0].location.file == "broken.yaml")
        #expect(diagnostics[0].location.line >= 3)
        #expect(diagnostics[0].description.contains("YAML syntax error"))
    }

    @Test func badRulesAreReportedAndGoodOnesKept() {
        let yaml = """
            rules:
              - id: Not-Valid
                name: Bad id
                pattern: '(x)'
              - id: good.rule
                name: Good
                pattern: '(x)'
              - id: missing.pattern
                name: No pattern
                severity: extreme
                surprise: true
            """
        let pack = RulePackLoader.parse(yaml, file: "mixed.yaml")
        let (rules, diagnostics) = (pack.rules, pack.diagnostics)
        #expect(rules.map(\.id) == ["good.rule"])
        let messages = diagnostics.map(\.description)
        #expect(messages.contains { $0.contains("mixed.yaml:2") && $0.contains("bad id") })
        #expect(messages.contains { $0.contains("rule missing.pattern") && $0.contains("missing `pattern`") })
        #expect(messages.contains { $0.contains("mixed.yaml:10") && $0.contains("`severity` is one of") })
        #expect(messages.contains { $0.contains("mixed.yaml:11") && $0.contains("unknown field `surprise`") })
    }

    @Test func duplicateIDsAcrossFilesAreErrors() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let rule = "rules:\n  - id: dup.rule\n    name: D\n    pattern: '(d)'\n"
        try rule.write(to: folder.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        try rule.write(to: folder.appendingPathComponent("b.yml"), atomically: true, encoding: .utf8)
        try "not: [yaml".write(to: folder.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
        let loaded = RulePackLoader.load(paths: [folder.path])
        #expect(loaded.rules.count == 1)
        #expect(loaded.files.count == 3)
        #expect(loaded.errors.contains { $0.location.file.hasSuffix("b.yml") && $0.message.contains("duplicate id") })
        #expect(loaded.errors.contains { $0.location.file.hasSuffix("c.yaml") })
    }

    @Test func misspeltFieldIsAnErrorWithASuggestion() throws {
        let yaml = """
            rules:
              - id: demo.token
                name: Demo token
                pattern: 'demo_(?<secret>[a-z0-9]{8})'
                min_entrpy: 3.0
            """
        let pack = RulePackLoader.parse(yaml, file: "typo.yaml")
        #expect(pack.rules.isEmpty)
        let error = try #require(pack.errors.first)
        #expect(
            error.description
                == "typo.yaml:5: error: rule demo.token: unknown field `min_entrpy`; did you mean `min_entropy`?")
        let far = RulePackLoader.parse(yaml.replacingOccurrences(of: "min_entrpy", with: "colour"), file: "f.yaml")
        #expect(far.errors.first?.message == "unknown field `colour`")
    }

    @Test func duplicateKeyNamesTheRepeatLineAndRule() throws {
        let yaml = """
            rules:
              - id: first.rule
                name: First
                pattern: '(a)'
              - id: demo.token
                name: Demo token
                min_entropy: 3.0
                pattern: 'demo_(?<secret>[a-z0-9]{8})'
                min_entropy: 1.0
                keywords: [demo_]
            """
        let pack = RulePackLoader.parse(yaml, file: "dup.yaml")
        #expect(pack.rules.isEmpty)
        #expect(pack.errors.count == 1)
        let error = try #require(pack.errors.first)
        #expect(error.location == SourceLocation(file: "dup.yaml", line: 9))
        #expect(error.ruleID == "demo.token")
        #expect(error.message.hasPrefix("duplicate key `min_entropy` (first at line 7)"))
        // The message is one line: no dump of the file.
        #expect(!error.description.contains("\n"))
    }

    @Test(arguments: [
        ("pypi.upload-token", true), ("aws.access-key-id", true), ("a.b.c", true), ("single", false),
        ("Upper.case", false), ("a..b", false), ("a.-b", false), ("a.b_c", false),
    ])
    func ruleIDs(id: String, valid: Bool) {
        #expect(Rule.isValidID(id) == valid)
    }
}
