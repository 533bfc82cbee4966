import Foundation

/// Which worker of a fleet this process is: `scan --worker I/N` (1-based), or `auto/N` with `I` taken from the
/// batch engine's environment.
public struct WorkerSpec: Sendable, Equatable {
    /// 1-based.
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `I/N` or `auto/N`, resolving `auto` from `environment`: `JOB_COMPLETION_INDEX` (a Kubernetes
    /// Indexed Job, 0-based) or `SLURM_ARRAY_TASK_ID` counted from `SLURM_ARRAY_TASK_MIN` (a Slurm job array,
    /// whose task ids start wherever `--array` says). The error names the flag, for `validate()`.
    public static func parse(_ text: String, environment: [String: String]) throws(WorkerSpecError) -> WorkerSpec {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Int(parts[1]), count >= 1 else {
            throw WorkerSpecError(
                "--worker takes I/N (this worker's share I of N, 1-based) or auto/N, got '\(text)'")
        }
        let index: Int
        if parts[0] == "auto" {
            if let raw = environment["JOB_COMPLETION_INDEX"] {
                guard let zeroBased = Int(raw) else {
                    throw WorkerSpecError("--worker auto/\(count): JOB_COMPLETION_INDEX is not a number ('\(raw)')")
                }
                index = zeroBased + 1
            } else if let raw = environment["SLURM_ARRAY_TASK_ID"] {
                guard let task = Int(raw), let minimum = Int(environment["SLURM_ARRAY_TASK_MIN"] ?? "") else {
                    throw WorkerSpecError(
                        "--worker auto/\(count): needs numbers in SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_MIN "
                            + "(got '\(raw)' and '\(environment["SLURM_ARRAY_TASK_MIN"] ?? "")')")
                }
                index = task - minimum + 1
            } else {
                throw WorkerSpecError(
                    "--worker auto/\(count) takes the worker's index from JOB_COMPLETION_INDEX (Kubernetes Indexed "
                        + "Job) or SLURM_ARRAY_TASK_ID (Slurm job array), and neither is set; give --worker I/\(count)")
            }
        } else {
            guard let given = Int(parts[0]) else {
                throw WorkerSpecError(
                    "--worker takes I/N (this worker's share I of N, 1-based) or auto/N, got '\(text)'")
            }
            index = given
        }
        guard (1...count).contains(index) else {
            throw WorkerSpecError("--worker \(text): share \(index) is not between 1 and \(count)")
        }
        return WorkerSpec(index: index, count: count)
    }
}

/// A `--worker` value that names no share.
public struct WorkerSpecError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Splits the shards found under the roots into `N` shares of about equal packed size.
///
/// Every worker of a fleet computes the split on its own from the same mirror, so it must come out the same
/// everywhere: it depends only on the names and sizes, never on the order the shards were found in or on the
/// machine. Greedy by size (largest shard first, each to the lightest share so far, ties to the lower share and
/// the lower name): within one largest shard of the best split, which is what matters when a few shards dwarf
/// the rest.
public enum WorkerShare {
    /// The names in each of `count` shares (index 0 is share 1), each share's names sorted.
    public static func split(_ sizes: [String: Int64], into count: Int) -> [[String]] {
        precondition(count >= 1)
        var shares = [[String]](repeating: [], count: count)
        var loads = [Int64](repeating: 0, count: count)
        let ordered = sizes.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        for (name, size) in ordered {
            let lightest = loads.indices.min { loads[$0] != loads[$1] ? loads[$0] < loads[$1] : $0 < $1 }!
            shares[lightest].append(name)
            loads[lightest] += max(size, 0)
        }
        return shares.map { $0.sorted() }
    }

    /// Of `sources`, those in share `worker`, and the names of the shards the other shares hold (which a scan
    /// of this share must not call missing).
    public static func select(_ sources: [ShardSource], worker: WorkerSpec) -> (
        mine: [ShardSource], elsewhere: Set<String>
    ) {
        var sizes: [String: Int64] = [:]
        var sizeOfRepository: [String: Int64] = [:]
        for source in sources {
            // Shards of one many-remote repository share its packs: each counts the whole.
            let key = source.gitDirectory ?? source.repositoryPath
            let size = sizeOfRepository[key] ?? packedSize(source)
            sizeOfRepository[key] = size
            sizes[source.name] = max(sizes[source.name] ?? 0, size)
        }
        let shares = split(sizes, into: worker.count)
        let mine = Set(shares[worker.index - 1])
        return (sources.filter { mine.contains($0.name) }, Set(sizes.keys).subtracting(mine))
    }

    /// Bytes under the shard's `objects` folder (packs and loose objects); 0 when it cannot be read (the shard
    /// still goes to some share, whose scan reports why it failed).
    static func packedSize(_ source: ShardSource) -> Int64 {
        let gitDirectory = source.gitDirectory ?? source.repositoryPath
        let objects = (gitDirectory as NSString).appendingPathComponent("objects")
        guard let walker = FileManager.default.enumerator(atPath: objects) else { return 0 }
        var total: Int64 = 0
        while let relative = walker.nextObject() as? String {
            let attributes = walker.fileAttributes
            if attributes?[.type] as? FileAttributeType == .typeRegular {
                total += (attributes?[.size] as? NSNumber)?.int64Value ?? 0
            }
            _ = relative
        }
        return total
    }
}
