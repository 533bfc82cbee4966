import CGit2

// The id type is the core's, so that ids cross from git to the store without conversions; clients of this
// module see it as `Git.ObjectID` too.
@_exported import struct ShardScanCore.ObjectID

extension ObjectID {
    init(_ oid: git_oid) {
        var copy = oid
        self = withUnsafeBytes(of: &copy.id) { ObjectID(unsafeBytesAt: $0.baseAddress!) }
    }

    var raw: git_oid {
        var oid = git_oid()
        let bytes = self.bytes
        withUnsafeMutableBytes(of: &oid.id) { $0.copyBytes(from: bytes) }
        return oid
    }
}
