import ArgumentParser
import Foundation
import ShardScanReports
import ShardScanStore

/// `shardscan report`: SARIF, JSON or JSON Lines rendered from the store.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render findings from the store as SARIF 2.1.0, JSON or JSON Lines.",
        discussion: """
            Choose the findings with exactly one of --run, --since, --project, --all or --new. --new (json and \
            jsonl) delivers every place recorded since the last delivery of that format from this store, by \
            this command or by scan --json/--jsonl, and moves the store's cursor once the output is written. SARIF has one run per \
            shard (category shardscan/<shard>/); when GitHub's limits (20 runs, 10 MB compressed per upload) \
            need more than one file, FILE.sarif is followed by FILE-2.sarif, FILE-3.sarif, … and each is \
            named on stderr.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var secrets: SecretOptions

    @Option(help: "The findings recorded by this run.")
    var run: Int64?

    @Option(help: "The findings recorded by runs started on or after this date (YYYY-MM-DD or ISO 8601, UTC).")
    var since: String?

    @Option(help: "Every finding of this project (matched the PEP 503 way).")
    var project: String?

    @Flag(help: "Every finding in the store.")
    var all = false

    @Flag(help: "Every place recorded since the last delivery of this format (json or jsonl) from the store.")
    var new = false

    @Option(help: "Output format.")
    var format: ReportFormat

    @Option(help: ArgumentHelp("Write here instead of standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        let chosen = [run != nil, since != nil, project != nil, all, new].filter { $0 }.count
        if chosen != 1 { throw ValidationError("choose exactly one of --run, --since, --project, --all and --new") }
        if new && format == .sarif {
            throw ValidationError("--new delivers json or jsonl; SARIF states every open finding per shard instead")
        }
        if let since, !Self.isDate(since) {
            throw ValidationError("--since takes a date like 2026-11-21 or 2026-11-21T04:00:00Z, not '\(since)'")
        }
    }

    static func isDate(_ text: String) -> Bool {
        let pattern = #"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?Z?)?$"#
        return text.range(of: pattern, options: .regularExpression) != nil
    }

    var selection: ReportSelection {
        if let run { return .run(run) }
        if let since { return .since(since) }
        if let project { return .project(project) }
        return .all
    }

    func run() async throws {
        let store = try store.open()
        if new {
            try Delivery.deliver(store: store, format: format, to: output, showSecrets: secrets.showSecrets)
            return
        }
        if case .run(let id) = selection, try store.run(id) == nil {
            throw ValidationError("no run \(id) in \(self.store.path)")
        }
        let input = try ReportInput(store: store, selection: selection)
        try ReportWriter.write(input, format: format, to: output, showSecrets: secrets.showSecrets)
    }
}

/// Report formats.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case sarif, json, jsonl
}

/// Writes a rendered report to a file (atomically) or standard output.
enum ReportWriter {
    static func write(_ input: ReportInput, format: ReportFormat, to output: String?, showSecrets: Bool) throws {
        switch format {
        case .json:
            try emit(try JSONReport.render(input, toolVersion: shardscanVersion, showSecrets: showSecrets), to: output)
        case .jsonl:
            try emit(try JSONReport.renderLines(input, showSecrets: showSecrets), to: output)
        case .sarif:
            let files = try SARIFReport.render(input, toolVersion: shardscanVersion, showSecrets: showSecrets)
            for note in Set(files.flatMap(\.notes)).sorted() { printError("note: \(note)") }
            if files.count > 1 && output == nil {
                printError("error: the SARIF needs \(files.count) files; pass --output FILE")
                throw ExitCode(2)
            }
            for (index, file) in files.enumerated() {
                let path = output.map { index == 0 ? $0 : numbered($0, index + 1) }
                try emit(file.data, to: path)
                if files.count > 1, let path { printError("wrote \(path)") }
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
        if let path {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } else {
            FileHandle.standardOutput.write(data)
        }
    }
}
