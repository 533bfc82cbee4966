import Foundation
import Yams

/// The rules read from one or more rule packs, and the problems found on the way.
public struct LoadedRules: Sendable {
    public var rules: [Rule]
    public var diagnostics: [RuleDiagnostic]
    /// The pack files read, in order.
    public var files: [String]
    /// The `global:` sections of every pack, merged.
    public var global = GlobalFilters()

    public var errors: [RuleDiagnostic] { diagnostics.filter { $0.level == .error } }

    public init(rules: [Rule], diagnostics: [RuleDiagnostic], files: [String]) {
        self.rules = rules
        self.diagnostics = diagnostics
        self.files = files
    }

    /// The rules of one pack given as text.
    public init(yaml: String, file: String) {
        self = RulePackLoader.parse(yaml, file: file)
    }
}

/// Reads YAML rule packs. Every problem is reported with its file and line; a broken file or rule is left
/// out of ``LoadedRules/rules`` and reported as an error, which callers that scan must refuse to run with
/// (a rule left out silently would let watermarks move past blobs it never saw).
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
        for pack in result.files.concurrentMap(loadFile) {
            result.diagnostics += pack.diagnostics
            result.global += pack.global
            for rule in pack.rules {
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
    public static func loadFile(_ file: String) -> LoadedRules {
        func failure(_ message: String) -> LoadedRules {
            LoadedRules(
                rules: [], diagnostics: [RuleDiagnostic(.error, SourceLocation(file: file, line: 0), message)],
                files: [file])
        }
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let decoded = String(data: data, encoding: .utf8) else { return failure("not UTF-8 text") }
            text = decoded
        } catch {
            return failure("cannot read: \(error)")
        }
        return parse(text, file: file)
    }

    /// Parses the text of one pack; `file` names it in diagnostics.
    public static func parse(_ text: String, file: String) -> LoadedRules {
        var pack = LoadedRules(rules: [], diagnostics: [], files: [file])
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            pack.diagnostics.append(yamlDiagnostic(error, file: file, text: text))
            return pack
        } catch {
            pack.diagnostics.append(RuleDiagnostic(.error, SourceLocation(file: file, line: 0), "YAML: \(error)"))
            return pack
        }
        guard let root else {
            pack.diagnostics.append(RuleDiagnostic(.warning, SourceLocation(file: file, line: 1), "empty rule pack"))
            return pack
        }
        guard let mapping = root.mapping else {
            pack.diagnostics.append(
                RuleDiagnostic(.error, location(root, file), "a rule pack is a mapping with a `rules:` list"))
            return pack
        }
        var rulesNode: Node?
        var globalNode: Node?
        for (key, value) in mapping {
            switch key.string {
            case "rules": rulesNode = value
            case "global": globalNode = value
            default:
                let name = key.string ?? "?"
                pack.diagnostics.append(
                    RuleDiagnostic(
                        .error, location(key, file),
                        "unknown top-level key `\(name)`" + didYouMean(name, among: ["rules", "global"])))
            }
        }
        if let globalNode {
            var reader = FieldReader(file: file)
            pack.global = reader.globalFilters(globalNode)
            pack.diagnostics += reader.diagnostics
        }
        if rulesNode == nil && globalNode != nil { return pack }
        guard let rulesNode, let sequence = rulesNode.sequence else {
            pack.diagnostics.append(RuleDiagnostic(.error, location(root, file), "missing `rules:` list"))
            return pack
        }
        for node in sequence {
            var reader = RuleReader(node: node, file: file)
            if let rule = reader.read() { pack.rules.append(rule) }
            pack.diagnostics += reader.fields.diagnostics
        }
        return pack
    }

    static func location(_ node: Node, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 0)
    }

    static func yamlDiagnostic(_ error: YamlError, file: String, text: String) -> RuleDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\($0.text) " } ?? ""
            return RuleDiagnostic(
                .error, SourceLocation(file: file, line: mark.line),
                "YAML syntax error: \(detail)\(problem) (column \(mark.column))")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams names the keys and marks the first one's first use; the line worth showing is the repeat.
            let key = duplicates.sorted().first ?? "?"
            let found = DuplicateKeyFinder(text: text, key: key, first: context.mark)
            return RuleDiagnostic(
                .error, SourceLocation(file: file, line: found.repeatLine ?? context.mark.line), rule: found.ruleID,
                "duplicate key `\(key)` (first at line \(context.mark.line)); a repeated key would silently replace the first"
            )
        default:
            return RuleDiagnostic(.error, SourceLocation(file: file, line: 0), "YAML error: \(error)")
        }
    }

    /// `"; did you mean `x`?"` naming the closest of `candidates` to a misspelt `name`, or `""` when none is
    /// close (at most two edits, and fewer than half the name).
    public static func didYouMean(_ name: String, among candidates: some Sequence<String>) -> String {
        let scored = candidates.map { (candidate: $0, distance: editDistance(name, $0)) }
        guard let best = scored.min(by: { ($0.distance, $0.candidate) < ($1.distance, $1.candidate) }),
            best.distance <= min(2, max(1, name.count / 2))
        else { return "" }
        return "; did you mean `\(best.candidate)`?"
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// Finds, in a pack's text, the repeat of a key that Yams reported once (its first use), and the `id:` of
/// the mapping holding it. Block-style packs only: a key's siblings start at the same column.
struct DuplicateKeyFinder {
    /// The 1-based line of the second use of the key, when found.
    var repeatLine: Int?
    /// The `id:` written at the key's column in the same mapping, when there is one.
    var ruleID: String?

    init(text: String, key: String, first: Mark) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let column = first.column - 1
        guard first.line >= 1, first.line <= lines.count, column >= 0 else { return }
        /// The text of `line` (0-based) at the key's column, when that column starts a key of this mapping.
        func entry(_ line: Int) -> Substring? {
            let characters = lines[line]
            guard characters.count > column else { return nil }
            let prefix = characters.prefix(column)
            // Siblings are indented to the column; the first key of a list item follows its `- `.
            guard prefix.allSatisfy({ $0 == " " }) || prefix.trimmingCharacters(in: .whitespaces) == "-" else {
                return nil
            }
            let rest = characters.dropFirst(column)
            return rest.first == " " ? nil : rest
        }
        /// Whether `line` still belongs to the mapping: blank, a comment, or indented past the column.
        func inside(_ line: Int) -> Bool {
            let characters = lines[line]
            let indent = characters.prefix { $0 == " " }.count
            let body = characters.dropFirst(indent)
            return body.isEmpty || body.hasPrefix("#") || indent > column || entry(line) != nil
        }
        func isKey(_ text: Substring, _ name: String) -> Bool {
            for form in [name, "\"\(name)\"", "'\(name)'"] where text.hasPrefix(form) {
                if text.dropFirst(form.count).drop(while: { $0 == " " }).hasPrefix(":") { return true }
            }
            return false
        }
        // The mapping runs from its list item's `- ` (or the first line less indented) to the next item or
        // the next line less indented.
        var start = first.line - 1
        while start > 0 && !lines[start].prefix(column).contains("-") && inside(start - 1) { start -= 1 }
        var end = first.line - 1
        while end + 1 < lines.count && inside(end + 1) && !lines[end + 1].prefix(column).contains("-") { end += 1 }
        for line in start...end {
            guard let text = entry(line) else { continue }
            if line > first.line - 1 && repeatLine == nil && isKey(text, key) { repeatLine = line + 1 }
            if ruleID == nil && isKey(text, "id") {
                let value = text.drop { $0 != ":" }.dropFirst().trimmingCharacters(in: .whitespaces)
                ruleID = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            }
        }
    }
}

/// The offline validators a rule may name in `validate:`.
public let knownValidators = Set(TokenValidator.allCases.map(\.rawValue))

/// Reads one rule mapping, collecting every problem rather than stopping at the first.
private struct RuleReader {
    let node: Node
    var fields: FieldReader

    static let knownKeys: Set<String> = [
        "id", "name", "kind", "pattern", "min_entropy", "keywords", "stopwords", "allow", "allow_context",
        "validate", "on_invalid", "severity", "confidence", "categories", "description", "references", "paths",
        "examples", "negative_examples", "view", "scope", "all", "any", "hyperscan",
    ]

    init(node: Node, file: String) {
        self.node = node
        self.fields = FieldReader(file: file)
    }

    mutating func read() -> Rule? {
        let start = fields.location(node)
        guard let mapping = node.mapping else {
            fields.error(start, "a rule is a mapping of fields")
            return nil
        }
        // A rule with any error (an unknown field too: `min_entrpy` would leave the rule without its
        // threshold) is not loaded.
        let errorsBefore = fields.diagnostics.count
        var values: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else {
                fields.error(fields.location(key), "field names are strings")
                continue
            }
            values[name] = value
            if name == "id" { fields.ruleID = value.string }
        }
        for (key, _) in mapping {
            if let name = key.string, !Self.knownKeys.contains(name) {
                fields.error(
                    fields.location(key),
                    "unknown field `\(name)`" + RulePackLoader.didYouMean(name, among: Self.knownKeys))
            }
        }

        let id = fields.requiredString("id", values, start) ?? ""
        if !id.isEmpty && !Rule.isValidID(id) {
            fields.error(
                fields.location(values["id"]!),
                "bad id `\(id)`: use dot-separated lower-case parts like `pypi.upload-token`")
        }
        let name = fields.requiredString("name", values, start) ?? ""
        let cooccurrence = fields.cooccurrence(values, start)
        var pattern = cooccurrence?.combinedPattern ?? ""
        if cooccurrence == nil {
            pattern = fields.requiredString("pattern", values, start) ?? ""
        } else if let node = values["pattern"] {
            fields.error(fields.location(node), "a rule has either `pattern` or `all`/`any` parts, not both")
        }
        let view = fields.enumField("view", values, default: RuleView.text)
        if cooccurrence != nil {
            // These filter one match's secret; a part's match is evidence, not a secret.
            for key in ["min_entropy", "stopwords", "allow", "allow_context", "validate"] {
                if let node = values[key] {
                    fields.error(fields.location(node), "`\(key)` does not apply to `all`/`any` rules")
                }
            }
        }
        var minEntropy: Double?
        if let node = values["min_entropy"] {
            if let value = node.scalar.flatMap({ Double($0.string) }), (0...8).contains(value) {
                minEntropy = value
            } else {
                fields.error(fields.location(node), "`min_entropy` is a number of bits per byte from 0 to 8")
            }
        }
        let kind = fields.enumField("kind", values, default: RuleKind.secret)
        let severity = fields.enumField("severity", values, default: Severity.high)
        let confidence = fields.enumField("confidence", values, default: Confidence.medium)
        let keywords = fields.stringList("keywords", values)
        if keywords.contains(where: \.isEmpty) { fields.error(fields.location(values["keywords"]!), "empty keyword") }
        let stopwords = fields.stringList("stopwords", values)
        let allow = fields.patternList("allow", values)
        let allowContext = fields.patternList("allow_context", values)
        let validator = fields.optionalString("validate", values)
        if let validator, !knownValidators.contains(validator) {
            let names = knownValidators.sorted().joined(separator: ", ")
            fields.error(fields.location(values["validate"]!), "unknown validator `\(validator)`; known: \(names)")
        }
        let onInvalid = fields.enumField("on_invalid", values, default: InvalidSecretAction.suppress)
        if values["on_invalid"] != nil && validator == nil {
            fields.error(fields.location(values["on_invalid"]!), "`on_invalid` needs `validate`")
        }
        let paths = fields.pathFilter(values["paths"])
        var hyperscan = true
        if let node = values["hyperscan"] {
            switch node.scalar?.string {
            case "true": hyperscan = true
            case "false": hyperscan = false
            default: fields.error(fields.location(node), "`hyperscan` is `true` or `false`")
            }
            // Out of Hyperscan, nothing else gates the rule: it would run PCRE2 over every blob.
            if !hyperscan && keywords.isEmpty && paths.include.isEmpty {
                fields.error(
                    fields.location(node),
                    "`hyperscan: false` needs `keywords` or `paths: include`, else PCRE2 runs on every file")
            }
        }
        let examples = fields.exampleList("examples", values)
        let negatives = fields.exampleList("negative_examples", values)

        guard fields.diagnostics.count == errorsBefore, !id.isEmpty else { return nil }
        var rule = Rule(
            id: id, name: name, pattern: pattern, minEntropy: minEntropy, keywords: keywords, stopwords: stopwords,
            allow: allow, allowContext: allowContext, kind: kind, validator: validator, onInvalid: onInvalid,
            severity: severity, confidence: confidence, categories: fields.stringList("categories", values),
            description: fields.optionalString("description", values) ?? "",
            references: fields.stringList("references", values), paths: paths, examples: examples,
            negativeExamples: negatives, source: start,
            patternLine: (values["pattern"] ?? values["all"] ?? values["any"]).map(fields.location)?.line)
        rule.view = view
        rule.cooccurrence = cooccurrence
        rule.hyperscan = hyperscan
        return rule
    }
}

/// Reads typed fields out of YAML nodes, collecting problems with their file and line.
private struct FieldReader {
    let file: String
    var diagnostics: [RuleDiagnostic] = []
    /// The rule being read, named in diagnostics.
    var ruleID: String?

    init(file: String) {
        self.file = file
    }

    func location(_ node: Node) -> SourceLocation { RulePackLoader.location(node, file) }

    mutating func error(_ at: SourceLocation, _ message: String) {
        diagnostics.append(RuleDiagnostic(.error, at, rule: ruleID, message))
    }

    /// A pack's `global:` section: `stopwords`, `allow` and `allow_context` for every secret rule.
    mutating func globalFilters(_ node: Node) -> GlobalFilters {
        guard let mapping = node.mapping else {
            error(location(node), "`global` is a mapping with `stopwords`, `allow` and/or `allow_context`")
            return GlobalFilters()
        }
        var values: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string, ["stopwords", "allow", "allow_context"].contains(name) else {
                error(location(key), "`global` takes `stopwords`, `allow` and `allow_context` only")
                continue
            }
            values[name] = value
        }
        return GlobalFilters(
            stopwords: stringList("stopwords", values), allow: patternList("allow", values),
            allowContext: patternList("allow_context", values))
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
        stringNodes(key, fields).map(\.value)
    }

    /// A list of pattern strings, each with the line it was written on.
    mutating func patternList(_ key: String, _ fields: [String: Node]) -> [AllowPattern] {
        stringNodes(key, fields).map { AllowPattern($0.value, source: $0.at) }
    }

    private mutating func stringNodes(_ key: String, _ fields: [String: Node]) -> [(value: String, at: SourceLocation)]
    {
        guard let node = fields[key] else { return [] }
        guard let sequence = node.sequence else {
            error(location(node), "`\(key)` is a list of strings")
            return []
        }
        var values: [(String, SourceLocation)] = []
        for item in sequence {
            guard let value = item.scalar?.string else {
                error(location(item), "`\(key)` holds strings only")
                continue
            }
            values.append((value, location(item)))
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

    /// The `all:`/`any:` parts and `scope:` of a co-occurrence rule; `nil` when it has neither list.
    mutating func cooccurrence(_ fields: [String: Node], _ start: SourceLocation) -> Cooccurrence? {
        guard fields["all"] != nil || fields["any"] != nil else {
            if let node = fields["scope"] { error(location(node), "`scope` needs `all` or `any` parts") }
            return nil
        }
        let scope = enumField("scope", fields, default: CooccurrenceScope.file)
        var names: Set<String> = []
        var parts: [String: [RulePart]] = [:]
        for key in ["all", "any"] {
            guard let node = fields[key] else { continue }
            guard let sequence = node.sequence, !sequence.isEmpty else {
                error(location(node), "`\(key)` is a non-empty list of patterns or `{name, pattern}` mappings")
                continue
            }
            for item in sequence {
                let at = location(item)
                var name: String?
                var pattern: String?
                var hyperscan = true
                if let text = item.scalar?.string {
                    pattern = text
                } else if let mapping = item.mapping {
                    for (k, v) in mapping {
                        switch k.string {
                        case "name": name = v.scalar?.string
                        case "pattern": pattern = v.scalar?.string
                        case "hyperscan":
                            switch v.scalar?.string {
                            case "true": hyperscan = true
                            case "false": hyperscan = false
                            default: error(location(v), "`hyperscan` is `true` or `false`")
                            }
                        default:
                            error(location(k), "a part takes `name`, `pattern` and `hyperscan` only")
                        }
                    }
                }
                guard let pattern, !pattern.isEmpty else {
                    error(at, "a part of `\(key)` is a pattern or a mapping with a non-empty `pattern`")
                    continue
                }
                let partName = name ?? "part\(names.count + 1)"
                if !Rule.isValidPartName(partName) {
                    error(at, "bad part name `\(partName)`: use lower-case letters, digits and `_`")
                } else if !names.insert(partName).inserted {
                    error(at, "duplicate part name `\(partName)`")
                }
                // Parts are joined into one alternation for the prefilter; a named group would clash.
                if pattern.contains("(?<") && pattern.range(of: #"\(\?<[A-Za-z_]"#, options: .regularExpression) != nil
                    || pattern.contains("(?P<") || pattern.contains("(?'")
                {
                    error(
                        at,
                        "part `\(partName)`: named groups are not allowed in parts (the whole match is the evidence)")
                }
                parts[key, default: []].append(
                    RulePart(name: partName, pattern: pattern, line: at.line, hyperscan: hyperscan))
            }
        }
        // The rule runs only where Hyperscan saw its `all` parts: one of them must be there to see.
        let all = parts["all"] ?? []
        if let kept = (all + (parts["any"] ?? [])).first(where: { !$0.hyperscan }), !all.contains(where: \.hyperscan) {
            error(
                SourceLocation(file: file, line: kept.line),
                "part `\(kept.name)`: `hyperscan: false` needs an `all` part that stays in Hyperscan, to gate the rule")
        }
        return Cooccurrence(scope: scope, all: parts["all"] ?? [], any: parts["any"] ?? [])
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
