import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one-writer lock of a store: an exclusive `flock` on `<store>.lock`, held by `scan` for the whole run.
///
/// The kernel drops it when the process ends, however it ends (a SIGKILLed scan leaves no stale lock).
/// Readers (`findings`, `report`, `status`) never take it: SQLite's WAL lets them read during a scan.
public final class StoreLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Int32

    /// Takes the lock of the store at `storePath`, or throws at once, naming the process that holds it.
    public init(storePath: String) throws {
        let path = storePath + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError("cannot create the lock file \(path) of store \(storePath): \(Self.describeErrno())")
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
        // Who holds it, for the message of the scan that is refused.
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

    private static func readHolder(_ descriptor: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    private static func describeErrno() -> String { String(cString: strerror(errno)) }
}
