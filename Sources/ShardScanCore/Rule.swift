/// A detection rule as written in a YAML rule pack (see `Rules/README.md`).
public struct Rule: Sendable, Equatable {
    /// Stable, unique id such as `pypi.upload-token`.
    public var id: String
    public var name: String
    /// PCRE2 pattern text.
    public var pattern: String
    /// Minimum Shannon entropy of the secret, in bits per byte.
    public var minEntropy: Double?
    /// Lower-cased literals; when not empty, one must occur near a match.
    public var keywords: [String]
    /// Lower-cased substrings that mark a secret as a placeholder.
    public var stopwords: [String]
    /// PCRE2 patterns; a secret one of them finds something in is not a finding.
    public var allow: [AllowPattern]
    /// PCRE2 patterns searched in the secret's line (up to ``Rule/contextReach`` bytes either side of it);
    /// a hit means the value is not a credential (a lock-file hash, a data URI, an environment lookup).
    public var allowContext: [AllowPattern]
    /// What the rule looks for: credentials, or content worth a reviewer's eye.
    public var kind: RuleKind
    /// The offline check a secret must pass (`github-checksum`, `pypi-macaroon`, …), if any.
    public var validator: String?
    /// What happens to a secret that fails ``validator``.
    public var onInvalid: InvalidSecretAction
    public var severity: Severity
    public var confidence: Confidence
    public var categories: [String]
    public var description: String
    public var references: [String]
    public var paths: PathFilter
    public var examples: [RuleExample]
    public var negativeExamples: [RuleExample]
    /// Where the rule was written.
    public var source: SourceLocation
    /// The line of the `pattern` field, for compile errors.
    public var patternLine: Int
    /// The text the rule reads: the file as stored, or Python source as logical statements.
    public var view: RuleView = .text
    /// For a rule written with `all:`/`any:`: its parts and the scope they must share. Its ``pattern`` is
    /// then the alternation of the parts, which the prefilter gates on.
    public var cooccurrence: Cooccurrence?
    /// `false` keeps the pattern out of the Hyperscan database: the rule then runs PCRE2 on every file its
    /// `paths` admit that holds one of its keywords. For a pattern with no literal to anchor on (a run of
    /// blanks), whose prefilter form would cost the shared pass more than PCRE2 costs on those files.
    /// It changes what the scan costs, never what it finds, so it is no part of the rule's digest.
    public var hyperscan = true

    public init(
        id: String, name: String, pattern: String, minEntropy: Double? = nil, keywords: [String] = [],
        stopwords: [String] = [], allow: [AllowPattern] = [], allowContext: [AllowPattern] = [],
        kind: RuleKind = .secret, validator: String? = nil, onInvalid: InvalidSecretAction = .suppress,
        severity: Severity = .high, confidence: Confidence = .medium,
        categories: [String] = [], description: String = "", references: [String] = [],
        paths: PathFilter = PathFilter(), examples: [RuleExample] = [], negativeExamples: [RuleExample] = [],
        source: SourceLocation = SourceLocation(file: "<memory>", line: 1), patternLine: Int? = nil
    ) {
        self.id = id
        self.name = name
        self.pattern = pattern
        self.minEntropy = minEntropy
        // Only ASCII letters are folded, as the prefilter matches keywords (Hyperscan's caseless mode, or a search of
        // the ASCII-lowercased text): `lowercased()` turned a keyword `А` (Cyrillic) into `а`, which then never
        // matched the `А` of a file.
        self.keywords = keywords.map { keyword in
            var keyword = keyword
            return keyword.withUTF8 { String(decoding: asciiLowercased(UnsafeRawBufferPointer($0)), as: UTF8.self) }
        }
        self.stopwords = stopwords.map { $0.lowercased() }
        self.allow = allow
        self.allowContext = allowContext
        self.kind = kind
        self.validator = validator
        self.onInvalid = onInvalid
        self.severity = severity
        self.confidence = confidence
        self.categories = categories
        self.description = description
        self.references = references
        self.paths = paths
        self.examples = examples
        self.negativeExamples = negativeExamples
        self.source = source
        self.patternLine = patternLine ?? source.line
    }

    /// Whether `id` has the form rule ids must have: at least two dot-separated parts of `[a-z0-9-]`,
    /// each starting with a letter or digit.
    public static func isValidID(_ id: String) -> Bool {
        let parts = id.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, id.utf8.count <= 100 else { return false }
        return parts.allSatisfy { part in
            guard let first = part.utf8.first, first != UInt8(ascii: "-") else { return false }
            return part.utf8.allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                    || c == UInt8(ascii: "-")
            }
        }
    }
}

/// The text a rule is matched against.
public enum RuleView: String, Sendable, CaseIterable, Codable {
    /// The file as stored (after any transcoding or JSON unescaping).
    case text
    /// Python source as logical statements: a statement continued over lines (inside brackets, or after a
    /// trailing backslash) is joined into one line, comments are dropped, strings are kept as written.
    /// Files that are not Python source are read as stored.
    case statements
}

/// Where all parts of a co-occurrence rule must be found.
public enum CooccurrenceScope: String, Sendable, CaseIterable, Codable {
    /// One logical statement (one line in the `text` view).
    case statement
    /// One function body (`def` to the next line indented no deeper than it); code outside any function
    /// counts as one more scope.
    case function
    /// Anywhere in the file.
    case file
}

/// One pattern of a co-occurrence rule.
public struct RulePart: Sendable, Equatable {
    /// Names the part in findings (`download`, `chmod`, `exec`).
    public var name: String
    public var pattern: String
    /// Where the part was written.
    public var line: Int
    /// `false` keeps the part out of the Hyperscan database (see ``Rule/hyperscan``): it is then searched in
    /// the whole file wherever the rule's other parts let the rule run.
    public var hyperscan: Bool

    public init(name: String, pattern: String, line: Int = 0, hyperscan: Bool = true) {
        self.name = name
        self.pattern = pattern
        self.line = line
        self.hyperscan = hyperscan
    }
}

/// Patterns that only mean something together: every `all` part, and at least one `any` part when there
/// are some, found within one ``scope``.
public struct Cooccurrence: Sendable, Equatable {
    public var scope: CooccurrenceScope
    public var all: [RulePart]
    public var any: [RulePart]

    public init(scope: CooccurrenceScope, all: [RulePart], any: [RulePart]) {
        self.scope = scope
        self.all = all
        self.any = any
    }

    /// Every part, `all` ones first.
    public var parts: [RulePart] { all + any }

    /// The pattern the prefilter and `rules check` see: any part, the whole match as the evidence group.
    public var combinedPattern: String {
        "(?<secret>" + parts.map { "(?:\($0.pattern))" }.joined(separator: "|") + ")"
    }
}

extension Rule {
    /// Whether `name` may name a co-occurrence part: `[a-z0-9_]`, starting with a letter, at most 40.
    public static func isValidPartName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z"),
            name.utf8.count <= 40
        else { return false }
        return name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: "_")
        }
    }

    /// Bytes either side of a secret, within its line, that ``allowContext`` patterns see.
    public static let contextReach = 256
}

/// What a rule looks for.
public enum RuleKind: String, Sendable, CaseIterable, Codable {
    /// Credentials: reported redacted unless the user asks.
    case secret
    /// Code worth a reviewer's eye (obfuscated execution, install-time network calls): reported as found.
    case content
}

/// What happens to a secret that fails its rule's offline validator.
public enum InvalidSecretAction: String, Sendable, CaseIterable, Codable {
    /// No finding: a failed checksum means a made-up or mistyped value.
    case suppress
    /// A finding of low confidence, with the failed check among its facts.
    case lowerConfidence = "lower-confidence"
}

/// An allow-list pattern as written, with where it was written.
public struct AllowPattern: Sendable, Equatable {
    public var pattern: String
    public var source: SourceLocation

    public init(_ pattern: String, source: SourceLocation = SourceLocation(file: "<memory>", line: 1)) {
        self.pattern = pattern
        self.source = source
    }
}

/// Filters every secret rule obeys, declared in a pack's `global:` section.
public struct GlobalFilters: Sendable, Equatable {
    /// Lower-cased substrings that mark any secret as a placeholder.
    public var stopwords: [String] = []
    public var allow: [AllowPattern] = []
    public var allowContext: [AllowPattern] = []

    public init(stopwords: [String] = [], allow: [AllowPattern] = [], allowContext: [AllowPattern] = []) {
        self.stopwords = stopwords.map { $0.lowercased() }
        self.allow = allow
        self.allowContext = allowContext
    }

    public var isEmpty: Bool { stopwords.isEmpty && allow.isEmpty && allowContext.isEmpty }

    public static func += (lhs: inout GlobalFilters, rhs: GlobalFilters) {
        lhs.stopwords += rhs.stopwords
        lhs.allow += rhs.allow
        lhs.allowContext += rhs.allowContext
    }
}

/// How bad a finding of a rule is.
public enum Severity: String, Sendable, CaseIterable, Codable, Comparable {
    case critical, high, medium, low, info

    /// Higher is worse.
    public var rank: Int {
        switch self {
        case .critical: 4
        case .high: 3
        case .medium: 2
        case .low: 1
        case .info: 0
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// How likely a match of a rule is a real credential.
public enum Confidence: String, Sendable, CaseIterable, Codable {
    case high, medium, low

    /// Higher is surer.
    public var rank: Int {
        switch self {
        case .high: 2
        case .medium: 1
        case .low: 0
        }
    }
}

/// A text a rule must (or must not) find something in.
public struct RuleExample: Sendable, Equatable {
    public var text: String
    /// The path inside the release the `paths` globs see; `nil` applies no path filter.
    public var path: String?
    /// Where the example was written.
    public var line: Int

    public init(text: String, path: String? = nil, line: Int = 0) {
        self.text = text
        self.path = path
        self.line = line
    }
}

/// A file and line in a rule pack.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// An ASCII-lower-cased copy, for case-insensitive keyword search over bytes: letters past ASCII are left as they
/// are, as Hyperscan's caseless mode leaves them.
public func asciiLowercased(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
        for index in 0..<bytes.count {
            let byte = bytes[index]
            buffer[index] = (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
        }
        count = bytes.count
    }
}
