import Foundation
import ShardScanCore
import ShardScanDemo
import ShardScanEngine
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Rule packs with errors stop a scan before it starts; `--jobs` is bounded; a scan whose workers cannot
/// start, or that gets SIGTERM while its rules compile, ends at once with its status; UTF-16 text and big
/// JSON files are read through `scan-text` as through `scan`.
@Suite struct EngineHardeningTests {
    /// A mirror of three shards with findings of both rules of ``ScanCommandTests/rules``.
    func mirror() throws -> (folder: URL, mirror: String) {
        let folder = try CLI.temporaryFolder()
        let mirror = folder.appendingPathComponent("mirror").path
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        _ = try DemoMirror.build(at: mirror)
        return (folder, mirror)
    }

    /// Runs `shardscan` with `environment` added, ending it after `seconds` (a hang is a failure, not a
    /// stuck test run). `started` runs once the process is running.
    static func run(
        _ arguments: [String], executable: String? = nil, environment: [String: String] = [:],
        seconds: Double = 120, started: (Process) throws -> Void = { _ in }
    ) throws -> (status: Int32, signalled: Bool, stderr: String, elapsed: Double) {
        let scratch = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let errURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable ?? CLI.executable.path)
        process.arguments = arguments
        process.environment = CLI.childEnvironment.merging(environment) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        let begin = Date()
        try process.run()
        try started(process)
        while process.isRunning && Date().timeIntervalSince(begin) < seconds { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Issue.record("shardscan \(arguments.joined(separator: " ")) still ran after \(seconds) s")
        }
        process.waitUntilExit()
        return (
            process.terminationStatus, process.terminationReason == .uncaughtSignal,
            try String(contentsOf: errURL, encoding: .utf8), Date().timeIntervalSince(begin)
        )
    }

    // MARK: Rule packs with errors (item 7)

    @Test(arguments: [
        // An unknown field, a pattern that does not compile, a repeated key, and an id defined twice.
        (
            "    stopwrds: [example]\n",
            "rules.yaml:10: error: rule aws.access-key-id: unknown field `stopwrds`; did you mean `stopwords`?"
        ),
        (
            "    stopwords: [example]\n    allow: ['(unclosed']\n",
            "rules.yaml:11: error: rule aws.access-key-id: `allow` pattern does not compile"
        ),
        (
            "    stopwords: [example]\n    stopwords: [sample]\n",
            "rules.yaml:11: error: rule aws.access-key-id: duplicate key `stopwords` (first at line 10)"
        ),
        (
            "    stopwords: [example]\n  - id: aws.access-key-id\n    name: Again\n    pattern: '(x)'\n",
            "rules.yaml:11: error: rule aws.access-key-id: duplicate id, first defined at"
        ),
    ])
    func aRulePackErrorStopsTheScanBeforeItStartsAndMovesNoWatermark(tail: String, expected: String) throws {
        let (folder, mirror) = try mirror()
        let packs = folder.appendingPathComponent("packs")
        try FileManager.default.createDirectory(at: packs, withIntermediateDirectories: true)
        // The AWS rule's filters come last, so each error lands on it.
        let fixed = ScanCommandTests.rules.replacingOccurrences(of: "    stopwords: [example]", with: "")
            .trimmingCharacters(in: .newlines)
        #expect(fixed.hasSuffix("pattern: '\\b(?<secret>AKIA[A-Z2-7]{16})\\b'"))
        let rules = packs.appendingPathComponent("rules.yaml")
        try (fixed + "\n" + tail).write(to: rules, atomically: true, encoding: .utf8)
        let db = folder.appendingPathComponent("s.sqlite").path

        let broken = try CLI.run(["scan", "--db", db, "--rules", packs.path, mirror])
        #expect(broken.status == 2, "\(broken.stderr)")
        #expect(broken.stderr.contains(expected), "\(broken.stderr)")
        #expect(broken.stderr.contains("nothing was scanned"))
        #expect(!broken.stderr.contains("NEW FINDINGS"))
        for command in [["scan-text", "--rules", packs.path, rules.path], ["rules", "check", packs.path]] {
            let result = try CLI.run(command)
            #expect(result.status == 2, "\(command): \(result.stdout)\(result.stderr)")
            #expect((result.stdout + result.stderr).contains(expected), "\(command)")
        }

        // Fixed, the pack finds every secret: no watermark moved past a blob the broken pack never read.
        try (fixed + "\n    stopwords: [example]\n").write(to: rules, atomically: true, encoding: .utf8)
        let json = folder.appendingPathComponent("new.json").path
        let good = try CLI.run(["scan", "--db", db, "--rules", packs.path, "--json", json, mirror])
        #expect(good.status == 1, "\(good.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))
        let rows = (document as? [String: Any])?["findings"] as? [[String: Any]] ?? []
        #expect(
            rows.compactMap { $0["rule"] as? String }.sorted() == [
                "aws.access-key-id", "github.pat-classic", "github.pat-classic",
            ])
    }

    // MARK: Jobs, threads and signals (item 11)

    @Test(arguments: [("100000", "(got 100000)"), ("-3", "(got -3)"), ("0", "(got 0)")])
    func jobsOutsideTheirRangeAreRefusedWithWhatIsWrong(jobs: String, got: String) throws {
        let result = try CLI.run(["scan", "--jobs", jobs, "--db", "/nonexistent/s.sqlite", "/nonexistent"])
        #expect(result.status != 0 && result.status != 1)
        #expect(result.stderr.contains("--jobs must be a number of threads from 1 to 256 \(got)"), "\(result.stderr)")
        #expect(!result.stderr.contains("Missing value"))
    }

    @Test func workerThreadsThatCannotStartEndTheScanWithExitStatus2() throws {
        let (folder, mirror) = try mirror()
        let db = folder.appendingPathComponent("s.sqlite").path
        let rules = folder.appendingPathComponent("rules.yaml").path
        try ScanCommandTests.rules.write(toFile: rules, atomically: true, encoding: .utf8)
        // 1 GB of address space holds the scan but not 256 thread stacks of 8 MB.
        let limited = try Self.run(
            [
                "-c", "ulimit -v 1000000 && exec \"$0\" \"$@\"", CLI.executable.path, "scan", "--quiet", "--db", db,
                "--rules", rules, "--jobs", "256", mirror,
            ],
            executable: "/bin/bash", environment: ["SHARDSCAN_CACHE": folder.appendingPathComponent("cache").path],
            seconds: 90)
        #expect(limited.status == 2, "\(limited.stderr)")
        #expect(!limited.signalled)
        #expect(limited.stderr.contains("cannot start worker thread"), "\(limited.stderr)")
        #expect(limited.stderr.contains("lower --jobs"))
    }

    @Test func sigtermWhileRulesCompileEndsTheScanAtOnceWith143() throws {
        let (folder, mirror) = try mirror()
        let db = folder.appendingPathComponent("s.sqlite").path
        // A fresh cache: the Hyperscan database of the shipped rules takes many seconds to compile.
        let cache = folder.appendingPathComponent("fresh-cache").path
        var signalledAt = Date()
        let result = try Self.run(
            ["scan", "--db", db, "--rules", CLI.packageRoot.appendingPathComponent("Rules").path, mirror],
            environment: ["SHARDSCAN_CACHE": cache], seconds: 60
        ) { process in
            // The store exists once the command runs (its handlers are in place) and the rules begin to load.
            let begin = Date()
            while !FileManager.default.fileExists(atPath: db) && Date().timeIntervalSince(begin) < 30 {
                usleep(20_000)
            }
            usleep(200_000)
            signalledAt = Date()
            process.terminate()
        }
        let afterSignal = Date().timeIntervalSince(signalledAt)
        #expect(!result.signalled, "ended by the signal itself, not by handling it")
        #expect(result.status == 143, "\(result.stderr)")
        #expect(result.stderr.contains("SIGTERM received before the scan started"), "\(result.stderr)")
        #expect(afterSignal < 5, "took \(afterSignal) s after SIGTERM")
    }

    // MARK: UTF-16 text through scan-text (item 9)

    @Test(arguments: [UnicodeForm.utf16LittleEndian, .utf16BigEndian])
    func scanTextReadsUTF16AndReportsTheFilesOwnLineAndColumn(form: UnicodeForm) throws {
        let folder = try CLI.temporaryFolder()
        let rules = folder.appendingPathComponent("rules.yaml")
        try ScanCommandTests.rules.write(to: rules, atomically: true, encoding: .utf8)
        var fake = FakeCredentials(seed: 11)
        let token = fake.githubToken(prefix: "ghp_")
        let prefix = "s = 'é𝄞'; TOKEN = '"
        let text = "# -*- coding: utf-16 -*-\n\n" + prefix + token + "'\n"
        let units = [UInt16(0xFEFF)] + Array(text.utf16)
        let bytes = units.flatMap { unit -> [UInt8] in
            form == .utf16LittleEndian
                ? [UInt8(unit & 0xFF), UInt8(unit >> 8)] : [UInt8(unit >> 8), UInt8(unit & 0xFF)]
        }
        let file = folder.appendingPathComponent("settings.py")
        try Data(bytes).write(to: file)
        let result = try CLI.run(["scan-text", "--rules", rules.path, "--format", "json", file.path])
        #expect(result.status == 1, "\(result.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let rows = try #require(document?["findings"] as? [[String: Any]])
        #expect(rows.count == 1)
        #expect(rows.first?["rule"] as? String == "github.pat-classic")
        #expect(rows.first?["line"] as? Int == 3)
        // Bytes of UTF-16 before the token on its line, plus one.
        #expect(rows.first?["column"] as? Int == prefix.utf16.count * 2 + 1)
        #expect(rows.first?["end_column"] as? Int == (prefix + token).utf16.count * 2 + 1)
        #expect(!result.stdout.contains(token))
    }

    // MARK: Memory on big JSON files (item 13)

    /// Runs `shardscan` and returns its exit status and peak resident memory in bytes: the `VmHWM` of its
    /// own address space, read from /proc while it runs (`wait4`'s `ru_maxrss` would also count this test
    /// process, whose memory a spawned child starts from).
    static func peakMemory(_ arguments: [String], cache: String) throws -> (status: Int32, bytes: Int) {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["SHARDSCAN_CACHE": cache]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var peak = 0
        let status = "/proc/\(process.processIdentifier)/status"
        while process.isRunning {
            let text = (try? String(contentsOfFile: status, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                let kilobytes = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).dropLast(3)) ?? 0
                peak = max(peak, kilobytes * 1024)
            }
            usleep(10_000)
        }
        process.waitUntilExit()
        return (process.terminationStatus, peak)
    }

    @Test func aBigNotebookIsScannedInLessThanThreeTimesItsSize() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let rules = folder.appendingPathComponent("rules.yaml")
        try ScanCommandTests.rules.write(to: rules, atomically: true, encoding: .utf8)
        var fake = FakeCredentials(seed: 5)
        let token = fake.githubToken(prefix: "ghp_")
        // A notebook cell of 20 MB: lines of code as JSON strings, escapes on every line.
        var cell = "{\"cells\": [{\"cell_type\": \"code\", \"source\": [\n"
        let line = "    \"print(\\\"value\\\", compute(x, y), \\\"done\\\")  # a comment to fill the line\\n\",\n"
        cell += String(repeating: line, count: 20_000_000 / line.utf8.count)
        cell += "    \"TOKEN = \\\"\(token)\\\"\\n\"\n]}]}\n"
        let notebook = folder.appendingPathComponent("big.ipynb")
        try cell.write(to: notebook, atomically: false, encoding: .utf8)
        let small = folder.appendingPathComponent("small.ipynb")
        try "{\"source\": [\"TOKEN = \\\"\(token)\\\"\\n\"]}\n".write(to: small, atomically: false, encoding: .utf8)

        // Twice: the first run also compiles the rules into the cache, which costs memory of its own.
        let cache = folder.appendingPathComponent("cache").path
        var baseline = (status: Int32(0), bytes: 0)
        for _ in 0..<2 {
            baseline = try Self.peakMemory(["scan-text", "--rules", rules.path, small.path], cache: cache)
        }
        #expect(baseline.status == 1)
        let big = try Self.peakMemory(["scan-text", "--rules", rules.path, notebook.path], cache: cache)
        #expect(big.status == 1)
        let size = cell.utf8.count
        let extra = big.bytes - baseline.bytes
        print(
            "scan-text of a \(size >> 20) MB notebook: peak RSS \(big.bytes >> 20) MB, \(extra >> 20) MB over a tiny one"
        )
        // The file and its decoded copy, with room to spare; a per-byte map of Ints alone was eight times it.
        #expect(baseline.bytes > 0 && big.bytes > 0, "no VmHWM read")
        #expect(extra < 3 * size, "peak \(big.bytes >> 20) MB for \(size >> 20) MB of JSON")
    }
}
