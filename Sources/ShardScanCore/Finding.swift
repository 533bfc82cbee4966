/// One secret found by one rule in one buffer.
public struct Finding: Sendable, Equatable, Codable {
    public var ruleID: String
    /// Byte range of the secret in the buffer.
    public var start: Int
    public var end: Int
    /// 1-based line and byte column of the secret's first byte.
    public var line: Int
    public var column: Int
    /// 1-based line and byte column just after the secret's last byte.
    public var endLine: Int
    public var endColumn: Int
    /// The secret as text (bytes that are not UTF-8 replaced with U+FFFD). Never print it unredacted
    /// unless the user asked for secrets.
    public var secret: String
    /// Shannon entropy of the secret's bytes, in bits per byte.
    public var entropy: Double
    /// Up to a few dozen bytes of the secret's line before and after it.
    public var snippetBefore: String
    public var snippetAfter: String
    /// Set when the finding is less sure than its rule says (the secret failed its validator).
    public var confidence: Confidence?
    /// What the rule's offline validator read from the secret (never the secret itself): a PyPI token's
    /// scope, a checksum's verdict. Keys are snake_case.
    public var facts: [String: String]
    /// 1-based columns of the secret's first character and of the character after it, counted in UTF-16
    /// code units of the decoded line: what SARIF consumers (GitHub code scanning) count in. `nil` until
    /// the matcher locates the finding.
    public var utf16Column: Int?
    public var utf16EndColumn: Int?
    /// For a co-occurrence rule (`all:`/`any:`): where each part was found, in file order. The finding's
    /// own span is its first part's. Reports see them through ``facts`` (`parts`, `part_<name>`).
    public var parts: [FindingPart] = []

    public init(
        ruleID: String, start: Int, end: Int, line: Int, column: Int, endLine: Int, endColumn: Int, secret: String,
        entropy: Double, snippetBefore: String, snippetAfter: String, confidence: Confidence? = nil,
        facts: [String: String] = [:]
    ) {
        self.ruleID = ruleID
        self.start = start
        self.end = end
        self.line = line
        self.column = column
        self.endLine = endLine
        self.endColumn = endColumn
        self.secret = secret
        self.entropy = entropy
        self.snippetBefore = snippetBefore
        self.snippetAfter = snippetAfter
        self.confidence = confidence
        self.facts = facts
    }

    /// Where this secret sits, for masking it in the snippets of the buffer's other findings.
    public var mask: SecretMask { SecretMask(range: start..<end, text: secret) }

    /// The secret and snippet as they may be shown (see ``RedactedSnippet``); `secrets` are the masks of
    /// every secret rule's finding in the same buffer.
    public func presented(kind: RuleKind, secrets: [SecretMask], showSecrets: Bool) -> RedactedSnippet {
        RedactedSnippet(
            before: snippetBefore, match: secret, after: snippetAfter, range: start..<end, kind: kind,
            secrets: secrets, showSecrets: showSecrets)
    }
}

/// Where one part of a co-occurrence rule matched.
public struct FindingPart: Sendable, Equatable, Codable {
    /// The part's name in its rule.
    public var name: String
    /// Byte range of the part's match in the buffer.
    public var start: Int
    public var end: Int
    /// 1-based line and byte column of its first byte; 0 until located.
    public var line: Int = 0
    public var column: Int = 0
    /// The matched text, cut to ``FindingPart/maxText`` bytes.
    public var text: String

    /// Bytes of a part's match kept in its text.
    public static let maxText = 80

    public init(name: String, start: Int, end: Int, text: String) {
        self.name = name
        self.start = start
        self.end = end
        self.text = text
    }
}

/// A rule that could not finish on a buffer, so its answer there is unknown.
public struct RuleFailure: Sendable, Equatable, Codable, CustomStringConvertible {
    public var ruleID: String
    public var message: String

    public init(ruleID: String, message: String) {
        self.ruleID = ruleID
        self.message = message
    }

    public var description: String { "rule \(ruleID): \(message)" }
}
