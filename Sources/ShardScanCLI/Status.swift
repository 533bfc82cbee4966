import ArgumentParser
import ShardScanStore

/// `shardscan status`: shards, their watermarks, and the last runs.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each shard's watermark and the last runs with their counts.")

    @OptionGroup var store: StoreOptions

    @Option(help: "How many runs to show.")
    var runs = 5

    @Option(
        help: ArgumentHelp(
            "Forget this shard: its watermark, its outcomes in past runs, its releases and the places of findings "
                + "in them. Findings and scanned blobs stay; a finding seen only in this shard is listed again, "
                + "with its places, when a scan meets its blob again. Takes the store's lock, like scan.",
            valueName: "shard"))
    var forget: String?

    func validate() throws {
        if let forget, forget.isEmpty { throw ValidationError("--forget needs a shard name") }
    }

    func run() async throws {
        if let forget { return try forgetShard(forget) }
        let store = try store.open()
        let shards = try store.shards()
        print("SHARDS (\(shards.count))")
        for shard in shards {
            let watermark = shard.watermark.map { String($0.prefix(12)) } ?? "(never scanned)"
            var line =
                "  \(padded(terminalSafe(shard.name), 22)) \(padded(watermark, 15)) \(padded(shard.lastStatus ?? "-", 12))"
            line += " \(shard.reference.isEmpty ? "-" : terminalSafe(shard.reference))  \(terminalSafe(shard.path))"
            print(line)
            if shard.lastStatus == "failed" || shard.lastStatus == "missing", let message = shard.lastMessage {
                print("      \(terminalSafe(message))")
            }
        }
        print("RUNS")
        print(
            "  "
                + ["ID", "STARTED", "STATUS", "SHARDS", "COMMITS", "NEW BLOBS", "SEEN", "SKIPPED", "MB", "FINDINGS"].map
            {
                padded($0, 10)
            }.joined(separator: " "))
        for run in try store.runs(limit: runs) {
            let c = run.counters
            let cells = [
                "\(run.id)", String(run.startedAt.prefix(19)), run.status, "\(run.shards)/\(run.shardsFailed) failed",
                "\(c.commits)", "\(c.blobsNew)", "\(c.blobsSeen)", "\(c.blobsBinary + c.blobsTooLarge)",
                megabytes(c.bytesScanned), "\(c.findingsNew)",
            ]
            print("  " + cells.map { padded($0, 10) }.joined(separator: " "))
        }
    }
}

extension Status {
    /// `--forget`: the one change `status` makes, under the store's lock so that no scan is writing the shard.
    func forgetShard(_ name: String) throws {
        // Refuses a missing or foreign store before the lock or anything else is created.
        _ = try store.open()
        let (writable, lock) = try store.openForScan(quiet: true)
        defer { withExtendedLifetime(lock) {} }
        let forgotten: ForgottenShard?
        do {
            forgotten = try writable.forgetShard(name: name)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        guard let forgotten else {
            printError("error: no shard named \(name) in \(store.path) (`shardscan status` lists them)")
            throw ExitCode(2)
        }
        print(
            "forgot shard \(name): its watermark, run outcomes, \(forgotten.releases) release(s) and "
                + "\(forgotten.places) place(s) of findings; findings and scanned blobs stay in the store")
    }
}

func megabytes(_ bytes: Int) -> String {
    let tenths = (bytes * 10 + 524_288) / 1_048_576
    return "\(tenths / 10).\(tenths % 10)"
}
