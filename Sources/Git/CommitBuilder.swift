import CGit2

/// Who made a commit, and when.
public struct Signature: Sendable, Equatable {
    public var name: String
    public var email: String
    /// Seconds since 1970.
    public var time: Int64

    public init(name: String, email: String, time: Int64) {
        self.name = name
        self.email = email
        self.time = time
    }
}

extension Repository {
    /// Creates a commit whose tree is `parent`'s tree (or empty) with `files` written over it and
    /// `removing` taken out, and moves `reference` (e.g. `refs/heads/code`) to it when given.
    ///
    /// Used to build mirror-shaped repositories (the demo, test fixtures, benchmarks).
    ///
    /// The corresponding C functions are `git_index_new`, `git_index_read_tree`, `git_index_add`,
    /// `git_index_write_tree_to` and `git_commit_create`.
    @discardableResult
    public func commit(
        files: [(path: String, blob: ObjectID)], removing: [String] = [], parent: ObjectID?,
        message: String, author: Signature, reference: String?
    ) throws(GitError) -> ObjectID {
        try commit(
            rawFiles: files.map { (Array($0.path.utf8), $0.blob) }, removing: removing, parent: parent,
            message: message, author: author, reference: reference)
    }

    /// ``commit(files:removing:parent:message:author:reference:)`` with paths as bytes, which git allows to be
    /// anything but NUL and need not be UTF-8 (for fixtures of hostile trees).
    @discardableResult
    public func commit(
        rawFiles files: [(path: [UInt8], blob: ObjectID)], removing: [String] = [], parent: ObjectID?,
        message: String, author: Signature, reference: String?
    ) throws(GitError) -> ObjectID {
        var index: OpaquePointer?
        try check(git_index_new(&index), "cannot create index")
        defer { git_index_free(index) }

        var parentCommit: OpaquePointer?
        defer { if let parentCommit { git_commit_free(parentCommit) } }
        if let parent {
            var oid = parent.raw
            try check(git_commit_lookup(&parentCommit, handle, &oid), "cannot read commit \(parent)")
            var parentTree: OpaquePointer?
            try check(git_commit_tree(&parentTree, parentCommit), "cannot read tree of \(parent)")
            defer { git_tree_free(parentTree) }
            try check(git_index_read_tree(index, parentTree), "cannot read tree of \(parent)")
        }
        for path in removing {
            try check(git_index_remove(index, path, 0), "cannot remove \(path)")
        }
        for file in files {
            var entry = git_index_entry()
            entry.mode = GIT_FILEMODE_BLOB.rawValue
            entry.id = file.blob.raw
            let rc = (file.path + [0]).withUnsafeBufferPointer { path in
                path.withMemoryRebound(to: CChar.self) { path in
                    entry.path = path.baseAddress
                    return git_index_add(index, &entry)
                }
            }
            try check(rc, "cannot add \(String(decoding: file.path, as: UTF8.self))")
        }
        var treeOID = git_oid()
        try check(git_index_write_tree_to(&treeOID, index, handle), "cannot write tree")
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, handle, &treeOID), "cannot read new tree")
        defer { git_tree_free(tree) }

        var signature: UnsafeMutablePointer<git_signature>?
        try check(
            git_signature_new(&signature, author.name, author.email, git_time_t(author.time), 0),
            "bad signature \(author.name) <\(author.email)>")
        defer { git_signature_free(signature) }

        var commitOID = git_oid()
        var parents: [OpaquePointer?] = parentCommit.map { [$0] } ?? []
        let rc = parents.withUnsafeMutableBufferPointer { buffer in
            git_commit_create(
                &commitOID, handle, nil, signature, signature, nil, message, tree, buffer.count,
                buffer.baseAddress)
        }
        try check(rc, "cannot create commit")
        let id = ObjectID(commitOID)
        if let reference { try setReference(reference, to: id) }
        return id
    }
}
