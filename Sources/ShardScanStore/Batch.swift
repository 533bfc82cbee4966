import Foundation
import GRDB
import ShardScanCore

/// Work done on one shard since the last write, written in one transaction together with the
/// shard's new watermark.
public struct Batch: Sendable {
    public var runID: Int64
    public var shardID: Int64
    /// The commit (hex) every change up to which is in this batch or already stored.
    public var watermark: String?
    public var blobs: [ScannedBlob] = []
    public var locations: [BlobLocation] = []
    /// Every release file the batch's commits add, with or without findings.
    public var releases: [SeenRelease] = []
    public var counters = RunCounters()

    public init(runID: Int64, shardID: Int64) {
        self.runID = runID
        self.shardID = shardID
    }

    public var isEmpty: Bool { watermark == nil && blobs.isEmpty && locations.isEmpty && releases.isEmpty }
}

/// A release file added by a commit: its upload time (the commit's) and, when it has findings, its core metadata.
public struct SeenRelease: Sendable {
    /// The release, with an empty inner path.
    public var release: ReleasePath
    /// Seconds since 1970 (UTC) of the commit that added it.
    public var uploadedAt: Int64
    /// Read only for releases with findings; `nil` when the release holds no metadata file.
    public var metadata: CoreMetadata?

    public init(release: ReleasePath, uploadedAt: Int64, metadata: CoreMetadata? = nil) {
        self.release = release
        self.uploadedAt = uploadedAt
        self.metadata = metadata
    }
}

/// A blob read and scanned (or skipped) for the first time under the current rule set.
public struct ScannedBlob: Sendable {
    public var oid: Data
    public var size: Int
    /// Why it was not scanned (`binary`, `too-large`), or `nil`.
    public var skipped: String?
    public var findings: [Finding]

    public init(oid: Data, size: Int, skipped: String?, findings: [Finding]) {
        self.oid = oid
        self.size = size
        self.skipped = skipped
        self.findings = findings
    }
}

/// One place a blob with findings appears.
public struct BlobLocation: Sendable {
    public var oid: Data
    public var release: ReleasePath
    public var shardPath: String
    /// The shard path's bytes when they are not valid UTF-8 (`shardPath` then holds U+FFFD in their place).
    public var shardPathBytes: Data?
    public var commit: String
    /// How many matches the blob holds, each of which becomes a finding row at this place.
    public var matchCount: Int

    public init(
        oid: Data, release: ReleasePath, shardPath: String, shardPathBytes: Data? = nil, commit: String, matchCount: Int
    ) {
        self.oid = oid
        self.release = release
        self.shardPath = shardPath
        self.shardPathBytes = shardPathBytes
        self.commit = commit
        self.matchCount = matchCount
    }
}

/// Counts kept per run (and per shard within a run).
public struct RunCounters: Sendable, Equatable, Codable {
    public var commits = 0
    public var blobsNew = 0
    public var blobsSeen = 0
    public var blobsBinary = 0
    public var blobsTooLarge = 0
    public var bytesScanned = 0
    /// New finding rows: (secret, place) pairs not recorded before.
    public var findingsNew = 0
    /// Secrets (per rule) never seen before.
    public var secretsNew = 0
    public var ruleFailures = 0

    public init() {}

    public static func += (lhs: inout RunCounters, rhs: RunCounters) {
        lhs.commits += rhs.commits
        lhs.blobsNew += rhs.blobsNew
        lhs.blobsSeen += rhs.blobsSeen
        lhs.blobsBinary += rhs.blobsBinary
        lhs.blobsTooLarge += rhs.blobsTooLarge
        lhs.bytesScanned += rhs.bytesScanned
        lhs.findingsNew += rhs.findingsNew
        lhs.secretsNew += rhs.secretsNew
        lhs.ruleFailures += rhs.ruleFailures
    }
}

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
            let insertBlob = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO blob (oid, size, rule_set_id, skipped, match_count) VALUES (?, ?, ?, ?, ?)"
            )
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
            for blob in batch.blobs {
                try insertBlob.execute(arguments: [blob.oid, blob.size, ruleSetID, blob.skipped, blob.findings.count])
                for finding in blob.findings {
                    let fingerprint = Finding.fingerprint(ruleID: finding.ruleID, secret: finding.secret)
                    try insertFinding.execute(arguments: [
                        finding.ruleID, fingerprint, finding.secret, sha256Hex(finding.secret), batch.runID,
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
            }

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
                        batch.shardID, key.project, key.projectNormalized, key.version, key.filename, location.commit,
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
}
