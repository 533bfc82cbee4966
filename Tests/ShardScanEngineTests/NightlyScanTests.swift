import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

@Suite struct NightlyScanTests {
    @Test func firstScanMapsFindingsToReleases() throws {
        let mirror = try MirrorFixture()
        try mirror.createShard("pypi-mirror-1")
        let token = mirror.githubToken()
        try mirror.addRelease(
            shard: "pypi-mirror-1",
            files: [
                "packages/Flask_Login/Flask-Login-0.6.3.tar.gz/Flask-Login-0.6.3/setup.py": "setup()\n",
                "packages/Flask_Login/Flask-Login-0.6.3.tar.gz/Flask-Login-0.6.3/flask_login/config.py":
                    "import os\n\nTOKEN = '\(token)'\n",
            ])
        try mirror.addRelease(
            shard: "pypi-mirror-1",
            files: ["packages/other/other-1.0-py3-none-any.whl/other/__init__.py": "x = 1\n", "NOTES.md": "none\n"])

        let (summary, warnings) = try mirror.scan()
        #expect(warnings.isEmpty)
        #expect(summary.counters.commits == 2)
        #expect(summary.counters.blobsNew == 4)
        #expect(summary.counters.findingsNew == 1)

        let rows = try mirror.findings(FindingQuery(project: "flask-login"))
        let row = try #require(rows.first)
        #expect(rows.count == 1)
        #expect(row.rule == "github.pat-classic")
        #expect(row.project == "Flask_Login")
        #expect(row.version == "0.6.3")
        #expect(row.release == "Flask-Login-0.6.3.tar.gz")
        #expect(row.path == "Flask-Login-0.6.3/flask_login/config.py")
        #expect(
            row.shardPath == "packages/Flask_Login/Flask-Login-0.6.3.tar.gz/Flask-Login-0.6.3/flask_login/config.py")
        #expect(row.line == 3)
        #expect(row.column == 10)
        #expect(row.shard == "pypi-mirror-1")
        #expect(row.secret == token)
        #expect(row.presented(showSecrets: false).secret == redact(token))
        #expect(!row.presented(showSecrets: false).snippet.contains(token))
        #expect(row.fingerprint == Finding.fingerprint(ruleID: "github.pat-classic", secret: token))
        #expect(try mirror.findings(FindingQuery(project: "FLASK.login")).count == 1)
        #expect(try mirror.findings(FindingQuery(project: "flask")).isEmpty)
    }

    @Test func secondScanReadsOnlyNewBlobsAndRepeatsAreNotRescanned() throws {
        let mirror = try MirrorFixture()
        try mirror.createShard("pypi-mirror-1")
        let token = mirror.githubToken()
        let leaky = "TOKEN = '\(token)'\n"
        try mirror.addRelease(
            shard: "pypi-mirror-1",
            files: [
                "packages/acme/acme-1.0.tar.gz/acme-1.0/acme/settings.py": leaky,
                "packages/acme/acme-1.0.tar.gz/acme-1.0/setup.py": "setup(name='acme')\n",
            ])
        let (first, _) = try mirror.scan()
        #expect(first.counters.blobsNew == 2)
        #expect(first.counters.findingsNew == 1)

        // Nothing new: nothing read, nothing changes.
        let (idle, _) = try mirror.scan()
        #expect(idle.counters == RunCounters())
        #expect(idle.shards.map(\.status) == [.upToDate])
        #expect(try mirror.findings().count == 1)

        // A later release in another shard repeats the leaky blob and adds one new secret.
        let password = mirror.password()
        try mirror.createShard("pypi-mirror-2")
        try mirror.addRelease(
            shard: "pypi-mirror-2",
            files: [
                "packages/acme/acme-1.1.tar.gz/acme-1.1/acme/settings.py": leaky,
                "packages/acme/acme-1.1.tar.gz/acme-1.1/acme/db.py": "password = \"\(password)\"\n",
            ])
        let (second, _) = try mirror.scan()
        #expect(second.counters.commits == 1)
        #expect(second.counters.blobsNew == 1)
        #expect(second.counters.blobsSeen == 1)
        #expect(second.counters.bytesScanned == "password = \"\(password)\"\n".utf8.count)
        #expect(second.counters.findingsNew == 2)
        #expect(second.counters.secretsNew == 1)

        let acme = try mirror.findings(FindingQuery(project: "acme"))
        #expect(Set(acme.map(\.version)) == ["1.0", "1.1"])
        #expect(
            acme.filter { $0.rule == "github.pat-classic" }.map(\.shard).sorted() == ["pypi-mirror-1", "pypi-mirror-2"])
        let newInRun = try mirror.findings(FindingQuery(runID: second.runID))
        #expect(Set(newInRun.map(\.rule)) == ["github.pat-classic", "demo.password"])
        #expect(newInRun.allSatisfy { $0.version == "1.1" })
        #expect(try mirror.findings(FindingQuery(rule: "demo.password")).first?.secret == password)
    }

    @Test func rewrittenHistoryFallsBackToAFullWalk() throws {
        let mirror = try MirrorFixture()
        try mirror.createShard("pypi-mirror-1")
        let token = mirror.githubToken()
        try mirror.addRelease(shard: "pypi-mirror-1", files: ["packages/a/a-1.0.tar.gz/a-1.0/k.py": "t = '\(token)'\n"])
        try mirror.addRelease(shard: "pypi-mirror-1", files: ["packages/b/b-1.0.tar.gz/b-1.0/x.py": "x = 1\n"])
        _ = try mirror.scan()

        // Force-push: a new root commit replaces the history the watermark was on.
        try mirror.addRelease(
            shard: "pypi-mirror-1",
            files: [
                "packages/a/a-1.0.tar.gz/a-1.0/k.py": "t = '\(token)'\n",
                "packages/c/c-2.0.tar.gz/c-2.0/y.py": "y = 2\n",
            ], parent: .some(nil))
        let (rerun, warnings) = try mirror.scan()
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("not an ancestor") == true)
        #expect(rerun.counters.commits == 1)
        #expect(rerun.counters.blobsSeen == 1)
        #expect(rerun.counters.blobsNew == 1)
        #expect(rerun.counters.findingsNew == 0)
        #expect(try mirror.findings().count == 1)
    }

    @Test func mergesAndTheManyRemotesLayout() throws {
        let mirror = try MirrorFixture()
        let path = mirror.shardPath("all-shards")
        let repository = try Repository.create(at: path, bare: false)
        let author = Signature(name: "m", email: "m@x.invalid", time: 1_700_000_000)
        let token = mirror.githubToken()
        let base = try repository.commit(
            files: [("packages/a/a-1.0.tar.gz/a-1.0/a.py", try repository.writeBlob(Array("a\n".utf8)))], parent: nil,
            message: "a", author: author, reference: nil)
        let side = try repository.commit(
            files: [("packages/s/s-1.0.tar.gz/s-1.0/s.py", try repository.writeBlob(Array("k = '\(token)'\n".utf8)))],
            parent: base, message: "s", author: author, reference: nil)
        try repository.setReference("refs/remotes/pypi-mirror-7/code", to: side)
        try repository.setReference("refs/remotes/pypi-mirror-8/code", to: base)

        let sources = ShardLocator.locate([path], branch: "code")
        #expect(sources.map(\.name) == ["pypi-mirror-7", "pypi-mirror-8"])
        #expect(sources.map(\.reference) == ["refs/remotes/pypi-mirror-7/code", "refs/remotes/pypi-mirror-8/code"])
        let store = try Store(path: mirror.storePath)
        let summary = try MirrorScan(sink: store, ruleSet: mirror.ruleSet()).run(sources) { _ in }
        #expect(summary.shards.map(\.status) == [.finished, .finished])
        #expect(summary.counters.blobsNew == 2)
        #expect(summary.counters.blobsSeen == 1)
        #expect(try store.findings(FindingQuery(shard: "pypi-mirror-7")).count == 1)
    }

    @Test func brokenAndBranchlessShardsFailAloneAndKeepNoWatermark() throws {
        let mirror = try MirrorFixture()
        try mirror.createShard("pypi-mirror-1")
        try mirror.addRelease(shard: "pypi-mirror-1", files: ["packages/a/a-1.0.tar.gz/a-1.0/a.py": "a\n"])
        try mirror.createShard("pypi-mirror-2")  // no `code` branch
        let (summary, _) = try mirror.scan()
        #expect(summary.shards.map(\.name) == ["pypi-mirror-1", "pypi-mirror-2"])
        #expect(summary.shards.map(\.status) == [.finished, .failed])
        #expect(summary.shards[1].message.contains("no branch `code`"))
        let shards = try Store(path: mirror.storePath).shards()
        #expect(shards.first { $0.name == "pypi-mirror-2" }?.watermark == nil)
        #expect(shards.first { $0.name == "pypi-mirror-2" }?.lastStatus == "failed")
    }

    @Test func binaryAndLargeBlobsAreSkippedAndCounted() throws {
        let mirror = try MirrorFixture()
        try mirror.createShard("pypi-mirror-1")
        let token = mirror.githubToken()
        try mirror.addRelease(
            shard: "pypi-mirror-1",
            files: [
                "packages/a/a-1.0.tar.gz/a-1.0/blob.bin": "\u{0}\u{1}binary \(token)",
                "packages/a/a-1.0.tar.gz/a-1.0/big.py": String(repeating: "#", count: 2000) + "\n\(token)\n",
            ])
        var options = ScanOptions()
        options.maxBlobSize = 1000
        let (summary, _) = try mirror.scan(options: options)
        #expect(summary.counters.blobsNew == 2)
        #expect(summary.counters.blobsBinary == 1)
        #expect(summary.counters.blobsTooLarge == 1)
        #expect(summary.counters.bytesScanned == 0)
        #expect(try mirror.findings().isEmpty)
    }

    @Test func batchesMoveTheWatermarkWithTheirFindings() throws {
        let mirror = try MirrorFixture()
        try mirror.createShard("pypi-mirror-1")
        for index in 0..<7 {
            try mirror.addRelease(
                shard: "pypi-mirror-1",
                files: ["packages/p\(index)/p\(index)-1.0.tar.gz/p\(index)-1.0/k.py": "k = '\(mirror.githubToken())'\n"]
            )
        }
        var options = ScanOptions()
        options.batchCommits = 2
        let (summary, _) = try mirror.scan(options: options)
        #expect(summary.counters.commits == 7)
        #expect(summary.counters.findingsNew == 7)
        let store = try Store(path: mirror.storePath)
        let tip = try Repository(at: mirror.shardPath("pypi-mirror-1")).commitID(ofReference: "refs/heads/code")
        #expect(try store.shards().first?.watermark == tip)
        #expect(try store.runs(limit: 1).first?.counters.commits == 7)
    }
}
