import Foundation
import Testing

/// Runs the built `shardscan` binary as a user would, and collects what it prints.
enum CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `shardscan` executable beside the test bundle (`swift build` puts both in one folder).
    static var executable: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if folder.lastPathComponent.hasSuffix(".xctest") || folder.path.contains(".xctest/") {
            while !folder.lastPathComponent.hasSuffix(".xctest") { folder.deleteLastPathComponent() }
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("shardscan")
    }

    /// The package root, for the shipped `Rules/`.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// This process's environment, with the Hyperscan database cache in a temporary folder (shared by the
    /// test runs of this machine) unless `SHARDSCAN_CACHE` already names one: tests write nothing under `~`.
    static let childEnvironment = ProcessInfo.processInfo.environment.merging([
        "SHARDSCAN_CACHE": FileManager.default.temporaryDirectory.appendingPathComponent("shardscan-tests-cache").path
    ]) { existing, _ in existing }

    /// Runs the binary with `environment` over this process's. Unless `environment` says otherwise, `COLUMNS` is
    /// wide, so that tests reading a table's content see every cell whole; the layout tests set it themselves.
    static func run(
        _ arguments: [String], stdin: String? = nil, in directory: URL? = nil, environment: [String: String] = [:]
    ) throws -> Result {
        // Output goes to files, not pipes, so a chatty child can never block on a full pipe.
        let scratch = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = childEnvironment.merging(["COLUMNS": "1000"]) { $1 }
            .merging(environment) { $1 }
        process.currentDirectoryURL = directory ?? packageRoot
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: try String(contentsOf: outURL, encoding: .utf8),
            stderr: try String(contentsOf: errURL, encoding: .utf8))
    }

    /// A new folder of its own, removed when the test process exits (tests hand folders to helpers and child
    /// processes, so no test scope owns them).
    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shardscan-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        TemporaryFolders.shared.add(folder)
        return folder
    }
}

/// The folders ``CLI/temporaryFolder()`` made, removed at exit.
final class TemporaryFolders: @unchecked Sendable {
    static let shared = TemporaryFolders()
    private let lock = NSLock()
    private var folders: [URL] = []

    private init() {
        atexit { TemporaryFolders.shared.removeAll() }
    }

    func add(_ folder: URL) {
        lock.withLock { folders.append(folder) }
    }

    private func removeAll() {
        for folder in lock.withLock({ folders }) { try? FileManager.default.removeItem(at: folder) }
    }
}
