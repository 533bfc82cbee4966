import ArgumentParser
import Foundation
import ShardScanStore

/// `--db`, shared by every command that reads or writes the store.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp("The SQLite store.", valueName: "path"))
    var path = "shardscan.sqlite"

    func validate() throws {
        if path.isEmpty { throw ValidationError("--db needs a path; an empty one names no store") }
    }

    /// Opens the store for a read command: read-only, never creating, migrating or changing it; a missing
    /// store, or a file that is not a shardscan store, exits 2.
    func open() throws -> Store {
        do {
            return try Store(readingAt: path)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
    }

    /// Opens the store for `scan`: takes its one-writer lock first, refusing at once when another scan holds
    /// it, then marks runs left `running` by scans that died as interrupted. Keep the lock until the scan ends.
    func openForScan(quiet: Bool) throws -> (Store, StoreLock) {
        do {
            // A file that is not a store is refused before its lock file is created beside it.
            if FileManager.default.fileExists(atPath: path) { try Store.checkIsStore(path, allowEmpty: true) }
            let lock = try StoreLock(storePath: path)
            let store = try Store(path: path)
            let abandoned = try store.markAbandonedRuns()
            if abandoned > 0 && !quiet {
                printError("note: \(abandoned) earlier run(s) of \(path) ended without finishing; marked interrupted")
            }
            return (store, lock)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
    }
}

/// `--show-secrets`, shared by every command that prints findings.
struct SecretOptions: ParsableArguments {
    @Flag(help: "Print secrets in full instead of redacted (e.g. ghp_Ab…).")
    var showSecrets = false

    func present(_ rows: [FindingRow]) -> [FindingRow] {
        showSecrets ? rows : rows.map { $0.redacted() }
    }
}
