import Foundation
import ShardScanCore
import ShardScanStore

/// The JSON report (`Reports/shardscan-report.schema.json`): run metadata and the rows of
/// `findings --format json`; and JSON Lines, one row per line.
public enum JSONReport {
    /// Bumped when the shape of the report changes incompatibly.
    public static let schemaVersion = 1

    struct Document: Encodable {
        var schemaVersion: Int
        var tool: Tool
        var generatedAt: String
        var selection: Selection
        var runs: [Run]
        var findings: [FindingRow]
    }

    struct Tool: Encodable {
        var name: String
        var version: String
    }

    struct Selection: Encodable {
        var kind: String
        var value: String?
    }

    struct Run: Encodable {
        var id: Int64
        var startedAt: String
        var finishedAt: String?
        var status: String
        var rulesDigest: String
        var ruleCount: Int
        var shards: Int
        var shardsFailed: Int
        var counts: RunCounters
        var durationSeconds: Double?
    }

    /// The whole report as one JSON document; secrets redacted unless `showSecrets`.
    public static func render(_ input: ReportInput, toolVersion: String, showSecrets: Bool = false) throws -> Data {
        let document = Document(
            schemaVersion: schemaVersion, tool: Tool(name: "shardscan", version: toolVersion),
            generatedAt: ISO8601DateFormatter().string(from: Date()),
            selection: Selection(kind: input.selection.kind, value: input.selection.value),
            runs: input.runs.map { run in
                Run(
                    id: run.id, startedAt: run.startedAt, finishedAt: run.finishedAt, status: run.status,
                    rulesDigest: run.rulesDigest, ruleCount: run.ruleCount, shards: run.shards,
                    shardsFailed: run.shardsFailed, counts: run.counters, durationSeconds: duration(run))
            },
            findings: input.rows.map { $0.presented(showSecrets: showSecrets) })
        var data = try encoder(pretty: true).encode(document)
        data.append(0x0A)
        return data
    }

    /// One finding row per line; secrets redacted unless `showSecrets`.
    public static func renderLines(_ input: ReportInput, showSecrets: Bool = false) throws -> Data {
        let encoder = encoder(pretty: false)
        var data = Data()
        for row in input.rows {
            data.append(try encoder.encode(row.presented(showSecrets: showSecrets)))
            data.append(0x0A)
        }
        return data
    }

    static func encoder(pretty: Bool) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting =
            pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func duration(_ run: RunRecord) -> Double? {
        let formatter = ISO8601DateFormatter()
        guard let finished = run.finishedAt.flatMap(formatter.date(from:)),
            let started = formatter.date(from: run.startedAt)
        else { return nil }
        return finished.timeIntervalSince(started)
    }
}
