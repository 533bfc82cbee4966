import Foundation
import Git
import ShardScanCore
import ShardScanDemo
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
        // The summary is the scan's result: on stdout, so that `scan > summary.txt` keeps it.
        #expect(first.stdout.contains("NEW FINDINGS BY RULE"), "\(first.stdout)")
        #expect(!first.stderr.contains("NEW FINDINGS BY RULE"), "\(first.stderr)")
        let document =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        let rows = try #require(document?["findings"] as? [[String: Any]])
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
        #expect(
            lines.allSatisfy {
                $0.contains("\"project\":\"acme-utils\"") && $0.contains("\"rule\":\"github.pat-classic\"")
            })
        let full = try CLI.run([
            "findings", "--db", db, "--rule", "aws.access-key-id", "--show-secrets", "--format", "json",
        ])
        #expect(full.stdout.contains("\"secret\" : \"AKIA"))

        let status = try CLI.run(["status", "--db", db])
        #expect(status.status == 0)
        for shard in ["pypi-mirror-1", "pypi-mirror-2", "pypi-mirror-3"] { #expect(status.stdout.contains(shard)) }
    }

    @Test func reportsSelectExactlyTheProjectOrRun() throws {
        let (folder, rules, mirror) = try setUp()
        let db = folder.appendingPathComponent("s.sqlite").path
        let sarif = folder.appendingPathComponent("first.sarif").path
        #expect(try CLI.run(["scan", "--db", db, "--rules", rules, "--quiet", "--sarif", sarif, mirror]).status == 1)
        let scanSARIF =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sarif))) as! [String: Any]
        #expect(Self.resultCount(scanSARIF) == 3)

        // A new release in a new shard: run 2 holds exactly its findings.
        let shard = mirror + "/pypi-mirror-4.git"
        let repository = try Repository.create(at: shard, bare: true)
        var fake = FakeCredentials(seed: 99)
        let blob = try repository.writeBlob(Array("K = '\(fake.githubToken(prefix: "ghp_"))'\n".utf8))
        try repository.commit(
            files: [("packages/newpkg/newpkg-9.0.tar.gz/newpkg-9.0/k.py", blob)], parent: nil, message: "newpkg 9.0",
            author: Signature(name: "m", email: "m@x.invalid", time: 1_800_000_000), reference: "refs/heads/code")
        #expect(try CLI.run(["scan", "--db", db, "--rules", rules, "--quiet", mirror]).status == 1)

        let byRun = try CLI.run(["report", "--db", db, "--run", "2", "--format", "sarif"])
        #expect(byRun.status == 0, "\(byRun.stderr)")
        let runLog = try JSONSerialization.jsonObject(with: Data(byRun.stdout.utf8)) as! [String: Any]
        #expect(Self.resultCount(runLog) == 1)
        #expect(byRun.stdout.contains("newpkg"))
        #expect(!byRun.stdout.contains("acme-utils"))

        let byProject = try CLI.run(["report", "--db", db, "--project", "Acme_Utils", "--format", "sarif"])
        let projectLog = try JSONSerialization.jsonObject(with: Data(byProject.stdout.utf8)) as! [String: Any]
        #expect(Self.resultCount(projectLog) == 2)
        #expect(!byProject.stdout.contains("weather"))

        let lines = try CLI.run(["report", "--db", db, "--all", "--format", "jsonl"])
        #expect(lines.stdout.split(separator: "\n").count == 4)
        let none = try CLI.run(["report", "--db", db, "--format", "json"])
        #expect(none.status != 0)
        #expect(none.stderr.contains("exactly one of"))
        let missingRun = try CLI.run(["report", "--db", db, "--run", "77", "--format", "json"])
        #expect(missingRun.status != 0)
    }

    static func resultCount(_ log: [String: Any]) -> Int {
        (log["runs"] as! [[String: Any]]).map { ($0["results"] as! [Any]).count }.reduce(0, +)
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
                let body =
                    file == 0
                    ? "TOKEN = '\(fake.githubToken(prefix: "ghp_"))'\n"
                    : "x = \(index * 10 + file)\n" + String(repeating: "# filler\n", count: 200)
                files.append(
                    (
                        "packages/p\(index)/p\(index)-1.0.tar.gz/p\(index)-1.0/m\(file).py",
                        try repository.writeBlob(Array(body.utf8))
                    ))
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
        #expect(
            Set(actual.map { "\($0.fingerprint) \($0.shardPath)" })
                == Set(expected.map { "\($0.fingerprint) \($0.shardPath)" }))
        let tip = try repository.commitID(ofReference: "refs/heads/code")
        #expect(try Store(path: db).shards().first?.watermark == tip)
    }
}
