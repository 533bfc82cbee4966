import Foundation
import ShardScanCore
import Testing

@testable import ShardScanEngine

/// The Hyperscan prefilter must change how fast rules run, never what they find.
@Suite struct PrefilterTests {
    static let rulesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Rules").path

    struct Hit: Hashable, CustomStringConvertible {
        var rule: String
        var start: Int
        var end: Int
        var description: String { "\(rule)@\(start)..<\(end)" }
    }

    static func hits(_ outcome: ScanOutcome) -> Set<Hit> {
        Set(outcome.findings.map { Hit(rule: $0.ruleID, start: $0.start, end: $0.end) })
    }

    @Test func shippedRulesFindTheSameWithAndWithoutThePrefilter() throws {
        let loaded = RulePackLoader.load(paths: [Self.rulesFolder])
        #expect(loaded.errors.isEmpty)
        let gated = RuleSet(loaded, cacheDirectory: TestCache.directory)
        let ungated = RuleSet(loaded, cacheDirectory: nil, prefiltered: false)
        #expect(gated.prefilter.isGating && gated.prefilter.passDatabases.count == Prefilter.Pass.allCases.count)
        #expect(!ungated.prefilter.isGating)
        let fast = Matcher(ruleSet: gated)
        let reference = Matcher(ruleSet: ungated)

        // Every example and negative example alone, then all of them in one file between filler lines,
        // so that regions, merging and keyword windows are exercised far from the buffer's start.
        var texts: [(String, String?)] = []
        var document = ""
        var maker = FakeTokenMaker(seed: 42)
        for rule in loaded.rules {
            for example in rule.examples + rule.negativeExamples {
                texts.append((example.text, example.path))
                document += "# " + maker.body(Int.random(in: 0...300)) + "\n" + example.text + "\n"
            }
        }
        // The document also as files of each Hyperscan pass (Python source, other files) and of rules'
        // `paths` (`setup.py`, shell, JSON), which decide what each pass's database holds.
        for path in [nil, "pkg/setup.py", "pkg/mod/__init__.py", "pkg/notes.txt", "pkg/install.sh", "pkg/conf.json"] {
            texts.append((document, path))
        }
        var findings = 0
        for (text, path) in texts {
            let expected = Self.hits(reference.scan(text: text, path: path))
            let actual = Self.hits(fast.scan(text: text, path: path))
            #expect(actual == expected, "\(text.prefix(120))")
            findings += actual.count
        }
        #expect(findings > loaded.rules.count)
    }

    @Test func compiledDatabaseIsCachedAndReused() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("prefilter-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let pack = """
            rules:
              - id: demo.token
                name: Token
                pattern: '\\b(?<secret>tok_[a-z0-9]{12})\\b'
                keywords: [tok_]
            """
        let first = RuleSet(LoadedRules(yaml: pack, file: "p.yaml"), cacheDirectory: cache.path)
        let second = RuleSet(LoadedRules(yaml: pack, file: "p.yaml"), cacheDirectory: cache.path)
        #expect(!first.prefilter.wasCached)
        #expect(second.prefilter.wasCached)
        let text = "TOKEN = 'tok_a1b2c3d4e5f6'"
        #expect(Matcher(ruleSet: second).scan(text: text, path: nil).findings.map(\.secret) == ["tok_a1b2c3d4e5f6"])

        // Another pattern is another cache entry, and a corrupt entry is rebuilt rather than trusted.
        let changed = RuleSet(
            LoadedRules(yaml: pack.replacingOccurrences(of: "{12}", with: "{10}"), file: "p.yaml"),
            cacheDirectory: cache.path)
        #expect(!changed.prefilter.wasCached)
        for file in try FileManager.default.contentsOfDirectory(atPath: cache.path) where file.hasSuffix(".hsdb") {
            try Data("garbage".utf8).write(to: cache.appendingPathComponent(file))
        }
        let rebuilt = RuleSet(LoadedRules(yaml: pack, file: "p.yaml"), cacheDirectory: cache.path)
        #expect(!rebuilt.prefilter.wasCached)
        #expect(Matcher(ruleSet: rebuilt).scan(text: text, path: nil).findings.count == 1)
    }

    /// A rule author's every edit is a new cache entry: the directory keeps the most recently used ones only.
    @Test func theCacheKeepsTheEntriesUsedLast() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("prefilter-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        func pack(_ width: Int) -> LoadedRules {
            LoadedRules(
                yaml: "rules:\n  - id: demo.t\n    name: T\n    pattern: '(?<secret>tok_[a-z0-9]{\(width)})'\n",
                file: "p.yaml")
        }
        func entries() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasSuffix(".json") }.count
        }
        #expect(!RuleSet(pack(1), cacheDirectory: cache.path).prefilter.wasCached)
        for width in 2...Prefilter.cacheEntriesKept {
            _ = RuleSet(pack(width), cacheDirectory: cache.path)
            // Written in order, a second apart, for file times that tell them apart.
            let metadata = try FileManager.default.contentsOfDirectory(atPath: cache.path).filter {
                $0.hasSuffix(".json")
            }
            for name in metadata {
                let path = cache.appendingPathComponent(name).path
                let date = try #require(FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
                try FileManager.default.setAttributes(
                    [.modificationDate: date.addingTimeInterval(-1)], ofItemAtPath: path)
            }
        }
        #expect(try entries() == Prefilter.cacheEntriesKept)
        // The oldest entry is used again, so a new one pushes out the second oldest instead.
        #expect(RuleSet(pack(1), cacheDirectory: cache.path).prefilter.wasCached)
        _ = RuleSet(pack(99), cacheDirectory: cache.path)
        #expect(try entries() == Prefilter.cacheEntriesKept)
        #expect(RuleSet(pack(1), cacheDirectory: cache.path).prefilter.wasCached)
        #expect(!RuleSet(pack(2), cacheDirectory: cache.path).prefilter.wasCached)
        // Every file of a removed entry goes with it.
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        let keys = Set(files.filter { $0.hasSuffix(".json") }.map { $0.dropLast(".json".count) })
        #expect(files.allSatisfy { file in keys.contains { file.hasPrefix($0) } })
    }

    /// A rule kept out of Hyperscan with keywords reads only where a match could have one near it.
    @Test func rulesKeptOutOfHyperscanRunAroundTheirKeywords() throws {
        let pack = """
            rules:
              - id: demo.kept-out
                name: Kept out
                pattern: '(?<secret>tok_[a-z0-9]{12})'
                keywords: [vendor]
                hyperscan: false
            """
        let ruleSet = RuleSet(LoadedRules(yaml: pack, file: "k.yaml"))
        #expect(ruleSet.prefilter.gates == [.keywords(maxWidth: 16)])
        let filler = String(repeating: "x = 1\n", count: 2000)
        let near = "vendor_token = 'tok_a1b2c3d4e5f6'\n"
        let far = "other = 'tok_ffffffffffff'\n"
        let matcher = Matcher(ruleSet: ruleSet, profiling: true)
        let found = matcher.scan(text: far + filler + near + filler + far, path: "pkg/conf.py").findings
        #expect(found.map(\.secret) == ["tok_a1b2c3d4e5f6"])
        #expect(found.first?.line == 2002)
        // PCRE2 read the keyword's neighbourhood, not the 24 KB file; the reference reads it all and agrees.
        let cost = try #require(matcher.profile?.rules.first)
        #expect(cost.files == 1 && cost.bytes < 1_000)
        let reference = Matcher(
            ruleSet: RuleSet(LoadedRules(yaml: pack, file: "k.yaml"), cacheDirectory: nil, prefiltered: false))
        #expect(reference.scan(text: far + filler + near + filler + far, path: "pkg/conf.py").findings == found)
    }

    @Test func patternsHyperscanRefusesFallBackToKeywordsOrRunEverywhere() throws {
        // A bounded repeat this large is beyond Hyperscan even in prefilter mode.
        let pack = """
            rules:
              - id: demo.huge-repeat
                name: Keyword-gated
                pattern: '(?<secret>BEGIN[A-Z]{1,65000}END)'
                keywords: [begin]
              - id: demo.huge-repeat-bare
                name: Runs everywhere
                pattern: '(?<secret>START[a-z]{1,65000}STOP)'
            """
        let ruleSet = RuleSet(LoadedRules(yaml: pack, file: "p.yaml"))
        // Too wide for Hyperscan to measure as well: the keyword's files are read whole.
        #expect(ruleSet.prefilter.gates == [.keywords(maxWidth: nil), .always])
        let notes = ruleSet.diagnostics.filter { $0.level == .note }.map(\.description)
        #expect(notes.count == 2)
        #expect(notes.first?.contains("p.yaml:4: note: rule demo.huge-repeat: Hyperscan cannot prefilter") == true)
        let outcome = Matcher(ruleSet: ruleSet).scan(text: "x BEGINABCEND y STARTabcSTOP", path: nil)
        #expect(outcome.findings.map(\.ruleID) == ["demo.huge-repeat", "demo.huge-repeat-bare"])
    }

    @Test func hyperscanFalseKeepsAPatternOutOfTheDatabaseAndFindsTheSame() throws {
        func pack(_ hyperscan: String) -> String {
            """
            rules:
              - id: demo.offscreen
                name: Call after a run of blanks
                kind: content
                pattern: '(?m)(?<=\\S)[ \\t]{40,}(?<secret>;?[A-Za-z_]\\w{0,20}\\()'
                paths:
                  include: ['*.py']
            \(hyperscan)
            """
        }
        let kept = RuleSet(LoadedRules(yaml: pack("    hyperscan: false"), file: "p.yaml"), cacheDirectory: nil)
        let plain = RuleSet(LoadedRules(yaml: pack(""), file: "p.yaml"), cacheDirectory: nil)
        #expect(kept.prefilter.gates == [.always])
        #expect(plain.prefilter.gates != [.always])
        // Asked for by the pack: no note telling its author Hyperscan could not take the pattern.
        #expect(kept.diagnostics.filter { $0.level == .note }.isEmpty, "\(kept.diagnostics)")
        // Not what the rule finds: its digest is that of the rule in Hyperscan.
        #expect(
            kept.rules[0].rule.matchDigest(engineVersion: "t") == plain.rules[0].rule.matchDigest(engineVersion: "t"))
        #expect(
            Prefilter.cacheKey(rules: kept.rules.map(\.rule), keywords: [])
                != Prefilter.cacheKey(rules: plain.rules.map(\.rule), keywords: []))
        let text = "x = 1" + String(repeating: " ", count: 60) + ";run(1)\nclean = 2\n"
        for path in ["a/mod.py", "a/notes.txt"] {
            let found = Matcher(ruleSet: kept).scan(text: text, path: path)
            #expect(Self.hits(found) == Self.hits(Matcher(ruleSet: plain).scan(text: text, path: path)))
            #expect(found.findings.count == (path.hasSuffix(".py") ? 1 : 0))
        }
    }

    @Test func hyperscanFalseNeedsAPathOrKeywordGateAndABoolean() {
        let ungated = LoadedRules(
            yaml: """
                rules:
                  - id: demo.everywhere
                    name: Nothing gates it
                    pattern: '(?<secret>a{3})'
                    hyperscan: false
                  - id: demo.typo
                    name: Not a boolean
                    pattern: '(?<secret>b{3})'
                    keywords: [bbb]
                    hyperscan: nope
                """, file: "h.yaml")
        #expect(
            ungated.errors.map(\.message) == [
                "`hyperscan: false` needs `keywords` or `paths: include`, else PCRE2 runs on every file",
                "`hyperscan` is `true` or `false`",
            ])
    }

    @Test func aPartKeptOutOfHyperscanIsSearchedWhereverTheRulesOtherPartsLetItRun() throws {
        func pack(_ hyperscan: String) -> String {
            """
            rules:
              - id: demo.swap
                name: Clipboard read, write and an address
                kind: content
                all:
                  - name: read
                    pattern: 'paste\\('
                  - name: address
                    pattern: '\\b[13][a-km-zA-HJ-NP-Z1-9]{25,34}\\b'
            \(hyperscan)
                any:
                  - name: write
                    pattern: 'copy\\('
            """
        }
        let kept = RuleSet(LoadedRules(yaml: pack("        hyperscan: false"), file: "p.yaml"), cacheDirectory: nil)
        let plain = RuleSet(LoadedRules(yaml: pack(""), file: "p.yaml"), cacheDirectory: nil)
        #expect(kept.prefilter.partGates[0]?.map { $0 == .always } == [false, true, false])
        #expect(plain.prefilter.partGates[0]?.contains(.always) == false)
        #expect(
            kept.rules[0].rule.matchDigest(engineVersion: "t") == plain.rules[0].rule.matchDigest(engineVersion: "t"))
        let address = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
        let texts = [
            "x = paste()\nif v.startswith('1'): copy('\(address)')\n",
            "x = paste()\ncopy(y)\n",  // no address: no finding
            "w = '\(address)'\ncopy(w)\n",  // no read: the rule does not run
            "'\(address)' before paste() and copy()\n",  // the address first: the finding starts there
        ]
        for text in texts {
            let found = Matcher(ruleSet: kept).scan(text: text, path: "m.py")
            #expect(Self.hits(found) == Self.hits(Matcher(ruleSet: plain).scan(text: text, path: "m.py")), "\(text)")
        }
        #expect(Matcher(ruleSet: kept).scan(text: texts[0], path: "m.py").findings.count == 1)
        #expect(Matcher(ruleSet: kept).scan(text: texts[3], path: "m.py").findings.first?.start == 1)

        // Nothing left in Hyperscan to gate the rule: refused.
        let ungated = LoadedRules(
            yaml: """
                rules:
                  - id: demo.only-kept-out
                    name: Its one all part is kept out
                    kind: content
                    all:
                      - name: address
                        pattern: '[13][a-z]{25}'
                        hyperscan: false
                    any: ['copy\\(']
                """, file: "u.yaml")
        #expect(
            ungated.errors.map(\.message) == [
                "part `address`: `hyperscan: false` needs an `all` part that stays in Hyperscan, to gate the rule"
            ])
    }

    @Test func regionsCoverEveryPossibleStartAndMerge() {
        #expect(Matcher.regions(ends: [10, 12, 100], maxWidth: 5) == [5..<12, 95..<100])
        #expect(Matcher.regions(ends: [3, 50], maxWidth: 10) == [0..<3, 40..<50])
        #expect(Matcher.regions(ends: [10, 14], maxWidth: 5) == [5..<14])
        #expect(Matcher.regions(ends: [7, 90], maxWidth: nil) == [0..<90])
    }

    @Test func allowPatternsStopwordsAndGlobalFilters() throws {
        let pack = """
            global:
              stopwords: [changeme]
              allow: ['^(.)\\1+$']
              allow_context: ['data:[a-z]+/[a-z0-9.+-]+;base64,']
            rules:
              - id: demo.assigned
                name: Assigned secret
                pattern: 'secret\\s*=\\s*"(?<secret>[^"]{8,})"'
                allow: ['^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$']
                allow_context: ['--hash=sha256:']
              - id: demo.content
                name: Content rules skip global filters
                kind: content
                pattern: '(?<secret>exec\\(zzzzzzzz\\))'
            """
        let loaded = LoadedRules(yaml: pack, file: "p.yaml")
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
        #expect(loaded.rules.map(\.kind) == [.secret, .content])
        let matcher = Matcher(ruleSet: RuleSet(loaded))
        func found(_ text: String) -> [String] { matcher.scan(text: text, path: nil).findings.map(\.secret) }
        #expect(found(#"secret = "Hq8v2LmZp0Xr""#) == ["Hq8v2LmZp0Xr"])
        #expect(found(#"secret = "changeme-now""#).isEmpty)  // global stop-word
        #expect(found(#"secret = "zzzzzzzzzz""#).isEmpty)  // global allow: one repeated character
        #expect(found(#"secret = "0f8fad5b-d9cb-469f-a165-70867728950e""#).isEmpty)  // rule allow: a UUID
        #expect(found(#"pkg==1.0 --hash=sha256:abc secret = "Hq8v2LmZp0Xr""#).isEmpty)  // rule allow_context
        #expect(found(#"icon = "data:image/png;base64,iVBOR" secret = "Hq8v2LmZp0Xr""#).isEmpty)  // global context
        #expect(found("x\nsecret = \"Hq8v2LmZp0Xr\"\n" + #"icon = "data:image/png;base64,iVBOR""#).count == 1)
        #expect(found("exec(zzzzzzzz)") == ["exec(zzzzzzzz)"])
    }

    @Test func badAllowPatternsAndValidatorsAreReportedWithRuleAndLine() {
        let pack = """
            global:
              allow: ['(unclosed']
            rules:
              - id: demo.bad-allow
                name: Bad allow
                pattern: '(x+)'
                allow: ['[z-a]']
              - id: demo.bad-validator
                name: Bad validator
                pattern: '(y+)'
                validate: crc99
              - id: demo.fine
                name: Fine
                pattern: '(w+)'
            """
        let ruleSet = RuleSet(LoadedRules(yaml: pack, file: "p.yaml"))
        let errors = ruleSet.errors.map(\.description)
        #expect(errors.contains { $0.hasPrefix("p.yaml:2: error: `global allow` pattern does not compile") })
        #expect(
            errors.contains { $0.hasPrefix("p.yaml:7: error: rule demo.bad-allow: `allow` pattern does not compile") })
        #expect(
            errors.contains { $0.hasPrefix("p.yaml:11: error: rule demo.bad-validator: unknown validator `crc99`") })
        #expect(ruleSet.rules.map(\.rule.id) == ["demo.fine"])
        #expect(Matcher(ruleSet: ruleSet).scan(text: "www", path: nil).findings.count == 1)
    }
}
