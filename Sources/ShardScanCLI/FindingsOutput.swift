import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanStore

/// The formats findings print in.
enum FindingsFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, jsonl
}

/// Renders finding rows (already redacted or not, as the user asked).
enum FindingsOutput {
    /// `width` is the terminal's for the table (``TerminalWidth``); the JSON forms ignore it.
    static func render(_ rows: [FindingRow], as format: FindingsFormat, width: Int = TerminalWidth.of()) throws
        -> String
    {
        switch format {
        case .json:
            return try jsonText(rows) + "\n"
        case .jsonl:
            return try rows.map { try jsonText($0, pretty: false) + "\n" }.joined()
        case .table:
            // Every cell comes from the mirror (paths, names, matched text): escaped, so that a path holding a
            // newline or `ESC[…` stays one row and cannot drive the terminal. Non-UTF-8 path bytes show as `\xHH`.
            var table = TextTable(
                headers: [
                    "PROJECT", "VERSION", "RULE", "SECRET", "FINGERPRINT", "STATUS", "FIRST", "LAST", "LATEST?",
                    "WHERE", "FACTS",
                ],
                shrinkable: [0, 1, 2, 3, 6, 7, 9], shrinkFirst: [10])
            for row in rows {
                table.rows.append([
                    row.project.isEmpty ? "-" : terminalSafe(row.project),
                    row.version.isEmpty ? "-" : terminalSafe(row.version),
                    terminalSafe(row.rule), terminalSafe(row.secret), String(row.fingerprint.prefix(12)),
                    row.status.rawValue, terminalSafe(row.firstVersion ?? "-"), terminalSafe(row.lastVersion ?? "-"),
                    row.stillInLatest.map { $0 ? "yes" : "no" } ?? "-",
                    "\(terminalSafe(row.shard)):\(TerminalText.escaped(bytes: row.shardPathBytes)):\(row.line):\(row.column)",
                    terminalSafe(factsSummary(row.facts)),
                ])
            }
            return table.render(width: width)
        }
    }
}

/// The facts a validator read from a secret, as `key=value` pairs for a table: the ones that tell what
/// the secret can do first (a PyPI token's index and scope), identifiers left to the JSON forms.
func factsSummary(_ facts: [String: String]) -> String {
    let order = ["valid", "index", "scope", "projects", "expires", "checksum", "format", "token_type"]
    return order.compactMap { key in facts[key].map { "\(key)=\($0)" } }.joined(separator: " ")
}
