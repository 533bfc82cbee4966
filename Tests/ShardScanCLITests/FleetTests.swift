import Foundation
import Git
import ShardScanCore
import ShardScanDemo
import ShardScanEngine
import ShardScanStore
import Testing

/// `scan --worker`, `merge` and `scan --seed`: a fleet of workers, each with its own store, ends with the same
/// store as one process.
@Suite struct FleetTests {
    struct Setup {
        var folder: URL
        var rules: String
        var mirror: String

        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    }

    func setUp() throws -> Setup {
        let folder = try CLI.temporaryFolder()
        let rules = folder.appendingPathComponent("rules.yaml").path
        try ScanCommandTests.rules.write(toFile: rules, atomically: true, encoding: .utf8)
        let mirror = folder.appendingPathComponent("mirror").path
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        _ = try DemoMirror.build(at: mirror)
        return Setup(folder: folder, rules: rules, mirror: mirror)
    }

    /// Scans the mirror as `count` workers, each into its own store; returns the stores.
    func scanAsWorkers(_ setup: Setup, count: Int, prefix: String = "w", extra: [String] = []) throws -> [String] {
        var stores: [String] = []
        var shares: [Set<String>] = []
        for index in 1...count {
            let db = setup.path("\(prefix)\(index).sqlite")
            let result = try CLI.run(
                ["scan", "--db", db, "--rules", setup.rules, "--worker", "\(index)/\(count)"] + extra + [setup.mirror])
            #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains("worker \(index)/\(count)"), "\(result.stderr)")
            stores.append(db)
            shares.append(Set(try Store(readingAt: db).shards().map(\.name)))
        }
        // Every shard in exactly one share.
        #expect(shares.reduce(0) { $0 + $1.count } == 3)
        #expect(shares.reduce(Set<String>()) { $0.union($1) } == ["pypi-mirror-1", "pypi-mirror-2", "pypi-mirror-3"])
        return stores
    }

    func singleProcess(_ setup: Setup) throws -> String {
        let db = setup.path("single.sqlite")
        let result = try CLI.run(["scan", "--db", db, "--rules", setup.rules, setup.mirror])
        #expect(result.status == 1, "\(result.stderr)")
        return db
    }

    /// One triage decision, the same in both stores, so that merge must carry it over.
    func triageFirstFinding(in stores: [String]) throws {
        for db in stores {
            let store = try Store(path: db)
            guard let fingerprint = try store.findings(FindingQuery()).map(\.fingerprint).min() else { continue }
            try store.setTriage(
                [fingerprint], status: .testData, comment: "fixture", author: "qa", at: "2026-01-02T03:04:05Z")
        }
    }

    @Test(arguments: [1, 2, 3]) func workersAndMergeEqualOneProcess(workers: Int) throws {
        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let single = try singleProcess(setup)
        let stores = try scanAsWorkers(setup, count: workers)
        // Triage made on one worker (whichever holds the first finding) travels with the merge.
        let holder = try stores.first { try !Store(readingAt: $0).findings(FindingQuery()).isEmpty }!
        try triageFirstFinding(in: [single, holder])

        let main = setup.path("main.sqlite")
        let merged = try CLI.run(["merge", "--into", main] + stores)
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(merged.stdout.contains("merged \(workers) store(s)"), "\(merged.stdout)")
        let content = try Store(readingAt: main).content()
        let expected = try Store(readingAt: single).content()
        #expect(content.differences(from: expected).isEmpty, "\(content.differences(from: expected))")
        #expect(!content.places.isEmpty && content.watermarks.count == 3 && content.triage.count == 1)
        let check = try CLI.run(["merge", "--into", main, "--same-as", single])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        // Every worker's run, with its counts.
        #expect(try Store(readingAt: main).runs(limit: 100).count == workers)
    }

    @Test func mergeTwiceEqualsMergeOnce() throws {
        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let stores = try scanAsWorkers(setup, count: 2)
        try triageFirstFinding(in: [stores[0]])
        let main = setup.path("main.sqlite")
        #expect(try CLI.run(["merge", "--into", main] + stores).status == 0)
        let once = try Store(readingAt: main).content()
        let runs = try Store(readingAt: main).runs(limit: 100).count

        let again = try CLI.run(["merge", "--into", main] + stores + [stores[0]])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            again.stdout.contains(
                "0 runs, 0 blobs, 0 secrets, 0 places, 0 watermarks moved, 0 triage changes, 0 watermark conflicts"),
            "\(again.stdout)")
        #expect(try Store(readingAt: main).content() == once)
        #expect(try Store(readingAt: main).runs(limit: 100).count == runs)
    }

    @Test func failureBeforeCommitLeavesMainAsItWasAndRerunCompletes() throws {
        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let single = try singleProcess(setup)
        let stores = try scanAsWorkers(setup, count: 3)
        let main = setup.path("main.sqlite")
        // MAIN already holds one worker; the failing merge of the others must leave it just so.
        #expect(try CLI.run(["merge", "--into", main, stores[0]]).status == 0)
        let before = try Store(readingAt: main).content()
        struct Killed: Error {}
        let store = try Store(path: main)
        #expect(throws: Killed.self) {
            _ = try store.merge(
                Array(stores[1...]), descent: { _, _, _ in nil }, beforeCommit: { throw Killed() })
        }
        #expect(try Store(readingAt: main).content() == before)
        #expect(try Store(readingAt: main).runs(limit: 100).count == 1)

        let rerun = try CLI.run(["merge", "--into", main] + stores)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try Store(readingAt: main).content() == Store(readingAt: single).content())
    }

    @Test func killedMergeProcessLeavesMainWhole() throws {
        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let single = try singleProcess(setup)
        let stores = try scanAsWorkers(setup, count: 3)
        let main = setup.path("main.sqlite")
        // SIGKILL at several points of the merge (start-up, the transaction, after it): each time MAIN is either
        // as it was (nothing) or merged in full, and a rerun completes it.
        let expected = try Store(readingAt: single).content()
        for delay in [20_000, 80_000, 160_000, 320_000] as [UInt32] {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: main + suffix) }
            let process = Process()
            process.executableURL = CLI.executable
            process.arguments = ["merge", "--into", main] + stores
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if let partial = try? Store(readingAt: main).content() {
                #expect(partial == expected || (partial.places.isEmpty && partial.blobs.isEmpty), "after \(delay) µs")
            }
            #expect(try CLI.run(["merge", "--into", main] + stores).status == 0)
            #expect(try Store(readingAt: main).content() == expected)
        }
        #expect(try CLI.run(["merge", "--into", main] + stores).status == 0)
        #expect(try CLI.run(["merge", "--into", main, "--same-as", single]).status == 0)
    }

    /// Adds a commit with a new release to shard `name` of the mirror; returns its id.
    func addRelease(_ setup: Setup, shard name: String, file: String) throws -> ObjectID {
        let repository = try Repository(at: "\(setup.mirror)/\(name).git")
        let parent = try repository.commitID(ofReference: "refs/heads/code")
        let blob = try repository.writeBlob(Array("VALUE = '\(file)'\n".utf8))
        return try repository.commit(
            files: [("packages/\(file)/\(file)-1.0.tar.gz/\(file)-1.0/settings.py", blob)], parent: parent,
            message: file, author: Signature(name: "m", email: "m@x.invalid", time: 1_800_000_000),
            reference: "refs/heads/code")
    }

    @Test func conflictingWatermarkIsReportedAndTheDescendantWins() throws {
        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let main = setup.path("main.sqlite")
        let worker = setup.path("worker.sqlite")
        // MAIN moves the shard to its tip; the shard grows; a worker that never saw MAIN moves it further.
        #expect(try CLI.run(["scan", "--db", main, "--rules", setup.rules, setup.mirror]).status == 1)
        let tip = try addRelease(setup, shard: "pypi-mirror-2", file: "later")
        #expect(try CLI.run(["scan", "--db", worker, "--rules", setup.rules, setup.mirror]).status == 1)

        let merged = try CLI.run(["merge", "--into", main, worker])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(merged.stderr.contains("warning: shard pypi-mirror-2"), "\(merged.stderr)")
        #expect(merged.stderr.contains("kept \(tip.hex.prefix(12))"), "\(merged.stderr)")
        #expect(merged.stderr.contains("descends"), "\(merged.stderr)")
        // The shards neither moved differently are no conflict.
        #expect(!merged.stderr.contains("pypi-mirror-1"), "\(merged.stderr)")
        let watermark = try Store(readingAt: main).shards().first { $0.name == "pypi-mirror-2" }?.watermark
        #expect(watermark == tip)
    }

    @Test func conflictOnAnUnreachableShardKeepsMainsWatermark() throws {
        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let main = setup.path("main.sqlite")
        let worker = setup.path("worker.sqlite")
        #expect(try CLI.run(["scan", "--db", main, "--rules", setup.rules, setup.mirror]).status == 1)
        let before = try Store(readingAt: main).shards().first { $0.name == "pypi-mirror-3" }?.watermark
        _ = try addRelease(setup, shard: "pypi-mirror-3", file: "later")
        #expect(try CLI.run(["scan", "--db", worker, "--rules", setup.rules, setup.mirror]).status == 1)
        try FileManager.default.removeItem(atPath: "\(setup.mirror)/pypi-mirror-3.git")

        let merged = try CLI.run(["merge", "--into", main, worker])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(merged.stderr.contains("warning: shard pypi-mirror-3"), "\(merged.stderr)")
        #expect(merged.stderr.contains("cannot be found"), "\(merged.stderr)")
        #expect(try Store(readingAt: main).shards().first { $0.name == "pypi-mirror-3" }?.watermark == before)
    }

    @Test func seededWorkerReadsNoBlobAgainAndCallsNoOtherShardMissing() throws {
        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let stores = try scanAsWorkers(setup, count: 3)
        let main = setup.path("main.sqlite")
        #expect(try CLI.run(["merge", "--into", main] + stores).status == 0)
        let before = try Store(readingAt: main).content()
        // The next night: a new release in one shard, every worker seeded from the merged store.
        _ = try addRelease(setup, shard: "pypi-mirror-1", file: "tonight")
        var night: [String] = []
        for index in 1...3 {
            let db = setup.path("night\(index).sqlite")
            let result = try CLI.run([
                "scan", "--db", db, "--seed", main, "--rules", setup.rules, "--worker", "\(index)/3", setup.mirror,
            ])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let outcomes = try Store(readingAt: db).shardOutcomes(runID: try Store(readingAt: db).runs(limit: 1)[0].id)
            #expect(!outcomes.contains { $0.status == "missing" }, "\(outcomes)")
            night.append(db)
        }
        // Only the new blob was read, fleet-wide.
        let newBlobs = try night.map { try Store(readingAt: $0).runs(limit: 1)[0].counters.blobsNew }.reduce(0, +)
        #expect(newBlobs == 1)
        #expect(try CLI.run(["merge", "--into", main] + night).status == 0)
        let after = try Store(readingAt: main).content()
        #expect(after.blobs.count == before.blobs.count + 1)
        #expect(after.places == before.places)
        // The seeded stores' copies of MAIN's runs are recognised, not added again: 3 + 3 runs.
        #expect(try Store(readingAt: main).runs(limit: 100).count == 6)
    }

    @Test func theDedupeSetKeepsTheNewerRuleSetWhicheverOrderStoresAreMerged() throws {
        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        let old = setup.path("old.sqlite")
        let new = setup.path("new.sqlite")
        #expect(try CLI.run(["scan", "--db", old, "--rules", setup.rules, setup.mirror]).status == 1)
        // Run times are kept to the second: the newer rule set's run must start in a later one.
        sleep(1)
        let newer = setup.path("newer.yaml")
        try
            (ScanCommandTests.rules + """

                  - id: stripe.live-key
                    name: Stripe live key
                    pattern: '\\b(?<secret>sk_live_[A-Za-z0-9]{24})\\b'
                """).write(toFile: newer, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["scan", "--db", new, "--rules", newer, setup.mirror]).status == 1)
        let newBlobs = try Store(readingAt: new).content().blobs
        #expect(newBlobs != (try Store(readingAt: old).content().blobs))

        for order in [[old, new], [new, old]] {
            let main = setup.path("main-\(order == [old, new] ? "a" : "b").sqlite")
            for store in order { #expect(try CLI.run(["merge", "--into", main, store]).status == 0) }
            #expect(try Store(readingAt: main).content().blobs == newBlobs, "\(order)")
            #expect(try CLI.run(["merge", "--into", main, old]).status == 0)
            #expect(try Store(readingAt: main).content().blobs == newBlobs, "\(order)")
        }
    }

    @Test func workerAutoReadsKubernetesAndSlurmEnvironments() throws {
        #expect(
            try WorkerSpec.parse("auto/3", environment: ["JOB_COMPLETION_INDEX": "0"]) == WorkerSpec(index: 1, count: 3)
        )
        #expect(
            try WorkerSpec.parse("auto/3", environment: ["JOB_COMPLETION_INDEX": "2"]) == WorkerSpec(index: 3, count: 3)
        )
        #expect(
            try WorkerSpec.parse("auto/3", environment: ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4"])
                == WorkerSpec(index: 2, count: 3))
        #expect(
            try WorkerSpec.parse("auto/4", environment: ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0"])
                == WorkerSpec(index: 1, count: 4))
        #expect(throws: WorkerSpecError.self) { try WorkerSpec.parse("auto/3", environment: [:]) }
        #expect(throws: WorkerSpecError.self) {
            try WorkerSpec.parse("auto/3", environment: ["JOB_COMPLETION_INDEX": "3"])
        }

        let setup = try setUp()
        defer { try? FileManager.default.removeItem(at: setup.folder) }
        for (environment, expected) in [
            (["JOB_COMPLETION_INDEX": "1"], "worker 2/3"),
            (["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1"], "worker 3/3"),
        ] {
            let db = setup.path("auto-\(expected.suffix(3).replacingOccurrences(of: "/", with: "-")).sqlite")
            let result = try CLI.run(
                ["scan", "--db", db, "--rules", setup.rules, "--worker", "auto/3", setup.mirror],
                environment: environment)
            #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains(expected), "\(result.stderr)")
        }
    }

    @Test(arguments: ["0/3", "4/3", "x/3", "1/0", "1/", "3", "auto/3", "auto/x", "-1/3", "1/3/5"])
    func badWorkerValuesAreRejectedNamingTheFlag(value: String) throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("bad.sqlite").path
        // The test runs outside any batch engine, so auto/N has no index to take either.
        let result = try CLI.run(["scan", "--db", db, "--worker=\(value)", folder.path])
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("--worker"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db))
    }

    @Test func sharesAreBalancedDeterministicAndStable() {
        let sizes: [String: Int64] = [
            "a": 900, "b": 500, "c": 400, "d": 300, "e": 300, "f": 100, "g": 100, "h": 50,
        ]
        let shares = WorkerShare.split(sizes, into: 3)
        #expect(shares.flatMap { $0 }.sorted() == sizes.keys.sorted())
        let loads = shares.map { $0.reduce(Int64(0)) { $0 + sizes[$1]! } }
        // Within one largest shard of even.
        #expect(loads.max()! - loads.min()! <= 900)
        #expect(loads.max()! <= 900)
        // The same whatever order the shards were found in.
        var shuffled: [String: Int64] = [:]
        for key in sizes.keys.sorted().reversed() { shuffled[key] = sizes[key] }
        #expect(WorkerShare.split(shuffled, into: 3) == shares)
        #expect(WorkerShare.split(sizes, into: 1) == [sizes.keys.sorted()])
        #expect(WorkerShare.split(sizes, into: 10).filter { $0.isEmpty }.count == 2)
    }
}
