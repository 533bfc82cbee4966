import CGit2

/// A failure reported by libgit2, with the message it left for this thread.
public struct GitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libgit2's return code (`git_error_code`), negative.
    public let code: Int32
    /// libgit2's error class (`git_error_t`), 0 when none was set.
    public let errorClass: Int32
    public let message: String

    public init(code: Int32, errorClass: Int32 = 0, message: String) {
        self.code = code
        self.errorClass = errorClass
        self.message = message
    }

    /// Whether the object or reference asked for does not exist (`GIT_ENOTFOUND`).
    public var isNotFound: Bool { code == GIT_ENOTFOUND.rawValue }

    public var description: String { message }

    /// Reads `git_error_last()`, which is thread-local: call it right after the failing call.
    static func last(_ code: Int32, _ what: @autoclosure () -> String) -> GitError {
        if let error = git_error_last(), let text = error.pointee.message {
            return GitError(code: code, errorClass: error.pointee.klass, message: "\(what()): \(String(cString: text))")
        }
        return GitError(code: code, message: "\(what()): libgit2 error \(code)")
    }
}

/// Runs a libgit2 call and turns a negative return code into a ``GitError``.
@inline(__always)
func check(_ rc: Int32, _ what: @autoclosure () -> String) throws(GitError) {
    if rc < 0 { throw GitError.last(rc, what()) }
}

/// libgit2's global state, initialised once per process.
enum Library {
    /// The corresponding C function is `git_libgit2_init`.
    static let initialized: Bool = {
        git_libgit2_init()
        return true
    }()
}

/// Process-wide libgit2 settings.
public enum GitSettings {
    /// Bounds the memory libgit2 keeps, for every repository of the process: pack files are mapped in
    /// windows of `packWindowBytes`, at most `mappedPackBytes` at once, and parsed objects (commits, trees)
    /// are cached up to `objectCacheBytes`. Mapped pack pages count in a process's resident size, so the
    /// defaults (windows of 1 GiB, up to 8 GiB) make it follow the shard's size rather than the work's.
    ///
    /// The corresponding C function is `git_libgit2_opts` with `GIT_OPT_SET_MWINDOW_SIZE`,
    /// `GIT_OPT_SET_MWINDOW_MAPPED_LIMIT` and `GIT_OPT_SET_CACHE_MAX_SIZE`.
    public static func limitMemory(packWindowBytes: Int, mappedPackBytes: Int, objectCacheBytes: Int) throws(GitError) {
        _ = Library.initialized
        try check(shardscan_git_set_mwindow_size(packWindowBytes), "cannot set the pack window size")
        try check(shardscan_git_set_mwindow_mapped_limit(mappedPackBytes), "cannot set the mapped pack limit")
        try check(shardscan_git_set_cache_max_size(objectCacheBytes), "cannot set the object cache size")
    }
}
