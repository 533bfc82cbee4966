import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `shardscan bench`: times scans of a benchmark shard against reading the same shard with git.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time full and incremental scans of a benchmark shard against reading it with git.",
        discussion: """
            SHARD is a bare repository made by scripts/make-bench-shard: refs/heads/code at ~90% of its releases, \
            refs/bench/full at 100%, refs/bench/half at about half of code's content, and refs/bench/base at the \
            90% commit (without it, the 90% commit is wherever code is when the bench starts). Each iteration \
            runs, as child processes timed with wait4:

              baseline     git cat-file --batch-all-objects --batch --unordered > /dev/null
              full         shardscan scan, code at 90%, into a fresh store
              incremental  the same store scanned again, code moved to refs/bench/full
              half         code at refs/bench/half, a fresh store (not with --skip-half)

            Then it prints each measurement's median and min wall time, median CPU time (user + system, \
            steadier than wall time on a busy machine), MB/s (median wall time) over the blob bytes it covers \
            (MB = 10^6 bytes; all blobs for the baseline, those reachable from code for a full scan, those \
            new since code for the incremental one), full/baseline, the incremental time against its share \
            of the full time (incremental / (full × new bytes / bytes at code)), and peak RSS with full/half. \
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

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    @Argument(help: "The benchmark shard: a bare repository made by scripts/make-bench-shard.")
    var shard: String

    func validate() throws {
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
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
            let refs = try BenchRefs(git: git, needHalf: !skipHalf)
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
            half: skipHalf ? nil : try git.blobBytes([refs.half!]))
        var samples: [BenchReport.Measurement.Kind: [ChildRun]] = [:]
        var counters: [BenchReport.Measurement.Kind: RunCounters] = [:]
        let executable = Self.executablePath()
        let full = work.appendingPathComponent("full.sqlite").path
        let half = work.appendingPathComponent("half.sqlite").path

        for iteration in 1...iterations {
            let baseline = try Spawn.run(
                ["git", "-C", git.repository, "cat-file", "--batch-all-objects", "--batch", "--unordered"],
                stderr: work.appendingPathComponent("baseline.log").path)
            guard baseline.status == 0 else { throw BenchError("git cat-file --batch-all-objects failed") }
            samples[.baseline, default: []].append(baseline)

            var steps: [(BenchReport.Measurement.Kind, String, String)] = [
                (.full, refs.base, full), (.incremental, refs.full, full),
            ]
            if let halfCommit = refs.half, !skipHalf { steps.append((.half, halfCommit, half)) }
            for (kind, commit, store) in steps {
                if kind != .incremental { try Self.removeStore(store) }
                try git.setCode(commit)
                let log = work.appendingPathComponent("\(kind.rawValue)-\(iteration).log").path
                let run = try Spawn.run(
                    [executable, "scan", git.repository, "--db", store] + rulePaths.flatMap { ["--rules", $0] },
                    stderr: log)
                // 0: no findings, 1: findings; anything else is a failed scan.
                guard run.status == 0 || run.status == 1 else {
                    throw BenchError("the \(kind.rawValue) scan exited with \(run.status):\n" + Self.tail(of: log))
                }
                samples[kind, default: []].append(run)
                if let last = try Store(path: store).runs(limit: 1).first { counters[kind] = last.counters }
            }
            let line = BenchReport.Measurement.Kind.allCases.compactMap { kind in
                samples[kind]?.last.map { "\(kind.rawValue) \(String(format: "%.2f", $0.seconds)) s" }
            }
            printError("iteration \(iteration)/\(iterations): " + line.joined(separator: ", "))
        }

        let measurements = BenchReport.Measurement.Kind.allCases.compactMap { kind -> BenchReport.Measurement? in
            guard let runs = samples[kind] else { return nil }
            let covered: Int
            switch kind {
            case .baseline: covered = bytes.all
            case .full: covered = bytes.code
            case .incremental: covered = bytes.new
            case .half: covered = bytes.half ?? 0
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
            bytes: bytes, measurements: measurements)
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

/// The commits the bench moves `refs/heads/code` between.
struct BenchRefs {
    /// Where `refs/heads/code` was when the bench started, and is put back.
    var original: String
    /// The ~90% commit: refs/bench/base, else `original`.
    var base: String
    var full: String
    var half: String?

    init(git: BenchGit, needHalf: Bool) throws {
        func resolve(_ reference: String) throws -> String? {
            let result = try git.run(["rev-parse", "--verify", "--quiet", reference + "^{commit}"])
            return result.status == 0 ? result.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }
        guard let original = try resolve("refs/heads/code") else {
            throw BenchError("\(git.repository) has no refs/heads/code; build a shard with scripts/make-bench-shard")
        }
        guard let full = try resolve("refs/bench/full") else {
            throw BenchError("\(git.repository) has no refs/bench/full; build it with scripts/make-bench-shard")
        }
        let half = try resolve("refs/bench/half")
        if needHalf && half == nil {
            throw BenchError("\(git.repository) has no refs/bench/half; build it with scripts/make-bench-shard")
        }
        let remotes = try git.output(["for-each-ref", "--format=%(refname)", "refs/remotes/"])
        if remotes.split(separator: "\n").contains(where: { $0.hasSuffix("/code") }) {
            throw BenchError("\(git.repository) has remote-tracking code branches, which scan would read instead")
        }
        self.original = original
        self.base = try resolve("refs/bench/base") ?? original
        self.full = full
        self.half = half
        if base == full {
            throw BenchError(
                "refs/heads/code is at refs/bench/full, so there is nothing for an incremental scan; "
                    + "move it back with `git update-ref refs/heads/code <the 90% commit>`")
        }
        guard try git.run(["merge-base", "--is-ancestor", base, full]).status == 0 else {
            throw BenchError("the 90% commit \(base) is not an ancestor of refs/bench/full")
        }
    }
}

/// Git commands on the benchmark shard, with their output in files under `scratch`.
struct BenchGit {
    var repository: String
    var scratch: String

    func run(_ arguments: [String], stdin: String = "/dev/null") throws -> (status: Int32, output: String) {
        let out = scratch + "/git.out"
        let err = scratch + "/git.err"
        let result = try Spawn.run(["git", "-C", repository] + arguments, stdin: stdin, stdout: out, stderr: err)
        guard result.status == 0 || result.status == 1 else {
            let message = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            throw BenchError("git \(arguments.joined(separator: " ")) exited with \(result.status): \(message)")
        }
        return (result.status, try String(contentsOfFile: out, encoding: .utf8))
    }

    func output(_ arguments: [String], stdin: String = "/dev/null") throws -> String {
        let result = try run(arguments, stdin: stdin)
        guard result.status == 0 else { throw BenchError("git \(arguments.joined(separator: " ")) failed") }
        return result.output
    }

    func setCode(_ commit: String, ignoringInterrupt: Bool = false) throws {
        let result = try Spawn.run(
            ["git", "-C", repository, "update-ref", "refs/heads/code", commit],
            stderr: scratch + "/update-ref.err", ignoringInterrupt: ignoringInterrupt)
        guard result.status == 0 else { throw BenchError("git update-ref refs/heads/code \(commit) failed") }
    }

    func commitCount(_ commit: String) throws -> Int {
        Int(try output(["rev-list", "--count", commit]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Bytes of every blob in the repository.
    func allBlobBytes() throws -> Int {
        Self.sumBlobs(try output(["cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)"]))
    }

    /// Bytes of the blobs reachable from `revisions` (e.g. `[B, "^A"]` for those in B and not in A).
    func blobBytes(_ revisions: [String]) throws -> Int {
        let objects = scratch + "/objects"
        let listed = try Spawn.run(
            ["git", "-C", repository, "rev-list", "--objects", "--no-object-names"] + revisions, stdout: objects,
            stderr: scratch + "/git.err")
        guard listed.status == 0 else { throw BenchError("git rev-list --objects failed") }
        return Self.sumBlobs(try output(["cat-file", "--batch-check=%(objecttype) %(objectsize)"], stdin: objects))
    }

    static func sumBlobs(_ batchCheck: String) -> Int {
        batchCheck.split(separator: "\n").reduce(0) { sum, line in
            line.hasPrefix("blob ") ? sum + (Int(line.dropFirst(5)) ?? 0) : sum
        }
    }
}

/// What `shardscan bench` measured; printed as a table or as JSON.
struct BenchReport: Encodable {
    struct Releases: Encodable {
        var code: Int
        var full: Int
        var half: Int?
    }

    /// Blob bytes: in the repository, reachable from code (90%), new in the last 10%, reachable from half.
    struct Bytes: Encodable {
        var all: Int
        var code: Int
        var new: Int
        var half: Int?
    }

    struct Measurement: Encodable {
        enum Kind: String, Encodable, CaseIterable {
            case baseline, full, incremental, half
        }

        var kind: Kind
        var runs: [ChildRun]
        /// The blob bytes this measurement covers (see ``Bytes``).
        var bytes: Int
        /// `bytesScanned` and `findingsNew` of the scan's run in its store, from the last iteration.
        var scannedBytes: Int?
        var findingsNew: Int?

        var seconds: [Double] { runs.map(\.seconds) }
        var median: Double {
            let sorted = seconds.sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
        var min: Double { seconds.min() ?? 0 }
        var peakRSS: Int { runs.map(\.maxRSSBytes).max() ?? 0 }
        /// Median user + system CPU time: steadier than wall time on a shared machine.
        var cpuMedian: Double {
            let sorted = runs.map(\.cpuSeconds).sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
        var megabytesPerSecond: Double { median > 0 ? Double(bytes) / 1e6 / median : 0 }

        enum CodingKeys: String, CodingKey {
            case kind, seconds, median, min, bytes, megabytesPerSecond, peakRSSBytes, scannedBytes, findingsNew
            case exitStatuses, rssBytes, cpuSeconds
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind, forKey: .kind)
            try container.encode(seconds, forKey: .seconds)
            try container.encode(median, forKey: .median)
            try container.encode(min, forKey: .min)
            try container.encode(bytes, forKey: .bytes)
            try container.encode(megabytesPerSecond, forKey: .megabytesPerSecond)
            try container.encode(peakRSS, forKey: .peakRSSBytes)
            try container.encodeIfPresent(scannedBytes, forKey: .scannedBytes)
            try container.encodeIfPresent(findingsNew, forKey: .findingsNew)
            try container.encode(runs.map(\.status), forKey: .exitStatuses)
            try container.encode(runs.map(\.maxRSSBytes), forKey: .rssBytes)
            try container.encode(runs.map(\.cpuSeconds), forKey: .cpuSeconds)
        }
    }

    var shard: String
    var iterations: Int
    var releases: Releases
    var bytes: Bytes
    var measurements: [Measurement]

    subscript(_ kind: Measurement.Kind) -> Measurement? { measurements.first { $0.kind == kind } }

    /// Full scan time over baseline time (medians).
    var fullOverBaseline: Double? {
        guard let full = self[.full], let baseline = self[.baseline], baseline.median > 0 else { return nil }
        return full.median / baseline.median
    }

    /// Incremental scan time over the full scan's time scaled to the share of new bytes.
    var incrementalOverShare: Double? {
        guard let incremental = self[.incremental], let full = self[.full], bytes.code > 0, bytes.new > 0 else {
            return nil
        }
        let share = full.median * Double(bytes.new) / Double(bytes.code)
        return share > 0 ? incremental.median / share : nil
    }

    /// Peak RSS of the full scan over that of the half-size scan.
    var rssFullOverHalf: Double? {
        guard let full = self[.full], let half = self[.half], half.peakRSS > 0 else { return nil }
        return Double(full.peakRSS) / Double(half.peakRSS)
    }

    enum CodingKeys: String, CodingKey {
        case shard, iterations, releases, bytes, measurements, fullOverBaseline, incrementalOverShare
        case rssFullOverHalf
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(shard, forKey: .shard)
        try container.encode(iterations, forKey: .iterations)
        try container.encode(releases, forKey: .releases)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(measurements, forKey: .measurements)
        try container.encodeIfPresent(fullOverBaseline, forKey: .fullOverBaseline)
        try container.encodeIfPresent(incrementalOverShare, forKey: .incrementalOverShare)
        try container.encodeIfPresent(rssFullOverHalf, forKey: .rssFullOverHalf)
    }

    func table() -> String {
        func mb(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1e6) }
        func fixed(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
        var lines = ["shardscan bench \(shard): \(iterations) iteration\(iterations == 1 ? "" : "s")"]
        lines.append(
            "  releases: \(releases.code) at code (90%), \(releases.full) at refs/bench/full"
                + (releases.half.map { ", \($0) at refs/bench/half" } ?? ""))
        lines.append(
            "  blob MB: \(mb(bytes.all)) in the repository, \(mb(bytes.code)) at code, \(mb(bytes.new)) new since code"
                + (bytes.half.map { ", \(mb($0)) at half" } ?? ""))
        lines.append("")
        let header = ["MEASUREMENT", "MEDIAN s", "MIN s", "CPU s", "MB", "MB/s", "RATIO", "PEAK RSS MB"]
        let widths = [24, 9, 8, 8, 7, 7, 34, 11]
        func row(_ cells: [String]) -> String {
            zip(cells, widths).enumerated().map { index, pair in
                let (cell, width) = pair
                let pad = String(repeating: " ", count: Swift.max(0, width - cell.count))
                return index == 0 || index == 6 ? cell + pad : pad + cell
            }.joined(separator: " ")
        }
        lines.append(row(header))
        let names: [Measurement.Kind: String] = [
            .baseline: "baseline (git cat-file)", .full: "full scan (code at 90%)",
            .incremental: "incremental (+10%)", .half: "half scan (code at half)",
        ]
        for measurement in measurements {
            var ratio = ""
            switch measurement.kind {
            case .full: ratio = fullOverBaseline.map { "  \(fixed($0)) × baseline" } ?? ""
            case .incremental: ratio = incrementalOverShare.map { "  \(fixed($0)) × its share of full" } ?? ""
            case .half:
                let byteRatio = Double(bytes.code) / Double(Swift.max(1, bytes.half ?? 0))
                ratio = rssFullOverHalf.map { "  RSS full/half \(fixed($0)) (bytes \(fixed(byteRatio)))" } ?? ""
            case .baseline: ratio = ""
            }
            lines.append(
                row([
                    names[measurement.kind] ?? measurement.kind.rawValue, fixed(measurement.median),
                    fixed(measurement.min), fixed(measurement.cpuMedian), mb(measurement.bytes),
                    fixed(measurement.megabytesPerSecond, 1), ratio,
                    fixed(Double(measurement.peakRSS) / 1e6, 1),
                ]))
        }
        let scanned = measurements.compactMap { measurement -> String? in
            guard let bytes = measurement.scannedBytes else { return nil }
            let name = padded(measurement.kind.rawValue + ":", 13)
            return "    \(name)\(mb(bytes)) MB scanned, \(measurement.findingsNew ?? 0) new findings"
        }
        if !scanned.isEmpty {
            lines.append("")
            lines.append("  The last iteration's runs, from their stores:")
            lines += scanned
        }
        return lines.joined(separator: "\n")
    }
}

struct BenchError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Thrown once SIGINT or SIGTERM has arrived, so that the caller restores `refs/heads/code` and exits.
struct BenchInterrupted: Error {}

/// A finished child process: exit status (128 + the signal if killed), wall and CPU time, peak resident set size.
struct ChildRun: Encodable {
    var status: Int32
    var seconds: Double
    var maxRSSBytes: Int
    /// User + system CPU time.
    var cpuSeconds: Double
}

/// What the SIGINT/SIGTERM handler shares with the main thread: plain words, all a signal handler may touch.
enum ChildSignals {
    nonisolated(unsafe) static var received: Int32 = 0
    nonisolated(unsafe) static var running: pid_t = 0

    /// Records the signal and passes it on to the running child; `Spawn.run` then throws ``BenchInterrupted``.
    static func install() {
        received = 0
        running = 0
        for number in [SIGINT, SIGTERM] {
            signal(number) { number in
                ChildSignals.received = number
                let child = ChildSignals.running
                if child > 0 { kill(child, number) }
            }
        }
    }

    static func uninstall() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// posix_spawn and wait4: each child's wall time and peak RSS.
enum Spawn {
    /// Runs `arguments` (the first looked up in PATH) with its standard streams from and to the given files.
    static func run(
        _ arguments: [String], stdin: String = "/dev/null", stdout: String = "/dev/null",
        stderr: String = "/dev/null", ignoringInterrupt: Bool = false
    ) throws -> ChildRun {
        if !ignoringInterrupt && ChildSignals.received != 0 { throw BenchInterrupted() }
        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t? = nil
            var attributes: posix_spawnattr_t? = nil
        #else
            var actions = posix_spawn_file_actions_t()
            var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child gets default SIGINT/SIGTERM handling and an empty signal mask, whatever ours are.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = arguments.map { strdup($0) }
        let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") }
        defer { for pointer in argv + environment { free(pointer) } }

        var pid = pid_t()
        let start = ContinuousClock.now
        let error = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv + [nil], environment + [nil])
        guard error == 0 else {
            throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(error)))")
        }
        ChildSignals.running = pid
        defer { ChildSignals.running = 0 }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) == -1 {
            guard errno == EINTR else { throw BenchError("wait4: \(String(cString: strerror(errno)))") }
        }
        let elapsed = start.duration(to: .now)
        if !ignoringInterrupt && ChildSignals.received != 0 { throw BenchInterrupted() }
        let signalNumber = status & 0x7F
        #if canImport(Darwin)
            let maxRSS = Int(usage.ru_maxrss)  // bytes
        #else
            let maxRSS = Int(usage.ru_maxrss) * 1024  // KiB
        #endif
        return ChildRun(
            status: signalNumber == 0 ? (status >> 8) & 0xFF : 128 + signalNumber,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            maxRSSBytes: maxRSS, cpuSeconds: Self.seconds(usage.ru_utime) + Self.seconds(usage.ru_stime))
    }

    static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }
}
