import ShardScanCore

/// What a walk needs of a commit: its tree, its parents and its committer time, read from the commit object's
/// header (gitformat-commit: `tree`, `parent`… and `committer` lines up to the first empty line).
///
/// Parsed from bytes a ``PackReader`` lends, so that walking a shard reads commits the way it reads trees and
/// blobs: libgit2, asked for each commit, kept its own mapping of the pack's index resident beside the
/// reader's (1.7 MB on the large bench shard; on a shard of a million objects, 28 MB).
public struct CommitHeader: Sendable, Equatable {
    public let tree: ObjectID
    /// First parent first.
    public let parents: [ObjectID]
    /// Committer time, seconds since 1970.
    public let time: Int64

    public init(tree: ObjectID, parents: [ObjectID], time: Int64) {
        self.tree = tree
        self.parents = parents
        self.time = time
    }

    /// The header of the commit object `bytes`, `nil` when they do not start with a `tree` line or have no
    /// committer time (the caller then asks libgit2, whose errors say more).
    public init?(parsing bytes: UnsafeRawBufferPointer) {
        var tree: ObjectID?
        var parents: [ObjectID] = []
        var time: Int64?
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            if line.isEmpty { break }
            if tree == nil {
                guard let id = Self.id(after: "tree ", in: line) else { return nil }
                tree = id
            } else if let id = Self.id(after: "parent ", in: line) {
                parents.append(id)
            } else if Self.starts(line, with: "committer ") {
                time = Self.signatureTime(line)
            }
            start = end + 1
        }
        guard let tree, let time else { return nil }
        self.init(tree: tree, parents: parents, time: time)
    }

    private static func starts(_ line: UnsafeRawBufferPointer, with prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard line.count >= count else { return false }
        return prefix.withUTF8Buffer { prefix in line.prefix(count).elementsEqual(prefix) }
    }

    /// The object id in hex after `prefix`, when the line is exactly that.
    private static func id(after prefix: StaticString, in line: UnsafeRawBufferPointer) -> ObjectID? {
        let count = prefix.utf8CodeUnitCount
        guard line.count == count + 40, starts(line, with: prefix) else { return nil }
        return ObjectID(hex: String(decoding: line[count...], as: UTF8.self))
    }

    /// The time of a signature line, `… <email> 1700000000 +0000`: the digits after the last `>`.
    private static func signatureTime(_ line: UnsafeRawBufferPointer) -> Int64? {
        guard let close = line.lastIndex(of: UInt8(ascii: ">")) else { return nil }
        var position = close + 1
        while position < line.count && line[position] == UInt8(ascii: " ") { position += 1 }
        var value: Int64 = 0
        var digits = 0
        while position < line.count, line[position] >= UInt8(ascii: "0"), line[position] <= UInt8(ascii: "9") {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = times + Int64(line[position] - UInt8(ascii: "0"))
            digits += 1
            position += 1
        }
        return digits > 0 ? value : nil
    }
}
