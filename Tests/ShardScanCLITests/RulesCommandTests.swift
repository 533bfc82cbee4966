import Foundation
import Testing

@Suite struct RulesCommandTests {
    static let goodPack = """
        rules:
          - id: demo.token
            name: Demo token
            pattern: 'demo_(?<secret>[a-z0-9]{12})\\b'
            min_entropy: 3
            keywords: [demo_]
            examples:
              - 'DEMO = "demo_k3j9x7q2m5w8"'
            negative_examples:
              - 'DEMO = "demo_aaaaaaaaaaaa"'
        """

    @Test func shippedRulesPassCheckAndTest() throws {
        let check = try CLI.run(["rules", "check"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let test = try CLI.run(["rules", "test"])
        #expect(test.status == 0, "\(test.stdout)")
        let summary = try #require(test.stdout.split(separator: "\n").last)
        let parts = summary.split(separator: " ")
        #expect(parts.count == 4 && parts[1] == "passed," && parts[2] == "0" && parts[3] == "failed", "\(summary)")
        #expect(Int(parts[0]) ?? 0 >= 120)
    }

    @Test func checkNamesFileLineAndRuleAndOtherFilesStillLoad() throws {
        let folder = try CLI.temporaryFolder()
        try Self.goodPack.write(to: folder.appendingPathComponent("good.yaml"), atomically: true, encoding: .utf8)
        try "rules:\n  - id: x.y\n    name: [oops\n".write(
            to: folder.appendingPathComponent("syntax.yaml"), atomically: true, encoding: .utf8)
        try """
        rules:
          - id: bad.regex
            name: Bad regex
            pattern: 'a(?<secret>b'
            examples: ['ab']
            negative_examples: ['c']
          - id: bad.example
            name: Example fails
            pattern: '(?<secret>zz[0-9]+)'
            examples: ['nothing here']
            negative_examples: ['zz123']
        """.write(to: folder.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)

        let check = try CLI.run(["rules", "check", folder.path])
        #expect(check.status == 2)  // packs that do not load, not only failing examples
        let lines = check.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines.contains {
                $0.hasSuffix(
                    "syntax.yaml:3: error: YAML syntax error: while parsing a flow sequence did not find expected ',' or ']' (column 1)"
                ) || ($0.contains("syntax.yaml:") && $0.contains("YAML syntax error"))
            })
        #expect(lines.contains { $0.contains("bad.yaml:4: error: rule bad.regex: pattern does not compile") })
        #expect(lines.contains { $0.contains("bad.yaml:10: error: rule bad.example: example did not match") })
        #expect(lines.contains { $0.contains("bad.yaml:11: error: rule bad.example: negative example matched") })
        #expect(lines.last?.hasPrefix("3 files, 2 rules compiled: 4 errors") == true, "\(lines.last ?? "")")

        let good = try CLI.run(["rules", "check", folder.appendingPathComponent("good.yaml").path])
        #expect(good.status == 0, "\(good.stdout)")
    }

    @Test func listShowsEveryRuleWithItsKindAndValidator() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.goodPack.write(to: folder.appendingPathComponent("good.yaml"), atomically: true, encoding: .utf8)
        let table = try CLI.run(["rules", "list", folder.path])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(lines.first == ["ID", "KIND", "SEVERITY", "CONFIDENCE", "KEYWORDS", "VALIDATOR"])
        #expect(lines.dropFirst().first == ["demo.token", "secret", "high", "medium", "demo_", "-"])
        #expect(lines.last == ["1", "rules", "in", "1", "files"])

        // The shipped packs: every rule once, validators named, and the kind filter keeps only its kind.
        let shipped = try CLI.run(["rules", "list", "--json"])
        #expect(shipped.status == 0, "\(shipped.stderr)")
        let rules = try #require(
            try JSONSerialization.jsonObject(with: Data(shipped.stdout.utf8)) as? [[String: Any]])
        let ids = rules.compactMap { $0["id"] as? String }
        #expect(ids.count == Set(ids).count && ids.count >= 120)
        let classic = try #require(rules.first { $0["id"] as? String == "github.pat-classic" })
        #expect(classic["validator"] as? String == "github-checksum")
        #expect(classic["kind"] as? String == "secret")
        #expect((classic["file"] as? String)?.hasSuffix(".yaml") == true)
        let content = try CLI.run(["rules", "list", "--kind", "content", "--json"])
        let contentRules = try #require(
            try JSONSerialization.jsonObject(with: Data(content.stdout.utf8)) as? [[String: Any]])
        #expect(!contentRules.isEmpty && contentRules.allSatisfy { $0["kind"] as? String == "content" })
        #expect(contentRules.count + rules.filter { $0["kind"] as? String == "secret" }.count == rules.count)

        // A broken pack is reported as `rules check` reports it, while the rules that loaded are listed.
        try "rules:\n  - id: x.y\n    name: [oops\n".write(
            to: folder.appendingPathComponent("syntax.yaml"), atomically: true, encoding: .utf8)
        let broken = try CLI.run(["rules", "list", folder.path])
        #expect(broken.status == 2)
        #expect(broken.stdout.contains("demo.token"))
        #expect(broken.stderr.contains("syntax.yaml:") && broken.stderr.contains("error"))
    }

    @Test func explainShowsWhatDecidesAMatch() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.goodPack.write(to: folder.appendingPathComponent("good.yaml"), atomically: true, encoding: .utf8)
        let text = try CLI.run(["rules", "explain", "demo.token", "--rules", folder.path])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("pattern (line 4): demo_(?<secret>[a-z0-9]{12})\\b\n"))
        #expect(text.stdout.contains("keywords: demo_\n"))
        #expect(text.stdout.contains("min entropy: 3.00 bits per byte\n"))
        #expect(text.stdout.contains("defined at: \(folder.path)/good.yaml:2\n"))
        #expect(text.stdout.contains("examples (1):\n  [line 8]\n    DEMO = \"demo_k3j9x7q2m5w8\"\n"))
        #expect(text.stdout.contains("negative examples (1):\n  [line 10]\n    DEMO = \"demo_aaaaaaaaaaaa\"\n"))

        let json = try CLI.run(["rules", "explain", "github.pat-classic", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["validator"] as? String == "github-checksum")
        #expect(object["on_invalid"] as? String == "suppress")
        #expect((object["pattern"] as? String)?.contains("ghp_") == true)
        #expect((object["global_allow"] as? [String])?.isEmpty == false)
        #expect(["pattern", "keywords", "always"].contains(object["prefilter"] as? String ?? ""))
        #expect(((object["examples"] as? [Any])?.count ?? 0) > 0)
        #expect(((object["negative_examples"] as? [Any])?.count ?? 0) > 0)

        // Kept out of Hyperscan (`hyperscan: false`), a rule still runs only where its paths let it.
        let offscreen = try CLI.run(["rules", "explain", "content.offscreen-code"])
        #expect(offscreen.status == 0, "\(offscreen.stderr)")
        #expect(offscreen.stdout.contains("prefilter: runs on every file its paths include\n"))

        let unknown = try CLI.run(["rules", "explain", "demo.tokn", "--rules", folder.path])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no rule `demo.tokn`") && unknown.stderr.contains("did you mean `demo.token`?"))
        let prefix = try CLI.run(["rules", "explain", "github.pat"])
        #expect(prefix.status == 1)
        #expect(prefix.stderr.contains("github.pat-classic"))
    }

    @Test func testCountsAndFiltersByRule() throws {
        let folder = try CLI.temporaryFolder()
        try Self.goodPack.write(to: folder.appendingPathComponent("good.yaml"), atomically: true, encoding: .utf8)
        let passing = try CLI.run(["rules", "test", folder.path, "--rule", "demo.token"])
        #expect(passing.status == 0)
        #expect(passing.stdout == "2 passed, 0 failed\n")
        let unknown = try CLI.run(["rules", "test", folder.path, "--rule", "no.such"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no rule with id no.such"))

        let failing = Self.goodPack.replacingOccurrences(of: "demo_aaaaaaaaaaaa", with: "demo_p4r8t2y6u1i0")
        try failing.write(to: folder.appendingPathComponent("good.yaml"), atomically: true, encoding: .utf8)
        let result = try CLI.run(["rules", "test", folder.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL demo.token negative example at"))
        #expect(result.stdout.hasSuffix("1 passed, 1 failed\n"))
    }
}
