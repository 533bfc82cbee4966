import Dispatch
import Foundation
import ShardScanEngine

/// SIGINT and SIGTERM for `scan`. Before the scan starts (store opening, rules compiling) a signal ends the
/// command at once: nothing is written yet. During the scan the first signal asks it to stop once the
/// commits in flight are written (exit status 128 + the signal); a second signal, or a scan still running
/// ``gracePeriod`` seconds after the first, ends the process at once, which SQLite's journal makes safe.
final class SignalHandling: @unchecked Sendable {
    /// How long a stopping scan may take to write what it holds before the process ends anyway.
    static let gracePeriod = 10.0

    // `scanning` is read and written only with `lock` held.
    private let lock = NSLock()
    private var scanning = false
    private let stop: StopRequest
    private var sources: [DispatchSourceSignal] = []

    init(_ stop: StopRequest) {
        self.stop = stop
        sources = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")].map { number, name in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in self.received(number, name) }
            source.resume()
            return source
        }
    }

    /// From here on a signal stops the scan between commits instead of ending the process.
    func scanStarted() {
        lock.lock()
        scanning = true
        lock.unlock()
    }

    func cancel() {
        for source in sources { source.cancel() }
    }

    private func received(_ number: Int32, _ name: String) {
        lock.lock()
        let scanning = self.scanning
        lock.unlock()
        guard scanning else {
            printError("shardscan: \(name) received before the scan started; nothing was scanned")
            _exit(128 + number)
        }
        if stop.requested != nil {
            printError("shardscan: \(name) again: quitting now; the store keeps every batch written")
            _exit(128 + number)
        }
        stop.stop(reason: "\(name) received", exitStatus: 128 + number)
        printError(
            "shardscan: \(name) received: writing the commits in flight, then stopping (\(name) again to quit now)")
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.gracePeriod) {
            printError(
                "shardscan: the scan did not stop within \(Int(Self.gracePeriod)) s of \(name); quitting now; the store keeps every batch written"
            )
            _exit(128 + number)
        }
    }
}
