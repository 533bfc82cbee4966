import CGit2

/// A file that a commit added or changed.
public struct FileChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case added
        case modified
    }

    /// The path in the tree; bytes that are not UTF-8 are replaced with U+FFFD.
    public let path: String
    /// The new content's blob id.
    public let blob: ObjectID
    public let kind: Kind
    /// Whether the entry is a symbolic link (its blob holds the link target, not file content).
    public let isSymlink: Bool

    public init(path: String, blob: ObjectID, kind: Kind, isSymlink: Bool) {
        self.path = path
        self.blob = blob
        self.kind = kind
        self.isSymlink = isSymlink
    }
}

extension Repository {
    /// The files added or modified between tree `old` (or the empty tree when `nil`) and tree `new`.
    /// Deletions, submodule entries and directory entries are left out.
    ///
    /// Contents are not read: the binary check is skipped and no rename detection runs.
    ///
    /// The corresponding C function is `git_diff_tree_to_tree`.
    public func changes(from old: ObjectID?, to new: ObjectID) throws(GitError) -> [FileChange] {
        let newTree = try lookupTree(new)
        defer { git_tree_free(newTree) }
        let oldTree = try old.map { (id) throws(GitError) in try lookupTree(id) }
        defer { if let oldTree { git_tree_free(oldTree) } }

        var options = git_diff_options()
        try check(git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION)), "cannot set up diff")
        options.flags = GIT_DIFF_SKIP_BINARY_CHECK.rawValue
        var diff: OpaquePointer?
        try check(
            git_diff_tree_to_tree(&diff, handle, oldTree, newTree, &options),
            "cannot diff trees \(old?.hex ?? "(empty)")..\(new)")
        defer { git_diff_free(diff) }

        var changes: [FileChange] = []
        let count = git_diff_num_deltas(diff)
        changes.reserveCapacity(count)
        for index in 0..<count {
            guard let delta = git_diff_get_delta(diff, index)?.pointee else { continue }
            let kind: FileChange.Kind
            switch delta.status {
            case GIT_DELTA_ADDED: kind = .added
            case GIT_DELTA_MODIFIED, GIT_DELTA_TYPECHANGE: kind = .modified
            default: continue
            }
            let mode = UInt32(delta.new_file.mode)
            guard
                mode == GIT_FILEMODE_BLOB.rawValue || mode == GIT_FILEMODE_BLOB_EXECUTABLE.rawValue
                    || mode == GIT_FILEMODE_LINK.rawValue
            else { continue }
            changes.append(
                FileChange(
                    path: String(cString: delta.new_file.path),
                    blob: ObjectID(delta.new_file.id), kind: kind,
                    isSymlink: mode == GIT_FILEMODE_LINK.rawValue))
        }
        return changes
    }

    func lookupTree(_ id: ObjectID) throws(GitError) -> OpaquePointer {
        var oid = id.raw
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, handle, &oid), "cannot read tree \(id)")
        return tree!
    }
}
