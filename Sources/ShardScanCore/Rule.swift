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

    public init(
        id: String, name: String, pattern: String, minEntropy: Double? = nil, keywords: [String] = [],
        stopwords: [String] = [], severity: Severity = .high, confidence: Confidence = .medium,
        categories: [String] = [], description: String = "", references: [String] = [],
        paths: PathFilter = PathFilter(), examples: [RuleExample] = [], negativeExamples: [RuleExample] = [],
        source: SourceLocation = SourceLocation(file: "<memory>", line: 1), patternLine: Int? = nil
    ) {
        self.id = id
        self.name = name
        self.pattern = pattern
        self.minEntropy = minEntropy
        self.keywords = keywords.map { $0.lowercased() }
        self.stopwords = stopwords.map { $0.lowercased() }
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
