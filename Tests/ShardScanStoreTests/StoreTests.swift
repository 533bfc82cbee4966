import Foundation
import GRDB
import ShardScanCore
import ShardScanStore
import Testing

@Suite final class StoreTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A new store in the test's folder, with a rule set, a run of it and a shard.
    func openStore(_ name: String) throws -> (store: Store, ruleSetID: Int64, runID: Int64, shardID: Int64) {
        let store = try Store(path: folder.appendingPathComponent(name).path)
        let ruleSetID = try store.ruleSetID(digest: "d1")
        let runID = try store.startRun(ruleSetID: ruleSetID, ruleCount: 1)
        let shardID = try store.shardID(name: "s1", path: "/m/s1", reference: "refs/heads/code")
        return (store, ruleSetID, runID, shardID)
    }

    @Test func newStoreIsPrivate() throws {
        let path = folder.appendingPathComponent("s.sqlite").path
        _ = try Store(path: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func storeFromANewerVersionIsRefused() throws {
        let path = folder.appendingPathComponent("newer.sqlite").path
        _ = try Store(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        }
        #expect(throws: StoreError.self) { try Store(path: path) }
    }

    /// A blob holding a dump of many keys: every row's snippet still hides the keys beside it, and a repeat of
    /// its own key; texts of far-away keys are left out past the per-blob limit (positions never are).
    @Test func snippetsHideEveryNearSecretEvenInABlobFullOfThem() throws {
        let store = try Store(path: folder.appendingPathComponent("dump.sqlite").path)
        let ruleSetID = try store.ruleSetID(digest: "d1")
        let runID = try store.startRun(ruleSetID: ruleSetID, ruleCount: 1)
        let shardID = try store.shardID(name: "s1", path: "/m/s1", reference: "refs/heads/code")
        let oid = ObjectID(bytes: [UInt8](repeating: 9, count: 20))!
        var mint = TokenMint(seed: 21)
        var findings: [Finding] = []
        var offset = 0
        var lines: [[String]] = []
        for line in 1...300 {
            // Two keys a line: `a=KEY1 b=KEY2`.
            let keys = [
                mint.string(20, from: TokenMint.base62Alphabet), mint.string(20, from: TokenMint.base62Alphabet),
            ]
            lines.append(keys)
            let firstStart = offset + 2
            let secondStart = firstStart + 23
            for (index, start) in [firstStart, secondStart].enumerated() {
                findings.append(
                    Finding(
                        ruleID: "demo.rule", start: start, end: start + 20, line: line, column: start - offset + 1,
                        endLine: line, endColumn: start - offset + 21, secret: keys[index], entropy: 4,
                        snippetBefore: index == 0 ? "a=" : "a=\(keys[0]) b=",
                        snippetAfter: index == 0 ? " b=\(keys[1])" : ""))
            }
            offset += 2 + 20 + 3 + 20 + 1
        }
        var batch = Batch(runID: runID, shardID: shardID)
        batch.watermark = ObjectID(hex: String(repeating: "1", count: 40))
        batch.blobs = [ScannedBlob(oid: oid, size: offset, skipped: nil, findings: findings)]
        let shardPath = "packages/p/p-1.0.tar.gz/p-1.0/keys.txt"
        batch.locations = [
            BlobLocation(
                oid: oid, release: ReleasePath.parse(shardPath), shardPath: shardPath,
                commit: batch.watermark!, matchCount: findings.count)
        ]
        try store.write(batch, ruleSetID: ruleSetID)
        let rows = try store.findings(FindingQuery()).map { $0.presented(showSecrets: false) }
        #expect(rows.count == 600)
        for row in rows {
            let keys = lines[row.line - 1]
            #expect(!keys.contains { row.snippet.contains($0.dropFirst(4)) }, "\(row.snippet)")
        }
        let shown = try store.findings(FindingQuery()).map { $0.presented(showSecrets: true) }
        #expect(shown.allSatisfy { row in lines[row.line - 1].allSatisfy { row.snippet.contains($0) } })
    }

    /// A backfill reads blob states many ids to a query: every stored blob is answered, whatever the count,
    /// and unknown ones are left out.
    @Test func blobStatesAnswerEveryStoredBlobOfALongList() throws {
        let (store, ruleSetID, runID, shardID) = try openStore("states.sqlite")
        let oids = (0..<150).map {
            ObjectID(bytes: [UInt8](repeating: 0, count: 18) + [UInt8($0 / 100), UInt8($0 % 100)])!
        }
        var batch = Batch(runID: runID, shardID: shardID)
        // Every third blob stored, every ninth with a finding of its own.
        for (index, oid) in oids.enumerated() where index % 3 == 0 {
            let findings =
                index % 9 == 0
                ? [
                    Finding(
                        ruleID: "demo.rule\(index % 2)", start: 0, end: 8, line: 1, column: 1, endLine: 1,
                        endColumn: 9, secret: "s3cr3t\(index)", entropy: 2.5, snippetBefore: "", snippetAfter: "")
                ] : []
            batch.blobs.append(
                ScannedBlob(oid: oid, size: 100 + index, skipped: index % 2 == 0 ? nil : .binary, findings: findings))
        }
        try store.write(batch, ruleSetID: ruleSetID)
        let states = try store.blobStates(oids)
        #expect(states.count == 50)
        for (index, oid) in oids.enumerated() {
            guard index % 3 == 0 else {
                #expect(states[oid] == nil)
                continue
            }
            #expect(
                states[oid]
                    == StoredBlobState(
                        ruleSetID: ruleSetID, size: 100 + index, skipped: index % 2 == 0 ? nil : .binary,
                        matchCount: index % 9 == 0 ? 1 : 0,
                        rulesWithMatches: index % 9 == 0 ? ["demo.rule\(index % 2)"] : []),
                "blob \(index)")
        }
        #expect(try store.blobStates(Array(oids.suffix(7))).count == 2)

        // The dedupe question over the same long list: every stored blob scanned by these rules, with its match
        // count; a blob skipped as too large was not scanned, and another rule set's blobs are not these rules'.
        var tooLarge = Batch(runID: runID, shardID: shardID)
        tooLarge.blobs = [ScannedBlob(oid: oids[1], size: 1 << 30, skipped: .tooLarge, findings: [])]
        try store.write(tooLarge, ruleSetID: ruleSetID)
        let scanned = try store.scannedBlobs(oids, ruleSetID: ruleSetID)
        #expect(scanned.count == 50)
        #expect(scanned[oids[1]] == nil)
        for (index, oid) in oids.enumerated() where index % 3 == 0 {
            #expect(scanned[oid] == (index % 9 == 0 ? 1 : 0), "blob \(index)")
        }
        #expect(try store.scannedBlobs(oids, ruleSetID: store.ruleSetID(digest: "d2")).isEmpty)
    }

    /// A batch's blob rows go in key order, many to a statement: every blob of a batch longer than a statement
    /// is stored once, with its own values, and of a blob met twice in a batch the later row stands.
    @Test func everyBlobOfALongBatchIsStoredWithItsOwnRow() throws {
        let (store, ruleSetID, runID, shardID) = try openStore("rows.sqlite")
        // Ids in no order: the first byte descending, the last ascending.
        let oids = (0..<150).map {
            ObjectID(bytes: [UInt8(255 - $0)] + [UInt8](repeating: 1, count: 18) + [UInt8($0)])!
        }
        var batch = Batch(runID: runID, shardID: shardID)
        for (index, oid) in oids.enumerated() {
            batch.blobs.append(
                ScannedBlob(oid: oid, size: 1000 + index, skipped: index % 5 == 0 ? .binary : nil, findings: []))
        }
        batch.blobs.append(ScannedBlob(oid: oids[70], size: 7, skipped: .tooLarge, findings: []))
        try store.write(batch, ruleSetID: ruleSetID)
        let states = try store.blobStates(oids)
        #expect(states.count == oids.count)
        for (index, oid) in oids.enumerated() where index != 70 {
            #expect(states[oid]?.size == 1000 + index && states[oid]?.skipped == (index % 5 == 0 ? .binary : nil))
        }
        #expect(states[oids[70]]?.size == 7 && states[oids[70]]?.skipped == .tooLarge)
    }

    @Test func writingABatchTwiceAddsNoDuplicates() throws {
        let store = try Store(path: folder.appendingPathComponent("b.sqlite").path)
        let ruleSetID = try store.ruleSetID(digest: "d1")
        #expect(try store.ruleSetID(digest: "d1") == ruleSetID)
        let runID = try store.startRun(ruleSetID: ruleSetID, ruleCount: 1)
        let shardID = try store.shardID(name: "s1", path: "/m/s1", reference: "refs/heads/code")
        let oid = ObjectID(bytes: [UInt8](repeating: 7, count: 20))!
        let finding = Finding(
            ruleID: "demo.rule", start: 4, end: 10, line: 1, column: 5, endLine: 1, endColumn: 11, secret: "s3cr3t",
            entropy: 2.5, snippetBefore: "pw =", snippetAfter: "")
        var batch = Batch(runID: runID, shardID: shardID)
        batch.watermark = ObjectID(hex: String(repeating: "a", count: 40))
        batch.blobs = [ScannedBlob(oid: oid, size: 10, skipped: nil, findings: [finding])]
        batch.locations = [
            BlobLocation(
                oid: oid, release: ReleasePath.parse("packages/p/p-1.0.tar.gz/p-1.0/x.py"),
                shardPath: "packages/p/p-1.0.tar.gz/p-1.0/x.py",
                commit: ObjectID(hex: String(repeating: "a", count: 40))!,
                matchCount: 1)
        ]
        batch.counters.commits = 1
        let first = try store.write(batch, ruleSetID: ruleSetID)
        #expect(first.findingsNew == 1 && first.secretsNew == 1)
        let again = try store.write(batch, ruleSetID: ruleSetID)
        #expect(again.findingsNew == 0 && again.secretsNew == 0)
        #expect(try store.findings(FindingQuery()).count == 1)
        #expect(try store.scannedBlobs([oid], ruleSetID: ruleSetID) == [oid: 1])
        #expect(try store.scannedBlobs([oid], ruleSetID: store.ruleSetID(digest: "d2")).isEmpty)
        #expect(try store.watermark(shardID: shardID) == ObjectID(hex: String(repeating: "a", count: 40)))
    }
}
