import Foundation
import Testing

/// `docs/man/shardscan.1` is generated from the command definitions (`swift package plugin generate-manual`,
/// README); this fails when a command or option was added or renamed without regenerating it.
@Suite struct ManPageTests {
    @Test func manPageNamesEveryCommandAndOption() throws {
        let page = try String(
            contentsOf: CLI.packageRoot.appendingPathComponent("docs/man/shardscan.1"), encoding: .utf8)
        let words = Set(page.split(whereSeparator: { $0.isWhitespace }).map(String.init))
        let tree = try DocsTests.commandTree()
        #expect(tree.count > 10)
        for (path, command) in tree {
            if let name = path.last {
                #expect(words.contains(name), "the man page has no subcommand \(path.joined(separator: " "))")
            }
            for option in command.shown where option.hasPrefix("--") && option != "--help" {
                // mdoc writes `--db` as `Fl -db`.
                let name = String(option.dropFirst())
                #expect(
                    page.contains("Fl \(name)") || page.contains("\\-\(name)"),
                    "the man page has no \(option) of `shardscan \(path.joined(separator: " "))`; regenerate it")
            }
        }
    }
}
