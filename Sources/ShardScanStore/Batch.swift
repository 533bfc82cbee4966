import Foundation
import GRDB
import ShardScanCore

extension Store {
    /// `seconds` since 1970 as ISO 8601 (UTC, `2023-07-01T12:00:00Z`), the form every date in the store takes.
    /// Written out by hand: a batch dates each of its releases, and making an `ISO8601DateFormatter` for each was
    /// an eighth of writing a batch (perf).
    static func isoDate(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard (0...253_402_300_799).contains(seconds), gmtime_r(&time, &parts) != nil else {
            return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        func digits(_ value: Int32, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        return digits(parts.tm_year + 1900, 4) + "-" + digits(parts.tm_mon + 1, 2) + "-" + digits(parts.tm_mday, 2)
            + "T" + digits(parts.tm_hour, 2) + ":" + digits(parts.tm_min, 2) + ":" + digits(parts.tm_sec, 2) + "Z"
    }

    static func insertMetadata(_ metadata: CoreMetadata, releaseID: Int64, _ db: Database) throws {
        let encoder = JSONEncoder()
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO release_metadata (release_id, source, name, version, author, author_email,
                    maintainer, maintainer_email, home_page, project_urls, problems)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                releaseID, metadata.source, metadata.name, metadata.version, metadata.author, metadata.authorEmail,
                metadata.maintainer, metadata.maintainerEmail, metadata.homePage,
                String(decoding: try encoder.encode(metadata.projectURLs), as: UTF8.self),
                String(decoding: try encoder.encode(metadata.problems), as: UTF8.self),
            ])
    }

    static func factsJSON(_ facts: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(facts), as: UTF8.self)
    }

    /// Writes `batch` in one transaction: blobs, findings and matches, releases and provenance, the
    /// run's and shard's counters, and the shard's watermark. Returns the counters with
    /// `findingsNew` and `secretsNew` filled in from what was really new.
    @discardableResult
    public func write(_ batch: Batch, ruleSetID: Int64) throws -> RunCounters {
        try writing("write a batch (\(batch.counters.commits) commits, \(batch.blobs.count) new blobs)") { db in
            var counters = batch.counters
            let runRules = try Self.members(of: ruleSetID, db).map(\.id)
            // Blobs stored before under other rules (met again after a rule change), asked 64 at a time.
            var stored = Set(
                try Self.rows(of: "SELECT oid FROM blob WHERE oid IN", for: batch.blobs.map(\.oid), db).map {
                    $0["oid"] as ObjectID
                })
            var rows = BlobRows()
            for blob in batch.blobs {
                // A stored blob's matches of the run's rules are replaced, those of rules no longer run are kept
                // (retired).
                let replacing = !stored.insert(blob.oid).inserted
                let setID = try Self.ruleSetID(ruleSetID, less: blob.failedRules, db)
                try Self.writeMatches(
                    of: blob, replacingRules: replacing ? (blob.rulesRun ?? runRules) : nil, runID: batch.runID,
                    counters: &counters, db)
                rows.append(
                    blob.oid, size: blob.size, ruleSetID: setID, skipped: blob.skipped?.rawValue,
                    matchCount: replacing ? try Self.matchCount(of: blob.oid, db) : blob.findings.count)
            }
            try rows.write(db)
            try Self.writePlaces(of: batch, counters: &counters, db)
            if let watermark = batch.watermark {
                try db.execute(
                    sql: """
                        INSERT INTO watermark (shard_id, commit_oid, run_id, updated_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT(shard_id) DO UPDATE SET commit_oid = excluded.commit_oid,
                            run_id = excluded.run_id, updated_at = excluded.updated_at
                        """, arguments: [batch.shardID, watermark, batch.runID, Self.now()])
            }
            try db.execute(
                sql: """
                    UPDATE run SET commits = commits + ?, blobs_new = blobs_new + ?, blobs_seen = blobs_seen + ?,
                        blobs_binary = blobs_binary + ?, blobs_too_large = blobs_too_large + ?,
                        bytes_scanned = bytes_scanned + ?, findings_new = findings_new + ?,
                        secrets_new = secrets_new + ?, rule_failures = rule_failures + ?
                    WHERE id = ?
                    """,
                arguments: [
                    counters.commits, counters.blobsNew, counters.blobsSeen, counters.blobsBinary,
                    counters.blobsTooLarge, counters.bytesScanned, counters.findingsNew, counters.secretsNew,
                    counters.ruleFailures, batch.runID,
                ])
            try db.execute(
                sql: """
                    INSERT INTO run_shard (run_id, shard_id, status, commits, blobs_new, findings_new)
                    VALUES (?1, ?2, 'running', ?3, ?4, ?5)
                    ON CONFLICT(run_id, shard_id) DO UPDATE SET commits = commits + ?3,
                        blobs_new = blobs_new + ?4, findings_new = findings_new + ?5
                    """,
                arguments: [batch.runID, batch.shardID, counters.commits, counters.blobsNew, counters.findingsNew])
            return counters
        }
    }

    /// Writes `blob`'s findings and matches. With `replacingRules`, its stored matches of those rules go first
    /// (and findings left with no match anywhere), so that a rule re-run on it leaves only what it finds now; a
    /// finding found again keeps its row and first run.
    static func writeMatches(
        of blob: ScannedBlob, replacingRules: [String]?, runID: Int64, counters: inout RunCounters, _ db: Database
    ) throws {
        // Most blobs: nothing found, nothing replaced (and no statement to look up by its SQL).
        if blob.findings.isEmpty && replacingRules?.isEmpty ?? true { return }
        var dropped: [Int64] = []
        if let rules = replacingRules, !rules.isEmpty {
            // The blob's findings, filtered here: a statement with the rules inlined would be prepared per call.
            let replaced = Set(rules)
            let stored = try db.cachedStatement(
                sql: """
                    SELECT DISTINCT m.finding_id, f.rule FROM match m JOIN finding f ON f.id = m.finding_id
                    WHERE m.blob = ?
                    """)
            dropped = try Row.fetchAll(stored, arguments: [blob.oid]).compactMap { row in
                replaced.contains(row["rule"]) ? row["finding_id"] : nil
            }
            let deleteMatches = try db.cachedStatement(sql: "DELETE FROM match WHERE blob = ? AND finding_id = ?")
            for id in dropped { try deleteMatches.execute(arguments: [blob.oid, id]) }
        }
        let insertFinding = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO finding (rule, fingerprint, secret, secret_hash, first_run_id, confidence, facts)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        let findingID = try db.cachedStatement(sql: "SELECT id FROM finding WHERE fingerprint = ?")
        let insertMatch = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO match (finding_id, blob, start, "end", line, "column", end_line, end_column,
                    entropy, snippet_before, snippet_after, column_utf16, end_column_utf16)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for finding in blob.findings {
            let fingerprint = Finding.fingerprint(ruleID: finding.ruleID, secret: finding.secret)
            try insertFinding.execute(arguments: [
                finding.ruleID, fingerprint, finding.secret, sha256Hex(finding.secret), runID,
                finding.confidence?.rawValue, try Self.factsJSON(finding.facts),
            ])
            if db.changesCount > 0 { counters.secretsNew += 1 }
            let id = try Int64.fetchOne(findingID, arguments: [fingerprint])!
            try insertMatch.execute(arguments: [
                id, blob.oid, finding.start, finding.end, finding.line, finding.column, finding.endLine,
                finding.endColumn, finding.entropy, finding.snippetBefore, finding.snippetAfter,
                finding.utf16Column, finding.utf16EndColumn,
            ])
        }
        if !dropped.isEmpty {
            let deleteUnmatched = try db.cachedStatement(
                sql: "DELETE FROM finding WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM match WHERE finding_id = ?1)")
            for id in dropped { try deleteUnmatched.execute(arguments: [id]) }
        }
    }

    /// How many matches `oid` holds in the store.
    static func matchCount(of oid: ObjectID, _ db: Database) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM match WHERE blob = ?"), arguments: [oid]) ?? 0
    }

    /// Writes the releases, their metadata and the places of `batch`.
    static func writePlaces(of batch: Batch, counters: inout RunCounters, _ db: Database) throws {
        let insertRelease = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO release (shard_id, project, project_normalized, version, filename, commit_oid)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
        let releaseID = try db.cachedStatement(
            sql: "SELECT id FROM release WHERE shard_id = ? AND project = ? AND filename = ?")
        let insertProvenance = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO provenance (blob, release_id, shard_path, path, commit_oid, run_id,
                    shard_path_bytes)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        let setUploaded = try db.cachedStatement(
            sql: "UPDATE release SET uploaded_at = ? WHERE id = ? AND uploaded_at IS NULL")
        var releaseIDs: [ReleasePath: Int64] = [:]
        var seen: [ReleasePath: SeenRelease] = [:]
        for release in batch.releases { seen[release.release] = seen[release.release] ?? release }
        for location in batch.locations {
            var key = location.release
            key.innerPath = ""
            let id: Int64
            if let known = releaseIDs[key] {
                id = known
            } else {
                try insertRelease.execute(arguments: [
                    batch.shardID, key.project, key.projectNormalized, key.version, key.filename,
                    location.commit,
                ])
                id = try Int64.fetchOne(releaseID, arguments: [batch.shardID, key.project, key.filename])!
                releaseIDs[key] = id
                if let release = seen[key] {
                    try setUploaded.execute(arguments: [Self.isoDate(release.uploadedAt), id])
                    if let metadata = release.metadata { try Self.insertMetadata(metadata, releaseID: id, db) }
                }
            }
            try insertProvenance.execute(arguments: [
                location.oid, id, location.shardPath, location.release.innerPath, location.commit, batch.runID,
                location.shardPathBytes ?? Data(),
            ])
            if db.changesCount > 0 { counters.findingsNew += location.matchCount }
        }

        let insertProjectRelease = try db.cachedStatement(
            sql: """
                INSERT INTO project_release (project_normalized, version, uploaded_at) VALUES (?, ?, ?)
                ON CONFLICT(project_normalized, version) DO UPDATE SET uploaded_at = min(uploaded_at, excluded.uploaded_at)
                """)
        for release in batch.releases where !release.release.project.isEmpty {
            try insertProjectRelease.execute(arguments: [
                release.release.projectNormalized, release.release.version, Self.isoDate(release.uploadedAt),
            ])
        }

    }
}

/// The rows of a batch's blobs, written in key order, many rows a statement. Inserted one statement a blob in
/// walk order, the rows landed all over the table's B-tree (its key is a hash) and took two fifths of the walking
/// thread's time writing a batch (perf, full scan of the default bench shard).
private struct BlobRows {
    static let rowsPerStatement = 64
    private static let fullInsert = insert(rows: rowsPerStatement)

    /// The statement inserting `rows` rows.
    private static func insert(rows: Int) -> String {
        "INSERT OR REPLACE INTO blob (oid, size, rule_set_id, skipped, match_count) VALUES "
            + Array(repeating: "(?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
    }

    private var rows: [(oid: ObjectID, values: [(any DatabaseValueConvertible)?])] = []

    /// Adds a blob's row: its size, rule set, skip reason and match count.
    mutating func append(
        _ oid: ObjectID, size: Int, ruleSetID: Int64, skipped: String?, matchCount: Int
    ) {
        rows.append((oid, [oid, size, ruleSetID, skipped, matchCount]))
    }

    /// Writes the rows in key order; rows of the same blob keep the order they were added in, the last replacing
    /// the others.
    mutating func write(_ db: Database) throws {
        let ordered = rows.enumerated().sorted { lhs, rhs in
            lhs.element.oid < rhs.element.oid || (lhs.element.oid == rhs.element.oid && lhs.offset < rhs.offset)
        }.map(\.element)
        var start = 0
        while start < ordered.count {
            let end = min(start + Self.rowsPerStatement, ordered.count)
            // The full statement is prepared once a connection, a shorter last one once a batch.
            let statement =
                try end - start == Self.rowsPerStatement
                ? db.cachedStatement(sql: Self.fullInsert) : db.makeStatement(sql: Self.insert(rows: end - start))
            try statement.execute(arguments: StatementArguments(ordered[start..<end].flatMap(\.values)))
            start = end
        }
        rows.removeAll()
    }
}
