import ArgumentParser
import Foundation
import ShardScanReports
import ShardScanStore

/// `shardscan report`: SARIF, JSON or JSON Lines rendered from the store.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render findings from the store as SARIF 2.1.0, JSON or JSON Lines.",
        discussion: """
            Choose the findings with exactly one of --run, --since, --project, --all, --new or --open. --new \
            (json and jsonl) delivers every place recorded since the last delivery of that format from this \
            store, by this command or by scan --json/--jsonl, and moves the store's cursor once the output is \
            written. --open states every shard that has (or had) findings: every finding with its triage \
            status; in SARIF, open and confirmed findings are results, the others are suppressed, and a shard \
            whose findings are gone gets an empty run so that its alerts close. SARIF has one run per shard \
            (category shardscan/<shard>/); when GitHub's limits (20 runs, 10 MB compressed per upload) need \
            more than one file, FILE.sarif is followed by FILE-2.sarif, FILE-3.sarif, … and each is named on \
            stderr. --sarif-dir (with --open) writes one file per shard whose state changed since its last \
            delivery, for one upload per category.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var secrets: SecretOptions

    // Not `run`: a property of that name would clash with the command's `run()`.
    @Option(name: .customLong("run"), help: ArgumentHelp("The findings recorded by this run.", valueName: "run"))
    var runID: Int64?

    @Option(help: "The findings recorded by runs started on or after this date (YYYY-MM-DD or ISO 8601, UTC).")
    var since: String?

    @Option(help: "Every finding of this project (matched the PEP 503 way).", completion: Completions.projects)
    var project: String?

    @Flag(help: "Every finding in the store.")
    var all = false

    @Flag(help: "Every place recorded since the last delivery of this format (json or jsonl) from the store.")
    var new = false

    @Flag(help: "The state of every shard with findings: each finding with its triage status.")
    var open = false

    @Option(help: "Output format (sarif, json, jsonl).")
    var format: ReportFormat?

    @Option(
        help: ArgumentHelp(
            "With --open: one SARIF file per shard whose state changed since its last delivery, into this folder.",
            valueName: "folder"), completion: .directory)
    var sarifDir: String?

    @Option(help: ArgumentHelp("Write here instead of standard output.", valueName: "file"), completion: .file())
    var output: String?

    func validate() throws {
        let chosen = [runID != nil, since != nil, project != nil, all, new, open].filter { $0 }.count
        if chosen != 1 {
            throw ValidationError("choose exactly one of --run, --since, --project, --all, --new and --open")
        }
        if sarifDir != nil {
            if !open { throw ValidationError("--sarif-dir writes the state of shards; use it with --open") }
            if format != nil && format != .sarif { throw ValidationError("--sarif-dir writes SARIF only") }
            if output != nil { throw ValidationError("--sarif-dir names the folder; --output is not used with it") }
        } else if format == nil {
            throw ValidationError("choose a --format: sarif, json or jsonl")
        }
        if new && format == .sarif {
            throw ValidationError("--new delivers json or jsonl; SARIF states every open finding per shard instead")
        }
        if let since, !Self.isDate(since) {
            throw ValidationError(
                "--since takes a real date like 2026-11-21 or 2026-11-21T04:00:00Z (UTC), not '\(since)'")
        }
    }

    /// Whether `text` is a date (or date and time) of the form `--since` takes, and a real one: runs are
    /// compared as text, so `2026-11-32` would otherwise pass for a date after every run of November.
    static func isDate(_ text: String) -> Bool {
        let pattern = #"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?Z?)?$"#
        guard text.range(of: pattern, options: .regularExpression) != nil else { return false }
        let numbers = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        let (year, month, day) = (numbers[0], numbers[1], numbers[2])
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard day <= days else { return false }
        if numbers.count > 3 {
            guard numbers[3] < 24, numbers[4] < 60, numbers.count < 6 || numbers[5] < 60 else { return false }
        }
        return true
    }

    var selection: ReportSelection {
        if let runID { return .run(runID) }
        if let since { return .since(since) }
        if let project { return .project(project) }
        if open { return .open }
        return .all
    }

    func run() throws {
        // Deliveries move the store's cursors; every other report only reads.
        let store = try new || sarifDir != nil ? store.openForWriting() : store.open()
        if let sarifDir {
            do {
                let written = try SARIFDelivery.writeChanged(
                    store: store, to: sarifDir, showSecrets: secrets.showSecrets)
                for path in written { print(terminalSafe(path)) }
                printError("\(written.count) shard file(s) changed since their last delivery")
            } catch let failure as OutputFile.Failure {
                printError("error: \(failure)")
                throw ExitCode(2)
            }
            return
        }
        guard let format else { throw ValidationError("choose a --format: sarif, json or jsonl") }
        if new {
            try Delivery.deliver(store: store, format: format, to: output, showSecrets: secrets.showSecrets)
            return
        }
        if case .run(let id) = selection, try store.run(id) == nil {
            throw ValidationError("no run \(id) in \(self.store.path)")
        }
        let input = try ReportInput(store: store, selection: selection)
        do {
            try ReportWriter.write(input, format: format, to: output, showSecrets: secrets.showSecrets)
        } catch let failure as OutputFile.Failure {
            printError("error: \(failure)")
            throw ExitCode(2)
        }
    }
}

extension ReportFormat: ExpressibleByArgument {}

/// Writes a rendered report to a file (atomically) or standard output.
enum ReportWriter {
    static func write(_ input: ReportInput, format: ReportFormat, to output: String?, showSecrets: Bool) throws {
        let report = try input.render(as: format, toolVersion: shardscanVersion, showSecrets: showSecrets)
        for note in report.notes { printError("note: \(note)") }
        let files = report.files
        // Numbered companions go beside a plain file only, never beside standard output, a FIFO or a link.
        let companions = OutputFile.isPlainFile(output) ? output : nil
        if files.count > 1 && companions == nil {
            throw OutputFile.Failure(
                description:
                    "the SARIF needs \(files.count) files; pass --output FILE (a plain file: FILE-2.sarif, … go beside it)"
            )
        }
        for (index, file) in files.enumerated() {
            let path = output.map { index == 0 ? $0 : numbered($0, index + 1) }
            try emit(file, to: path)
            if files.count > 1, let path { printError("wrote \(path)") }
        }
        // Companions of an earlier, bigger report would pass for part of this one.
        if format == .sarif, let companions {
            var number = files.count + 1
            while OutputFile.exists(numbered(companions, number)) {
                try OutputFile.removeIfPlainFile(numbered(companions, number))
                number += 1
            }
        }
    }

    /// `report.sarif` → `report-2.sarif`.
    static func numbered(_ path: String, _ number: Int) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        let stem = url.deletingPathExtension().path
        return ext.isEmpty ? "\(stem)-\(number)" : "\(stem)-\(number).\(ext)"
    }

    static func emit(_ data: Data, to path: String?) throws {
        try OutputFile.write(data, to: path)
    }
}
