#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts the scan's worker threads, and says so when the system refuses one.
///
/// Foundation's `Thread.start()` ignores a failing `pthread_create`: under a memory or process limit
/// (`ulimit -v`, `ulimit -u`) the worker never ran and the scan waited for it forever. This calls
/// `pthread_create` itself and throws its error.
enum WorkerThread {
    /// The closure a new thread runs, passed through `pthread_create`'s context pointer.
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Runs `body` on a new detached thread; throws the `pthread_create` error when there is none.
    static func start(_ body: @escaping @Sendable () -> Void) throws(WorkerThreadError) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        #if canImport(Glibc)
            var thread = pthread_t()
        #else
            var thread: pthread_t?
        #endif
        let code = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        guard code == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw WorkerThreadError(code: code)
        }
        #if canImport(Glibc)
            pthread_detach(thread)
        #else
            if let thread { pthread_detach(thread) }
        #endif
    }
}

/// The system would not start a thread.
public struct WorkerThreadError: Error, CustomStringConvertible, Sendable {
    /// The `pthread_create` error number.
    public let code: Int32

    public var description: String { String(cString: strerror(code)) }
}

/// A scan that could not start its workers: no shard can be scanned, so the run ends.
public struct WorkersUnavailable: Error, CustomStringConvertible, Sendable {
    public let started: Int
    public let wanted: Int
    public let cause: WorkerThreadError

    public var description: String {
        "cannot start worker thread \(started + 1) of \(wanted) (\(cause)); lower --jobs, or raise the limits on memory and threads (ulimit -v, ulimit -u)"
    }
}
