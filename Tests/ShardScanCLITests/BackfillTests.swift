import Foundation
import GRDB
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

/// `scan` after a rule change: old blobs are re-read for the new or changed rules only, and the store ends as a
/// fresh full scan with the new rules leaves it.
@Suite struct BackfillTests {
    static let githubPack = """
        rules:
          - id: github.pat-classic
            name: GitHub token
            pattern: '\\b(?<secret>ghp_[A-Za-z0-9]{36})\\b'
            min_entropy: 3.5
            keywords: [ghp_]
        """

    /// A second pack, added after the first scans.
    static func bfkPack(paths: String? = nil, length: Int = 24) -> String {
        """
        rules:
          - id: demo.bfk-key
            name: Demo key
            pattern: '\\b(?<secret>bfk_[A-Za-z0-9]{\(length)})\\b'
            keywords: [bfk_]
        """ + (paths.map { "\n    paths:\n      include: ['\($0)']" } ?? "")
    }

    /// A mirror of two shards; every commit adds a release with a GitHub token in a `.py` file, every third a
    /// `bfk_` key in a `.cfg` file (and every fifth the same key again in a `.py` file), and filler.
    struct Mirror {
        let folder: URL
        let mirror: String
        let githubRules: String
        let bfkRules: String
        /// How many distinct `bfk_` places and blobs there are.
        var bfkPlaces = 0
        var cfgBlobs: Set<String> = []
        var bfkBlobs: Set<String> = []
        var allBlobs: Set<String> = []

        init(commits: Int = 30, fillerLines: Int = 20) throws {
            folder = try CLI.temporaryFolder()
            mirror = folder.appendingPathComponent("mirror").path
            githubRules = folder.appendingPathComponent("github.yaml").path
            bfkRules = folder.appendingPathComponent("bfk.yaml").path
            try BackfillTests.githubPack.write(toFile: githubRules, atomically: true, encoding: .utf8)
            try BackfillTests.bfkPack().write(toFile: bfkRules, atomically: true, encoding: .utf8)
            var fake = FakeCredentials(seed: 11)
            for (shard, count) in [("pypi-mirror-1", commits), ("pypi-mirror-2", commits / 3)] {
                let repository = try Repository.create(at: mirror + "/" + shard, bare: true)
                var parent: ObjectID?
                for index in 0..<count {
                    let release = "packages/\(shard)-p\(index)/p\(index)-1.0.tar.gz/p\(index)-1.0"
                    var files: [(path: String, blob: ObjectID)] = []
                    let filler = String(repeating: "# filler line\n", count: fillerLines)
                    files.append(
                        (
                            "\(release)/app.py",
                            try repository.writeBlob(
                                Array("TOKEN = '\(fake.githubToken(prefix: "ghp_"))'\n\(filler)".utf8))
                        ))
                    if index % 3 == 0 {
                        let key = "bfk_" + fake.string(24, from: FakeCredentials.base62)
                        let cfg = try repository.writeBlob(Array("[auth]\nkey = \(key)\n\(filler)".utf8))
                        files.append(("\(release)/setup.cfg", cfg))
                        cfgBlobs.insert(cfg.hex)
                        bfkBlobs.insert(cfg.hex)
                        bfkPlaces += 1
                        if index % 5 == 0 {
                            let py = try repository.writeBlob(Array("KEY = '\(key)'\n".utf8))
                            files.append(("\(release)/keys.py", py))
                            bfkBlobs.insert(py.hex)
                            bfkPlaces += 1
                        }
                    }
                    files.append(
                        ("\(release)/README.txt", try repository.writeBlob(Array("release \(index)\n\(filler)".utf8))))
                    allBlobs.formUnion(files.map(\.blob.hex))
                    parent = try repository.commit(
                        files: files, parent: parent, message: "r\(index)",
                        author: Signature(name: "m", email: "m@x.invalid", time: 1_700_000_000 + Int64(index)),
                        reference: "refs/heads/code")
                }
            }
        }

        func db(_ name: String) -> String { folder.appendingPathComponent(name).path }

        func scan(_ db: String, _ rules: [String], _ extra: [String] = []) throws -> CLI.Result {
            try CLI.run(["scan", "--db", db] + rules.flatMap { ["--rules", $0] } + extra + [mirror])
        }

        /// The findings of `rule` in `db`, as `findings --format json` gives them.
        func findings(_ db: String, rule: String) throws -> [[String: Any]] {
            let result = try CLI.run(["findings", "--db", db, "--rule", rule, "--format", "json"])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
            return (object as? [[String: Any]]) ?? ((object as? [String: Any])?["findings"] as? [[String: Any]]) ?? []
        }

        /// A fresh full scan with `rules`, into a new store.
        func freshContent(_ rules: [String], _ extra: [String] = []) throws -> StoreContent {
            let fresh = db("fresh-\(UUID().uuidString).sqlite")
            let result = try scan(fresh, rules, extra + ["--quiet"])
            #expect(result.status != 2, "\(result.stderr)")
            return try Store(path: fresh).content()
        }
    }

    /// Blobs re-read, as the scan's summary says.
    static func reread(_ stdout: String) -> Int? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("backfill:") }),
            let number = line.dropFirst("backfill: ".count).split(separator: " ").first
        else { return nil }
        return Int(number)
    }

    @Test func aNewPackReachesAllHistoryAndEqualsAFreshFullScan() throws {
        let mirror = try Mirror()
        let db = mirror.db("s.sqlite")
        let first = try mirror.scan(db, [mirror.githubRules])
        #expect(first.status == 1, "\(first.stderr)")
        #expect(Self.reread(first.stdout) == nil, "a first scan has nothing to backfill: \(first.stdout)")

        let second = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules])
        #expect(second.status == 1, "new secrets in history are news: \(second.stderr)")
        #expect(second.stdout.contains("backfill:"), "\(second.stdout)")
        #expect(Self.reread(second.stdout) ?? 0 > 0)
        #expect(try mirror.findings(db, rule: "demo.bfk-key").count == mirror.bfkPlaces)
        // Every blob of both shards was read once for the one new rule, the GitHub one not again: its places
        // are as they were.
        let fresh = try mirror.freshContent([mirror.githubRules, mirror.bfkRules])
        let backfilled = try Store(path: db).content()
        #expect(backfilled.differences(from: fresh) == [])

        let third = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules])
        #expect(third.status == 0, "\(third.stdout)\(third.stderr)")
        #expect(Self.reread(third.stdout) == nil, "nothing left to backfill: \(third.stdout)")
    }

    /// Three rules whose secrets overlap in a chain: `xa_…_yb` (high) overlaps `yb_…_zc` (medium), which
    /// overlaps `zc_…` (low); the high one and the low one do not overlap each other.
    static func chainPacks(highDigits: Int = 6) -> (old: String, new: String) {
        (
            """
            rules:
              - id: demo.chain-high
                name: Chain high
                pattern: '\\b(?<secret>xa_[0-9]{\(highDigits)}_yb)'
                confidence: high
                keywords: [xa_]
              - id: demo.chain-medium
                name: Chain medium
                pattern: '(?<secret>yb_[0-9]{6}_zc)'
                confidence: medium
                keywords: [yb_]
            """,
            """
            rules:
              - id: demo.chain-low
                name: Chain low
                pattern: '(?<secret>zc_[0-9]{6})\\b'
                confidence: low
                keywords: [zc_]
            """
        )
    }

    @Test func aNewRuleHiddenThroughAChainOfOverlapsEqualsAFreshFullScan() throws {
        let folder = try CLI.temporaryFolder()
        let mirror = folder.appendingPathComponent("mirror").path
        let oldRules = folder.appendingPathComponent("chain.yaml").path
        let newRules = folder.appendingPathComponent("low.yaml").path
        try Self.chainPacks().old.write(toFile: oldRules, atomically: true, encoding: .utf8)
        try Self.chainPacks().new.write(toFile: newRules, atomically: true, encoding: .utf8)
        var fake = FakeCredentials(seed: 23)
        let digits = { (fake: inout FakeCredentials) in fake.string(6, from: "0123456789") }
        let repository = try Repository.create(at: mirror + "/pypi-mirror-1", bare: true)
        var parent: ObjectID?
        for index in 0..<6 {
            let release = "packages/chain\(index)/chain\(index)-1.0.tar.gz/chain\(index)-1.0"
            // The whole chain (the low rule's match is hidden by the medium one, itself hidden by the high one),
            // the medium and low ones alone (the medium one stored, hiding the low one), and the low one alone.
            let chain = "x = xa_\(digits(&fake))_yb_\(digits(&fake))_zc_\(digits(&fake))\n"
            let pair = "y = yb_\(digits(&fake))_zc_\(digits(&fake))\n"
            let alone = "z = zc_\(digits(&fake))\n"
            parent = try repository.commit(
                files: [
                    ("\(release)/chain.txt", try repository.writeBlob(Array(chain.utf8))),
                    ("\(release)/pair.txt", try repository.writeBlob(Array(pair.utf8))),
                    ("\(release)/alone.txt", try repository.writeBlob(Array(alone.utf8))),
                ],
                parent: parent, message: "r\(index)",
                author: Signature(name: "m", email: "m@x.invalid", time: 1_700_000_000 + Int64(index)),
                reference: "refs/heads/code")
        }
        func scan(_ db: String, _ rules: [String]) throws -> CLI.Result {
            try CLI.run(["scan", "--db", db, "--quiet"] + rules.flatMap { ["--rules", $0] } + [mirror])
        }
        func fresh(_ rules: [String]) throws -> StoreContent {
            let db = folder.appendingPathComponent("fresh-\(UUID().uuidString).sqlite").path
            #expect(try scan(db, rules).status != 2)
            return try Store(path: db).content()
        }
        func findings(_ db: String, _ rule: String) throws -> Int {
            try Store(path: db).findings(FindingQuery(rule: rule)).count
        }
        let db = folder.appendingPathComponent("s.sqlite").path
        #expect(try scan(db, [oldRules]).status == 1)
        #expect(try findings(db, "demo.chain-high") == 6 && findings(db, "demo.chain-medium") == 6)

        let added = try scan(db, [oldRules, newRules])
        #expect(added.status == 1, "\(added.stdout)\(added.stderr)")
        // The low rule reaches history where nothing more confident overlaps it, and nowhere else.
        #expect(try findings(db, "demo.chain-low") == 6)
        #expect(try Store(path: db).content().differences(from: fresh([oldRules, newRules])) == [])

        // The high rule changed so that it matches nothing: the medium matches it hid come back, and hide the low
        // ones in their turn.
        try Self.chainPacks(highDigits: 7).old.write(toFile: oldRules, atomically: true, encoding: .utf8)
        let changed = try scan(db, [oldRules, newRules])
        #expect(changed.status != 2, "\(changed.stdout)\(changed.stderr)")
        #expect(try findings(db, "demo.chain-high") == 0)
        #expect(try findings(db, "demo.chain-medium") == 12)
        #expect(try Store(path: db).content().differences(from: fresh([oldRules, newRules])) == [])
    }

    @Test func aChangedRuleIsReRunAloneAndARemovedRuleRetires() throws {
        let mirror = try Mirror(commits: 15)
        let db = mirror.db("s.sqlite")
        #expect(try mirror.scan(db, [mirror.githubRules, mirror.bfkRules]).status == 1)
        // Mark the GitHub rule's matches: a re-run of that rule would replace them.
        try DatabaseQueue(path: db).write { db in
            try db.execute(
                sql: """
                    UPDATE match SET snippet_after = 'untouched'
                    WHERE finding_id IN (SELECT id FROM finding WHERE rule = 'github.pat-classic')
                    """)
        }
        // The key rule now wants 20 characters and a word boundary: no `bfk_` key of 24 matches any more.
        try Self.bfkPack(length: 20).write(toFile: mirror.bfkRules, atomically: true, encoding: .utf8)
        let changed = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules])
        #expect(changed.status == 0, "\(changed.stdout)\(changed.stderr)")
        #expect(Self.reread(changed.stdout) ?? 0 > 0, "\(changed.stdout)")
        #expect(try mirror.findings(db, rule: "demo.bfk-key").isEmpty)
        let github = try mirror.findings(db, rule: "github.pat-classic")
        #expect(!github.isEmpty)
        let untouched = try DatabaseQueue(path: db).read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM match WHERE snippet_after <> 'untouched'
                    AND finding_id IN (SELECT id FROM finding WHERE rule = 'github.pat-classic')
                    """)
        }
        #expect(untouched == 0, "the unchanged rule was not run again")

        // Back to 24 characters, then the pack removed: its findings stay, retired.
        try Self.bfkPack().write(toFile: mirror.bfkRules, atomically: true, encoding: .utf8)
        #expect(try mirror.scan(db, [mirror.githubRules, mirror.bfkRules]).status == 1)
        #expect(try mirror.findings(db, rule: "demo.bfk-key").count == mirror.bfkPlaces)
        let removed = try mirror.scan(db, [mirror.githubRules])
        #expect(removed.status == 0, "retired findings are not news: \(removed.stdout)\(removed.stderr)")
        let retired = try mirror.findings(db, rule: "demo.bfk-key")
        #expect(retired.count == mirror.bfkPlaces)
        #expect(retired.allSatisfy { $0["status"] as? String == "retired" })
        #expect(try mirror.findings(db, rule: "github.pat-classic").allSatisfy { $0["status"] as? String == "open" })
        let open = try CLI.run(["findings", "--db", db, "--status", "open", "--format", "json"])
        #expect(!open.stdout.contains("demo.bfk-key"))
        let sarif = try CLI.run(["report", "--db", db, "--open", "--format", "sarif"])
        #expect(sarif.status == 0, "\(sarif.stderr)")
        let log = try JSONSerialization.jsonObject(with: Data(sarif.stdout.utf8)) as? [String: Any]
        let results = (log?["runs"] as? [[String: Any]] ?? []).flatMap { $0["results"] as? [[String: Any]] ?? [] }
        let keyResults = results.filter { $0["ruleId"] as? String == "demo.bfk-key" }
        #expect(results.contains { $0["ruleId"] as? String == "github.pat-classic" && $0["suppressions"] == nil })
        #expect(
            keyResults.allSatisfy { ($0["suppressions"] as? [[String: Any]])?.isEmpty == false },
            "a retired finding is no open alert")
        // The rule back: its findings open again.
        #expect(try mirror.scan(db, [mirror.githubRules, mirror.bfkRules]).status != 2)
        #expect(try mirror.findings(db, rule: "demo.bfk-key").allSatisfy { $0["status"] as? String == "open" })
    }

    @Test func aBudgetStopsTheBackfillAndTheNextRunContinues() throws {
        let mirror = try Mirror(commits: 60, fillerLines: 200)
        let db = mirror.db("s.sqlite")
        #expect(try mirror.scan(db, [mirror.githubRules]).status == 1)
        let budgeted = try mirror.scan(
            db, [mirror.githubRules, mirror.bfkRules], ["--backfill-budget", "8KB", "--batch-commits", "1"])
        #expect(budgeted.status == 1, "\(budgeted.stderr)")
        #expect(budgeted.stdout.contains("backfill budget of 8KB reached"), "\(budgeted.stdout)")
        #expect(budgeted.stdout.contains("the next scan continues the backfill"), "\(budgeted.stdout)")
        let partial = try mirror.findings(db, rule: "demo.bfk-key").count
        #expect(partial < mirror.bfkPlaces)

        let rest = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules])
        #expect(rest.status != 2, "\(rest.stderr)")
        #expect(!rest.stdout.contains("left"), "\(rest.stdout)")
        #expect(try mirror.findings(db, rule: "demo.bfk-key").count == mirror.bfkPlaces)
        #expect(
            try Store(path: db).content().differences(from: mirror.freshContent([mirror.githubRules, mirror.bfkRules]))
                == [])
        #expect(BackfillBudget.parse("1h30m") == BackfillBudget(seconds: 5400))
        #expect(BackfillBudget.parse("20GB") == BackfillBudget(bytes: 20 << 30))
        #expect(BackfillBudget.parse("soon") == nil)
        let refused = try mirror.scan(db, [mirror.githubRules], ["--backfill-budget", "soon"])
        #expect(refused.status != 0 && refused.stderr.contains("--backfill-budget"))
    }

    @Test func aKilledBackfillResumesWithNothingLostOrTwice() throws {
        let mirror = try Mirror(commits: 600, fillerLines: 5)
        let db = mirror.db("s.sqlite")
        #expect(try mirror.scan(db, [mirror.githubRules], ["--quiet"]).status == 1)
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = [
            "scan", "--db", db, "--rules", mirror.githubRules, "--rules", mirror.bfkRules, "--quiet",
            "--batch-commits", "2", "--jobs", "1", mirror.mirror,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for the backfill's first batches, then kill without warning.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            if let found = try? Store(path: db).findings(FindingQuery(rule: "demo.bfk-key")), !found.isEmpty { break }
            usleep(2_000)
        }
        let killedMidway = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(killedMidway, "the backfill finished before it could be killed; make the mirror larger")
        let partial = try Store(path: db).findings(FindingQuery(rule: "demo.bfk-key")).count
        #expect(partial > 0 && partial < mirror.bfkPlaces)
        let position = try DatabaseQueue(path: db).read { db in
            try String.fetchOne(db, sql: "SELECT commit_oid FROM backfill WHERE done = 0")
        }
        #expect(position != nil, "the killed backfill kept its place")

        let rerun = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules], ["--quiet"])
        #expect(rerun.status != 2, "\(rerun.stderr)")
        // The rerun goes on from the killed one's position: it reads only what that one had not.
        let rereadAfterKill = try #require(Self.reread(rerun.stdout))
        #expect(rereadAfterKill > 0 && rereadAfterKill < mirror.allBlobs.count, "\(rerun.stdout)")
        let after = try mirror.findings(db, rule: "demo.bfk-key")
        #expect(after.count == mirror.bfkPlaces)
        #expect(
            Set(after.map { "\($0["fingerprint"] ?? "") \($0["shard_path"] ?? $0["path"] ?? "")" }).count
                == after.count)
        #expect(
            try Store(path: db).content().differences(from: mirror.freshContent([mirror.githubRules, mirror.bfkRules]))
                == [])
    }

    @Test func aRaisedSizeLimitRevisitsSkippedBlobs() throws {
        let mirror = try Mirror(commits: 12, fillerLines: 20)
        let db = mirror.db("s.sqlite")
        // Every GitHub-token file is over 200 bytes: all skipped.
        let small = try mirror.scan(db, [mirror.githubRules], ["--max-blob-size", "200"])
        #expect(small.status != 2, "\(small.stderr)")
        #expect(try mirror.findings(db, rule: "github.pat-classic").isEmpty)
        let raised = try mirror.scan(db, [mirror.githubRules])
        #expect(raised.status == 1, "\(raised.stderr)")
        #expect(Self.reread(raised.stdout) ?? 0 > 0, "\(raised.stdout)")
        #expect(try mirror.findings(db, rule: "github.pat-classic").count == 12 + 4)
        #expect(
            try Store(path: db).content().differences(from: mirror.freshContent([mirror.githubRules])) == [])
    }

    @Test func aRuleWithPathsReadsOnlyBlobsUnderThem() throws {
        let mirror = try Mirror(commits: 30)
        let db = mirror.db("s.sqlite")
        #expect(try mirror.scan(db, [mirror.githubRules]).status == 1)
        try Self.bfkPack(paths: "*.cfg").write(toFile: mirror.bfkRules, atomically: true, encoding: .utf8)
        let second = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules])
        #expect(second.status == 1, "\(second.stderr)")
        // Only the `.cfg` blobs were read: not the `.py` files, which hold the same keys, nor the READMEs.
        #expect(Self.reread(second.stdout) == mirror.cfgBlobs.count, "\(second.stdout)")
        #expect(try mirror.findings(db, rule: "demo.bfk-key").count == mirror.cfgBlobs.count)
        #expect(
            try Store(path: db).content().differences(
                from: mirror.freshContent([mirror.githubRules, mirror.bfkRules])) == [])
    }

    @Test func noBackfillLeavesHistoryForALaterScan() throws {
        let mirror = try Mirror(commits: 9)
        let db = mirror.db("s.sqlite")
        #expect(try mirror.scan(db, [mirror.githubRules]).status == 1)
        let skipped = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules], ["--no-backfill"])
        #expect(skipped.status == 0, "\(skipped.stdout)\(skipped.stderr)")
        #expect(Self.reread(skipped.stdout) == nil)
        #expect(try mirror.findings(db, rule: "demo.bfk-key").isEmpty)
        let later = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules])
        #expect(later.status == 1)
        #expect(try mirror.findings(db, rule: "demo.bfk-key").count == mirror.bfkPlaces)
    }

    @Test func aStoreFromBeforeRuleCoverageIsBackfilledWithEveryRule() throws {
        let mirror = try Mirror(commits: 9)
        let db = mirror.db("s.sqlite")
        #expect(try mirror.scan(db, [mirror.githubRules]).status == 1)
        // What `v9-rule-coverage` leaves of a store scanned before it: rule sets without members.
        try DatabaseQueue(path: db).write { db in
            try db.execute(sql: "DELETE FROM rule_set_member; UPDATE rule_set SET members_digest = NULL")
        }
        let second = try mirror.scan(db, [mirror.githubRules, mirror.bfkRules])
        #expect(second.status == 1, "\(second.stderr)")
        #expect(try mirror.findings(db, rule: "demo.bfk-key").count == mirror.bfkPlaces)
        #expect(
            try Store(path: db).content().differences(
                from: mirror.freshContent([mirror.githubRules, mirror.bfkRules])) == [])
    }

    @Test func aRuleThatFailsOnABlobHasNotSeenIt() throws {
        let folder = try CLI.temporaryFolder()
        let rules = folder.appendingPathComponent("rules.yaml").path
        // Nested quantifiers over a long run of `a` not followed by `c`: PCRE2's match limit is hit.
        try """
        rules:
          - id: demo.backtrack
            name: Backtracking
            pattern: '^(?<secret>(a+)+)(?=c)'
        """.write(toFile: rules, atomically: true, encoding: .utf8)
        let shard = folder.appendingPathComponent("mirror/pypi-mirror-1").path
        let repository = try Repository.create(at: shard, bare: true)
        let hard = try repository.writeBlob(Array((String(repeating: "a", count: 5_000) + "b\n").utf8))
        let easy = try repository.writeBlob(Array("aaac\n".utf8))
        _ = try repository.commit(
            files: [
                ("packages/p/p-1.0.tar.gz/p-1.0/hard.txt", hard), ("packages/p/p-1.0.tar.gz/p-1.0/easy.txt", easy),
            ],
            parent: nil, message: "r", author: Signature(name: "m", email: "m@x.invalid", time: 1_700_000_000),
            reference: "refs/heads/code")
        let db = folder.appendingPathComponent("s.sqlite").path
        let scan = try CLI.run(["scan", "--db", db, "--rules", rules, folder.appendingPathComponent("mirror").path])
        #expect(scan.stderr.contains("rule demo.backtrack on blob \(hard.hex)"), "\(scan.stderr)")
        let seen = try DatabaseQueue(path: db).read { db in
            try [hard, easy].map { blob in
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT m.rule_id FROM blob b JOIN rule_set_member m ON m.rule_set_id = b.rule_set_id
                        WHERE b.oid = ?
                        """, arguments: [Data(blob.bytes)])
            }
        }
        #expect(seen == [[], ["demo.backtrack"]], "the failed rule counts as not applied to the blob it failed on")
        #expect(Self.reread(scan.stdout) == nil, "not retried in the run it failed in: \(scan.stdout)")

        // A failure may be passing (a limit hit under load): the next run's backfill runs the rule there again,
        // that blob alone, and once only.
        let retry = try CLI.run(["scan", "--db", db, "--rules", rules, folder.appendingPathComponent("mirror").path])
        #expect(Self.reread(retry.stdout) == 1, "\(retry.stdout)")
        #expect(retry.stderr.contains("rule demo.backtrack on blob \(hard.hex)"), "\(retry.stderr)")
        let after = try CLI.run(["scan", "--db", db, "--rules", rules, folder.appendingPathComponent("mirror").path])
        #expect(Self.reread(after.stdout) == nil, "\(after.stdout)")
        #expect(!after.stderr.contains("demo.backtrack"), "\(after.stderr)")
    }
}
