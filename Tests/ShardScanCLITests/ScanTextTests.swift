import Foundation
import ShardScanCore
import Testing

@Suite struct ScanTextTests {
    /// A fake classic GitHub token: right prefix, length, alphabet and checksum, random body.
    static func fakeGitHubToken() -> String {
        var mint = TokenMint(seed: UInt64.random(in: 1...UInt64.max))
        return mint.githubToken()
    }

    @Test func findsAGitHubTokenInAPythonFileRedacted() throws {
        let token = Self.fakeGitHubToken()
        let folder = try CLI.temporaryFolder()
        let file = folder.appendingPathComponent("settings.py")
        try "import os\n\nGITHUB_TOKEN = \"\(token)\"\n".write(to: file, atomically: true, encoding: .utf8)

        let result = try CLI.run(["scan-text", file.path])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("settings.py:3:17"))
        #expect(result.stdout.contains("github."))
        #expect(result.stdout.contains(String(token.prefix(6)) + "…"))
        #expect(!result.stdout.contains(token))
        #expect(!result.stderr.contains(token))

        let shown = try CLI.run(["scan-text", "--show-secrets", "--format", "json", file.path])
        #expect(shown.status == 1)
        let json = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        let rows = try #require(json?["findings"] as? [[String: Any]])
        let row = try #require(rows.first { ($0["rule"] as? String)?.hasPrefix("github.") == true })
        #expect(row["secret"] as? String == token)
        #expect(row["line"] as? Int == 3)
        #expect(row["column"] as? Int == 17)
    }

    @Test func readsStandardInputAndExitsZeroWhenClean() throws {
        let clean = try CLI.run(["scan-text", "-"], stdin: "print('hello world')\n")
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(clean.stdout.isEmpty)
        let dirty = try CLI.run(["scan-text"], stdin: "token = '\(Self.fakeGitHubToken())'\n")
        #expect(dirty.status == 1)
    }

    /// A pack with an error is not used in part: the author sees every error and nothing is scanned.
    @Test func aBadRuleStopsScanTextBeforeItReads() throws {
        let folder = try CLI.temporaryFolder()
        try """
        rules:
          - id: broken.rule
            name: Broken
            pattern: '(?<secret>['
          - id: demo.token
            name: Demo
            pattern: 'demo_(?<secret>[a-z0-9]{12})'
        """.write(to: folder.appendingPathComponent("pack.yaml"), atomically: true, encoding: .utf8)
        let result = try CLI.run(["scan-text", "--rules", folder.path, "-"], stdin: "x = demo_k3j9x7q2m5w8\n")
        #expect(result.status == 2)
        #expect(!result.stdout.contains("demo.token"))
        #expect(
            result.stderr.contains("pack.yaml:4: error: rule broken.rule: pattern does not compile"), "\(result.stderr)"
        )
    }

    @Test func missingFileIsAnError() throws {
        let result = try CLI.run(["scan-text", "/nonexistent/file.py"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot read /nonexistent/file.py"))
    }
}
