import Foundation
import ShardScanStore
import Testing

/// The `mirror_sync` table: one row per shard, its last sync, and its last success kept through failures.
@Suite struct MirrorSyncRecordTests {
    @Test func lastSyncPerShardKeepsTheLastSuccessAndTipThroughFailures() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: folder.appendingPathComponent("s.sqlite").path)

        try store.recordMirrorSync([
            MirrorSyncRecord(
                name: "pypi-mirror-1", url: "file:///r/1.git", path: "/m/pypi-mirror-1", status: "cloned",
                tip: String(repeating: "a", count: 40), bytes: 10, seconds: 1.5, verified: "quick"),
            MirrorSyncRecord(
                name: "pypi-mirror-2", url: "file:///r/2.git", path: "/m/pypi-mirror-2", status: "failed",
                message: "clone failed"),
        ])
        var records = try store.mirrorSyncs()
        #expect(records.map(\.name) == ["pypi-mirror-1", "pypi-mirror-2"])
        let succeeded = try #require(records.first?.lastSuccessAt)
        #expect(records.first?.syncedAt == succeeded && records.first?.bytes == 10)
        #expect(records.last?.lastSuccessAt == nil && records.last?.message == "clone failed")

        try store.recordMirrorSync([
            MirrorSyncRecord(
                name: "pypi-mirror-1", url: "file:///r/1.git", path: "/m/pypi-mirror-1", status: "failed",
                message: "fetch failed")
        ])
        records = try store.mirrorSyncs()
        #expect(records.count == 2)
        #expect(records.first?.status == "failed" && records.first?.message == "fetch failed")
        #expect(records.first?.lastSuccessAt == succeeded)
        #expect(records.first?.tip == String(repeating: "a", count: 40))
        #expect(records.first?.verified == nil)
    }
}
