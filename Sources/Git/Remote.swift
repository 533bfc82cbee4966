import CGit2

#if canImport(Glibc)
    import Glibc
#endif

/// How far a download has come, as libgit2's indexer counts it (`git_indexer_progress`).
public struct TransferProgress: Sendable, Equatable {
    /// Objects in the pack being received.
    public var totalObjects: Int = 0
    /// Objects received so far.
    public var receivedObjects: Int = 0
    /// Received objects hashed and indexed.
    public var indexedObjects: Int = 0
    /// Bytes of pack received so far.
    public var receivedBytes: Int = 0

    public init() {}

    init(_ stats: git_indexer_progress) {
        totalObjects = Int(stats.total_objects)
        receivedObjects = Int(stats.received_objects)
        indexedObjects = Int(stats.indexed_objects)
        receivedBytes = stats.received_bytes
    }
}

/// A reference as a remote advertises it (`git ls-remote`).
public struct RemoteReference: Sendable, Equatable {
    /// The full name, e.g. `refs/heads/code`.
    public let name: String
    public let id: ObjectID
}

/// A connection to a remote repository, for listing its references and fetching from it.
///
/// Like ``Repository``, one thread at a time; the remote keeps its repository open while it lives.
public final class Remote {
    private let handle: OpaquePointer
    private let repository: Repository

    /// A remote known only by `url`, not written to the repository's configuration; fetches move only the
    /// references named by the refspecs given to ``fetch(refspecs:progress:)``.
    ///
    /// The corresponding C function is `git_remote_create_anonymous`.
    public init(anonymousURL url: String, in repository: Repository) throws(GitError) {
        var remote: OpaquePointer?
        try check(git_remote_create_anonymous(&remote, repository.handle, url), "cannot use remote \(url)")
        self.handle = remote!
        self.repository = repository
    }

    /// Adds remote `name` to the repository's configuration, fetching with `fetchRefspec` (e.g.
    /// `+refs/heads/*:refs/heads/*`, which makes a bare repository a mirror of the remote's branches).
    ///
    /// The corresponding C function is `git_remote_create_with_fetchspec`.
    public init(creating name: String, url: String, fetchRefspec: String, in repository: Repository) throws(GitError) {
        var remote: OpaquePointer?
        try check(
            git_remote_create_with_fetchspec(&remote, repository.handle, name, url, fetchRefspec),
            "cannot add remote \(name) (\(url))")
        self.handle = remote!
        self.repository = repository
    }

    deinit {
        git_remote_free(handle)
    }

    /// The remote's URL.
    ///
    /// The corresponding C function is `git_remote_url`.
    public var url: String { git_remote_url(handle).map { String(cString: $0) } ?? "" }

    /// The references the remote advertises, without downloading objects: `git ls-remote`.
    ///
    /// The corresponding C functions are `git_remote_connect` (for fetching), `git_remote_ls` and
    /// `git_remote_disconnect`.
    public func references() throws(GitError) -> [RemoteReference] {
        var callbacks = git_remote_callbacks()
        try check(git_remote_init_callbacks(&callbacks, UInt32(GIT_REMOTE_CALLBACKS_VERSION)), "cannot set up remote")
        try check(
            git_remote_connect(handle, GIT_DIRECTION_FETCH, &callbacks, nil, nil), "cannot connect to \(url)")
        defer { git_remote_disconnect(handle) }
        var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
        var count = 0
        try check(git_remote_ls(&heads, &count, handle), "cannot list the references of \(url)")
        var references: [RemoteReference] = []
        for index in 0..<count {
            guard let head = heads?[index]?.pointee, let name = head.name else { continue }
            references.append(RemoteReference(name: String(cString: name), id: ObjectID(head.oid)))
        }
        return references
    }

    /// Downloads what `refspecs` name (the configured ones when empty) and moves the local references they
    /// map to: `git fetch`. Tags are not fetched. `progress` is called as the pack arrives; returning
    /// `false` cancels the download. Returns the final counts.
    ///
    /// The corresponding C functions are `git_fetch_options_init`, `git_remote_fetch` (with a
    /// `git_indexer_progress_cb` transfer callback) and `git_remote_stats`.
    @discardableResult
    public func fetch(refspecs: [String] = [], progress: ((TransferProgress) -> Bool)? = nil) throws(GitError)
        -> TransferProgress
    {
        var options = git_fetch_options()
        try check(git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)), "cannot set up fetch")
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE
        let box = ProgressBox(progress)
        options.callbacks.transfer_progress = { stats, payload in
            guard let stats, let payload else { return 0 }
            let box = Unmanaged<ProgressBox>.fromOpaque(payload).takeUnretainedValue()
            return box.report(TransferProgress(stats.pointee)) ? 0 : -1
        }
        options.callbacks.payload = Unmanaged.passUnretained(box).toOpaque()
        let rc = withExtendedLifetime(box) {
            withStringArray(refspecs) { array in
                git_remote_fetch(handle, refspecs.isEmpty ? nil : array, &options, "shardscan mirror sync")
            }
        }
        if rc == GIT_EUSER.rawValue {
            throw GitError(code: rc, message: "fetch from \(url) cancelled")
        }
        try check(rc, "cannot fetch from \(url)")
        return git_remote_stats(handle).map { TransferProgress($0.pointee) } ?? box.last
    }
}

/// Holds the Swift progress closure for libgit2's C callback, which gets it back through its payload.
private final class ProgressBox {
    let body: ((TransferProgress) -> Bool)?
    var last = TransferProgress()

    init(_ body: ((TransferProgress) -> Bool)?) { self.body = body }

    func report(_ progress: TransferProgress) -> Bool {
        last = progress
        return body?(progress) ?? true
    }
}

/// Lends `strings` to `body` as a `git_strarray` of C strings that live only inside `body`.
private func withStringArray<Result>(_ strings: [String], _ body: (UnsafePointer<git_strarray>) -> Result) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeMutableBufferPointer { buffer in
        var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
        return body(&array)
    }
}

extension Repository {
    /// Clones `url` bare into `path` (which must not exist or be empty) as a mirror of the remote's
    /// branches: remote `origin` fetching `+refs/heads/*:refs/heads/*`, so that the remote's `code` is the
    /// local `refs/heads/code`, with `HEAD` pointing at `head`. Nothing is checked out. `progress` as in
    /// ``Remote/fetch(refspecs:progress:)``.
    ///
    /// The corresponding C functions are `git_repository_init` (bare), `git_remote_create_with_fetchspec`,
    /// `git_remote_fetch` and `git_repository_set_head`; unlike `git_clone`, no local branch is derived from the
    /// remote's `HEAD`, which in a mirror shard may point at a branch that does not exist.
    public static func cloneBare(
        from url: String, to path: String, head: String = "refs/heads/code",
        progress: ((TransferProgress) -> Bool)? = nil
    ) throws(GitError) -> (Repository, TransferProgress) {
        let repository = try Repository.create(at: path, bare: true)
        let remote = try Remote(
            creating: "origin", url: url, fetchRefspec: "+refs/heads/*:refs/heads/*", in: repository)
        let stats = try remote.fetch(progress: progress)
        try repository.setHead(head)
        return (repository, stats)
    }

    /// Points `HEAD` at reference `name` (which may not exist yet).
    ///
    /// The corresponding C function is `git_repository_set_head`.
    public func setHead(_ name: String) throws(GitError) {
        try check(git_repository_set_head(handle, name), "cannot point HEAD at \(name)")
    }
}
