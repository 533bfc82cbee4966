import Foundation
import Git
import Testing

/// Runs `git` with `arguments` in `folder`; its standard output. Fails the test on a non-zero exit.
@discardableResult
func runGit(_ arguments: [String], in folder: String, stdinFile: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git", "-C", folder] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["GIT_CONFIG_NOSYSTEM"] = "1"
    environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
    environment["GIT_AUTHOR_NAME"] = "Test"
    environment["GIT_AUTHOR_EMAIL"] = "test@example.invalid"
    environment["GIT_COMMITTER_NAME"] = "Test"
    environment["GIT_COMMITTER_EMAIL"] = "test@example.invalid"
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    if let stdinFile { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinFile)) }
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw GitError(
            code: -1, message: "git \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// A repository built with `git` itself: versions of a few text files (so packs hold delta chains) in two
/// packs, plus loose objects. Its folder goes with it.
final class PackedRepository {
    let path: String
    var objects: String { path + "/.git/objects" }

    /// `referenceDeltas`: repack with REF_DELTA entries (base by name) instead of OFS_DELTA (base by offset).
    init(referenceDeltas: Bool = false) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("pack-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try runGit(["init", "-q"], in: path)
        var lines = (0..<400).map { "line \($0): " + String(repeating: "abcdefghij", count: $0 % 7 + 1) }
        for version in 0..<24 {
            lines[version * 13 % lines.count] = "changed in version \(version)"
            lines.append("appended in version \(version)")
            try lines.joined(separator: "\n").write(toFile: path + "/module.py", atomically: true, encoding: .utf8)
            try lines.reversed().joined(separator: "\n").write(
                toFile: path + "/reversed.txt", atomically: true, encoding: .utf8)
            try "version \(version)\n".write(toFile: path + "/VERSION", atomically: true, encoding: .utf8)
            try runGit(["add", "-A"], in: path)
            try runGit(["commit", "-q", "-m", "version \(version)"], in: path)
            if version == 15 {
                try runGit(
                    ["-c", "repack.useDeltaBaseOffset=\(!referenceDeltas)", "repack", "-adq", "--depth=20"], in: path)
            } else if version == 20 {
                // A second pack of the commits since (repack without -a packs only the loose objects).
                try runGit(["-c", "repack.useDeltaBaseOffset=\(!referenceDeltas)", "repack", "-dq"], in: path)
            }
        }
    }

    /// Every object: id and type name, as `git cat-file --batch-all-objects` lists them.
    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func allObjects() throws -> [(id: ObjectID, type: String)] {
        try runGit(["cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"], in: path)
            .split(separator: "\n").map { line in
                let parts = line.split(separator: " ")
                return (ObjectID(hex: parts[0])!, String(parts[1]))
            }
    }

    func packIndexPaths() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: objects + "/pack").filter { $0.hasSuffix(".idx") }.sorted()
            .map { objects + "/pack/" + $0 }
    }
}

@Suite struct PackReaderTests {
    /// The index agrees with `git show-index` on every object's offset and CRC-32, in every pack.
    @Test func indexMatchesGitShowIndex() throws {
        let repository = try PackedRepository()
        let paths = try repository.packIndexPaths()
        #expect(paths.count == 2)
        for path in paths {
            let index = try PackIndex(path: path)
            let listed = try runGit(["show-index"], in: repository.path, stdinFile: path)
            var expected: [String] = []
            for line in listed.split(separator: "\n") {
                let parts = line.split(separator: " ")
                expected.append("\(parts[1]) \(parts[0]) \(parts[2])")
            }
            var actual: [String] = []
            for position in 0..<index.count {
                let crc = String(index.crc32(at: position), radix: 16)
                actual.append(
                    "\(index.id(at: position).hex) \(index.offset(at: position)) (\(String(repeating: "0", count: 8 - crc.count) + crc))"
                )
                #expect(index.offset(of: index.id(at: position)) == index.offset(at: position))
            }
            #expect(actual.sorted() == expected.sorted())
            #expect(index.count == expected.count)
        }
    }

    /// Every object, packed as OFS_DELTA chains or stored loose, reads to the same bytes as libgit2 gives.
    @Test(arguments: [false, true]) func everyObjectMatchesLibgit2(referenceDeltas: Bool) throws {
        let repository = try PackedRepository(referenceDeltas: referenceDeltas)
        let packs = try PackSet(objectsDirectory: repository.objects)
        #expect(packs.indexes.count == 2)
        let libgit2 = try Repository(at: repository.path)
        // A small cache, so that chains are also rebuilt from evicted bases.
        let reader = try PackReader(packs: packs, repositoryPath: repository.path, cacheBytes: 16 << 10)
        let objects = try repository.allObjects()
        var loose = 0
        for (id, _) in packs.packOrder(objects, id: { $0.id }) {
            if packs.location(of: id) == nil { loose += 1 }
            let expected = try libgit2.withObjectBytes(id) { Array($0) }
            let actual = try reader.withObjectBytes(id) { Array($0) }
            #expect(actual == expected, "object \(id)")
            #expect(try reader.objectSize(id) == expected.count)
        }
        #expect(loose > 0)
        #expect(reader.statistics.fallbackReads == loose)
        #expect(reader.statistics.inflatedDeltas > 0)
        #expect(reader.statistics.packedReads == objects.count - loose)
    }

    /// Under a size limit, an object over it is refused from its header (a whole object) or its inflated delta
    /// data (a delta), before anything below it in its chain is inflated; one at the limit reads as without one.
    /// With a keep size under this pack's deltas (a few KB), every delta is a large one, whose size is read from
    /// its start alone and which is inflated once, in its turn in the chain.
    @Test(arguments: [false, true], [256 << 10, 1024])
    func aReadUnderASizeLimitBuildsNothingOverIt(referenceDeltas: Bool, scratchKeepBytes: Int) throws {
        let repository = try PackedRepository(referenceDeltas: referenceDeltas)
        let packs = try PackSet(objectsDirectory: repository.objects)
        let libgit2 = try Repository(at: repository.path)
        let reader = try PackReader(
            packs: packs, repositoryPath: repository.path, cacheBytes: 16 << 10, scratchKeepBytes: scratchKeepBytes)
        var packed = 0
        for (id, _) in packs.packOrder(try repository.allObjects(), id: { $0.id }) {
            let expected = try libgit2.withObjectBytes(id) { Array($0) }
            guard !expected.isEmpty else { continue }
            let built = (reader.statistics.inflatedObjects, reader.statistics.inflatedDeltas)
            switch try reader.withObjectBytes(id, sizeLimit: expected.count - 1, { Array($0) }) {
            case .read: Issue.record("object \(id) of \(expected.count) bytes read under a limit one byte less")
            case .tooLarge(let size): #expect(size == expected.count, "object \(id)")
            }
            #expect(reader.statistics.inflatedObjects == built.0 && reader.statistics.inflatedDeltas == built.1)
            if packs.location(of: id) != nil { packed += 1 }
            switch try reader.withObjectBytes(id, sizeLimit: expected.count, { Array($0) }) {
            case .read(let bytes): #expect(bytes == expected, "object \(id)")
            case .tooLarge(let size): Issue.record("object \(id) of \(size) bytes refused at its own size")
            }
        }
        #expect(packed > 0)
        #expect(reader.statistics.inflatedDeltas > 0)
        #expect((reader.statistics.largestDelta > scratchKeepBytes) == (scratchKeepBytes == 1024))
    }

    /// A reader hopping between the two ends of a pack reads few bytes but touches pages all over it: it releases
    /// them once the span read is `mappedBytes` wide (counting bytes read, it kept the whole pack mapped), and
    /// the bytes it lends are still libgit2's.
    @Test func mappedPagesAreBoundedBySpanNotBytesRead() throws {
        let repository = try PackedRepository()
        let packs = try PackSet(objectsDirectory: repository.objects)
        let libgit2 = try Repository(at: repository.path)
        let first = packs.packOrder(try repository.allObjects().map(\.id), id: { $0 })
            .filter { packs.location(of: $0)?.pack == 0 }
        #expect(first.count > 20)
        let mappedBytes = 1024
        let reader = try PackReader(
            packs: packs, repositoryPath: repository.path, cacheBytes: 0, mappedBytes: mappedBytes)
        for (front, back) in zip(first, first.reversed()).prefix(first.count / 2) {
            for id in [front, back] {
                let expected = try libgit2.withObjectBytes(id) { Array($0) }
                #expect(try reader.withObjectBytes(id) { Array($0) } == expected, "object \(id)")
            }
        }
        // The first hops span more than `mappedBytes`; a few bytes read each, they are released all the same.
        let spread = packs.location(of: first.last!)!.offset - packs.location(of: first.first!)!.offset
        #expect(spread > UInt64(2 * mappedBytes))
        #expect(reader.statistics.releases > 0)
        #expect(reader.statistics.widestKeptSpan < mappedBytes)
    }

    /// Pack order: by pack then offset, objects in no pack last in their given order.
    @Test func packOrderPutsLooseObjectsLast() throws {
        let repository = try PackedRepository()
        let packs = try PackSet(objectsDirectory: repository.objects)
        let ids = try repository.allObjects().map { $0.id }.shuffled()
        let ordered = packs.packOrder(ids, id: { $0 })
        #expect(Set(ordered) == Set(ids))
        let locations = ordered.map { packs.location(of: $0) }
        let packed = locations.prefix { $0 != nil }.map { $0! }
        #expect(packed == packed.sorted())
        #expect(locations.dropFirst(packed.count).allSatisfy { $0 == nil })
        let looseInput = ids.filter { packs.location(of: $0) == nil }
        #expect(Array(ordered.dropFirst(packed.count)) == looseInput)
    }

    /// Offsets past 2 GiB go through the 8-byte table: an index written here by hand, read by us and by git.
    @Test func largeOffsets() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("idx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ids = [
            ObjectID(hex: "0a" + String(repeating: "1", count: 38))!,
            ObjectID(hex: "0a" + String(repeating: "2", count: 38))!,
            ObjectID(hex: "f0" + String(repeating: "3", count: 38))!,
        ]
        let offsets: [UInt64] = [12, 0x1_2345_6789, 0x8000_0000]
        var bytes: [UInt8] = [0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]
        func word(_ value: UInt32) { bytes += withUnsafeBytes(of: value.bigEndian, Array.init) }
        for slot in 0..<256 { word(UInt32(ids.filter { Int($0.bytes[0]) <= slot }.count)) }
        for id in ids { bytes += id.bytes }
        for crc in [UInt32(0x1234_5678), 0x9abc_def0, 0x0fed_cba9] { word(crc) }
        word(UInt32(offsets[0]))
        word(0x8000_0000)
        word(0x8000_0001)
        for large in offsets.dropFirst() { bytes += withUnsafeBytes(of: large.bigEndian, Array.init) }
        bytes += [UInt8](repeating: 7, count: 40)
        let path = folder + "/pack-test.idx"
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let index = try PackIndex(path: path)
        #expect(index.count == 3)
        for (id, offset) in zip(ids, offsets) { #expect(index.offset(of: id) == offset) }
        #expect(index.offset(of: ObjectID(hex: String(repeating: "5", count: 40))!) == nil)
        #expect(index.crc32(at: 1) == 0x9abc_def0)
        let listed = try runGit(["show-index"], in: folder, stdinFile: path)
        let fromGit = listed.split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return "\(parts[1]) \(parts[0])"
        }
        #expect(fromGit == zip(ids, offsets).map { "\($0.hex) \($1)" })
    }

    /// An index whose large-offset slot points past its table is refused, not read out of bounds.
    @Test func largeOffsetPastTheTableIsRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("idx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var bytes: [UInt8] = [0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]
        func word(_ value: UInt32) { bytes += withUnsafeBytes(of: value.bigEndian, Array.init) }
        for _ in 0..<256 { word(1) }
        bytes += [UInt8](repeating: 0, count: 20)
        word(0)
        word(0x8000_0000)
        bytes += [UInt8](repeating: 7, count: 40)
        let path = folder + "/pack-bad.idx"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: GitError.self) { try PackIndex(path: path) }
    }

    /// An index entry pointing at another object's bytes: the SHA-1 check refuses them, naming the object.
    @Test func contentNotMatchingItsIdIsAnError() throws {
        let repository = try PackedRepository()
        let path = try repository.packIndexPaths()[0]
        let index = try PackIndex(path: path)
        let blobs = try repository.allObjects().filter { $0.type == "blob" }.map { $0.id }
        let packed = blobs.compactMap { index.position(of: $0) }
        let (first, second) = (packed[0], packed[1])
        // Swap the two objects' 4-byte offsets.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let offsets = 8 + 256 * 4 + index.count * 24
        for byte in 0..<4 { bytes.swapAt(offsets + first * 4 + byte, offsets + second * 4 + byte) }
        try FileManager.default.removeItem(atPath: path)
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let reader = try PackReader(
            packs: try PackSet(objectsDirectory: repository.objects), repositoryPath: repository.path)
        let victim = index.id(at: first)
        var lent = false
        let error = #expect(throws: GitError.self) { try reader.withObjectBytes(victim) { _ in lent = true } }
        #expect(error?.message.contains(victim.hex) == true)
        #expect(error?.message.contains("hashes to") == true)
        #expect(!lent)
    }

    /// The Adler-32 checksum that ends each entry's zlib stream is not checked (the object's SHA-1 is): an entry
    /// whose checksum bytes are wrong still reads to its true bytes.
    @Test func zlibChecksumIsLeftToTheObjectID() throws {
        let repository = try PackedRepository()
        let path = try repository.packIndexPaths()[0]
        let index = try PackIndex(path: path)
        let packPath = String(path.dropLast(4)) + ".pack"
        let libgit2 = try Repository(at: repository.path)
        let sortedOffsets = (0..<index.count).map { index.offset(at: $0) }.sorted()
        // Blobs followed by another entry: their entry ends where the next starts, with the 4 checksum bytes.
        let victims = try repository.allObjects().filter { $0.type == "blob" }.map(\.id).filter {
            guard let start = index.offset(of: $0) else { return false }
            return sortedOffsets.contains { $0 > start }
        }
        #expect(victims.count > 10)
        let expected = try victims.map { id in try libgit2.withObjectBytes(id) { Array($0) } }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: packPath)))
        for id in victims {
            let start = index.offset(of: id)!
            let end = Int(sortedOffsets.first { $0 > start }!)
            for position in (end - 4)..<end { bytes[position] ^= 0x5a }
        }
        try FileManager.default.removeItem(atPath: packPath)
        try Data(bytes).write(to: URL(fileURLWithPath: packPath))

        let reader = try PackReader(
            packs: try PackSet(objectsDirectory: repository.objects), repositoryPath: repository.path)
        for (id, bytes) in zip(victims, expected) {
            #expect(try reader.withObjectBytes(id) { Array($0) } == bytes, "object \(id)")
        }
    }

    /// Flipped compressed bytes are an error naming the pack and offset, not garbage.
    @Test func corruptCompressedDataIsAnError() throws {
        let repository = try PackedRepository()
        let path = try repository.packIndexPaths()[0]
        let index = try PackIndex(path: path)
        let packPath = String(path.dropLast(4)) + ".pack"
        let blobs = try repository.allObjects().filter { $0.type == "blob" }.map { $0.id }
        // The blob with the longest entry, so that the bytes flipped are its own.
        let sortedOffsets = (0..<index.count).map { index.offset(at: $0) }.sorted()
        func entryLength(_ id: ObjectID) -> UInt64 {
            let start = index.offset(of: id)!
            return (sortedOffsets.first { $0 > start } ?? start + 64) - start
        }
        let victim = blobs.filter { index.position(of: $0) != nil }.max { entryLength($0) < entryLength($1) }!
        #expect(entryLength(victim) > 32)
        let offset = Int(index.offset(of: victim)!)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: packPath)))
        // Past the entry's header (at most a few bytes, plus 20 for a REF_DELTA base), into the zlib stream.
        for position in (offset + 8)..<(offset + 12) { bytes[position] ^= 0x5a }
        try FileManager.default.removeItem(atPath: packPath)
        try Data(bytes).write(to: URL(fileURLWithPath: packPath))

        let reader = try PackReader(
            packs: try PackSet(objectsDirectory: repository.objects), repositoryPath: repository.path)
        var lent = false
        #expect(throws: GitError.self) { try reader.withObjectBytes(victim) { _ in lent = true } }
        #expect(!lent)
    }
}

@Suite struct PackReaderScratchTests {
    /// Each reader inflates deltas into one buffer. Kept at the largest delta it had seen, it grew with the pack;
    /// a buffer over `scratchKeepBytes` is freed once its object is built, and the bytes lent are still libgit2's.
    @Test func deltaBufferOverTheKeepSizeIsFreedAfterItsObject() throws {
        let repository = try PackedRepository()
        let packs = try PackSet(objectsDirectory: repository.objects)
        let libgit2 = try Repository(at: repository.path)
        let ids = packs.packOrder(try repository.allObjects().map(\.id), id: { $0 })
        let keeping = try PackReader(packs: packs, repositoryPath: repository.path, cacheBytes: 0)
        let freeing = try PackReader(
            packs: packs, repositoryPath: repository.path, cacheBytes: 0, scratchKeepBytes: 1024)
        for id in ids {
            let expected = try libgit2.withObjectBytes(id) { Array($0) }
            #expect(try keeping.withObjectBytes(id) { Array($0) } == expected, "object \(id)")
            #expect(try freeing.withObjectBytes(id) { Array($0) } == expected, "object \(id)")
            #expect(freeing.statistics.scratchBytes == 0, "a buffer over the keep size outlived its object")
        }
        // This pack's deltas are a few KB: over the small keep size, under the default one.
        #expect(freeing.statistics.largestDelta > freeing.scratchKeepBytes)
        #expect(keeping.statistics.scratchBytes >= keeping.statistics.largestDelta)
    }
}

@Suite struct SharedPackIndexTests {
    /// How many times the process maps the file at `path` (`/proc/self/maps`).
    static func mappings(of path: String) throws -> Int {
        #if !os(Linux)
            try Test.cancel("counts mappings in /proc/self/maps (Linux only)")
        #endif
        // Read to the end: procfs files report a size of 0.
        guard let file = FileHandle(forReadingAtPath: "/proc/self/maps") else { throw CocoaError(.fileReadUnknown) }
        defer { try? file.close() }
        let maps = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
        return maps.split(separator: "\n").filter { $0.hasSuffix(" " + path) }.count
    }

    /// Every reader of a scan opens the shard's packs, and lookups leave each mapping of an index resident whole:
    /// sets open at once map each index once, and an index no set holds is unmapped.
    @Test func setsOpenAtOnceMapEachIndexOnce() throws {
        let repository = try PackedRepository()
        let paths = try repository.packIndexPaths()
        var sets = try (0..<4).map { _ in try PackSet(objectsDirectory: repository.objects) }
        for (pack, path) in paths.enumerated() {
            #expect(sets.allSatisfy { $0.indexes[pack] === sets[0].indexes[pack] })
            #expect(try Self.mappings(of: path) == 1)
        }
        let ids = try repository.allObjects().map(\.id)
        for set in sets { #expect(ids.filter { set.location(of: $0) != nil }.count > 0) }
        sets.removeAll()
        for path in paths { #expect(try Self.mappings(of: path) == 0) }
    }

    /// An index file put in place of an open one (same path, same bytes, another file) is opened afresh.
    @Test func anIndexReplacedInPlaceIsOpenedAgain() throws {
        let repository = try PackedRepository()
        let path = try repository.packIndexPaths()[0]
        let first = try PackSet(objectsDirectory: repository.objects)
        let copy = path + ".copy"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        _ = rename(copy, path)
        let second = try PackSet(objectsDirectory: repository.objects)
        #expect(first.indexes[0] !== second.indexes[0])
        #expect(second.indexes[0].count == first.indexes[0].count)
        #expect(try PackSet(objectsDirectory: repository.objects).indexes[0] === second.indexes[0])
    }
}

@Suite struct PackReaderCacheTests {
    /// Large cached objects have pages of their own and small ones share the thread's heap, which keeps what
    /// they freed: large objects may hold a third of the budget, so that a run of them cannot evict the small
    /// ones and add their own bytes to what the heap keeps. Bytes lent are still libgit2's.
    @Test func largeObjectsHoldAtMostAThirdOfTheCache() throws {
        let repository = try PackedRepository()
        let packs = try PackSet(objectsDirectory: repository.objects)
        let libgit2 = try Repository(at: repository.path)
        let cacheBytes = 96 << 10
        let reader = try PackReader(
            packs: packs, repositoryPath: repository.path, cacheBytes: cacheBytes, largeObjectBytes: 8 << 10)
        var largest = (all: 0, large: 0)
        for id in packs.packOrder(try repository.allObjects().map(\.id), id: { $0 }) {
            let expected = try libgit2.withObjectBytes(id) { Array($0) }
            #expect(try reader.withObjectBytes(id) { Array($0) } == expected, "object \(id)")
            let held = reader.cachedObjectBytes
            #expect(held.all <= cacheBytes)
            #expect(held.large <= cacheBytes / 3)
            largest = (max(largest.all, held.all), max(largest.large, held.large))
        }
        // The pack's two large files (about 20 KB a version) were cached; their 48 versions, read one after the
        // other, would have filled the whole budget.
        #expect(largest.large > cacheBytes / 6)
        #expect(reader.statistics.cacheHits > 0)
    }
}
