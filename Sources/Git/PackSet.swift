import Foundation

/// Where an object lies: which pack of a ``PackSet``, and the byte offset of its entry in that pack.
public struct PackLocation: Sendable, Hashable, Comparable {
    /// The pack's position in ``PackSet/indexes``.
    public let pack: Int
    public let offset: UInt64

    public init(pack: Int, offset: UInt64) {
        self.pack = pack
        self.offset = offset
    }

    public static func < (lhs: PackLocation, rhs: PackLocation) -> Bool {
        (lhs.pack, lhs.offset) < (rhs.pack, rhs.offset)
    }
}

/// Every pack of a repository (`objects/pack/pack-*.idx` with its `.pack`), indexes read and packs mapped.
///
/// Immutable once opened, so one set is shared by every thread of a scan; each thread reads through its own
/// ``PackReader``. Sets opened on the same packs share their indexes (``PackIndex/shared(path:)``), mapped
/// once. Packs written after opening are not seen (open a new set per scan). Alternates
/// (`objects/info/alternates`) are not followed: their objects read as not packed, and readers fall back to
/// libgit2 for them.
public final class PackSet: Sendable {
    /// The repository's object folder.
    public let objectsDirectory: String
    /// The packs' indexes, sorted by file name so that locations are the same in every run.
    public let indexes: [PackIndex]
    let packs: [MappedFile]

    /// Opens every pack under `objectsDirectory/pack`. An index without its pack is skipped, as git skips it;
    /// a pack whose header or checksum does not match its index is an error.
    public init(objectsDirectory: String) throws(GitError) {
        self.objectsDirectory = objectsDirectory
        let folder = objectsDirectory + "/pack"
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            // No pack folder: a repository of loose objects only.
            names = []
        }
        var indexes: [PackIndex] = []
        var packs: [MappedFile] = []
        for name in names.sorted() where name.hasPrefix("pack-") && name.hasSuffix(".idx") {
            let packPath = folder + "/" + name.dropLast(4) + ".pack"
            guard FileManager.default.fileExists(atPath: packPath) else { continue }
            let index = try PackIndex.shared(path: folder + "/" + name)
            let pack = try MappedFile(path: packPath)
            try Self.checkHeader(of: pack, against: index)
            indexes.append(index)
            packs.append(pack)
        }
        self.indexes = indexes
        self.packs = packs
    }

    /// Opens the packs of `repository`.
    public convenience init(repository: Repository) throws(GitError) {
        var directory = repository.gitDirectory
        while directory.hasSuffix("/") { directory.removeLast() }
        try self.init(objectsDirectory: directory + "/objects")
    }

    /// Where `id` lies, `nil` when no pack holds it (a loose object, or a missing one).
    public func location(of id: ObjectID) -> PackLocation? {
        for (pack, index) in indexes.enumerated() {
            if let offset = index.offset(of: id) { return PackLocation(pack: pack, offset: offset) }
        }
        return nil
    }

    /// `items` in the order their objects lie in the packs (pack by pack, by offset), so that a reader walks
    /// each pack forwards and finds the bases of deltas in its cache. Items whose object is in no pack (loose or
    /// missing) come last, in their given order.
    public func packOrder<Item>(_ items: [Item], id: (Item) -> ObjectID) -> [Item] {
        var keyed: [(location: PackLocation?, position: Int)] = []
        keyed.reserveCapacity(items.count)
        for (position, item) in items.enumerated() { keyed.append((location(of: id(item)), position)) }
        keyed.sort { lhs, rhs in
            switch (lhs.location, rhs.location) {
            case (let left?, let right?): return left < right || (left == right && lhs.position < rhs.position)
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return lhs.position < rhs.position
            }
        }
        return keyed.map { items[$0.position] }
    }

    /// The pack's signature, version and object count must match, and its trailing checksum must be the one
    /// its index records: an index left from another pack would send every read to the wrong bytes.
    private static func checkHeader(of pack: MappedFile, against index: PackIndex) throws(GitError) {
        guard pack.count >= 12 + 20 else { throw GitError.pack("\(pack.path): too short for a pack") }
        guard pack.word32(at: 0) == 0x5041_434b else { throw GitError.pack("\(pack.path): no PACK signature") }
        let version = pack.word32(at: 4)
        guard version == 2 || version == 3 else {
            throw GitError.pack("\(pack.path): pack version \(version) is not read")
        }
        guard Int(pack.word32(at: 8)) == index.count else {
            throw GitError.pack(
                "\(pack.path) holds \(pack.word32(at: 8)) objects, its index \(index.count): they do not belong together"
            )
        }
        guard Array(pack.bytes[(pack.count - 20)...]) == index.packChecksum else {
            throw GitError.pack("\(pack.path): its checksum is not the one its index records")
        }
    }
}

extension PackSet {
    /// About how many bytes the object at `location` inflates to, read from entry headers alone (nothing is
    /// inflated), for sharing reads out by their weight: a whole object's header gives its size; a delta's gives
    /// only the size of its instructions, so a delta is weighed as the whole object at the bottom of its chain
    /// (successive versions of a file are about the same size), followed through up to
    /// ``maxEstimateHops`` `OFS_DELTA` bases. A `REF_DELTA`, a longer chain or a malformed entry is weighed by the
    /// size its own header gives. Never less than 1.
    public func estimatedSize(at location: PackLocation) -> Int {
        guard location.pack >= 0, location.pack < packs.count else { return 1 }
        let pack = packs[location.pack]
        let end = pack.count - 20
        let bytes = pack.bytes
        var offset = location.offset
        var firstSize: Int?
        for _ in 0...Self.maxEstimateHops {
            guard offset >= 12, offset < UInt64(end) else { break }
            var position = Int(offset)
            var byte = bytes[position]
            position += 1
            let type = Int(byte >> 4) & 7
            var size = Int(byte & 0x0f)
            var shift = 4
            while byte & 0x80 != 0 && position < end && shift <= 56 {
                byte = bytes[position]
                position += 1
                size |= Int(byte & 0x7f) << shift
                shift += 7
            }
            if firstSize == nil { firstSize = size }
            guard type == 6, position < end else { return max(1, type < 5 ? size : firstSize ?? 1) }
            byte = bytes[position]
            position += 1
            var distance = UInt64(byte & 0x7f)
            while byte & 0x80 != 0 && position < end && distance < (1 << 56) {
                byte = bytes[position]
                position += 1
                distance = ((distance + 1) << 7) | UInt64(byte & 0x7f)
            }
            guard distance > 0, distance <= offset else { break }
            offset -= distance
        }
        return max(1, firstSize ?? 1)
    }

    /// Lets the kernel drop the pages of the packs this set has touched (``estimatedSize(at:)`` reads entry
    /// headers all over a pack): mapped pages count in the resident size until dropped, and a set used only to
    /// weigh and order windows would otherwise end up holding the whole pack. Pages are read again from the
    /// file when touched again; the readers' own sets are separate mappings and keep theirs.
    public func releaseMappedPages() {
        for pack in packs { pack.release(0..<pack.count) }
    }

    /// How far ``estimatedSize(at:)`` follows a delta chain.
    public static let maxEstimateHops = 16
}
