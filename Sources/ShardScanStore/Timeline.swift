import Foundation
import GRDB
import ShardScanCore

/// When one secret (a fingerprint) was in one project's releases.
public struct LeakTimeline: Codable, Sendable, Equatable {
    /// The versions that carry it, in release order (``UploadedVersion``).
    public var versions: [String]
    /// The upload date (ISO 8601) of each of `versions`, or `nil` when the store does not know it.
    public var uploadedAt: [String?]
    /// The project's newest release the store knows of, with or without findings.
    public var latestVersion: String?
    /// Whether `latestVersion` carries the secret.
    public var stillInLatest: Bool
    /// Other projects (PEP 503 names) where the same secret appears, under any rule.
    public var otherProjects: [String]

    public var firstVersion: String? { versions.first }
    public var lastVersion: String? { versions.last }
}

extension Store {
    /// The timeline of `fingerprint` in `project` (any spelling).
    public func timeline(fingerprint: String, project: String) throws -> LeakTimeline? {
        try queue.read { db in
            var cache = TimelineCache()
            return try cache.timeline(fingerprint: fingerprint, project: ReleasePath.normalize(project), db)
        }
    }

    /// Fills each row's timeline fields (``FindingRow/firstVersion`` and the rest).
    static func attachTimelines(_ rows: inout [FindingRow], _ db: Database) throws {
        var cache = TimelineCache()
        for index in rows.indices {
            let row = rows[index]
            guard
                let timeline = try cache.timeline(
                    fingerprint: row.fingerprint, project: ReleasePath.normalize(row.project), db)
            else { continue }
            rows[index].firstVersion = timeline.firstVersion
            rows[index].lastVersion = timeline.lastVersion
            rows[index].versions = timeline.versions
            rows[index].stillInLatest = timeline.stillInLatest
            rows[index].projectsWithSameSecret = timeline.otherProjects.count
        }
    }
}

/// Timelines worked out once per (fingerprint, project) and newest releases once per project, while reading rows.
///
/// Read commands do not migrate, so a store scanned before `v6-release-metadata` has no upload times and no
/// record of releases without findings: timelines then order by version alone and know only releases with findings.
struct TimelineCache {
    private var timelines: [String: LeakTimeline] = [:]
    private var latest: [String: String?] = [:]
    private var hasUploadTimes: Bool?

    private mutating func uploadTimes(_ db: Database) throws -> Bool {
        if let known = hasUploadTimes { return known }
        let has = try db.tableExists("project_release")
        hasUploadTimes = has
        return has
    }

    mutating func timeline(fingerprint: String, project: String, _ db: Database) throws -> LeakTimeline? {
        let key = fingerprint + "\u{0}" + project
        if let known = timelines[key] { return known }
        let places = try Row.fetchAll(
            db,
            sql: """
                SELECT DISTINCT r.project_normalized FROM finding f
                JOIN finding same ON same.secret_hash = f.secret_hash
                JOIN match m ON m.finding_id = same.id
                JOIN provenance p ON p.blob = m.blob
                JOIN release r ON r.id = p.release_id
                WHERE f.fingerprint = ?
                """, arguments: [fingerprint])
        guard !places.isEmpty else { return nil }
        // Only this fingerprint's own places make the versions; the same secret under another rule counts
        // towards other projects alone.
        let uploadedAt = try uploadTimes(db) ? "min(r.uploaded_at)" : "NULL"
        let own = try Row.fetchAll(
            db,
            sql: """
                SELECT r.version, \(uploadedAt) AS uploaded_at FROM finding f
                JOIN match m ON m.finding_id = f.id
                JOIN provenance p ON p.blob = m.blob
                JOIN release r ON r.id = p.release_id
                WHERE f.fingerprint = ? AND r.project_normalized = ?
                GROUP BY r.version
                """, arguments: [fingerprint, project])
        let ordered = own.map { UploadedVersion($0["version"], uploadedAt: $0["uploaded_at"]) }.sorted()
        let newest = try latestVersion(of: project, db)
        let timeline = LeakTimeline(
            versions: ordered.map(\.version.text), uploadedAt: ordered.map(\.uploadedAt), latestVersion: newest,
            stillInLatest: newest.map { newest in ordered.contains { $0.version.text == newest } } ?? false,
            otherProjects: Set(places.map { $0["project_normalized"] as String }).subtracting([project]).sorted())
        timelines[key] = timeline
        return timeline
    }

    /// The newest version of `project` among every release the store has seen, with findings or not.
    mutating func latestVersion(of project: String, _ db: Database) throws -> String? {
        if let known = latest[project] { return known }
        let sql =
            try uploadTimes(db)
            ? """
            SELECT version, min(uploaded_at) AS uploaded_at FROM (
                SELECT version, uploaded_at FROM project_release WHERE project_normalized = ?1
                UNION ALL
                SELECT version, uploaded_at FROM release WHERE project_normalized = ?1
            ) GROUP BY version
            """
            : "SELECT DISTINCT version, NULL AS uploaded_at FROM release WHERE project_normalized = ?1"
        let versions = try Row.fetchAll(db, sql: sql, arguments: [project]).map {
            UploadedVersion($0["version"], uploadedAt: $0["uploaded_at"])
        }
        let newest = versions.max()?.version.text
        latest[project] = newest
        return newest
    }
}
