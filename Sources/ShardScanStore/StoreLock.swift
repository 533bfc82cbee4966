import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one-writer lock of a store: an exclusive `flock` on `<store>.lock`, held by `scan` for the whole run.
///
/// The kernel drops it when the process ends, however it ends (a SIGKILLed scan leaves no stale lock).
/// Readers (`findings`, `report`, `status`) never take it: SQLite's WAL lets them read during a scan.
/// The lock sits beside the store's resolved path, so two names of one store (a symbolic link and its
/// target) share one lock; it is opened without following links and never truncated on open, so a lock
/// path planted as a link or hard link to another file can never damage that file.
public final class StoreLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Int32

    /// Takes the lock of the store at `storePath`, or throws at once, naming the process that holds it.
    public init(storePath: String) throws {
        let path = Self.resolved(storePath) + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == ELOOP {
                throw StoreError(
                    "the lock file \(path) of store \(storePath) is a symbolic link; refusing to use it "
                        + "(remove it: shardscan creates its own)")
            }
            throw StoreError(
                "cannot create the lock file \(path) of store \(storePath): \(String(cString: strerror(code)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_nlink == 1 else {
            close(descriptor)
            throw StoreError(
                "the lock file \(path) of store \(storePath) is not a plain file of its own (a device, a folder, "
                    + "a FIFO or a hard link to another file); refusing to use it (remove it: shardscan creates its own)"
            )
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = Self.readHolder(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK {
                throw StoreError(
                    "store \(storePath) is in use by another scan (\(holder ?? "pid unknown")); "
                        + "only one scan may write a store at a time: wait for it to finish, or stop it")
            }
            throw StoreError("cannot lock store \(storePath) (\(path)): \(String(cString: strerror(code)))")
        }
        // Who holds it, for the message of the scan that is refused. Emptied only now that the file is known
        // to be the store's own lock, and held.
        let holder = "pid \(getpid()), since \(ISO8601DateFormatter().string(from: Date()))\n"
        _ = ftruncate(descriptor, 0)
        _ = holder.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        // Emptied first, so that a reader never sees the pid of a finished scan as the holder.
        _ = ftruncate(descriptor, 0)
        close(descriptor)
    }

    /// `path` with every symbolic link resolved; for a store not created yet, its folder resolved.
    static func resolved(_ path: String) -> String {
        if let real = realpath(path, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        guard let real = realpath(folder, nil) else { return path }
        defer { free(real) }
        return (String(cString: real) as NSString).appendingPathComponent(url.lastPathComponent)
    }

    private static func readHolder(_ descriptor: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
