import CGit2

// The id type is the core's, so that ids cross from git to the store without conversions; clients of this
// module see it as `Git.ObjectID` too.
@_exported import struct ShardScanCore.ObjectID

extension ObjectID {
    init(_ oid: git_oid) {
        var copy = oid
        self = Swift.withUnsafeBytes(of: &copy.id) { ObjectID(unsafeBytesAt: $0.baseAddress!) }
    }

    var raw: git_oid {
        var oid = git_oid()
        withUnsafeBytes { bytes in withUnsafeMutableBytes(of: &oid.id) { $0.copyMemory(from: bytes) } }
        return oid
    }
}
