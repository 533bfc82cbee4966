import Git
import ShardScanCore

/// Every place a hunt met each of its blobs at, kept compact until the blob's result is handed on.
///
/// A hunt holds the places of every file of history until its blobs are read: 365,000 on the large bench shard.
/// As ``HuntPlace``s (a commit id, the shard's name, the five strings of a ``ReleasePath`` and the shard path) in
/// arrays per blob, they took about 150 MB, most of a content hunt's peak. Here a place is its commit (an index
/// into a table of commits) and its shard path (bytes in one shared buffer); the rest is made again from those
/// when asked, and ``ReleasePath/parse(_:)`` gives back the release the walk parsed.
struct HuntPlaces {
    private struct Commit {
        var shard: Int32
        var id: ObjectID
        var time: Int64
    }

    private struct Place {
        var commit: Int32
        /// The next place of the same blob, -1 for none.
        var next: Int32
        var pathStart: Int
        var pathCount: Int32
    }

    private struct Blob {
        var id: ObjectID
        var first: Int32
        var last: Int32
        var shard: Int32
    }

    /// Shards by name, with their repository paths.
    private var shards: [(name: String, repositoryPath: String)] = []
    private var commits: [Commit] = []
    private var places: [Place] = []
    /// Every place's shard path, in UTF-8, one after the other.
    private var paths: [UInt8] = []
    /// Blobs in the order they were first met.
    private var blobs: [Blob] = []
    private var blobIndex: [ObjectID: Int32] = [:]

    /// Distinct blobs.
    var blobCount: Int { blobs.count }

    /// Starts a shard: the places added next are in it.
    mutating func startShard(name: String, repositoryPath: String) {
        shards.append((name, repositoryPath))
    }

    /// Starts a commit of the current shard: the places added next are added by it.
    mutating func startCommit(_ id: ObjectID, time: Int64) {
        commits.append(Commit(shard: Int32(shards.count - 1), id: id, time: time))
    }

    /// Adds a place of `blob`: `shardPath` in the current commit.
    mutating func add(_ blob: ObjectID, shardPath: String) {
        add(blob, shardPathUTF8: shardPath.utf8)
    }

    /// Adds a place of `blob`: the shard path whose UTF-8 bytes are `shardPathUTF8`, in the current commit.
    mutating func add(_ blob: ObjectID, shardPathUTF8: some Collection<UInt8>) {
        let start = paths.count
        paths.append(contentsOf: shardPathUTF8)
        let place = Int32(places.count)
        places.append(
            Place(commit: Int32(commits.count - 1), next: -1, pathStart: start, pathCount: Int32(paths.count - start)))
        if let index = blobIndex[blob] {
            places[Int(blobs[Int(index)].last)].next = place
            blobs[Int(index)].last = place
        } else {
            blobIndex[blob] = Int32(blobs.count)
            blobs.append(Blob(id: blob, first: place, last: place, shard: Int32(shards.count - 1)))
        }
    }

    /// The blobs in the order they were first met.
    var order: [ObjectID] { blobs.map(\.id) }

    /// The repository of the shard `blob` was first met in.
    func repositoryPath(of blob: ObjectID) -> String {
        guard let index = blobIndex[blob] else { return "" }
        return shards[Int(blobs[Int(index)].shard)].repositoryPath
    }

    /// The shard path of `blob`'s first place.
    func firstShardPath(of blob: ObjectID) -> String? {
        guard let index = blobIndex[blob] else { return nil }
        return shardPath(of: places[Int(blobs[Int(index)].first)])
    }

    /// Every place of `blob`, in the order they were added.
    func places(of blob: ObjectID) -> [HuntPlace] {
        guard let index = blobIndex[blob] else { return [] }
        var result: [HuntPlace] = []
        var position = blobs[Int(index)].first
        var release: ReleasePath?
        while position >= 0 {
            let place = places[Int(position)]
            let commit = commits[Int(place.commit)]
            let path = shardPath(of: place)
            let parsed = ReleasePath.parse(path, reusing: release)
            release = parsed
            result.append(
                HuntPlace(
                    shard: shards[Int(commit.shard)].name, commit: commit.id, time: commit.time, release: parsed,
                    shardPath: path))
            position = place.next
        }
        return result
    }

    private func shardPath(of place: Place) -> String {
        paths.withUnsafeBufferPointer { bytes in
            String(decoding: bytes[place.pathStart..<(place.pathStart + Int(place.pathCount))], as: UTF8.self)
        }
    }
}
