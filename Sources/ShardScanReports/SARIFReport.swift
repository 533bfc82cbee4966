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
            let run = try encodedRun(
                shard: shard, rows: rowsByShard[shard] ?? [], input: input, toolVersion: toolVersion,
                showSecrets: showSecrets, maxFileBytes: maxFileBytes)
            encodedRuns.append((run.data, run.notes))
        }

        var files: [File] = []
        var current: [(data: Data, notes: [String])] = []
        var size = 0
        func close() {
            guard !current.isEmpty else { return }
            files.append(File(data: log(of: current.map(\.data)), notes: current.flatMap(\.notes)))
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

    /// One shard's run as a file of its own: what GitHub needs, since it takes one category per upload and
    /// replaces that category's alerts with each upload.
    public struct ShardFile: Sendable {
        public var shard: String
        /// A whole SARIF log holding the shard's one run.
        public var data: Data
        public var notes: [String]
        /// Results in the run, suppressed ones included.
        public var results: Int
        /// SHA-256 of the run: equal digests mean an upload would change nothing.
        public var digest: String
    }

    /// Renders `input` as one SARIF file per shard of ``ReportInput/shards`` (a shard without rows gets an
    /// empty run, which closes its alerts).
    public static func renderPerShard(
        _ input: ReportInput, toolVersion: String, showSecrets: Bool = false, maxFileBytes: Int = defaultMaxFileBytes
    ) throws -> [ShardFile] {
        var rowsByShard: [String: [FindingRow]] = [:]
        for row in input.rows { rowsByShard[row.shard, default: []].append(row) }
        return try input.shards.map { shard in
            let run = try encodedRun(
                shard: shard, rows: rowsByShard[shard] ?? [], input: input, toolVersion: toolVersion,
                showSecrets: showSecrets, maxFileBytes: maxFileBytes)
            return ShardFile(
                shard: shard, data: log(of: [run.data]), notes: run.notes, results: run.results,
                digest: sha256Hex(run.data))
        }
    }

    /// One shard's run, encoded, most severe results first, cut to GitHub's limits with a note saying so.
    static func encodedRun(
        shard: String, rows: [FindingRow], input: ReportInput, toolVersion: String, showSecrets: Bool,
        maxFileBytes: Int
    ) throws -> (data: Data, notes: [String], results: Int) {
        var rows = rows.sorted { lhs, rhs in
            let left = input.rules[lhs.rule]?.severity.rank ?? 0
            let right = input.rules[rhs.rule]?.severity.rank ?? 0
            if left != right { return left > right }
            // Down to the fingerprint, so that the same state always encodes (and digests) the same.
            return (lhs.project, lhs.version, lhs.shardPath, lhs.line, lhs.column, lhs.fingerprint)
                < (rhs.project, rhs.version, rhs.shardPath, rhs.line, rhs.column, rhs.fingerprint)
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
                shard: shard, rows: rows, input: input, toolVersion: toolVersion, showSecrets: showSecrets, notes: notes
            ))
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
        return (data, notes, rows.count)
    }

    /// A SARIF log around already encoded runs.
    static func log(of runs: [Data]) -> Data {
        var data = Data(#"{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":["#.utf8)
        data.append(contentsOf: runs.joined(separator: Data(",".utf8)))
        data.append(contentsOf: Data(#"],"version":"2.1.0"}"#.utf8))
        data.append(0x0A)
        return data
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
                            region: region(row, snippet: shown.snippet)))
                ],
                partialFingerprints: ["primaryLocationLineHash": lineHash(row)],
                suppressions: suppression(row.status, input.triage[row.fingerprint]).map { [$0] },
                properties: SARIF.ResultProperties(
                    shard: row.shard, project: row.project, version: row.version, release: row.release, path: row.path,
                    blob: row.blob, commit: row.commit.hex, fingerprint: row.fingerprint,
                    confidence: row.confidence.rawValue, status: row.status.rawValue,
                    facts: row.facts.isEmpty ? nil : row.facts))
        }
        let category = shard.isEmpty ? "shardscan/" : "shardscan/\(shard)/"
        var properties = ["selection": input.selection.description]
        if let digest = input.runs.last?.rulesDigest { properties["rulesDigest"] = digest }
        return SARIF.Run(
            tool: SARIF.Tool(
                driver: SARIF.Driver(version: toolVersion, semanticVersion: toolVersion, rules: descriptors)),
            automationDetails: SARIF.AutomationDetails(id: category), columnKind: "utf16CodeUnits",
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
            rule.kind == .content
            ? "Read the code around it: this is a technique malicious packages use, not proof of one. If it is "
                + "malicious, do not install the release, and report the project to PyPI (the project page's "
                + "\"Report project as malware\" link, or security@pypi.org) with the release and path shown here."
            : "Treat it as compromised: PyPI releases are public and mirrored, so revoke or rotate it with its provider now. "
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

    /// Statuses that close an alert: the secret needs nothing more (revoked), or never did. `confirmed` keeps
    /// its alert open, since a confirmed leak still needs rotating.
    /// A retired finding (its rule was removed) is closed too: no rule reports it any more.
    static let suppressingStatuses: Set<TriageStatus> = [.falsePositive, .testData, .revoked, .accepted, .retired]

    /// The suppression GitHub reads as a dismissed alert, from the finding's triage.
    static func suppression(_ status: TriageStatus, _ triage: TriageRecord?) -> SARIF.Suppression? {
        guard suppressingStatuses.contains(status) else { return nil }
        var justification = status.rawValue
        if let triage {
            if !triage.comment.isEmpty { justification += ": \(triage.comment)" }
            justification += " (\(triage.author), \(triage.changedAt))"
        }
        return SARIF.Suppression(kind: "external", status: "accepted", justification: justification)
    }

    /// The region in UTF-16 code units (the run's `columnKind`). A match stored before those were measured falls
    /// back on its snippet when the snippet starts at the line's start, else on its byte columns.
    static func region(_ row: FindingRow, snippet: String) -> SARIF.Region {
        var column = row.column
        var endColumn = row.endColumn
        if let start = row.utf16Column, let end = row.utf16EndColumn {
            column = start
            endColumn = end
        } else if row.snippetBefore.utf8.count == row.column - 1 {
            column = row.snippetBefore.utf16.count + 1
            if row.endLine == row.line { endColumn = column + row.secret.utf16.count }
        }
        return SARIF.Region(
            startLine: max(1, row.line), startColumn: max(1, column), endLine: max(1, row.endLine),
            endColumn: max(1, endColumn), snippet: SARIF.Message(text: snippet))
    }

    /// The upload action cannot compute this (the blobs are in no checkout), so shardscan does: stable
    /// for the same secret at the same place, whatever the run or render.
    static func lineHash(_ row: FindingRow) -> String {
        String(sha256Hex("\(row.fingerprint)\u{0}\(row.shard)\u{0}\(row.shardPath)\u{0}\(row.line)").prefix(16)) + ":1"
    }
}
