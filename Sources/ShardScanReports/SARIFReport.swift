import Foundation
import ShardScanCore
import ShardScanStore

/// SARIF 2.1.0 as GitHub code scanning takes it: one run per shard (its category), at most
/// ``maxRunsPerFile`` runs and ``maxResultsPerRun`` results per run, files split to stay under the upload size.
public enum SARIFReport {
    /// GitHub rejects files with more runs.
    public static let maxRunsPerFile = 20
    /// GitHub rejects runs with more results (and shows the 5,000 most severe).
    public static let maxResultsPerRun = 25_000
    /// GitHub takes at most 10 MB of gzip-compressed SARIF; SARIF with hex ids and fingerprints
    /// compresses about 5:1, so files are kept under this many uncompressed bytes.
    public static let defaultMaxFileBytes = 40 << 20

    /// One SARIF file of a report, and what had to be cut or split to make it acceptable.
    public struct File: Sendable {
        public var data: Data
        public var notes: [String]
    }

    /// Renders `input` as one or more SARIF files. Secrets are redacted in snippets unless `showSecrets`;
    /// messages never hold them.
    public static func render(
        _ input: ReportInput, toolVersion: String, showSecrets: Bool = false, maxFileBytes: Int = defaultMaxFileBytes
    ) throws -> [File] {
        var rowsByShard: [String: [FindingRow]] = [:]
        for row in input.rows { rowsByShard[row.shard, default: []].append(row) }
        let shards = input.shards.isEmpty && input.rows.isEmpty ? [""] : input.shards
        var encodedRuns: [(data: Data, notes: [String])] = []
        for shard in shards {
            var rows = (rowsByShard[shard] ?? []).sorted { lhs, rhs in
                let left = input.rules[lhs.rule]?.severity.rank ?? 0
                let right = input.rules[rhs.rule]?.severity.rank ?? 0
                if left != right { return left > right }
                return (lhs.project, lhs.version, lhs.shardPath, lhs.line, lhs.rule)
                    < (rhs.project, rhs.version, rhs.shardPath, rhs.line, rhs.rule)
            }
            var notes: [String] = []
            if rows.count > maxResultsPerRun {
                notes.append(
                    "\(shard): \(rows.count) results, more than GitHub's \(maxResultsPerRun) per run; kept the \(maxResultsPerRun) most severe"
                )
                rows = Array(rows.prefix(maxResultsPerRun))
            }
            var data = try encode(
                run(
                    shard: shard, rows: rows, input: input, toolVersion: toolVersion, showSecrets: showSecrets,
                    notes: notes))
            while data.count > maxFileBytes && !rows.isEmpty {
                // One run (one category) cannot be split across files: a later upload of the same category
                // would replace the earlier one. Cut the least severe results instead, and say so.
                let keep = max(0, rows.count * maxFileBytes / data.count * 9 / 10)
                notes.append(
                    "\(shard): \(rows.count) results make \(data.count) bytes, over the \(maxFileBytes)-byte file limit; kept the \(keep) most severe"
                )
                rows = Array(rows.prefix(keep))
                data = try encode(
                    run(
                        shard: shard, rows: rows, input: input, toolVersion: toolVersion, showSecrets: showSecrets,
                        notes: notes))
            }
            encodedRuns.append((data, notes))
        }

        var files: [File] = []
        var current: [(data: Data, notes: [String])] = []
        var size = 0
        func close() {
            guard !current.isEmpty else { return }
            var data = Data(#"{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":["#.utf8)
            data.append(contentsOf: current.map(\.data).joined(separator: Data(",".utf8)))
            data.append(contentsOf: Data(#"],"version":"2.1.0"}"#.utf8))
            data.append(0x0A)
            files.append(File(data: data, notes: current.flatMap(\.notes)))
            current = []
            size = 0
        }
        for run in encodedRuns {
            if current.count == maxRunsPerFile || (size + run.data.count > maxFileBytes && !current.isEmpty) { close() }
            current.append(run)
            size += run.data.count
        }
        close()
        if files.count > 1 {
            let note =
                "split into \(files.count) files: at most \(maxRunsPerFile) runs and \(maxFileBytes) bytes per file"
            for index in files.indices { files[index].notes.append(note) }
        }
        return files
    }

    static func encode(_ run: SARIF.Run) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(run)
    }

    static func run(
        shard: String, rows: [FindingRow], input: ReportInput, toolVersion: String, showSecrets: Bool, notes: [String]
    ) -> SARIF.Run {
        let ruleIDs = Array(Set(rows.map(\.rule))).sorted()
        let ruleIndex = Dictionary(uniqueKeysWithValues: ruleIDs.enumerated().map { ($1, $0) })
        let descriptors = ruleIDs.map { descriptor(input.rules[$0] ?? .unknown($0)) }
        let results = rows.map { row in
            let rule = input.rules[row.rule] ?? .unknown(row.rule)
            let shown = row.presented(showSecrets: showSecrets)
            let release =
                row.project.isEmpty
                ? "outside any release"
                : "\(row.project) \(row.version.isEmpty ? "(unknown version)" : row.version) (\(row.release))"
            return SARIF.Result(
                ruleId: row.rule, ruleIndex: ruleIndex[row.rule]!, level: level(rule.severity),
                message: SARIF.Message(
                    text: "\(rule.name) in \(release), \(row.path.isEmpty ? row.shardPath : row.path) line \(row.line)"),
                locations: [
                    SARIF.Location(
                        physicalLocation: SARIF.PhysicalLocation(
                            artifactLocation: SARIF.ArtifactLocation(
                                uri: uri(shard: row.shard, path: row.shardPathBytes)),
                            region: SARIF.Region(
                                startLine: max(1, row.line), startColumn: max(1, row.column),
                                endLine: max(1, row.endLine),
                                endColumn: max(1, row.endColumn), snippet: SARIF.Message(text: shown.snippet))))
                ],
                partialFingerprints: ["primaryLocationLineHash": lineHash(row)],
                properties: SARIF.ResultProperties(
                    shard: row.shard, project: row.project, version: row.version, release: row.release, path: row.path,
                    blob: row.blob, commit: row.commit, fingerprint: row.fingerprint,
                    confidence: row.confidence.rawValue, facts: row.facts.isEmpty ? nil : row.facts))
        }
        let category = shard.isEmpty ? "shardscan/" : "shardscan/\(shard)/"
        var properties = ["selection": input.selection.description]
        if let digest = input.runs.last?.rulesDigest { properties["rulesDigest"] = digest }
        return SARIF.Run(
            tool: SARIF.Tool(
                driver: SARIF.Driver(version: toolVersion, semanticVersion: toolVersion, rules: descriptors)),
            automationDetails: SARIF.AutomationDetails(id: category),
            invocations: [
                SARIF.Invocation(
                    executionSuccessful: true,
                    toolExecutionNotifications: notes.map {
                        SARIF.Notification(level: "warning", message: SARIF.Message(text: $0))
                    })
            ],
            results: results, properties: properties)
    }

    static func descriptor(_ rule: RuleRecord) -> SARIF.ReportingDescriptor {
        let description =
            rule.description.isEmpty ? rule.name : rule.description.trimmingCharacters(in: .whitespacesAndNewlines)
        let rotate =
            "Treat it as compromised: PyPI releases are public and mirrored, so revoke or rotate it with its provider now. "
            + "Then remove it from the project's source and yank or delete the releases that hold it."
        var markdown = "**\(rule.name)** (`\(rule.id)`)\n\n\(description)\n\n**What to do:** \(rotate)\n"
        if !rule.references.isEmpty {
            markdown += "\n**References:**\n" + rule.references.map { "- <\($0)>" }.joined(separator: "\n") + "\n"
        }
        var tags = ["security"] + rule.categories.filter { $0 != "security" }
        tags = Array(tags.prefix(10))
        return SARIF.ReportingDescriptor(
            id: rule.id, name: rule.name, shortDescription: SARIF.Message(text: rule.name),
            fullDescription: SARIF.Message(text: description),
            help: SARIF.Help(text: "\(rule.name): \(description)\n\nWhat to do: \(rotate)", markdown: markdown),
            helpUri: rule.references.first, defaultConfiguration: SARIF.Configuration(level: level(rule.severity)),
            properties: SARIF.RuleProperties(
                tags: tags, precision: precision(rule.confidence), securitySeverity: securitySeverity(rule.severity)))
    }

    static func level(_ severity: Severity) -> String {
        switch severity {
        case .critical, .high: "error"
        case .medium: "warning"
        case .low, .info: "note"
        }
    }

    static func precision(_ confidence: Confidence) -> String {
        switch confidence {
        case .high: "high"
        case .medium: "medium"
        case .low: "low"
        }
    }

    /// GitHub reads these as CVSS-like scores: 9.0+ critical, 7.0–8.9 high, 4.0–6.9 medium, below low.
    static func securitySeverity(_ severity: Severity) -> String {
        switch severity {
        case .critical: "9.5"
        case .high: "8.0"
        case .medium: "5.5"
        case .low: "3.0"
        case .info: "0.0"
        }
    }

    /// `<shard>/<path in the shard>` as a relative URI reference: the path's exact bytes, percent-encoded per
    /// segment, dot segments encoded so that it cannot resolve outside the checkout (see ``PathEncoding``).
    static func uri(shard: String, path: [UInt8]) -> String {
        PathEncoding.uriReference(segments: [Array(shard.utf8)] + PathEncoding.segments(path))
    }

    /// The upload action cannot compute this (the blobs are in no checkout), so shardscan does: stable
    /// for the same secret at the same place, whatever the run or render.
    static func lineHash(_ row: FindingRow) -> String {
        String(sha256Hex("\(row.fingerprint)\u{0}\(row.shard)\u{0}\(row.shardPath)\u{0}\(row.line)").prefix(16)) + ":1"
    }
}
