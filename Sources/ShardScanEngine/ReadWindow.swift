import Git

/// Gathers the new blobs of several commits and hands them out in the order they lie in their packs, cut
/// into one contiguous share per worker.
///
/// Reading a pack forwards lets each worker's ``PackReader`` find a delta's base in its cache (a base lies
/// before its deltas), so each object is inflated once; contiguous shares keep the deltas of a run with the
/// worker that has their bases. A larger window orders more blobs at once and holds more commits unwritten.
struct ReadWindow<Job> {
    /// Blobs gathered before the window is handed out.
    let capacity: Int
    /// Shares a full window is cut into: one per worker.
    let shares: Int
    /// Where the blobs lie; without packs the window keeps the walk's order.
    let packs: PackSet?
    private(set) var jobs: [Job] = []

    init(capacity: Int, shares: Int, packs: PackSet?) {
        self.capacity = max(1, capacity)
        self.shares = max(1, shares)
        self.packs = packs
    }

    var isFull: Bool { jobs.count >= capacity }
    var isEmpty: Bool { jobs.isEmpty }

    /// The most jobs one share holds.
    var largestShare: Int { (capacity + shares - 1) / shares }

    mutating func append(contentsOf newJobs: [Job]) { jobs += newJobs }

    /// Empties the window: its jobs in pack order (objects in no pack last), cut into at most ``shares``
    /// contiguous runs of nearly equal length.
    mutating func drain(id: (Job) -> ObjectID) -> [[Job]] {
        let ordered = packs.map { $0.packOrder(jobs, id: id) } ?? jobs
        jobs.removeAll(keepingCapacity: true)
        guard !ordered.isEmpty else { return [] }
        let size = (ordered.count + shares - 1) / shares
        return stride(from: 0, to: ordered.count, by: size).map { Array(ordered[$0..<min($0 + size, ordered.count)]) }
    }
}
