import Foundation
import ShardScanCore
import Testing

@testable import ShardScanEngine

/// The statement view of Python source and co-occurrence rules (`all:`/`any:` with a scope).
@Suite struct StatementViewTests {
    static func ruleSet(_ yaml: String) -> RuleSet {
        let loaded = LoadedRules(yaml: yaml, file: "view.yaml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        return RuleSet(loaded, cacheDirectory: nil)
    }

    static let callRules = """
        rules:
          - id: demo.silent-call
            name: Popen with DEVNULL
            kind: content
            view: statements
            pattern: '(?<secret>Popen\\([^\\n]{0,200}DEVNULL)'
          - id: demo.silent-call-text
            name: Popen with DEVNULL, text view
            kind: content
            pattern: '(?<secret>Popen\\([^\\n]{0,200}DEVNULL)'
        """

    @Test func statementViewJoinsACallOverLinesAndMapsBackToTheOriginalLine() {
        let source = """
            import subprocess
            # Popen(DEVNULL) in a comment is not code
            p = subprocess.Popen(
                cmd,  # the command
                stdout=subprocess.DEVNULL,
            )

            """
        let outcome = Matcher(ruleSet: Self.ruleSet(Self.callRules)).scan(text: source, path: "pkg/run.py")
        // The text view sees only the comment; the statement view only the call.
        #expect(outcome.findings.filter { $0.ruleID == "demo.silent-call-text" }.map(\.line) == [2])
        let statements = outcome.findings.filter { $0.ruleID == "demo.silent-call" }
        #expect(statements.count == 1)
        guard let finding = statements.first else { return }
        #expect(finding.line == 3)
        #expect(finding.column == 16)
        #expect(finding.endLine == 5)
        let bytes = Array(source.utf8)
        #expect(String(decoding: bytes[finding.start..<finding.end], as: UTF8.self).hasPrefix("Popen(\n    cmd,"))
        #expect(String(decoding: bytes[finding.start..<finding.end], as: UTF8.self).hasSuffix("DEVNULL"))
        // The evidence is the code as the file holds it, the bytes of the finding's range (what redaction masks
        // by, and what the fuzz target checks), not the joined statement.
        #expect(finding.secret == String(decoding: bytes[finding.start..<finding.end], as: UTF8.self))
        #expect(finding.secret.contains("# the command\n"))
    }

    @Test func hashInsideAStringIsTextAndBackslashContinuationsJoin() {
        let rules = """
            rules:
              - id: demo.fragment
                name: URL with a fragment, then more
                kind: content
                view: statements
                pattern: '(?<secret>"http://x\\.invalid/#a" \\+ str\\(1\\))'
              - id: demo.note
                name: A word only found in a comment
                kind: content
                view: statements
                pattern: '(?<secret>\\bnote\\b)'
              - id: demo.joined
                name: Joined by a backslash
                kind: content
                view: statements
                pattern: '(?<secret>"a"\\s+\\+ "b")'
            """
        let source = "u = \"http://x.invalid/#a\" + str(1)  # note\ncmd = \"a\" \\\n    + \"b\"\n"
        let matcher = Matcher(ruleSet: Self.ruleSet(rules))
        let found = matcher.scan(text: source, path: "m.py").findings
        #expect(found.map(\.ruleID) == ["demo.fragment", "demo.joined"])
        #expect(found.map(\.line) == [1, 2])
        #expect(found.last?.endLine == 3)
        // A file that is not Python source is read as stored: the comment is text there.
        #expect(matcher.scan(text: source, path: "notes.cfg").findings.map(\.ruleID).contains("demo.note"))
    }

    @Test func triplesQuotedStringsKeepTheirLinesAndBracketsInStringsDoNotCount() {
        let rules = """
            rules:
              - id: demo.after-doc
                name: call after a docstring with brackets
                kind: content
                view: statements
                pattern: '(?m)^(?<secret>run\\(\\))$'
            """
        // The comment makes the view differ from the source; without string awareness the brackets in
        // the docstring would join run() to the line before.
        let source = "DOC = '''(\n not closed [\n'''  # doc\nrun()\n"
        let findings = Matcher(ruleSet: Self.ruleSet(rules)).scan(text: source, path: "m.py").findings
        #expect(findings.map(\.line) == [4])
    }

    static let dropperRules = """
        rules:
          - id: demo.dropper
            name: download, chmod, run
            kind: content
            view: statements
            scope: file
            all:
              - name: download
                pattern: 'urlretrieve\\('
              - name: chmod
                pattern: 'chmod\\('
            any:
              - name: run
                pattern: 'Popen\\('
              - name: system
                pattern: 'system\\('
          - id: demo.same-statement
            name: two words in one statement
            kind: content
            view: statements
            scope: statement
            all: ['alpha', 'beta']
          - id: demo.same-function
            name: two words in one function
            kind: content
            view: statements
            scope: function
            all: ['gamma', 'delta']
        """

    @Test func cooccurrenceFindsEveryPartAndNamesItsLine() {
        let matcher = Matcher(ruleSet: Self.ruleSet(Self.dropperRules))
        let source = """
            import os, subprocess, urllib.request
            urllib.request.urlretrieve(
                URL, "/tmp/a")
            os.chmod("/tmp/a", 0o755)
            subprocess.Popen(["/tmp/a"])

            """
        let findings = matcher.scan(text: source, path: "pkg/x.py").findings
        #expect(findings.count == 1)
        let finding = findings[0]
        #expect(finding.ruleID == "demo.dropper")
        #expect(finding.line == 2)
        #expect(finding.column == 16)
        #expect(finding.parts.map(\.name) == ["download", "chmod", "run"])
        #expect(finding.parts.map(\.line) == [2, 4, 5])
        #expect(finding.facts["parts"] == "download 2:16, chmod 4:4, run 5:12")
        #expect(finding.facts["part_chmod"] == "4:4 chmod(")
        // Without one of the `all` parts, or without any `any` part, there is no finding.
        #expect(matcher.scan(text: "urlretrieve(u)\nPopen(x)\n", path: "x.py").findings.isEmpty)
        #expect(matcher.scan(text: "urlretrieve(u)\nchmod(p)\n", path: "x.py").findings.isEmpty)
        #expect(matcher.scan(text: "urlretrieve(u)\nchmod(p)\nos.system(p)\n", path: "x.py").findings.count == 1)
    }

    @Test func statementAndFunctionScopesKeepPartsTogether() {
        let matcher = Matcher(ruleSet: Self.ruleSet(Self.dropperRules))
        func rules(_ text: String) -> [String] { matcher.scan(text: text, path: "m.py").findings.map(\.ruleID) }
        #expect(rules("f(alpha,\n  beta)\n") == ["demo.same-statement"])
        #expect(rules("f(alpha)\ng(beta)\n").isEmpty)
        #expect(rules("def a():\n    gamma()\n    if x:\n        delta()\n") == ["demo.same-function"])
        #expect(rules("def a():\n    gamma()\ndef b():\n    delta()\n").isEmpty)
        // Module-level code is one scope of its own.
        #expect(rules("gamma()\ndef b():\n    pass\ndelta()\n") == ["demo.same-function"])
        // Two functions each holding both parts: two findings.
        #expect(rules("def a():\n    gamma(); delta()\ndef b():\n    gamma(); delta()\n").count == 2)
    }

    @Test func prefilterSeesEveryPart() {
        let gated = Self.ruleSet(Self.dropperRules)
        let ungated = RuleSet(
            LoadedRules(yaml: Self.dropperRules, file: "view.yaml"), cacheDirectory: nil, prefiltered: false)
        #expect(!gated.prefilter.passDatabases.isEmpty)
        let texts = [
            "urlretrieve(u)\nchmod(p)\nos.system(p)\n", "def a():\n    gamma()\n    delta()\n", "f(alpha, beta)\n",
            "nothing here\n", "x = Popen(y)\n",
        ]
        for text in texts {
            let fast = Matcher(ruleSet: gated).scan(text: text, path: "m.py").findings
            let reference = Matcher(ruleSet: ungated).scan(text: text, path: "m.py").findings
            #expect(fast == reference, "\(text)")
        }
    }

    @Test func loaderRejectsMalformedCooccurrenceRulesWithTheirLines() {
        let yaml = """
            rules:
              - id: demo.both
                name: pattern and parts
                kind: content
                pattern: 'x'
                all: ['y']
              - id: demo.bad-part
                name: named group in a part
                kind: content
                all:
                  - name: Bad-Name
                    pattern: '(?<secret>y)'
              - id: demo.scope-alone
                name: scope without parts
                kind: content
                pattern: '(?<secret>z)'
                scope: file
              - id: demo.bad-scope
                name: unknown scope
                kind: content
                scope: module
                all: ['w']
              - id: demo.bad-view
                name: unknown view
                kind: content
                view: lines
                pattern: '(?<secret>v)'
              - id: demo.filters
                name: secret filters on parts
                kind: content
                min_entropy: 3
                any: ['u']
            """
        let loaded = LoadedRules(yaml: yaml, file: "bad.yaml")
        #expect(loaded.rules.isEmpty)
        let messages = loaded.errors.map { "\($0.location.line) \($0.message)" }
        #expect(messages.contains { $0.hasPrefix("5 ") && $0.contains("either `pattern` or `all`/`any`") })
        #expect(messages.contains { $0.hasPrefix("11 ") && $0.contains("bad part name `Bad-Name`") })
        #expect(messages.contains { $0.hasPrefix("11 ") && $0.contains("named groups are not allowed") })
        #expect(messages.contains { $0.hasPrefix("17 ") && $0.contains("`scope` needs `all` or `any`") })
        #expect(
            messages.contains { $0.hasPrefix("21 ") && $0.contains("`scope` is one of: statement, function, file") })
        #expect(messages.contains { $0.hasPrefix("26 ") && $0.contains("`view` is one of: text, statements") })
        #expect(messages.contains { $0.hasPrefix("31 ") && $0.contains("`min_entropy` does not apply") })
    }

    @Test func aPartThatDoesNotCompileIsReportedAtItsLine() {
        let yaml = """
            rules:
              - id: demo.broken
                name: broken part
                kind: content
                all:
                  - 'fine'
                  - 'broken('
            """
        let ruleSet = RuleSet(LoadedRules(yaml: yaml, file: "p.yaml"), cacheDirectory: nil)
        #expect(ruleSet.rules.isEmpty)
        #expect(ruleSet.errors.map(\.location.line) == [7])
        #expect(ruleSet.errors.first?.message.contains("part `part2` does not compile") == true)
    }
    /// The joiner as first written, a byte at a time: what the faster walk must produce, segment for segment.
    static func referenceSegments(_ original: [UInt8]) -> [[Int]] {
        var segments: [[Int]] = []
        var runStart = 0
        let count = original.count
        func flush(_ end: Int) {
            if end > runStart { segments.append([runStart, end - runStart, end - runStart, 1]) }
        }
        func replace(_ range: Range<Int>, withSpace: Bool) {
            flush(range.lowerBound)
            segments.append([range.lowerBound, range.count, withSpace ? 1 : 0, 0])
            runStart = range.upperBound
        }
        func pastBreak(_ index: Int) -> Int {
            var index = index
            if index < count && original[index] == 13 { index += 1 }
            if index < count && original[index] == 10 { index += 1 }
            while index < count && (original[index] == 32 || original[index] == 9) { index += 1 }
            return index
        }
        func stringEnd(_ start: Int) -> Int {
            let quote = original[start]
            let triple = start + 2 < count && original[start + 1] == quote && original[start + 2] == quote
            var index = start + (triple ? 3 : 1)
            while index < count {
                let byte = original[index]
                if byte == 92 {
                    index += 2
                    continue
                }
                if byte == quote {
                    if !triple { return index + 1 }
                    if index + 2 < count && original[index + 1] == quote && original[index + 2] == quote {
                        return index + 3
                    }
                } else if !triple && (byte == 10 || byte == 13) {
                    return index
                }
                index += 1
            }
            return count
        }
        var depth = 0
        var index = 0
        while index < count {
            switch original[index] {
            case 35:
                var end = index
                while end < count && original[end] != 10 && original[end] != 13 { end += 1 }
                replace(index..<end, withSpace: false)
                index = end
            case 92:
                if index + 1 < count && (original[index + 1] == 10 || original[index + 1] == 13) {
                    let end = pastBreak(index + 1)
                    replace(index..<end, withSpace: true)
                    index = end
                } else {
                    index += 1
                }
            case 10, 13:
                if depth > 0 {
                    let end = pastBreak(index)
                    replace(index..<end, withSpace: true)
                    index = end
                } else {
                    index += 1
                }
            case 40, 91, 123:
                depth += 1
                index += 1
            case 41, 93, 125:
                depth = max(0, depth - 1)
                index += 1
            case 39, 34:
                index = stringEnd(index)
            default:
                index += 1
            }
        }
        flush(count)
        return segments
    }

    @Test func statementJoinerSkippingPlainBytesWalksAsTheByteAtATimeJoinerDid() {
        // Every byte the joiner treats specially, some it must not (`@`, `\t`, high bytes), in random sources;
        // some sources mostly plain, so that special bytes fall at every place of the words skipped eight at a time.
        let alphabet = Array("ab (#\\\n\r)[]{}'\" \t@".utf8) + [0x80, 0xD0, 0xFF, 0x7B, 0x5C]
        let plain = Array("ab \t@".utf8) + [0x80, 0xD0, 0xFF, 0x01, 0x7F]
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6000 {
            let length = Int.random(in: 0...(round % 2 == 0 ? 60 : 240), using: &generator)
            let plainShare = round % 2 == 0 ? 0 : [0.8, 0.95, 0.99][round / 2 % 3]
            let source = (0..<length).map { _ in
                Double.random(in: 0..<1, using: &generator) < plainShare
                    ? plain.randomElement(using: &generator)! : alphabet.randomElement(using: &generator)!
            }
            var segments: [[Int]] = []
            var joined: [UInt8] = []
            source.withUnsafeBytes { bytes in
                PythonStatementJoiner().walk(bytes) { segment, decoded in
                    segments.append([
                        segment.originalStart, segment.originalCount, segment.decodedCount, segment.stride,
                    ])
                    joined += decoded
                }
                let view = DecodedText(pythonStatements: bytes)
                #expect(view == nil || view?.bytes == joined)
                #expect((view == nil) == segments.allSatisfy { $0[3] == 1 })
            }
            #expect(segments == Self.referenceSegments(source), "\(source)")
        }
    }
}
