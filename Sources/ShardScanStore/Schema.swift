import Foundation
import GRDB
import ShardScanCore

/// The store's migrations. Each is named and never edited once released; changes come as new ones.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-initial") { db in
            try db.execute(
                sql: """
                    CREATE TABLE shard (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        path TEXT NOT NULL,
                        reference TEXT NOT NULL
                    );
                    CREATE TABLE rule_set (
                        id INTEGER PRIMARY KEY,
                        digest TEXT NOT NULL UNIQUE
                    );
                    CREATE TABLE run (
                        id INTEGER PRIMARY KEY,
                        started_at TEXT NOT NULL,
                        finished_at TEXT,
                        status TEXT NOT NULL,
                        rule_set_id INTEGER NOT NULL REFERENCES rule_set(id),
                        rule_count INTEGER NOT NULL,
                        shards INTEGER NOT NULL DEFAULT 0,
                        shards_failed INTEGER NOT NULL DEFAULT 0,
                        commits INTEGER NOT NULL DEFAULT 0,
                        blobs_new INTEGER NOT NULL DEFAULT 0,
                        blobs_seen INTEGER NOT NULL DEFAULT 0,
                        blobs_binary INTEGER NOT NULL DEFAULT 0,
                        blobs_too_large INTEGER NOT NULL DEFAULT 0,
                        bytes_scanned INTEGER NOT NULL DEFAULT 0,
                        findings_new INTEGER NOT NULL DEFAULT 0,
                        secrets_new INTEGER NOT NULL DEFAULT 0,
                        rule_failures INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE run_shard (
                        run_id INTEGER NOT NULL REFERENCES run(id),
                        shard_id INTEGER NOT NULL REFERENCES shard(id),
                        status TEXT NOT NULL,
                        message TEXT NOT NULL DEFAULT '',
                        from_commit TEXT,
                        to_commit TEXT,
                        commits INTEGER NOT NULL DEFAULT 0,
                        blobs_new INTEGER NOT NULL DEFAULT 0,
                        findings_new INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (run_id, shard_id)
                    );
                    CREATE TABLE watermark (
                        shard_id INTEGER PRIMARY KEY REFERENCES shard(id),
                        commit_oid TEXT NOT NULL,
                        run_id INTEGER NOT NULL REFERENCES run(id),
                        updated_at TEXT NOT NULL
                    );
                    -- The dedupe set: every blob scanned, once, with the rule set it was scanned with.
                    CREATE TABLE blob (
                        oid BLOB PRIMARY KEY,
                        size INTEGER NOT NULL,
                        rule_set_id INTEGER NOT NULL,
                        skipped TEXT,
                        match_count INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE release (
                        id INTEGER PRIMARY KEY,
                        shard_id INTEGER NOT NULL REFERENCES shard(id),
                        project TEXT NOT NULL,
                        project_normalized TEXT NOT NULL,
                        version TEXT NOT NULL,
                        filename TEXT NOT NULL,
                        commit_oid TEXT NOT NULL,
                        UNIQUE (shard_id, project, filename)
                    );
                    CREATE INDEX release_by_project ON release(project_normalized, version);
                    -- Where blobs with findings appear; blobs without findings keep no locations.
                    CREATE TABLE provenance (
                        blob BLOB NOT NULL,
                        release_id INTEGER NOT NULL REFERENCES release(id),
                        shard_path TEXT NOT NULL,
                        path TEXT NOT NULL,
                        commit_oid TEXT NOT NULL,
                        run_id INTEGER NOT NULL REFERENCES run(id),
                        PRIMARY KEY (blob, release_id, shard_path)
                    ) WITHOUT ROWID;
                    CREATE INDEX provenance_by_release ON provenance(release_id);
                    CREATE INDEX provenance_by_run ON provenance(run_id);
                    -- One secret found by one rule, wherever it appears.
                    CREATE TABLE finding (
                        id INTEGER PRIMARY KEY,
                        rule TEXT NOT NULL,
                        fingerprint TEXT NOT NULL UNIQUE,
                        secret TEXT NOT NULL,
                        secret_hash TEXT NOT NULL,
                        first_run_id INTEGER NOT NULL REFERENCES run(id)
                    );
                    CREATE INDEX finding_by_rule ON finding(rule);
                    -- Where a finding's secret sits in a blob.
                    CREATE TABLE match (
                        id INTEGER PRIMARY KEY,
                        finding_id INTEGER NOT NULL REFERENCES finding(id),
                        blob BLOB NOT NULL,
                        start INTEGER NOT NULL,
                        "end" INTEGER NOT NULL,
                        line INTEGER NOT NULL,
                        "column" INTEGER NOT NULL,
                        end_line INTEGER NOT NULL,
                        end_column INTEGER NOT NULL,
                        entropy REAL NOT NULL,
                        snippet_before TEXT NOT NULL,
                        snippet_after TEXT NOT NULL,
                        UNIQUE (blob, finding_id, start)
                    );
                    CREATE INDEX match_by_finding ON match(finding_id);
                    -- Every place every finding appears, for sqlite3 users. Secrets are not in it.
                    CREATE VIEW finding_location AS
                    SELECT f.id AS finding_id, f.rule, f.fingerprint, s.name AS shard, p.commit_oid AS "commit",
                           lower(hex(m.blob)) AS blob, r.project, r.project_normalized, r.version,
                           r.filename AS release, p.path, p.shard_path, m.line, m."column", m.end_line,
                           m.end_column, p.run_id
                    FROM match m
                    JOIN finding f ON f.id = m.finding_id
                    JOIN provenance p ON p.blob = m.blob
                    JOIN release r ON r.id = p.release_id
                    JOIN shard s ON s.id = r.shard_id;
                    CREATE VIEW shard_status AS
                    SELECT s.name AS shard, s.path, s.reference, w.commit_oid AS watermark, w.updated_at, w.run_id
                    FROM shard s LEFT JOIN watermark w ON w.shard_id = s.id;
                    """)
        }
        migrator.registerMigration("v2-rule-metadata") { db in
            // Reports are rendered from the store alone, so they need what each rule was when it last ran.
            try db.execute(
                sql: """
                    CREATE TABLE rule (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        severity TEXT NOT NULL,
                        confidence TEXT NOT NULL,
                        categories TEXT NOT NULL,
                        description TEXT NOT NULL,
                        "references" TEXT NOT NULL,
                        updated_run_id INTEGER NOT NULL REFERENCES run(id)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v3-finding-facts") { db in
            // Validators decode facts from a secret (a PyPI token's scope) and may lower a finding's
            // confidence; content rules are reported unredacted, so the kind is kept with the rule.
            try db.execute(
                sql: """
                    ALTER TABLE finding ADD COLUMN confidence TEXT;
                    ALTER TABLE finding ADD COLUMN facts TEXT NOT NULL DEFAULT '{}';
                    ALTER TABLE rule ADD COLUMN kind TEXT NOT NULL DEFAULT 'secret';
                    """)
        }
        migrator.registerMigration("v4-triage-deliveries") { db in
            // Triage is keyed on the fingerprint alone, with no reference to `finding`: an imported status may
            // arrive before its secret is ever found, and must apply when it is. `delivery` holds, per delivery
            // kind, the last run whose every place was written out in full (see `Store.deliveryCursor`).
            try db.execute(
                sql: """
                    CREATE TABLE triage (
                        fingerprint TEXT PRIMARY KEY,
                        rule TEXT,
                        status TEXT NOT NULL,
                        comment TEXT NOT NULL DEFAULT '',
                        author TEXT NOT NULL,
                        changed_at TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE triage_event (
                        id INTEGER PRIMARY KEY,
                        fingerprint TEXT NOT NULL,
                        status TEXT NOT NULL,
                        comment TEXT NOT NULL,
                        author TEXT NOT NULL,
                        changed_at TEXT NOT NULL,
                        source TEXT NOT NULL
                    );
                    CREATE INDEX triage_event_by_fingerprint ON triage_event(fingerprint, id);
                    CREATE TABLE delivery (
                        kind TEXT PRIMARY KEY,
                        run_id INTEGER NOT NULL,
                        delivered_at TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX finding_by_first_run ON finding(first_run_id);
                    """)
            // A store scanned before deliveries existed starts its cursors at its last run: what those runs
            // found was written by the old per-run `--json`, and the first delivery should not repeat all of it.
            try db.execute(
                sql: """
                    INSERT INTO delivery (kind, run_id, delivered_at)
                    SELECT kind, (SELECT max(id) FROM run), strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
                    FROM (SELECT 'json' AS kind UNION ALL SELECT 'jsonl')
                    WHERE EXISTS (SELECT 1 FROM run)
                    """)
        }
        migrator.registerMigration("v4-shard-git-directory") { db in
            // A shard's identity beyond its name: the resolved git directory it was last scanned from, so that
            // another repository under the same name is told apart from the shard having moved.
            try db.execute(sql: "ALTER TABLE shard ADD COLUMN git_dir TEXT")
        }
        migrator.registerMigration("v4-raw-path-bytes") { db in
            // Tree paths need not be UTF-8; text columns hold them with U+FFFD, so two paths differing only in
            // such bytes looked the same and shared a key. The exact bytes are kept beside the text (empty when
            // the text is exact) and are part of the key, which SQLite cannot change in place: the table is rebuilt.
            try db.execute(
                sql: """
                    DROP VIEW finding_location;
                    CREATE TABLE provenance_new (
                        blob BLOB NOT NULL,
                        release_id INTEGER NOT NULL REFERENCES release(id),
                        shard_path TEXT NOT NULL,
                        -- Beside the other key columns: SQLite 3.40's integrity_check misreads a WITHOUT ROWID
                        -- table whose key columns are not its first ones.
                        shard_path_bytes BLOB NOT NULL DEFAULT X'',
                        path TEXT NOT NULL,
                        commit_oid TEXT NOT NULL,
                        run_id INTEGER NOT NULL REFERENCES run(id),
                        PRIMARY KEY (blob, release_id, shard_path, shard_path_bytes)
                    ) WITHOUT ROWID;
                    INSERT INTO provenance_new (blob, release_id, shard_path, path, commit_oid, run_id)
                        SELECT blob, release_id, shard_path, path, commit_oid, run_id FROM provenance;
                    DROP TABLE provenance;
                    ALTER TABLE provenance_new RENAME TO provenance;
                    CREATE INDEX provenance_by_release ON provenance(release_id);
                    CREATE INDEX provenance_by_run ON provenance(run_id);
                    CREATE VIEW finding_location AS
                    SELECT f.id AS finding_id, f.rule, f.fingerprint, s.name AS shard, p.commit_oid AS "commit",
                           lower(hex(m.blob)) AS blob, r.project, r.project_normalized, r.version,
                           r.filename AS release, p.path, p.shard_path, m.line, m."column", m.end_line,
                           m.end_column, p.run_id, nullif(p.shard_path_bytes, X'') AS shard_path_bytes
                    FROM match m
                    JOIN finding f ON f.id = m.finding_id
                    JOIN provenance p ON p.blob = m.blob
                    JOIN release r ON r.id = p.release_id
                    JOIN shard s ON s.id = r.shard_id;
                    """)
        }
        migrator.registerMigration("v5-sarif-state") { db in
            // SARIF counts columns in UTF-16 code units, which the bytes of a line alone cannot give back once a
            // snippet is cut short: they are measured when the blob is scanned (NULL for matches stored before).
            // `sarif_state` holds, per shard, what its last SARIF state delivery said (a digest of its run), so
            // that only shards whose state changed are uploaded again, and a shard whose findings are all gone
            // still gets the empty run that closes its alerts.
            try db.execute(
                sql: """
                    ALTER TABLE match ADD COLUMN column_utf16 INTEGER;
                    ALTER TABLE match ADD COLUMN end_column_utf16 INTEGER;
                    CREATE TABLE sarif_state (
                        shard TEXT PRIMARY KEY,
                        digest TEXT NOT NULL,
                        results INTEGER NOT NULL,
                        delivered_at TEXT NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v5-mirror-sync") { db in
            // The last `mirror sync` of each shard, by the shard's folder name; kept apart from `shard`, which
            // the scan fills, because a shard is synced before it is ever scanned.
            try db.execute(
                sql: """
                    CREATE TABLE mirror_sync (
                        name TEXT PRIMARY KEY,
                        url TEXT NOT NULL,
                        path TEXT NOT NULL,
                        status TEXT NOT NULL,
                        message TEXT NOT NULL DEFAULT '',
                        tip TEXT,
                        bytes INTEGER NOT NULL DEFAULT 0,
                        seconds REAL NOT NULL DEFAULT 0,
                        verified TEXT,
                        synced_at TEXT NOT NULL,
                        last_success_at TEXT
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v6-release-metadata") { db in
            // Leak timelines and disclosure notices need, per release, when it was uploaded (its commit's date)
            // and whom it names as author and maintainer; and, per project, its newest release even when that
            // release has no findings (`project_release`: every release file seen, one row per version), to tell
            // whether a secret is still in the latest release.
            try db.execute(
                sql: """
                    ALTER TABLE release ADD COLUMN uploaded_at TEXT;
                    CREATE TABLE release_metadata (
                        release_id INTEGER PRIMARY KEY REFERENCES release(id),
                        source TEXT NOT NULL,
                        name TEXT,
                        version TEXT,
                        author TEXT,
                        author_email TEXT,
                        maintainer TEXT,
                        maintainer_email TEXT,
                        home_page TEXT,
                        project_urls TEXT NOT NULL DEFAULT '[]',
                        problems TEXT NOT NULL DEFAULT '[]'
                    );
                    CREATE TABLE project_release (
                        project_normalized TEXT NOT NULL,
                        version TEXT NOT NULL,
                        uploaded_at TEXT NOT NULL,
                        PRIMARY KEY (project_normalized, version)
                    ) WITHOUT ROWID;
                    CREATE INDEX finding_by_secret_hash ON finding(secret_hash);
                    """)
        }
        migrator.registerMigration("v7-merge-keys") { db in
            // Every key in the store is a local auto-increment id; `merge` folds stores of many workers into one
            // on natural keys, and a run has none. Each run gets a random one at insert (the trigger, so that no
            // writer has to remember it); a store seeded from a merged one keeps its runs' keys, so merging it
            // back recognises them instead of adding them twice.
            try db.execute(
                sql: """
                    ALTER TABLE run ADD COLUMN uid TEXT;
                    UPDATE run SET uid = lower(hex(randomblob(16)));
                    CREATE UNIQUE INDEX run_by_uid ON run(uid);
                    CREATE TRIGGER run_uid AFTER INSERT ON run WHEN NEW.uid IS NULL BEGIN
                        UPDATE run SET uid = lower(hex(randomblob(16))) WHERE id = NEW.id;
                    END;
                    CREATE INDEX triage_event_by_change ON triage_event(fingerprint, changed_at);
                    """)
        }
        migrator.registerMigration("v8-commit-ids-as-blobs") { db in
            // Commit ids are kept as their 20 bytes, like blob ids, so that they go from the walk to the store and
            // back as one `ObjectID` with no text in between. SQLite cannot change a column's declared type in
            // place; a BLOB in a TEXT column stays a BLOB (TEXT affinity converts only numbers), so the values are
            // converted where they are and the declared types stay. `unhex()` came with SQLite 3.41, newer than
            // some systems', hence a function of our own. The views print the ids as the same lower-case hex (and
            // a shard never scanned with NULL, not the empty string `hex(NULL)` gives).
            let commitID = Schema.commitIDFromHex()
            db.add(function: commitID)
            defer { db.remove(function: commitID) }
            try db.execute(
                sql: """
                    UPDATE watermark SET commit_oid = shardscan_commit_id(commit_oid);
                    UPDATE release SET commit_oid = shardscan_commit_id(commit_oid);
                    UPDATE provenance SET commit_oid = shardscan_commit_id(commit_oid);
                    UPDATE run_shard SET from_commit = shardscan_commit_id(from_commit),
                        to_commit = shardscan_commit_id(to_commit)
                        WHERE from_commit IS NOT NULL OR to_commit IS NOT NULL;
                    DROP VIEW finding_location;
                    CREATE VIEW finding_location AS
                    SELECT f.id AS finding_id, f.rule, f.fingerprint, s.name AS shard, lower(hex(p.commit_oid)) AS "commit",
                           lower(hex(m.blob)) AS blob, r.project, r.project_normalized, r.version,
                           r.filename AS release, p.path, p.shard_path, m.line, m."column", m.end_line,
                           m.end_column, p.run_id, nullif(p.shard_path_bytes, X'') AS shard_path_bytes
                    FROM match m
                    JOIN finding f ON f.id = m.finding_id
                    JOIN provenance p ON p.blob = m.blob
                    JOIN release r ON r.id = p.release_id
                    JOIN shard s ON s.id = r.shard_id;
                    DROP VIEW shard_status;
                    CREATE VIEW shard_status AS
                    SELECT s.name AS shard, s.path, s.reference, nullif(lower(hex(w.commit_oid)), '') AS watermark,
                           w.updated_at, w.run_id
                    FROM shard s LEFT JOIN watermark w ON w.shard_id = s.id;
                    """)
        }
        migrator.registerMigration("v9-rule-coverage") { db in
            // Backfill: which rules each blob has seen. A blob still points to one rule set; a set's members are
            // the digests of its rules (`Rule.matchDigest`), and sets made by backfill or by rules failing on a
            // blob are interned by `members_digest` (a digest over the sorted member digests). Sets recorded
            // before this migration get members when a run uses them again (their whole-set digest is over the
            // same definitions, so the run's rules are exactly theirs); the others stay unknown and their blobs
            // are backfilled with every rule. `backfill` is each shard's position, for resuming.
            try db.execute(
                sql: """
                    ALTER TABLE rule_set ADD COLUMN members_digest TEXT;
                    CREATE INDEX rule_set_by_members ON rule_set(members_digest);
                    CREATE TABLE rule_set_member (
                        rule_set_id INTEGER NOT NULL REFERENCES rule_set(id),
                        rule_digest TEXT NOT NULL,
                        rule_id TEXT NOT NULL,
                        PRIMARY KEY (rule_set_id, rule_digest)
                    ) WITHOUT ROWID;
                    CREATE INDEX blob_by_rule_set ON blob(rule_set_id);
                    CREATE INDEX blob_too_large ON blob(size) WHERE skipped = 'too-large';
                    CREATE TABLE backfill (
                        shard_id INTEGER PRIMARY KEY REFERENCES shard(id),
                        rule_set_id INTEGER NOT NULL REFERENCES rule_set(id),
                        max_blob_size INTEGER NOT NULL,
                        commit_oid BLOB,
                        done INTEGER NOT NULL DEFAULT 0,
                        run_id INTEGER NOT NULL REFERENCES run(id),
                        updated_at TEXT NOT NULL
                    );
                    """)
        }
        return migrator
    }

    /// `shardscan_commit_id(text)`: the 20 bytes of a commit id written as 40 hexadecimal digits; NULL stays
    /// NULL, and a value already converted stays as it is. Anything else stops the migration, naming the value,
    /// rather than leave a store its readers cannot decode.
    static func commitIDFromHex() -> DatabaseFunction {
        DatabaseFunction("shardscan_commit_id", argumentCount: 1, pure: true) { values in
            let value = values[0]
            switch value.storage {
            case .null: return nil
            case .blob(let data) where data.count == 20: return data
            case .string(let text):
                if let id = ObjectID(hex: text) { return Data(id.bytes) }
                throw StoreError(
                    "cannot convert commit id \(text.debugDescription) to 20 bytes: not 40 hexadecimal digits")
            default:
                throw StoreError("cannot convert commit id \(value) to 20 bytes")
            }
        }
    }

    /// SQL that prints the commit id in `column` as lower-case hex, whether the store has it as 20 bytes
    /// (`v8-commit-ids-as-blobs`) or still as the text older stores kept, which read commands read as it is.
    static func commitHex(_ column: String) -> String {
        "(CASE typeof(\(column)) WHEN 'blob' THEN lower(hex(\(column))) ELSE \(column) END)"
    }

    /// The last migration the queries of read commands (`findings`, `report`, `summary`, `status`) need. Read commands
    /// never migrate, so later migrations must only add what they can do without.
    static let lastNeededByReaders = "v5-sarif-state"

    /// Migrations before ``lastNeededByReaders`` that read commands can do without, so that a store a scan of an
    /// older shardscan left is still read as it is.
    static let notNeededByReaders: Set<String> = ["v4-shard-git-directory"]

    /// What a store must have applied for read commands to query it.
    static var neededByReaders: [String] {
        let migrations = migrator.migrations
        let last = migrations.firstIndex(of: lastNeededByReaders)!
        return migrations[...last].filter { !notNeededByReaders.contains($0) }
    }
}
