import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct BenchError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Thrown once SIGINT or SIGTERM has arrived, so that the caller restores `refs/heads/code` and exits.
struct BenchInterrupted: Error {}

/// A finished child process: exit status (128 + the signal if killed), wall and CPU time, peak resident set size.
struct ChildRun: Encodable {
    var status: Int32
    var seconds: Double
    var maxRSSBytes: Int
    /// User + system CPU time.
    var cpuSeconds: Double
}

/// What the SIGINT/SIGTERM handler shares with the main thread: plain words, all a signal handler may touch.
enum ChildSignals {
    nonisolated(unsafe) static var received: Int32 = 0
    nonisolated(unsafe) static var running: pid_t = 0

    /// Records the signal and passes it on to the running child; `Spawn.run` then throws ``BenchInterrupted``.
    static func install() {
        received = 0
        running = 0
        for number in [SIGINT, SIGTERM] {
            signal(number) { number in
                ChildSignals.received = number
                let child = ChildSignals.running
                if child > 0 { kill(child, number) }
            }
        }
    }

    static func uninstall() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// posix_spawn and wait4: each child's wall time and peak RSS.
enum Spawn {
    /// Runs `arguments` (the first looked up in PATH) with its standard streams from and to the given files.
    static func run(
        _ arguments: [String], stdin: String = "/dev/null", stdout: String = "/dev/null",
        stderr: String = "/dev/null", ignoringInterrupt: Bool = false
    ) throws -> ChildRun {
        if !ignoringInterrupt && ChildSignals.received != 0 { throw BenchInterrupted() }
        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t? = nil
            var attributes: posix_spawnattr_t? = nil
        #else
            var actions = posix_spawn_file_actions_t()
            var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child gets default SIGINT/SIGTERM handling and an empty signal mask, whatever ours are.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = arguments.map { strdup($0) }
        let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") }
        defer { for pointer in argv + environment { free(pointer) } }

        var pid = pid_t()
        let start = ContinuousClock.now
        let error = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv + [nil], environment + [nil])
        guard error == 0 else {
            throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(error)))")
        }
        ChildSignals.running = pid
        defer { ChildSignals.running = 0 }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) == -1 {
            guard errno == EINTR else { throw BenchError("wait4: \(String(cString: strerror(errno)))") }
        }
        let elapsed = start.duration(to: .now)
        if !ignoringInterrupt && ChildSignals.received != 0 { throw BenchInterrupted() }
        let signalNumber = status & 0x7F
        #if canImport(Darwin)
            let maxRSS = Int(usage.ru_maxrss)  // bytes
        #else
            let maxRSS = Int(usage.ru_maxrss) * 1024  // KiB
        #endif
        return ChildRun(
            status: signalNumber == 0 ? (status >> 8) & 0xFF : 128 + signalNumber,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            maxRSSBytes: maxRSS, cpuSeconds: Self.seconds(usage.ru_utime) + Self.seconds(usage.ru_stime))
    }

    static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }
}
