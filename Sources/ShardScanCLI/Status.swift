import ArgumentParser
import ShardScanStore

/// `shardscan status`: shards, their watermarks, and the last runs.
struct Status: ParsableCommand {
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
            valueName: "shard"), completion: Completions.shards)
    var forget: String?

    func validate() throws {
        if let forget, forget.isEmpty { throw ValidationError("--forget needs a shard name") }
    }

    func run() throws {
        if let forget { return try forgetShard(forget) }
        let store = try store.open()
        print(
            try Self.render(shards: store.shards(), runs: store.runs(limit: runs), width: TerminalWidth.of()),
            terminator: "")
    }

    /// The two tables `status` prints, laid out for `width` columns.
    static func render(shards: [ShardRecord], runs: [RunRecord], width: Int) -> String {
        var output = "SHARDS (\(shards.count))\n"
        var shardTable = TextTable(
            headers: ["NAME", "WATERMARK", "STATUS", "REFERENCE", "PATH"], shrinkable: [0, 3, 4], indent: "  ")
        var messages: [Int: String] = [:]
        for (index, shard) in shards.enumerated() {
            shardTable.rows.append([
                terminalSafe(shard.name), shard.watermark.map { String($0.hex.prefix(12)) } ?? "(never scanned)",
                shard.lastStatus ?? "-", shard.reference.isEmpty ? "-" : terminalSafe(shard.reference),
                terminalSafe(shard.path),
            ])
            if shard.lastStatus == "failed" || shard.lastStatus == "missing", let message = shard.lastMessage {
                messages[index] = terminalSafe(message)
            }
        }
        output += shardTable.render(width: width)
        // A failure's message is prose: wrapped under the table rather than squeezed into a column.
        for (index, message) in messages.sorted(by: { $0.key < $1.key }) {
            output += "  \(shardTable.rows[index][0]):\n"
            output += wrapped(message, width: width, indent: "      ").joined(separator: "\n") + "\n"
        }
        output += "RUNS\n"
        var runTable = TextTable(
            headers: [
                "ID", "STARTED", "STATUS", "SHARDS", "FAILED", "COMMITS", "NEW BLOBS", "SEEN", "SKIPPED", "MB",
                "FINDINGS",
            ], indent: "  ")
        for run in runs {
            let c = run.counters
            runTable.rows.append([
                "\(run.id)", String(run.startedAt.prefix(16)).replacingOccurrences(of: "T", with: " "), run.status,
                "\(run.shards)", "\(run.shardsFailed)", "\(c.commits)", "\(c.blobsNew)", "\(c.blobsSeen)",
                "\(c.blobsBinary + c.blobsTooLarge)", megabytes(c.bytesScanned), "\(c.findingsNew)",
            ])
        }
        return output + runTable.render(width: width)
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
