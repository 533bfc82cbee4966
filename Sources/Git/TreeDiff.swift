import CGit2

/// A file that a commit added or changed.
public struct FileChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case added
        case modified
    }

    /// The path in the tree; bytes that are not UTF-8 are replaced with U+FFFD.
    public let path: String
    /// The path's bytes when they are not valid UTF-8 (`path` then differs from the tree's); `nil` otherwise.
    public let pathBytes: [UInt8]?
    /// The new content's blob id.
    public let blob: ObjectID
    public let kind: Kind
    /// Whether the entry is a symbolic link (its blob holds the link target, not file content).
    public let isSymlink: Bool

    public init(path: String, pathBytes: [UInt8]? = nil, blob: ObjectID, kind: Kind, isSymlink: Bool) {
        self.path = path
        self.pathBytes = pathBytes
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
            let path = String(validatingCString: delta.new_file.path)
            changes.append(
                FileChange(
                    path: path ?? String(cString: delta.new_file.path),
                    pathBytes: path == nil ? Self.bytes(ofCString: delta.new_file.path) : nil,
                    blob: ObjectID(delta.new_file.id), kind: kind,
                    isSymlink: mode == GIT_FILEMODE_LINK.rawValue))
        }
        return changes
    }

    static func bytes(ofCString pointer: UnsafePointer<CChar>) -> [UInt8] {
        let raw = UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self)
        var count = 0
        while raw[count] != 0 { count += 1 }
        return Array(UnsafeBufferPointer(start: raw, count: count))
    }

    func lookupTree(_ id: ObjectID) throws(GitError) -> OpaquePointer {
        var oid = id.raw
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, handle, &oid), "cannot read tree \(id)")
        return tree!
    }
}
