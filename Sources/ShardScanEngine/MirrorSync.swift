import Foundation
import Git

/// How thoroughly `mirror sync` reads a shard back before calling it good.
public enum SyncVerification: String, Sendable, CaseIterable, Codable {
    /// Every reference resolves, and the branch tip's commit and its tree read.
    case quick
    /// Every object of the shard is read and hashed again, and everything the branch reaches is present.
    case full
}

/// What `mirror sync` did to one shard.
public enum ShardSyncStatus: String, Sendable, Codable {
    /// Missing, now cloned.
    case cloned
    /// New commits arrived.
    case fetched
    /// Asked the remote; nothing new.
    case upToDate = "up-to-date"
    /// A closed shard, not asked (only the open ones are, unless `--check-all`).
    case closed
    case failed
}

/// One shard's line of the sync report.
public struct ShardSyncResult: Sendable, Codable, Equatable {
    public var name: String
    public var url: String
    public var path: String
    public var status: ShardSyncStatus
    /// Why it failed, or what else happened (a leftover partial clone removed).
    public var message: String = ""
    /// The branch tip after the sync.
    public var tip: String?
    /// Pack bytes received.
    public var bytes: Int = 0
    public var seconds: Double = 0
    /// The verification the shard passed, or `nil` when it was not verified (it failed before).
    public var verified: SyncVerification?

    public init(name: String, url: String, path: String, status: ShardSyncStatus) {
        self.name = name
        self.url = url
        self.path = path
        self.status = status
    }
}

/// What `mirror sync` tells its caller while it runs.
public enum MirrorSyncEvent: Sendable {
    /// A shard started: `action` is `clone`, `fetch`, `check` or `verify`.
    case started(shard: String, action: String)
    /// Bytes and objects arrived for a shard.
    case transfer(shard: String, progress: TransferProgress)
    case finished(ShardSyncResult)
}

/// Options of `mirror sync`.
public struct MirrorSyncOptions: Sendable {
    /// How many of the last shards in the list are open (still growing) and fetched every time.
    public var openShards = 2
    /// Compare every shard's remote tip with the local one (a reference listing) and fetch those that moved.
    public var checkAll = false
    /// Shards synced at once.
    public var jobs = 2
    public var verification = SyncVerification.quick
    public var branch = "code"

    public init() {}
}

/// Keeps a mirror root complete and current from the shard list: clones missing shards bare, fetches the open
/// ones (or every one that moved), and verifies what is there. Each shard succeeds or fails alone.
///
/// A clone goes to a hidden `.<name>.partial` folder first and is renamed into place only once complete and
/// verified, so a killed clone never passes for a shard (the scan skips hidden folders); the next sync removes
/// the leftover and clones again.
public struct MirrorSync: Sendable {
    public let root: String
    public let entries: [ShardListEntry]
    public let options: MirrorSyncOptions

    public init(root: String, entries: [ShardListEntry], options: MirrorSyncOptions) {
        self.root = root
        self.entries = entries
        self.options = options
    }

    /// The folder a shard is cloned into before it is complete.
    public static func partialPath(root: String, name: String) -> String {
        (root as NSString).appendingPathComponent(".\(name).partial")
    }

    /// Syncs every shard, `options.jobs` at a time, each on its own thread with its own libgit2 objects;
    /// returns the results in list order.
    public func run(events: @escaping @Sendable (MirrorSyncEvent) -> Void = { _ in }) throws -> [ShardSyncResult] {
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw ShardListError("cannot create the mirror root \(root): \(error.localizedDescription)")
        }
        let openFrom = max(0, entries.count - max(0, options.openShards))
        let results = ResultSlots(count: entries.count)
        let group = DispatchGroup()
        for _ in 0..<max(1, min(options.jobs, entries.count)) {
            group.enter()
            let thread = Thread {
                while let index = results.claim() {
                    let result = sync(entries[index], isOpen: index >= openFrom, events: events)
                    results.store(result, at: index)
                    events(.finished(result))
                }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        return results.all()
    }

    /// Syncs one shard; never throws: every failure becomes a `failed` result that says what to do.
    func sync(_ entry: ShardListEntry, isOpen: Bool, events: @escaping @Sendable (MirrorSyncEvent) -> Void)
        -> ShardSyncResult
    {
        let started = Date()
        let path = (root as NSString).appendingPathComponent(entry.name)
        var result = ShardSyncResult(name: entry.name, url: entry.url, path: path, status: .failed)
        var notes: [String] = []
        let partial = Self.partialPath(root: root, name: entry.name)
        if FileManager.default.fileExists(atPath: partial) {
            // Left by a sync that was killed or lost its network mid-clone: libgit2 cannot resume a pack
            // download, so the clone starts again.
            do {
                try FileManager.default.removeItem(atPath: partial)
                notes.append("removed an unfinished clone left by an earlier sync")
            } catch {
                result.message = "cannot remove the unfinished clone \(partial): \(error.localizedDescription)"
                result.seconds = Date().timeIntervalSince(started)
                return result
            }
        }
        do {
            if FileManager.default.fileExists(atPath: path) {
                try update(entry, at: path, isOpen: isOpen, result: &result, events: events)
            } else {
                try clone(entry, to: path, partial: partial, result: &result, events: events)
            }
        } catch let error as SyncFailure {
            result.status = .failed
            notes.append(error.message)
        } catch {
            result.status = .failed
            notes.append("\(error)")
        }
        result.message = notes.joined(separator: "; ")
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    private func clone(
        _ entry: ShardListEntry, to path: String, partial: String, result: inout ShardSyncResult,
        events: @escaping @Sendable (MirrorSyncEvent) -> Void
    ) throws {
        events(.started(shard: entry.name, action: "clone"))
        let repository: Repository
        do {
            let (cloned, stats) = try Repository.cloneBare(
                from: entry.url, to: partial, head: "refs/heads/\(options.branch)"
            ) { progress in
                events(.transfer(shard: entry.name, progress: progress))
                return true
            }
            repository = cloned
            result.bytes = stats.receivedBytes
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw SyncFailure(
                "clone failed: \(error.message)\(Self.damageInLocalRemote(entry.url)); nothing was kept, the next sync tries again"
            )
        }
        let reference = "refs/heads/\(options.branch)"
        do {
            result.tip = try verify(repository, reference: reference, shard: entry.name, events: events)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw SyncFailure(
                "the clone is damaged: \(error.message); it was deleted and the next sync clones again (if it fails the same way, the remote is damaged)"
            )
        }
        result.verified = options.verification
        if rename(partial, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: partial)
            throw SyncFailure("cannot move the finished clone to \(path): \(reason)")
        }
        result.path = path
        result.status = .cloned
    }

    private func update(
        _ entry: ShardListEntry, at path: String, isOpen: Bool, result: inout ShardSyncResult,
        events: @escaping @Sendable (MirrorSyncEvent) -> Void
    ) throws {
        let repository: Repository
        do {
            repository = try Repository(at: path)
        } catch {
            throw SyncFailure("\(error.message); \(Self.recloneAdvice(path))")
        }
        let reference = localReference(in: repository)
        let before = try? repository.commitID(ofReference: reference)
        let remoteBranch = "refs/heads/\(options.branch)"
        var shouldFetch = isOpen
        if options.checkAll || (isOpen && before != nil) {
            events(.started(shard: entry.name, action: "check"))
            do {
                let remote = try Remote(anonymousURL: entry.url, in: repository)
                let advertised = try remote.references()
                guard let tip = advertised.first(where: { $0.name == remoteBranch }) else {
                    throw SyncFailure("the remote has no branch \(options.branch)")
                }
                shouldFetch = tip.id != before
            } catch let error as GitError {
                throw SyncFailure("cannot list the remote's references: \(error.message)")
            }
        }
        if shouldFetch {
            events(.started(shard: entry.name, action: "fetch"))
            do {
                let remote = try Remote(anonymousURL: entry.url, in: repository)
                let stats = try remote.fetch(refspecs: ["+\(remoteBranch):\(reference)"]) { progress in
                    events(.transfer(shard: entry.name, progress: progress))
                    return true
                }
                result.bytes = stats.receivedBytes
            } catch {
                throw SyncFailure(
                    "fetch failed: \(error.message)\(Self.damageInLocalRemote(entry.url)); the shard keeps what it had")
            }
        }
        do {
            result.tip = try verify(repository, reference: reference, shard: entry.name, events: events)
        } catch {
            throw SyncFailure("the shard is damaged: \(error.message); \(Self.recloneAdvice(path))")
        }
        result.verified = options.verification
        if !shouldFetch {
            result.status = isOpen || options.checkAll ? .upToDate : .closed
        } else {
            result.status = result.tip == before?.hex ? .upToDate : .fetched
        }
    }

    /// The local reference the scan reads for this shard (see ``ShardLocator``): the remote-tracking branch of a
    /// plain clone, else the local branch that a mirror clone fetches into.
    private func localReference(in repository: Repository) -> String {
        let tracking = (try? repository.referenceNames(matching: "refs/remotes/*/\(options.branch)")) ?? []
        return tracking.count == 1 ? tracking[0] : "refs/heads/\(options.branch)"
    }

    /// When a transfer from a remote on this machine (a path or `file://` URL) failed: the first object of the
    /// remote that does not read or hash right, as `" (the remote is damaged: object …)"`, else `""`. libgit2's
    /// error ("failed to read loose object header") does not say which object.
    static func damageInLocalRemote(_ url: String) -> String {
        var path = url
        if url.hasPrefix("file://") {
            guard let parsed = URL(string: url), parsed.isFileURL else { return "" }
            path = parsed.path
        } else if url.contains("://") || !url.hasPrefix("/") {
            return ""
        }
        guard let remote = try? Repository(at: path),
            let problem = try? remote.checkAllObjects(stoppingAfter: 1).problems.first
        else { return "" }
        return " (the remote is damaged: \(problem); repair it or clone from another copy)"
    }

    static func recloneAdvice(_ path: String) -> String {
        "delete \(path) and run mirror sync again to clone it afresh"
    }

    /// Reads the shard back at the chosen level; returns the branch tip.
    private func verify(
        _ repository: Repository, reference: String, shard: String,
        events: @escaping @Sendable (MirrorSyncEvent) -> Void
    ) throws(SyncFailure) -> String {
        events(.started(shard: shard, action: "verify"))
        do {
            for name in try repository.referenceNames(matching: "refs/*") {
                _ = try repository.commitID(ofReference: name)
            }
            guard let tip = try repository.commitID(ofReference: reference) else {
                throw SyncFailure("no branch \(options.branch) (\(reference))")
            }
            let commit = try repository.commit(tip)
            _ = try repository.treeEntryCount(commit.tree)
            if options.verification == .full {
                try verifyAllObjects(repository, tip: tip)
            }
            return tip.hex
        } catch let error as GitError {
            throw SyncFailure(error.message)
        } catch let error as SyncFailure {
            throw error
        } catch {
            throw SyncFailure("\(error)")
        }
    }

    /// Every stored object reads and hashes to its id, and every commit, tree and blob the branch reaches is
    /// stored (a fetch does not check that the objects it was sent connect).
    private func verifyAllObjects(_ repository: Repository, tip: ObjectID) throws {
        var problems = try repository.checkAllObjects(stoppingAfter: 10).problems
        if problems.isEmpty {
            var seenTrees = Set<ObjectID>()
            for commitID in try repository.commits(from: tip) {
                var pending = [try repository.commit(commitID).tree]
                while let tree = pending.popLast() {
                    guard seenTrees.insert(tree).inserted else { continue }
                    guard repository.contains(tree) else {
                        problems.append(ObjectProblem(id: tree, message: "missing (a tree of commit \(commitID))"))
                        continue
                    }
                    for entry in try repository.treeEntryIDs(tree) {
                        if entry.isTree {
                            pending.append(entry.id)
                        } else if !repository.contains(entry.id) {
                            problems.append(
                                ObjectProblem(id: entry.id, message: "missing (a blob of commit \(commitID))"))
                        }
                    }
                }
                if problems.count >= 10 { break }
            }
        }
        if let first = problems.first {
            let more = problems.count > 1 ? " (and \(problems.count - 1) more bad object(s))" : ""
            throw SyncFailure("\(first)\(more)")
        }
    }
}

/// Why one shard could not be synced, in words that say what to do.
struct SyncFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
    init(_ message: String) { self.message = message }
}

/// The results of the shards, filled in by the worker threads, with the next shard to take.
private final class ResultSlots: @unchecked Sendable {
    // Read and written only with `lock` held.
    private let lock = NSLock()
    private var slots: [ShardSyncResult?]
    private var next = 0

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func claim() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < slots.count else { return nil }
        next += 1
        return next - 1
    }

    func store(_ result: ShardSyncResult, at index: Int) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func all() -> [ShardSyncResult] {
        lock.lock()
        defer { lock.unlock() }
        return slots.compactMap { $0 }
    }
}
