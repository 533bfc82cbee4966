import Foundation

/// Where tests keep compiled Hyperscan databases: a temporary folder shared by the test runs of this machine,
/// so that the shipped packs compile once, and nothing is written under `~`.
enum TestCache {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shardscan-tests-cache").path
}
