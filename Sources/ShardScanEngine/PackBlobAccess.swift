import Foundation
import Git
import ShardScanCore

/// Blobs read from the packs by shardscan's own reader (``PackReader``), each window in pack order: the reader
/// walks each pack forwards, finds the bases of deltas in its cache and inflates each object once, where libgit2
/// resolves every blob's delta chain on its own. Loose objects, and objects in no pack, are read through libgit2.
/// A shard whose packs cannot be opened is read through libgit2 alone, in walk order: the same bytes, slower.
public struct PackBlobAccess: BlobAccess {
    /// Bytes of inflated objects each reader keeps as delta bases. Pack order puts a delta close after its base,
    /// so a small cache keeps nearly every base it needs: on the large bench shard 24 MB per worker took the peak
    /// RSS from 361 to 307 MB and the full scan from 25.6 to 23.3 s against 48 MB (one run each, quiet machine).
    /// 12 MB against 24, A/B on both bench shards: peak RSS 26–28 MB lower (139 → 113 MB default, 163 → 135 MB
    /// large), the same time; 6 MB cost the large shard's scan 4% more CPU (bases evicted and inflated again).
    public var deltaCacheBytes: Int
    /// The widest span of a pack each reader keeps mapped (``PackReader/mappedBytes``): mapped pages count in
    /// the resident size, and a reader walking forwards never comes back to the pages behind it. 2 MB against
    /// 8: peak RSS 4 MB lower on the default bench shard, 4–6 MB on the large one, in the same time (A/B, 9 runs).
    public var mappedPackBytes: Int
    /// The default ``mappedPackBytes``, also the walk's tree reader's.
    public static let defaultMappedPackBytes = 2 << 20

    public init(deltaCacheBytes: Int = 12 << 20, mappedPackBytes: Int = defaultMappedPackBytes) {
        self.deltaCacheBytes = deltaCacheBytes
        self.mappedPackBytes = mappedPackBytes
    }

    public func makeReadOrder(repositoryPath: String) throws -> any BlobReadOrder {
        guard let packs = try? PackSet(repository: Repository(at: repositoryPath)) else { return WalkOrder() }
        return PackOrder(packs: packs)
    }

    public func makeReader(repositoryPath: String) throws -> any BlobReader {
        let repository = try Repository(at: repositoryPath)
        guard let packs = try? PackSet(repository: repository) else {
            return LibGit2BlobReader(repository: repository)
        }
        return PackBlobReader(
            reader: try PackReader(
                packs: packs, repositoryPath: repositoryPath, cacheBytes: deltaCacheBytes,
                mappedBytes: mappedPackBytes))
    }
}

/// Puts a window's blobs in the order they lie in the shard's packs, blobs in no pack last, and weighs each by
/// the size its pack entry headers tell (``PackSet/estimatedSize(at:)``).
struct PackOrder: BlobReadOrder {
    let packs: PackSet
    /// Requests weighed between releases of the pages read.
    static let releaseEvery = 128

    func arrange(_ window: inout [BlobRequest]) {
        window = packs.packOrder(window, id: \.blob)
        for index in window.indices {
            window[index].weight = packs.location(of: window[index].blob).map(packs.estimatedSize(at:)) ?? 1
            // The headers read lie all over the pack, and each fault maps the pages around it too (64 KB): kept
            // mapped, they would add up to the whole pack's size in the resident set (on a 1.7 GB shard, +190 MB
            // of peak RSS), and even a window's worth is tens of MB.
            if index % Self.releaseEvery == Self.releaseEvery - 1 { packs.releaseMappedPages() }
        }
        packs.releaseMappedPages()
    }
}

/// A ``PackReader`` as a scan's ``BlobReader``.
struct PackBlobReader: BlobReader {
    let reader: PackReader

    func size(of blob: ObjectID) throws -> Int { try reader.objectSize(blob) }

    func withBytes<Result>(of blob: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        try reader.withObjectBytes(blob, body)
    }

    /// A delta's size is in its inflated data: read once, for the size and for the blob.
    func withBytes<Result>(
        of blob: ObjectID, sizeLimit: Int, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> SizeLimitedRead<Result> {
        try reader.withObjectBytes(blob, sizeLimit: sizeLimit, body)
    }
}
