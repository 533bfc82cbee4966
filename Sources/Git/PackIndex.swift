#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file mapped read-only into memory, unmapped when released. Immutable, so threads may share it.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer?
    let count: Int
    /// Which file was mapped: a file put in its path's place later has another identity.
    let identity: FileIdentity

    init(path: String) throws(GitError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw GitError.pack("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw GitError.pack("cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        count = Int(info.st_size)
        identity = FileIdentity(info)
        if count == 0 {
            base = nil
            return
        }
        let address = mmap(nil, count, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw GitError.pack("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(address)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Lets the kernel drop the resident pages of `range` (rounded inward to whole pages). Mapped file pages
    /// count in the process's resident size, so a reader that walked past them hands them back; the
    /// mapping is private and never written, so a later read just faults them in again from the file.
    func release(_ range: Range<Int>) {
        guard let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page
        let end = min(range.upperBound, count) / page * page
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    /// The big-endian 32-bit word at `offset` (the caller checks the bounds).
    @inline(__always)
    func word32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: base!.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    func word64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: base!.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

/// A file as the system knows it: device, inode, size and modification time.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int64
    let modifiedNanoseconds: Int64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
            modified = Int64(info.st_mtimespec.tv_sec)
            modifiedNanoseconds = Int64(info.st_mtimespec.tv_nsec)
        #else
            modified = Int64(info.st_mtim.tv_sec)
            modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
        #endif
    }

    /// The identity of the file at `path` now, `nil` when it cannot be read.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(info)
    }
}

extension GitError {
    /// A problem found by shardscan's own pack reading (not reported by libgit2): `GIT_ERROR`.
    static func pack(_ message: String) -> GitError { GitError(code: -1, message: message) }
}

/// One pack's index (`pack-*.idx`, version 2): which objects the pack holds and where.
///
/// The format is git's (see gitformat-pack(5)): a magic and version, a 256-entry fan-out table, the sorted
/// object names, a CRC-32 per object, 4-byte offsets whose top bit sends offsets past 2 GiB to a table of
/// 8-byte ones, and a trailer with the pack's checksum and the index's. Version 1 indexes (no magic), which
/// git has not written by default since 2009, are refused.
public final class PackIndex: Sendable {
    /// The `.idx` file.
    public let path: String
    /// How many objects the pack holds.
    public let count: Int
    /// The SHA-1 of the pack file, as the pack's trailer records it.
    public let packChecksum: [UInt8]

    let file: MappedFile
    private let namesStart: Int
    private let crcStart: Int
    private let offsetsStart: Int
    private let largeOffsetsStart: Int
    private let largeOffsetCount: Int

    private static let magic: UInt32 = 0xff74_4f63  // "\377tOc"

    /// Reads and checks the index at `path`: its layout must match its object count exactly.
    public init(path: String) throws(GitError) {
        self.path = path
        file = try MappedFile(path: path)
        let size = file.count
        // Magic, version, fan-out, and the two 20-byte checksums of the trailer.
        guard size >= 8 + 256 * 4 + 40 else { throw GitError.pack("\(path): too short for a pack index") }
        guard file.word32(at: 0) == Self.magic else {
            throw GitError.pack("\(path): not a version 2 pack index (version 1 indexes are not read)")
        }
        let version = file.word32(at: 4)
        guard version == 2 else { throw GitError.pack("\(path): pack index version \(version), only 2 is read") }
        var previous: UInt32 = 0
        for slot in 0..<256 {
            let value = file.word32(at: 8 + slot * 4)
            guard value >= previous else { throw GitError.pack("\(path): fan-out table is not monotonic") }
            previous = value
        }
        count = Int(previous)
        namesStart = 8 + 256 * 4
        crcStart = namesStart + count * 20
        offsetsStart = crcStart + count * 4
        largeOffsetsStart = offsetsStart + count * 4
        let rest = size - largeOffsetsStart - 40
        guard rest >= 0, rest % 8 == 0 else {
            throw GitError.pack("\(path): size \(size) does not fit \(count) objects")
        }
        largeOffsetCount = rest / 8
        packChecksum = Array(file.bytes[(size - 40)..<(size - 20)])
        for position in 0..<count {
            let word = file.word32(at: offsetsStart + position * 4)
            if word & 0x8000_0000 != 0 && Int(word & 0x7fff_ffff) >= largeOffsetCount {
                throw GitError.pack("\(path): object \(position) points past the large-offset table")
            }
        }
    }

    /// The id of the object at `position` in name order (`0..<count`).
    public func id(at position: Int) -> ObjectID {
        ObjectID(unsafeBytesAt: file.base! + namesStart + position * 20)
    }

    /// The pack offset of the object at `position` in name order.
    public func offset(at position: Int) -> UInt64 {
        let word = file.word32(at: offsetsStart + position * 4)
        if word & 0x8000_0000 == 0 { return UInt64(word) }
        return file.word64(at: largeOffsetsStart + Int(word & 0x7fff_ffff) * 8)
    }

    /// The CRC-32 of the object's packed bytes (header and compressed data) at `position` in name order.
    public func crc32(at position: Int) -> UInt32 {
        file.word32(at: crcStart + position * 4)
    }

    /// The position of `id` in name order, `nil` when the pack does not hold it.
    public func position(of id: ObjectID) -> Int? {
        id.withUnsafeBytes { wanted -> Int? in
            let first = Int(wanted[0])
            var low = first == 0 ? 0 : Int(file.word32(at: 8 + (first - 1) * 4))
            var high = Int(file.word32(at: 8 + first * 4))
            let names = file.base! + namesStart
            while low < high {
                let middle = (low + high) / 2
                let order = memcmp(names + middle * 20, wanted.baseAddress!, 20)
                if order == 0 { return middle }
                if order < 0 { low = middle + 1 } else { high = middle }
            }
            return nil
        }
    }

    /// The pack offset of `id`, `nil` when the pack does not hold it.
    public func offset(of id: ObjectID) -> UInt64? {
        position(of: id).map(offset(at:))
    }
}
