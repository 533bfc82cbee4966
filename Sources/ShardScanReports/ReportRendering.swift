import Foundation

/// The formats a report renders as.
public enum ReportFormat: String, Sendable, CaseIterable {
    case sarif, json, jsonl
}

/// A report rendered as files: one for JSON and JSON Lines, one or more for SARIF (GitHub's limits), with what
/// had to be cut or split to make them acceptable.
public struct RenderedReport: Sendable {
    public var files: [Data]
    public var notes: [String]
}

extension ReportInput {
    /// Renders the report as `format`; secrets are redacted unless `showSecrets`. The one place that picks a
    /// renderer, so every command writes the same bytes for the same selection.
    public func render(as format: ReportFormat, toolVersion: String, showSecrets: Bool) throws -> RenderedReport {
        switch format {
        case .json:
            RenderedReport(
                files: [try JSONReport.render(self, toolVersion: toolVersion, showSecrets: showSecrets)], notes: [])
        case .jsonl:
            RenderedReport(files: [try JSONReport.renderLines(self, showSecrets: showSecrets)], notes: [])
        case .sarif:
            try {
                let files = try SARIFReport.render(self, toolVersion: toolVersion, showSecrets: showSecrets)
                return RenderedReport(files: files.map(\.data), notes: Array(Set(files.flatMap(\.notes))).sorted())
            }()
        }
    }
}
