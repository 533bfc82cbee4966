import Foundation

/// Another scanner timed on the bench shard: `--peer 'CMD {shard}'`, run through `/bin/sh -c` with `{shard}`
/// replaced by the shard's path, quoted for the shell.
struct BenchPeer: Encodable {
    /// The command as given.
    var command: String

    init(command: String) throws {
        guard command.contains("{shard}") else {
            throw BenchError("--peer '\(command)': the command must name the shard as {shard}")
        }
        self.command = command
    }

    /// The shell command line for `shard`.
    func commandLine(shard: String) -> String {
        command.replacingOccurrences(of: "{shard}", with: Self.shellQuoted(shard))
    }

    /// A short name for the table: the command's first word, without its folder.
    var name: String {
        let first = command.split(separator: " ").first.map(String.init) ?? command
        return "peer " + (first.split(separator: "/").last.map(String.init) ?? first)
    }

    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Runs the peer once, its output in `log`. Scanners exit non-zero when they find something (Kingfisher
    /// with 200), so any exit is a timing; only a shell that could not run the command (126, 127) is an error.
    func run(shard: String, log: String) throws -> ChildRun {
        let run = try Spawn.run(["/bin/sh", "-c", commandLine(shard: shard)], stdout: log, stderr: log + ".err")
        if run.status == 126 || run.status == 127 {
            throw BenchError(
                "--peer '\(command)' exited with \(run.status):\n" + Bench.tail(of: log + ".err"))
        }
        return run
    }
}
