import Crypto
import Foundation
import ShardScanCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a scan worker needs to read blobs: their size (without reading them) and their bytes.
///
/// ``Repository`` reads through libgit2; ``PackReader`` reads packs itself and falls back to libgit2.
public protocol ObjectReader: AnyObject {
    /// The size of object `id` in bytes, without inflating it.
    func objectSize(_ id: ObjectID) throws(GitError) -> Int
    /// Reads object `id` and lends its bytes to `body`; the bytes are valid only inside `body`.
    func withObjectBytes<Result>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> Result) throws
        -> Result
}

extension Repository: ObjectReader {}

/// What a read under a size limit gives: the reader's result, or the size of an object over the limit.
public enum SizeLimitedRead<Result> {
    case read(Result)
    case tooLarge(size: Int)
}

/// Reads objects from a ``PackSet`` itself: inflates each entry (see ``Inflater``), resolves `OFS_DELTA` and
/// `REF_DELTA` chains from a cache of recently produced objects (keyed by pack location, bounded in bytes),
/// and checks every object it lends against its id (SHA-1 of `"<type> <size>\0"` and the bytes), so that a
/// corrupt pack is an error naming the object, never wrong bytes. Objects in no pack (loose, or missing) are
/// read through libgit2.
///
/// One reader per thread. Read objects in pack order (``PackSet/packOrder(_:id:)``): a delta's base lies
/// before it, so a forward walk finds most bases in the cache and inflates each object once.
public final class PackReader: ObjectReader {
    public let packs: PackSet
    /// The most bytes the cache holds.
    public let cacheBytes: Int
    /// The widest span of a pack the reader keeps mapped: once the entries it inflated since it last released
    /// a pack's pages span this many bytes, it releases them.
    public let mappedBytes: Int
    /// The largest delta buffer kept for the next delta; a bigger one is freed once its object is built.
    public let scratchKeepBytes: Int
    /// Cached objects of this size and up are large: the biggest get pages of their own from malloc (see
    /// `ScanMemory.ownPagesFrom`), handed back when they are evicted, while the memory of evicted small objects
    /// stays in the thread's heap for the next ones. Large ones may hold at most a third of ``cacheBytes``: with
    /// no limit of their own, a run of large objects evicted the small ones and the cache came to occupy its
    /// heap's high-water mark of small objects plus as many bytes of large ones, up to twice its budget (on the
    /// large bench shard, 221 blobs over 1 MB against 5 on the default one).
    public let largeObjectBytes: Int
    /// What this reader did, for profiles and tests.
    public private(set) var statistics = Statistics()

    private let repositoryPath: String
    /// libgit2 over the repository's loose objects alone, and over all its objects; opened on first need.
    private var looseObjects: Repository?
    private var repository: Repository?
    private let inflater: Inflater
    private var cache: [PackLocation: CachedObject] = [:]
    /// Cache keys of objects under ``largeObjectBytes`` and of the others, each in insertion order; a key used
    /// since its last pass gets a second chance (CLOCK).
    private var smallClock = Clock()
    private var largeClock = Clock()
    private var cachedBytes = 0
    private var cachedLargeBytes = 0
    private let deltaScratch: Scratch
    /// The delta of the object asked for, when its size was needed first (``withObjectBytes(_:sizeLimit:_:)``).
    private let topDeltaScratch: Scratch
    /// Per pack, the span of the entries this reader inflated since it last released that pack's pages.
    private var touched: [Int: Range<Int>] = [:]

    /// Counts of a reader's work.
    public struct Statistics: Sendable, Equatable {
        /// Objects lent to callers from packs, and through libgit2.
        public var packedReads = 0
        public var fallbackReads = 0
        /// Entries inflated: whole objects and deltas.
        public var inflatedObjects = 0
        public var inflatedDeltas = 0
        /// Objects (bases or wanted ones) found in the cache.
        public var cacheHits = 0
        /// Times a span of mapped pack pages was released, and the widest span kept mapped after a read.
        public var releases = 0
        public var widestKeptSpan = 0
        /// The largest inflated delta, and what the delta buffer holds between reads (see
        /// ``PackReader/scratchKeepBytes``).
        public var largestDelta = 0
        public var scratchBytes = 0
    }

    /// A reader of `packs`, falling back to the repository at `repositoryPath` (opened on first need) for
    /// objects in no pack. `cacheBytes` bounds the memory of produced objects kept as delta bases, `mappedBytes`
    /// the pack pages kept mapped (see ``mappedBytes``), `scratchKeepBytes` the delta buffer kept between reads.
    ///
    /// A buffer kept at the largest delta seen so far grows with the pack (at the heap's peak the scan's three
    /// readers held 7.6 MB of them on the large bench shard, 3.6 MB on the default one), while most deltas are
    /// a few KB; a bigger buffer is freed, back to the thread's heap or, past the size from which
    /// ``ProcessMemory/ownPages(from:)`` gives blocks pages of their own, to the system.
    public init(
        packs: PackSet, repositoryPath: String, cacheBytes: Int = 48 << 20, mappedBytes: Int = 8 << 20,
        scratchKeepBytes: Int = 256 << 10, largeObjectBytes: Int = 256 << 10
    ) throws(GitError) {
        self.packs = packs
        self.repositoryPath = repositoryPath
        self.cacheBytes = max(0, cacheBytes)
        self.mappedBytes = max(0, mappedBytes)
        self.scratchKeepBytes = max(0, scratchKeepBytes)
        self.largeObjectBytes = max(1, largeObjectBytes)
        deltaScratch = Scratch(keepBytes: self.scratchKeepBytes)
        topDeltaScratch = Scratch(keepBytes: self.scratchKeepBytes)
        inflater = try Inflater()
    }

    // MARK: ObjectReader

    public func objectSize(_ id: ObjectID) throws(GitError) -> Int {
        guard let location = packs.location(of: id) else { return try fallback(for: id).objectSize(id) }
        if let cached = cache[location] { return cached.count }
        let entry = try header(at: location)
        switch entry.kind {
        case .whole: return entry.size
        case .offsetDelta, .referenceDelta: return try deltaResultSize(entry, at: location)
        }
    }

    /// The size of the object the delta `entry` builds, from the start of its data alone: the base's size and
    /// the result's, inflated by a zlib stream that stops there.
    private func deltaResultSize(_ entry: Entry, at location: PackLocation) throws(GitError) -> Int {
        var prefix = [UInt8](repeating: 0, count: 20)
        let got = prefix.withUnsafeMutableBytes { output in
            inflater.inflatePrefix(entry.data, into: output)
        }
        guard let got else { throw corrupt(location, "delta data is not zlib") }
        var position = 0
        guard readSize(prefix[..<got], &position) != nil, let size = readSize(prefix[..<got], &position) else {
            throw corrupt(location, "delta header cut short")
        }
        return size
    }

    public func withObjectBytes<Result>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> Result) throws
        -> Result
    {
        guard let location = packs.location(of: id) else {
            statistics.fallbackReads += 1
            return try fallback(for: id).withObjectBytes(id, body)
        }
        let object = try resolve(location)
        statistics.packedReads += 1
        let bytes = object.bytes
        try verify(bytes, type: object.type, id: id, location: location)
        return try body(bytes)
    }

    /// Reads object `id` and lends its bytes to `body` when it is at most `sizeLimit` bytes; a larger one is
    /// `.tooLarge`, neither built nor lent. What ``objectSize(_:)`` then ``withObjectBytes(_:_:)`` do, without
    /// inflating the start of a delta twice: a delta's size is in its inflated data, which is kept for building
    /// the object (the base is inflated only once the size is known to be under the limit).
    public func withObjectBytes<Result>(
        _ id: ObjectID, sizeLimit: Int, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> SizeLimitedRead<Result> {
        guard let location = packs.location(of: id) else {
            let size = try objectSize(id)
            guard size <= sizeLimit else { return .tooLarge(size: size) }
            statistics.fallbackReads += 1
            return .read(try fallback(for: id).withObjectBytes(id, body))
        }
        let object: CachedObject
        do {
            object = try resolve(location, sizeLimit: sizeLimit)
        } catch let tooLarge as ObjectTooLarge {
            return .tooLarge(size: tooLarge.size)
        }
        statistics.packedReads += 1
        let bytes = object.bytes
        try verify(bytes, type: object.type, id: id, location: location)
        return .read(try body(bytes))
    }

    /// Thrown inside ``resolve(_:sizeLimit:)``, caught by its caller.
    private struct ObjectTooLarge: Error {
        var size: Int
    }

    // MARK: Pack entries

    /// A pack entry's header: what it is, its size, where its compressed data starts.
    private struct Entry {
        enum Kind {
            case whole
            case offsetDelta(base: UInt64)
            case referenceDelta(base: ObjectID)
        }

        var kind: Kind
        /// 1 commit, 2 tree, 3 blob, 4 tag; 6 and 7 for deltas.
        var type: Int
        /// The inflated size: the object's, or the delta data's.
        var size: Int
        /// Where the entry starts in its pack.
        var start: Int
        /// From the compressed data to the end of the pack's objects.
        var data: UnsafeRawBufferPointer
    }

    private func header(at location: PackLocation) throws(GitError) -> Entry {
        let pack = packs.packs[location.pack]
        // The last 20 bytes are the pack's checksum.
        let end = pack.count - 20
        guard location.offset >= 12, location.offset < UInt64(end) else {
            throw corrupt(location, "offset outside the pack")
        }
        let bytes = pack.bytes
        var position = Int(location.offset)
        var byte = bytes[position]
        position += 1
        let type = Int(byte >> 4) & 7
        var size = Int(byte & 0x0f)
        var shift = 4
        while byte & 0x80 != 0 {
            guard position < end, shift <= 56 else { throw corrupt(location, "object header runs on") }
            byte = bytes[position]
            position += 1
            size |= Int(byte & 0x7f) << shift
            shift += 7
        }
        let kind: Entry.Kind
        switch type {
        case 1...4:
            kind = .whole
        case 6:
            // Big-endian groups of 7 bits, each continuation adding one so that no offset has two encodings.
            guard position < end else { throw corrupt(location, "delta offset cut short") }
            byte = bytes[position]
            position += 1
            var distance = UInt64(byte & 0x7f)
            while byte & 0x80 != 0 {
                guard position < end, distance < (1 << 56) else { throw corrupt(location, "delta offset runs on") }
                byte = bytes[position]
                position += 1
                distance = ((distance + 1) << 7) | UInt64(byte & 0x7f)
            }
            guard distance > 0, distance <= location.offset else {
                throw corrupt(location, "delta base offset points outside the pack")
            }
            kind = .offsetDelta(base: location.offset - distance)
        case 7:
            guard position + 20 <= end else { throw corrupt(location, "delta base name cut short") }
            kind = .referenceDelta(base: ObjectID(bytes: bytes[position..<(position + 20)])!)
            position += 20
        default:
            throw corrupt(location, "unknown object type \(type)")
        }
        return Entry(
            kind: kind, type: type, size: size, start: Int(location.offset),
            data: UnsafeRawBufferPointer(rebasing: bytes[position..<end]))
    }

    /// The object at `location`, from the cache or by inflating it and the deltas above its base.
    /// A larger object throws ``ObjectTooLarge`` (see ``withObjectBytes(_:sizeLimit:_:)``).
    private func resolve(_ location: PackLocation, sizeLimit: Int = .max) throws -> CachedObject {
        if let hit = use(location) {
            guard hit.count <= sizeLimit else { throw ObjectTooLarge(size: hit.count) }
            return hit
        }
        // Walk down the delta chain to an object the cache holds, or to a whole one.
        var chain: [(location: PackLocation, entry: Entry)] = []
        var current = location
        var base: CachedObject
        /// The requested object's delta, inflated to read its size before the chain below it is built.
        var topDelta: UnsafeMutableRawBufferPointer?
        defer { topDeltaScratch.shrink() }
        walk: while true {
            if let hit = use(current) {
                base = hit
                break walk
            }
            let entry = try header(at: current)
            if current == location && sizeLimit < .max {
                switch entry.kind {
                case .whole:
                    if entry.size > sizeLimit { throw ObjectTooLarge(size: entry.size) }
                case .offsetDelta, .referenceDelta:
                    if entry.size > scratchKeepBytes {
                        // A large delta is inflated once, in its turn below, into the chain's buffer: held from
                        // here on, it was a second large delta buffer beside that one (7.6 MB of the large bench
                        // shard's heap peak was the two).
                        let size = try deltaResultSize(entry, at: location)
                        if size > sizeLimit { throw ObjectTooLarge(size: size) }
                        break
                    }
                    let delta = topDeltaScratch.buffer(entry.size)
                    if let problem = inflater.inflate(entry.data, into: delta) { throw corrupt(location, problem) }
                    var position = 0
                    guard readSize(UnsafeRawBufferPointer(delta), &position) != nil,
                        let size = readSize(UnsafeRawBufferPointer(delta), &position)
                    else { throw corrupt(location, "delta header cut short") }
                    if size > sizeLimit { throw ObjectTooLarge(size: size) }
                    topDelta = delta
                }
            }
            switch entry.kind {
            case .whole:
                let object = CachedObject(type: entry.type, count: entry.size)
                if let problem = inflater.inflate(entry.data, into: object.mutableBytes) {
                    throw corrupt(current, problem)
                }
                noteRead(current.pack, entry)
                statistics.inflatedObjects += 1
                remember(object, at: current)
                base = object
                break walk
            case .offsetDelta(let offset):
                chain.append((current, entry))
                current = PackLocation(pack: current.pack, offset: offset)
            case .referenceDelta(let id):
                chain.append((current, entry))
                if let next = packs.location(of: id) {
                    current = next
                } else {
                    // A base outside the packs (a thin pack completed with loose objects): libgit2 reads it.
                    statistics.fallbackReads += 1
                    let repository = try fallback(for: id)
                    let type = try repository.objectType(id)
                    base = try repository.withObjectBytes(id) { bytes in
                        let object = CachedObject(type: type, count: bytes.count)
                        object.mutableBytes.copyMemory(from: bytes)
                        return object
                    }
                    break walk
                }
            }
            // git caps chains at a few thousand; a longer one is a loop of REF_DELTAs.
            guard chain.count < 10_000 else { throw corrupt(location, "delta chain does not end") }
        }
        // Apply the deltas from the base up.
        defer {
            deltaScratch.shrink()
            statistics.scratchBytes = deltaScratch.count
        }
        for link in chain.reversed() {
            statistics.largestDelta = max(statistics.largestDelta, link.entry.size)
            let delta: UnsafeMutableRawBufferPointer
            if let topDelta, link.location == location {
                delta = topDelta
            } else {
                delta = deltaScratch.buffer(link.entry.size)
                if let problem = inflater.inflate(link.entry.data, into: delta) {
                    throw corrupt(link.location, problem)
                }
            }
            noteRead(link.location.pack, link.entry)
            statistics.inflatedDeltas += 1
            let object = try apply(UnsafeRawBufferPointer(delta), to: base, at: link.location)
            remember(object, at: link.location)
            base = object
        }
        return base
    }

    /// Builds the object `delta` describes from `base` (gitformat-pack(5), "Deltified representation").
    private func apply(_ delta: UnsafeRawBufferPointer, to base: CachedObject, at location: PackLocation)
        throws(GitError) -> CachedObject
    {
        var position = 0
        guard let baseSize = readSize(delta, &position), let resultSize = readSize(delta, &position) else {
            throw corrupt(location, "delta header cut short")
        }
        guard baseSize == base.count else {
            throw corrupt(location, "delta expects a base of \(baseSize) bytes, the base has \(base.count)")
        }
        let result = CachedObject(type: base.type, count: resultSize)
        let output = result.mutableBytes
        let source = base.bytes
        var written = 0
        while position < delta.count {
            let op = delta[position]
            position += 1
            if op & 0x80 != 0 {
                var offset = 0
                var length = 0
                for bit in 0..<4 where op & (1 << bit) != 0 {
                    guard position < delta.count else { throw corrupt(location, "delta copy cut short") }
                    offset |= Int(delta[position]) << (8 * bit)
                    position += 1
                }
                for bit in 0..<3 where op & (0x10 << bit) != 0 {
                    guard position < delta.count else { throw corrupt(location, "delta copy cut short") }
                    length |= Int(delta[position]) << (8 * bit)
                    position += 1
                }
                if length == 0 { length = 0x10000 }
                guard offset + length <= source.count, written + length <= resultSize else {
                    throw corrupt(location, "delta copies outside its base or result")
                }
                (output.baseAddress! + written).copyMemory(from: source.baseAddress! + offset, byteCount: length)
                written += length
            } else if op != 0 {
                let length = Int(op)
                guard position + length <= delta.count, written + length <= resultSize else {
                    throw corrupt(location, "delta insert runs past its data or result")
                }
                (output.baseAddress! + written).copyMemory(from: delta.baseAddress! + position, byteCount: length)
                position += length
                written += length
            } else {
                throw corrupt(location, "reserved delta instruction 0")
            }
        }
        guard written == resultSize else {
            throw corrupt(location, "delta builds \(written) bytes, its header says \(resultSize)")
        }
        return result
    }

    /// A size in the delta header's encoding: 7 bits a byte, least significant first.
    private func readSize<Bytes: RandomAccessCollection>(_ bytes: Bytes, _ position: inout Int) -> Int?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var value = 0
        var shift = 0
        while position < bytes.endIndex, shift <= 56 {
            let byte = bytes[position]
            position += 1
            value |= Int(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    /// Checks `bytes` against `id`: SHA-1 of the header `"<type> <size>\0"` and the bytes. Called for every
    /// object lent, so it allocates nothing: the header is written into a buffer on the stack.
    private func verify(_ bytes: UnsafeRawBufferPointer, type: Int, id: ObjectID, location: PackLocation)
        throws(GitError)
    {
        var hasher = Insecure.SHA1()
        // The longest header: "commit " and 19 digits and the NUL.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { header in
            var count = 0
            for byte in Self.typeNames[type < Self.typeNames.count ? type : 0] {
                header[count] = byte
                count += 1
            }
            header[count] = UInt8(ascii: " ")
            count += 1
            var digits = 1
            var rest = bytes.count / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            var value = bytes.count
            for index in stride(from: count + digits - 1, through: count, by: -1) {
                header[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            count += digits
            header[count] = 0
            count += 1
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(header)[..<count]))
        }
        hasher.update(bufferPointer: bytes)
        let digest = hasher.finalize()
        let matches = digest.withUnsafeBytes { actual in
            id.withUnsafeBytes { wanted in memcmp(actual.baseAddress!, wanted.baseAddress!, 20) == 0 }
        }
        guard !matches else { return }
        // The cached copy is as wrong as the one lent; drop it so nothing builds on it.
        forget(location)
        let actual = lowercaseHex(digest)
        throw GitError.pack(
            "object \(id.hex) read from \(packName(location)) at offset \(location.offset) hashes to \(actual): "
                + "the pack is corrupt")
    }

    /// Type names by pack type number (1 commit, 2 tree, 3 blob, 4 tag); `?` for any other.
    private static let typeNames: [[UInt8]] = ["?", "commit", "tree", "blob", "tag"].map { Array($0.utf8) }

    private func corrupt(_ location: PackLocation, _ problem: String) -> GitError {
        GitError.pack("\(packName(location)) at offset \(location.offset): \(problem) (corrupt pack?)")
    }

    private func packName(_ location: PackLocation) -> String {
        String(packs.packs[location.pack].path.split(separator: "/").last ?? "pack")
    }

    /// Records that `entry` was just inflated, and releases the pages of the span read since the last release
    /// once it is ``mappedBytes`` wide. Mapped pages count in the resident size until released, and a span
    /// bounds them where a count of bytes read would not: a reader that hops over the pack (tree reads, a delta
    /// base far back) touches pages all over it while reading few bytes, and each fault maps the pages around it
    /// too.
    private func noteRead(_ pack: Int, _ entry: Entry) {
        let start = entry.start
        let end = (entry.data.baseAddress! - packs.packs[pack].base!) + inflater.consumed
        let span = touched[pack].map { min($0.lowerBound, start)..<max($0.upperBound, end) } ?? start..<end
        if span.count >= mappedBytes {
            packs.packs[pack].release(span)
            statistics.releases += 1
            touched[pack] = nil
        } else {
            touched[pack] = span
            statistics.widestKeptSpan = max(statistics.widestKeptSpan, span.count)
        }
    }

    /// libgit2 for an object in none of the packs: its loose objects, where nearly every such object lies, else
    /// (an object packed since the packs were opened, or a missing one, whose error libgit2 words) the whole
    /// object database.
    private func fallback(for id: ObjectID) throws(GitError) -> Repository {
        let loose: Repository
        if let looseObjects {
            loose = looseObjects
        } else {
            loose = try Repository(at: repositoryPath)
            try loose.readLooseObjectsOnly()
            looseObjects = loose
        }
        if loose.contains(id) { return loose }
        if let repository { return repository }
        let opened = try Repository(at: repositoryPath)
        repository = opened
        return opened
    }

    // MARK: Cache

    private func use(_ location: PackLocation) -> CachedObject? {
        guard let hit = cache[location] else { return nil }
        hit.used = true
        statistics.cacheHits += 1
        return hit
    }

    /// Keeps `object` as a possible delta base, evicting the least recently used ones past the budget. An
    /// object over a quarter of the budget is not kept: it would flush the many small bases worth keeping. A large
    /// object first evicts large ones past their third of the budget (``largeObjectBytes``); past the whole
    /// budget, small ones go first.
    private func remember(_ object: CachedObject, at location: PackLocation) {
        guard object.count <= cacheBytes / 4, cache[location] == nil else { return }
        let large = object.count >= largeObjectBytes
        if large {
            evict(from: &largeClock) { cachedLargeBytes + object.count > cacheBytes / 3 }
        }
        evict(from: &smallClock) { cachedBytes + object.count > cacheBytes }
        evict(from: &largeClock) { cachedBytes + object.count > cacheBytes }
        cache[location] = object
        if large {
            largeClock.keys.append(location)
            cachedLargeBytes += object.count
        } else {
            smallClock.keys.append(location)
        }
        cachedBytes += object.count
    }

    /// Evicts the objects of `clock` not used since the hand last passed them, while `overBudget`.
    private func evict(from clock: inout Clock, while overBudget: () -> Bool) {
        while overBudget(), clock.head < clock.keys.count {
            let key = clock.keys[clock.head]
            clock.head += 1
            guard let entry = cache[key] else { continue }
            if entry.used {
                entry.used = false
                clock.keys.append(key)
            } else {
                forget(key)
            }
        }
        if clock.head > 4096 && clock.head * 2 > clock.keys.count {
            clock.keys.removeFirst(clock.head)
            clock.head = 0
        }
    }

    /// Bytes held by cached objects, and by the large ones among them (``largeObjectBytes``).
    public var cachedObjectBytes: (all: Int, large: Int) { (cachedBytes, cachedLargeBytes) }

    private func forget(_ location: PackLocation) {
        guard let entry = cache.removeValue(forKey: location) else { return }
        cachedBytes -= entry.count
        if entry.count >= largeObjectBytes { cachedLargeBytes -= entry.count }
    }
}

/// Cache keys in insertion order, and the hand.
private struct Clock {
    var keys: [PackLocation] = []
    var head = 0
}

/// An object's bytes in memory of its own, freed with the last reference.
private final class CachedObject {
    let type: Int
    let count: Int
    private let storage: UnsafeMutableRawPointer
    /// Used since the cache's clock hand last passed it.
    var used = false

    init(type: Int, count: Int) {
        self.type = type
        self.count = count
        storage = .allocate(byteCount: max(count, 1), alignment: 16)
    }

    deinit { storage.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }
    var mutableBytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: storage, count: count) }
}

/// A buffer reused for inflated delta data, grown as needed and shrunk back to at most `keepBytes` after use.
private final class Scratch {
    private var storage: UnsafeMutableRawBufferPointer?
    let keepBytes: Int

    init(keepBytes: Int) { self.keepBytes = keepBytes }

    deinit { storage?.deallocate() }

    /// The bytes held now.
    var count: Int { storage?.count ?? 0 }

    /// Frees the buffer when it is over `keepBytes`; the next delta allocates what it needs.
    func shrink() {
        guard let storage, storage.count > keepBytes else { return }
        storage.deallocate()
        self.storage = nil
    }

    func buffer(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if let storage, storage.count >= count { return UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]) }
        storage?.deallocate()
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 4096), alignment: 16)
        storage = grown
        return UnsafeMutableRawBufferPointer(rebasing: grown[0..<count])
    }
}
