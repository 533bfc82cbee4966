import Foundation
import GRDB
import ShardScanCore

/// The store keeps, per blob, the set of rules it has seen, so that a scan after a rule change backfills old
/// blobs for the new or changed rules only (see `docs/ARCHITECTURE.md`, backfill).
extension Store: BackfillSink {
    /// The members of rule set `ruleSetID` (empty when unknown).
    static func members(of ruleSetID: Int64, _ db: Database) throws -> [RuleMember] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT rule_id, rule_digest FROM rule_set_member WHERE rule_set_id = ?"),
            arguments: [ruleSetID]
        ).map { RuleMember(id: $0["rule_id"], digest: $0["rule_digest"]) }
    }

    /// The digest sets of members are interned by.
    static func membersDigest(_ members: [RuleMember]) -> String {
        sha256Hex("shardscan-rule-members/1\n" + members.map(\.digest).sorted().joined(separator: "\n"))
    }

    /// The id of a rule set with exactly `members`, added when there is none.
    static func internRuleSet(_ members: [RuleMember], _ db: Database) throws -> Int64 {
        let digest = membersDigest(members)
        if let id = try Int64.fetchOne(
            db, sql: "SELECT id FROM rule_set WHERE members_digest = ? ORDER BY id LIMIT 1", arguments: [digest])
        {
            return id
        }
        try db.execute(
            sql: "INSERT INTO rule_set (digest, members_digest) VALUES (?, ?)",
            arguments: ["members:" + digest, digest])
        let id = db.lastInsertedRowID
        try insertMembers(members, of: id, db)
        return id
    }

    static func insertMembers(_ members: [RuleMember], of ruleSetID: Int64, _ db: Database) throws {
        let insert = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO rule_set_member (rule_set_id, rule_digest, rule_id) VALUES (?, ?, ?)")
        for member in members { try insert.execute(arguments: [ruleSetID, member.digest, member.id]) }
    }

    /// Rule set `ruleSetID` less the rules `failed` (ids): what a blob on which they failed has seen.
    static func ruleSetID(_ ruleSetID: Int64, less failed: [String], _ db: Database) throws -> Int64 {
        guard !failed.isEmpty else { return ruleSetID }
        let failedSet = Set(failed)
        let members = try members(of: ruleSetID, db)
        // Members unknown (a sink that never recorded them): nothing better to say than the run's set.
        guard !members.isEmpty else { return ruleSetID }
        return try internRuleSet(members.filter { !failedSet.contains($0.id) }, db)
    }

    /// Rule sets with the same members as `ruleSetID` (itself included): blobs under any of them have seen the
    /// same rules.
    static func equivalentRuleSets(_ ruleSetID: Int64, _ db: Database) throws -> Set<Int64> {
        var ids: Set<Int64> = [ruleSetID]
        if let digest = try String.fetchOne(
            db.cachedStatement(sql: "SELECT members_digest FROM rule_set WHERE id = ?"), arguments: [ruleSetID])
        {
            ids.formUnion(
                try Int64.fetchAll(
                    db.cachedStatement(sql: "SELECT id FROM rule_set WHERE members_digest = ?"), arguments: [digest]))
        }
        return ids
    }

    public func recordRuleSetMembers(_ ruleSetID: Int64, rules: [RuleMember]) throws {
        try writing("record the rules of rule set \(ruleSetID)") { db in
            let known = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM rule_set_member WHERE rule_set_id = ?", arguments: [ruleSetID])
            guard known == 0 else { return }
            try Self.insertMembers(rules, of: ruleSetID, db)
            try db.execute(
                sql: "UPDATE rule_set SET members_digest = ? WHERE id = ?",
                arguments: [Self.membersDigest(rules), ruleSetID])
        }
    }

    public func ruleSetsInUse() throws -> [Int64: Set<String>?] {
        try queue.read { db in
            var sets: [Int64: Set<String>?] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, members_digest FROM rule_set") {
                let id: Int64 = row["id"]
                guard
                    try Bool.fetchOne(db, sql: "SELECT 1 FROM blob WHERE rule_set_id = ? LIMIT 1", arguments: [id])
                        ?? false
                else { continue }
                if (row["members_digest"] as String?) == nil {
                    sets[id] = .some(nil)
                } else {
                    sets[id] = Set(try Self.members(of: id, db).map(\.digest))
                }
            }
            return sets
        }
    }

    public func hasTooLargeBlobs(upTo size: Int) throws -> Bool {
        try queue.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM blob WHERE skipped = 'too-large' AND size <= ? LIMIT 1", arguments: [size])
                ?? false
        }
    }

    public func blobStates(_ oids: [ObjectID]) throws -> [ObjectID: StoredBlobState] {
        guard !oids.isEmpty else { return [:] }
        return try queue.read { db in
            var states: [ObjectID: StoredBlobState] = [:]
            for row in try Self.rows(
                of: "SELECT oid, rule_set_id, size, skipped, match_count FROM blob WHERE oid IN", for: oids, db)
            {
                let oid: ObjectID = row["oid"]
                states[oid] = StoredBlobState(
                    ruleSetID: row["rule_set_id"], size: row["size"],
                    skipped: (row["skipped"] as String?).flatMap(SkipReason.init(rawValue:)),
                    matchCount: row["match_count"], rulesWithMatches: [])
            }
            let withMatches = states.filter { $0.value.matchCount > 0 }.map(\.key)
            for row in try Self.rows(
                of: """
                    SELECT DISTINCT m.blob, f.rule FROM match m JOIN finding f ON f.id = m.finding_id
                    WHERE m.blob IN
                    """, for: withMatches, db)
            {
                states[row["blob"]]?.rulesWithMatches.append(row["rule"])
            }
            return states
        }
    }

    /// How many ids one `IN (…)` list holds: every list is this long (the last one padded with repeats), so a
    /// query is prepared once per connection, whatever the batch.
    static let idListLength = 64

    /// The rows of `sql` (ending in `IN`) for `oids`, a prepared statement per ``idListLength`` ids.
    static func rows(of sql: String, for oids: [ObjectID], _ db: Database) throws -> [Row] {
        guard let last = oids.last else { return [] }
        let statement = try db.cachedStatement(
            sql: sql + " (" + Array(repeating: "?", count: idListLength).joined(separator: ",") + ")")
        var rows: [Row] = []
        var start = oids.startIndex
        while start < oids.endIndex {
            let end = min(start + idListLength, oids.endIndex)
            var ids = Array(oids[start..<end])
            ids += Array(repeating: last, count: idListLength - ids.count)
            rows += try Row.fetchAll(statement, arguments: StatementArguments(ids))
            start = end
        }
        return rows
    }

    public func backfillPosition(shardID: Int64) throws -> BackfillPosition? {
        try queue.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT rule_set_id, max_blob_size, commit_oid, done, run_id FROM backfill WHERE shard_id = ?",
                arguments: [shardID]
            ).map {
                BackfillPosition(
                    ruleSetID: $0["rule_set_id"], maxBlobSize: $0["max_blob_size"],
                    commit: $0["commit_oid"] as ObjectID?, done: $0["done"], runID: $0["run_id"])
            }
        }
    }

    @discardableResult
    public func writeBackfill(_ batch: Batch, ruleSetID: Int64, maxBlobSize: Int) throws -> RunCounters {
        try writing("write a backfill batch (\(batch.counters.commits) commits, \(batch.blobs.count) blobs)") { db in
            var counters = batch.counters
            // Statements are prepared once per connection: a backfill writes many small batches.
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO blob (oid, size, rule_set_id, skipped, match_count) VALUES (?1, ?2, ?3, ?4, ?5)
                    ON CONFLICT(oid) DO UPDATE SET size = ?2, rule_set_id = ?3, skipped = ?4, match_count = ?5
                    """)
            let upsertUnread = try db.cachedStatement(
                sql: """
                    INSERT INTO blob (oid, size, rule_set_id, skipped, match_count) VALUES (?1, 0, ?2, NULL, ?3)
                    ON CONFLICT(oid) DO UPDATE SET rule_set_id = ?2, match_count = ?3,
                        skipped = CASE WHEN skipped = 'too-large' THEN NULL ELSE skipped END
                    """)
            let upsertTooLarge = try db.cachedStatement(
                sql: """
                    INSERT INTO blob (oid, size, rule_set_id, skipped, match_count) VALUES (?1, ?2, ?3, 'too-large', 0)
                    ON CONFLICT(oid) DO UPDATE SET size = ?2
                    """)
            var runRules: [String]?
            for blob in batch.blobs {
                if blob.notRead {
                    // No rule it lacked applies to its path: it has seen them all, with nothing to find.
                    try Self.writeMatches(
                        of: blob, replacingRules: blob.rulesRun, runID: batch.runID, counters: &counters, db)
                    try upsertUnread.execute(arguments: [blob.oid, ruleSetID, try Self.matchCount(of: blob.oid, db)])
                    continue
                }
                if blob.skipped == .tooLarge {
                    // Still over the limit: it has seen no rule.
                    try upsertTooLarge.execute(arguments: [blob.oid, blob.size, ruleSetID])
                    continue
                }
                let setID = try Self.ruleSetID(ruleSetID, less: blob.failedRules, db)
                if blob.rulesRun == nil && runRules == nil { runRules = try Self.members(of: ruleSetID, db).map(\.id) }
                try Self.writeMatches(
                    of: blob, replacingRules: blob.rulesRun ?? runRules, runID: batch.runID, counters: &counters, db)
                try upsert.execute(arguments: [
                    blob.oid, blob.size, setID, blob.skipped?.rawValue, try Self.matchCount(of: blob.oid, db),
                ])
            }
            try Self.writePlaces(of: batch, counters: &counters, db)
            if let commit = batch.watermark {
                try Self.setBackfillPosition(
                    shardID: batch.shardID, ruleSetID: ruleSetID, maxBlobSize: maxBlobSize, commit: commit, done: false,
                    runID: batch.runID, db)
            }
            try db.cachedStatement(
                sql: "UPDATE run SET findings_new = findings_new + ?, secrets_new = secrets_new + ? WHERE id = ?"
            ).execute(arguments: [counters.findingsNew, counters.secretsNew, batch.runID])
            return counters
        }
    }

    public func finishBackfill(
        shardID: Int64, ruleSetID: Int64, maxBlobSize: Int, commit: ObjectID, runID: Int64
    ) throws {
        try writing("record the backfill of shard \(shardID)") { db in
            try Self.setBackfillPosition(
                shardID: shardID, ruleSetID: ruleSetID, maxBlobSize: maxBlobSize, commit: commit, done: true,
                runID: runID, db)
        }
    }

    public func retryBackfill(shardID: Int64, ruleSetID: Int64, maxBlobSize: Int, runID: Int64) throws {
        try writing("record a backfill retry for shard \(shardID)") { db in
            try Self.setBackfillPosition(
                shardID: shardID, ruleSetID: ruleSetID, maxBlobSize: maxBlobSize, commit: nil, done: false,
                runID: runID, db)
        }
    }

    static func setBackfillPosition(
        shardID: Int64, ruleSetID: Int64, maxBlobSize: Int, commit: ObjectID?, done: Bool, runID: Int64,
        _ db: Database
    ) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO backfill (shard_id, rule_set_id, max_blob_size, commit_oid, done, run_id, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(shard_id) DO UPDATE SET rule_set_id = excluded.rule_set_id,
                    max_blob_size = excluded.max_blob_size, commit_oid = excluded.commit_oid, done = excluded.done,
                    run_id = excluded.run_id, updated_at = excluded.updated_at
                """
        ).execute(arguments: [shardID, ruleSetID, maxBlobSize, commit, done, runID, now()])
    }
}
