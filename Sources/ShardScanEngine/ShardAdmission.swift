import Foundation
import Git
import ShardScanCore

/// Which shards a run may scan under which names, and which it expected but did not find.
extension MirrorScan {
    /// Refuses `source` before it is scanned, or records its git directory and lets it through (`nil`).
    ///
    /// A shard is known by its name, so a repository that is not the one the store knows under that name
    /// (another git directory, lacking the shard's watermark) would take over its watermark and be
    /// reported as "history rewritten"; it is refused instead. A source that cannot be scanned and that the
    /// store does not know (a mistyped root) leaves nothing in the sink. A shallow clone is refused up
    /// front: its cut history would fail deep in the walk as missing objects.
    func admit(_ source: ShardSource, runID: Int64) throws -> ShardResult? {
        let known = try sink.knownShards().first { $0.name == source.name }
        if let problem = source.problem {
            // A repository without the branch, or a shard folder under a root that does not open, is a shard
            // to show in `status`; a command-line path that is no repository at all is not.
            let isArgument = source.gitDirectory == nil && (source.root == nil || source.root == source.repositoryPath)
            return known == nil && isArgument ? ShardResult(name: source.name, status: .failed, message: problem) : nil
        }
        // One that does not open is the scanner's to report, as before.
        guard let repository = try? Repository(at: source.repositoryPath) else { return nil }
        if repository.isShallow {
            return try refuse(
                source, known: known, runID: runID,
                "\(source.repositoryPath) is a shallow clone (its history is cut; see "
                    + "\(source.gitDirectory ?? repository.gitDirectory)/shallow), and shardscan reads each shard's "
                    + "whole history: run `git -C \(source.repositoryPath) fetch --unshallow`, then scan again")
        }
        if let known, let watermark = known.watermark, !repository.contains(watermark),
            Self.isAnotherRepository(source, than: known)
        {
            return try refuse(
                source, known: known, runID: runID,
                "\(source.repositoryPath) is not the repository this store knows as shard \(source.name) "
                    + "(\(known.gitDirectory ?? known.path)): it lacks the shard's watermark \(watermark.hex.prefix(12)); "
                    + "nothing was scanned. If it replaces that shard on purpose, forget the old one first "
                    + "(`shardscan status --forget \(source.name)`), then scan again; otherwise give the right path")
        }
        _ = try sink.shardID(
            name: source.name, path: source.repositoryPath, reference: source.reference ?? "",
            gitDirectory: source.gitDirectory)
        return nil
    }

    /// Whether `source` is a repository other than the one `known` was last scanned from; judged by path for
    /// shards recorded before their git directory was kept.
    static func isAnotherRepository(_ source: ShardSource, than known: KnownShard) -> Bool {
        if let gitDirectory = known.gitDirectory { return gitDirectory != source.gitDirectory }
        return ShardLocator.resolved(known.path) != source.repositoryPath
    }

    private func refuse(_ source: ShardSource, known: KnownShard?, runID: Int64, _ message: String) throws
        -> ShardResult
    {
        if let known {
            try sink.recordShardOutcome(
                ShardOutcome(runID: runID, shardID: known.id, status: .failed, message: message))
        }
        return ShardResult(name: source.name, status: .failed, message: message)
    }

    /// Records, as `missing`, every shard the store knows that should have been among `sources` and is not:
    /// those under a mirror root that was given, and those of a repository that was given, that were not
    /// found there this time (the folder moved or deleted, its `HEAD` removed, a remote gone).
    func recordMissing(_ sources: [ShardSource], runID: Int64) throws -> [ShardResult] {
        let roots = Set(sources.compactMap(\.root))
        let repositories = Set(sources.filter { $0.root == nil && $0.problem == nil }.map(\.repositoryPath))
        let found = Set(sources.map(\.name)).union(options.shardsElsewhere)
        var missing: [ShardResult] = []
        for known in try sink.knownShards() where !found.contains(known.name) {
            let path = ShardLocator.resolved(known.path)
            let folder = ShardLocator.resolved((known.path as NSString).deletingLastPathComponent)
            let place: String
            if roots.contains(folder) {
                place = "is gone from mirror root \(folder)"
            } else if repositories.contains(path) {
                place = "is no longer in repository \(path)"
            } else {
                continue
            }
            let message =
                "shard \(known.name) \(place) (last scanned at \(known.path)): moved, deleted, or its HEAD removed? "
                + "Put it back or scan its new place; if it is gone for good: shardscan status --forget \(known.name)"
            try sink.recordShardOutcome(
                ShardOutcome(runID: runID, shardID: known.id, status: .missing, message: message))
            missing.append(ShardResult(name: known.name, status: .failed, message: message))
        }
        return missing
    }
}

extension ShardResult {
    init(name: String, status: Status, message: String) {
        self.init(name: name, status: status, message: message, counters: RunCounters())
    }
}
