import CGit2

/// An object of the object database that cannot be read, or whose content does not hash to its id.
public struct ObjectProblem: Sendable, Equatable, CustomStringConvertible {
    public let id: ObjectID
    public let message: String

    public init(id: ObjectID, message: String) {
        self.id = id
        self.message = message
    }

    public var description: String { "object \(id): \(message)" }
}

extension Repository {
    /// The ids of every object in the object database (loose and packed; an object stored twice comes
    /// twice).
    ///
    /// The corresponding C function is `git_odb_foreach`.
    public func allObjectIDs() throws(GitError) -> [ObjectID] {
        final class Collected { var ids: [ObjectID] = [] }
        let collected = Collected()
        let odb = try odb
        let rc = withExtendedLifetime(collected) {
            git_odb_foreach(
                odb,
                { oid, payload in
                    guard let oid, let payload else { return 0 }
                    Unmanaged<Collected>.fromOpaque(payload).takeUnretainedValue().ids.append(ObjectID(oid.pointee))
                    return 0
                }, Unmanaged.passUnretained(collected).toOpaque())
        }
        try check(rc, "cannot list the objects of \(gitDirectory)")
        return collected.ids
    }

    /// Reads and hashes again every object of the object database (``checkObject(_:)``) as it is listed, without
    /// holding the list; stops once `limit` problems are found. Returns how many objects were checked (an object
    /// stored both loose and packed counts twice) and the problems.
    ///
    /// The corresponding C function is `git_odb_foreach`.
    public func checkAllObjects(stoppingAfter limit: Int = 10) throws(GitError) -> (
        checked: Int, problems: [ObjectProblem]
    ) {
        final class Walk {
            let repository: Repository
            let limit: Int
            var checked = 0
            var problems: [ObjectProblem] = []
            init(_ repository: Repository, _ limit: Int) {
                self.repository = repository
                self.limit = limit
            }
        }
        let walk = Walk(self, max(1, limit))
        let odb = try odb
        let rc = withExtendedLifetime(walk) {
            git_odb_foreach(
                odb,
                { oid, payload in
                    guard let oid, let payload else { return 0 }
                    let walk = Unmanaged<Walk>.fromOpaque(payload).takeUnretainedValue()
                    walk.checked += 1
                    if let problem = walk.repository.checkObject(ObjectID(oid.pointee)) {
                        walk.problems.append(problem)
                    }
                    // A positive value stops the listing; libgit2 returns it as is.
                    return walk.problems.count >= walk.limit ? 1 : 0
                }, Unmanaged.passUnretained(walk).toOpaque())
        }
        if rc < 0 { try check(rc, "cannot list the objects of \(gitDirectory)") }
        return (walk.checked, walk.problems)
    }

    /// Reads object `id` in full and hashes its content again; `nil` when it reads and its hash is its id,
    /// else what is wrong with it.
    ///
    /// The corresponding C functions are `git_odb_read`, `git_odb_object_type` and `git_odb_hash`.
    public func checkObject(_ id: ObjectID) -> ObjectProblem? {
        var oid = id.raw
        var object: OpaquePointer?
        let odb: OpaquePointer
        do {
            odb = try self.odb
        } catch {
            return ObjectProblem(id: id, message: error.message)
        }
        let rc = git_odb_read(&object, odb, &oid)
        if rc < 0 { return ObjectProblem(id: id, message: GitError.last(rc, "cannot read it").message) }
        defer { git_odb_object_free(object) }
        var computed = git_oid()
        let hashed = git_odb_hash(
            &computed, git_odb_object_data(object), git_odb_object_size(object), git_odb_object_type(object))
        if hashed < 0 { return ObjectProblem(id: id, message: GitError.last(hashed, "cannot hash it").message) }
        let actual = ObjectID(computed)
        return actual == id ? nil : ObjectProblem(id: id, message: "content hashes to \(actual) (corrupt)")
    }

    /// How many entries tree `id` has; reading it is the point (a quick check that the tree is whole).
    ///
    /// The corresponding C functions are `git_tree_lookup` and `git_tree_entrycount`.
    public func treeEntryCount(_ id: ObjectID) throws(GitError) -> Int {
        let tree = try lookupTree(id)
        defer { git_tree_free(tree) }
        return git_tree_entrycount(tree)
    }

    /// The ids of the entries of tree `id` that are trees or blobs (submodule commits are left out), with
    /// whether each is a tree.
    ///
    /// The corresponding C functions are `git_tree_lookup`, `git_tree_entry_byindex`, `git_tree_entry_id` and
    /// `git_tree_entry_type`.
    public func treeEntryIDs(_ id: ObjectID) throws(GitError) -> [(id: ObjectID, isTree: Bool)] {
        let tree = try lookupTree(id)
        defer { git_tree_free(tree) }
        var entries: [(id: ObjectID, isTree: Bool)] = []
        for index in 0..<git_tree_entrycount(tree) {
            guard let entry = git_tree_entry_byindex(tree, index) else { continue }
            let type = git_tree_entry_type(entry)
            guard type == GIT_OBJECT_TREE || type == GIT_OBJECT_BLOB else { continue }
            entries.append((ObjectID(git_tree_entry_id(entry)!.pointee), type == GIT_OBJECT_TREE))
        }
        return entries
    }
}
