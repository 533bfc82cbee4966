import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanEngine
import ShardScanStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `shardscan bench`: times scans of a benchmark shard against reading the same shard with git.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time scans and hunts of a benchmark shard against reading it with git.",
        discussion: """
            SHARD is a bare repository made by scripts/make-bench-shard: refs/heads/code at ~90% of its releases, \
            refs/bench/full at 100%, refs/bench/half at about half of code's content, and refs/bench/base at the \
            90% commit (without it, the 90% commit is wherever code is when the bench starts). Each iteration \
            runs, as child processes timed with wait4:

              baseline     git cat-file --batch-all-objects --batch --unordered > /dev/null
              full         shardscan scan, code at 90%, into a fresh store
              incremental  the same store scanned again, code moved to refs/bench/full
              half         code at refs/bench/half, a fresh store (not with --skip-half)
              hunt paths   shardscan hunt --path GLOB --count, code at refs/bench/full (not with --skip-hunt)
              hunt content shardscan hunt PATTERN --count, code at refs/bench/full (not with --skip-hunt)
              peer         each --peer command, with {shard} replaced by the shard's path (run by /bin/sh)
              backfill     with --backfill-pack: the incremental store scanned again with that pack added (no new \
            commits: the time is the backfill of the pack over all history)

            --skip-scans leaves out full, incremental and half: the hunts against the baseline alone. The \
            baseline, the hunts, the peers and the scans (full, incremental, backfill, half, in that order) take \
            turns at going first: iteration 2 starts with the second of them, and so on, since a run's time depends \
            on what ran just before it. Each iteration's line lists its runs in the order they ran.

            Then it prints each measurement's median and min wall time, median CPU time (user + system, \
            steadier than wall time on a busy machine), MB/s (median wall time) over the blob bytes it covers \
            (MB = 10^6 bytes; all blobs for the baseline, those reachable from code for a full scan, those \
            new since code for the incremental one, all blobs for the hunts), full/baseline, each hunt/baseline \
            (targets: at most 0.1 for the path-only hunt, which reads no blob, 1.0 for the content hunt), \
            the incremental time against its share of the full time (incremental / (full × new bytes / bytes at code)), and peak RSS with full/half. \
            refs/heads/code is put back where it was at the end, on errors and on SIGINT or SIGTERM.
            """
    )

    @OptionGroup var rules: RuleOptions

    @Option(help: "How many times to run each measurement.")
    var iterations = 3

    @Option(
        help: ArgumentHelp(
            "Put the stores and scan logs here and keep them. Default: a temporary folder, removed at the end.",
            valueName: "dir"))
    var workDir: String?

    @Flag(help: "Skip the half-size scan (and the full/half RSS ratio).")
    var skipHalf = false

    @Flag(help: "Skip the two hunts.")
    var skipHunt = false

    @Flag(help: "Skip the scans (full, incremental and half): time the hunts against the baseline alone.")
    var skipScans = false

    @Option(
        help: ArgumentHelp(
            "The glob of the path-only hunt (`shardscan hunt --path GLOB`).", valueName: "glob"))
    var huntPath = "*/pyproject.toml"

    @Option(
        help: ArgumentHelp(
            "The PCRE2 pattern of the content hunt, which reads every blob of history.", valueName: "pattern"))
    var huntPattern = "AKIA[0-9A-Z]{16}"

    @Option(
        name: .customLong("peer"),
        help: ArgumentHelp(
            "Also time another scanner on the shard, e.g. 'gitleaks git {shard}' (repeatable). It runs after the "
                + "baseline in each iteration, with code at the 90% commit; its exit status is recorded, not judged.",
            valueName: "command"))
    var peers: [String] = []

    @Option(
        help: ArgumentHelp(
            "A small rule pack to add after the incremental scan: times its backfill over the whole store (the backfill row, against the full scan).",
            valueName: "path"), completion: .file())
    var backfillPack: String?

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    @Argument(help: "The benchmark shard: a bare repository made by scripts/make-bench-shard.")
    var shard: String

    func validate() throws {
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if skipScans && skipHunt { throw ValidationError("--skip-scans and --skip-hunt leave nothing to time") }
        for peer in peers where !peer.contains("{shard}") {
            throw ValidationError("--peer '\(peer)': the command must name the shard as {shard}")
        }
    }

    func run() async throws {
        let fileManager = FileManager.default
        let shardPath = URL(fileURLWithPath: shard).standardizedFileURL.path
        let rulePaths = try rules.resolvedPaths().map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let work: URL
        if let workDir {
            work = URL(fileURLWithPath: workDir).standardizedFileURL
        } else {
            work = fileManager.temporaryDirectory.appendingPathComponent("shardscan-bench-\(UUID().uuidString)")
        }
        try fileManager.createDirectory(at: work, withIntermediateDirectories: true)
        defer { if workDir == nil { try? fileManager.removeItem(at: work) } }

        let git = BenchGit(repository: shardPath, scratch: work.path)
        ChildSignals.install()
        defer { ChildSignals.uninstall() }
        do {
            let refs = try BenchRefs(git: git, needHalf: !skipHalf && !skipScans)
            defer {
                do {
                    try git.setCode(refs.original, ignoringInterrupt: true)
                } catch {
                    printError("error: could not restore refs/heads/code to \(refs.original): \(error)")
                }
            }
            let report = try measure(git: git, refs: refs, rulePaths: rulePaths, work: work)
            print(json ? try jsonText(report) : report.table())
        } catch is BenchInterrupted {
            printError("interrupted; refs/heads/code restored")
            throw ExitCode(130)
        } catch let error as BenchError {
            printError("error: \(error.message)")
            throw ExitCode(2)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
    }

    /// Runs every measurement `iterations` times.
    private func measure(git: BenchGit, refs: BenchRefs, rulePaths: [String], work: URL) throws -> BenchReport {
        let bytes = BenchReport.Bytes(
            all: try git.allBlobBytes(), code: try git.blobBytes([refs.base]),
            new: try git.blobBytes([refs.full, "^" + refs.base]),
            half: skipHalf || skipScans ? nil : try git.blobBytes([refs.half!]))
        var samples: [BenchReport.Measurement.Kind: [ChildRun]] = [:]
        let peers = try self.peers.map(BenchPeer.init(command:))
        var peerSamples = [[ChildRun]](repeating: [], count: peers.count)
        var counters: [BenchReport.Measurement.Kind: RunCounters] = [:]
        let executable = Self.executablePath()
        let full = work.appendingPathComponent("full.sqlite").path
        let half = work.appendingPathComponent("half.sqlite").path
        let backfillRules = backfillPack.map { [URL(fileURLWithPath: $0).standardizedFileURL.path] } ?? []
        if !skipScans {
            Self.warmPrefilterCache([rulePaths] + (backfillRules.isEmpty ? [] : [rulePaths + backfillRules]))
        }

        for iteration in 1...iterations {
            // What ran this iteration, in the order it ran: `name seconds`.
            var ran: [String] = []
            func record(_ name: String, _ run: ChildRun) {
                ran.append("\(name) \(String(format: "%.2f", run.seconds)) s")
            }
            var groups: [() throws -> Void] = []
            groups.append {
                let baseline = try Spawn.run(
                    ["git", "-C", git.repository, "cat-file", "--batch-all-objects", "--batch", "--unordered"],
                    stderr: work.appendingPathComponent("baseline.log").path)
                guard baseline.status == 0 else { throw BenchError("git cat-file --batch-all-objects failed") }
                samples[.baseline, default: []].append(baseline)
                record(BenchReport.Measurement.Kind.baseline.rawValue, baseline)
            }
            if !skipHunt {
                groups.append {
                    // A hunt searches all of history, as the baseline reads every object.
                    try git.setCode(refs.full)
                    let hunts: [(BenchReport.Measurement.Kind, [String])] = [
                        (.huntPaths, ["--path", huntPath]), (.huntContent, [huntPattern]),
                    ]
                    for (kind, arguments) in hunts {
                        let log = work.appendingPathComponent("\(kind.rawValue)-\(iteration).log").path
                        let run = try Spawn.run(
                            [executable, "hunt"] + arguments + ["--count", git.repository],
                            stdout: work.appendingPathComponent("\(kind.rawValue)-\(iteration).out").path, stderr: log)
                        // 0: found, 1: nothing found; anything else is a failed hunt.
                        guard run.status == 0 || run.status == 1 else {
                            throw BenchError(
                                "the \(kind.rawValue) run exited with \(run.status):\n" + Self.tail(of: log))
                        }
                        samples[kind, default: []].append(run)
                        record(kind.rawValue, run)
                    }
                }
            }
            if !peers.isEmpty {
                groups.append {
                    try git.setCode(refs.base)
                    for (number, peer) in peers.enumerated() {
                        let log = work.appendingPathComponent("peer\(number + 1)-\(iteration).log").path
                        let run = try peer.run(shard: git.repository, log: log)
                        peerSamples[number].append(run)
                        record(peer.name, run)
                    }
                }
            }
            var steps: [(BenchReport.Measurement.Kind, String, String)] =
                skipScans ? [] : [(.full, refs.base, full), (.incremental, refs.full, full)]
            if backfillPack != nil, !skipScans { steps.append((.backfill, refs.full, full)) }
            if let halfCommit = refs.half, !skipHalf, !skipScans { steps.append((.half, halfCommit, half)) }
            if !steps.isEmpty {
                groups.append {
                    for (kind, commit, store) in steps {
                        if kind != .incremental && kind != .backfill { try Self.removeStore(store) }
                        let packs = kind == .backfill ? rulePaths + backfillRules : rulePaths
                        try git.setCode(commit)
                        let log = work.appendingPathComponent("\(kind.rawValue)-\(iteration).log").path
                        let run = try Spawn.run(
                            [executable, "scan", git.repository, "--db", store] + packs.flatMap { ["--rules", $0] },
                            stderr: log)
                        // 0: no findings, 1: findings; anything else is a failed scan.
                        guard run.status == 0 || run.status == 1 else {
                            throw BenchError(
                                "the \(kind.rawValue) scan exited with \(run.status):\n" + Self.tail(of: log))
                        }
                        samples[kind, default: []].append(run)
                        record(kind.rawValue, run)
                        if let last = try Store(path: store).runs(limit: 1).first { counters[kind] = last.counters }
                    }
                }
            }
            // Each iteration starts with the next group, so that every measurement runs right after each of the
            // others as often: a run's time depended on what ran before it (the first shardscan run after git's was
            // 5–8% faster in interleaved runs of one binary, whichever binary it was).
            let first = (iteration - 1) % groups.count
            for group in groups[first...] + groups[..<first] { try group() }
            printError("iteration \(iteration)/\(iterations): " + ran.joined(separator: ", "))
        }

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
            peers: zip(peers, peerSamples).map { BenchReport.PeerMeasurement(peer: $0, runs: $1) })
    }

    /// Compiles the prefilter of each set of packs into the cache the scans read, untimed. A nightly scan finds it
    /// there (it is compiled once per change of the packs); left to the first iteration, the compile was that
    /// scan's time and its peak RSS was the compiler's (362 MB against 143 on the default bench shard).
    static func warmPrefilterCache(_ packSets: [[String]]) {
        guard Prefilter.defaultCacheDirectory != nil else {
            printError("note: SHARDSCAN_CACHE is empty: every scan compiles its prefilter, and is timed doing so")
            return
        }
        let started = Date()
        var compiled = false
        for packs in packSets {
            // Packs with errors are the scans' to report (and fail on), with their log.
            let ruleSet = RuleSet.load(paths: packs)
            compiled = compiled || !ruleSet.prefilter.wasCached
        }
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        printError("prefilter \(compiled ? "compiled into" : "found in") the cache in \(seconds) s (not timed)")
    }

    static func removeStore(_ path: String) throws {
        for suffix in ["", "-wal", "-shm", "-journal"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.removeItem(atPath: path + suffix)
        }
    }

    static func tail(of path: String, lines: Int = 20) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// This executable, for the child scans: `/proc/self/exe` where there is one.
    static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }
}
