import ArgumentParser
import Foundation
import ShardScanEngine
import ShardScanStore

extension SyncVerification: ExpressibleByArgument {}

/// `shardscan mirror sync`: clone missing shards, fetch the open ones, verify, report, then optionally scan.
struct MirrorSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Clone missing shards bare, fetch the open ones, verify them, and optionally scan.",
        discussion: """
            The list has one shard URL per line (oldest shard first; # comments and blank lines allowed) and is \
            a local file, a file:// URL or an http(s) URL. Each shard is cloned bare into ROOT/<name> (the URL's \
            last component without .git), through a hidden ROOT/.<name>.partial folder that is renamed into place \
            only when the clone is complete and verified; a partial folder left by a killed sync is removed and \
            the clone redone. Only the open shards (the last --open in the list) are fetched, or with --check-all \
            every shard whose remote branch moved. Every shard is then verified at the --verify level.
            With --scan, `shardscan scan --db DB [SCAN OPTIONS] ROOT` runs afterwards; pass its options after `--`.
            Exit status: 2 if any shard failed (the others are still synced, and scanned with --scan), else the \
            scan's status with --scan (1 new findings), else 0.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @OptionGroup var store: StoreOptions

    @Option(
        help: ArgumentHelp("The shard list: a file, file:// URL or http(s) URL.", valueName: "file-or-url"),
        completion: .file())
    var list: String

    @Option(help: "How many shards at the end of the list are open (still growing) and fetched every time.")
    var open = 2

    @Flag(help: "Ask every shard's remote for its branch tip (a reference listing) and fetch the ones that moved.")
    var checkAll = false

    @Option(help: "Shards synced at once.")
    var jobs = 2

    @Option(help: "quick: refs resolve, the branch tip's commit and tree read; full: every object read and hashed.")
    var verify = SyncVerification.quick

    @Option(help: "The branch whose history holds the releases.")
    var branch = "code"

    @Option(help: "The report on standard output: table or json.")
    var format = Format.table

    @Flag(help: "Run the nightly scan of ROOT after the sync.")
    var scan = false

    @Flag(help: "No progress; the report and errors only (also passed to the scan).")
    var quiet = false

    @Argument(help: "The mirror root: one bare repository per shard is kept directly under it.", completion: .directory)
    var root: String

    @Argument(parsing: .postTerminator, help: "With --scan, options for `shardscan scan`, after `--`.")
    var scanOptions: [String] = []

    func validate() throws {
        if open < 0 { throw ValidationError("--open must be 0 or more") }
        if jobs <= 0 { throw ValidationError("--jobs must be positive") }
        if !scanOptions.isEmpty && !scan { throw ValidationError("options after `--` are for --scan; add --scan") }
        // Checked now, not after an hour of fetching.
        if scan {
            do {
                _ = try Scan.parse(scanArguments)
            } catch {
                throw ValidationError("the options for the scan: \(Scan.message(for: error))")
            }
        }
    }

    /// The command line of the scan that `--scan` runs.
    var scanArguments: [String] {
        ["--db", store.path, "--branch", branch] + (quiet && !scanOptions.contains("--quiet") ? ["--quiet"] : [])
            + (format == .json ? ["--summary-on-stderr"] : [])
            + scanOptions + ["--", root]
    }

    func run() async throws {
        let entries: [ShardListEntry]
        do {
            entries = try ShardList.parse(try await ShardList.read(list), origin: list)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        // Opened first, so that a store that cannot be written fails before any download.
        let openStore = try store.openForWriting(create: true)
        var options = MirrorSyncOptions()
        options.openShards = open
        options.checkAll = checkAll
        options.jobs = jobs
        options.verification = verify
        options.branch = branch
        let progress = MirrorSyncProgress(quiet: quiet)
        let results: [ShardSyncResult]
        do {
            results = try MirrorSync(root: root, entries: entries, options: options).run { progress.handle($0) }
            try openStore.recordMirrorSync(results.map(Self.record))
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        switch format {
        case .table: print(Self.table(results), terminator: "")
        case .json: print(try jsonText(MirrorSyncReport(root: root, list: list, shards: results)))
        }
        let failed = results.filter { $0.status == .failed }
        for result in failed { printError("error: shard \(result.name) failed: \(result.message)") }
        var status: Int32 = failed.isEmpty ? 0 : 2
        if scan {
            let command = try Scan.parse(scanArguments)
            do {
                try command.run()
            } catch let exit as ExitCode {
                status = max(status, exit.rawValue)
            }
        }
        if status != 0 { throw ExitCode(status) }
    }

    static func record(_ result: ShardSyncResult) -> MirrorSyncRecord {
        MirrorSyncRecord(
            name: result.name, url: result.url, path: result.path, status: result.status.rawValue,
            message: result.message, tip: result.tip, bytes: result.bytes, seconds: result.seconds,
            verified: result.verified?.rawValue)
    }

    static func table(_ results: [ShardSyncResult]) -> String {
        let width = max(5, results.map(\.name.count).max() ?? 0)
        var text =
            "\(padded("SHARD", width))  \(padded("STATUS", 10))  \(padded("MB", 8))  \(padded("SECONDS", 8))  TIP\n"
        for result in results {
            let seconds = String(format: "%.1f", result.seconds)
            text +=
                "\(padded(result.name, width))  \(padded(result.status.rawValue, 10))  \(padded(megabytes(result.bytes), 8))"
                + "  \(padded(seconds, 8))  \(result.tip.map { String($0.prefix(12)) } ?? "-")\n"
            if !result.message.isEmpty { text += "    \(result.message)\n" }
        }
        return text
    }
}

/// The JSON report of `mirror sync`.
struct MirrorSyncReport: Encodable {
    var root: String
    var list: String
    var shards: [ShardSyncResult]
}

/// Prints what the sync is doing on standard error: each shard's start and end, and transfer progress at most
/// every two seconds per shard.
final class MirrorSyncProgress: @unchecked Sendable {
    private let quiet: Bool
    // Read and written only with `lock` held: events come from the sync's worker threads.
    private let lock = NSLock()
    private var lastPrinted: [String: Date] = [:]

    init(quiet: Bool) { self.quiet = quiet }

    func handle(_ event: MirrorSyncEvent) {
        guard !quiet else { return }
        switch event {
        case .started(let shard, let action):
            if action != "verify" && action != "check" { printError("\(shard): \(action)…") }
        case .transfer(let shard, let progress):
            lock.lock()
            let now = Date()
            let due = now.timeIntervalSince(lastPrinted[shard] ?? .distantPast) >= 2
            if due { lastPrinted[shard] = now }
            lock.unlock()
            if due {
                printError(
                    "\(shard): \(progress.receivedObjects)/\(progress.totalObjects) objects, \(megabytes(progress.receivedBytes)) MB"
                )
            }
        case .finished(let result):
            guard result.status != .failed else { return }
            printError(
                "\(result.name): \(result.status.rawValue) (\(megabytes(result.bytes)) MB, \(String(format: "%.1f", result.seconds)) s)"
            )
        }
    }
}
