import Foundation
import Git
import ShardScanCore

/// The blobs of one walk whose results are not written yet, shared by its ``BlobStream`` (which asks) and its
/// ``CommitSequencer`` (which answers and writes). Used on the walking thread only.
final class WalkBlobs {
    /// Match counts of blobs scanned in this walk whose rows are not written yet.
    var resolved: [ObjectID: Int] = [:]
    /// Blobs with a scan under way (or waiting in a window).
    var inFlight: Set<ObjectID> = []
}

/// One commit between the watermark and the tip: the files it adds, and the scans it waits for.
struct CommitWork {
    struct Entry {
        var oid: ObjectID
        /// The shard path, parsed once.
        var release: ReleasePath
        var shardPath: String
        /// The shard path's bytes when they are not valid UTF-8.
        var shardPathBytes: Data?
        /// Whether the entry is a symbolic link (its blob holds the link's target).
        var isSymlink = false
        /// `nil` while the blob's scan (started by this or an earlier commit) is not in yet.
        var matchCount: Int?
    }

    var commit: ObjectID
    /// The commit's time (seconds since 1970): the upload time of the releases it adds.
    var time: Int64 = 0
    /// The releases the commit's files lie in (inner path empty), in the order met; files outside `packages/`
    /// have none.
    var releases: [ReleasePath] = []
    /// The files the sequencer still needs: blobs whose match count is not in yet or is not 0, and files that
    /// may be a release's core metadata. A file whose blob is known to hold nothing leaves only its release (see
    /// ``BlobStream/keepsEveryEntry``).
    var entries: [Entry] = []
    /// Scans this commit started and that are not in yet.
    var outstanding = 0
    var blobs: [ScannedBlob] = []
    var counters = RunCounters()
}

/// Commits read in one go, and the new blobs they need, in the order the walk met them: what a ``BlobReadOrder``
/// arranges.
struct BlobWindow {
    var commits: [CommitWork] = []
    var requests: [BlobRequest] = []
    /// Why the stream ended inside this window (a stop request, an unreadable commit or tree): the commits
    /// before it are still in the window.
    var end: (any Error)?
}

/// The commits of a shard from its watermark to its tip, oldest first, each with the files its tree diff adds;
/// blobs already scanned (in this walk or, as its ``BlobDedupe`` says, before) are only located, and the others
/// become ``BlobRequest``s, gathered into windows of many commits so that a ``BlobReadOrder`` can order reads
/// across commits.
///
/// Commits are read, and trees read and diffed (by a ``TreeReader``), from the shard's packs by a
/// ``PackReader`` (loose objects through libgit2); a shard whose packs cannot be opened is read and diffed by
/// libgit2.
struct BlobStream {
    let repository: Repository
    /// `nil` when the shard's packs cannot be opened.
    let objects: PackReader?
    private let trees: TreeReader?
    let commits: [ObjectID]
    let dedupe: any BlobDedupe
    let ruleSetID: Int64
    let blobs: WalkBlobs
    /// The rules a request is to run, when not all (a backfill; see ``BlobRequest/rules``).
    var rulesFor: ((ObjectID) -> (rules: [Int], holdsMatches: Bool)?)?
    /// Whether every file becomes an entry of its commit, even one whose blob is known to hold nothing (a hunt
    /// wants every place). A scan writes nothing for such a file but its release, and its entries were most of
    /// a window's memory on a shard of many versions of the same projects: on the large bench shard a window of
    /// 1,024 new blobs spans about 6,800 files, against 2,700 on the default one.
    var keepsEveryEntry = false
    /// The next commit to read.
    private(set) var position = 0
    /// Trees of commits read whose children are not read yet: a commit's parent is usually the one before it.
    private var treeOfParent: [ObjectID: ObjectID] = [:]
    /// The release of the last path parsed: most paths of a commit lie in one release.
    private var lastRelease: ReleasePath?

    /// `filter`, when given, narrows each commit's files to the ones it may want (a hunt's paths), and its
    /// directories that hold none are not read; a shard diffed by libgit2 gets every file.
    init(
        repository: Repository, commits: [ObjectID], dedupe: any BlobDedupe, ruleSetID: Int64, blobs: WalkBlobs,
        filter: TreeFilter? = nil
    ) {
        self.repository = repository
        self.commits = commits
        self.dedupe = dedupe
        self.ruleSetID = ruleSetID
        self.blobs = blobs
        objects = Self.packReader(for: repository)
        trees = objects.map { TreeReader(reader: $0) }
        trees?.filter = filter
    }

    /// A reader of `repository`'s packs for commits and trees, or `nil` when they cannot be opened.
    static func packReader(for repository: Repository) -> PackReader? {
        guard let packs = try? PackSet(repository: repository) else { return nil }
        return try? PackReader(
            packs: packs, repositoryPath: repository.gitDirectory, cacheBytes: ScanMemory.treeCacheBytes,
            mappedBytes: PackBlobAccess.defaultMappedPackBytes)
    }

    /// The header of commit `id`, read by the walk's own reader (which reads loose objects through libgit2),
    /// else (when the shard's packs cannot be opened, or the header does not parse) by libgit2.
    func commitHeader(_ id: ObjectID) throws -> CommitHeader {
        if let objects, let header = try objects.withObjectBytes(id, { CommitHeader(parsing: $0) }) {
            return header
        }
        let commit = try repository.commit(id)
        return CommitHeader(tree: commit.tree, parents: commit.parents, time: commit.time)
    }

    /// The files commit-tree `new` adds or changes against `old`.
    func changes(from old: ObjectID?, to new: ObjectID) throws -> [FileChange] {
        if let trees { return try trees.changes(from: old, to: new) }
        return try repository.changes(from: old, to: new)
    }

    var isAtEnd: Bool { position >= commits.count }

    /// Whether `innerPath` may be a release's core metadata file; the last byte first, since most files are not.
    static func mayBeMetadata(_ innerPath: String) -> Bool {
        guard let last = innerPath.utf8.last, last == UInt8(ascii: "O") || last == UInt8(ascii: "A") else {
            return false
        }
        return CoreMetadata.isMetadataPath(innerPath)
    }

    /// Reads the next commit into `window`; `false` when the walk ends: at its tip, or before a commit that
    /// cannot be read or a stop request (`stopReason` is asked first), which is then the window's `end`.
    mutating func read(into window: inout BlobWindow, stopReason: () -> String?) -> Bool {
        guard !isAtEnd else { return false }
        if let reason = stopReason() {
            window.end = ScanStopped(reason: reason)
            position = commits.count
            return false
        }
        do {
            try read(commit: position, into: &window)
            position += 1
            return true
        } catch {
            window.end = error
            position = commits.count
            return false
        }
    }

    /// Diffs commit `index` against its first parent and adds it, and the blobs it is first to need, to `window`.
    private mutating func read(commit index: Int, into window: inout BlobWindow) throws {
        let commitID = commits[index]
        let commit = try commitHeader(commitID)
        treeOfParent[commitID] = commit.tree
        let parentTree = try commit.parents.first.map { (parent) throws -> ObjectID in
            if let tree = treeOfParent.removeValue(forKey: parent) { return tree }
            return try commitHeader(parent).tree
        }
        let changes = try self.changes(from: parentTree, to: commit.tree)
        let unknown = changes.map(\.blob).filter { blobs.resolved[$0] == nil && !blobs.inFlight.contains($0) }
        let known = try dedupe.scannedBlobs(unknown, ruleSetID: ruleSetID)
        var work = CommitWork(commit: commitID, time: commit.time)
        for change in changes {
            let oid = change.blob
            let release = ReleasePath.parse(change.path, reusing: lastRelease)
            lastRelease = release
            if !release.project.isEmpty {
                var whole = release
                whole.innerPath = ""
                if work.releases.last != whole && !work.releases.contains(whole) { work.releases.append(whole) }
            }
            var entry = CommitWork.Entry(
                oid: oid, release: release, shardPath: change.path, shardPathBytes: change.pathBytes.map { Data($0) },
                isSymlink: change.isSymlink)
            if let count = blobs.resolved[oid] ?? known[oid] {
                work.counters.blobsSeen += 1
                entry.matchCount = count
                if count == 0 && !keepsEveryEntry && !Self.mayBeMetadata(release.innerPath) { continue }
            } else if blobs.inFlight.contains(oid) {
                work.counters.blobsSeen += 1
            } else {
                blobs.inFlight.insert(oid)
                work.outstanding += 1
                var request = BlobRequest(
                    blob: oid, shardPath: change.path, innerPath: release.innerPath, commitIndex: index)
                if let subset = rulesFor?(oid) {
                    request.rules = subset.rules
                    request.holdsMatchesOfRules = subset.holdsMatches
                }
                window.requests.append(request)
            }
            work.entries.append(entry)
        }
        window.commits.append(work)
    }
}
