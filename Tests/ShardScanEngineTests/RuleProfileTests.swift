import Foundation
import ShardScanCore
import Testing

@testable import ShardScanEngine

/// The per-rule cost profile (`rules profile`), and the gating it is there to show: a co-occurrence rule
/// runs only where every part may match, and the statement view is built only when a statement rule may
/// match.
@Suite struct RuleProfileTests {
    static func ruleSet(_ yaml: String) -> RuleSet {
        let loaded = LoadedRules(yaml: yaml, file: "profile.yaml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        return RuleSet(loaded, cacheDirectory: nil)
    }

    static let rules = """
        rules:
          - id: demo.xor-exec
            name: XOR and exec in one file
            kind: content
            scope: file
            all:
              - name: xor
                pattern: 'chr\\(ord\\(\\w{1,10}\\) \\^ \\w{1,10}\\)'
              - name: run
                pattern: '(?<![\\w.])exec\\('
          - id: demo.hidden-call
            name: Popen with DEVNULL, statements
            kind: content
            view: statements
            pattern: '(?<secret>Popen\\([^\\n]{0,200}DEVNULL)'
            keywords: [devnull]
          - id: demo.token
            name: Token
            pattern: '\\b(?<secret>tok_[a-z0-9]{12})\\b'
            keywords: [tok_]
        """

    static func cost(_ profile: RuleProfile?, _ rule: String) throws -> RuleProfile.RuleCost {
        try #require(profile?.rules.first { $0.ruleID == rule })
    }

    static func stage(_ profile: RuleProfile?, _ stage: RuleProfile.Stage) throws -> RuleProfile.StageCost {
        try #require(profile?.stages.first { $0.stage == stage })
    }

    @Test func aMatcherKeepsNoProfileUnlessAsked() {
        let matcher = Matcher(ruleSet: Self.ruleSet(Self.rules))
        _ = matcher.scan(text: "x = 'tok_a1b2c3d4e5f6'", path: "a.py")
        #expect(matcher.profile == nil)
    }

    @Test func profileCountsFilesBytesAndFindingsPerRule() throws {
        let ruleSet = Self.ruleSet(Self.rules)
        let matcher = Matcher(ruleSet: ruleSet, profiling: true)
        let filler = String(repeating: "value = compute(value)\n", count: 200)
        let text = filler + "x = 'tok_a1b2c3d4e5f6'\n" + filler
        let found = matcher.scan(text: text, path: "pkg/a.txt")
        _ = matcher.scan(text: "nothing to see\n", path: "pkg/b.txt")
        #expect(found.findings.map(\.ruleID) == ["demo.token"])
        let profile = matcher.profile
        #expect(profile?.files == 2)
        #expect(profile?.bytes == text.utf8.count + 15)
        let token = try Self.cost(profile, "demo.token")
        #expect(token.files == 1)
        #expect(token.findings == 1)
        // PCRE2 looks only around the candidate, not at the whole file.
        #expect(token.bytes > 0 && token.bytes < text.utf8.count / 4, "\(token.bytes)")
        #expect(try Self.cost(profile, "demo.xor-exec").files == 0)
        #expect(try Self.stage(profile, .hyperscan).files == 2)
        #expect((profile?.nanoseconds ?? 0) > 0)

        var merged = RuleProfile(ruleIDs: ruleSet.rules.map(\.rule.id))
        merged.merge(try #require(profile))
        merged.merge(try #require(profile))
        #expect(merged.files == 4)
        #expect(try Self.cost(merged, "demo.token").findings == 2)
    }

    @Test func coOccurrenceRuleRunsOnlyWhereEveryPartMayMatch() throws {
        let ruleSet = Self.ruleSet(Self.rules)
        let index = try #require(ruleSet.index(of: "demo.xor-exec"))
        #expect(ruleSet.prefilter.partGates[index]?.count == 2)
        let matcher = Matcher(ruleSet: ruleSet, profiling: true)
        // exec( alone: the alternation of the parts would let PCRE2 run; the `xor` part cannot match.
        let onlyExec = matcher.scan(text: "exec(code, {})\n", path: "pkg/run.py")
        #expect(onlyExec.findings.isEmpty)
        #expect(try Self.cost(matcher.profile, "demo.xor-exec").files == 0)

        let filler = String(repeating: "total = total + 1\n", count: 300)
        let both = "src = ''.join(chr(ord(c) ^ key) for c in blob)\n" + filler + "exec(src)\n"
        let outcome = matcher.scan(text: both, path: "pkg/run.py")
        let finding = try #require(outcome.findings.first { $0.ruleID == "demo.xor-exec" })
        #expect(finding.facts["parts"] == "xor 1:15, run 302:1")
        let cost = try Self.cost(matcher.profile, "demo.xor-exec")
        #expect(cost.files == 1)
        #expect(cost.bytes < both.utf8.count / 4, "each part is searched around its own candidates: \(cost.bytes)")
    }

    @Test func statementViewIsBuiltOnlyWhenAStatementRuleMayMatch() throws {
        let matcher = Matcher(ruleSet: Self.ruleSet(Self.rules), profiling: true)
        let plain = "import os\n# a comment\nvalue = (1 +\n    2)\n"
        _ = matcher.scan(text: plain, path: "pkg/plain.py")
        #expect(try Self.stage(matcher.profile, .statementView).files == 0)

        let hidden = "p = subprocess.Popen(\n    cmd,  # the command\n    stdout=subprocess.DEVNULL,\n)\n"
        let outcome = matcher.scan(text: hidden, path: "pkg/hidden.py")
        #expect(outcome.findings.map(\.ruleID) == ["demo.hidden-call"])
        #expect(outcome.findings.first?.line == 1)
        #expect(try Self.stage(matcher.profile, .statementView).files == 1)

        // Nothing to join (no comment, no statement over lines): the text is read as the statements.
        let oneLine = "p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)\n"
        #expect(matcher.scan(text: oneLine, path: "pkg/one.py").findings.map(\.ruleID) == ["demo.hidden-call"])
    }

    /// A keyword with a blank may be made by joining (a line break becomes a blank), so it cannot gate the join
    /// as it is: its pieces do, all of them. Before, such a keyword made every Python file be joined; a
    /// Cyrillic keyword is kept as written (only ASCII letters are folded), so it gates too.
    @Test func blankAndNonASCIIKeywordsGateTheJoinByWhatTheStoredTextHolds() throws {
        let ruleSet = Self.ruleSet(
            """
            rules:
              - id: demo.profile-read
                name: Profile database read, statements
                kind: content
                view: statements
                pattern: '(?<secret>open\\(login data\\))'
                keywords: ['Login Data']
              - id: demo.cyrillic
                name: Cyrillic call, statements
                kind: content
                view: statements
                pattern: '(?<secret>\\xD0\\xA1\\w*\\()'
                keywords: ['С']
            """)
        let rule = try #require(ruleSet.index(of: "demo.profile-read"))
        let gate = try #require(ruleSet.prefilter.joinGates[rule])
        #expect(gate.map { $0.map { ruleSet.prefilter.keywords[$0] } } == [["login", "data"]])
        let matcher = Matcher(ruleSet: ruleSet, profiling: true)

        // Neither piece, or only one: not joined.
        _ = matcher.scan(text: "value = (1 +\n    2)\nlogin = True\n", path: "pkg/plain.py")
        #expect(try Self.stage(matcher.profile, .statementView).files == 0)

        // The keyword exists only once the lines are joined: found.
        let split = "handle = open(login\n    data)\n"
        let outcome = matcher.scan(text: split, path: "pkg/steal.py")
        #expect(outcome.findings.map(\.ruleID) == ["demo.profile-read"])
        #expect(try Self.stage(matcher.profile, .statementView).files == 1)

        // An upper-case Cyrillic keyword matches its own bytes.
        let cyrillic = matcher.scan(text: "x = (\n    Сall())\n", path: "pkg/cyr.py")
        #expect(cyrillic.findings.map(\.ruleID) == ["demo.cyrillic"])
        #expect(ruleSet.rules[try #require(ruleSet.index(of: "demo.cyrillic"))].rule.keywords == ["С"])
    }

    @Test func eachPassIsScannedWithADatabaseOfTheRulesItReadsAndTheyAreCached() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("prefilter-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let loaded = LoadedRules(yaml: Self.rules, file: "profile.yaml")
        let first = RuleSet(loaded, cacheDirectory: cache.path)
        let second = RuleSet(loaded, cacheDirectory: cache.path)
        #expect(!first.prefilter.wasCached)
        #expect(second.prefilter.wasCached)
        let hidden =
            "p = subprocess.Popen(\n    cmd,  # the command\n    stdout=subprocess.DEVNULL,\n)\nx = 'tok_a1b2c3d4e5f6'\n"
        for ruleSet in [first, second] {
            #expect(Set(ruleSet.prefilter.passDatabases.keys) == [.statements, .pythonText, .otherText])
            #expect(ruleSet.prefilter.partGates == first.prefilter.partGates)
            let found = Matcher(ruleSet: ruleSet).scan(text: hidden, path: "pkg/hidden.py").findings
            #expect(found.map(\.ruleID).sorted() == ["demo.hidden-call", "demo.token"])
        }
        // Without statement rules the statement pass has nothing to read.
        let secretsOnly = RuleSet(
            LoadedRules(
                yaml: "rules:\n  - id: demo.token\n    name: Token\n    pattern: '\\b(?<secret>tok_[a-z0-9]{12})\\b'\n",
                file: "t.yaml"), cacheDirectory: nil)
        #expect(secretsOnly.prefilter.isGating)
        #expect(Set(secretsOnly.prefilter.passDatabases.keys) == [.pythonText, .otherText])
    }

    /// A statement rule's pattern is looked for in the joined view only, and a rule for Python files only in
    /// Python files: the stored text of a Python file, and other files, are scanned without them.
    @Test func passesLeaveOutPatternsWhoseHitsNobodyReads() throws {
        let yaml =
            Self.rules + "\n" + """
                  - id: demo.setup-fetch
                    name: Network call in setup.py
                    kind: content
                    pattern: '(?<secret>urlopen\\([^)\\n]*\\))'
                    paths:
                      include: ['setup.py']

                """
        let ruleSet = Self.ruleSet(yaml)
        // The `setup.py` rule has a database of its own, scanned only for the files it admits.
        #expect(Set(ruleSet.prefilter.passDatabases.keys) == [.statements, .pythonText, .pythonTextNamed, .otherText])
        #expect(ruleSet.prefilter.namedRules[.pythonTextNamed] == [try #require(ruleSet.index(of: "demo.setup-fetch"))])
        let matcher = Matcher(ruleSet: ruleSet, profiling: true)
        // The call matches in the stored text and in the joined view (which drops the comment).
        let call = "p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)  # quiet\nurlopen(u)\n"
        #expect(
            matcher.scan(text: call, path: "setup.py").findings.map(\.ruleID).sorted() == [
                "demo.hidden-call", "demo.setup-fetch",
            ])
        // One candidate of the statement rule, from the joined view: the stored text's pass has no pattern of it.
        #expect(try Self.cost(matcher.profile, "demo.hidden-call").candidates == 1)
        #expect(try Self.cost(matcher.profile, "demo.setup-fetch").candidates == 1)
        // Outside Python the statement rule reads the text; the `setup.py` rule is not looked for.
        _ = matcher.scan(text: call, path: "docs/notes.txt")
        #expect(try Self.cost(matcher.profile, "demo.hidden-call").candidates == 2)
        #expect(try Self.cost(matcher.profile, "demo.setup-fetch").candidates == 1)
        // Nor in a Python module of another name, while a `setup.py` anywhere is scanned for it.
        #expect(matcher.scan(text: call, path: "pkg/setup_helpers.py").findings.map(\.ruleID) == ["demo.hidden-call"])
        #expect(try Self.cost(matcher.profile, "demo.setup-fetch").candidates == 1)
        #expect(
            matcher.scan(text: call, path: "pkg-1.0/setup.py").findings.map(\.ruleID).sorted() == [
                "demo.hidden-call", "demo.setup-fetch",
            ])
        #expect(try Self.cost(matcher.profile, "demo.setup-fetch").candidates == 2)
    }

    @Test func shippedEscapedNameRuleIsNoCandidateInPlainQuotedWords() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Rules/content").path
        let ruleSet = RuleSet.load(paths: [folder], cacheDirectory: TestCache.directory)
        let matcher = Matcher(ruleSet: ruleSet, profiling: true)
        let plain = String(repeating: "name = \"value_1\"; mode = 'rb'\n", count: 200)
        _ = matcher.scan(text: plain, path: "pkg/config.py")
        // Its escape is consumed, so Hyperscan reports nothing where no string holds one.
        #expect(try Self.cost(matcher.profile, "content.escaped-name").candidates == 0)
        let escaped = "getattr(mod, \"\\x65\\x76\\x61\\x6c\")(payload)\n"
        let found = matcher.scan(text: plain + escaped, path: "pkg/config.py").findings
        #expect(found.contains { $0.ruleID == "content.escaped-name" && $0.line == 201 })
        #expect(try Self.cost(matcher.profile, "content.escaped-name").candidates > 0)
    }
}
