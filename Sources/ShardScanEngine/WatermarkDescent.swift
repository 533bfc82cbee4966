import Git
import ShardScanStore

extension WatermarkDescent {
    /// How `main` and `worker` (commit ids, hex) relate in the first of `repositories` that holds both; `nil`
    /// when none does (the shard is not reachable from here, or a commit is gone).
    public static func of(main: String, worker: String, in repositories: [String]) -> WatermarkDescent? {
        guard let mainID = ObjectID(hex: main), let workerID = ObjectID(hex: worker) else { return nil }
        for path in repositories {
            guard let repository = try? Repository(at: path), repository.contains(mainID),
                repository.contains(workerID)
            else { continue }
            if (try? repository.isAncestor(mainID, of: workerID)) == true { return .workerDescends }
            if (try? repository.isAncestor(workerID, of: mainID)) == true { return .mainDescends }
            return .diverged
        }
        return nil
    }
}
