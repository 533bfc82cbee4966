import ArgumentParser
import ShardScanStore

/// `shardscan status`: shards, their watermarks, and the last runs.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each shard's watermark and the last runs with their counts.")

    @OptionGroup var store: StoreOptions

    @Option(help: "How many runs to show.")
    var runs = 5

    func run() async throws {
        let store = try store.open()
        let shards = try store.shards()
        print("SHARDS (\(shards.count))")
        for shard in shards {
            let watermark = shard.watermark.map { String($0.prefix(12)) } ?? "(never scanned)"
            var line =
                "  \(padded(terminalSafe(shard.name), 22)) \(padded(watermark, 15)) \(padded(shard.lastStatus ?? "-", 12))"
            line += " \(shard.reference.isEmpty ? "-" : terminalSafe(shard.reference))  \(terminalSafe(shard.path))"
            print(line)
            if shard.lastStatus == "failed", let message = shard.lastMessage { print("      \(terminalSafe(message))") }
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

func megabytes(_ bytes: Int) -> String {
    let tenths = (bytes * 10 + 524_288) / 1_048_576
    return "\(tenths / 10).\(tenths % 10)"
}
