import ArgumentParser
import Dispatch
import Foundation
import ShardScanCore
import ShardScanEngine
import ShardScanReports
import ShardScanStore

/// `shardscan scan`: the nightly job.
struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan every blob new since each shard's watermark and record findings in the store.",
        discussion: """
            Each argument is a mirror root (every git repository directly under it is a shard), a shard \
            repository, or a repository with one remote per shard (refs/remotes/<shard>/<branch>).
            --json and --jsonl deliver every place recorded since the last delivery of that format from this \
            store (so what a killed or stopped scan recorded arrives with the next one).
            Exit status: 0 nothing new (as --fail-on counts it), 1 something new, 2 error (a shard failed, or \
            the scan could not run), 128+N stopped by signal N. --fail-on new-secrets (the default) counts \
            fingerprints no finished scan of this store had recorded and nobody has triaged; new-places counts \
            places of untriaged fingerprints; never always exits 0 when the scan succeeds.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var rules: RuleOptions
    @OptionGroup var secrets: SecretOptions

    @Option(help: "The branch whose history holds the releases.")
    var branch = "code"

    @Option(help: "Skip (and count) blobs larger than this many bytes.")
    var maxBlobSize = 50_000_000

    @Option(
        help: ArgumentHelp(
            "Also deliver, as a JSON report to this file, every place recorded since the last JSON delivery.",
            valueName: "file"), completion: .file())
    var json: String?

    @Option(
        help: ArgumentHelp(
            "Also deliver, as JSON Lines to this file, every place recorded since the last JSON Lines delivery.",
            valueName: "file"), completion: .file())
    var jsonl: String?

    @Option(
        help: ArgumentHelp(
            "Also write the state of every shard with findings as SARIF 2.1.0 (as report --open): open findings as results, triaged ones suppressed.",
            valueName: "file"), completion: .file())
    var sarif: String?

    @Option(
        help: ArgumentHelp(
            "Also write one SARIF file per shard whose state changed since its last delivery, for one upload each.",
            valueName: "folder"), completion: .directory)
    var sarifDir: String?

    // Unconditional, so that `--jobs -3` reaches validate() and is refused for what it is rather than
    // read as an unknown option `-3`.
    @Option(
        parsing: .unconditional,
        help: "Threads that read and scan blobs, 1 to \(ScanOptions.maxWorkers) (default: the number of cores).")
    var jobs = ScanOptions().workers

    @Option(help: .hidden)
    var batchCommits = ScanOptions().batchCommits

    @Option(
        help: ArgumentHelp(
            "Stop the backfill (old blobs re-read for new or changed rules) after this long (30m, 2h) or this many bytes read (20GB); the next scan continues it.",
            valueName: "duration|size"))
    var backfillBudget: String?

    @Flag(help: "Do not backfill: new or changed rules reach only blobs new to the store.")
    var noBackfill = false

    /// Read every blob through libgit2, as before shardscan read packs itself: for comparisons and profiles.
    @Flag(help: .hidden)
    var libgit2Reads = false

    /// New blobs sorted into pack order at a time (`ScanOptions.windowBlobs`).
    @Option(help: .hidden)
    var readWindow = ScanOptions().windowBlobs

    @Flag(help: "Nothing on standard error but warnings and errors; the summary still goes to standard output.")
    var quiet = false

    /// For `mirror sync --format json --scan`, whose standard output is one JSON document.
    @Flag(help: .hidden)
    var summaryOnStderr = false

    @Option(help: "What makes the scan exit 1: new-secrets, new-places or never.")
    var failOn: FailOn = .newSecrets

    @Option(help: "Only findings at least this sure count for --fail-on (high, medium, low).")
    var minConfidence: Confidence = .low

    @Flag(help: "Exit 0 even when there is something new (the same as --fail-on never).")
    var exitZero = false

    @Option(
        help: ArgumentHelp(
            "Scan only share I of N of the shards found (1-based; balanced by packed size, the same on every worker); auto/N takes I from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1 (Slurm).",
            valueName: "I/N"))
    var worker: String?

    @Option(
        help: ArgumentHelp(
            "When the --db store does not exist yet, start it as a copy of this (merged) store, so that blobs scanned anywhere are not read again.",
            valueName: "MAIN.sqlite"), completion: .file())
    var seed: String?

    @Argument(help: "Mirror roots, shard repositories, or many-remote repositories.", completion: .directory)
    var paths: [String]

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one mirror root or shard") }
        if maxBlobSize <= 0 { throw ValidationError("--max-blob-size must be positive") }
        if batchCommits <= 0 { throw ValidationError("--batch-commits must be positive") }
        if let worker {
            do {
                _ = try WorkerSpec.parse(worker, environment: ProcessInfo.processInfo.environment)
            } catch {
                throw ValidationError(error.description)
            }
        }
        if let seed, seed.isEmpty { throw ValidationError("--seed needs the path of a store") }
        if readWindow <= 0 { throw ValidationError("--read-window must be positive") }
        if let backfillBudget, BackfillBudget.parse(backfillBudget) == nil {
            throw ValidationError(
                "--backfill-budget takes a duration (45s, 30m, 2h, 1h30m) or a size (512MB, 20GB), not '\(backfillBudget)'"
            )
        }
        if backfillBudget != nil && noBackfill {
            throw ValidationError("--backfill-budget and --no-backfill do not go together")
        }
        if !(1...ScanOptions.maxWorkers).contains(jobs) {
            throw ValidationError(
                "--jobs must be a number of threads from 1 to \(ScanOptions.maxWorkers) (got \(jobs))")
        }
    }

    func run() throws {
        // Before anything else, so that a signal while the store opens or the rules compile (which takes a
        // while without a cache) ends the command with its status and a message.
        let stop = StopRequest()
        let signals = SignalHandling(stop)
        defer { signals.cancel() }
        if let seed { try seedStore(from: seed) }
        // First, so that a second scan of the same store is refused before it loads any rules.
        let (openStore, lock) = try store.openForScan(quiet: quiet)
        defer { withExtendedLifetime(lock) {} }
        let ruleSet = try rules.loadRuleSet()
        var options = ScanOptions()
        options.maxBlobSize = maxBlobSize
        options.batchCommits = batchCommits
        options.workers = jobs
        if libgit2Reads { options.blobAccess = LibGit2BlobAccess() }
        options.windowBlobs = readWindow
        options.stopRequest = stop
        options.backfill = !noBackfill
        if let backfillBudget, let budget = BackfillBudget.parse(backfillBudget) { options.backfillBudget = budget }
        let found = try sources(&options)
        signals.scanStarted()
        let exitCode: Int32
        do {
            exitCode = try runScan(
                sources: found, store: openStore, ruleSet: ruleSet,
                options: options, quiet: quiet, reports: [(.json, json), (.jsonl, jsonl), (.sarif, sarif)],
                sarifDir: sarifDir, summaryOnStderr: summaryOnStderr,
                showSecrets: secrets.showSecrets, failOn: exitZero ? .never : failOn, minConfidence: minConfidence)
        } catch {
            // The store failed under the scan (disk full, read-only): exit 2, never 1 ("new findings").
            printError("error: \(terminalSafe("\(error)"))")
            throw ExitCode(2)
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

    /// The shards found under `paths`, only this worker's share of them with `--worker`; the other shares'
    /// shards go into `options`, so that a store seeded from a merged one does not call them missing.
    func sources(_ options: inout ScanOptions) throws -> [ShardSource] {
        let found = ShardLocator.locate(paths, branch: branch)
        guard let worker else { return found }
        let spec = try WorkerSpec.parse(worker, environment: ProcessInfo.processInfo.environment)
        let share = WorkerShare.select(found, worker: spec)
        options.shardsElsewhere = share.elsewhere
        if !quiet {
            printError(
                "worker \(spec.index)/\(spec.count): \(Set(share.mine.map(\.name)).count) of "
                    + "\(Set(found.map(\.name)).count) shards")
        }
        return share.mine
    }

    /// Starts the `--db` store from `seed` when it does not exist yet; an existing store is scanned as it is.
    func seedStore(from seed: String) throws {
        let existing = (try? FileManager.default.attributesOfItem(atPath: store.path))?[.size] as? NSNumber
        if let existing, existing.intValue > 0 {
            if !quiet { printError("note: \(terminalSafe(store.path)) exists; --seed \(terminalSafe(seed)) not used") }
            return
        }
        do {
            try Store.seed(store.path, from: seed)
        } catch {
            printError("error: --seed: \(terminalSafe("\(error)"))")
            throw ExitCode(2)
        }
    }
}

/// Runs a scan and prints its summary; returns the exit status (0 nothing new as `failOn` counts it,
/// 1 something new, 2 errors).
func runScan(
    sources: [ShardSource], store: Store, ruleSet: RuleSet, options: ScanOptions, quiet: Bool,
    reports: [(ReportFormat, String?)] = [], sarifDir: String? = nil, summaryOnStderr: Bool = false,
    showSecrets: Bool = false,
    failOn: FailOn = .newSecrets,
    minConfidence: Confidence = .low
) throws -> Int32 {
    let progress = ScanProgress(quiet: quiet)
    let summary = try MirrorScan(sink: store, ruleSet: ruleSet, options: options).run(sources) {
        progress.handle($0)
    }
    // Before any report or exit status: fixtures and documentation examples are test data, not news.
    let testData = try store.classifyTestData(runID: summary.runID)
    // The summary is the scan's result, so it goes to standard output (`scan > summary.txt`), even with --quiet.
    let say: (String) -> Void = summaryOnStderr ? { printError($0) } : { print($0) }
    say(
        ScanProgress.summary(
            summary, byRule: try store.findingCountsByRule(runID: summary.runID),
            width: TerminalWidth.of(summaryOnStderr ? STDERR_FILENO : STDOUT_FILENO)
        ).dropLastNewline())
    if testData.marked + testData.reopened > 0 && !quiet {
        printError(
            "test data (automatic): \(testData.marked) marked, \(testData.reopened) reopened; see `shardscan findings --status test-data`"
        )
    }
    // Rendered from the store, through the same code as `shardscan report --new` and `report --open`.
    for case (let format, let path?) in reports {
        if format == .sarif {
            try SARIFDelivery.writeState(store: store, to: path, showSecrets: showSecrets)
        } else {
            try Delivery.deliver(store: store, format: format, to: path, showSecrets: showSecrets)
        }
    }
    if let sarifDir {
        let written = try SARIFDelivery.writeChanged(store: store, to: sarifDir, showSecrets: showSecrets)
        if !quiet { printError("SARIF: \(written.count) shard file(s) changed, in \(terminalSafe(sarifDir))") }
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
    let counts = try store.newFindingCounts(runID: summary.runID, minConfidence: minConfidence)
    if counts.secrets > 0 || counts.places > 0 {
        say("new and untriaged: \(counts.secrets) secrets, \(counts.places) places")
    }
    return failOn.fails(counts) ? 1 : 0
}
