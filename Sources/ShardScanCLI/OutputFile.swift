import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where every file the tool writes with findings in it goes (`report --output`, `scan --json`/`--sarif`).
///
/// Reports may hold secrets (`--show-secrets`), so a regular file is always written as a new file of mode
/// 0600, whatever the umask, then renamed over the old one: a reader sees the old report or the new one,
/// never half of one, and never a file others could read. Other kinds of file are the user's plumbing and
/// are written into, never replaced: `-` is standard output, a FIFO or a terminal gets the bytes as they
/// are. A symbolic link is never replaced either; it is written through only to a FIFO, a device, or the
/// file standard output already goes to (`--output /dev/stdout > report.sarif`), never to another regular
/// file, which is what a link planted in a shared folder would aim at.
enum OutputFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Writes `data` to `path`, or to standard output when `path` is `nil` or `-`.
    static func write(_ data: Data, to path: String?) throws {
        guard let path, path != "-" else {
            FileHandle.standardOutput.write(data)
            return
        }
        guard !path.isEmpty else { throw Failure(description: "an empty output path names no file") }
        var status = stat()
        guard lstat(path, &status) == 0 else {
            guard errno == ENOENT else { throw Failure(description: "cannot write \(path): \(errnoText())") }
            return try replaceAtomically(path, with: data)
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            try replaceAtomically(path, with: data)
        case S_IFIFO, S_IFCHR:
            try writeInto(path, data, flags: O_NOFOLLOW)
        case S_IFLNK:
            try writeThroughLink(path, data)
        case S_IFDIR:
            throw Failure(description: "cannot write \(path): it is a folder")
        default:
            throw Failure(description: "cannot write \(path): not a regular file, FIFO or device; refusing")
        }
    }

    /// Whether `path` names a plain file the tool would create or replace, as opposed to standard output,
    /// a FIFO, a device or a link: only then may numbered companions (`FILE-2.sarif`) be created or removed.
    static func isPlainFile(_ path: String?) -> Bool {
        guard let path, path != "-", !path.isEmpty else { return false }
        var status = stat()
        guard lstat(path, &status) == 0 else { return errno == ENOENT }
        return status.st_mode & S_IFMT == S_IFREG
    }

    /// Whether anything (a dangling link included) is at `path`.
    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    /// Removes the regular file at `path` if there is one; anything else is left alone.
    static func removeIfPlainFile(_ path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return }
        if unlink(path) != 0 && errno != ENOENT {
            throw Failure(description: "cannot remove the stale \(path): \(errnoText())")
        }
    }

    /// A new 0600 file beside `path`, created exclusively (never through a link), filled, synced, and
    /// renamed over `path`.
    private static func replaceAtomically(_ path: String, with data: Data) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = (folder as NSString).appendingPathComponent(
            ".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure(description: "cannot write \(path): \(errnoText())") }
        var renamed = false
        defer {
            close(descriptor)
            if !renamed { unlink(temporary) }
        }
        // The umask can only take bits away from 0600; set it anyway, so the mode never depends on it.
        guard fchmod(descriptor, 0o600) == 0 else { throw Failure(description: "cannot write \(path): \(errnoText())") }
        try writeAll(descriptor, data, path: path)
        guard fsync(descriptor) == 0, rename(temporary, path) == 0 else {
            throw Failure(description: "cannot write \(path): \(errnoText())")
        }
        renamed = true
    }

    private static func writeThroughLink(_ path: String, _ data: Data) throws {
        var target = stat()
        guard stat(path, &target) == 0 else {
            throw Failure(
                description: "cannot write \(path): it is a symbolic link to nothing (\(errnoText())); "
                    + "shardscan never replaces a link: remove it or give another path")
        }
        switch target.st_mode & S_IFMT {
        case S_IFIFO, S_IFCHR:
            try writeInto(path, data, flags: 0)
        case S_IFREG where isStandardOutput(target):
            FileHandle.standardOutput.write(data)
        default:
            throw Failure(
                description: "cannot write \(path): it is a symbolic link to a file; shardscan never writes "
                    + "reports through a link to a file nor replaces the link: give the file's own path")
        }
    }

    private static func isStandardOutput(_ target: stat) -> Bool {
        var output = stat()
        return fstat(STDOUT_FILENO, &output) == 0 && output.st_dev == target.st_dev && output.st_ino == target.st_ino
    }

    /// Writes into an existing FIFO or device, without creating or truncating anything.
    private static func writeInto(_ path: String, _ data: Data, flags: Int32) throws {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC | flags)
        guard descriptor >= 0 else { throw Failure(description: "cannot write \(path): \(errnoText())") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT != S_IFREG else {
            throw Failure(description: "cannot write \(path): it changed while being opened; refusing")
        }
        try writeAll(descriptor, data, path: path)
    }

    private static func writeAll(_ descriptor: Int32, _ data: Data, path: String) throws {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw Failure(description: "cannot write \(path): \(errnoText())")
                }
                offset += written
            }
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
