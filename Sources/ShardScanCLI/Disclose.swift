import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanReports
import ShardScanStore

/// The formats a disclosure notice is written in.
enum DisclosureFormat: String, ExpressibleByArgument, CaseIterable {
    case markdown, json

    var fileExtension: String { self == .markdown ? "md" : "json" }
}

/// `shardscan disclose`: a notice per affected project that its maintainers can act on.
struct Disclose: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a disclosure notice for a project: what leaked, where, since when, what to do, whom to tell.",
        discussion: """
            The notice lists each leaked secret (redacted, never in full, whatever --show-secrets does elsewhere) with \
            the versions that carry it, whether the newest release still does, how to revoke it, and the contacts \
            named in the release's own metadata. Findings triaged false-positive or test-data are left out. With \
            --all, one notice per affected project is written into the folder --output names.
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(help: "The project to write a notice for (any spelling: Flask_Login = flask-login).")
    var project: String?

    @Flag(help: "One notice per affected project, written into the folder --output names.")
    var all = false

    @Option(help: "Output format.")
    var format: DisclosureFormat = .markdown

    @Option(
        help: ArgumentHelp(
            "Write the notice to this file (mode 0600; - or none for standard output); with --all, the folder.",
            valueName: "path"))
    var output: String?

    func validate() throws {
        if all == (project != nil) { throw ValidationError("give either --project NAME or --all") }
        if all && (output ?? "-") == "-" {
            throw ValidationError("--all needs --output DIR, the folder for the notices")
        }
    }

    /// The statuses a notice covers: all but those saying the finding is no leak, and findings of rules no
    /// longer in the packs (retired: no current rule stands behind them).
    static let statuses = Set(TriageStatus.allCases).subtracting([.falsePositive, .testData, .retired])

    func run() throws {
        let store = try self.store.open()
        if let project {
            guard let notice = try Self.notice(project: project, store: store) else {
                printError("no findings to disclose for \(terminalSafe(project))")
                throw ExitCode(1)
            }
            try OutputFile.write(Data(try render(notice).utf8), to: output)
            return
        }
        let folder = output!
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var written = 0
        for project in try store.projectsWithFindings(statuses: Self.statuses) {
            guard let notice = try Self.notice(project: project, store: store) else { continue }
            let name = ReleasePath.normalize(project).map { $0 == "/" || $0 == "\\" ? "-" : $0 }
            try OutputFile.write(
                Data(try render(notice).utf8), to: folder + "/" + String(name) + "." + format.fileExtension)
            written += 1
        }
        printError("\(written) notice(s) written to \(terminalSafe(folder))")
    }

    func render(_ notice: DisclosureNotice) throws -> String {
        switch format {
        case .markdown:
            return notice.markdown()
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            return String(decoding: try encoder.encode(notice), as: UTF8.self) + "\n"
        }
    }

    /// The notice for `project`, or `nil` when it has no findings left once triaged ones are set aside.
    static func notice(project: String, store: Store) throws -> DisclosureNotice? {
        var query = FindingQuery(project: project)
        query.statuses = statuses
        let rows = try store.findings(query)
        guard let first = rows.first else { return nil }
        var timelines: [String: LeakTimeline] = [:]
        for fingerprint in Set(rows.map(\.fingerprint)) {
            timelines[fingerprint] = try store.timeline(fingerprint: fingerprint, project: project)
        }
        return DisclosureNotice(
            project: first.project, rows: rows, timelines: timelines,
            rules: try store.rules(ids: Set(rows.map(\.rule))),
            releases: try store.releaseContacts(project: project),
            generatedAt: ISO8601DateFormatter().string(from: Date()))
    }
}
