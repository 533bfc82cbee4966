import Foundation
import ShardScanCore
import Synchronization
import Testing

@testable import ShardScanEngine

/// Each worker gets one contiguous run of a window, of about equal weight, and takes from the back of the
/// heaviest other share when its own runs out.
@Suite struct WorkerSharesTests {
    static func window(_ weights: [Int], from first: Int = 0) -> [BlobRequest] {
        weights.enumerated().map { index, weight in
            var request = BlobRequest(
                blob: ObjectID(bytes: (0..<20).map { UInt8(truncatingIfNeeded: ($0 == 19 ? first + index : 0)) })!,
                shardPath: "p\(first + index)", innerPath: "p\(first + index)", commitIndex: first + index)
            request.weight = weight
            return request
        }
    }

    @Test func aWindowIsCutIntoContiguousRunsOfAboutEqualWeight() {
        // One heavy blob first, then many light ones: by count the first worker would get half the window.
        let weights = [900] + Array(repeating: 10, count: 90)
        let runs = WorkerShares.cut(Self.window(weights), into: 2)
        #expect(runs == [0..<1, 1..<91])
        let even = WorkerShares.cut(Self.window(Array(repeating: 5, count: 10)), into: 3)
        #expect(even.map(\.count) == [3, 4, 3])
        #expect(even.first?.lowerBound == 0 && even.last?.upperBound == 10)
        for (left, right) in zip(even, even.dropFirst()) { #expect(left.upperBound == right.lowerBound) }
        // More workers than requests: some runs are empty, none lost.
        let few = WorkerShares.cut(Self.window([1, 1]), into: 4)
        #expect(few.reduce(0) { $0 + $1.count } == 2)
    }

    @Test func aWorkerReadsItsRunInOrderThenTakesTheBackHalfOfTheHeaviestShare() {
        let shares = WorkerShares(workers: 2)
        shares.add(Self.window(Array(repeating: 1, count: 8)))
        #expect(shares.pending == 8)
        // Worker 0's run is 0...3, read from the front.
        #expect((0..<4).map { _ in shares.next(for: 0)!.commitIndex } == [0, 1, 2, 3])
        // Then it takes the back half of worker 1's run (4...7): 6 and 7, in order.
        #expect(shares.next(for: 0)?.commitIndex == 6)
        #expect(shares.steals == 2)
        #expect(shares.next(for: 1)?.commitIndex == 4)
        #expect(shares.next(for: 0)?.commitIndex == 7)
        #expect(shares.next(for: 1)?.commitIndex == 5)
        #expect(shares.pending == 0)
        // A later window goes after what each worker has left.
        shares.add(Self.window([1, 1, 1, 1], from: 8))
        #expect(shares.next(for: 1)?.commitIndex == 10)
        #expect(shares.close(dropping: true) == 3)
        #expect(shares.next(for: 0) == nil && shares.next(for: 1) == nil)
    }

    @Test func closingWithoutDroppingLetsTheWorkersTakeEverythingLeft() {
        let shares = WorkerShares(workers: 3)
        shares.add(Self.window([4, 1, 1, 1, 1, 1, 1, 1]))
        #expect(shares.close(dropping: false) == 0)
        var seen: [Int] = []
        while let request = shares.next(for: 2) { seen.append(request.commitIndex) }
        #expect(seen.sorted() == Array(0..<8))
    }

    /// The workers are threads of their own, as a scan's are: `next(for:)` blocks, and tasks blocked on the
    /// cooperative pool (two threads on two cores) starved the task adding the windows, and the test hung.
    @Test func workersOnThreadsTakeEveryRequestOnce() {
        let shares = WorkerShares(workers: 4)
        let total = 5000
        let taken = Mutex<[Int]>([])
        let finished = DispatchSemaphore(value: 0)
        for worker in 0..<4 {
            Thread {
                var mine: [Int] = []
                while let request = shares.next(for: worker) { mine.append(request.commitIndex) }
                taken.withLock { $0 += mine }
                finished.signal()
            }.start()
        }
        for start in stride(from: 0, to: total, by: 500) {
            shares.add(Self.window((0..<500).map { 1 + ($0 * 7919) % 97 }, from: start))
        }
        _ = shares.close(dropping: false)
        for _ in 0..<4 { finished.wait() }
        let all = taken.withLock { $0 }
        #expect(all.count == total && Set(all).count == total)
    }
}
