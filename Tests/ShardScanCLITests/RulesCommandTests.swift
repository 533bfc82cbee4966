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
