import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

/// A one-shard mirror whose releases a test publishes one at a time, as the nightly fetch does.
final class GrowingMirror {
    let root: String
    let shard: String
    private var parent: ObjectID?
    private var time: Int64 = 1_700_000_000

    init(root: String, name: String = "pypi-mirror-1") throws {
        self.root = root
        shard = root + "/" + name
        _ = try Repository.create(at: shard, bare: true)
    }

    /// Publishes `project` `version` with `files` (paths inside the release → text).
    func publish(_ project: String, _ version: String, _ files: [String: String]) throws {
        let repository = try Repository(at: shard)
        let base = "packages/\(project)/\(project)-\(version).tar.gz/\(project)-\(version)/"
        let blobs = try files.sorted { $0.key < $1.key }.map {
            (path: base + $0.key, blob: try repository.writeBlob(Array($0.value.utf8)))
        }
        time += 60
        parent = try repository.commit(
            files: blobs, parent: parent, message: "\(project) \(version)",
            author: Signature(name: "m", email: "m@x.invalid", time: time), reference: "refs/heads/code")
    }
}

/// `triage`, `findings` filters, `--fail-on`, `summary` and deliveries, run as a user runs them.
@Suite final class TriageCommandTests {
    static let rules = """
        rules:
          - id: github.pat-classic
            name: GitHub token
            pattern: '\\b(?<secret>ghp_[A-Za-z0-9]{36})\\b'
            min_entropy: 3.5
            keywords: [ghp_]
            confidence: high
          - id: aws.access-key-id
            name: AWS access key id
            pattern: '\\b(?<secret>AKIA[A-Z2-7]{16})\\b'
            severity: medium
            confidence: low
        """

    let folder: URL
    let rules: String
    var fake = FakeCredentials(seed: 12)

    init() throws {
        folder = try CLI.temporaryFolder()
        rules = folder.appendingPathComponent("rules.yaml").path
        try Self.rules.write(toFile: rules, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func awsKey() -> String { "AKIA" + fake.string(16, from: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") }

    func scan(_ db: String, _ mirror: GrowingMirror, _ extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["scan", "--db", db, "--rules", rules, "--quiet"] + extra + [mirror.root])
    }

    /// The rows of `findings --format json` with `extra` filters.
    func rows(_ db: String, _ extra: [String] = []) throws -> [[String: Any]] {
        let result = try CLI.run(["findings", "--db", db, "--format", "json"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
    }

    func fingerprint(of secret: String) -> String {
        Finding.fingerprint(
            ruleID: secret.hasPrefix("ghp_") ? "github.pat-classic" : "aws.access-key-id", secret: secret)
    }

    // MARK: Triage

    @Test func aStatusHoldsAcrossRescansAndNewReleasesAndHasAHistory() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let testKey = fake.githubToken(prefix: "ghp_")
        let leaked = fake.githubToken(prefix: "ghp_")
        try mirror.publish("demo", "1.0", ["demo/keys.py": "KEY = '\(testKey)'\n", "app.py": "T = '\(leaked)'\n"])
        let db = path("s.sqlite")
        #expect(try scan(db, mirror).status == 1)

        let before = try rows(db)
        #expect(before.count == 2)
        #expect(before.allSatisfy { $0["status"] as? String == "open" && ($0["fingerprint"] as? String)?.count == 64 })
        let table = try CLI.run(["findings", "--db", db])
        #expect(table.stdout.contains("FINGERPRINT") && table.stdout.contains("STATUS"))
        #expect(table.stdout.contains(String(fingerprint(of: testKey).prefix(12))))

        let set = try CLI.run([
            "triage", String(fingerprint(of: testKey).prefix(12)), "--status", "test-data", "--comment",
            "fixture key", "--by", "alice", "--db", db,
        ])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(
            try rows(db, ["--status", "test-data"]).map { $0["fingerprint"] as? String } == [fingerprint(of: testKey)])

        // A rescan with nothing new, then the same test key in a new release of another project.
        #expect(try scan(db, mirror).status == 0)
        try mirror.publish("other", "2.0", ["conftest.py": "K = '\(testKey)'\n"])
        let rescan = try scan(db, mirror)
        #expect(rescan.status == 0, "a triaged secret in a new release is not new: \(rescan.stderr)")
        let triaged = try rows(db, ["--status", "test-data"])
        #expect(Set(triaged.compactMap { $0["project"] as? String }) == ["demo", "other"])
        #expect(try rows(db, ["--status", "triaged"]).count == 2)
        #expect(try rows(db, ["--status", "open"]).map { $0["fingerprint"] as? String } == [fingerprint(of: leaked)])

        // Changed again: the history keeps both, the status is the last.
        #expect(
            try CLI.run(["triage", fingerprint(of: testKey), "--status", "revoked", "--by", "bob", "--db", db]).status
                == 0)
        let history = try Store(path: db).triageHistory(fingerprint(of: testKey))
        #expect(history.map(\.status) == [.testData, .revoked])
        #expect(history.map(\.author) == ["alice", "bob"])
        #expect(try rows(db, ["--status", "revoked"]).count == 2)
    }

    @Test func prefixesMustBeLongUniqueAndKnownAndBulkSelectsByRuleOrProject() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let token = fake.githubToken(prefix: "ghp_")
        let keys = [awsKey(), awsKey()]
        try mirror.publish("alpha", "1.0", ["a.py": "T = '\(token)'\nA = '\(keys[0])'\n"])
        try mirror.publish("beta", "1.0", ["b.py": "A = '\(keys[1])'\n"])
        let db = path("s.sqlite")
        #expect(try scan(db, mirror).status == 1)

        let short = try CLI.run(["triage", "abcdef1", "--status", "accepted", "--db", db])
        #expect(short.status == 2 && short.stderr.contains("8 to 64 hex digits"), "\(short.stderr)")
        let unknown = try CLI.run(["triage", "00000000", "--status", "accepted", "--db", db])
        #expect(unknown.status == 2 && unknown.stderr.contains("no finding"), "\(unknown.stderr)")
        // Another fingerprint sharing the token's first 8 digits (an imported entry) makes the prefix ambiguous.
        let real = fingerprint(of: token)
        let twin = String(real.prefix(8)) + String(repeating: real.dropFirst(8).first == "0" ? "1" : "0", count: 56)
        _ = try Store(path: db).importTriage([
            TriageRecord(fingerprint: twin, status: .falsePositive, author: "x", changedAt: "2026-01-01T00:00:00Z")
        ])
        let ambiguous = try CLI.run(["triage", String(real.prefix(8)), "--status", "accepted", "--db", db])
        #expect(ambiguous.status == 2 && ambiguous.stderr.contains("ambiguous"), "\(ambiguous.stderr)")
        #expect(try rows(db, ["--status", "accepted"]).isEmpty, "nothing is set when one prefix fails")

        let bulk = try CLI.run(["triage", "--rule", "aws.access-key-id", "--status", "revoked", "--db", db])
        #expect(bulk.status == 0, "\(bulk.stderr)")
        #expect(
            Set(try rows(db, ["--status", "revoked"]).compactMap { $0["fingerprint"] as? String })
                == Set(keys.map(fingerprint)))
        let project = try CLI.run(["triage", "--project", "ALPHA", "--status", "confirmed", "--db", db])
        #expect(project.status == 0, "\(project.stderr)")
        #expect(
            Set(try rows(db, ["--status", "confirmed"]).compactMap { $0["fingerprint"] as? String })
                == [real, fingerprint(of: keys[0])])
        #expect(try rows(db, ["--status", "revoked"]).compactMap { $0["project"] as? String } == ["beta"])
    }

    @Test func exportImportsIntoAFreshStoreWhereTheNewerChangeWins() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let tokens = [fake.githubToken(prefix: "ghp_"), fake.githubToken(prefix: "ghp_")]
        try mirror.publish("demo", "1.0", ["a.py": "A = '\(tokens[0])'\n", "b.py": "B = '\(tokens[1])'\n"])
        let team = path("team.sqlite")
        #expect(try scan(team, mirror).status == 1)
        for (token, status) in zip(tokens, ["false-positive", "test-data"]) {
            let result = try CLI.run([
                "triage", fingerprint(of: token), "--status", status, "--comment", "seen", "--by", "carol", "--db",
                team,
            ])
            #expect(result.status == 0, "\(result.stderr)")
        }
        // Known before it is ever found: a baseline entry for a secret of a release not published yet.
        let later = fake.githubToken(prefix: "ghp_")
        #expect(
            try CLI.run(["triage", fingerprint(of: later), "--status", "test-data", "--by", "carol", "--db", team])
                .status == 0)

        let file = path("triage.json")
        #expect(try CLI.run(["triage", "export", "--db", team, "--output", file]).status == 0)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        for token in tokens + [later] { #expect(!text.contains(token), "the file holds no secrets") }
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let entries = try #require(document["triage"] as? [[String: Any]])
        let fingerprints = entries.compactMap { $0["fingerprint"] as? String }
        #expect(fingerprints == fingerprints.sorted() && fingerprints.count == 3)
        #expect(entries.allSatisfy { $0["by"] as? String == "carol" && $0["time"] is String })
        let again = try CLI.run(["triage", "export", "--db", team])
        #expect(again.stdout == text, "the export is stable")

        // A fresh store: imported first, then scanned; every secret found is already triaged, so nothing is new.
        let fresh = path("fresh.sqlite")
        let imported = try CLI.run(["triage", "import", "--db", fresh, file])
        #expect(imported.status == 0 && imported.stderr.contains("3 applied"), "\(imported.stderr)")
        #expect(try scan(fresh, mirror).status == 0)
        #expect(Set(try rows(fresh).compactMap { $0["status"] as? String }) == ["false-positive", "test-data"])
        try mirror.publish("late", "1.0", ["c.py": "C = '\(later)'\n"])
        #expect(try scan(fresh, mirror).status == 0, "the baseline entry applies when its secret turns up")
        #expect(try rows(fresh, ["--project", "late"]).first?["status"] as? String == "test-data")

        // The fresh store changes one status; an older file does not undo it, a newer one does.
        #expect(
            try CLI.run(["triage", fingerprint(of: tokens[0]), "--status", "confirmed", "--db", fresh]).status == 0)
        let older = try CLI.run(["triage", "import", "--db", fresh, file])
        #expect(older.stderr.contains("1 kept"), "\(older.stderr)")
        #expect(try rows(fresh, ["--status", "confirmed"]).count == 1)
        let newer = path("newer.json")
        try text.replacingOccurrences(of: #""time" : "20"#, with: #""time" : "29"#)
            .write(toFile: newer, atomically: true, encoding: .utf8)
        let applied = try CLI.run(["triage", "import", "--db", fresh, newer])
        #expect(applied.stderr.contains("3 applied"), "\(applied.stderr)")
        #expect(try rows(fresh, ["--status", "confirmed"]).isEmpty)

        let broken = path("broken.json")
        try text.replacingOccurrences(of: "false-positive", with: "wontfix").write(
            toFile: broken, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["triage", "import", "--db", fresh, broken]).status == 2)
        // `retired` follows the rules: no verdict a file can carry, refused as `triage set` refuses it.
        let retired = path("retired.json")
        try text.replacingOccurrences(of: "false-positive", with: "retired").write(
            toFile: retired, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["triage", "import", "--db", fresh, retired])
        #expect(refused.status == 2 && refused.stderr.contains("'retired' follows the rules"), "\(refused.stderr)")
        #expect(try rows(fresh, ["--status", "retired"]).isEmpty)
    }

    // MARK: Findings filters

    @Test func findingsFilterByStatusConfidenceSeverityKindAndDate() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        try mirror.publish("demo", "1.0", ["a.py": "T = '\(fake.githubToken(prefix: "ghp_"))'\nA = '\(awsKey())'\n"])
        let db = path("s.sqlite")
        #expect(try scan(db, mirror).status == 1)
        #expect(try rows(db).count == 2)
        #expect(
            try rows(db, ["--min-confidence", "high"]).compactMap { $0["rule"] as? String } == ["github.pat-classic"])
        #expect(try rows(db, ["--min-confidence", "low"]).count == 2)
        #expect(try rows(db, ["--severity", "high"]).compactMap { $0["rule"] as? String } == ["github.pat-classic"])
        #expect(try rows(db, ["--severity", "medium"]).count == 2)
        #expect(try rows(db, ["--kind", "secret"]).count == 2)
        #expect(try rows(db, ["--kind", "content"]).isEmpty)
        #expect(try rows(db, ["--since", "2000-01-01"]).count == 2)
        #expect(try rows(db, ["--since", "2999-01-01"]).isEmpty)
        #expect(try CLI.run(["findings", "--db", db, "--status", "wontfix"]).status != 0)
    }

    // MARK: --fail-on

    @Test func failOnCountsNewSecretsNewPlacesOrNothing() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let token = fake.githubToken(prefix: "ghp_")
        try mirror.publish("demo", "1.0", ["a.py": "T = '\(token)'\n"])
        // One store per mode, each scanning the same nights.
        let modes = ["new-secrets", "new-places", "never"]
        func night() throws -> [Int32] {
            try modes.map { try scan(path("\($0).sqlite"), mirror, ["--fail-on", $0]).status }
        }
        #expect(try night() == [1, 1, 0], "the first night: a new secret at a new place")
        #expect(try night() == [0, 0, 0], "nothing new")
        try mirror.publish("demo", "1.1", ["a.py": "T = '\(token)'\n# changed\n"])
        #expect(try night() == [0, 1, 0], "a known secret at a new place")
        try mirror.publish("demo", "1.2", ["b.py": "K = '\(awsKey())'\n"])
        // The AWS rule's confidence is low: with --min-confidence medium only the token counts, first, then
        // nothing once only another AWS key is new.
        #expect(try scan(path("medium.sqlite"), mirror, ["--min-confidence", "medium"]).status == 1)
        let low = awsKey()
        try mirror.publish("demo", "1.3", ["c.py": "K = '\(low)'\n"])
        #expect(try scan(path("medium.sqlite"), mirror, ["--min-confidence", "medium"]).status == 0)
        #expect(try night() == [1, 1, 0], "a new secret")
        // --exit-zero still means never.
        try mirror.publish("demo", "1.4", ["d.py": "K = '\(fake.githubToken(prefix: "ghp_"))'\n"])
        #expect(try scan(path("new-secrets.sqlite"), mirror, ["--exit-zero"]).status == 0)
        // A triaged secret in a new place fails neither new-secrets nor new-places.
        #expect(
            try CLI.run(["triage", fingerprint(of: low), "--status", "revoked", "--db", path("new-places.sqlite")])
                .status == 0)
        try mirror.publish("demo", "1.5", ["e.py": "K = '\(low)'\n"])
        #expect(try scan(path("new-places.sqlite"), mirror, ["--fail-on", "new-places"]).status == 1, "1.4 is new")
        try mirror.publish("demo", "1.6", ["f.py": "K = '\(low)'\n"])
        #expect(try scan(path("new-places.sqlite"), mirror, ["--fail-on", "new-places"]).status == 0)
    }

    // MARK: summary

    @Test func summaryCountsByStatusRuleKindShardAndProject() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let token = fake.githubToken(prefix: "ghp_")
        try mirror.publish("alpha", "1.0", ["a.py": "T = '\(token)'\n", "b.py": "A = '\(awsKey())'\n"])
        try mirror.publish("beta", "1.0", ["a.py": "T = '\(token)'\n"])
        let db = path("s.sqlite")
        #expect(try scan(db, mirror).status == 1)
        #expect(try CLI.run(["triage", fingerprint(of: token), "--status", "false-positive", "--db", db]).status == 0)

        let result = try CLI.run(["summary", "--db", db, "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try JSONDecoder().decode(StoreSummary.self, from: Data(result.stdout.utf8))
        #expect(summary.findings == 2 && summary.places == 3)
        #expect(summary.open == 1 && summary.triaged == 1)
        func counts(_ list: [StoreSummary.Count]) -> [String: [Int]] {
            Dictionary(uniqueKeysWithValues: list.map { ($0.name, [$0.findings, $0.places, $0.open]) })
        }
        #expect(counts(summary.byStatus) == ["false-positive": [1, 2, 0], "open": [1, 1, 1]])
        #expect(counts(summary.byRule) == ["github.pat-classic": [1, 2, 0], "aws.access-key-id": [1, 1, 1]])
        #expect(counts(summary.byKind) == ["secret": [2, 3, 1]])
        #expect(counts(summary.byShard) == ["pypi-mirror-1": [2, 3, 1]])
        #expect(counts(summary.byProject) == ["alpha": [2, 2, 1], "beta": [1, 1, 0]])
        #expect(summary.byProject.first?.name == "alpha")

        let table = try CLI.run(["summary", "--db", db])
        #expect(table.stdout.hasPrefix("2 findings at 3 places: 1 open, 1 triaged"), "\(table.stdout)")
        #expect(table.stdout.contains("PROJECT") && table.stdout.contains("alpha"))
    }
}
