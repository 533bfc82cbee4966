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

/// `shardscan bench`: times scans of benchmark shards against reading the same shards with git.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time scans and hunts of benchmark shards against reading them with git.",
        discussion: """
            Each SHARD is a bare repository made by scripts/make-bench-shard: refs/heads/code at ~90% of its releases, \
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

            With several shards (say the default and the large bench shard), every iteration runs each shard's \
            measurements in turn, the shards too taking turns at going first, and the report ends with each \
            shard's full scan against the first shard's: throughput (MB/s, medians), peak RSS (the median of \
            the runs' peaks, and the largest) and time against git.
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

    @Argument(
        help: ArgumentHelp(
            "The benchmark shards: bare repositories made by scripts/make-bench-shard. With more than one, every "
                + "iteration runs each shard in turn, and the report compares each shard's full scans with the "
                + "first's (throughput, peak RSS).",
            valueName: "shard"))
    var shards: [String]

    func validate() throws {
        if shards.isEmpty { throw ValidationError("name at least one benchmark shard") }
        var seen = Set<String>()
        for shard in shards where !seen.insert(URL(fileURLWithPath: shard).standardizedFileURL.path).inserted {
            throw ValidationError("\(shard) is named twice: each shard's code branch is moved by its own runs")
        }
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if skipScans && skipHunt { throw ValidationError("--skip-scans and --skip-hunt leave nothing to time") }
        for peer in peers where !peer.contains("{shard}") {
            throw ValidationError("--peer '\(peer)': the command must name the shard as {shard}")
        }
    }

    func run() throws {
        let fileManager = FileManager.default
        let rulePaths = try rules.resolvedPaths().map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let work: URL
        if let workDir {
            work = URL(fileURLWithPath: workDir).standardizedFileURL
        } else {
            work = fileManager.temporaryDirectory.appendingPathComponent("shardscan-bench-\(UUID().uuidString)")
        }
        try fileManager.createDirectory(at: work, withIntermediateDirectories: true)
        defer { if workDir == nil { try? fileManager.removeItem(at: work) } }

        ChildSignals.install()
        defer { ChildSignals.uninstall() }
        do {
            let plan = BenchPlan(
                rulePaths: rulePaths,
                backfillRules: backfillPack.map { [URL(fileURLWithPath: $0).standardizedFileURL.path] } ?? [],
                skipHalf: skipHalf, skipHunt: skipHunt, skipScans: skipScans, huntPath: huntPath,
                huntPattern: huntPattern, peers: try peers.map(BenchPeer.init(command:)),
                executable: Self.executablePath())
            var benched: [BenchShard] = []
            defer {
                for shard in benched {
                    do {
                        try shard.restoreCode()
                    } catch {
                        printError(
                            "error: could not restore refs/heads/code of \(shard.git.repository) to "
                                + "\(shard.refs.original): \(error)")
                    }
                }
            }
            for (index, shard) in shards.enumerated() {
                let path = URL(fileURLWithPath: shard).standardizedFileURL.path
                let folder = shards.count == 1 ? work : work.appendingPathComponent("shard\(index + 1)")
                benched.append(try BenchShard(repository: path, plan: plan, work: folder))
            }
            if !skipScans {
                Self.warmPrefilterCache(
                    [rulePaths] + (plan.backfillRules.isEmpty ? [] : [rulePaths + plan.backfillRules]))
            }
            for iteration in 1...iterations {
                // The shards take turns at going first too, so that neither always runs on a machine the other
                // has just warmed or tired.
                let first = (iteration - 1) % benched.count
                for shard in benched[first...] + benched[..<first] {
                    let ran = try shard.runIteration(iteration)
                    let name = benched.count == 1 ? "" : " \(shard.git.repository)"
                    printError("iteration \(iteration)/\(iterations)\(name): " + ran.joined(separator: ", "))
                }
            }
            let reports = try benched.map { try $0.report(iterations: iterations) }
            if reports.count == 1 {
                print(json ? try jsonText(reports[0]) : reports[0].table())
            } else {
                let comparisons = BenchComparison.comparisons(reports)
                if json {
                    print(try jsonText(BenchRun(shards: reports, comparisons: comparisons)))
                } else {
                    print(
                        (reports.map { $0.table() } + [BenchComparison.table(comparisons)]).joined(separator: "\n\n"))
                }
            }
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
