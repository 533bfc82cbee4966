import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore

/// Builds small mirror-shaped shards in a temporary folder, one commit per release.
final class MirrorFixture {
    let root: URL
    var time: Int64 = 1_700_000_000
    var fake = FakeCredentials(seed: 42)

    static let rules = """
        rules:
          - id: github.pat-classic
            name: GitHub token
            pattern: '\\b(?<secret>ghp_[A-Za-z0-9]{36})\\b'
            min_entropy: 3.5
            keywords: [ghp_]
          - id: demo.password
            name: Password assignment
            pattern: 'password\\s*=\\s*"(?<secret>[A-Za-z0-9]{16,40})"'
            min_entropy: 3.0
            keywords: [password]
        """

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mirror-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    var storePath: String { root.appendingPathComponent("store.sqlite").path }
    var mirrorPath: String { root.appendingPathComponent("mirror").path }

    func shardPath(_ name: String) -> String { mirrorPath + "/" + name }

    func createShard(_ name: String) throws {
        _ = try Repository.create(at: shardPath(name), bare: true)
    }

    /// Adds one release commit to shard `name` on `refs/heads/code`, returning the commit.
    @discardableResult
    func addRelease(shard name: String, files: [String: String], parent explicitParent: ObjectID?? = nil)
        throws -> ObjectID
    {
        let repository = try Repository(at: shardPath(name))
        let parent = try explicitParent ?? repository.commitID(ofReference: "refs/heads/code")
        let blobs = try files.sorted { $0.key < $1.key }.map {
            (path: $0.key, blob: try repository.writeBlob(Array($0.value.utf8)))
        }
        time += 60
        return try repository.commit(
            files: blobs, parent: parent, message: "release",
            author: Signature(name: "m", email: "m@x.invalid", time: time),
            reference: "refs/heads/code")
    }

    func githubToken() -> String { fake.githubToken(prefix: "ghp_") }
    func password() -> String { fake.string(20, from: FakeCredentials.base62) }

    func ruleSet() -> RuleSet { RuleSet(LoadedRules(yaml: Self.rules, file: "fixture.yaml")) }

    /// Scans the whole mirror root into the fixture's store, collecting warnings.
    func scan(options: ScanOptions = ScanOptions(), store storePath: String? = nil) throws -> (
        MirrorScan.Summary, [String]
    ) {
        let store = try Store(path: storePath ?? self.storePath)
        var warnings: [String] = []
        let summary = try MirrorScan(sink: store, ruleSet: ruleSet(), options: options).run(
            ShardLocator.locate([mirrorPath], branch: "code")
        ) { event in
            if case .warning(let message) = event { warnings.append(message) }
        }
        return (summary, warnings)
    }

    func findings(_ query: FindingQuery = FindingQuery(), store storePath: String? = nil) throws -> [FindingRow] {
        try Store(path: storePath ?? self.storePath).findings(query)
    }
}
