import Foundation
import ShardScanCore
import ShardScanStore

/// What every shard of one `shardscan bench` runs: the same scans, hunts and peers.
struct BenchPlan {
    var rulePaths: [String]
    var backfillRules: [String]
    var skipHalf: Bool
    var skipHunt: Bool
    var skipScans: Bool
    var huntPath: String
    var huntPattern: String
    var peers: [BenchPeer]
    /// This executable, for the child scans and hunts.
    var executable: String
}

/// One benchmark shard's measurements: its refs, its stores and logs (in a folder of its own), and the runs timed
/// so far.
final class BenchShard {
    let git: BenchGit
    let refs: BenchRefs
    let plan: BenchPlan
    /// The shard's stores and logs.
    let work: URL
    let bytes: BenchReport.Bytes
    private var samples: [BenchReport.Measurement.Kind: [ChildRun]] = [:]
    private var peerSamples: [[ChildRun]]
    private var counters: [BenchReport.Measurement.Kind: RunCounters] = [:]

    /// Reads the shard's refs and blob sizes; the caller puts refs/heads/code back (``restoreCode()``).
    init(repository: String, plan: BenchPlan, work: URL) throws {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let git = BenchGit(repository: repository, scratch: work.path)
        let refs = try BenchRefs(git: git, needHalf: !plan.skipHalf && !plan.skipScans)
        self.git = git
        self.refs = refs
        self.plan = plan
        self.work = work
        bytes = BenchReport.Bytes(
            all: try git.allBlobBytes(), code: try git.blobBytes([refs.base]),
            new: try git.blobBytes([refs.full, "^" + refs.base]),
            half: plan.skipHalf || plan.skipScans ? nil : try git.blobBytes([refs.half!]))
        peerSamples = [[ChildRun]](repeating: [], count: plan.peers.count)
    }

    /// Puts refs/heads/code back where it was when the bench started.
    func restoreCode() throws {
        try git.setCode(refs.original, ignoringInterrupt: true)
    }

    /// Runs each measurement once; returns what ran, in the order it ran (`name seconds`).
    func runIteration(_ iteration: Int) throws -> [String] {
        var ran: [String] = []
        func record(_ name: String, _ run: ChildRun) {
            ran.append("\(name) \(String(format: "%.2f", run.seconds)) s")
        }
        let full = work.appendingPathComponent("full.sqlite").path
        let half = work.appendingPathComponent("half.sqlite").path
        var groups: [() throws -> Void] = []
        groups.append {
            let baseline = try Spawn.run(
                ["git", "-C", self.git.repository, "cat-file", "--batch-all-objects", "--batch", "--unordered"],
                stderr: self.work.appendingPathComponent("baseline.log").path)
            guard baseline.status == 0 else { throw BenchError("git cat-file --batch-all-objects failed") }
            self.samples[.baseline, default: []].append(baseline)
            record(BenchReport.Measurement.Kind.baseline.rawValue, baseline)
        }
        if !plan.skipHunt {
            groups.append {
                // A hunt searches all of history, as the baseline reads every object.
                try self.git.setCode(self.refs.full)
                let hunts: [(BenchReport.Measurement.Kind, [String])] = [
                    (.huntPaths, ["--path", self.plan.huntPath]), (.huntContent, [self.plan.huntPattern]),
                ]
                for (kind, arguments) in hunts {
                    let log = self.work.appendingPathComponent("\(kind.rawValue)-\(iteration).log").path
                    let run = try Spawn.run(
                        [self.plan.executable, "hunt"] + arguments + ["--count", self.git.repository],
                        stdout: self.work.appendingPathComponent("\(kind.rawValue)-\(iteration).out").path,
                        stderr: log)
                    // 0: found, 1: nothing found; anything else is a failed hunt.
                    guard run.status == 0 || run.status == 1 else {
                        throw BenchError(
                            "the \(kind.rawValue) run exited with \(run.status):\n" + Bench.tail(of: log))
                    }
                    self.samples[kind, default: []].append(run)
                    record(kind.rawValue, run)
                }
            }
        }
        if !plan.peers.isEmpty {
            groups.append {
                try self.git.setCode(self.refs.base)
                for (number, peer) in self.plan.peers.enumerated() {
                    let log = self.work.appendingPathComponent("peer\(number + 1)-\(iteration).log").path
                    let run = try peer.run(shard: self.git.repository, log: log)
                    self.peerSamples[number].append(run)
                    record(peer.name, run)
                }
            }
        }
        var steps: [(BenchReport.Measurement.Kind, String, String)] =
            plan.skipScans ? [] : [(.full, refs.base, full), (.incremental, refs.full, full)]
        if !plan.backfillRules.isEmpty, !plan.skipScans { steps.append((.backfill, refs.full, full)) }
        if let halfCommit = refs.half, !plan.skipHalf, !plan.skipScans { steps.append((.half, halfCommit, half)) }
        if !steps.isEmpty {
            groups.append {
                for (kind, commit, store) in steps {
                    if kind != .incremental && kind != .backfill { try Bench.removeStore(store) }
                    let packs = kind == .backfill ? self.plan.rulePaths + self.plan.backfillRules : self.plan.rulePaths
                    try self.git.setCode(commit)
                    let log = self.work.appendingPathComponent("\(kind.rawValue)-\(iteration).log").path
                    let run = try Spawn.run(
                        [self.plan.executable, "scan", self.git.repository, "--db", store]
                            + packs.flatMap { ["--rules", $0] },
                        stderr: log)
                    // 0: no findings, 1: findings; anything else is a failed scan.
                    guard run.status == 0 || run.status == 1 else {
                        throw BenchError("the \(kind.rawValue) scan exited with \(run.status):\n" + Bench.tail(of: log))
                    }
                    self.samples[kind, default: []].append(run)
                    record(kind.rawValue, run)
                    if let last = try Store(path: store).runs(limit: 1).first { self.counters[kind] = last.counters }
                }
            }
        }
        // Each iteration starts with the next group, so that every measurement runs right after each of the
        // others as often: a run's time depended on what ran before it (the first shardscan run after git's was
        // 5–8% faster in interleaved runs of one binary, whichever binary it was).
        let first = (iteration - 1) % groups.count
        for group in groups[first...] + groups[..<first] { try group() }
        return ran
    }

    /// What was measured so far, over `iterations` iterations.
    func report(iterations: Int) throws -> BenchReport {
        let measurements = BenchReport.Measurement.Kind.allCases.compactMap { kind -> BenchReport.Measurement? in
            guard let runs = samples[kind] else { return nil }
            let covered: Int
            switch kind {
            case .baseline: covered = bytes.all
            case .full: covered = bytes.code
            case .incremental: covered = bytes.new
            case .half: covered = bytes.half ?? 0
            case .backfill: covered = bytes.code + bytes.new
            case .huntPaths, .huntContent: covered = bytes.all
            }
            return BenchReport.Measurement(
                kind: kind, runs: runs, bytes: covered, scannedBytes: counters[kind]?.bytesScanned,
                findingsNew: counters[kind]?.findingsNew)
        }
        return BenchReport(
            shard: git.repository, iterations: iterations,
            releases: .init(
                code: try git.commitCount(refs.base), full: try git.commitCount(refs.full),
                half: try refs.half.map { try git.commitCount($0) }),
            bytes: bytes, measurements: measurements,
            peers: zip(plan.peers, peerSamples).map { BenchReport.PeerMeasurement(peer: $0, runs: $1) })
    }
}
