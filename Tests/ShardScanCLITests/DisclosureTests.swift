import Foundation
import GRDB
import Git
import ShardScanCore
import ShardScanEngine
import Testing

/// A mirror shard whose releases (sdists or wheels, any file name) are published one commit each, in call order.
final class ReleaseMirror {
    let root: String
    let shard: String
    private var parent: ObjectID?
    private var time: Int64 = 1_700_000_000

    init(root: String) throws {
        self.root = root
        shard = root + "/pypi-mirror-1"
        _ = try Repository.create(at: shard, bare: true)
    }

    /// Publishes release file `filename` of `project` holding `files` (paths inside the release → text).
    func publish(_ project: String, _ filename: String, _ files: [String: String]) throws {
        let repository = try Repository(at: shard)
        let blobs = try files.sorted { $0.key < $1.key }.map {
            (path: "packages/\(project)/\(filename)/\($0.key)", blob: try repository.writeBlob(Array($0.value.utf8)))
        }
        time += 86_400
        parent = try repository.commit(
            files: blobs, parent: parent, message: filename,
            author: Signature(name: "m", email: "m@x.invalid", time: time), reference: "refs/heads/code")
    }

    /// An sdist `project-version.tar.gz` with its files under `project-version/`.
    func sdist(_ project: String, _ version: String, _ files: [String: String]) throws {
        let base = "\(project)-\(version)"
        try publish(
            project, base + ".tar.gz", Dictionary(uniqueKeysWithValues: files.map { (base + "/" + $0.key, $0.value) }))
    }
}

/// Leak timelines in `findings`, release metadata and `disclose`, run as a user runs them.
@Suite final class DisclosureTests {
    static let rules = """
        rules:
          - id: github.pat-classic
            name: GitHub token
            pattern: '\\b(?<secret>ghp_[A-Za-z0-9]{36})\\b'
            min_entropy: 3.5
            keywords: [ghp_]
            confidence: high
            references: [https://github.com/settings/tokens]
        """

    let folder: URL
    let rules: String
    var fake = FakeCredentials(seed: 18)

    init() throws {
        folder = try CLI.temporaryFolder()
        rules = folder.appendingPathComponent("rules.yaml").path
        try Self.rules.write(toFile: rules, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func scan(_ db: String, _ mirror: ReleaseMirror) throws {
        let result = try CLI.run(["scan", "--db", db, "--rules", rules, "--quiet", mirror.root])
        #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
    }

    func rows(_ db: String, _ extra: [String] = []) throws -> [[String: Any]] {
        let result = try CLI.run(["findings", "--db", db, "--format", "json"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
    }

    @Test func timelineFollowsPEP440AcrossReleasesPublishedOutOfOrder() throws {
        let mirror = try ReleaseMirror(root: path("mirror"))
        let token = fake.githubToken(prefix: "ghp_")
        // Uploaded 1.10 first, then a backport 1.2 and a pre-release: upload order is not version order.
        try mirror.sdist("demo", "1.10", ["app.py": "T = '\(token)'\n"])
        try mirror.sdist("demo", "1.2", ["app.py": "T = '\(token)'\n"])
        try mirror.sdist("demo", "1.0rc1", ["app.py": "T = '\(token)'\n"])
        try mirror.sdist("demo", "1.9", ["app.py": "print()\n"])
        let db = path("s.sqlite")
        try scan(db, mirror)

        let found = try rows(db)
        #expect(found.count == 3)
        for row in found {
            #expect(row["first_version"] as? String == "1.0rc1")
            #expect(row["last_version"] as? String == "1.10")
            #expect(row["versions"] as? [String] == ["1.0rc1", "1.2", "1.10"])
            // 1.9 was uploaded last but 1.10 is the newest version, and it carries the token.
            #expect(row["still_in_latest"] as? Bool == true)
            #expect(row["projects_with_same_secret"] as? Int == 0)
        }
        let table = try CLI.run(["findings", "--db", db])
        #expect(table.stdout.contains("FIRST") && table.stdout.contains("LAST") && table.stdout.contains("LATEST?"))
        #expect(table.stdout.contains("1.0rc1"))
    }

    @Test func aSecretRemovedInTheLatestReleaseAndReAddedLater() throws {
        let mirror = try ReleaseMirror(root: path("mirror"))
        let token = fake.githubToken(prefix: "ghp_")
        try mirror.sdist("demo", "1.0", ["app.py": "T = '\(token)'\n"])
        try mirror.sdist("demo", "1.1", ["app.py": "import os\nT = os.environ['T']\n"])
        try mirror.sdist("other", "0.1", ["copy.py": "T = '\(token)'\n"])
        let db = path("s.sqlite")
        try scan(db, mirror)

        let before = try rows(db, ["--project", "demo"])
        #expect(before.count == 1)
        #expect(before.first?["versions"] as? [String] == ["1.0"])
        #expect(before.first?["still_in_latest"] as? Bool == false)
        #expect(before.first?["projects_with_same_secret"] as? Int == 1)

        try mirror.sdist("demo", "1.2", ["app.py": "T = '\(token)'\n"])
        try scan(db, mirror)
        let after = try rows(db, ["--project", "demo"])
        #expect(after.count == 2)
        #expect(after.allSatisfy { $0["versions"] as? [String] == ["1.0", "1.2"] })
        #expect(after.allSatisfy { $0["first_version"] as? String == "1.0" && $0["last_version"] as? String == "1.2" })
        #expect(after.allSatisfy { $0["still_in_latest"] as? Bool == true })
    }

    @Test func aNoticeNamesVersionsContactsAndActionsButNoSecretOrTriagedFixture() throws {
        let mirror = try ReleaseMirror(root: path("mirror"))
        let leaked = fake.githubToken(prefix: "ghp_")
        let fixture = fake.githubToken(prefix: "ghp_")
        let pkgInfo = """
            Metadata-Version: 2.1
            Name: demo
            Version: 1.0
            Maintainer: Grace
            Maintainer-email: grace@example.invalid
            Project-URL: Source, https://example.invalid/demo

            """
        try mirror.sdist(
            "demo", "1.0",
            ["PKG-INFO": pkgInfo, "app.py": "T = '\(leaked)'\n", "tests/keys.py": "K = '\(fixture)'\n"])
        // A wheel without metadata, and one whose metadata is malformed: neither stops the scan.
        try mirror.publish("demo", "demo-1.1-py3-none-any.whl", ["demo/app.py": "T = '\(leaked)'\n"])
        try mirror.publish(
            "demo", "demo-1.2-py3-none-any.whl",
            [
                "demo/app.py": "T = '\(leaked)'\n",
                "demo-1.2.dist-info/METADATA": "garbage line\n\u{1B}[31m\nAuthor-email: wheel@example.invalid\n",
            ])
        let db = path("s.sqlite")
        try scan(db, mirror)
        let fixtureRow = try #require(try rows(db).first { ($0["path"] as? String)?.hasSuffix("keys.py") == true })
        let triage = try CLI.run([
            "triage", try #require(fixtureRow["fingerprint"] as? String), "--status", "test-data", "--by", "t",
            "--db", db,
        ])
        #expect(triage.status == 0, "\(triage.stderr)")

        let notice = try CLI.run(["disclose", "--db", db, "--project", "DEMO"])
        #expect(notice.status == 0, "\(notice.stderr)")
        let text = notice.stdout
        #expect(text.contains("`1.0`") && text.contains("`1.1`") && text.contains("`1.2`"))
        #expect(text.contains(redact(leaked)))
        #expect(!text.contains(leaked) && !text.contains(String(leaked.dropFirst(4).prefix(12))))
        #expect(!text.contains(String(fixtureRow["fingerprint"] as! String).prefix(12)))
        #expect(!text.contains("keys.py"))
        // Contacts come from the newest release with metadata: the malformed wheel's, as far as it parses.
        #expect(text.contains("wheel@example.invalid"))
        #expect(!text.contains("\u{1B}"))
        #expect(text.contains("https://github.com/settings/tokens"))
        #expect(text.contains("Yank or delete"))

        let json = try CLI.run(["disclose", "--db", db, "--project", "demo", "--format", "json", "--show-secrets"])
        #expect(json.status != 0)  // disclose has no --show-secrets: a notice never holds a secret
        let out = path("notice.json")
        let written = try CLI.run(["disclose", "--db", db, "--project", "demo", "--format", "json", "--output", out])
        #expect(written.status == 0, "\(written.stderr)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let leaks = try #require(document["leaks"] as? [[String: Any]])
        #expect(leaks.count == 1)
        #expect(leaks.first?["versions"] as? [String] == ["1.0", "1.1", "1.2"])
        #expect(leaks.first?["still_in_latest"] as? Bool == true)
        #expect(leaks.first?["first_uploaded_at"] as? String == "2023-11-15T22:13:20Z")
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // Metadata of the sdist is stored too, though the wheel's is newer.
        let older = try CLI.run(["disclose", "--db", db, "--all", "--output", path("notices")])
        #expect(older.status == 0, "\(older.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: path("notices"))
        #expect(files == ["demo.md"])
    }

    @Test func aStoreScannedBeforeReleaseMetadataIsReadWithoutMigratingIt() throws {
        let mirror = try ReleaseMirror(root: path("mirror"))
        let token = fake.githubToken(prefix: "ghp_")
        try mirror.sdist("demo", "1.10", ["app.py": "T = '\(token)'\n", "PKG-INFO": "Author-email: a@x.invalid\n"])
        try mirror.sdist("demo", "1.2", ["app.py": "T = '\(token)'\n"])
        let db = path("s.sqlite")
        try scan(db, mirror)
        // The store as a shardscan before v6-release-metadata left it.
        let queue = try DatabaseQueue(path: db)
        try queue.write { db in
            try db.execute(
                sql: """
                    DROP TABLE release_metadata; DROP TABLE project_release; DROP INDEX finding_by_secret_hash;
                    ALTER TABLE release DROP COLUMN uploaded_at;
                    DELETE FROM grdb_migrations WHERE identifier = 'v6-release-metadata';
                    """)
        }
        try queue.close()
        let found = try rows(db)
        #expect(found.count == 2)
        #expect(
            found.allSatisfy {
                $0["versions"] as? [String] == ["1.2", "1.10"] && $0["still_in_latest"] as? Bool == true
            })
        let notice = try CLI.run(["disclose", "--db", db, "--project", "demo"])
        #expect(notice.status == 0, "\(notice.stderr)")
        #expect(notice.stdout.contains("No release metadata names a contact"))
        let migrations = try DatabaseQueue(path: db).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(!migrations.contains("v6-release-metadata"))
    }

    @Test func theSdistsMaintainerIsNamedWhenItIsTheNewestMetadata() throws {
        let mirror = try ReleaseMirror(root: path("mirror"))
        let leaked = fake.githubToken(prefix: "ghp_")
        try mirror.sdist(
            "demo", "2.0",
            [
                "PKG-INFO":
                    "Name: demo\nMaintainer-email: grace@example.invalid\nProject-URL: Source, https://example.invalid/demo\n",
                "app.py": "T = '\(leaked)'\n",
            ])
        try mirror.sdist("other", "1.0", ["app.py": "print()\n"])
        let db = path("s.sqlite")
        try scan(db, mirror)
        let notice = try CLI.run(["disclose", "--db", db, "--project", "demo"])
        #expect(notice.status == 0, "\(notice.stderr)")
        #expect(notice.stdout.contains("grace@example.invalid"))
        #expect(notice.stdout.contains("https://example.invalid/demo"))
        let none = try CLI.run(["disclose", "--db", db, "--project", "other"])
        #expect(none.status == 1)
    }
}
