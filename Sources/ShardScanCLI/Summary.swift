import ArgumentParser
import ShardScanStore

/// `shardscan summary`: what the store holds, counted.
struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count the store's findings by status, rule, kind, shard and project; open against triaged.",
        discussion: """
            A finding is one secret of one rule (one fingerprint); a place is where it appears (a path in a \
            release of a shard). The table lists the top projects; the JSON holds every group.
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(help: "Output format.")
    var format: SummaryFormat = .table

    @Option(help: "How many projects, rules and shards the table lists.")
    var top = 10

    enum SummaryFormat: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    func validate() throws {
        if top <= 0 { throw ValidationError("--top must be positive") }
    }

    func run() throws {
        let summary = try store.open().summary()
        switch format {
        case .json:
            print(try jsonText(summary))
        case .table:
            print(Self.table(summary, top: top, width: TerminalWidth.of()), terminator: "")
        }
    }

    /// The table form, laid out for `width` columns.
    static func table(_ summary: StoreSummary, top: Int, width: Int) -> String {
        var output =
            "\(summary.findings) findings at \(summary.places) places: \(summary.open) open, \(summary.triaged) triaged\n"
        func section(_ title: String, _ counts: [StoreSummary.Count], limit: Int? = nil) {
            guard !counts.isEmpty else { return }
            let shown = limit.map { Array(counts.prefix($0)) } ?? counts
            let more = counts.count > shown.count ? " (top \(shown.count) of \(counts.count))" : ""
            var table = TextTable(headers: [title + more, "FINDINGS", "OPEN", "PLACES"], shrinkable: [0])
            for count in shown {
                table.rows.append([
                    "  " + terminalSafe(count.name), "\(count.findings)", "\(count.open)", "\(count.places)",
                ])
            }
            output += "\n" + table.render(width: width)
        }
        section("STATUS", summary.byStatus)
        section("KIND", summary.byKind)
        section("RULE", summary.byRule, limit: top)
        section("SHARD", summary.byShard, limit: top)
        section("PROJECT", summary.byProject, limit: top)
        return output
    }
}
