import ArgumentParser
import Dispatch
import Foundation
import ShardScanEngine
import ShardScanReports
import ShardScanStore

/// `shardscan scan`: the nightly job.
struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan every blob new since each shard's watermark and record findings in the store.",
        discussion: """
            Each argument is a mirror root (every git repository directly under it is a shard), a shard \
            repository, or a repository with one remote per shard (refs/remotes/<shard>/<branch>).
            Exit status: 0 no new findings, 1 new findings, 2 error (a shard failed, or the scan could not run).
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var rules: RuleOptions
    @OptionGroup var secrets: SecretOptions

    @Option(help: "The branch whose history holds the releases.")
    var branch = "code"

    @Option(help: "Skip (and count) blobs larger than this many bytes.")
    var maxBlobSize = 50_000_000

    @Option(help: ArgumentHelp("Also write the run's new findings as a JSON report to this file.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Also write the run's new findings as SARIF 2.1.0 to this file.", valueName: "file"))
    var sarif: String?

    // Unconditional, so that `--jobs -3` reaches validate() and is refused for what it is rather than
    // read as an unknown option `-3`.
    @Option(
        parsing: .unconditional,
        help: "Threads that read and scan blobs, 1 to \(ScanOptions.maxWorkers) (default: the number of cores).")
    var jobs = ScanOptions().workers

    @Option(help: .hidden)
    var batchCommits = ScanOptions().batchCommits

    @Flag(help: "No progress or summary; warnings and errors only.")
    var quiet = false

    @Flag(help: "Exit 0 even when there are new findings.")
    var exitZero = false

    @Argument(help: "Mirror roots, shard repositories, or many-remote repositories.")
    var paths: [String]

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one mirror root or shard") }
        if maxBlobSize <= 0 { throw ValidationError("--max-blob-size must be positive") }
        if batchCommits <= 0 { throw ValidationError("--batch-commits must be positive") }
        if !(1...ScanOptions.maxWorkers).contains(jobs) {
            throw ValidationError(
                "--jobs must be a number of threads from 1 to \(ScanOptions.maxWorkers) (got \(jobs))")
        }
    }

    func run() async throws {
        // Before anything else, so that a signal while the store opens or the rules compile (which takes a
        // while without a cache) ends the command with its status and a message.
        let stop = StopRequest()
        let signals = SignalHandling(stop)
        defer { signals.cancel() }
        // First, so that a second scan of the same store is refused before it loads any rules.
        let (openStore, lock) = try store.openForScan(quiet: quiet)
        defer { withExtendedLifetime(lock) {} }
        let ruleSet = try rules.loadRuleSet()
        var options = ScanOptions()
        options.maxBlobSize = maxBlobSize
        options.batchCommits = batchCommits
        options.workers = jobs
        options.stopRequest = stop
        signals.scanStarted()
        let exitCode: Int32
        do {
            exitCode = try runScan(
                sources: ShardLocator.locate(paths, branch: branch), store: openStore, ruleSet: ruleSet,
                options: options, quiet: quiet, reports: [(.json, json), (.sarif, sarif)],
                showSecrets: secrets.showSecrets)
        } catch {
            // The store failed under the scan (disk full, read-only): exit 2, never 1 ("new findings").
            printError("error: \(error)")
            throw ExitCode(2)
        }
        if exitCode == 1 && exitZero { return }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

/// Runs a scan and prints its summary; returns the exit status (0 clean, 1 new findings, 2 errors).
func runScan(
    sources: [ShardSource], store: Store, ruleSet: RuleSet, options: ScanOptions, quiet: Bool,
    reports: [(ReportFormat, String?)] = [], showSecrets: Bool = false
) throws -> Int32 {
    let progress = ScanProgress(quiet: quiet)
    let summary = try MirrorScan(store: store, ruleSet: ruleSet, options: options).run(sources) {
        progress.handle($0)
    }
    if !quiet {
        printError(ScanProgress.summary(summary, byRule: try store.findingCountsByRule(runID: summary.runID)))
    }
    // Rendered from the store, through the same code as `shardscan report --run`.
    for case (let format, let path?) in reports {
        let input = try ReportInput(store: store, selection: .run(summary.runID))
        try ReportWriter.write(input, format: format, to: path, showSecrets: showSecrets)
    }
    if let aborted = summary.aborted {
        printError("error: \(aborted)")
        return 2
    }
    if let stopped = summary.stopped {
        printError(
            "error: scan stopped (\(stopped)); every finished commit is stored, and the next scan resumes from there"
        )
        return options.stopRequest?.exitStatus ?? 2
    }
    if !summary.failedShards.isEmpty { return 2 }
    return summary.counters.findingsNew > 0 ? 1 : 0
}
