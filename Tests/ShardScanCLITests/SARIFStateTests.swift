import Foundation
import ShardScanCore
import ShardScanEngine
import Testing

/// SARIF as GitHub code scanning keeps it: each upload replaces its category's alerts, so every delivery states
/// a shard's whole truth (`scan --sarif`, `report --open`), and `--sarif-dir` gives each changed shard a file.
@Suite final class SARIFStateTests {
    static let rules = """
        rules:
          - id: github.pat-classic
            name: GitHub token
            pattern: '\\b(?<secret>ghp_[A-Za-z0-9]{36})\\b'
            min_entropy: 3.5
            keywords: [ghp_]
            confidence: high
          - id: content.exec-decoded
            name: exec of a decoded payload
            kind: content
            severity: medium
            pattern: '(?<secret>exec\\(base64\\.b64decode\\()'
            keywords: [b64decode]
        """

    let folder: URL
    let rules: String
    var fake = FakeCredentials(seed: 31)

    init() throws {
        folder = try CLI.temporaryFolder()
        rules = folder.appendingPathComponent("rules.yaml").path
        try Self.rules.write(toFile: rules, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func scan(_ db: String, _ roots: [String], _ extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["scan", "--db", db, "--rules", rules, "--quiet", "--fail-on", "never"] + extra + roots)
    }

    /// The runs of a SARIF file, by category.
    func runs(_ file: String) throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let log = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(log["version"] as? String == "2.1.0")
        let runs = try #require(log["runs"] as? [[String: Any]])
        return Dictionary(
            uniqueKeysWithValues: runs.map { (($0["automationDetails"] as! [String: Any])["id"] as! String, $0) })
    }

    func results(_ run: [String: Any]?) -> [[String: Any]] { run?["results"] as? [[String: Any]] ?? [] }

    func fingerprint(_ result: [String: Any]) -> String {
        (result["properties"] as! [String: Any])["fingerprint"] as! String
    }

    func sarifFiles(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".sarif") }.sorted()
    }

    @Test func aSecondNightWithNothingNewKeepsEveryAlertOpen() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        try mirror.publish("demo", "1.0", ["app.py": "T = '\(fake.githubToken(prefix: "ghp_"))'\n"])
        let db = path("s.sqlite")
        #expect(try scan(db, [mirror.root], ["--sarif", path("night1.sarif")]).status == 0)
        #expect(try scan(db, [mirror.root], ["--sarif", path("night2.sarif")]).status == 0)
        let first = try runs(path("night1.sarif"))
        let second = try runs(path("night2.sarif"))
        let category = "shardscan/pypi-mirror-1/"
        #expect(results(first[category]).count == 1)
        #expect(results(second[category]).count == 1, "a night with nothing new must not close yesterday's alerts")
        #expect(results(second[category]).map(fingerprint) == results(first[category]).map(fingerprint))
        #expect(second[category]?["columnKind"] as? String == "utf16CodeUnits")
    }

    @Test func triagedFindingsAreSuppressedAndConfirmedOnesStayOpen() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let (fixture, leaked, other) = (
            fake.githubToken(prefix: "ghp_"), fake.githubToken(prefix: "ghp_"), fake.githubToken(prefix: "ghp_")
        )
        try mirror.publish("demo", "1.0", ["a.py": "A = '\(fixture)'\nB = '\(leaked)'\nC = '\(other)'\n"])
        let db = path("s.sqlite")
        #expect(try scan(db, [mirror.root]).status == 0)
        let id = { Finding.fingerprint(ruleID: "github.pat-classic", secret: $0) }
        for (secret, status) in [(fixture, "false-positive"), (leaked, "confirmed")] {
            let set = try CLI.run([
                "triage", id(secret), "--status", status, "--comment", "seen by a person", "--by", "alice", "--db", db,
            ])
            #expect(set.status == 0, "\(set.stderr)")
        }
        let report = try CLI.run(["report", "--open", "--format", "sarif", "--output", path("open.sarif"), "--db", db])
        #expect(report.status == 0, "\(report.stderr)")
        let byFingerprint = Dictionary(
            uniqueKeysWithValues: results(try runs(path("open.sarif"))["shardscan/pypi-mirror-1/"]).map {
                (fingerprint($0), $0)
            })
        #expect(byFingerprint.count == 3, "triaged findings stay in the run, suppressed")
        let suppressed = try #require(byFingerprint[id(fixture)]?["suppressions"] as? [[String: Any]])
        #expect(suppressed.count == 1)
        #expect(suppressed[0]["kind"] as? String == "external")
        #expect(suppressed[0]["status"] as? String == "accepted")
        let justification = try #require(suppressed[0]["justification"] as? String)
        #expect(justification.hasPrefix("false-positive: seen by a person (alice, "))
        #expect(byFingerprint[id(leaked)]?["suppressions"] == nil, "a confirmed leak still needs rotating")
        #expect(byFingerprint[id(other)]?["suppressions"] == nil)
        #expect((byFingerprint[id(leaked)]?["properties"] as? [String: Any])?["status"] as? String == "confirmed")
        #expect(!(try String(contentsOfFile: path("open.sarif"), encoding: .utf8)).contains(fixture))
    }

    @Test func aSARIFFolderGetsTheShardsThatChangedKeepsFailedUploadsAndClosesAForgottenOne() throws {
        let alpha = try GrowingMirror(root: path("alpha"), name: "pypi-mirror-1")
        let beta = try GrowingMirror(root: path("beta"), name: "pypi-mirror-2")
        try alpha.publish("one", "1.0", ["a.py": "T = '\(fake.githubToken(prefix: "ghp_"))'\n"])
        try beta.publish("two", "1.0", ["b.py": "T = '\(fake.githubToken(prefix: "ghp_"))'\n"])
        let db = path("s.sqlite")
        let out = path("sarif")
        #expect(try scan(db, [alpha.root, beta.root], ["--sarif-dir", out]).status == 0)
        #expect(try sarifFiles(out) == ["pypi-mirror-1.sarif", "pypi-mirror-2.sarif"])
        for name in try sarifFiles(out) {
            let runs = try runs(out + "/" + name)
            #expect(runs.count == 1, "one category per upload")
            var mode = stat()
            #expect(stat(out + "/" + name, &mode) == 0 && mode.st_mode & 0o777 == 0o600)
        }

        // The uploader takes one file and fails on the other, which stays for the next night to retry.
        try FileManager.default.removeItem(atPath: out + "/pypi-mirror-1.sarif")
        let failed = try Data(contentsOf: URL(fileURLWithPath: out + "/pypi-mirror-2.sarif"))
        // Nothing new: nothing more to upload, and the failed upload is still there, as it was.
        #expect(try scan(db, [alpha.root, beta.root], ["--sarif-dir", out]).status == 0)
        #expect(try sarifFiles(out) == ["pypi-mirror-2.sarif"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/pypi-mirror-2.sarif")) == failed)
        try FileManager.default.removeItem(atPath: out + "/pypi-mirror-2.sarif")

        // A new secret in one shard: only that shard's file, holding both of its findings.
        try alpha.publish("one", "1.1", ["a.py": "T = '\(fake.githubToken(prefix: "ghp_"))'\n"])
        #expect(try scan(db, [alpha.root, beta.root], ["--sarif-dir", out]).status == 0)
        #expect(try sarifFiles(out) == ["pypi-mirror-1.sarif"])
        #expect(results(try runs(out + "/pypi-mirror-1.sarif")["shardscan/pypi-mirror-1/"]).count == 2)
        try FileManager.default.removeItem(atPath: out + "/pypi-mirror-1.sarif")

        // A shard forgotten: its findings are gone from the state, and its empty run closes its alerts.
        let forget = try CLI.run(["status", "--forget", "pypi-mirror-2", "--db", db])
        #expect(forget.status == 0, "\(forget.stderr)")
        let report = try CLI.run(["report", "--open", "--sarif-dir", out, "--db", db])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(try sarifFiles(out) == ["pypi-mirror-2.sarif"])
        let closing = try runs(out + "/pypi-mirror-2.sarif")
        #expect(closing.keys.sorted() == ["shardscan/pypi-mirror-2/"])
        #expect(results(closing["shardscan/pypi-mirror-2/"]).isEmpty)
        try FileManager.default.removeItem(atPath: out + "/pypi-mirror-2.sarif")
        // Delivered once; the next state has nothing new to say about it.
        #expect(try CLI.run(["report", "--open", "--sarif-dir", out, "--db", db]).status == 0)
        #expect(try sarifFiles(out) == [])
    }

    @Test func columnsCountUTF16CodeUnitsAndContentRulesGetTheirOwnHelp() throws {
        let mirror = try GrowingMirror(root: path("mirror"))
        let token = fake.githubToken(prefix: "ghp_")
        // é is 2 bytes and 1 unit, ☕ 3 bytes and 1 unit, 𝄞 4 bytes and 2 units.
        let prefix = "# café ☕ 𝄞 " + String(repeating: "x", count: 70) + " T = '"
        try mirror.publish(
            "demo", "1.0",
            ["a.py": prefix + token + "'\n", "setup.py": "exec(base64.b64decode('cHJpbnQoMSk='))\n"])
        let db = path("s.sqlite")
        #expect(try scan(db, [mirror.root], ["--sarif", path("s.sarif")]).status == 0)
        let run = try #require(try runs(path("s.sarif"))["shardscan/pypi-mirror-1/"])
        let byRule = Dictionary(grouping: results(run)) { $0["ruleId"] as! String }
        let token16 = try #require(byRule["github.pat-classic"]?.first)
        let region =
            ((token16["locations"] as! [[String: Any]])[0]["physicalLocation"] as! [String: Any])["region"]
            as! [String: Any]
        let startColumn = prefix.utf16.count + 1
        #expect(region["startColumn"] as? Int == startColumn)
        #expect(region["endColumn"] as? Int == startColumn + token.utf16.count)
        #expect(prefix.utf8.count + 1 != startColumn, "the line is not ASCII, so bytes and UTF-16 differ")

        let descriptors = ((run["tool"] as! [String: Any])["driver"] as! [String: Any])["rules"] as! [[String: Any]]
        let help = Dictionary(
            uniqueKeysWithValues: descriptors.map {
                ($0["id"] as! String, ($0["help"] as! [String: Any])["text"] as! String)
            })
        #expect(help["github.pat-classic"]?.contains("rotate") == true)
        #expect(help["content.exec-decoded"]?.contains("rotate") == false)
        #expect(help["content.exec-decoded"]?.contains("report the project to PyPI") == true)
    }

    @Test func reportOptionsAreCheckedBeforeAnythingIsRead() throws {
        let noFormat = try CLI.run(["report", "--all", "--db", path("none.sqlite")])
        #expect(noFormat.status == 2 && noFormat.stderr.contains("--format"))
        let dirWithoutOpen = try CLI.run(["report", "--all", "--sarif-dir", path("d"), "--db", path("none.sqlite")])
        #expect(dirWithoutOpen.status == 2 && dirWithoutOpen.stderr.contains("--open"))
        #expect(!FileManager.default.fileExists(atPath: path("d")))
    }
}
