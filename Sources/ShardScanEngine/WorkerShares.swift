import Foundation

/// The requests handed to a pool's workers: each window is cut into one contiguous run per worker, of about
/// equal weight, appended to that worker's share. A worker reads its own share from the front, so that it walks
/// its run of the pack forwards and finds the bases of deltas in its own reader's cache; one whose share is empty
/// takes the back half of the heaviest other share, so a slow worker does not hold the window up.
final class WorkerShares: @unchecked Sendable {
    /// One worker's requests: those before `head` are taken.
    private struct Share {
        var requests: [BlobRequest] = []
        var head = 0
        var weight = 0

        var count: Int { requests.count - head }

        mutating func append(contentsOf run: ArraySlice<BlobRequest>) {
            if head > 0 && head * 2 >= requests.count {
                requests.removeFirst(head)
                head = 0
            }
            requests.append(contentsOf: run)
            for request in run { weight += max(1, request.weight) }
        }

        mutating func popFirst() -> BlobRequest? {
            guard head < requests.count else { return nil }
            let request = requests[head]
            head += 1
            weight -= max(1, request.weight)
            return request
        }

        /// The last half of what is left (at least one request).
        mutating func takeBackHalf() -> [BlobRequest] {
            let taken = (count + 1) / 2
            let run = Array(requests[(requests.count - taken)...])
            requests.removeLast(taken)
            for request in run { weight -= max(1, request.weight) }
            return run
        }
    }

    // Every field below is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var shares: [Share]
    private var pendingCount = 0
    private var isClosed = false
    private var stolen = 0

    init(workers: Int) {
        precondition(workers > 0)
        shares = Array(repeating: Share(), count: workers)
    }

    /// Cuts `window`, in read order, into one run per worker of about equal weight, and appends each to its
    /// worker's share. A worker with requests left gets its run after them.
    func add(_ window: [BlobRequest]) {
        guard !window.isEmpty else { return }
        let runs = Self.cut(window, into: shares.count)
        condition.lock()
        defer { condition.unlock() }
        for (worker, run) in runs.enumerated() { shares[worker].append(contentsOf: window[run]) }
        pendingCount += window.count
        condition.broadcast()
    }

    /// `count` contiguous ranges covering `window`: the `k`-th (from 1) holds the requests whose weight is
    /// centred before `k` parts of the total, the last one the rest.
    static func cut(_ window: [BlobRequest], into count: Int) -> [Range<Int>] {
        let total = window.reduce(0) { $0 + max(1, $1.weight) }
        var runs: [Range<Int>] = []
        var start = 0
        var sum = 0
        var index = 0
        for part in 1...count {
            let target = Double(total) * Double(part) / Double(count)
            while index < window.count {
                let weight = max(1, window[index].weight)
                guard part == count || Double(sum) + Double(weight) / 2 < target else { break }
                sum += weight
                index += 1
            }
            runs.append(start..<index)
            start = index
        }
        return runs
    }

    /// Worker `worker`'s next request: from its own share, else the back half of the heaviest other share;
    /// waits while there is none; `nil` once closed with nothing left.
    func next(for worker: Int) -> BlobRequest? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let request = shares[worker].popFirst() {
                pendingCount -= 1
                return request
            }
            if pendingCount > 0 {
                let victim = shares.indices.max {
                    (shares[$0].weight, shares[$0].count) < (shares[$1].weight, shares[$1].count)
                }!
                if shares[victim].count > 0 {
                    let run = shares[victim].takeBackHalf()
                    stolen += run.count
                    shares[worker].append(contentsOf: run[...])
                    continue
                }
            }
            if isClosed { return nil }
            condition.wait()
        }
    }

    /// Requests one worker took from another's share so far.
    var steals: Int {
        condition.lock()
        defer { condition.unlock() }
        return stolen
    }

    /// Requests no worker has taken yet.
    var pending: Int {
        condition.lock()
        defer { condition.unlock() }
        return pendingCount
    }

    /// No more windows: workers take what is left (or nothing, when `dropping`) and then get `nil`. Returns how
    /// many requests were dropped.
    func close(dropping: Bool) -> Int {
        condition.lock()
        defer { condition.unlock() }
        isClosed = true
        var dropped = 0
        if dropping {
            dropped = pendingCount
            for index in shares.indices { shares[index] = Share() }
            pendingCount = 0
        }
        condition.broadcast()
        return dropped
    }
}
