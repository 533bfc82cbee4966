import Git
import ShardScanCore
import Testing

@testable import ShardScanEngine

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ScanMemoryTests {
    #if canImport(Glibc)
        /// Once a scan's settings are applied, a block of a few MB freed does not make later blocks of that size
        /// come from the threads' heaps (glibc's moving threshold): they keep pages of their own, given back when
        /// freed, so blobs of a few MB leave no resident holes behind.
        @Test func largeBlocksKeepPagesOfTheirOwn() throws {
            try ScanMemory.apply()
            // Without the setting, freeing 30 MB raises glibc's threshold to 30 MB and 20 MB then comes from the
            // heap. The probe is that large because other tests of this process run beside it: a block the size
            // of a free chunk they leave in the heap is served from it whatever the threshold (a 1 MB probe was).
            free(malloc(30 << 20))
            // glibc marks a chunk with pages of its own (IS_MMAPPED, bit 1) in the size word before it.
            func hasPagesOfItsOwn(_ block: UnsafeMutableRawPointer) -> Bool {
                block.advanced(by: -MemoryLayout<UInt>.size).load(as: UInt.self) & 2 != 0
            }
            // A free chunk at least that large in some heap, left by tests running beside this one, serves the
            // probe whatever the threshold: probes stay allocated until no such chunk is left. Without the
            // setting every probe comes from a heap.
            var probes: [UnsafeMutableRawPointer] = []
            defer { for probe in probes { free(probe) } }
            for _ in 0..<16 {
                probes.append(try #require(malloc(20 << 20)))
                if hasPagesOfItsOwn(probes.last!) { break }
            }
            #expect(hasPagesOfItsOwn(probes.last!), "\(probes.count) probes of 20 MB, none with pages of its own")
        }
    #endif

    /// A matcher's hit arrays keep room for the next file's hits, but not for a file with many: kept, they came to
    /// hold room for the most hits any one file of the history had, per rule and keyword.
    @Test func hitArraysKeepRoomForAFewHitsOnly() {
        var few = [Int]()
        few.reserveCapacity(Matcher.keptHitCapacity / 2)
        few.append(contentsOf: 0..<10)
        let room = few.capacity
        Matcher.clear(&few)
        #expect(few.isEmpty)
        #expect(few.capacity == room)

        var many = Array(0..<(Matcher.keptHitCapacity * 40))
        Matcher.clear(&many)
        #expect(many.isEmpty)
        #expect(many.capacity <= Matcher.keptHitCapacity)
    }

    /// A hunt's places come back as the walk met them: shard, commit, time, release parsed from the path, in the
    /// order added, across shards and commits; and a blob's repository is the one of the shard it was first met in.
    @Test func huntPlacesComeBackAsAdded() {
        var places = HuntPlaces()
        let blobA = ObjectID(bytes: Array(repeating: 1, count: 20))!
        let blobB = ObjectID(bytes: Array(repeating: 2, count: 20))!
        let commit1 = ObjectID(bytes: Array(repeating: 3, count: 20))!
        let commit2 = ObjectID(bytes: Array(repeating: 4, count: 20))!
        let pathA = "packages/demo/demo-1.0.tar.gz/demo-1.0/setup.py"
        let pathB = "packages/Other_Pkg/other_pkg-2.0-py3-none-any.whl/other_pkg/ünïcode/__init__.py"
        let pathC = "packages/demo/demo-1.1.tar.gz/demo-1.1/setup.py"
        places.startShard(name: "one", repositoryPath: "/shards/one")
        places.startCommit(commit1, time: 100)
        places.add(blobA, shardPath: pathA)
        places.add(blobB, shardPath: pathB)
        places.startShard(name: "two", repositoryPath: "/shards/two")
        places.startCommit(commit2, time: 200)
        places.add(blobA, shardPath: pathC)
        #expect(places.blobCount == 2)
        #expect(places.order == [blobA, blobB])
        #expect(places.repositoryPath(of: blobA) == "/shards/one")
        #expect(places.firstShardPath(of: blobB) == pathB)
        #expect(
            places.places(of: blobA) == [
                HuntPlace(
                    shard: "one", commit: commit1, time: 100, release: ReleasePath.parse(pathA), shardPath: pathA),
                HuntPlace(
                    shard: "two", commit: commit2, time: 200, release: ReleasePath.parse(pathC), shardPath: pathC),
            ])
        #expect(
            places.places(of: blobB) == [
                HuntPlace(shard: "one", commit: commit1, time: 100, release: ReleasePath.parse(pathB), shardPath: pathB)
            ])
        #expect(places.places(of: ObjectID(bytes: Array(repeating: 9, count: 20))!).isEmpty)
    }
}
