import Foundation
import ShardScanEngine
import ShardScanStore

#if canImport(Glibc)
    import Glibc
#endif

/// Shows a scan's progress on standard error: one updating line on a terminal, plain log lines otherwise.
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
        case .shardStarted(let name, let commits):
            shardStart = Date()
            if !quiet && !isTerminal { printError("\(terminalSafe(name)): \(commits) new commits") }
        case .progress(let name, let done, let total, let counters):
            guard !quiet else { return }
            let seconds = max(Date().timeIntervalSince(shardStart), 0.001)
            let rate = Double(counters.bytesScanned) / 1_048_576 / seconds
            let text =
                "\(terminalSafe(name)): \(done)/\(total) commits, \(counters.blobsNew) new blobs, \(counters.blobsSeen) seen, "
                + "\(megabytes(counters.bytesScanned)) MB at \(String(format: "%.1f", rate)) MB/s, \(counters.findingsNew) findings"
            if isTerminal {
                guard Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
                lastDraw = Date()
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
                lineShown = true
            } else if done == total {
                printError(text)
            }
        case .shardFinished(let result):
            clearLine()
            if result.status == .failed {
                printError("error: shard \(terminalSafe(result.name)) failed: \(terminalSafe(result.message))")
            } else if !quiet && !isTerminal {
                printError("\(terminalSafe(result.name)): \(result.status.rawValue)")
            }
        }
    }

    private func clearLine() {
        if lineShown {
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            lineShown = false
        }
    }

    /// The table printed after a scan.
    static func summary(_ summary: MirrorScan.Summary, byRule: [(rule: String, count: Int)]) -> String {
        var lines: [String] = []
        let header = ["SHARD", "STATUS", "COMMITS", "NEW BLOBS", "SEEN", "SKIPPED", "MB", "FINDINGS"]
        let widths = [22, 11, 8, 10, 8, 8, 9, 8]
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { padded($0, $1) }.joined(separator: " ")
        }
        lines.append(row(header))
        func cells(_ name: String, _ status: String, _ c: RunCounters) -> [String] {
            [
                name, status, "\(c.commits)", "\(c.blobsNew)", "\(c.blobsSeen)", "\(c.blobsBinary + c.blobsTooLarge)",
                megabytes(c.bytesScanned), "\(c.findingsNew)",
            ]
        }
        for shard in summary.shards {
            lines.append(row(cells(terminalSafe(shard.name), shard.status.rawValue, shard.counters)))
        }
        lines.append(row(cells("total (run \(summary.runID))", "", summary.counters)))
        if !byRule.isEmpty {
            lines.append("")
            lines.append("NEW FINDINGS BY RULE")
            for (rule, count) in byRule { lines.append("  \(padded(terminalSafe(rule), 40)) \(count)") }
        }
        if summary.counters.ruleFailures > 0 {
            lines.append("\(summary.counters.ruleFailures) rule failures (a PCRE2 limit was hit; see warnings above)")
        }
        return lines.joined(separator: "\n")
    }
}
