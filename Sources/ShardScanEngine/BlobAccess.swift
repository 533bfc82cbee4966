import Foundation
import Git
import ShardScanCore

// The two places where a scan's reads can be changed without touching its walk, dedupe or ordering of results:
// the order the blobs of a window are read in (``BlobReadOrder``), and what reads their bytes (``BlobReader``).
// ``BlobAccess`` makes both, per shard; ``ScanOptions/blobAccess`` says which one a scan uses.

/// A blob a worker is to read and scan: one that no earlier commit of the walk, and no earlier run under the same
/// rule set, has read.
public struct BlobRequest: Sendable {
    /// The blob to read.
    public var blob: ObjectID
    /// Where it was first met in the shard (for messages).
    public var shardPath: String
    /// The path inside the release, which rules' `paths` see.
    public var innerPath: String
    /// The commit (by its position in the walk, oldest first) that first needed the blob: where its result goes.
    var commitIndex: Int
    /// About how many bytes reading it costs, as the read order estimates it (1 when it cannot tell): the
    /// workers' shares of a window are cut to equal weight.
    public var weight = 1
    /// The rules (indices into the rule set) to run, when not all (a backfill): those the blob has not seen.
    /// Rules whose `paths` do not admit ``innerPath`` are dropped before the blob is read; when none is left,
    /// it is not read at all (unless ``holdsMatchesOfRules``).
    var rules: [Int]?
    /// The blob holds stored matches of some of ``rules`` (a changed rule): replacing them may uncover matches
    /// of other rules they hid, so the blob is read and every rule runs, whatever the paths.
    var holdsMatchesOfRules = false
}

/// Reads blobs for one thread. A scan makes one per worker thread (and one for the walking thread, which reads
/// the metadata of releases with findings), so an implementation needs no locks; it need not be `Sendable`.
public protocol BlobReader {
    /// The size in bytes of `blob`, read without its content when possible: blobs over the size limit are only
    /// counted.
    func size(of blob: ObjectID) throws -> Int

    /// Calls `body` with the content of `blob`. The bytes are valid only during the call.
    func withBytes<Result>(of blob: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result

    /// Calls `body` with the content of `blob` when it is at most `sizeLimit` bytes; a larger blob is `.tooLarge`,
    /// and not read. By default ``size(of:)``, then ``withBytes(of:_:)``.
    func withBytes<Result>(
        of blob: ObjectID, sizeLimit: Int, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> SizeLimitedRead<Result>
}

extension BlobReader {
    public func withBytes<Result>(
        of blob: ObjectID, sizeLimit: Int, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> SizeLimitedRead<Result> {
        let size = try size(of: blob)
        guard size <= sizeLimit else { return .tooLarge(size: size) }
        return .read(try withBytes(of: blob, body))
    }
}

/// Puts the blobs of one window in the order they are to be read: the window is cut into one contiguous run per
/// worker, of about equal ``BlobRequest/weight``, and each worker reads its run from the front (see
/// ``WorkerShares``). Results are put back in commit order whatever the read order, so any permutation gives the
/// same store; a hook must neither drop nor add requests.
public protocol BlobReadOrder {
    /// Reorders `window` in place, for example by where each blob lies in its pack, and may weigh each request.
    func arrange(_ window: inout [BlobRequest])
}

/// What reads a shard's blobs: its read order (made once per shard, on the walking thread) and its readers (one
/// per thread). Shared by the threads of a scan, so it must be `Sendable`; what it makes need not be.
public protocol BlobAccess: Sendable {
    /// The read order for the windows of the shard at `repositoryPath`.
    func makeReadOrder(repositoryPath: String) throws -> any BlobReadOrder
    /// A reader of the shard at `repositoryPath`, for the calling thread only.
    func makeReader(repositoryPath: String) throws -> any BlobReader
}

/// Blobs read through libgit2, one repository handle per thread, in the order the commits first need them.
public struct LibGit2BlobAccess: BlobAccess {
    public init() {}

    public func makeReadOrder(repositoryPath: String) throws -> any BlobReadOrder { WalkOrder() }

    public func makeReader(repositoryPath: String) throws -> any BlobReader {
        LibGit2BlobReader(repository: try Repository(at: repositoryPath))
    }
}

/// The order the walk meets the blobs in: oldest commit first, then tree order. Leaves the window as it is.
public struct WalkOrder: BlobReadOrder {
    public init() {}
    public func arrange(_ window: inout [BlobRequest]) {}
}

/// Reads blobs through a libgit2 object database: one object at a time, resolving its deltas each time.
public struct LibGit2BlobReader: BlobReader {
    let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    public func size(of blob: ObjectID) throws -> Int { try repository.objectSize(blob) }

    public func withBytes<Result>(of blob: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> Result) throws
        -> Result
    {
        try repository.withObjectBytes(blob, body)
    }
}
