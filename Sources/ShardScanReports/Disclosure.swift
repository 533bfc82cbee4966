import Foundation
import ShardScanCore
import ShardScanStore

/// A disclosure notice for one project (`shardscan disclose`): what leaked, where, since when, whether the newest
/// release still has it, what to do and whom to tell. It never holds a secret: values are always redacted and
/// snippets left out, whatever the caller asks elsewhere.
public struct DisclosureNotice: Encodable, Sendable, Equatable {
    public struct Leak: Encodable, Sendable, Equatable {
        public var rule: String
        public var name: String
        public var kind: RuleKind
        public var severity: Severity
        public var fingerprint: String
        /// Redacted (a prefix and `…`), never the secret.
        public var secret: String
        public var facts: [String: String]
        public var status: TriageStatus
        public var firstVersion: String?
        public var firstUploadedAt: String?
        public var lastVersion: String?
        public var versions: [String]
        public var stillInLatest: Bool
        public var projectsWithSameSecret: Int
        public var places: [Place]
        /// Where to revoke or rotate it: the rule's references.
        public var references: [String]
        public var actions: [String]
    }

    public struct Place: Encodable, Sendable, Equatable, Hashable {
        public var version: String
        public var release: String
        public var path: String
        public var line: Int
    }

    public struct Contacts: Encodable, Sendable, Equatable {
        public var names: [String] = []
        public var emails: [String] = []
        public var urls: [String] = []
        /// The release whose metadata the contacts were read from, or `nil` when none had any.
        public var fromRelease: String?
    }

    public var project: String
    public var generatedAt: String
    public var latestVersion: String?
    public var leaks: [Leak]
    public var contacts: Contacts

    /// Builds the notice from `rows` (one project's findings, any redaction: the notice redacts again), the
    /// timelines by fingerprint, the rules by id and the project's releases (newest first).
    public init(
        project: String, rows: [FindingRow], timelines: [String: LeakTimeline], rules: [String: RuleRecord],
        releases: [ReleaseContact], generatedAt: String
    ) {
        self.project = project
        self.generatedAt = generatedAt
        latestVersion = timelines.values.compactMap(\.latestVersion).first
        var byFingerprint: [String: [FindingRow]] = [:]
        for row in rows { byFingerprint[row.fingerprint, default: []].append(row) }
        leaks = byFingerprint.map { fingerprint, rows in
            let first = rows[0].presented(showSecrets: false)
            let rule = rules[first.rule] ?? RuleRecord.unknown(first.rule)
            let timeline = timelines[fingerprint]
            let places = Set(rows.map { Place(version: $0.version, release: $0.release, path: $0.path, line: $0.line) })
            let order = Dictionary(
                (timeline?.versions ?? []).enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            return Leak(
                rule: first.rule, name: rule.name, kind: first.kind, severity: rule.severity, fingerprint: fingerprint,
                secret: redact(rows[0].secret),
                facts: first.facts, status: first.status, firstVersion: timeline?.firstVersion,
                firstUploadedAt: timeline?.uploadedAt.first ?? nil, lastVersion: timeline?.lastVersion,
                versions: timeline?.versions ?? [], stillInLatest: timeline?.stillInLatest ?? false,
                projectsWithSameSecret: timeline?.otherProjects.count ?? 0,
                places: places.sorted {
                    (order[$0.version] ?? Int.max, $0.release, $0.path, $0.line)
                        < (order[$1.version] ?? Int.max, $1.release, $1.path, $1.line)
                },
                references: rule.references,
                actions: Self.actions(
                    rule: first.rule, kind: first.kind, references: rule.references,
                    timeline: timeline))
        }
        .sorted { ($0.severity, $1.fingerprint) > ($1.severity, $0.fingerprint) }
        contacts = Self.contacts(releases)
    }

    /// What the maintainer should do about one leak.
    static func actions(rule: String, kind: RuleKind, references: [String], timeline: LeakTimeline?) -> [String] {
        var actions: [String] = []
        if kind == .secret {
            if rule.hasPrefix("pypi.") {
                actions.append(
                    "Revoke the token in your PyPI account settings (https://pypi.org/manage/account/token/) and "
                        + "create a new one; check the account's security history for uploads you did not make.")
            }
            if let page = references.first {
                actions.append("Rotate the credential with its provider: \(page)")
            } else {
                actions.append("Rotate the credential with its provider.")
            }
            actions.append("Treat it as compromised even once removed: published files stay downloadable and mirrored.")
        } else {
            actions.append("Review the flagged content and remove it if it is not intended.")
        }
        let versions = timeline?.versions ?? []
        if !versions.isEmpty {
            actions.append(
                "Yank or delete the affected release(s) on PyPI: \(versions.map { "`\(code($0))`" }.joined(separator: ", "))."
            )
        }
        if timeline?.stillInLatest == true {
            actions.append("Publish a new release without it: the newest release still carries it.")
        }
        return actions
    }

    /// Names, emails and URLs from the newest release with metadata (Author, Maintainer, their emails, Home-page
    /// and Project-URL), without repeats.
    static func contacts(_ releases: [ReleaseContact]) -> Contacts {
        var contacts = Contacts()
        guard let release = releases.first(where: { $0.metadata != nil }), let metadata = release.metadata else {
            return contacts
        }
        contacts.fromRelease = release.filename
        func add(_ value: String?, to list: inout [String]) {
            guard let value, !value.isEmpty, !list.contains(value) else { return }
            list.append(value)
        }
        add(metadata.author, to: &contacts.names)
        add(metadata.maintainer, to: &contacts.names)
        for field in [metadata.authorEmail, metadata.maintainerEmail] {
            for email in (field ?? "").split(separator: ",") {
                add(email.trimmingCharacters(in: .whitespaces), to: &contacts.emails)
            }
        }
        add(metadata.homePage, to: &contacts.urls)
        for entry in metadata.projectURLs {
            // `Label, https://…`: the URL is after the first comma.
            let url = entry.split(separator: ",", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
            add(url, to: &contacts.urls)
        }
        return contacts
    }

    /// The notice as Markdown, for an email or an issue. Every value from the mirror is put in code spans or
    /// escaped, so that a project's metadata cannot inject links or markup.
    public func markdown() -> String {
        var out = "# Leaked credentials in `\(Self.code(project))`\n\n"
        out += "shardscan found \(leaks.count) leaked secret(s) in published releases of this project"
        out += latestVersion.map { " (newest release seen: `\(Self.code($0))`)" } ?? ""
        out += ". Values below are redacted; the secrets themselves are not repeated here.\n\n"
        for (index, leak) in leaks.enumerated() {
            out += "## \(index + 1). \(Self.text(leak.name)) (`\(Self.code(leak.rule))`, \(leak.severity.rawValue))\n\n"
            out += "- **What**: `\(Self.code(leak.secret))` (fingerprint `\(leak.fingerprint.prefix(12))`)\n"
            if !leak.facts.isEmpty {
                // What the secret can do first (a PyPI token's index, scope and projects), identifiers after.
                let first = ["valid", "index", "scope", "projects", "expires"]
                let keys =
                    first.filter { leak.facts[$0] != nil } + leak.facts.keys.filter { !first.contains($0) }.sorted()
                let facts = keys.map { "\($0)=\(leak.facts[$0]!)" }
                out += "- **Facts**: `\(Self.code(facts.joined(separator: " ")))`\n"
            }
            if let first = leak.firstVersion {
                out += "- **Since**: version `\(Self.code(first))`"
                out += leak.firstUploadedAt.map { ", uploaded \($0)" } ?? ""
                out += "\n"
            }
            out += "- **Versions**: \(leak.versions.map { "`\(Self.code($0))`" }.joined(separator: ", "))\n"
            out += "- **In the newest release**: \(leak.stillInLatest ? "yes, still there" : "no, removed")\n"
            if leak.projectsWithSameSecret > 0 {
                out += "- **Also in**: \(leak.projectsWithSameSecret) other project(s)\n"
            }
            out += "- **Where**:\n"
            for place in leak.places {
                out += "  - `\(Self.code(place.release))`: `\(Self.code(place.path))` line \(place.line)\n"
            }
            out += "\n**What to do**\n\n"
            // Actions are the tool's own sentences, rule references and versions already in code spans.
            for action in leak.actions { out += "1. \(TerminalText.escaped(action))\n" }
            out += "\n"
        }
        out += "## Contact\n\n"
        if contacts.names.isEmpty && contacts.emails.isEmpty && contacts.urls.isEmpty {
            out += "No release metadata names a contact; reach the project through its PyPI page.\n"
        } else {
            if let release = contacts.fromRelease { out += "From the metadata of `\(Self.code(release))`:\n\n" }
            for name in contacts.names { out += "- Name: \(Self.text(name))\n" }
            for email in contacts.emails { out += "- Email: `\(Self.code(email))`\n" }
            for url in contacts.urls { out += "- URL: `\(Self.code(url))`\n" }
        }
        out += "\n_Generated by shardscan at \(generatedAt)._\n"
        return out
    }

    /// Text safe inside a Markdown code span: no backticks or line breaks, no terminal controls.
    static func code(_ text: String) -> String {
        TerminalText.escaped(text).replacingOccurrences(of: "`", with: "'")
    }

    /// Text safe as plain Markdown: markup characters escaped.
    static func text(_ text: String) -> String {
        var out = ""
        for character in TerminalText.escaped(text) {
            if "\\`*_[]()<>#!|".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
