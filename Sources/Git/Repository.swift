import CGit2

/// An open git repository (bare or not).
///
/// libgit2 handles are used by one thread at a time: open one `Repository` per worker.
public final class Repository {
    let handle: OpaquePointer
    /// `nil` once closed (``closeObjectDatabase()``) and until next needed.
    private var openObjectDatabase: OpaquePointer?

    /// Opens the repository at `path` (its work tree, its `.git` folder, or a bare repository),
    /// without searching parent folders.
    ///
    /// The corresponding C function is `git_repository_open_ext` with `GIT_REPOSITORY_OPEN_NO_SEARCH`.
    public init(at path: String) throws(GitError) {
        _ = Library.initialized
        var repository: OpaquePointer?
        try check(
            git_repository_open_ext(&repository, path, GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue, nil),
            "cannot open repository \(path)")
        self.handle = repository!
        var odb: OpaquePointer?
        do {
            try check(git_repository_odb(&odb, handle), "cannot open object database of \(path)")
        } catch {
            git_repository_free(repository)
            throw error
        }
        openObjectDatabase = odb
    }

    /// The object database, opened again after ``closeObjectDatabase()``.
    ///
    /// The corresponding C function is `git_repository_odb`.
    var odb: OpaquePointer {
        get throws(GitError) {
            if let openObjectDatabase { return openObjectDatabase }
            var odb: OpaquePointer?
            try check(git_repository_odb(&odb, handle), "cannot open object database of \(gitDirectory)")
            openObjectDatabase = odb
            return odb!
        }
    }

    /// Creates an empty repository at `path`.
    ///
    /// The corresponding C function is `git_repository_init`.
    public static func create(at path: String, bare: Bool) throws(GitError) -> Repository {
        _ = Library.initialized
        var repository: OpaquePointer?
        try check(git_repository_init(&repository, path, bare ? 1 : 0), "cannot create repository \(path)")
        git_repository_free(repository)
        return try Repository(at: path)
    }

    deinit {
        git_odb_free(openObjectDatabase)
        git_repository_free(handle)
    }

    /// Whether the repository has no work tree.
    public var isBare: Bool { git_repository_is_bare(handle) == 1 }

    /// Whether this is a shallow clone: its history is cut at the commits listed in its `shallow` file.
    ///
    /// The corresponding C function is `git_repository_is_shallow`.
    public var isShallow: Bool { git_repository_is_shallow(handle) == 1 }

    /// The path of the repository's git folder (the repository itself when bare).
    public var gitDirectory: String { String(cString: git_repository_path(handle)) }

    // MARK: References

    /// The commit a reference (full name, e.g. `refs/heads/code`) points at, peeled through tags;
    /// `nil` when there is no such reference.
    ///
    /// The corresponding C function is `git_reference_name_to_id`.
    public func commitID(ofReference name: String) throws(GitError) -> ObjectID? {
        var oid = git_oid()
        let rc = git_reference_name_to_id(&oid, handle, name)
        if rc == GIT_ENOTFOUND.rawValue { return nil }
        try check(rc, "cannot resolve \(name)")
        return ObjectID(oid)
    }

    /// The names of the references matching `glob` (e.g. `refs/remotes/*/code`), sorted.
    ///
    /// The corresponding C functions are `git_reference_iterator_glob_new` and `git_reference_next_name`.
    public func referenceNames(matching glob: String) throws(GitError) -> [String] {
        var iterator: OpaquePointer?
        try check(git_reference_iterator_glob_new(&iterator, handle, glob), "cannot list references \(glob)")
        defer { git_reference_iterator_free(iterator) }
        var names: [String] = []
        var name: UnsafePointer<CChar>?
        while true {
            let rc = git_reference_next_name(&name, iterator)
            if rc == GIT_ITEROVER.rawValue { break }
            try check(rc, "cannot list references \(glob)")
            names.append(String(cString: name!))
        }
        return names.sorted()
    }

    /// Points reference `name` at `target`, creating it or moving it.
    ///
    /// The corresponding C function is `git_reference_create`.
    public func setReference(_ name: String, to target: ObjectID) throws(GitError) {
        var oid = target.raw
        var reference: OpaquePointer?
        try check(git_reference_create(&reference, handle, name, &oid, 1, nil), "cannot set \(name)")
        git_reference_free(reference)
    }

    // MARK: Commits

    /// Reads the commit `id`.
    ///
    /// The corresponding C function is `git_commit_lookup`.
    public func commit(_ id: ObjectID) throws(GitError) -> Commit {
        var oid = id.raw
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, handle, &oid), "cannot read commit \(id)")
        defer { git_commit_free(commit) }
        var parents: [ObjectID] = []
        for index in 0..<git_commit_parentcount(commit) {
            parents.append(ObjectID(git_commit_parent_id(commit, index)!.pointee))
        }
        let summary = git_commit_summary(commit).map { String(cString: $0) } ?? ""
        return Commit(
            id: id, tree: ObjectID(git_commit_tree_id(commit)!.pointee), parents: parents,
            time: Int64(git_commit_time(commit)), summary: summary)
    }

    /// The commits reachable from `tip` but not from any of `hidden`, oldest first
    /// (parents before children).
    ///
    /// The corresponding C functions are `git_revwalk_push`, `git_revwalk_hide` and `git_revwalk_next`
    /// with `GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE`.
    public func commits(from tip: ObjectID, hiding hidden: [ObjectID] = []) throws(GitError) -> [ObjectID] {
        var walk: OpaquePointer?
        try check(git_revwalk_new(&walk, handle), "cannot walk history")
        defer { git_revwalk_free(walk) }
        try check(
            git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_REVERSE.rawValue),
            "cannot sort history")
        var tipOID = tip.raw
        try check(git_revwalk_push(walk, &tipOID), "cannot walk from \(tip)")
        for id in hidden {
            var oid = id.raw
            try check(git_revwalk_hide(walk, &oid), "cannot hide \(id)")
        }
        var ids: [ObjectID] = []
        var oid = git_oid()
        while true {
            let rc = git_revwalk_next(&oid, walk)
            if rc == GIT_ITEROVER.rawValue { break }
            try check(rc, "cannot walk history from \(tip)")
            ids.append(ObjectID(oid))
        }
        return ids
    }

    /// Closes the object database: its packs' and indexes' mappings and the objects cached from them. The next
    /// read opens it again. A walk that reads objects through ``PackReader``s calls this once it has listed its
    /// commits, so that libgit2 does not keep a second copy of every pack index resident.
    ///
    /// The corresponding C function is `git_repository__cleanup`.
    public func closeObjectDatabase() throws(GitError) {
        git_odb_free(openObjectDatabase)
        openObjectDatabase = nil
        try check(git_repository__cleanup(handle), "cannot close the object database of \(gitDirectory)")
    }

    /// Reads objects from loose files alone from here on, for a reader whose packs are read by ``PackReader``:
    /// looking for a loose object, libgit2 searches every pack index first, and keeps each one mapped and
    /// resident, a second copy beside the reader's. ``closeObjectDatabase()`` opens the whole database again.
    ///
    /// The corresponding C functions are `git_odb_new`, `git_odb_backend_loose`, `git_odb_add_backend` and
    /// `git_repository_set_odb`.
    public func readLooseObjectsOnly() throws(GitError) {
        var directory = gitDirectory
        while directory.hasSuffix("/") { directory.removeLast() }
        var odb: OpaquePointer?
        try check(git_odb_new(&odb), "cannot create an object database for \(directory)")
        var backend: UnsafeMutablePointer<git_odb_backend>?
        do throws(GitError) {
            try check(
                git_odb_backend_loose(&backend, directory + "/objects", -1, 0, 0, 0),
                "cannot open the loose objects of \(directory)")
            // The database owns the backend once added.
            try check(git_odb_add_backend(odb, backend, 1), "cannot open the loose objects of \(directory)")
            backend = nil
            try check(git_repository_set_odb(handle, odb), "cannot open the loose objects of \(directory)")
        } catch {
            backend?.pointee.free(backend)
            git_odb_free(odb)
            throw error
        }
        git_odb_free(openObjectDatabase)
        openObjectDatabase = odb
    }

    /// Whether `ancestor` is `commit` or one of its ancestors.
    ///
    /// The corresponding C function is `git_graph_descendant_of`.
    public func isAncestor(_ ancestor: ObjectID, of commit: ObjectID) throws(GitError) -> Bool {
        if ancestor == commit { return true }
        var commitOID = commit.raw
        var ancestorOID = ancestor.raw
        let rc = git_graph_descendant_of(handle, &commitOID, &ancestorOID)
        try check(rc, "cannot compare \(ancestor) with \(commit)")
        return rc == 1
    }

    /// Whether an object with this id exists in the object database.
    ///
    /// The corresponding C function is `git_odb_exists`.
    public func contains(_ id: ObjectID) -> Bool {
        var oid = id.raw
        guard let odb = try? odb else { return false }
        return git_odb_exists(odb, &oid) == 1
    }

    // MARK: Blobs

    /// The size of object `id` in bytes, read from its header without inflating it.
    ///
    /// The corresponding C function is `git_odb_read_header`.
    public func objectSize(_ id: ObjectID) throws(GitError) -> Int {
        var oid = id.raw
        var size = 0
        var type = GIT_OBJECT_ANY
        try check(git_odb_read_header(&size, &type, try odb, &oid), "cannot read header of \(id)")
        return size
    }

    /// The type of object `id` as packs number it: 1 commit, 2 tree, 3 blob, 4 tag.
    ///
    /// The corresponding C function is `git_odb_read_header`.
    public func objectType(_ id: ObjectID) throws(GitError) -> Int {
        var oid = id.raw
        var size = 0
        var type = GIT_OBJECT_ANY
        try check(git_odb_read_header(&size, &type, try odb, &oid), "cannot read header of \(id)")
        return Int(type.rawValue)
    }

    /// Reads object `id` and lends its bytes to `body`; the bytes are valid only inside `body`.
    ///
    /// The corresponding C functions are `git_odb_read`, `git_odb_object_data` and `git_odb_object_size`.
    public func withObjectBytes<Result>(
        _ id: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result {
        var oid = id.raw
        var object: OpaquePointer?
        try check(git_odb_read(&object, try odb, &oid), "cannot read object \(id)")
        defer { git_odb_object_free(object) }
        let bytes = UnsafeRawBufferPointer(start: git_odb_object_data(object), count: git_odb_object_size(object))
        return try body(bytes)
    }

    /// Stores `bytes` as a blob and returns its id.
    ///
    /// The corresponding C function is `git_blob_create_from_buffer`.
    public func writeBlob(_ bytes: some Collection<UInt8>) throws(GitError) -> ObjectID {
        var oid = git_oid()
        let array = Array(bytes)
        let rc = array.withUnsafeBytes { git_blob_create_from_buffer(&oid, handle, $0.baseAddress, $0.count) }
        try check(rc, "cannot write blob")
        return ObjectID(oid)
    }
}

/// What shardscan needs of a commit.
public struct Commit: Sendable, Equatable {
    public let id: ObjectID
    public let tree: ObjectID
    /// First parent first.
    public let parents: [ObjectID]
    /// Committer time, seconds since 1970.
    public let time: Int64
    /// The first paragraph of the message, on one line.
    public let summary: String
}
