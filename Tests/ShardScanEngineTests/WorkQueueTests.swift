import Foundation
import Testing

@testable import ShardScanEngine

/// The bounded queue between the scan's threads: items arrive in order, none is lost, and a consumer waiting
/// for a batch is given one only once it holds as many as it asked for (or the queue closed).
@Suite struct WorkQueueTests {
    @Test func aBatchComesOnlyOnceItHoldsWhatWasAskedForAndInOrder() {
        let queue = WorkQueue<Int>(capacity: 8)
        let pushed = DispatchSemaphore(value: 0)
        let producer = Thread {
            for item in 0..<20 {
                queue.push(item)
                pushed.signal()
            }
        }
        producer.start()
        var taken: [Int] = []
        while taken.count < 20 {
            // As a pool asks: never for more than are still to come.
            let wanted = min(5, 20 - taken.count)
            let batch = queue.popBatch(atLeast: wanted)
            // Never fewer than asked while the queue is open, never more than it can hold.
            #expect(batch.count >= wanted && batch.count <= 8)
            taken += batch
        }
        for _ in 0..<20 { pushed.wait() }
        #expect(taken == Array(0..<20))
    }

    @Test func aClosedQueueHandsOverWhatIsLeftThenNothing() {
        let queue = WorkQueue<Int>(capacity: 8)
        queue.push(1)
        queue.push(2)
        queue.close()
        #expect(queue.popBatch(atLeast: 5) == [1, 2])
        #expect(queue.popBatch(atLeast: 5).isEmpty)
        #expect(queue.pop() == nil)
    }

    @Test func consumersWaitingForOneItemEachAreWokenByEveryPush() {
        let queue = WorkQueue<Int>(capacity: 4)
        let group = DispatchGroup()
        let got = Collected()
        for _ in 0..<3 {
            group.enter()
            Thread {
                if let item = queue.pop() { got.add(item) }
                group.leave()
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.05)
        for item in 1...3 { queue.push(item) }
        #expect(group.wait(timeout: .now() + 10) == .success)
        #expect(got.sorted == [1, 2, 3])
    }
}

/// Items gathered by several threads.
private final class Collected: @unchecked Sendable {
    // Read and written only with `lock` held.
    private var items: [Int] = []
    private let lock = NSLock()

    func add(_ item: Int) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var sorted: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return items.sorted()
    }
}
