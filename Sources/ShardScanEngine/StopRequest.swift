import Foundation

/// A flag any thread may raise (a signal handler's queue) and the scan checks between commits.
public final class StopRequest: @unchecked Sendable {
    // Read and written only with `lock` held.
    private let lock = NSLock()
    private var reason: String?
    private var status: Int32 = 0

    public init() {}

    /// Asks the scan to stop after the commits in flight; the first reason given is kept, with the exit
    /// status the program should end with.
    public func stop(reason: String, exitStatus: Int32) {
        lock.lock()
        if self.reason == nil {
            self.reason = reason
            status = exitStatus
        }
        lock.unlock()
    }

    /// The exit status asked for with the stop (0 when none was asked).
    public var exitStatus: Int32 {
        lock.lock()
        defer { lock.unlock() }
        return status
    }

    /// Why a stop was asked for, or `nil` when none was.
    public var requested: String? {
        lock.lock()
        defer { lock.unlock() }
        return reason
    }
}
