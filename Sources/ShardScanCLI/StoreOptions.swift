import ArgumentParser
import Foundation
import ShardScanStore

/// `--db`, shared by every command that reads or writes the store.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp("The SQLite store.", valueName: "path"), completion: .file())
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

    /// Opens the store for a command that changes what people said about findings (`triage`, `report --new`'s
    /// cursor) rather than what scans found: writable and migrated; a file that is not a shardscan store is refused
    /// untouched, and a missing one too unless `create` (a team's triage file may seed a new store). It takes no
    /// scan lock: SQLite serialises these small writes with a running scan's batches.
    func openForWriting(create: Bool = false) throws -> Store {
        do {
            if FileManager.default.fileExists(atPath: path) {
                try Store.checkIsStore(path, allowEmpty: true)
            } else if !create {
                throw StoreError("no store at \(path); is --db right?")
            }
            return try Store(path: path)
        } catch {
            printError("error: \(terminalSafe("\(error)"))")
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
            printError("error: \(terminalSafe("\(error)"))")
            throw ExitCode(2)
        }
    }
}

/// `--show-secrets`, shared by every command that prints findings.
struct SecretOptions: ParsableArguments {
    @Flag(help: "Print secrets in full instead of redacted (e.g. ghp_Ab…).")
    var showSecrets = false

    func present(_ rows: [FindingRow]) -> [FindingRow] {
        rows.map { $0.presented(showSecrets: showSecrets) }
    }
}
