import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanEngine

/// `shardscan rules profile`: what each rule costs on real shards.
struct RulesProfile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Scan shards once and report what each rule cost: files it ran on, PCRE2 time, bytes, findings.",
        discussion: """
            Every distinct text blob of the shards' history is scanned once, as a scan would (nothing is stored). \
            Per rule: CANDIDATES counts the match ends Hyperscan reported for it (each a callback in the pass all \
            rules share), FILES how many files its Hyperscan gate let PCRE2 run on, BYTES how many bytes PCRE2 was \
            pointed at, TIME the time in PCRE2 and the rule's filters, FINDINGS its matches. Rules are sorted by \
            time; the per-file stages every rule shares (the Hyperscan pass, decoded views, statement layouts) \
            follow. A rule that runs on many files but finds little has a weak gate: see Rules/README.md, \
            "Keeping a rule cheap".
            """
    )

    @Argument(help: "Mirror roots, shard repositories, or many-remote repositories.", completion: .directory)
    var paths: [String]

    @OptionGroup var rules: RuleOptions

    @Option(help: "The branch whose history holds the releases.")
    var branch = "code"

    @Option(help: "Skip blobs larger than this many bytes.")
    var maxBlobSize = ScanOptions().maxBlobSize

    @Option(help: "Show only the costliest N rules (0: all).")
    var top = 0

    @Option(
        parsing: .unconditional,
        help:
            "Threads that read and scan, 1 to \(ScanOptions.maxWorkers); with more, rules' times include waiting for a core."
    )
    var jobs = 1

    @Option(
        help: ArgumentHelp(
            "Also time each rule's pattern alone in Hyperscan over the first this many MB of text (HS TIME), and sort by it.",
            valueName: "MB"))
    var hyperscanSample = 0

    @Flag(help: "One JSON object instead of a table.")
    var json = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one mirror root or shard") }
        if maxBlobSize <= 0 { throw ValidationError("--max-blob-size must be positive") }
        if top < 0 { throw ValidationError("--top must be 0 or more") }
        if hyperscanSample < 0 { throw ValidationError("--hyperscan-sample must be 0 or more") }
        if !(1...ScanOptions.maxWorkers).contains(jobs) {
            throw ValidationError(
                "--jobs must be a number of threads from 1 to \(ScanOptions.maxWorkers) (got \(jobs))")
        }
    }

    func run() throws {
        let ruleSet = try rules.loadRuleSet()
        let sources = ShardLocator.locate(paths, branch: branch)
        if sources.isEmpty {
            printError("error: no shard found under \(paths.joined(separator: ", "))")
            throw ExitCode(2)
        }
        var warnings = 0
        let (profile, counters) = RuleProfiler.run(
            sources, ruleSet: ruleSet, maxBlobSize: maxBlobSize, workers: jobs,
            hyperscanSample: hyperscanSample << 20,
            warning: { message in
                warnings += 1
                printError("warning: \(terminalSafe(message))")
            })
        let timed = hyperscanSample > 0
        let sorted = profile.rules.sorted {
            (timed ? $0.hyperscanNanoseconds ?? 0 : $0.nanoseconds, $1.ruleID)
                > (timed ? $1.hyperscanNanoseconds ?? 0 : $1.nanoseconds, $0.ruleID)
        }
        let shown = top > 0 ? Array(sorted.prefix(top)) : sorted
        if json {
            let report = ProfileReport(
                shards: counters.shards, files: profile.files, bytes: profile.bytes,
                hyperscanSampleBytes: profile.hyperscanSampleBytes,
                seconds: Self.seconds(profile.nanoseconds),
                rules: shown.map {
                    ProfileReport.Rule(
                        id: $0.ruleID, candidates: $0.candidates, files: $0.files, bytes: $0.bytes,
                        seconds: Self.seconds($0.nanoseconds), findings: $0.findings,
                        hyperscanSeconds: $0.hyperscanNanoseconds.map(Self.seconds))
                },
                stages: profile.stages.map {
                    ProfileReport.Stage(
                        stage: $0.stage.rawValue, files: $0.files, bytes: $0.bytes,
                        seconds: Self.seconds($0.nanoseconds))
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            let total = max(1, profile.nanoseconds)
            var headers = ["RULE", "CANDIDATES", "FILES", "BYTES", "TIME", "SHARE", "FINDINGS"]
            if timed { headers.append("HS TIME") }
            var table = TextTable(headers: headers)
            table.shrinkable = [0]
            for cost in shown {
                var row = [
                    terminalSafe(cost.ruleID), String(cost.candidates), String(cost.files), Self.bytes(cost.bytes),
                    Self.time(cost.nanoseconds), Self.share(cost.nanoseconds, of: total), String(cost.findings),
                ]
                if timed { row.append(cost.hyperscanNanoseconds.map(Self.time) ?? "-") }
                table.rows.append(row)
            }
            for stage in profile.stages where stage.files > 0 {
                var row = [
                    "(\(stage.stage.rawValue))", "-", String(stage.files), Self.bytes(stage.bytes),
                    Self.time(stage.nanoseconds), Self.share(stage.nanoseconds, of: total), "-",
                ]
                if timed { row.append("-") }
                table.rows.append(row)
            }
            print(table.render(width: TerminalWidth.of()), terminator: "")
            let ruleTime = profile.rules.reduce(UInt64(0)) { $0 + $1.nanoseconds }
            if timed {
                print(
                    "HS TIME: each rule's pattern alone in Hyperscan over \(Self.bytes(profile.hyperscanSampleBytes)) of text"
                )
            }
            print(
                "\(profile.files) files (\(Self.bytes(profile.bytes))) in \(counters.shards) shards: \(Self.time(profile.nanoseconds)) matching, \(Self.time(ruleTime)) of it in rules' PCRE2"
            )
        }
        if warnings > 0 && profile.files == 0 { throw ExitCode(2) }
    }

    static func seconds(_ nanoseconds: UInt64) -> Double { (Double(nanoseconds) / 1e6).rounded() / 1e3 }

    static func time(_ nanoseconds: UInt64) -> String {
        String(format: "%.3f s", Double(nanoseconds) / 1e9)
    }

    static func share(_ part: UInt64, of total: UInt64) -> String {
        String(format: "%.1f%%", 100 * Double(part) / Double(total))
    }

    static func bytes(_ count: Int) -> String {
        if count >= 1 << 20 { return String(format: "%.1f MB", Double(count) / Double(1 << 20)) }
        if count >= 1 << 10 { return String(format: "%.1f KB", Double(count) / Double(1 << 10)) }
        return "\(count) B"
    }
}

/// `rules profile --json`.
struct ProfileReport: Encodable {
    struct Rule: Encodable {
        var id: String
        var candidates: Int
        var files: Int
        var bytes: Int
        var seconds: Double
        var findings: Int
        /// With --hyperscan-sample: the rule's pattern alone in Hyperscan over the sample.
        var hyperscanSeconds: Double?
    }

    struct Stage: Encodable {
        var stage: String
        var files: Int
        var bytes: Int
        var seconds: Double
    }

    var shards: Int
    /// Text blobs scanned, and their bytes.
    var files: Int
    var bytes: Int
    /// What --hyperscan-sample timed each rule over (0: not asked).
    var hyperscanSampleBytes: Int
    /// Time in the matcher altogether.
    var seconds: Double
    /// Costliest first.
    var rules: [Rule]
    var stages: [Stage]
}
