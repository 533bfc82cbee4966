import ShardScanCore
import ShardScanEngine
import Testing

/// Random bodies for fake tokens, from a fixed seed so failures reproduce.
struct FakeTokenMaker {
    var state: UInt64

    init(seed: UInt64 = 0x5EED) { state = seed }

    mutating func body(
        _ count: Int, alphabet: String = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    )
        -> String
    {
        let characters = Array(alphabet)
        return String(
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return characters[Int((state >> 33) % UInt64(characters.count))]
            })
    }
}

@Suite struct MatcherTests {
    static let pack = """
        rules:
          - id: github.pat-classic
            name: GitHub token
            pattern: '\\b(?<secret>ghp_[A-Za-z0-9]{36})\\b'
            min_entropy: 3.5
            keywords: [ghp_]
            stopwords: [example]
          - id: demo.keyed
            name: Needs a keyword nearby
            pattern: '\\b(?<secret>[a-f0-9]{32})\\b'
            keywords: [demo_api]
          - id: demo.settings-only
            name: Only in settings files
            pattern: 'SETTING=(\\w+)'
            paths:
              include: ['settings.py']
        """

    func ruleSet() throws -> RuleSet {
        let loaded = LoadedRules(yaml: Self.pack, file: "test.yaml")
        #expect(loaded.diagnostics.isEmpty)
        return RuleSet(loaded)
    }

    @Test func lineAndColumnOnCRLFAndNonUTF8() throws {
        var maker = FakeTokenMaker()
        let token = "ghp_" + maker.body(36)
        var bytes: [UInt8] = [0xFF, 0xFE, 0x00, 0x0D, 0x0A]  // binary junk, then CRLF
        bytes += Array("line two\r\n    TOKEN = '\(token)'\r\n".utf8)
        let matcher = Matcher(ruleSet: try ruleSet())
        let outcome = bytes.withUnsafeBytes { matcher.scan($0, path: "pkg/config.py") }
        let finding = try #require(outcome.findings.first)
        #expect(outcome.findings.count == 1)
        #expect(finding.ruleID == "github.pat-classic")
        #expect(finding.line == 3)
        #expect(finding.column == 14)
        #expect(finding.endLine == 3)
        #expect(finding.endColumn == 14 + 40)
        #expect(finding.start == 5 + 10 + 13)
        #expect(finding.secret == token)
        #expect(finding.snippetBefore == "    TOKEN = '")
        #expect(finding.snippetAfter == "'")
        #expect(
            finding.presented(kind: .secret, secrets: [finding.mask], showSecrets: false).snippet
                == "    TOKEN = '\(redact(token))'")
    }

    @Test func entropyStopwordsAndBoundariesReject() throws {
        let matcher = Matcher(ruleSet: try ruleSet())
        let lowEntropy = "ghp_" + String(repeating: "ab", count: 18)
        var placeholderMaker = FakeTokenMaker()
        let placeholder = "ghp_EXAMPLE" + placeholderMaker.body(29)
        var maker = FakeTokenMaker(seed: 9)
        let glued = "xghp_" + maker.body(36)
        for text in [lowEntropy, placeholder, glued] {
            #expect(matcher.scan(text: "t = '\(text)'", path: nil).findings.isEmpty, "\(text)")
        }
    }

    @Test func keywordMustBeNearTheMatch() throws {
        let matcher = Matcher(ruleSet: try ruleSet())
        var hexMaker = FakeTokenMaker(seed: 3)
        let hex = hexMaker.body(32, alphabet: "0123456789abcdef")
        #expect(matcher.scan(text: "DEMO_API_KEY = '\(hex)'", path: nil).findings.map(\.ruleID) == ["demo.keyed"])
        #expect(matcher.scan(text: "checksum = '\(hex)'", path: nil).findings.isEmpty)
        let far = "DEMO_API docs\n" + String(repeating: "#\n", count: 200) + "checksum = '\(hex)'"
        #expect(matcher.scan(text: far, path: nil).findings.isEmpty)
    }

    @Test func aSpecificRuleHidesAGenericOneOnTheSameSecret() throws {
        let pack = """
            rules:
              - id: demo.generic
                name: Generic
                pattern: 'token\\s*=\\s*"(?<secret>[A-Za-z0-9_]{20,})"'
                confidence: low
              - id: demo.specific
                name: Specific
                pattern: '(?<secret>tok_[a-z0-9]{20})'
                confidence: high
            """
        let matcher = Matcher(ruleSet: RuleSet(LoadedRules(yaml: pack, file: "p.yaml")))
        let both = matcher.scan(text: "token = \"tok_a1b2c3d4e5f6g7h8i9j0\"", path: nil)
        #expect(both.findings.map(\.ruleID) == ["demo.specific"])
        let genericOnly = matcher.scan(text: "token = \"Zx81Kq02LmNv93PwRt45\"", path: nil)
        #expect(genericOnly.findings.map(\.ruleID) == ["demo.generic"])
    }

    @Test func pathFiltersApply() throws {
        let matcher = Matcher(ruleSet: try ruleSet())
        #expect(matcher.scan(text: "SETTING=abc", path: "pkg/settings.py").findings.count == 1)
        #expect(matcher.scan(text: "SETTING=abc", path: "pkg/other.py").findings.isEmpty)
    }

    @Test func matchLimitIsReportedAsARuleFailure() throws {
        let pack = """
            rules:
              - id: bad.backtracking
                name: Catastrophic
                pattern: '^((a+)+)(?=c)'
              - id: good.rule
                name: Fine
                pattern: '(b)'
            """
        let matcher = Matcher(ruleSet: RuleSet(LoadedRules(yaml: pack, file: "bad.yaml")))
        let outcome = matcher.scan(text: String(repeating: "a", count: 5000) + "b", path: nil)
        #expect(outcome.failures.map(\.ruleID) == ["bad.backtracking"])
        #expect(outcome.findings.map(\.ruleID) == ["good.rule"])
    }

    @Test func compileProblemsNameRuleFileAndLine() {
        let pack = """
            rules:
              - id: no.group
                name: No group
                pattern: 'abc'
              - id: bad.regex
                name: Bad
                pattern: 'a(b'
              - id: fine.rule
                name: Fine
                pattern: '(c)'
            """
        let ruleSet = RuleSet(LoadedRules(yaml: pack, file: "p.yaml"))
        #expect(ruleSet.rules.map(\.rule.id) == ["fine.rule"])
        let text = ruleSet.errors.map(\.description)
        #expect(text.contains { $0.hasPrefix("p.yaml:4: error: rule no.group: pattern has no secret group") })
        #expect(text.contains { $0.hasPrefix("p.yaml:7: error: rule bad.regex: pattern does not compile") })
    }

    @Test func ruleTesterJudgesExamples() {
        let pack = """
            rules:
              - id: demo.token
                name: Demo
                pattern: 'demo_(?<secret>[a-z0-9]{8})\\b'
                min_entropy: 2.5
                examples:
                  - 'k = "demo_a8f3k2m9"'
                  - 'k = "demo_aaaaaaaa"'
                negative_examples:
                  - 'k = "demo_short"'
                  - 'k = "demo_q7w2e9r4"'
            """
        let results = RuleTester.run(RuleSet(LoadedRules(yaml: pack, file: "t.yaml")))
        #expect(results.map(\.passed) == [true, false, true, false])
        #expect(results[1].problem?.contains("below min_entropy") == true)
        #expect(results[1].location.line == 8)
        #expect(results[3].problem?.contains("negative example matched") == true)
    }
}

@Suite struct JSONDecodingTests {
    static let pack = """
        rules:
          - id: demo.quoted
            name: Quoted token
            pattern: 'TOKEN = "(?<secret>tok_[a-z0-9]{12})"'
          - id: demo.block
            name: A two-line block
            pattern: '-----BEGIN DEMO-----\\n(?<secret>[a-z0-9]{8}\\n[a-z0-9]{8})\\n-----END DEMO-----'
        """

    @Test func notebookCellsAreReadAsTyped() throws {
        let matcher = Matcher(ruleSet: RuleSet(LoadedRules(yaml: Self.pack, file: "p.yaml")))
        let notebook = """
            {
             "cells": [{"source": [
                "import os\\n",
                "TOKEN = \\"tok_a1b2c3d4e5f6\\"\\n",
                "KEY = '''-----BEGIN DEMO-----\\n",
                "abcd1234\\n",
                "efgh5678\\n",
                "-----END DEMO-----'''"
             ]}]
            }
            """
        let outcome = matcher.scan(text: notebook, path: "nb/explore.ipynb")
        #expect(outcome.findings.map(\.ruleID) == ["demo.quoted", "demo.block"])
        let quoted = try #require(outcome.findings.first)
        #expect(quoted.secret == "tok_a1b2c3d4e5f6")
        // Lines and columns are those of the file as stored, where the escaped quote precedes the token.
        #expect(quoted.line == 4)
        #expect(quoted.column == 16)
        let stored = [UInt8](notebook.utf8)[quoted.start..<quoted.end]
        #expect(String(decoding: stored, as: UTF8.self) == "tok_a1b2c3d4e5f6")
        #expect(outcome.findings.last?.secret == "abcd1234\nefgh5678")
        // The same text in a Python file is not JSON: escapes stay as they are.
        #expect(matcher.scan(text: notebook, path: "nb/explore.py").findings.isEmpty)
    }
}
