import Foundation

/// Diffs trees read through an ``ObjectReader`` (a ``PackReader``, which falls back to libgit2 for loose
/// objects) by walking both trees' sorted entries side by side: a subtree whose id is the same on both sides is
/// skipped unread, a new or changed subtree is read and walked. It gives what ``Repository/changes(from:to:)``
/// gives (libgit2's `git_diff_tree_to_tree`), in the same order, without libgit2's diff machinery (iterators,
/// path buffers and delta lists), which was the largest libgit2 cost of a scan.
///
/// A ``TreeFilter`` narrows the diff to the paths a caller wants; a directory it rules out is not read.
///
/// One reader per thread, like the ``ObjectReader`` under it.
public final class TreeReader {
    private let reader: any ObjectReader
    /// What the diffs want; `nil` for every file.
    public var filter: TreeFilter?
    /// Trees read and not yet done with, parked for reuse of their storage.
    private var spare: [ParsedTree] = []

    public init(reader: any ObjectReader) {
        self.reader = reader
    }

    /// The files added or modified between tree `old` (or the empty tree when `nil`) and tree `new`, as
    /// ``Repository/changes(from:to:)`` lists them: deletions, submodule entries and directories left out, and
    /// with a ``filter``, only the files it wants.
    public func changes(from old: ObjectID?, to new: ObjectID) throws -> [FileChange] {
        var changes: [FileChange] = []
        var path: [UInt8] = []
        path.reserveCapacity(256)
        let newTree = try read(new)
        let oldTree = try old.map { try read($0) }
        try diff(oldTree, newTree, path: &path, into: &changes)
        park(newTree)
        if let oldTree { park(oldTree) }
        return changes
    }

    // MARK: Walking

    /// Appends the changes from `old` to `new` (both at `path`, which ends with `/` unless at the root).
    private func diff(_ old: ParsedTree?, _ new: ParsedTree, path: inout [UInt8], into changes: inout [FileChange])
        throws
    {
        var oldIndex = 0
        let oldCount = old?.entries.count ?? 0
        var newIndex = 0
        while newIndex < new.entries.count {
            let entry = new.entries[newIndex]
            guard oldIndex < oldCount, let old else {
                try added(entry, of: new, path: &path, into: &changes)
                newIndex += 1
                continue
            }
            let oldEntry = old.entries[oldIndex]
            let order = ParsedTree.compare(oldEntry, of: old, entry, of: new)
            if order < 0 {
                // Deleted: nothing to report.
                oldIndex += 1
                continue
            }
            if order > 0 {
                try added(entry, of: new, path: &path, into: &changes)
                newIndex += 1
                continue
            }
            oldIndex += 1
            newIndex += 1
            let sameID = old.idEquals(oldEntry, new, entry)
            if entry.isTree {
                // Both are trees (the order puts a tree and a file of one name apart).
                if sameID { continue }
                let mark = path.count
                new.appendName(of: entry, to: &path)
                path.append(UInt8(ascii: "/"))
                if let filter, !path.withUnsafeBytes(filter.directory) {
                    path.removeSubrange(mark...)
                    continue
                }
                let oldSubtree = try read(old.id(of: oldEntry))
                let newSubtree = try read(new.id(of: entry))
                try diff(oldSubtree, newSubtree, path: &path, into: &changes)
                park(newSubtree)
                park(oldSubtree)
                path.removeSubrange(mark...)
            } else if oldEntry.mode & 0o170000 != entry.mode & 0o170000 {
                // libgit2 (without GIT_DIFF_INCLUDE_TYPECHANGE) splits a change of kind, a file becoming a
                // link or a submodule or back, into a deletion and an addition.
                append(entry, of: new, kind: .added, path: &path, into: &changes)
            } else if !sameID || oldEntry.mode != entry.mode {
                append(entry, of: new, kind: .modified, path: &path, into: &changes)
            }
        }
    }

    /// Appends `entry` as added: a file, or every file under a tree.
    private func added(
        _ entry: ParsedTree.Entry, of tree: ParsedTree, path: inout [UInt8], into changes: inout [FileChange]
    )
        throws
    {
        guard entry.isTree else {
            append(entry, of: tree, kind: .added, path: &path, into: &changes)
            return
        }
        let mark = path.count
        tree.appendName(of: entry, to: &path)
        path.append(UInt8(ascii: "/"))
        defer { path.removeSubrange(mark...) }
        if let filter, !path.withUnsafeBytes(filter.directory) { return }
        let subtree = try read(tree.id(of: entry))
        try diff(nil, subtree, path: &path, into: &changes)
        park(subtree)
    }

    private func append(
        _ entry: ParsedTree.Entry, of tree: ParsedTree, kind: FileChange.Kind, path: inout [UInt8],
        into changes: inout [FileChange]
    ) {
        // The modes libgit2's diff is asked for (see `changes(from:to:)`), compared raw as it compares them.
        let isLink = entry.mode == 0o120000
        guard entry.mode == 0o100644 || entry.mode == 0o100755 || isLink else { return }
        let mark = path.count
        tree.appendName(of: entry, to: &path)
        defer { path.removeSubrange(mark...) }
        // Turned away on its bytes, a file costs no `String`.
        if let filter, !path.withUnsafeBytes(filter.file) { return }
        let text = String(validating: path, as: UTF8.self)
        changes.append(
            FileChange(
                path: text ?? String(decoding: path, as: UTF8.self), pathBytes: text == nil ? path : nil,
                blob: tree.id(of: entry), kind: kind, isSymlink: isLink))
    }

    // MARK: Reading

    private func read(_ id: ObjectID) throws -> ParsedTree {
        let tree = spare.popLast() ?? ParsedTree()
        try reader.withObjectBytes(id) { bytes in try tree.parse(bytes, id: id) }
        return tree
    }

    private func park(_ tree: ParsedTree) {
        if spare.count < 64 { spare.append(tree) }
    }
}

/// Which paths of a tree diff a caller wants, asked of their bytes (UTF-8 as git stores them).
///
/// Both may say yes to more than is wanted (the caller checks what it gets), never no to anything wanted.
public struct TreeFilter: Sendable {
    /// Whether files under the directory at this path (which ends with `/`) may be wanted; when not, the
    /// directory is not read.
    public var directory: @Sendable (UnsafeRawBufferPointer) -> Bool
    /// Whether the file at this path may be wanted.
    public var file: @Sendable (UnsafeRawBufferPointer) -> Bool

    public init(
        directory: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool,
        file: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool
    ) {
        self.directory = directory
        self.file = file
    }
}

/// A tree object's bytes, copied, and its entries' places in them.
final class ParsedTree {
    struct Entry {
        var mode: UInt32
        var nameStart: Int
        var nameEnd: Int
        /// Where the entry's 20-byte id starts.
        var idStart: Int

        var isTree: Bool { mode & 0o170000 == 0o040000 }
    }

    private(set) var bytes: [UInt8] = []
    private(set) var entries: [Entry] = []

    /// Parses `raw`, the bytes of tree `id`: entries of `<octal mode> <name>\0<20-byte id>`.
    func parse(_ raw: UnsafeRawBufferPointer, id: ObjectID) throws {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: raw)
        entries.removeAll(keepingCapacity: true)
        var position = 0
        let count = bytes.count
        try bytes.withUnsafeBufferPointer { buffer throws(GitError) in
            while position < count {
                var mode: UInt32 = 0
                var digits = 0
                while position < count, buffer[position] != UInt8(ascii: " ") {
                    let digit = buffer[position] &- UInt8(ascii: "0")
                    guard digit < 8, digits < 7 else { throw Self.malformed(id) }
                    mode = mode << 3 | UInt32(digit)
                    digits += 1
                    position += 1
                }
                guard digits > 0, position < count else { throw Self.malformed(id) }
                position += 1
                let nameStart = position
                while position < count, buffer[position] != 0 { position += 1 }
                guard position > nameStart, position + 21 <= count else { throw Self.malformed(id) }
                entries.append(Entry(mode: mode, nameStart: nameStart, nameEnd: position, idStart: position + 1))
                position += 21
            }
        }
    }

    private static func malformed(_ id: ObjectID) -> GitError {
        GitError(code: -1, message: "tree \(id.hex) is malformed")
    }

    func id(of entry: Entry) -> ObjectID {
        bytes.withUnsafeBytes { ObjectID(unsafeBytesAt: $0.baseAddress! + entry.idStart) }
    }

    func idEquals(_ entry: Entry, _ other: ParsedTree, _ otherEntry: Entry) -> Bool {
        bytes.withUnsafeBytes { mine in
            other.bytes.withUnsafeBytes { theirs in
                memcmp(mine.baseAddress! + entry.idStart, theirs.baseAddress! + otherEntry.idStart, 20) == 0
            }
        }
    }

    func appendName(of entry: Entry, to path: inout [UInt8]) {
        path.append(contentsOf: bytes[entry.nameStart..<entry.nameEnd])
    }

    /// Git's tree order: names compared bytewise, a tree's name as if it ended with `/`.
    static func compare(_ left: Entry, of leftTree: ParsedTree, _ right: Entry, of rightTree: ParsedTree) -> Int {
        leftTree.bytes.withUnsafeBufferPointer { a in
            rightTree.bytes.withUnsafeBufferPointer { b in
                let leftCount = left.nameEnd - left.nameStart
                let rightCount = right.nameEnd - right.nameStart
                let common = min(leftCount, rightCount)
                let order = memcmp(a.baseAddress! + left.nameStart, b.baseAddress! + right.nameStart, common)
                if order != 0 { return Int(order) }
                let leftNext: UInt8 =
                    leftCount > common ? a[left.nameStart + common] : (left.isTree ? UInt8(ascii: "/") : 0)
                let rightNext: UInt8 =
                    rightCount > common ? b[right.nameStart + common] : (right.isTree ? UInt8(ascii: "/") : 0)
                return Int(leftNext) - Int(rightNext)
            }
        }
    }
}
