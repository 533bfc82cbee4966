import ArgumentParser
import Foundation
import ShardScanStore

/// `shardscan triage`: a status per fingerprint, and the file a team keeps it in.
struct Triage: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set a finding's status by fingerprint, or export and import the triage of a store.",
        discussion: """
            A status belongs to the fingerprint (rule and secret), so it holds at every place the secret \
            appears, in every shard and in releases yet to come. Statuses: \
            \(TriageStatus.settable.map(\.rawValue).joined(separator: ", ")). A finding whose rule is no \
            longer in the packs shows as retired.
            """,
        subcommands: [TriageSet.self, TriageExport.self, TriageImport.self],
        defaultSubcommand: TriageSet.self
    )
}

/// `shardscan triage [set] FINGERPRINT… --status STATUS`.
struct TriageSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set the status of findings named by fingerprint, or chosen by --rule and --project.",
        discussion: """
            A fingerprint may be shortened to a unique prefix of at least 8 hex digits, as `findings` shows it. \
            A full fingerprint (64 digits) the store has not seen is kept, and applies when the secret turns up. \
            With --rule and/or --project, every finding of that rule and project is set too.
            Exit status: 0 set, 2 a prefix named no finding or more than one (nothing is set).
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(help: "The new status.")
    var status: TriageStatus

    @Option(help: "Why (a SARIF suppression's justification). Never paste the secret here.")
    var comment = ""

    @Option(help: "Who decided (default: $USER).")
    var by: String?

    @Option(help: "Every finding of this rule id.", completion: Completions.ruleIDs)
    var rule: String?

    @Option(help: "Every finding of this project (matched the PEP 503 way).", completion: Completions.projects)
    var project: String?

    @Argument(help: "Fingerprints or unique prefixes of at least 8 hex digits.")
    var fingerprints: [String] = []

    func validate() throws {
        if status == .retired {
            throw ValidationError("`retired` follows the rules (a removed rule's findings); triage cannot set it")
        }
        if fingerprints.isEmpty && rule == nil && project == nil {
            throw ValidationError("name fingerprints, or choose findings with --rule and/or --project")
        }
    }

    /// `--by`, else the login name, so every change says who made it.
    var author: String {
        if let by, !by.isEmpty { return by }
        let environment = ProcessInfo.processInfo.environment
        return environment["USER"] ?? environment["LOGNAME"] ?? NSUserName()
    }

    func run() throws {
        let store = try store.openForWriting()
        var chosen: [String]
        do {
            chosen = try store.resolveFingerprints(fingerprints)
        } catch let error as FingerprintError {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        if rule != nil || project != nil {
            let selected = try store.fingerprints(rule: rule, project: project)
            if selected.isEmpty {
                printError(
                    "error: no finding of \([rule.map { "rule \($0)" }, project.map { "project \($0)" }].compactMap { $0 }.joined(separator: " and "))"
                )
                throw ExitCode(2)
            }
            chosen += selected
        }
        let written = try store.setTriage(chosen, status: status, comment: comment, author: author)
        for record in written {
            print("\(record.fingerprint.prefix(12))  \(record.status.rawValue)  \(record.rule ?? "(not found yet)")")
        }
        printError("\(written.count) fingerprint(s) set to \(status.rawValue) by \(author)")
    }
}

/// `shardscan triage export`.
struct TriageExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the store's triage as a stable JSON file to keep in git (fingerprints, never secrets).",
        discussion: "One entry per fingerprint, sorted, pretty-printed: a change of status is a small diff."
    )

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("Write here instead of standard output.", valueName: "file"), completion: .file())
    var output: String?

    func run() throws {
        let records = try store.open().allTriage()
        try ReportWriter.emit(try TriageFile(records).encoded(), to: output)
        if output != nil { printError("exported \(records.count) triage entries") }
    }
}

/// `shardscan triage import FILE`.
struct TriageImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Apply a triage file to the store; for each fingerprint the newer change wins.",
        discussion: """
            Fingerprints the store has not seen are kept and apply when their secret is found: a baseline of \
            known test keys can be imported before the first scan. Each applied change joins the history. \
            An entry with status retired is refused (exit status 2): retired follows the rules, it is no verdict.
            """
    )

    @OptionGroup var store: StoreOptions

    @Argument(help: "A file written by `shardscan triage export`; - for standard input.", completion: .file())
    var file: String

    func run() throws {
        let data: Data
        do {
            data =
                file == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            printError("error: cannot read \(file): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        let triageFile: TriageFile
        do {
            triageFile = try TriageFile.decode(data)
        } catch {
            printError("error: \(file): \(error)")
            throw ExitCode(2)
        }
        let outcome = try store.openForWriting(create: true).importTriage(triageFile.triage.map(\.record))
        printError(
            "imported \(file): \(outcome.applied) applied, \(outcome.unchanged) unchanged, \(outcome.olderKept) kept (the store's change is newer)"
        )
    }
}
