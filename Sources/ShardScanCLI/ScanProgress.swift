import Foundation
import ShardScanCore
import ShardScanEngine
import ShardScanStore

#if canImport(Glibc)
    import Glibc
#endif

/// Shows a scan's progress on standard error: one line redrawn in place on a terminal (cut to its width, so that
/// it never wraps and leaves a fragment behind), and one plain line per shard otherwise (a log file gets no `\r`).
final class ScanProgress: @unchecked Sendable {
    private let quiet: Bool
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var shardStart = Date()
    private var lineShown = false
    private var lastDraw = Date.distantPast
    private let lock = NSLock()

    init(quiet: Bool) {
        self.quiet = quiet
    }

    func handle(_ event: ScanEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .warning(let message):
            clearLine()
            printError("warning: \(terminalSafe(message))")
        case .shardStarted, .backfillStarted:
            shardStart = Date()
        case .backfillProgress(let name, let done, let total, let counters):
            draw(name: "backfill " + name, done: done, total: total, counters: counters)
        case .backfillFinished(let name, let message):
            clearLine()
            if !quiet && !isTerminal { printError("backfill \(terminalSafe(name)): \(terminalSafe(message))") }
        case .progress(let name, let done, let total, let counters):
            draw(name: name, done: done, total: total, counters: counters)
        case .shardFinished(let result):
            clearLine()
            if result.status == .failed {
                printError("error: shard \(terminalSafe(result.name)) failed: \(terminalSafe(result.message))")
            } else if !quiet && !isTerminal {
                printError(
                    Self.line(
                        name: result.name, commits: "\(result.counters.commits)", counters: result.counters,
                        seconds: Date().timeIntervalSince(shardStart))
                        + ", \(result.status.rawValue)")
            }
        }
    }

    /// Redraws the progress line (on a terminal only).
    private func draw(name: String, done: Int, total: Int, counters: RunCounters) {
        guard !quiet && isTerminal else { return }
        guard Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = Date()
        let text = Self.line(
            name: name, commits: "\(done)/\(total)", counters: counters,
            seconds: Date().timeIntervalSince(shardStart))
        // One column short of the width: a line that fills the last column makes some terminals wrap.
        let width = max(TerminalWidth.of(STDERR_FILENO) - 1, 20)
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + shortened(text, to: width)).utf8))
        lineShown = true
    }

    /// What a shard has done so far: `name: N new blobs, …`.
    static func line(name: String, commits: String, counters: RunCounters, seconds: TimeInterval) -> String {
        let rate = Double(counters.bytesScanned) / 1_048_576 / max(seconds, 0.001)
        return "\(terminalSafe(name)): \(commits) commits, \(counters.blobsNew) new blobs, \(counters.blobsSeen) seen, "
            + "\(megabytes(counters.bytesScanned)) MB at \(String(format: "%.1f", rate)) MB/s, \(counters.findingsNew) findings"
    }

    private func clearLine() {
        if lineShown {
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            lineShown = false
        }
    }

    /// The table printed after a scan, laid out for `width` columns.
    static func summary(_ summary: MirrorScan.Summary, byRule: [(rule: String, count: Int)], width: Int) -> String {
        var table = TextTable(
            headers: ["SHARD", "STATUS", "COMMITS", "NEW BLOBS", "SEEN", "SKIPPED", "MB", "FINDINGS"], shrinkable: [0])
        func cells(_ name: String, _ status: String, _ c: RunCounters) -> [String] {
            [
                name, status, "\(c.commits)", "\(c.blobsNew)", "\(c.blobsSeen)", "\(c.blobsBinary + c.blobsTooLarge)",
                megabytes(c.bytesScanned), "\(c.findingsNew)",
            ]
        }
        for shard in summary.shards {
            table.rows.append(cells(terminalSafe(shard.name), shard.status.rawValue, shard.counters))
        }
        table.rows.append(cells("total (run \(summary.runID))", "", summary.counters))
        var output = table.render(width: width)
        if !byRule.isEmpty {
            var rules = TextTable(headers: ["NEW FINDINGS BY RULE", "COUNT"], shrinkable: [0])
            rules.rows = byRule.map { ["  " + terminalSafe($0.rule), "\($0.count)"] }
            output += "\n" + rules.render(width: width)
        }
        if let backfill = summary.backfill, backfill.needed {
            output += backfillLine(backfill)
        }
        if summary.counters.ruleFailures > 0 {
            output +=
                "\(summary.counters.ruleFailures) rule failures (a PCRE2 limit was hit; see the warnings on stderr)\n"
        }
        return output
    }

    /// What the backfill did, and what it left for the next run.
    static func backfillLine(_ backfill: BackfillSummary) -> String {
        let c = backfill.counters
        var line =
            "backfill: \(c.blobsNew) blobs re-read (\(megabytes(c.bytesScanned)) MB) for rules they had not seen, "
            + "\(c.secretsNew) new secrets; \(backfill.shardsDone.count) shard(s) done"
        if !backfill.shardsLeft.isEmpty {
            line += "; \(backfill.shardsLeft.count) shard(s) left"
            if let stopped = backfill.stopped { line += " (\(terminalSafe(stopped)))" }
            line += ": the next scan continues the backfill"
        }
        for failed in backfill.shardsFailed {
            line += "\nbackfill of \(terminalSafe(failed.name)) failed: \(terminalSafe(failed.message))"
        }
        return line + "\n"
    }
}
