import Foundation
import GRDB
import ShardScanCore

/// One finding at one place: the row of `findings`, of JSON output and (later) of reports.
public struct FindingRow: Codable, Sendable, Equatable, FetchableRecord {
    public var rule: String
    public var shard: String
    public var commit: ObjectID
    public var blob: String
    public var project: String
    public var version: String
    public var release: String
    /// The path inside the release.
    public var path: String
    /// The full path in the shard; bytes that are not UTF-8 are U+FFFD here, see `shardPathBase64`.
    public var shardPath: String
    /// Only when the shard path is not valid UTF-8: its exact bytes in base64.
    public var shardPathBase64: String?
    public var line: Int
    public var column: Int
    public var endLine: Int
    public var endColumn: Int
    /// In full as read from the store; ``presented(showSecrets:)`` before it leaves the tool.
    public var secret: String
    /// In full as read from the store, like `secret`.
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
    /// Why it has that status: the triage comment, such as the evidence of an automatic `test-data` verdict
    /// (`automatic: fixture path tests/ (…)`). `nil` for open findings and triage without a comment.
    public var statusReason: String?
    /// The timeline of this secret in this project (``LeakTimeline``): first and last version that carry it,
    /// every version that does, in release order, and whether the project's newest release still does.
    /// `nil` only in rows not read from a store.
    public var firstVersion: String?
    public var lastVersion: String?
    public var versions: [String]?
    public var stillInLatest: Bool?
    /// In how many other projects the same secret appears.
    public var projectsWithSameSecret: Int?

    // Not part of the row's JSON: what ``presented(showSecrets:)`` needs to mask every secret in the snippet.
    /// The secret's byte range in its blob.
    public var range: Range<Int> = 0..<0
    public var snippetBefore = ""
    public var snippetAfter = ""
    /// Every secret matched by a secret rule in the same blob (this one included), read with the row.
    public var secretsInBlob: [SecretMask] = []
    var blobOID = Data()
    /// Columns in UTF-16 code units (see ``Finding/utf16Column``); `nil` for matches stored before they were kept.
    public var utf16Column: Int?
    public var utf16EndColumn: Int?

    enum CodingKeys: String, CodingKey {
        case rule, shard, commit, blob, project, version, release, path, line, column, secret, snippet, fingerprint
        case entropy, kind, confidence, facts, status
        case shardPath = "shard_path"
        case shardPathBase64 = "shard_path_base64"
        case endLine = "end_line"
        case endColumn = "end_column"
        case runID = "run_id"
        case firstVersion = "first_version"
        case lastVersion = "last_version"
        case versions
        case stillInLatest = "still_in_latest"
        case projectsWithSameSecret = "projects_with_same_secret"
        case statusReason = "status_reason"
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
        shardPathBase64 = (row["shard_path_bytes"] as Data?).flatMap { $0.isEmpty ? nil : $0.base64EncodedString() }
        line = row["line"]
        column = row["column"]
        endLine = row["end_line"]
        endColumn = row["end_column"]
        secret = row["secret"]
        snippetBefore = row["snippet_before"]
        snippetAfter = row["snippet_after"]
        snippet = snippetBefore + secret + snippetAfter
        range = (row["start"] as Int)..<(row["end"] as Int)
        blobOID = row["blob_oid"]
        fingerprint = row["fingerprint"]
        entropy = ((row["entropy"] as Double) * 1000).rounded() / 1000
        runID = row["run_id"]
        kind = (row["kind"] as String?).flatMap(RuleKind.init(rawValue:)) ?? .secret
        confidence = (row["confidence"] as String?).flatMap(Confidence.init(rawValue:)) ?? .medium
        facts =
            (row["facts"] as String?).flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
            ?? [:]
        status = (row["status"] as String?).flatMap(TriageStatus.init(rawValue:)) ?? .open
        statusReason = (row["status_reason"] as String?).flatMap { $0.isEmpty || status == .open ? nil : $0 }
        utf16Column = row["column_utf16"]
        utf16EndColumn = row["end_column_utf16"]
    }

    /// The shard path's exact bytes.
    public var shardPathBytes: [UInt8] {
        shardPathBase64.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? Array(shardPath.utf8)
    }

    /// The row as it may leave the tool: its secret and snippet redacted by ``RedactedSnippet`` (every
    /// secret of the blob masked in the snippet) unless `showSecrets`.
    public func presented(showSecrets: Bool) -> FindingRow {
        let shown = RedactedSnippet(
            before: snippetBefore, match: secret, after: snippetAfter, range: range, kind: kind,
            secrets: secretsInBlob, showSecrets: showSecrets)
        var copy = self
        copy.secret = shown.match
        copy.snippet = shown.snippet
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
    public var watermark: ObjectID?
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
            conditions.append("\(Self.statusSQL) IN (\(Self.sqlList(statuses.map(\.rawValue))))")
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
            var rows = try FindingRow.fetchAll(
                db,
                sql: """
                    SELECT f.rule, f.fingerprint, f.secret, s.name AS shard, p.commit_oid AS "commit",
                           lower(hex(m.blob)) AS blob, m.blob AS blob_oid, m.start, m."end", r.project, r.version, r.filename AS release, p.path,
                           p.shard_path, p.shard_path_bytes, m.line, m."column", m.end_line, m.end_column, m.entropy,
                           m.column_utf16, m.end_column_utf16,
                           m.snippet_before, m.snippet_after, p.run_id, f.facts,
                           coalesce(ru.kind, 'secret') AS kind, coalesce(f.confidence, ru.confidence) AS confidence,
                           \(Self.statusSQL) AS status, t.comment AS status_reason
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
            try Self.attachSecretsInBlob(&rows, db)
            try Self.attachTimelines(&rows, db)
            return rows
        }
    }

    /// Quoted SQL string literals of values the code chose (enum raw values), never user text.
    static func sqlList(_ values: [String]) -> String {
        values.map { "'\($0.replacingOccurrences(of: "'", with: "''"))'" }.joined(separator: ",")
    }

    /// Fills each row's ``FindingRow/secretsInBlob`` from the `match` table. Masks are worked out here, when
    /// rows are read, rather than stored with each match: a blob is scanned once ever, so masks stored at scan
    /// time would never reach the matches already in a store, and a blob rescanned under new rules gains
    /// matches whose secrets must also be masked in the old ones' snippets.
    ///
    /// A row gets the positions of the secrets near it (a snippet spans at most a line's few dozen bytes) and,
    /// to hide a repeat no rule matched, the text of every distinct secret of the blob; past
    /// ``maxTextMasksPerBlob`` of them (a dump of thousands of keys, where every row would search every text),
    /// only the texts of the secrets near it.
    static func attachSecretsInBlob(_ rows: inout [FindingRow], _ db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                SELECT DISTINCT m.start, m."end", f.secret FROM match m
                JOIN finding f ON f.id = m.finding_id
                LEFT JOIN rule ru ON ru.id = f.rule
                WHERE m.blob = ? AND coalesce(ru.kind, 'secret') = 'secret'
                """)
        struct BlobSecrets {
            var positions: [SecretMask]
            var texts: [SecretMask]
        }
        var byBlob: [Data: BlobSecrets] = [:]
        for index in rows.indices {
            let oid = rows[index].blobOID
            if byBlob[oid] == nil {
                let masks = try Row.fetchAll(statement, arguments: [oid]).map {
                    SecretMask(range: ($0["start"] as Int)..<($0["end"] as Int), text: $0["secret"])
                }
                let texts = Set(masks.map(\.text))
                let textMasks = texts.sorted().map { SecretMask(range: 0..<0, text: $0) }
                byBlob[oid] = BlobSecrets(
                    positions: masks, texts: texts.count <= maxTextMasksPerBlob ? textMasks : [])
            }
            let secrets = byBlob[oid]!
            let row = rows[index]
            // The snippet's text is at least as long as the bytes it came from, so `reach` covers them.
            let lower = row.range.lowerBound - row.snippetBefore.utf8.count
            let reach = lower..<row.range.upperBound + row.snippetAfter.utf8.count
            rows[index].secretsInBlob = secrets.positions.filter { $0.range.overlaps(reach) } + secrets.texts
        }
    }

    /// Distinct secrets of one blob whose text is searched for in every snippet of the blob.
    static let maxTextMasksPerBlob = 256

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
