import Foundation
import Testing

/// The docs cannot drift from the binary: every command line they show names commands and options that exist,
/// and every repository file they name is there.
@Suite struct DocsTests {
    static let documents = ["README.md", "Rules/README.md"]

    /// The command tree, from the binary's own description of itself.
    struct Command {
        var path: [String]
        var options: Set<String>
        /// The options `--help` and the man page show (all but the hidden ones).
        var shown: Set<String> = []
        var subcommands: [String]
        /// The subcommand that runs when none is named (`triage` is `triage set`).
        var defaultSubcommand: String?
    }

    static func commandTree() throws -> [[String]: Command] {
        let dump = try CLI.run(["--experimental-dump-help"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let root = try #require(
            (try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])?["command"]
                as? [String: Any])
        var tree: [[String]: Command] = [:]
        func visit(_ node: [String: Any], path: [String]) {
            var options: Set<String> = ["--help", "-h"]
            var shown: Set<String> = []
            for argument in node["arguments"] as? [[String: Any]] ?? [] {
                for name in argument["names"] as? [[String: Any]] ?? [] {
                    guard let kind = name["kind"] as? String, let text = name["name"] as? String else { continue }
                    options.insert(kind == "short" ? "-" + text : "--" + text)
                    if argument["shouldDisplay"] as? Bool != false {
                        shown.insert(kind == "short" ? "-" + text : "--" + text)
                    }
                }
            }
            let children = node["subcommands"] as? [[String: Any]] ?? []
            let names = children.compactMap { $0["commandName"] as? String }
            tree[path] = Command(
                path: path, options: options, subcommands: names,
                defaultSubcommand: node["defaultSubcommand"] as? String)
            tree[path]?.shown = shown
            for child in children {
                if let name = child["commandName"] as? String { visit(child, path: path + [name]) }
            }
        }
        visit(root, path: [])
        return tree
    }

    static func text(_ document: String) throws -> String {
        // A shell line ending in `\` goes on on the next line.
        try String(contentsOf: CLI.packageRoot.appendingPathComponent(document), encoding: .utf8)
            .replacingOccurrences(of: "\\\n", with: " ")
    }

    static func options(in text: Substring) -> [String] {
        text.split(whereSeparator: { " []()|`,;=\"'".contains($0) }).map(String.init)
            .map { $0.hasSuffix("-") ? String($0.dropLast()) : $0 }
            .filter {
                $0.hasPrefix("--") && $0.dropFirst(2).first?.isLetter == true
                    && $0.dropFirst(2).allSatisfy { $0.isLetter || $0 == "-" }
            }
    }

    /// Every `shardscan sub command … --option` in the docs: the subcommands exist and take those options (after a
    /// lone `--`, the options of the scan that `mirror sync --scan` runs).
    @Test func everyDocumentedCommandLineExists() throws {
        let tree = try Self.commandTree()
        #expect(tree[["scan"]] != nil && tree[["mirror", "sync"]] != nil, "\(tree.keys)")
        var checked = 0
        for document in Self.documents {
            for line in try Self.text(document).split(separator: "\n") {
                for use in line.components(separatedBy: "shardscan ").dropFirst() {
                    // A pipeline or a `&&` starts another command.
                    let command = use.components(separatedBy: " | ").first!.components(separatedBy: " && ").first!
                    var words = command.split(separator: " ")[...]
                    var path: [String] = []
                    while let word = words.first, let node = tree[path], node.subcommands.contains(String(word)) {
                        path.append(String(word))
                        words = words.dropFirst()
                    }
                    // `shardscan` as a word in prose (`shardscan writes …`) names no command line.
                    guard !path.isEmpty || words.first?.hasPrefix("-") == true else { continue }
                    var node = try #require(tree[path])
                    if let name = node.defaultSubcommand, let child = tree[path + [name]] {
                        node.options.formUnion(child.options)
                    }
                    let rest = words.joined(separator: " ")
                    let parts = rest.components(separatedBy: " -- ")
                    for option in Self.options(in: Substring(parts[0])) {
                        #expect(
                            node.options.contains(option) || path.isEmpty,
                            "\(document): `shardscan \(path.joined(separator: " "))` has no \(option): \(line)")
                        checked += 1
                    }
                    if parts.count > 1, path == ["mirror", "sync"] {
                        for option in Self.options(in: Substring(parts[1])) {
                            #expect(tree[["scan"]]!.options.contains(option), "\(document): scan has no \(option)")
                            checked += 1
                        }
                    }
                }
            }
        }
        #expect(checked > 30)
    }

    /// Every `--option` the docs mention anywhere, in prose too, is an option of some command.
    @Test func everyDocumentedOptionExists() throws {
        let all = try Self.commandTree().values.reduce(into: Set<String>()) { $0.formUnion($1.options) }
        let builtIn: Set<String> = ["--version", "--generate-completion-script", "--experimental-dump-help"]
        // pip's `--hash=sha256:` in a lock file, which a rule's filter recognises; `sbatch --array` and
        // `--dependency` of the Slurm jobs.
        let otherTools: Set<String> = ["--hash", "--array", "--dependency"]
        for document in Self.documents {
            let text = try Self.text(document)
            // Spans of shell that runs other tools (`git fetch --depth`, `swift build -c`) are not shardscan's.
            for line in text.split(separator: "\n")
            where !line.contains("swift ") && !line.contains("git ") && !line.contains("scripts/") {
                for option in Self.options(in: line) where !builtIn.contains(option) && !otherTools.contains(option) {
                    #expect(all.contains(option), "\(document): no command takes \(option): \(line)")
                }
            }
        }
    }

    /// Every repository file or folder the docs name in backticks exists: paths from the top of the repository,
    /// and bare file names somewhere in it.
    @Test func everyDocumentedFileExists() throws {
        let root = CLI.packageRoot
        let fileManager = FileManager.default
        let topLevel = Set(try fileManager.contentsOfDirectory(atPath: root.path).filter { !$0.hasPrefix(".") })
        var names = Set<String>()
        let walker = fileManager.enumerator(atPath: root.path)
        while let path = walker?.nextObject() as? String {
            if path.hasPrefix(".build") || path.hasPrefix(".git") || path.contains("/.build") {
                walker?.skipDescendants()
                continue
            }
            names.insert((path as NSString).lastPathComponent)
        }
        var checked = 0
        for document in Self.documents {
            let spans = try Self.text(document).components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }
            for span in spans.map(\.element) {
                guard !span.contains(where: { " <>*:~$…()".contains($0) }), !span.hasPrefix("-"),
                    !span.hasPrefix("/"), !span.hasPrefix("..")
                else { continue }
                let path = span.hasPrefix("./") ? String(span.dropFirst(2)) : span
                let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
                let components = trimmed.split(separator: "/").map(String.init)
                if components.count > 1 || path.hasSuffix("/") {
                    guard let first = components.first, topLevel.contains(first) else {
                        // A folder named by itself (`secrets/`) is one in the repository somewhere.
                        if components.count == 1 { #expect(names.contains(trimmed), "\(document): no \(span)") }
                        continue
                    }
                    #expect(
                        fileManager.fileExists(atPath: root.appendingPathComponent(trimmed).path),
                        "\(document): no \(span)")
                    checked += 1
                } else if let dot = trimmed.lastIndex(of: "."),
                    ["yaml", "yml", "md", "sh", "swift"].contains(trimmed[trimmed.index(after: dot)...])
                {
                    #expect(names.contains(trimmed), "\(document): no file named \(span) in the repository")
                    checked += 1
                }
            }
        }
        #expect(checked > 10)
    }
}
