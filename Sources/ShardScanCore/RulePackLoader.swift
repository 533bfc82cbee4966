import Foundation
import Yams

/// The rules read from one or more rule packs, and the problems found on the way.
public struct LoadedRules: Sendable {
    public var rules: [Rule]
    public var diagnostics: [RuleDiagnostic]
    /// The pack files read, in order.
    public var files: [String]

    public var errors: [RuleDiagnostic] { diagnostics.filter { $0.level == .error } }

    public init(rules: [Rule], diagnostics: [RuleDiagnostic], files: [String]) {
        self.rules = rules
        self.diagnostics = diagnostics
        self.files = files
    }

    /// The rules of one pack given as text.
    public init(yaml: String, file: String) {
        let (rules, diagnostics) = RulePackLoader.parse(yaml, file: file)
        self.init(rules: rules, diagnostics: diagnostics, files: [file])
    }
}

/// Reads YAML rule packs. A broken file or rule is reported and skipped; the rest still load.
public enum RulePackLoader {
    /// Loads every `*.yaml`/`*.yml` file under each of `paths` (files or folders), in path order.
    /// Duplicate ids across files are errors; the first definition is kept.
    public static func load(paths: [String]) -> LoadedRules {
        var result = LoadedRules(rules: [], diagnostics: [], files: [])
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                result.diagnostics.append(
                    RuleDiagnostic(.error, SourceLocation(file: path, line: 0), "no such file or folder"))
                continue
            }
            result.files += isDirectory.boolValue ? packFiles(under: path) : [path]
        }
        var firstDefinition: [String: SourceLocation] = [:]
        for file in result.files {
            let (rules, diagnostics) = loadFile(file)
            result.diagnostics += diagnostics
            for rule in rules {
                if let first = firstDefinition[rule.id] {
                    result.diagnostics.append(
                        RuleDiagnostic(.error, rule.source, rule: rule.id, "duplicate id, first defined at \(first)"))
                    continue
                }
                firstDefinition[rule.id] = rule.source
                result.rules.append(rule)
            }
        }
        return result
    }

    /// The pack files below `folder`, sorted so that load order (and the rules digest) is stable.
    static func packFiles(under folder: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") {
                files.append((folder as NSString).appendingPathComponent(relative))
            }
        }
        return files.sorted()
    }

    /// Loads one pack file.
    public static func loadFile(_ file: String) -> (rules: [Rule], diagnostics: [RuleDiagnostic]) {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let decoded = String(data: data, encoding: .utf8) else {
                return ([], [RuleDiagnostic(.error, SourceLocation(file: file, line: 0), "not UTF-8 text")])
            }
            text = decoded
        } catch {
            return ([], [RuleDiagnostic(.error, SourceLocation(file: file, line: 0), "cannot read: \(error)")])
        }
        return parse(text, file: file)
    }

    /// Parses the text of one pack; `file` names it in diagnostics.
    public static func parse(_ text: String, file: String) -> (rules: [Rule], diagnostics: [RuleDiagnostic]) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            return ([], [yamlDiagnostic(error, file: file)])
        } catch {
            return ([], [RuleDiagnostic(.error, SourceLocation(file: file, line: 0), "YAML: \(error)")])
        }
        let fileStart = SourceLocation(file: file, line: 1)
        guard let root else {
            return ([], [RuleDiagnostic(.warning, fileStart, "empty rule pack")])
        }
        guard let mapping = root.mapping else {
            return ([], [RuleDiagnostic(.error, location(root, file), "a rule pack is a mapping with a `rules:` list")])
        }
        var diagnostics: [RuleDiagnostic] = []
        var rulesNode: Node?
        for (key, value) in mapping {
            if key.string == "rules" {
                rulesNode = value
            } else {
                diagnostics.append(
                    RuleDiagnostic(.error, location(key, file), "unknown top-level key `\(key.string ?? "?")`"))
            }
        }
        guard let rulesNode, let sequence = rulesNode.sequence else {
            diagnostics.append(RuleDiagnostic(.error, location(root, file), "missing `rules:` list"))
            return ([], diagnostics)
        }
        var rules: [Rule] = []
        for node in sequence {
            var reader = RuleReader(node: node, file: file)
            if let rule = reader.read() { rules.append(rule) }
            diagnostics += reader.diagnostics
        }
        return (rules, diagnostics)
    }

    static func location(_ node: Node, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 0)
    }

    static func yamlDiagnostic(_ error: YamlError, file: String) -> RuleDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\($0.text) " } ?? ""
            return RuleDiagnostic(
                .error, SourceLocation(file: file, line: mark.line),
                "YAML syntax error: \(detail)\(problem) (column \(mark.column))")
        default:
            return RuleDiagnostic(.error, SourceLocation(file: file, line: 0), "YAML error: \(error)")
        }
    }
}

/// Reads one rule mapping, collecting every problem rather than stopping at the first.
private struct RuleReader {
    let node: Node
    let file: String
    var diagnostics: [RuleDiagnostic] = []
    var ruleID: String?

    static let knownKeys: Set<String> = [
        "id", "name", "pattern", "min_entropy", "keywords", "stopwords", "severity", "confidence", "categories",
        "description", "references", "paths", "examples", "negative_examples",
    ]

    init(node: Node, file: String) {
        self.node = node
        self.file = file
    }

    mutating func read() -> Rule? {
        let start = RulePackLoader.location(node, file)
        guard let mapping = node.mapping else {
            error(start, "a rule is a mapping of fields")
            return nil
        }
        var fields: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else {
                error(RulePackLoader.location(key, file), "field names are strings")
                continue
            }
            fields[name] = value
            if name == "id" { ruleID = value.string }
        }
        for (key, _) in mapping {
            if let name = key.string, !Self.knownKeys.contains(name) {
                error(RulePackLoader.location(key, file), "unknown field `\(name)`")
            }
        }
        let errorsBefore = diagnostics.count

        let id = requiredString("id", fields, start) ?? ""
        if !id.isEmpty && !Rule.isValidID(id) {
            error(
                location(fields["id"]!), "bad id `\(id)`: use dot-separated lower-case parts like `pypi.upload-token`")
        }
        let name = requiredString("name", fields, start) ?? ""
        let pattern = requiredString("pattern", fields, start) ?? ""
        var minEntropy: Double?
        if let node = fields["min_entropy"] {
            if let value = node.scalar.flatMap({ Double($0.string) }), (0...8).contains(value) {
                minEntropy = value
            } else {
                error(location(node), "`min_entropy` is a number of bits per byte from 0 to 8")
            }
        }
        let severity = enumField("severity", fields, default: Severity.high)
        let confidence = enumField("confidence", fields, default: Confidence.medium)
        let keywords = stringList("keywords", fields)
        if keywords.contains(where: \.isEmpty) { error(location(fields["keywords"]!), "empty keyword") }
        let stopwords = stringList("stopwords", fields)
        let paths = pathFilter(fields["paths"])
        let examples = exampleList("examples", fields)
        let negatives = exampleList("negative_examples", fields)

        guard diagnostics.count == errorsBefore, !id.isEmpty else { return nil }
        return Rule(
            id: id, name: name, pattern: pattern, minEntropy: minEntropy, keywords: keywords, stopwords: stopwords,
            severity: severity, confidence: confidence, categories: stringList("categories", fields),
            description: optionalString("description", fields) ?? "", references: stringList("references", fields),
            paths: paths, examples: examples, negativeExamples: negatives, source: start,
            patternLine: fields["pattern"].map(location)?.line)
    }

    func location(_ node: Node) -> SourceLocation { RulePackLoader.location(node, file) }

    mutating func error(_ at: SourceLocation, _ message: String) {
        diagnostics.append(RuleDiagnostic(.error, at, rule: ruleID, message))
    }

    mutating func requiredString(_ key: String, _ fields: [String: Node], _ start: SourceLocation) -> String? {
        guard let node = fields[key] else {
            error(start, "missing `\(key)`")
            return nil
        }
        guard let value = node.scalar?.string, !value.isEmpty else {
            error(location(node), "`\(key)` is a non-empty string")
            return nil
        }
        return value
    }

    mutating func optionalString(_ key: String, _ fields: [String: Node]) -> String? {
        guard let node = fields[key] else { return nil }
        guard let value = node.scalar?.string else {
            error(location(node), "`\(key)` is a string")
            return nil
        }
        return value
    }

    mutating func stringList(_ key: String, _ fields: [String: Node]) -> [String] {
        guard let node = fields[key] else { return [] }
        guard let sequence = node.sequence else {
            error(location(node), "`\(key)` is a list of strings")
            return []
        }
        var values: [String] = []
        for item in sequence {
            guard let value = item.scalar?.string else {
                error(location(item), "`\(key)` holds strings only")
                continue
            }
            values.append(value)
        }
        return values
    }

    mutating func enumField<Value: RawRepresentable & CaseIterable>(
        _ key: String, _ fields: [String: Node], default: Value
    ) -> Value where Value.RawValue == String {
        guard let node = fields[key] else { return `default` }
        guard let raw = node.scalar?.string, let value = Value(rawValue: raw) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: ", ")
            error(location(node), "`\(key)` is one of: \(allowed)")
            return `default`
        }
        return value
    }

    mutating func pathFilter(_ node: Node?) -> PathFilter {
        guard let node else { return PathFilter() }
        guard let mapping = node.mapping else {
            error(location(node), "`paths` is a mapping with `include` and/or `exclude` lists")
            return PathFilter()
        }
        var fields: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string, name == "include" || name == "exclude" else {
                error(location(key), "`paths` takes `include` and `exclude` only")
                continue
            }
            fields[name] = value
        }
        return PathFilter(
            include: stringList("include", fields).map(Glob.init), exclude: stringList("exclude", fields).map(Glob.init)
        )
    }

    mutating func exampleList(_ key: String, _ fields: [String: Node]) -> [RuleExample] {
        guard let node = fields[key] else { return [] }
        guard let sequence = node.sequence else {
            error(location(node), "`\(key)` is a list")
            return []
        }
        var examples: [RuleExample] = []
        for item in sequence {
            let line = item.mark?.line ?? 0
            if let text = item.scalar?.string {
                examples.append(RuleExample(text: text, line: line))
            } else if let mapping = item.mapping {
                var text: String?
                var path: String?
                for (k, v) in mapping {
                    switch k.string {
                    case "text": text = v.scalar?.string
                    case "path": path = v.scalar?.string
                    default: error(location(k), "an example mapping takes `text` and `path` only")
                    }
                }
                guard let text else {
                    error(location(item), "an example mapping needs `text`")
                    continue
                }
                examples.append(RuleExample(text: text, path: path, line: line))
            } else {
                error(location(item), "an example is a string or a mapping with `text` and `path`")
            }
        }
        return examples
    }
}
