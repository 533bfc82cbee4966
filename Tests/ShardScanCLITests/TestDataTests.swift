import Foundation
import ShardScanCore
import ShardScanStore
import Testing

/// Test fixtures and documentation examples told apart automatically (status `test-data`), with the shipped
/// rules, run as a user runs them: `scan`, `findings`, `report`, `triage`.
@Suite final class TestDataTests {
    let folder: URL
    var mint = TokenMint(seed: 0x16_16)

    init() throws { folder = try CLI.temporaryFolder() }
    deinit { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    func password() -> String { mint.string(24, from: TokenMint.base62Alphabet) }

    func scan(_ db: String, _ mirror: GrowingMirror) throws -> CLI.Result {
        try CLI.run(["scan", "--db", db, "--rules", "Rules", "--quiet", mirror.root])
    }

    /// `findings --format json --show-secrets` rows, keyed by secret.
    func rows(_ db: String) throws -> [String: [String: Any]] {
        let result = try CLI.run(["findings", "--db", db, "--format", "json", "--show-secrets"])
        #expect(result.status == 0, "\(result.stderr)")
        let list = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        return Dictionary(list.map { ($0["secret"] as! String, $0) }, uniquingKeysWith: { first, _ in first })
    }

    @Test func fixturesAndExamplesAreTestDataWithTheirEvidenceAndRealTokensStayOpen() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let (documented, dummy) = (password(), password())
        let token = mint.githubToken()
        let pypi = mint.pypiToken()
        try mirror.publish(
            "demo", "1.0",
            [
                "docs/usage.md": "```python\nclient = Client(password=\"\(documented)\")\n```\n",
                "demo/dummy_settings.py": "API_KEY = \"\(dummy)\"\n",
                // Under tests/, but a checksum-valid token and a PyPI token are never hidden by their path.
                "tests/test_upload.py": "GITHUB_TOKEN = \"\(token)\"\nPYPI_TOKEN = \"\(pypi)\"\n",
            ])
        let db = path("s.sqlite")
        let first = try scan(db, mirror)
        #expect(first.status == 1, "the real tokens are new: \(first.stderr)")

        let found = try rows(db)
        #expect(found[documented]?["status"] as? String == "test-data")
        #expect((found[documented]?["status_reason"] as? String)?.hasPrefix("automatic: fixture path docs/") == true)
        #expect(found[dummy]?["status"] as? String == "test-data")
        #expect((found[dummy]?["status_reason"] as? String)?.contains("fixture name dummy") == true)
        #expect(found[token]?["status"] as? String == "open")
        #expect(found[pypi]?["status"] as? String == "open")
        #expect(found[token]?["status_reason"] == nil)

        // Kept and queryable, suppressed in SARIF with the evidence as the justification.
        let listed = try CLI.run(["findings", "--db", db, "--status", "test-data", "--format", "json"])
        #expect(listed.status == 0)
        #expect((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [Any])?.count == 2)
        let report = try CLI.run(["report", "--open", "--format", "sarif", "--output", path("open.sarif"), "--db", db])
        #expect(report.status == 0, "\(report.stderr)")
        let sarif = try #require(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("open.sarif"))))
                as? [String: Any])
        let results = ((sarif["runs"] as? [[String: Any]]) ?? []).flatMap { ($0["results"] as? [[String: Any]]) ?? [] }
        let suppressed = results.filter { $0["suppressions"] != nil }
        #expect(suppressed.count == 2)
        let justifications = suppressed.compactMap {
            (($0["suppressions"] as? [[String: Any]])?.first?["justification"]) as? String
        }
        #expect(justifications.allSatisfy { $0.hasPrefix("test-data: automatic: fixture ") }, "\(justifications)")
        #expect(results.count - suppressed.count == 2)
    }

    @Test func onlyFixturesIsNotNewsAndARealPlaceReopensIt() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let secret = password()
        try mirror.publish("demo", "1.0", ["examples/connect.py": "db = connect(password=\"\(secret)\")\n"])
        let db = path("s.sqlite")
        let first = try scan(db, mirror)
        #expect(first.status == 0, "a documentation example is not a new secret: \(first.stdout) \(first.stderr)")
        #expect(try rows(db)[secret]?["status"] as? String == "test-data")

        // The same secret in a project's settings: no longer only an example.
        try mirror.publish("shop", "2.0", ["shop/settings.py": "DATABASE_PASSWORD = \"\(secret)\"\n"])
        let second = try scan(db, mirror)
        #expect(second.status == 1, "\(second.stderr)")
        #expect(try rows(db)[secret]?["status"] as? String == "open")
        let fingerprint = try #require(try rows(db)[secret]?["fingerprint"] as? String)
        let history = try Store(path: db).triageHistory(fingerprint)
        #expect(history.map(\.status) == [.testData, .open])
        #expect(history.allSatisfy { $0.author == Store.automaticAuthor && $0.source == "automatic" })
    }

    @Test func aPersonsTriageAlwaysWins() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let secret = password()
        try mirror.publish("demo", "1.0", ["tests/conftest.py": "PASSWORD = \"\(secret)\"\n"])
        let db = path("s.sqlite")
        #expect(try scan(db, mirror).status == 0)
        let fingerprint = try #require(try rows(db)[secret]?["fingerprint"] as? String)
        #expect(try rows(db)[secret]?["status"] as? String == "test-data")

        // A person says it is a real leak; new fixture places do not take it back.
        let set = try CLI.run(["triage", fingerprint, "--status", "confirmed", "--by", "alice", "--db", db])
        #expect(set.status == 0, "\(set.stderr)")
        try mirror.publish("demo", "1.1", ["tests/conftest.py": "PASSWORD = \"\(secret)\"\n", "docs/a.md": secret])
        #expect(try scan(db, mirror).status == 0)
        #expect(try rows(db)[secret]?["status"] as? String == "confirmed")

        // On import, an automatic entry never beats a person's, even a newer one.
        let store = try Store(path: db)
        let outcome = try store.importTriage([
            TriageRecord(
                fingerprint: fingerprint, status: .testData, comment: "automatic: elsewhere",
                author: Store.automaticAuthor, changedAt: "2999-01-01T00:00:00Z")
        ])
        #expect(outcome.applied == 0)
        #expect(try rows(db)[secret]?["status"] as? String == "confirmed")
        // And a person's entry replaces an automatic one, even an older one.
        let other = password()
        try mirror.publish("demo", "1.2", ["docs/b.md": "token = \"\(other)\"\n"])
        #expect(try scan(db, mirror).status == 0)
        let otherFingerprint = try #require(try rows(db)[other]?["fingerprint"] as? String)
        let imported = try store.importTriage([
            TriageRecord(
                fingerprint: otherFingerprint, status: .confirmed, author: "bob", changedAt: "2001-01-01T00:00:00Z")
        ])
        #expect(imported.applied == 1)
        #expect(try rows(db)[other]?["status"] as? String == "confirmed")
    }

    @Test func theSameSecretInUnrelatedProjectsIsPublishedFixtureData() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let (shared, family) = (password(), password())
        for project in ["alpha", "beta", "gamma"] {
            try mirror.publish(project, "1.0", ["\(project)/config.py": "API_KEY = \"\(shared)\"\n"])
        }
        // One project and its plugins are one family: not prevalence.
        for project in ["django", "django-foo", "django_bar"] {
            try mirror.publish(project, "1.0", ["src/config.py": "API_KEY = \"\(family)\"\n"])
        }
        let db = path("s.sqlite")
        #expect(try scan(db, mirror).status == 1)
        let found = try rows(db)
        #expect(found[shared]?["status"] as? String == "test-data")
        #expect(
            (found[shared]?["status_reason"] as? String)?.hasPrefix("automatic: prevalence: the same secret in 3")
                == true)
        #expect(found[family]?["status"] as? String == "open")
    }
}
