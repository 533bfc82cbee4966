import Foundation
import GRDB
import ShardScanCore

/// One finding at one place: the row of `findings`, of JSON output and (later) of reports.
public struct FindingRow: Codable, Sendable, Equatable, FetchableRecord {
    public var rule: String
    public var shard: String
    public var commit: String
    public var blob: String
    public var project: String
    public var version: String
    public var release: String
    /// The path inside the release.
    public var path: String
    /// The full path in the shard.
    public var shardPath: String
    public var line: Int
    public var column: Int
    public var endLine: Int
    public var endColumn: Int
    /// In full as read from the store; ``redacted()`` before it leaves the tool unless asked.
    public var secret: String
    public var snippet: String
    public var fingerprint: String
    public var entropy: Double
    /// The run that recorded this place.
    public var runID: Int64
    /// `secret` or `content` (reported unredacted).
    public var kind: RuleKind
    /// The finding's own (when its validator lowered it), else its rule's.
    public var confidence: Confidence
    /// What the rule's validator read from the secret, e.g. a PyPI token's `scope` and `projects`.
    public var facts: [String: String]
    /// The fingerprint's triage (`open` when nobody has triaged it).
    public var status: TriageStatus

    enum CodingKeys: String, CodingKey {
        case rule, shard, commit, blob, project, version, release, path, line, column, secret, snippet, fingerprint
        case entropy, kind, confidence, facts, status
        case shardPath = "shard_path"
        case endLine = "end_line"
        case endColumn = "end_column"
        case runID = "run_id"
    }

    public init(row: Row) throws {
        rule = row["rule"]
        shard = row["shard"]
        commit = row["commit"]
        blob = row["blob"]
        project = row["project"]
        version = row["version"]
        release = row["release"]
        path = row["path"]
        shardPath = row["shard_path"]
        line = row["line"]
        column = row["column"]
        endLine = row["end_line"]
        endColumn = row["end_column"]
        secret = row["secret"]
        snippet = (row["snippet_before"] as String) + secret + (row["snippet_after"] as String)
        fingerprint = row["fingerprint"]
        entropy = ((row["entropy"] as Double) * 1000).rounded() / 1000
        runID = row["run_id"]
        kind = (row["kind"] as String?).flatMap(RuleKind.init(rawValue:)) ?? .secret
        confidence = (row["confidence"] as String?).flatMap(Confidence.init(rawValue:)) ?? .medium
        facts =
            (row["facts"] as String?).flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
            ?? [:]
        status = (row["status"] as String?).flatMap(TriageStatus.init(rawValue:)) ?? .open
    }

    /// The row with its secret (and the secret inside the snippet) redacted. Content findings are
    /// evidence, not credentials, and stay as they are.
    public func redacted() -> FindingRow {
        guard kind == .secret else { return self }
        var copy = self
        copy.secret = redact(secret)
        copy.snippet = snippet.replacingOccurrences(of: secret, with: copy.secret)
        return copy
    }
}

/// Which findings to read.
public struct FindingQuery: Sendable {
    /// Matched by PEP 503 normal form, so `Flask_Login` finds `flask-login`.
    public var project: String?
    public var version: String?
    public var rule: String?
    public var shard: String?
    /// Only places recorded by this run.
    public var runID: Int64?
    /// Only places recorded by runs started at or after this ISO 8601 date or time (UTC).
    public var since: String?
    /// Only places recorded by the runs of this range (a delivery).
    public var runs: DeliveryRange?
    /// Only findings whose triage is one of these.
    public var statuses: Set<TriageStatus>?
    /// Only findings at least this sure.
    public var minConfidence: Confidence?
    /// Only findings of rules at least this severe.
    public var minSeverity: Severity?
    /// Only findings of rules of this kind.
    public var kind: RuleKind?

    public init(
        project: String? = nil, version: String? = nil, rule: String? = nil, shard: String? = nil, runID: Int64? = nil,
        since: String? = nil
    ) {
        self.project = project
        self.version = version
        self.rule = rule
        self.shard = shard
        self.runID = runID
        self.since = since
    }
}

/// A run as `status` shows it.
public struct RunRecord: Codable, Sendable, FetchableRecord, Equatable {
    public var id: Int64
    public var startedAt: String
    public var finishedAt: String?
    public var status: String
    public var rulesDigest: String
    public var ruleCount: Int
    public var shards: Int
    public var shardsFailed: Int
    public var counters: RunCounters

    public init(row: Row) throws {
        id = row["id"]
        startedAt = row["started_at"]
        finishedAt = row["finished_at"]
        status = row["status"]
        rulesDigest = row["digest"]
        ruleCount = row["rule_count"]
        shards = row["shards"]
        shardsFailed = row["shards_failed"]
        counters = RunCounters()
        counters.commits = row["commits"]
        counters.blobsNew = row["blobs_new"]
        counters.blobsSeen = row["blobs_seen"]
        counters.blobsBinary = row["blobs_binary"]
        counters.blobsTooLarge = row["blobs_too_large"]
        counters.bytesScanned = row["bytes_scanned"]
        counters.findingsNew = row["findings_new"]
        counters.secretsNew = row["secrets_new"]
        counters.ruleFailures = row["rule_failures"]
    }
}

/// A shard as `status` shows it.
public struct ShardRecord: Codable, Sendable, FetchableRecord, Equatable {
    public var name: String
    public var path: String
    public var reference: String
    public var watermark: String?
    public var updatedAt: String?
    /// How the shard ended in the last run that touched it.
    public var lastStatus: String?
    public var lastMessage: String?

    public init(row: Row) throws {
        name = row["name"]
        path = row["path"]
        reference = row["reference"]
        watermark = row["commit_oid"]
        updatedAt = row["updated_at"]
        lastStatus = row["last_status"]
        lastMessage = row["last_message"]
    }
}

/// How one shard ended in one run.
public struct RunShardRecord: Codable, Sendable, FetchableRecord, Equatable {
    public var shard: String
    public var status: String
    public var message: String
    public var commits: Int
    public var blobsNew: Int
    public var findingsNew: Int

    public init(row: Row) throws {
        shard = row["name"]
        status = row["status"]
        message = row["message"]
        commits = row["commits"]
        blobsNew = row["blobs_new"]
        findingsNew = row["findings_new"]
    }
}

extension Store {
    /// Every finding at every place that matches `query`, ordered by project, version and path.
    public func findings(_ query: FindingQuery) throws -> [FindingRow] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let project = query.project {
            conditions.append("r.project_normalized = ?")
            _ = arguments.append(contentsOf: [ReleasePath.normalize(project)])
        }
        if let version = query.version {
            conditions.append("r.version = ?")
            _ = arguments.append(contentsOf: [version])
        }
        if let rule = query.rule {
            conditions.append("f.rule = ?")
            _ = arguments.append(contentsOf: [rule])
        }
        if let shard = query.shard {
            conditions.append("s.name = ?")
            _ = arguments.append(contentsOf: [shard])
        }
        if let runID = query.runID {
            conditions.append("p.run_id = ?")
            _ = arguments.append(contentsOf: [runID])
        }
        if let since = query.since {
            conditions.append("p.run_id IN (SELECT id FROM run WHERE started_at >= ?)")
            _ = arguments.append(contentsOf: [since])
        }
        if let runs = query.runs {
            conditions.append("p.run_id > ? AND p.run_id <= ?")
            _ = arguments.append(contentsOf: [runs.afterRun, runs.throughRun])
        }
        if let statuses = query.statuses {
            conditions.append("coalesce(t.status, 'open') IN (\(Self.sqlList(statuses.map(\.rawValue))))")
        }
        if let minConfidence = query.minConfidence {
            let allowed = Confidence.allCases.filter { $0.rank >= minConfidence.rank }.map(\.rawValue)
            conditions.append("coalesce(f.confidence, ru.confidence, 'medium') IN (\(Self.sqlList(allowed)))")
        }
        if let minSeverity = query.minSeverity {
            let allowed = Severity.allCases.filter { $0 >= minSeverity }.map(\.rawValue)
            conditions.append("coalesce(ru.severity, 'high') IN (\(Self.sqlList(allowed)))")
        }
        if let kind = query.kind {
            conditions.append("coalesce(ru.kind, 'secret') = ?")
            _ = arguments.append(contentsOf: [kind.rawValue])
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try queue.read { db in
            try FindingRow.fetchAll(
                db,
                sql: """
                    SELECT f.rule, f.fingerprint, f.secret, s.name AS shard, p.commit_oid AS "commit",
                           lower(hex(m.blob)) AS blob, r.project, r.version, r.filename AS release, p.path,
                           p.shard_path, m.line, m."column", m.end_line, m.end_column, m.entropy,
                           m.snippet_before, m.snippet_after, p.run_id, f.facts,
                           coalesce(ru.kind, 'secret') AS kind, coalesce(f.confidence, ru.confidence) AS confidence,
                           coalesce(t.status, 'open') AS status
                    FROM match m
                    JOIN finding f ON f.id = m.finding_id
                    LEFT JOIN rule ru ON ru.id = f.rule
                    LEFT JOIN triage t ON t.fingerprint = f.fingerprint
                    JOIN provenance p ON p.blob = m.blob
                    JOIN release r ON r.id = p.release_id
                    JOIN shard s ON s.id = r.shard_id
                    \(filter)
                    ORDER BY r.project_normalized, r.version, s.name, p.shard_path, m.line, m."column", f.rule
                    """, arguments: arguments)
        }
    }

    /// Quoted SQL string literals of values the code chose (enum raw values), never user text.
    static func sqlList(_ values: [String]) -> String {
        values.map { "'\($0.replacingOccurrences(of: "'", with: "''"))'" }.joined(separator: ",")
    }

    /// The most recent runs, newest first.
    public func runs(limit: Int = 10) throws -> [RunRecord] {
        try queue.read { db in
            try RunRecord.fetchAll(
                db,
                sql: """
                    SELECT run.*, rule_set.digest FROM run JOIN rule_set ON rule_set.id = run.rule_set_id
                    ORDER BY run.id DESC LIMIT ?
                    """, arguments: [limit])
        }
    }

    /// Every shard with its watermark and how it ended in the last run that touched it.
    public func shards() throws -> [ShardRecord] {
        try queue.read { db in
            try ShardRecord.fetchAll(
                db,
                sql: """
                    SELECT s.name, s.path, s.reference, w.commit_oid, w.updated_at,
                        (SELECT status FROM run_shard WHERE shard_id = s.id ORDER BY run_id DESC LIMIT 1) AS last_status,
                        (SELECT message FROM run_shard WHERE shard_id = s.id ORDER BY run_id DESC LIMIT 1) AS last_message
                    FROM shard s LEFT JOIN watermark w ON w.shard_id = s.id
                    ORDER BY s.name
                    """)
        }
    }

    /// How each shard ended in run `runID`.
    public func shardOutcomes(runID: Int64) throws -> [RunShardRecord] {
        try queue.read { db in
            try RunShardRecord.fetchAll(
                db,
                sql: """
                    SELECT s.name, rs.* FROM run_shard rs JOIN shard s ON s.id = rs.shard_id
                    WHERE rs.run_id = ? ORDER BY s.name
                    """, arguments: [runID])
        }
    }

    /// New finding places of run `runID`, counted by rule.
    public func findingCountsByRule(runID: Int64) throws -> [(rule: String, count: Int)] {
        try queue.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT f.rule, count(*) AS n FROM match m
                    JOIN finding f ON f.id = m.finding_id
                    JOIN provenance p ON p.blob = m.blob
                    WHERE p.run_id = ? GROUP BY f.rule ORDER BY n DESC, f.rule
                    """, arguments: [runID]
            ).map { (rule: $0["rule"], count: $0["n"]) }
        }
    }
}
