import Foundation
import GRDB
import ShardScanCore

/// A release of a project with what its own core metadata says, as recorded when the release had findings.
public struct ReleaseContact: Sendable, Equatable {
    public var version: String
    public var filename: String
    /// ISO 8601 (UTC); `nil` for releases recorded before upload times were kept.
    public var uploadedAt: String?
    /// `nil` when the release holds no metadata file (or was recorded before metadata was read).
    public var metadata: CoreMetadata?
}

extension Store {
    /// Every release of `project` (any spelling) that the store recorded, with its metadata, newest first.
    public func releaseContacts(project: String) throws -> [ReleaseContact] {
        try queue.read { db in
            // A store not yet migrated to v6-release-metadata (read commands do not migrate) has neither.
            guard try db.tableExists("release_metadata") else {
                return try Row.fetchAll(
                    db, sql: "SELECT version, filename FROM release WHERE project_normalized = ?",
                    arguments: [ReleasePath.normalize(project)]
                ).map {
                    ReleaseContact(version: $0["version"], filename: $0["filename"], uploadedAt: nil, metadata: nil)
                }
            }
            let contacts = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.version, r.filename, r.uploaded_at, m.release_id AS has_metadata, m.source, m.name,
                           m.version AS metadata_version, m.author, m.author_email, m.maintainer, m.maintainer_email,
                           m.home_page, m.project_urls, m.problems
                    FROM release r LEFT JOIN release_metadata m ON m.release_id = r.id
                    WHERE r.project_normalized = ?
                    """, arguments: [ReleasePath.normalize(project)]
            ).map { row -> ReleaseContact in
                var metadata: CoreMetadata?
                if (row["has_metadata"] as Int64?) != nil {
                    var read = CoreMetadata()
                    read.source = row["source"]
                    read.name = row["name"]
                    read.version = row["metadata_version"]
                    read.author = row["author"]
                    read.authorEmail = row["author_email"]
                    read.maintainer = row["maintainer"]
                    read.maintainerEmail = row["maintainer_email"]
                    read.homePage = row["home_page"]
                    read.projectURLs = Self.stringList(row["project_urls"])
                    read.problems = Self.stringList(row["problems"])
                    metadata = read
                }
                return ReleaseContact(
                    version: row["version"], filename: row["filename"], uploadedAt: row["uploaded_at"],
                    metadata: metadata)
            }
            return contacts.sorted {
                let l = UploadedVersion($0.version, uploadedAt: $0.uploadedAt)
                let r = UploadedVersion($1.version, uploadedAt: $1.uploadedAt)
                return l != r ? r < l : $0.filename < $1.filename
            }
        }
    }

    /// Projects (as the mirror spells them, one spelling each) with findings in any of `statuses`.
    public func projectsWithFindings(statuses: Set<TriageStatus>) throws -> [String] {
        try queue.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT min(r.project) FROM match m
                    JOIN finding f ON f.id = m.finding_id
                    LEFT JOIN rule ru ON ru.id = f.rule
                    LEFT JOIN triage t ON t.fingerprint = f.fingerprint
                    JOIN provenance p ON p.blob = m.blob
                    JOIN release r ON r.id = p.release_id
                    WHERE r.project <> '' AND \(Self.statusSQL) IN (\(Self.sqlList(statuses.map(\.rawValue))))
                    GROUP BY r.project_normalized ORDER BY r.project_normalized
                    """)
        }
    }

    static func stringList(_ json: String?) -> [String] {
        json.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
    }
}
