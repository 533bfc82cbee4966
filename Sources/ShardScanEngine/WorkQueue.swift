import Foundation

/// A first-in first-out queue shared by threads, holding at most `capacity` items: producers wait
/// while it is full, consumers while it is empty. Closing it lets consumers drain what is left and
/// then stop.
final class WorkQueue<Item: Sendable>: @unchecked Sendable {
    // Every field below is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var items: [Item?] = []
    private var head = 0
    private var count = 0
    private var isClosed = false
    /// Consumers waiting in ``pop()``, and how many items one waiting in ``popBatch(atLeast:)`` wants (`Int.max`:
    /// none waits): a push wakes consumers only when one of them would go on, so a consumer that takes results in
    /// batches is not woken for every one (a context switch each, which cost more than handling the result).
    private var waitingForOne = 0
    private var waitingForBatch = Int.max
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        items = Array(repeating: nil, count: capacity)
    }

    /// Adds `item`, waiting for room. Returns `false` (dropping it) when the queue is closed.
    @discardableResult
    func push(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while count == capacity && !isClosed { condition.wait() }
        guard !isClosed else { return false }
        appendLocked(item)
        return true
    }

    /// Adds `item` if there is room now; `false` when the queue is full or closed.
    func tryPush(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard count < capacity && !isClosed else { return false }
        appendLocked(item)
        return true
    }

    /// The next item, waiting for one; `nil` once the queue is closed and empty.
    func pop() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 && !isClosed {
            waitingForOne += 1
            condition.wait()
            waitingForOne -= 1
        }
        return takeLocked()
    }

    /// Every item queued once there are at least `wanted` (at most ``capacity``), waiting for them; fewer only
    /// when the queue is closed (none once it is closed and empty). For one consumer at a time.
    func popBatch(atLeast wanted: Int) -> [Item] {
        condition.lock()
        defer { condition.unlock() }
        let wanted = min(max(1, wanted), capacity)
        while count < wanted && !isClosed {
            waitingForBatch = wanted
            condition.wait()
            waitingForBatch = Int.max
        }
        var batch: [Item] = []
        batch.reserveCapacity(count)
        while let item = takeLocked() { batch.append(item) }
        return batch
    }

    /// The next item if there is one now.
    func tryPop() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        return takeLocked()
    }

    private func appendLocked(_ item: Item) {
        items[(head + count) % capacity] = item
        count += 1
        if waitingForOne > 0 || count >= waitingForBatch { condition.broadcast() }
    }

    private func takeLocked() -> Item? {
        guard count > 0 else { return nil }
        let item = items[head]
        items[head] = nil
        head = (head + 1) % capacity
        count -= 1
        condition.broadcast()
        return item
    }

    /// Whether no item is waiting now.
    var isEmpty: Bool {
        condition.lock()
        defer { condition.unlock() }
        return count == 0
    }

    /// No more pushes: waiting producers give up, consumers drain and then get `nil`.
    func close() {
        condition.lock()
        isClosed = true
        condition.broadcast()
        condition.unlock()
    }
}
