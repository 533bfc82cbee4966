import Foundation
import GRDB
import ShardScanCore

#if canImport(Glibc)
    import Glibc
#endif

// How `shardscan merge` folds a worker's store into the main one, table by table. Every local id is replaced
// by the natural key it stands for; every write is an insert that ignores what is there, or an update that
// only ever moves forward, so that merging the same store twice changes nothing.
//
// | table              | natural key                               | on a row both stores have                    |
// |--------------------|-------------------------------------------|----------------------------------------------|
// | rule_set           | digest                                    | same row; members filled when MAIN lacks them|
// | rule_set_member    | rule set digest + rule digest             | same row                                     |
// | backfill           | shard name                                | the later position                           |
// | run                | uid (v7-merge-keys)                       | MAIN's, unless MAIN's is still `running`     |
// | run_shard          | run uid + shard name                      | MAIN's                                       |
// | shard              | name                                      | MAIN's, moved with the watermark             |
// | watermark          | shard name                                | see `WatermarkDecision`: the store that      |
// |                    |                                           | moved it; both moved: conflict, descendant   |
// | blob (dedupe set)  | object id (+ rule-set digest)             | newer rule set wins; same rule set: a scan   |
// |                    |                                           | beats a `too-large` skip                     |
// | finding            | fingerprint                               | MAIN's (first run, confidence, facts)        |
// | match              | blob + fingerprint + start                | same row                                     |
// | release            | shard name + project + filename           | MAIN's; upload time filled when missing      |
// | release_metadata   | its release                               | MAIN's                                       |
// | project_release    | project + version                         | earliest upload time                         |
// | provenance         | blob + release + shard path (+ bytes)     | MAIN's                                       |
// | rule               | id                                        | the one of the later run                     |
// | triage             | fingerprint                               | newer change wins (as a triage import)       |
// | triage_event       | every column but id                       | same row                                     |
// | mirror_sync        | shard folder name                         | the later sync; last success: the later one  |
// | delivery           | not merged: cursors of MAIN's own deliveries; merged runs come after them |
// | sarif_state        | not merged: what MAIN's own SARIF deliveries said                          |

/// How two stores' watermarks of one shard relate, as the shard's repository tells it.
public enum WatermarkDescent: Sendable, Equatable {
    /// The main store's commit descends from the worker's.
    case mainDescends
    /// The worker's commit descends from the main store's.
    case workerDescends
    /// Neither descends from the other (history rewritten).
    case diverged
}

/// Two stores that each moved one shard's watermark, differently.
public struct WatermarkConflict: Sendable, Equatable {
    public var shard: String
    /// The worker store it came from.
    public var store: String
    public var mainCommit: ObjectID
    public var workerCommit: ObjectID
    /// The commit the merged store keeps.
    public var kept: ObjectID
    /// Why that one.
    public var reason: String
}

/// What a merge did.
public struct MergeOutcome: Sendable, Equatable {
    public var stores = 0
    public var runsAdded = 0
    public var blobsAdded = 0
    public var findingsAdded = 0
    public var placesAdded = 0
    public var watermarksMoved = 0
    public var triageApplied = 0
    public var conflicts: [WatermarkConflict] = []

    public init() {}

    /// Whether the merge changed nothing (the stores were merged before).
    public var isEmpty: Bool {
        runsAdded == 0 && blobsAdded == 0 && findingsAdded == 0 && placesAdded == 0 && watermarksMoved == 0
            && triageApplied == 0
    }
}

extension Store {
    /// The most worker stores attached at once: SQLite's default limit on attached databases is 10, and the
    /// merge needs no other. Stores past it are merged in further transactions.
    static let storesPerTransaction = 8

    /// Folds the stores at `paths` into this one, on natural keys (see the table above). Up to
    /// ``storesPerTransaction`` stores are merged in one transaction, so a kill leaves this store as it was or
    /// with every store of a finished transaction merged in full; merging again completes it, and merging
    /// stores already merged changes nothing. Readers see the store as it was until the transaction commits.
    ///
    /// `descent` tells, from the shard's repository (paths to try, the worker's first), how two commits
    /// relate; `nil` when the repository or a commit cannot be found. `beforeCommit` runs just before each
    /// commit (a failure thrown there rolls the transaction back).
    public func merge(
        _ paths: [String],
        descent: (_ repositories: [String], _ main: ObjectID, _ worker: ObjectID) -> WatermarkDescent?,
        beforeCommit: () throws -> Void = {}
    ) throws -> MergeOutcome {
        var outcome = MergeOutcome()
        for path in paths {
            guard SameFile.same(path, self.path) == false else {
                throw StoreError("cannot merge \(path) into itself")
            }
            try Self.prepareForMerge(path)
        }
        for start in stride(from: 0, to: paths.count, by: Self.storesPerTransaction) {
            let group = Array(paths[start..<min(start + Self.storesPerTransaction, paths.count)])
            try mergeGroup(group, descent: descent, beforeCommit: beforeCommit, into: &outcome)
        }
        return outcome
    }

    /// Refuses a file that is no shardscan store; brings a store of an older shardscan up to this one's
    /// migrations (the merge reads the run keys `v7-merge-keys` adds).
    static func prepareForMerge(_ path: String) throws {
        let reader = try Store(readingAt: path)
        let applied: Set<String> = try reader.queue.read { db in
            Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
        }
        if !Set(Schema.migrator.migrations).isSubset(of: applied) { _ = try Store(path: path) }
    }

    private func mergeGroup(
        _ paths: [String], descent: ([String], ObjectID, ObjectID) -> WatermarkDescent?,
        beforeCommit: () throws -> Void,
        into outcome: inout MergeOutcome
    ) throws {
        do {
            try queue.writeWithoutTransaction { db in
                var attached: [String] = []
                defer {
                    for alias in attached { try? db.execute(sql: "DETACH DATABASE \(alias)") }
                }
                for (index, path) in paths.enumerated() {
                    let alias = "worker\(index)"
                    try db.execute(sql: "ATTACH DATABASE ? AS \(alias)", arguments: [Self.readOnlyURI(path)])
                    attached.append(alias)
                }
                var group = MergeOutcome()
                try db.inTransaction {
                    for (alias, path) in zip(attached, paths) {
                        try Self.mergeOne(alias, path: path, db, descent: descent, into: &group)
                    }
                    try beforeCommit()
                    return .commit
                }
                outcome.stores += group.stores
                outcome.runsAdded += group.runsAdded
                outcome.blobsAdded += group.blobsAdded
                outcome.findingsAdded += group.findingsAdded
                outcome.placesAdded += group.placesAdded
                outcome.watermarksMoved += group.watermarksMoved
                outcome.triageApplied += group.triageApplied
                outcome.conflicts += group.conflicts
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError(
                "store \(path): cannot merge \(paths.joined(separator: ", ")); the transaction was rolled back: "
                    + Self.explain(error, path: path))
        }
    }

    /// A `file:` URI that opens `path` read-only (SQLite takes URIs in ATTACH as Debian builds it).
    static func readOnlyURI(_ path: String) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        return "file:\(absolute.addingPercentEncoding(withAllowedCharacters: allowed) ?? absolute)?mode=ro"
    }

    /// What to do with one shard's watermark the worker store holds.
    enum WatermarkDecision: Equatable {
        case keepMain
        case takeWorker
    }

    private static func mergeOne(
        _ w: String, path: String, _ db: Database, descent: ([String], ObjectID, ObjectID) -> WatermarkDescent?,
        into outcome: inout MergeOutcome
    ) throws {
        outcome.stores += 1
        // Watermarks first, while MAIN's runs are still only its own: a watermark set by a run the other
        // store does not have is one that store moved.
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT ws.name, ws.path AS worker_path, ms.path AS main_path, ww.commit_oid AS worker_commit,
                    mw.commit_oid AS main_commit,
                    NOT EXISTS (SELECT 1 FROM main.run r WHERE r.uid = wr.uid) AS worker_moved,
                    mr.uid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \(w).run r WHERE r.uid = mr.uid) AS main_moved
                FROM \(w).watermark ww JOIN \(w).shard ws ON ws.id = ww.shard_id JOIN \(w).run wr ON wr.id = ww.run_id
                LEFT JOIN main.shard ms ON ms.name = ws.name LEFT JOIN main.watermark mw ON mw.shard_id = ms.id
                LEFT JOIN main.run mr ON mr.id = mw.run_id
                ORDER BY ws.name
                """)
        var taken: [String] = []
        for row in rows {
            let name: String = row["name"]
            let workerCommit: ObjectID = row["worker_commit"]
            guard let mainCommit: ObjectID = row["main_commit"] else {
                taken.append(name)
                continue
            }
            if mainCommit == workerCommit { continue }
            let workerMoved: Bool = row["worker_moved"]
            let mainMoved: Bool = row["main_moved"]
            if !workerMoved { continue }
            if !mainMoved {
                taken.append(name)
                continue
            }
            let repositories = [row["worker_path"] as String?, row["main_path"] as String?].compactMap { $0 }
            var conflict = WatermarkConflict(
                shard: name, store: path, mainCommit: mainCommit, workerCommit: workerCommit, kept: mainCommit,
                reason: "")
            switch descent(repositories, mainCommit, workerCommit) {
            case .workerDescends:
                conflict.kept = workerCommit
                conflict.reason = "the worker's commit descends from the main store's"
                taken.append(name)
            case .mainDescends:
                conflict.reason = "the main store's commit descends from the worker's"
            case .diverged:
                conflict.reason = "neither commit descends from the other (history rewritten?); kept the main store's"
            case nil:
                conflict.reason = "the shard's repository or a commit cannot be found; kept the main store's"
            }
            outcome.conflicts.append(conflict)
        }

        try db.execute(
            sql: """
                INSERT OR IGNORE INTO main.rule_set (digest, members_digest)
                    SELECT digest, members_digest FROM \(w).rule_set;
                UPDATE main.rule_set SET members_digest =
                    (SELECT wrs.members_digest FROM \(w).rule_set wrs WHERE wrs.digest = rule_set.digest)
                WHERE members_digest IS NULL;
                INSERT OR IGNORE INTO main.rule_set_member (rule_set_id, rule_digest, rule_id)
                    SELECT mrs.id, m.rule_digest, m.rule_id FROM \(w).rule_set_member m
                    JOIN \(w).rule_set wrs ON wrs.id = m.rule_set_id JOIN main.rule_set mrs ON mrs.digest = wrs.digest;
                """)
        // Runs that MAIN still has as `running` (a seed taken mid-scan) take the worker's ending.
        try db.execute(
            sql: """
                UPDATE main.run SET (finished_at, status, shards, shards_failed, commits, blobs_new, blobs_seen,
                    blobs_binary, blobs_too_large, bytes_scanned, findings_new, secrets_new, rule_failures) =
                    (SELECT finished_at, status, shards, shards_failed, commits, blobs_new, blobs_seen, blobs_binary,
                        blobs_too_large, bytes_scanned, findings_new, secrets_new, rule_failures
                     FROM \(w).run wr WHERE wr.uid = run.uid)
                WHERE status = 'running' AND uid IN (SELECT uid FROM \(w).run WHERE status != 'running')
                """)
        try db.execute(
            sql: """
                INSERT INTO main.run (started_at, finished_at, status, rule_set_id, rule_count, shards, shards_failed,
                    commits, blobs_new, blobs_seen, blobs_binary, blobs_too_large, bytes_scanned, findings_new,
                    secrets_new, rule_failures, uid)
                SELECT wr.started_at, wr.finished_at, wr.status, mrs.id, wr.rule_count, wr.shards, wr.shards_failed,
                    wr.commits, wr.blobs_new, wr.blobs_seen, wr.blobs_binary, wr.blobs_too_large, wr.bytes_scanned,
                    wr.findings_new, wr.secrets_new, wr.rule_failures, wr.uid
                FROM \(w).run wr JOIN \(w).rule_set wrs ON wrs.id = wr.rule_set_id
                JOIN main.rule_set mrs ON mrs.digest = wrs.digest
                WHERE NOT EXISTS (SELECT 1 FROM main.run r WHERE r.uid = wr.uid)
                ORDER BY wr.started_at, wr.id
                """)
        outcome.runsAdded += db.changesCount
        try db.execute(
            sql: """
                DROP TABLE IF EXISTS temp.merge_run;
                CREATE TEMP TABLE merge_run (wid INTEGER PRIMARY KEY, mid INTEGER NOT NULL);
                INSERT INTO temp.merge_run SELECT wr.id, mr.id FROM \(w).run wr JOIN main.run mr ON mr.uid = wr.uid;
                INSERT OR IGNORE INTO main.shard (name, path, reference, git_dir)
                    SELECT name, path, reference, git_dir FROM \(w).shard;
                DROP TABLE IF EXISTS temp.merge_shard;
                CREATE TEMP TABLE merge_shard (wid INTEGER PRIMARY KEY, mid INTEGER NOT NULL);
                INSERT INTO temp.merge_shard SELECT ws.id, ms.id FROM \(w).shard ws JOIN main.shard ms ON ms.name = ws.name;
                INSERT OR IGNORE INTO main.run_shard (run_id, shard_id, status, message, from_commit, to_commit,
                    commits, blobs_new, findings_new)
                SELECT rm.mid, sm.mid, rs.status, rs.message, rs.from_commit, rs.to_commit, rs.commits, rs.blobs_new,
                    rs.findings_new
                FROM \(w).run_shard rs JOIN temp.merge_run rm ON rm.wid = rs.run_id
                JOIN temp.merge_shard sm ON sm.wid = rs.shard_id;
                """)

        for name in taken {
            try db.execute(
                sql: """
                    INSERT INTO main.watermark (shard_id, commit_oid, run_id, updated_at)
                    SELECT sm.mid, ww.commit_oid, rm.mid, ww.updated_at
                    FROM \(w).watermark ww JOIN \(w).shard ws ON ws.id = ww.shard_id
                    JOIN temp.merge_shard sm ON sm.wid = ws.id JOIN temp.merge_run rm ON rm.wid = ww.run_id
                    WHERE ws.name = ?1
                    ON CONFLICT(shard_id) DO UPDATE SET commit_oid = excluded.commit_oid, run_id = excluded.run_id,
                        updated_at = excluded.updated_at
                    """, arguments: [name])
            // The shard is where the store that moved its watermark last found it.
            try db.execute(
                sql: """
                    UPDATE main.shard SET (path, reference, git_dir) =
                        (SELECT ws.path, ws.reference, coalesce(ws.git_dir, shard.git_dir) FROM \(w).shard ws
                         WHERE ws.name = ?1)
                    WHERE name = ?1
                    """, arguments: [name])
            outcome.watermarksMoved += 1
        }

        // Backfill positions: the worker's, for shards whose watermark it moved or that MAIN never backfilled.
        try db.execute(
            sql: """
                INSERT INTO main.backfill (shard_id, rule_set_id, max_blob_size, commit_oid, done, run_id, updated_at)
                SELECT sm.mid, mrs.id, wb.max_blob_size, wb.commit_oid, wb.done, rm.mid, wb.updated_at
                FROM \(w).backfill wb JOIN temp.merge_shard sm ON sm.wid = wb.shard_id
                JOIN \(w).rule_set wrs ON wrs.id = wb.rule_set_id JOIN main.rule_set mrs ON mrs.digest = wrs.digest
                JOIN temp.merge_run rm ON rm.wid = wb.run_id
                WHERE true
                ON CONFLICT(shard_id) DO UPDATE SET rule_set_id = excluded.rule_set_id,
                    max_blob_size = excluded.max_blob_size, commit_oid = excluded.commit_oid, done = excluded.done,
                    run_id = excluded.run_id, updated_at = excluded.updated_at
                WHERE excluded.updated_at > backfill.updated_at
                """)
        // The dedupe set: a blob scanned anywhere is scanned for good, under the newer of two rule sets.
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO main.blob (oid, size, rule_set_id, skipped, match_count)
                SELECT wb.oid, wb.size, mrs.id, wb.skipped, wb.match_count
                FROM \(w).blob wb JOIN \(w).rule_set wrs ON wrs.id = wb.rule_set_id
                JOIN main.rule_set mrs ON mrs.digest = wrs.digest
                LEFT JOIN main.blob mb ON mb.oid = wb.oid
                WHERE mb.oid IS NULL
                   OR (mb.rule_set_id = mrs.id AND mb.skipped IS 'too-large' AND wb.skipped IS NOT 'too-large')
                   OR (mb.rule_set_id != mrs.id
                       AND coalesce((SELECT max(started_at) FROM main.run WHERE rule_set_id = mrs.id), '')
                         > coalesce((SELECT max(started_at) FROM main.run WHERE rule_set_id = mb.rule_set_id), ''))
                """)
        outcome.blobsAdded += db.changesCount
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO main.finding (rule, fingerprint, secret, secret_hash, first_run_id, confidence,
                    facts)
                SELECT f.rule, f.fingerprint, f.secret, f.secret_hash, rm.mid, f.confidence, f.facts
                FROM \(w).finding f JOIN temp.merge_run rm ON rm.wid = f.first_run_id
                ORDER BY f.id
                """)
        outcome.findingsAdded += db.changesCount
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO main.match (finding_id, blob, start, "end", line, "column", end_line, end_column,
                    entropy, snippet_before, snippet_after, column_utf16, end_column_utf16)
                SELECT mf.id, m.blob, m.start, m."end", m.line, m."column", m.end_line, m.end_column, m.entropy,
                    m.snippet_before, m.snippet_after, m.column_utf16, m.end_column_utf16
                FROM \(w).match m JOIN \(w).finding wf ON wf.id = m.finding_id
                JOIN main.finding mf ON mf.fingerprint = wf.fingerprint
                ORDER BY m.id
                """)

        try db.execute(
            sql: """
                INSERT OR IGNORE INTO main.release (shard_id, project, project_normalized, version, filename,
                    commit_oid, uploaded_at)
                SELECT sm.mid, r.project, r.project_normalized, r.version, r.filename, r.commit_oid, r.uploaded_at
                FROM \(w).release r JOIN temp.merge_shard sm ON sm.wid = r.shard_id
                ORDER BY r.id;
                DROP TABLE IF EXISTS temp.merge_release;
                CREATE TEMP TABLE merge_release (wid INTEGER PRIMARY KEY, mid INTEGER NOT NULL, uploaded_at TEXT);
                INSERT INTO temp.merge_release
                SELECT r.id, mr.id, r.uploaded_at FROM \(w).release r JOIN temp.merge_shard sm ON sm.wid = r.shard_id
                JOIN main.release mr ON mr.shard_id = sm.mid AND mr.project = r.project AND mr.filename = r.filename;
                UPDATE main.release SET uploaded_at =
                    (SELECT x.uploaded_at FROM temp.merge_release x WHERE x.mid = release.id AND x.uploaded_at IS NOT NULL)
                WHERE uploaded_at IS NULL
                  AND id IN (SELECT mid FROM temp.merge_release WHERE uploaded_at IS NOT NULL);
                INSERT OR IGNORE INTO main.release_metadata (release_id, source, name, version, author, author_email,
                    maintainer, maintainer_email, home_page, project_urls, problems)
                SELECT x.mid, m.source, m.name, m.version, m.author, m.author_email, m.maintainer, m.maintainer_email,
                    m.home_page, m.project_urls, m.problems
                FROM \(w).release_metadata m JOIN temp.merge_release x ON x.wid = m.release_id;
                INSERT INTO main.project_release (project_normalized, version, uploaded_at)
                SELECT project_normalized, version, uploaded_at FROM \(w).project_release WHERE true
                ON CONFLICT(project_normalized, version) DO UPDATE
                    SET uploaded_at = min(uploaded_at, excluded.uploaded_at);
                """)
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO main.provenance (blob, release_id, shard_path, shard_path_bytes, path, commit_oid,
                    run_id)
                SELECT p.blob, x.mid, p.shard_path, p.shard_path_bytes, p.path, p.commit_oid, rm.mid
                FROM \(w).provenance p JOIN temp.merge_release x ON x.wid = p.release_id
                JOIN temp.merge_run rm ON rm.wid = p.run_id
                """)
        outcome.placesAdded += db.changesCount
        try db.execute(
            sql: """
                INSERT INTO main.rule (id, name, severity, confidence, categories, description, "references",
                    updated_run_id, kind)
                SELECT r.id, r.name, r.severity, r.confidence, r.categories, r.description, r."references", rm.mid, r.kind
                FROM \(w).rule r JOIN temp.merge_run rm ON rm.wid = r.updated_run_id WHERE true
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, severity = excluded.severity,
                    confidence = excluded.confidence, categories = excluded.categories,
                    description = excluded.description, "references" = excluded."references",
                    updated_run_id = excluded.updated_run_id, kind = excluded.kind
                WHERE (SELECT started_at FROM main.run WHERE id = excluded.updated_run_id)
                    > (SELECT started_at FROM main.run WHERE id = rule.updated_run_id);
                INSERT INTO main.mirror_sync (name, url, path, status, message, tip, bytes, seconds, verified,
                    synced_at, last_success_at)
                SELECT name, url, path, status, message, tip, bytes, seconds, verified, synced_at, last_success_at
                FROM \(w).mirror_sync WHERE true
                ON CONFLICT(name) DO UPDATE SET url = excluded.url, path = excluded.path, status = excluded.status,
                    message = excluded.message, tip = coalesce(excluded.tip, mirror_sync.tip), bytes = excluded.bytes,
                    seconds = excluded.seconds, verified = excluded.verified, synced_at = excluded.synced_at,
                    last_success_at = max(coalesce(excluded.last_success_at, ''),
                        coalesce(mirror_sync.last_success_at, ''))
                WHERE excluded.synced_at > mirror_sync.synced_at;
                UPDATE main.mirror_sync SET last_success_at = NULL WHERE last_success_at = '';
                """)

        // Triage as a triage file is imported: the newer change wins; the history keeps every change once.
        let theirs = try Row.fetchAll(
            db,
            sql: "SELECT fingerprint, rule, status, comment, author, changed_at FROM \(w).triage ORDER BY fingerprint")
        for row in theirs {
            guard let status = TriageStatus(rawValue: row["status"]) else { continue }
            var record = TriageRecord(
                fingerprint: row["fingerprint"], rule: row["rule"], status: status, comment: row["comment"],
                author: row["author"], changedAt: row["changed_at"])
            if let local = try TriageRecord.fetchOne(
                db, sql: "SELECT * FROM main.triage WHERE fingerprint = ?", arguments: [record.fingerprint])
            {
                guard record.isNewer(than: local) else { continue }
                if record.rule == nil { record.rule = local.rule }
            }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO main.triage (fingerprint, rule, status, comment, author, changed_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.fingerprint, record.rule, record.status.rawValue, record.comment, record.author,
                    record.changedAt,
                ])
            outcome.triageApplied += 1
        }
        try db.execute(
            sql: """
                INSERT INTO main.triage_event (fingerprint, status, comment, author, changed_at, source)
                SELECT e.fingerprint, e.status, e.comment, e.author, e.changed_at, e.source FROM \(w).triage_event e
                WHERE NOT EXISTS (
                    SELECT 1 FROM main.triage_event m
                    WHERE m.fingerprint = e.fingerprint AND m.changed_at = e.changed_at AND m.status = e.status
                      AND m.comment = e.comment AND m.author = e.author AND m.source = e.source)
                ORDER BY e.id
                """)
        try db.execute(sql: "DROP TABLE temp.merge_run; DROP TABLE temp.merge_shard; DROP TABLE temp.merge_release")
    }

    /// Starts a new store at `path` as a copy of the store at `seed` (SQLite's `VACUUM INTO`, which reads a
    /// consistent snapshot even while the seed is written, unlike copying its file and write-ahead log), so
    /// that the blobs it has scanned are not read again. Written beside `path` and renamed into place, so a kill
    /// leaves no half store.
    public static func seed(_ path: String, from seed: String) throws {
        let source = try Store(readingAt: seed)
        let partial = path + ".seeding"
        unlink(partial)
        let descriptor = open(partial, O_CREAT | O_WRONLY | O_EXCL, 0o600)
        if descriptor < 0 {
            throw StoreError("cannot create \(partial): \(String(cString: strerror(errno)))")
        }
        close(descriptor)
        do {
            try source.queue.inDatabase { db in try db.execute(sql: "VACUUM INTO ?", arguments: [partial]) }
        } catch {
            unlink(partial)
            throw StoreError("cannot copy store \(seed) to \(path): \(Self.explain(error, path: seed))")
        }
        guard rename(partial, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(partial)
            throw StoreError("cannot move \(partial) to \(path): \(reason)")
        }
    }
}

/// Whether two paths name one file (so that a store is never merged into itself under another name).
enum SameFile {
    static func same(_ a: String, _ b: String) -> Bool {
        var first = stat()
        var second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}

/// What a merged store must hold the same as one process's scan of the same shards: every place of every
/// finding, each shard's watermark, the dedupe set and triage; one sorted line per row, free of local ids, run
/// ids and times of scanning (which differ between a fleet and one process by nature).
public struct StoreContent: Sendable, Equatable {
    public var places: [String]
    public var watermarks: [String]
    public var blobs: [String]
    public var triage: [String]

    /// The first lines that differ between `self` and `other`, by section, at most `limit` of them.
    public func differences(from other: StoreContent, limit: Int = 10) -> [String] {
        var found: [String] = []
        for (section, mine, theirs) in [
            ("place", places, other.places), ("watermark", watermarks, other.watermarks),
            ("blob", blobs, other.blobs), ("triage", triage, other.triage),
        ] {
            let a = Set(mine)
            let b = Set(theirs)
            found += a.subtracting(b).sorted().map { "only in the first store: \(section) \($0)" }
            found += b.subtracting(a).sorted().map { "only in the second store: \(section) \($0)" }
        }
        return Array(found.prefix(limit))
    }
}

extension Store {
    /// This store's ``StoreContent``.
    public func content() throws -> StoreContent {
        try queue.read { db in
            StoreContent(
                places: try String.fetchAll(
                    db,
                    sql: """
                        SELECT f.fingerprint || ' ' || s.name || ' ' || r.project || ' ' || r.filename || ' '
                            || p.path || ' ' || p.shard_path || ' ' || hex(p.shard_path_bytes) || ' '
                            || \(Schema.commitHex("p.commit_oid"))
                            || ' ' || lower(hex(m.blob)) || ' ' || m.start || ' ' || m.line || ':' || m."column"
                        FROM match m JOIN finding f ON f.id = m.finding_id JOIN provenance p ON p.blob = m.blob
                        JOIN release r ON r.id = p.release_id JOIN shard s ON s.id = r.shard_id
                        ORDER BY 1
                        """),
                watermarks: try String.fetchAll(
                    db,
                    sql: """
                        SELECT s.name || ' ' || \(Schema.commitHex("w.commit_oid")) FROM watermark w JOIN shard s ON s.id = w.shard_id
                        ORDER BY 1
                        """),
                blobs: try String.fetchAll(
                    db,
                    sql: """
                        SELECT lower(hex(b.oid)) || ' ' || b.size || ' ' || rs.digest || ' ' || coalesce(b.skipped, '-')
                            || ' ' || b.match_count
                        FROM blob b JOIN rule_set rs ON rs.id = b.rule_set_id ORDER BY 1
                        """),
                triage: try String.fetchAll(
                    db,
                    sql: """
                        SELECT fingerprint || ' ' || status || ' ' || author || ' ' || changed_at || ' ' || comment
                        FROM triage ORDER BY 1
                        """))
        }
    }
}
