import Foundation
import Git
import PCRE2
import ShardScanCore

/// What `hunt` looks for: which files (by shard, project, upload time and path), and in them, which text.
public struct HuntQuery: Sendable {
    /// What to look for inside the files that pass the path filters.
    public enum Content: Sendable {
        /// Nothing: the files themselves are the answer, and no blob is read.
        case none
        /// Every match of a PCRE2 pattern.
        case pattern(Regex)
        /// Every finding of one rule of a rule set (by its index), with the rule's keywords, entropy and filters.
        case rule(RuleSet, index: Int)
    }

    public var content: Content
    /// Globs on the path inside the release; a file passes when one matches (or when there are none).
    public var paths: [Glob]
    /// A PEP 503-normalised project name, or `nil` for every project.
    public var project: String?
    /// Only releases uploaded (committed) at or after this time, in seconds since 1970.
    public var since: Int64?
    /// Blobs larger than this are listed as skipped, not read.
    public var maxBlobSize: Int
    /// Threads that read and match blobs.
    public var workers: Int
    /// Whether matched secrets of a secret rule are shown whole.
    public var showSecrets: Bool

    public init(
        content: Content, paths: [Glob] = [], project: String? = nil, since: Int64? = nil,
        maxBlobSize: Int = ScanOptions().maxBlobSize, workers: Int = ScanOptions().workers, showSecrets: Bool = false
    ) {
        self.content = content
        self.paths = paths
        self.project = project.map(ReleasePath.normalize)
        self.since = since
        self.maxBlobSize = maxBlobSize
        self.workers = workers
        self.showSecrets = showSecrets
    }

    /// What a tree walk may leave out for this query: files whose path cannot match a glob (told by its bytes,
    /// before a `String` is made of it), and directories under which no path can match a glob or that belong to
    /// another project (not read at all). `nil` when every file is wanted. Files it lets through are still
    /// checked in full.
    public var treeFilter: TreeFilter? {
        let paths = paths
        let project = project.flatMap { $0.isEmpty ? nil : $0 }
        guard !paths.isEmpty || project != nil else { return nil }
        return TreeFilter(
            directory: { directory in
                // `packages/<project>/<release file>/<path inside the release>`; any other path is its own
                // inner path and belongs to no project (see `ReleasePath.parse`).
                guard directory.starts(with: Self.packages) else {
                    return project == nil && paths.contains { $0.mayMatch(under: directory) }
                }
                var slashes = 0
                var projectStart = 0
                for (index, byte) in directory.enumerated() where byte == UInt8(ascii: "/") {
                    slashes += 1
                    if slashes == 1 {
                        projectStart = index + 1
                    } else if slashes == 2, let project {
                        let name = String(decoding: directory[projectStart..<index], as: UTF8.self)
                        if ReleasePath.normalize(name) != project { return false }
                    } else if slashes == 3 {
                        let inner = UnsafeRawBufferPointer(rebasing: directory[(index + 1)...])
                        return inner.isEmpty || paths.isEmpty || paths.contains { $0.mayMatch(under: inner) }
                    }
                }
                return true
            },
            file: { file in paths.isEmpty || paths.contains { $0.mayEndWith(file) } })
    }

    private static let packages = Array("packages/".utf8)

    /// Whether the query reads blobs at all.
    public var readsContent: Bool {
        if case .none = content { return false }
        return true
    }
}

/// One place a file of history sits at: a path in a release in a shard, added by a commit.
public struct HuntPlace: Sendable, Equatable {
    public var shard: String
    public var commit: ObjectID
    /// The commit's time: when the release was uploaded.
    public var time: Int64
    public var release: ReleasePath
    /// The whole path in the shard's tree.
    public var shardPath: String
}

/// One match inside a blob.
public struct HuntMatch: Sendable, Equatable {
    /// 1-based line and column (in bytes) of the match's start.
    public var line: Int
    public var column: Int
    /// The line the match starts on (at most ``HuntMatch/maxLineBytes`` of it), secrets masked unless asked.
    public var text: String

    static let maxLineBytes = 400
}

/// A blob of history that passed the query, every place it sits at, and what matched in it.
public struct HuntResult: Sendable {
    public var blob: ObjectID
    public var places: [HuntPlace]
    /// Empty for a path-only query.
    public var matches: [HuntMatch]
    /// Why the blob was not read (`too-large`, `binary`), if it was not.
    public var skipped: String?
    public var size: Int
}

/// What a hunt went through.
public struct HuntCounters: Sendable, Equatable {
    public var shards = 0
    public var commits = 0
    /// Files (places) that passed the path, project and time filters.
    public var places = 0
    /// Distinct blobs among them: each is read once, whatever the number of its places.
    public var blobs = 0
    public var blobsRead = 0
    public var bytesRead = 0
    public var blobsSkipped = 0
}

/// Goes through every commit of every shard (all of history, no watermark), keeps the files that pass the
/// query's filters, reads each distinct blob among them once on worker threads, and hands every blob with a
/// match (or, for a path-only query, every blob) to `emit` on the calling thread.
///
/// `extract`, when given, is called on a worker thread with the bytes of every blob handed to `emit`, before
/// it is; each blob once.
public enum Hunter {
    public typealias Extract =
        @Sendable (_ blob: ObjectID, _ name: String, _ bytes: UnsafeRawBufferPointer) throws ->
        Void
    /// Called on a worker thread with every blob read (not too large) and the path inside the release of its
    /// first place, before its result is emitted.
    public typealias Inspect = @Sendable (_ innerPath: String, _ bytes: UnsafeRawBufferPointer) -> Void

    public static func run(
        _ sources: [ShardSource], query: HuntQuery, extract: Extract? = nil, inspect: Inspect? = nil,
        warning: (String) -> Void, emit: (HuntResult) -> Void
    ) -> HuntCounters {
        var counters = HuntCounters()
        // The same bounds as a scan's: libgit2's defaults map up to 8 GiB of pack.
        do { try ScanMemory.apply() } catch { warning("cannot bound libgit2's memory: \(error)") }
        var places = HuntPlaces()
        for source in sources {
            do {
                if let problem = source.problem { throw ShardProblem(problem) }
                let repository = try Repository(at: source.repositoryPath)
                guard let reference = source.reference, let tip = try repository.commitID(ofReference: reference)
                else { throw ShardProblem("reference \(source.reference ?? "?") not found") }
                counters.shards += 1
                places.startShard(name: source.name, repositoryPath: source.repositoryPath)
                let commits = try repository.commits(from: tip)
                // The parts read through pack readers and repository handles of their own.
                try repository.closeObjectDatabase()
                // Parts in commit order: places come out as one walk would list them, whatever the threads.
                for part in walk(commits, of: source, query: query) {
                    counters.commits += part.commits
                    part.replay(into: &places)
                    counters.places += part.placeCount
                    // The commits after an unreadable one are not searched, as in one walk.
                    if let end = part.end { throw ShardProblem(end) }
                }
            } catch {
                warning("\(source.name): \(GitProblem.describe(error)); the other shards are still searched")
            }
        }
        counters.blobs = places.blobCount
        if !query.readsContent && extract == nil && inspect == nil {
            for blob in places.order {
                emit(HuntResult(blob: blob, places: places.places(of: blob), matches: [], skipped: nil, size: 0))
            }
            return counters
        }
        read(
            packOrder(places.order, repositoryOf: places.repositoryPath(of:)), places: places, query: query,
            extract: extract, inspect: inspect, counters: &counters, warning: warning
        ) { result in
            var result = result
            result.places = places.places(of: result.blob)
            emit(result)
        }
        return counters
    }

    /// Commits a walking thread takes at the least: fewer are diffed faster than a thread starts.
    static let minimumPartCommits = 16

    /// The places `commits` (a shard's history, oldest first) add that pass the query's filters, walked in up
    /// to `query.workers` parts of consecutive commits at once, each part on its own thread with its own
    /// repository handles: a hunt keeps no record of scanned blobs, so the commits' diffs are independent (a
    /// part's first commit is diffed against its parent's tree like any other). The parts come back in order.
    static func walk(_ commits: [ObjectID], of source: ShardSource, query: HuntQuery) -> [HuntWalkPart] {
        let count = max(1, min(query.workers, commits.count / minimumPartCommits))
        let bounds = (0...count).map { $0 * commits.count / count }
        let parts = HuntWalkParts(count: count)
        let done = DispatchGroup()
        for index in 1..<count {
            let slice = Array(commits[bounds[index]..<bounds[index + 1]])
            let path = source.repositoryPath
            done.enter()
            do {
                try WorkerThread.start {
                    parts.set(index, walkPart(slice, repositoryPath: path, query: query))
                    done.leave()
                }
            } catch {
                // No thread: this part is walked here, after the first.
                done.leave()
                parts.setLater(index, slice)
            }
        }
        parts.set(
            0,
            walkPart(Array(commits[bounds[0]..<bounds[1]]), repositoryPath: source.repositoryPath, query: query))
        for (index, slice) in parts.takeLater() {
            parts.set(index, walkPart(slice, repositoryPath: source.repositoryPath, query: query))
        }
        done.wait()
        return parts.all
    }

    /// Diffs each of `commits` against its first parent (the scan's own walk) and keeps the files that pass the
    /// query's filters; the tree walk leaves out folders they rule out (``HuntQuery/treeFilter``).
    static func walkPart(_ commits: [ObjectID], repositoryPath: String, query: HuntQuery) -> HuntWalkPart {
        var part = HuntWalkPart()
        do {
            let repository = try Repository(at: repositoryPath)
            var stream = BlobStream(
                repository: repository, commits: commits, dedupe: NothingScanned(), ruleSetID: 0, blobs: WalkBlobs(),
                filter: query.treeFilter)
            stream.keepsEveryEntry = true
            while !stream.isAtEnd {
                var window = BlobWindow()
                _ = stream.read(into: &window, stopReason: { nil })
                for work in window.commits {
                    part.commits += 1
                    if let since = query.since, work.time < since { continue }
                    part.startCommit(work.commit, time: work.time)
                    for entry in work.entries where !entry.isSymlink {
                        let release = entry.release
                        if let project = query.project, release.projectNormalized != project { continue }
                        if !query.paths.isEmpty, !query.paths.contains(where: { $0.matches(release.innerPath) }) {
                            continue
                        }
                        part.add(entry.oid, shardPath: entry.shardPath)
                    }
                }
                if let end = window.end { throw end }
            }
        } catch {
            part.end = GitProblem.describe(error)
        }
        return part
    }

    /// `blobs` shard by shard, each shard's in the order they lie in its packs, so that each is read forwards
    /// with its delta bases at hand (see ``PackBlobAccess``); a shard whose packs cannot be opened keeps its order.
    static func packOrder(_ blobs: [ObjectID], repositoryOf: (ObjectID) -> String) -> [ObjectID] {
        var shards: [String] = []
        var byShard: [String: [ObjectID]] = [:]
        for blob in blobs {
            let path = repositoryOf(blob)
            if byShard[path] == nil { shards.append(path) }
            byShard[path, default: []].append(blob)
        }
        return shards.flatMap { path -> [ObjectID] in
            let shardBlobs = byShard[path] ?? []
            guard let packs = try? PackSet(repository: Repository(at: path)) else { return shardBlobs }
            return packs.packOrder(shardBlobs, id: { $0 })
        }
    }

    /// The name an extracted blob gets after its id: the file name of its first place.
    public static func fileName(of places: [HuntPlace]) -> String {
        let inner = places.first?.release.innerPath ?? ""
        return String(inner.split(separator: "/").last ?? "")
    }

    /// Blobs a worker takes at a time: consecutive in pack order, so that one worker's delta cache holds the
    /// bases of the next ones (dealt one by one, two workers would each inflate most bases).
    static let batchSize = 64

    /// Reads `blobs` on worker threads, each once, and hands the ones that matched to `emit` in `blobs`' order.
    private static func read(
        _ blobs: [ObjectID], places: HuntPlaces, query: HuntQuery,
        extract: Extract?, inspect: Inspect?, counters: inout HuntCounters, warning: (String) -> Void,
        emit: (HuntResult) -> Void
    ) {
        let batchCount = (blobs.count + batchSize - 1) / batchSize
        let workerCount = max(1, min(query.workers, batchCount))
        let jobs = WorkQueue<HuntJob>(capacity: 4 * workerCount)
        let results = WorkQueue<HuntJobResult>(capacity: jobs.capacity + workerCount + 1)
        let done = DispatchGroup()
        var started = 0
        for _ in 0..<workerCount {
            let worker = HuntWorker(query: query, extract: extract, inspect: inspect)
            done.enter()
            do {
                try WorkerThread.start {
                    worker.run(jobs: jobs, results: results)
                    done.leave()
                }
                started += 1
            } catch {
                done.leave()
                if started == 0 {
                    warning("no worker thread could start: \(error)")
                    return
                }
            }
        }
        // Results come back in any order; they are handed on in `blobs`' order, so output is the same every run.
        var waiting: [Int: HuntJobResult] = [:]
        var next = 0
        var pushed = 0
        func take(_ batch: HuntJobResult) {
            waiting[batch.index] = batch
            while let ready = waiting.removeValue(forKey: next) {
                next += 1
                for (result, error) in zip(ready.results, ready.errors) {
                    if let error {
                        warning(error)
                        continue
                    }
                    if result.skipped != nil {
                        counters.blobsSkipped += 1
                    } else {
                        counters.blobsRead += 1
                        counters.bytesRead += result.size
                    }
                    if !query.readsContent || !result.matches.isEmpty { emit(result) }
                }
            }
        }
        for batch in 0..<batchCount {
            let range = batch * batchSize..<min(blobs.count, (batch + 1) * batchSize)
            let job = HuntJob(
                index: batch,
                blobs: blobs[range].map { blob in
                    // The release path and file name of the blob's first place, as ``fileName(of:)`` gives it.
                    let innerPath = places.firstShardPath(of: blob).map { ReleasePath.parse($0).innerPath } ?? ""
                    return HuntJob.Blob(
                        blob: blob, repositoryPath: places.repositoryPath(of: blob), innerPath: innerPath,
                        name: String(innerPath.split(separator: "/").last ?? ""))
                })
            while !jobs.tryPush(job) {
                guard let result = results.pop() else { break }
                take(result)
            }
            pushed += 1
            while let result = results.tryPop() { take(result) }
        }
        jobs.close()
        while next < pushed, let result = results.pop() { take(result) }
        done.wait()
    }
}

/// What a run of consecutive commits of a shard adds: the places that passed the query, in commit order.
///
/// Kept as compact as ``HuntPlaces``, which it is replayed into: one shard's parts hold all its places at once.
struct HuntWalkPart: Sendable {
    /// The commits that passed `--since`, in order, each with the end of its places in ``places``.
    private var visited: [(commit: ObjectID, time: Int64, placesEnd: Int)] = []
    private var places: [(blob: ObjectID, pathEnd: Int)] = []
    /// Every place's shard path, in UTF-8, one after the other.
    private var paths: [UInt8] = []
    /// Commits walked, whether or not they passed `--since`.
    var commits = 0
    var placeCount: Int { places.count }
    /// Why the walk stopped inside the part (described), if it did: the commits after are not in it.
    var end: String?

    mutating func startCommit(_ commit: ObjectID, time: Int64) {
        visited.append((commit, time, places.count))
    }

    /// Adds a place of `blob` in the commit started last.
    mutating func add(_ blob: ObjectID, shardPath: String) {
        paths.append(contentsOf: shardPath.utf8)
        places.append((blob, paths.count))
        visited[visited.count - 1].placesEnd = places.count
    }

    /// Adds this part's commits and places to `huntPlaces`, in order.
    func replay(into huntPlaces: inout HuntPlaces) {
        var place = 0
        var pathStart = 0
        for commit in visited {
            huntPlaces.startCommit(commit.commit, time: commit.time)
            while place < commit.placesEnd {
                let (blob, pathEnd) = places[place]
                huntPlaces.add(blob, shardPathUTF8: paths[pathStart..<pathEnd])
                pathStart = pathEnd
                place += 1
            }
        }
    }
}

/// The parts of one shard's walk, filled in by the threads that walk them.
private final class HuntWalkParts: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [HuntWalkPart]
    private var later: [(Int, [ObjectID])] = []

    init(count: Int) { parts = Array(repeating: HuntWalkPart(), count: count) }

    func set(_ index: Int, _ part: HuntWalkPart) { lock.withLock { parts[index] = part } }
    /// A part no thread could be started for, to walk on the calling thread.
    func setLater(_ index: Int, _ commits: [ObjectID]) { lock.withLock { later.append((index, commits)) } }
    func takeLater() -> [(Int, [ObjectID])] { lock.withLock { later } }
    var all: [HuntWalkPart] { lock.withLock { parts } }
}

/// A hunt keeps no record of scanned blobs: every blob of history is new to it.
private struct NothingScanned: BlobDedupe {
    func scannedBlobs(_ oids: [ObjectID], ruleSetID: Int64) throws -> [ObjectID: Int] { [:] }
}

/// Consecutive blobs of the read order, read by one worker.
private struct HuntJob: Sendable {
    struct Blob: Sendable {
        var blob: ObjectID
        var repositoryPath: String
        /// The path inside the release of the blob's first place, which a rule's `paths` see.
        var innerPath: String
        var name: String
    }

    var index: Int
    var blobs: [Blob]
}

/// A job's results, one per blob, with the error that left a blob out, if one did.
private struct HuntJobResult: Sendable {
    var index: Int
    var results: [HuntResult]
    var errors: [String?]
}

/// A worker's repository handles and match state; lives on one thread.
private final class HuntWorker: @unchecked Sendable {
    // Created on the spawning thread, used only by the worker thread afterwards.
    let query: HuntQuery
    let extract: Hunter.Extract?
    let inspect: Hunter.Inspect?

    init(query: HuntQuery, extract: Hunter.Extract?, inspect: Hunter.Inspect?) {
        self.query = query
        self.extract = extract
        self.inspect = inspect
    }

    func run(jobs: WorkQueue<HuntJob>, results: WorkQueue<HuntJobResult>) {
        var readers: [String: any BlobReader] = [:]
        let access = PackBlobAccess()
        let scratch = MatchScratch()
        var matcher: Matcher?
        if case .rule(let ruleSet, _) = query.content { matcher = Matcher(ruleSet: ruleSet) }
        while let job = jobs.pop() {
            var batch = HuntJobResult(index: job.index, results: [], errors: [])
            batch.results.reserveCapacity(job.blobs.count)
            batch.errors.reserveCapacity(job.blobs.count)
            for job in job.blobs {
                var result = HuntResult(blob: job.blob, places: [], matches: [], skipped: nil, size: 0)
                do {
                    let reader: any BlobReader
                    if let open = readers[job.repositoryPath] {
                        reader = open
                    } else {
                        reader = try access.makeReader(repositoryPath: job.repositoryPath)
                        readers[job.repositoryPath] = reader
                    }
                    let read = try reader.withBytes(of: job.blob, sizeLimit: query.maxBlobSize) { bytes in
                        result.size = bytes.count
                        if query.readsContent && ShardScanner.isBinary(bytes) {
                            result.skipped = "binary"
                            return
                        }
                        inspect?(job.innerPath, bytes)
                        result.matches = try matches(
                            in: bytes, path: job.innerPath, scratch: scratch, matcher: matcher)
                        if let extract, !query.readsContent || !result.matches.isEmpty {
                            try extract(job.blob, job.name, bytes)
                        }
                    }
                    if case .tooLarge(let size) = read {
                        result.size = size
                        result.skipped = "too-large"
                    }
                    batch.results.append(result)
                    batch.errors.append(nil)
                } catch {
                    batch.results.append(result)
                    batch.errors.append("blob \(job.blob.hex): \(GitProblem.describe(error)); left out")
                }
            }
            results.push(batch)
        }
    }

    private func matches(
        in bytes: UnsafeRawBufferPointer, path: String, scratch: MatchScratch, matcher: Matcher?
    ) throws -> [HuntMatch] {
        switch query.content {
        case .none:
            return []
        case .pattern(let regex):
            let found = try regex.allMatches(in: bytes, scratch: scratch)
            var lines = LineIndex(bytes)
            return found.map { match in
                let (line, column, lineRange) = lines.locate(match.range.lowerBound)
                return HuntMatch(line: line, column: column, text: Self.text(bytes, lineRange))
            }
        case .rule(let ruleSet, let index):
            let outcome = matcher?.scan(bytes, path: path, onlyRule: index) ?? ScanOutcome()
            if let failure = outcome.failures.first { throw ShardProblem(failure.description) }
            let kind = ruleSet.rules[index].rule.kind
            let masks = outcome.findings.map(\.mask)
            return outcome.findings.map { finding in
                let shown = finding.presented(kind: kind, secrets: masks, showSecrets: query.showSecrets)
                return HuntMatch(line: finding.line, column: finding.column, text: shown.snippet)
            }
        }
    }

    private static func text(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        let end = min(range.upperBound, range.lowerBound + HuntMatch.maxLineBytes)
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound..<end]), as: UTF8.self)
    }
}

/// Line numbers of offsets in one buffer, for offsets asked in increasing order.
private struct LineIndex {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    var line = 1
    var lineStart = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The 1-based line and byte column of `target`, and the range of its line without the newline.
    mutating func locate(_ target: Int) -> (line: Int, column: Int, lineRange: Range<Int>) {
        if target < offset {
            offset = 0
            line = 1
            lineStart = 0
        }
        while offset < target {
            if bytes[offset] == UInt8(ascii: "\n") {
                line += 1
                lineStart = offset + 1
            }
            offset += 1
        }
        var end = target
        while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
        if end > lineStart && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return (line, target - lineStart + 1, lineStart..<max(lineStart, end))
    }
}
