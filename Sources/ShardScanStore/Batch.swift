import Foundation
import GRDB
import ShardScanCore

extension Store {
    /// `seconds` since 1970 as ISO 8601 (UTC), the form every date in the store takes.
    static func isoDate(_ seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
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
            let known = try db.cachedStatement(sql: "SELECT 1 FROM blob WHERE oid = ?")
            let insertBlob = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO blob (oid, size, rule_set_id, skipped, match_count) VALUES (?, ?, ?, ?, ?)"
            )
            for blob in batch.blobs {
                // A blob stored before under other rules (met again after a rule change): its matches of the
                // run's rules are replaced, those of rules no longer run are kept (retired).
                let replacing = try Bool.fetchOne(known, arguments: [blob.oid]) ?? false
                let setID = try Self.ruleSetID(ruleSetID, less: blob.failedRules, db)
                try Self.writeMatches(
                    of: blob, replacingRules: replacing ? (blob.rulesRun ?? runRules) : nil, runID: batch.runID,
                    counters: &counters, db)
                try insertBlob.execute(
                    arguments: [
                        blob.oid, blob.size, setID, blob.skipped?.rawValue,
                        replacing ? try Self.matchCount(of: blob.oid, db) : blob.findings.count,
                    ])
            }
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
