import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import Testing

@Suite struct BenchCommandTests {
    /// A tiny benchmark shard: ten releases on refs/bench/full, code at the ninth, half at the fifth, and a
    /// GitHub token in release 3 (so the full scan exits 1) and release 10 (so the incremental one does).
    static func fixture() throws -> (folder: URL, shard: String, rules: String, commits: [ObjectID]) {
        let folder = try CLI.temporaryFolder()
        let rules = folder.appendingPathComponent("rules.yaml").path
        try ScanCommandTests.rules.write(toFile: rules, atomically: true, encoding: .utf8)
        let shard = folder.appendingPathComponent("shard.git").path
        let repository = try Repository.create(at: shard, bare: true)
        var fake = FakeCredentials(seed: 5)
        var commits: [ObjectID] = []
        for index in 1...10 {
            let release = "p\(index)-1.0.tar.gz"
            var body = "VERSION = '\(index).0'\n" + String(repeating: "# filler line \(index)\n", count: 50)
            if index == 3 || index == 10 { body += "TOKEN = '\(fake.githubToken(prefix: "ghp_"))'\n" }
            let blob = try repository.writeBlob(Array(body.utf8))
            commits.append(
                try repository.commit(
                    files: [("packages/p\(index)/\(release)/p\(index)-1.0/setup.py", blob)], parent: commits.last,
                    message: "Add \(release)",
                    author: Signature(name: "m", email: "m@x.invalid", time: 1_700_000_000 + Int64(index) * 60),
                    reference: "refs/bench/full"))
        }
        try repository.setReference("refs/heads/code", to: commits[8])
        try repository.setReference("refs/bench/half", to: commits[4])
        return (folder, shard, rules, commits)
    }

    @Test func benchPrintsEveryRowAndRestoresCode() throws {
        let (folder, shard, rules, commits) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let work = folder.appendingPathComponent("work").path
        let result = try CLI.run([
            "bench", shard, "--iterations", "1", "--rules", rules, "--work-dir", work, "--hunt-path", "setup.py",
            "--hunt-pattern", "ghp_[A-Za-z0-9]+",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        for row in [
            "baseline (git cat-file)", "full scan (code at 90%)", "incremental (+10%)", "half scan (code at half)",
            "hunt, paths only", "hunt, pattern", "(target ≤ 0.1)", "(target ≤ 1.0)",
        ] {
            #expect(result.stdout.contains(row), "\(result.stdout)")
        }
        #expect(result.stdout.contains("× baseline"))
        #expect(result.stdout.contains("× its share of full"))
        #expect(result.stdout.contains("RSS full/half"))
        #expect(result.stdout.contains("releases: 9 at code (90%), 10 at refs/bench/full, 5 at refs/bench/half"))
        #expect(try Repository(at: shard).commitID(ofReference: "refs/heads/code") == commits[8])
        #expect(FileManager.default.fileExists(atPath: work + "/full.sqlite"))
        // The hunts search all ten releases (refs/bench/full), not code's nine.
        let paths = try String(contentsOfFile: work + "/hunt-paths-1.out", encoding: .utf8)
        #expect(paths.hasPrefix("10 files (10 distinct blobs) in 1 shards"), "\(paths)")
        let content = try String(contentsOfFile: work + "/hunt-content-1.out", encoding: .utf8)
        #expect(content.hasPrefix("2 matches in 2 files (2 distinct blobs)"), "\(content)")
    }

    /// A nightly scan reads its prefilter from the cache: the bench compiles it before timing, so that the first
    /// iteration's scan is not a compile too (whose peak RSS was reported as the scan's).
    @Test func thePrefilterIsCompiledBeforeTheTimedRuns() throws {
        let (folder, shard, rules, _) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = folder.appendingPathComponent("cache").path
        let arguments = ["bench", shard, "--iterations", "1", "--rules", rules, "--skip-hunt", "--skip-half"]
        let first = try CLI.run(arguments, environment: ["SHARDSCAN_CACHE": cache])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("prefilter compiled into the cache"), "\(first.stderr)")
        #expect(
            first.stderr.range(of: "prefilter compiled")!.lowerBound
                < first.stderr.range(of: "iteration 1/1")!.lowerBound)
        let files = try FileManager.default.contentsOfDirectory(atPath: cache)
        #expect(files.contains { $0.hasPrefix("prefilter-") && $0.hasSuffix(".json") }, "\(files)")
        let second = try CLI.run(arguments, environment: ["SHARDSCAN_CACHE": cache])
        #expect(second.stderr.contains("prefilter found in the cache"), "\(second.stderr)")
    }

    @Test func jsonWithoutTheHalfScan() throws {
        let (folder, shard, rules, commits) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run([
            "bench", shard, "--iterations", "2", "--rules", rules, "--skip-half", "--skip-hunt", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let measurements = try #require(document["measurements"] as? [[String: Any]])
        #expect(measurements.compactMap { $0["kind"] as? String } == ["baseline", "full", "incremental"])
        for measurement in measurements { #expect((measurement["seconds"] as? [Double])?.count == 2) }
        let full = try #require(measurements.first { $0["kind"] as? String == "full" })
        #expect(full["exitStatuses"] as? [Int] == [1, 1])
        #expect(full["findingsNew"] as? Int == 1)
        #expect((full["peakRSSBytes"] as? Int ?? 0) > 0)
        let peaks = try #require(full["rssBytes"] as? [Int])
        #expect(full["medianRSSBytes"] as? Double == Double(peaks[0] + peaks[1]) / 2)
        let incremental = try #require(measurements.first { $0["kind"] as? String == "incremental" })
        #expect(incremental["findingsNew"] as? Int == 1)
        #expect(document["rssFullOverHalf"] == nil)
        #expect(document["fullOverBaseline"] is Double)
        #expect(try Repository(at: shard).commitID(ofReference: "refs/heads/code") == commits[8])
    }

    /// Two shards in one run: each iteration runs both, the shards taking turns at going first, and the second's
    /// full scans are compared with the first's from the same runs.
    @Test func twoShardsAreBenchedInTurnAndCompared() throws {
        let (folder, shard, rules, commits) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (otherFolder, other, _, otherCommits) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: otherFolder) }
        let result = try CLI.run([
            "bench", shard, other, "--iterations", "2", "--rules", rules, "--skip-half", "--skip-hunt", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let iterations = result.stderr.split(separator: "\n").filter { $0.hasPrefix("iteration ") }
        #expect(
            iterations.map { $0.split(separator: ":")[0] } == [
                "iteration 1/2 \(shard)", "iteration 1/2 \(other)", "iteration 2/2 \(other)",
                "iteration 2/2 \(shard)",
            ], "\(result.stderr)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let shards = try #require(document["shards"] as? [[String: Any]])
        #expect(shards.compactMap { $0["shard"] as? String } == [shard, other])
        func full(_ report: [String: Any]) throws -> [String: Any] {
            let measurements = try #require(report["measurements"] as? [[String: Any]])
            return try #require(measurements.first { $0["kind"] as? String == "full" })
        }
        let (first, second) = (try full(shards[0]), try full(shards[1]))
        #expect((first["seconds"] as? [Double])?.count == 2)
        #expect((second["seconds"] as? [Double])?.count == 2)
        let comparisons = try #require(document["comparisons"] as? [[String: Any]])
        #expect(comparisons.count == 1)
        let comparison = try #require(comparisons.first)
        #expect(comparison["shard"] as? String == other)
        #expect(comparison["against"] as? String == shard)
        let medianRatio = try #require(comparison["medianRSSRatio"] as? Double)
        let medians = (
            try #require(second["medianRSSBytes"] as? Double), try #require(first["medianRSSBytes"] as? Double)
        )
        #expect(abs(medianRatio - medians.0 / medians.1) < 1e-9)
        let throughput = try #require(comparison["throughputRatio"] as? Double)
        let rates = (
            try #require(second["megabytesPerSecond"] as? Double), try #require(first["megabytesPerSecond"] as? Double)
        )
        #expect(abs(throughput - rates.0 / rates.1) < 1e-9)
        #expect(comparison["fullOverBaseline"] as? Double == shards[1]["fullOverBaseline"] as? Double)
        #expect(try Repository(at: shard).commitID(ofReference: "refs/heads/code") == commits[8])
        #expect(try Repository(at: other).commitID(ofReference: "refs/heads/code") == otherCommits[8])

        let text = try CLI.run([
            "bench", shard, other, "--iterations", "1", "--rules", rules, "--skip-half", "--skip-hunt",
        ])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("shardscan bench \(shard): 1 iteration"), "\(text.stdout)")
        #expect(text.stdout.contains("shardscan bench \(other): 1 iteration"), "\(text.stdout)")
        #expect(text.stdout.contains("Full scans against \(shard)'s, in the same run:\n  \(other): throughput "))
    }

    /// A second shard that cannot be benched is named, and the first one's code is left where it was.
    @Test func aBrokenSecondShardIsNamedAndTheFirstRestored() throws {
        let (folder, shard, rules, commits) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let broken = folder.appendingPathComponent("plain.git").path
        _ = try Repository.create(at: broken, bare: true)
        let result = try CLI.run(["bench", shard, broken, "--iterations", "1", "--rules", rules, "--skip-half"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(broken) has no refs/heads/code"), "\(result.stderr)")
        #expect(try Repository(at: shard).commitID(ofReference: "refs/heads/code") == commits[8])
        let twice = try CLI.run(["bench", shard, shard + "/", "--iterations", "1", "--rules", rules])
        #expect(twice.status == 2)
        #expect(twice.stderr.contains("is named twice"), "\(twice.stderr)")
    }

    /// `--skip-scans` times the hunts against the baseline alone; with `--skip-hunt` nothing is left.
    @Test func huntsAloneAgainstTheBaseline() throws {
        let (folder, shard, rules, commits) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run(["bench", shard, "--iterations", "1", "--rules", rules, "--skip-scans", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let measurements = try #require(document["measurements"] as? [[String: Any]])
        #expect(measurements.compactMap { $0["kind"] as? String } == ["baseline", "hunt-paths", "hunt-content"])
        #expect(document["huntContentOverBaseline"] is Double)
        #expect(try Repository(at: shard).commitID(ofReference: "refs/heads/code") == commits[8])
        let neither = try CLI.run(["bench", shard, "--skip-scans", "--skip-hunt"])
        #expect(neither.status != 0 && neither.stderr.contains("leave nothing to time"), "\(neither.stderr)")
    }

    @Test func aFailedScanStillRestoresCode() throws {
        let (folder, shard, _, commits) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Moved by hand before the run: restored to here, not to the 90% commit.
        try Repository(at: shard).setReference("refs/heads/code", to: commits[6])
        let broken = folder.appendingPathComponent("broken.yaml").path
        try "rules:\n  - id: broken\n    name: Broken\n    pattern: '(unclosed'\n".write(
            toFile: broken, atomically: true, encoding: .utf8)
        let result = try CLI.run(["bench", shard, "--iterations", "1", "--rules", broken])
        #expect(result.status == 2)
        #expect(result.stderr.contains("the full scan exited with 2"), "\(result.stderr)")
        #expect(try Repository(at: shard).commitID(ofReference: "refs/heads/code") == commits[6])
    }

    /// `--peer` commands are timed beside the baseline, with {shard} replaced by the quoted shard path; a
    /// peer's non-zero exit (scanners exit 1 on findings) is recorded, not an error.
    @Test func peersAreTimedBesideTheBaseline() throws {
        let (folder, shard, rules, _) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run([
            "bench", shard, "--iterations", "2", "--rules", rules, "--skip-half", "--json",
            "--peer", "git -C {shard} rev-list --objects --all", "--peer",
            "sh -c 'test -d \"$1\" && exit 200' x {shard}",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let peers = try #require(document["peers"] as? [[String: Any]])
        #expect(peers.compactMap { $0["command"] as? String }.first == "git -C {shard} rev-list --objects --all")
        #expect(peers.map { $0["exitStatuses"] as? [Int] } == [[0, 0], [200, 200]])
        for peer in peers {
            #expect((peer["seconds"] as? [Double])?.count == 2)
            #expect((peer["peakRSSBytes"] as? Int ?? 0) > 0)
        }
        #expect(document["fullCPUOverBaseline"] is Double)
        #expect(document["huntPathsOverBaseline"] is Double)
        #expect(document["huntContentOverBaseline"] is Double)
        let kinds = (document["measurements"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds == ["baseline", "full", "incremental", "hunt-paths", "hunt-content"])

        let table = try CLI.run([
            "bench", shard, "--iterations", "1", "--rules", rules, "--skip-half", "--peer",
            "git -C {shard} count-objects",
        ])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("peer git"), "\(table.stdout)")
        #expect(table.stdout.contains("1. git -C {shard} count-objects  (exit 0)"), "\(table.stdout)")
    }

    /// A run's time depends on what ran just before it: the baseline, the peers and the scans take turns at
    /// going first, and each iteration's line lists its runs in the order they ran.
    @Test func eachIterationStartsWithTheNextGroupOfRuns() throws {
        let (folder, shard, rules, _) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run([
            "bench", shard, "--iterations", "4", "--rules", rules, "--skip-half", "--skip-hunt", "--peer",
            "git -C {shard} count-objects",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let orders = result.stderr.split(separator: "\n").filter { $0.hasPrefix("iteration ") }.map { line in
            // `peer git 0.00 s`: the name, without the time.
            line.split(separator: ":", maxSplits: 1).last!.split(separator: ",").map {
                $0.split(separator: " ").dropLast(2).joined(separator: " ")
            }
        }
        #expect(
            orders == [
                ["baseline", "peer git", "full", "incremental"], ["peer git", "full", "incremental", "baseline"],
                ["full", "incremental", "baseline", "peer git"], ["baseline", "peer git", "full", "incremental"],
            ], "\(result.stderr)")
    }

    @Test func aPeerWithoutTheShardOrThatCannotRunIsRefused() throws {
        let (folder, shard, rules, _) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let unnamed = try CLI.run(["bench", shard, "--rules", rules, "--peer", "gitleaks git ."])
        #expect(unnamed.status == 2)
        #expect(unnamed.stderr.contains("{shard}"))
        let missing = try CLI.run([
            "bench", shard, "--iterations", "1", "--rules", rules, "--skip-half", "--peer",
            "no-such-scanner-xyz {shard}",
        ])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("exited with 127"), "\(missing.stderr)")
    }

    @Test func aShardWithoutBenchRefsIsRefused() throws {
        let (folder, shard, rules, _) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", shard, "update-ref", "-d", "refs/bench/half"]
        try git.run()
        git.waitUntilExit()
        let result = try CLI.run(["bench", shard, "--iterations", "1", "--rules", rules])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no refs/bench/half"))
    }
}
