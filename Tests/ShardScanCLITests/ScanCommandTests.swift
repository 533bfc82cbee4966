import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

@Suite struct ScanCommandTests {
    static let rules = """
        rules:
          - id: github.pat-classic
            name: GitHub token
            pattern: '\\b(?<secret>ghp_[A-Za-z0-9]{36})\\b'
            min_entropy: 3.5
            keywords: [ghp_]
          - id: aws.access-key-id
            name: AWS access key id
            pattern: '\\b(?<secret>AKIA[A-Z2-7]{16})\\b'
            stopwords: [example]
        """

    func setUp() throws -> (folder: URL, rules: String, mirror: String) {
        let folder = try CLI.temporaryFolder()
        let rules = folder.appendingPathComponent("rules.yaml").path
        try Self.rules.write(toFile: rules, atomically: true, encoding: .utf8)
        let mirror = folder.appendingPathComponent("mirror").path
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        _ = try DemoMirror.build(at: mirror)
        return (folder, rules, mirror)
    }

    @Test func scanFindingsStatusAndExitCodes() throws {
        let (folder, rules, mirror) = try setUp()
        let db = folder.appendingPathComponent("s.sqlite").path
        let json = folder.appendingPathComponent("new.json").path

        let first = try CLI.run(["scan", "--db", db, "--rules", rules, "--json", json, mirror])
        #expect(first.status == 1, "\(first.stderr)")
        #expect(first.stderr.contains("NEW FINDINGS BY RULE"))
        let rows = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [[String: Any]])
        #expect(rows.count == 3)  // the GitHub token in two releases, the AWS key once; the EXAMPLE key is a decoy
        let required = [
            "rule", "shard", "commit", "blob", "project", "version", "release", "path", "shard_path", "line", "column",
            "secret", "fingerprint",
        ]
        for row in rows { #expect(required.allSatisfy { row[$0] != nil }, "\(row.keys)") }
        let secrets = rows.compactMap { $0["secret"] as? String }
        #expect(secrets.allSatisfy { $0.hasSuffix("…") && $0.count <= 8 })
        let aws = try #require(rows.first { $0["rule"] as? String == "aws.access-key-id" })
        #expect(aws["project"] as? String == "weather-client")
        #expect(aws["version"] as? String == "1.0.0")
        #expect(aws["path"] as? String == "weather_client/config.py")
        #expect(aws["line"] as? Int == 4)

        let second = try CLI.run(["scan", "--db", db, "--rules", rules, mirror])
        #expect(second.status == 0, "\(second.stderr)")

        let lookup = try CLI.run(["findings", "--db", db, "--project", "ACME.Utils", "--format", "jsonl"])
        #expect(lookup.status == 0)
        let lines = lookup.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.contains("\"project\":\"acme-utils\"") && $0.contains("\"rule\":\"github.pat-classic\"") })
        let full = try CLI.run(["findings", "--db", db, "--rule", "aws.access-key-id", "--show-secrets", "--format", "json"])
        #expect(full.stdout.contains("\"secret\" : \"AKIA"))

        let status = try CLI.run(["status", "--db", db])
        #expect(status.status == 0)
        for shard in ["pypi-mirror-1", "pypi-mirror-2", "pypi-mirror-3"] { #expect(status.stdout.contains(shard)) }
    }

    @Test func aBrokenShardFailsAloneWithExitTwo() throws {
        let (folder, rules, mirror) = try setUp()
        try FileManager.default.createDirectory(
            atPath: mirror + "/pypi-mirror-9.git/objects", withIntermediateDirectories: true)
        try "garbage".write(toFile: mirror + "/pypi-mirror-9.git/HEAD", atomically: true, encoding: .utf8)
        let db = folder.appendingPathComponent("s.sqlite").path
        let result = try CLI.run(["scan", "--db", db, "--rules", rules, "--quiet", mirror])
        #expect(result.status == 2)
        #expect(result.stderr.contains("shard pypi-mirror-9 failed"))
        let findings = try Store(path: db).findings(FindingQuery())
        #expect(findings.count == 3)
    }

    /// Kills a scan with SIGKILL mid-shard, reruns it, and compares with one uninterrupted run.
    @Test func killedScanRerunsToTheSameFindings() throws {
        let folder = try CLI.temporaryFolder()
        let rules = folder.appendingPathComponent("rules.yaml").path
        try Self.rules.write(toFile: rules, atomically: true, encoding: .utf8)
        let shard = folder.appendingPathComponent("mirror/pypi-mirror-1").path
        let repository = try Repository.create(at: shard, bare: true)
        var fake = FakeCredentials(seed: 7)
        var parent: ObjectID?
        for index in 0..<400 {
            var files: [(path: String, blob: ObjectID)] = []
            for file in 0..<4 {
                let body = file == 0 ? "TOKEN = '\(fake.githubToken(prefix: "ghp_"))'\n" : "x = \(index * 10 + file)\n" + String(repeating: "# filler\n", count: 200)
                files.append(("packages/p\(index)/p\(index)-1.0.tar.gz/p\(index)-1.0/m\(file).py", try repository.writeBlob(Array(body.utf8))))
            }
            parent = try repository.commit(
                files: files, parent: parent, message: "r\(index)",
                author: Signature(name: "m", email: "m@x.invalid", time: 1_700_000_000 + Int64(index)),
                reference: "refs/heads/code")
        }
        let mirror = folder.appendingPathComponent("mirror").path
        let reference = folder.appendingPathComponent("reference.sqlite").path
        #expect(try CLI.run(["scan", "--db", reference, "--rules", rules, "--quiet", mirror]).status == 1)

        let db = folder.appendingPathComponent("killed.sqlite").path
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["scan", "--db", db, "--rules", rules, "--quiet", "--batch-commits", "5", mirror]
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for a first batch to land, then kill without warning.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            if let shards = try? Store(path: db).shards(), shards.first?.watermark != nil { break }
            usleep(2_000)
        }
        let killedMidway = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        let partial = try Store(path: db).findings(FindingQuery()).count
        #expect(killedMidway, "the scan finished before it could be killed; make the mirror larger")
        #expect(partial > 0 && partial < 400)
        let rerun = try CLI.run(["scan", "--db", db, "--rules", rules, "--quiet", mirror])
        #expect(rerun.status == 1)

        let expected = try Store(path: reference).findings(FindingQuery())
        let actual = try Store(path: db).findings(FindingQuery())
        #expect(expected.count == 400)
        #expect(actual.count == expected.count)
        #expect(Set(actual.map { "\($0.fingerprint) \($0.shardPath)" }) == Set(expected.map { "\($0.fingerprint) \($0.shardPath)" }))
        let tip = try repository.commitID(ofReference: "refs/heads/code")
        #expect(try Store(path: db).shards().first?.watermark == tip?.hex)
    }
}
