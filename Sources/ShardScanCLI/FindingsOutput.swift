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
    static func render(_ rows: [FindingRow], as format: FindingsFormat) throws -> String {
        switch format {
        case .json:
            return try jsonText(rows) + "\n"
        case .jsonl:
            return try rows.map { try jsonText($0, pretty: false) + "\n" }.joined()
        case .table:
            guard !rows.isEmpty else { return "" }
            var lines = [
                [
                    padded("PROJECT", 22), padded("VERSION", 10), padded("RULE", 28), padded("SECRET", 14),
                    padded("FINGERPRINT", 12), padded("STATUS", 14), padded("FIRST", 10), padded("LAST", 10),
                    padded("LATEST?", 7), "WHERE  FACTS",
                ]
                .joined(separator: " ")
            ]
            // Every cell comes from the mirror (paths, names, matched text): escaped, so that a path holding a
            // newline or `ESC[…` stays one row and cannot drive the terminal. Non-UTF-8 path bytes show as `\xHH`.
            for row in rows {
                let project = row.project.isEmpty ? "-" : terminalSafe(row.project)
                let facts = terminalSafe(factsSummary(row.facts))
                let place =
                    "\(terminalSafe(row.shard)):\(TerminalText.escaped(bytes: row.shardPathBytes)):\(row.line):\(row.column)"
                    + (facts.isEmpty ? "" : "  \(facts)")
                lines.append(
                    [
                        padded(project, 22), padded(row.version.isEmpty ? "-" : terminalSafe(row.version), 10),
                        padded(terminalSafe(row.rule), 28), padded(terminalSafe(row.secret), 14),
                        String(row.fingerprint.prefix(12)), padded(row.status.rawValue, 14),
                        padded(terminalSafe(row.firstVersion ?? "-"), 10),
                        padded(terminalSafe(row.lastVersion ?? "-"), 10),
                        padded(row.stillInLatest.map { $0 ? "yes" : "no" } ?? "-", 7), place,
                    ].joined(separator: " "))
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}

/// The facts a validator read from a secret, as `key=value` pairs for a table: the ones that tell what
/// the secret can do first (a PyPI token's index and scope), identifiers left to the JSON forms.
func factsSummary(_ facts: [String: String]) -> String {
    let order = ["valid", "index", "scope", "projects", "expires", "checksum", "format", "token_type"]
    return order.compactMap { key in facts[key].map { "\(key)=\($0)" } }.joined(separator: " ")
}
