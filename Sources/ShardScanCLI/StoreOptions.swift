import ArgumentParser
import ShardScanStore

/// `--db`, shared by every command that reads or writes the store.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp("The SQLite store.", valueName: "path"))
    var path = "shardscan.sqlite"

    func open() throws -> Store {
        do {
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
