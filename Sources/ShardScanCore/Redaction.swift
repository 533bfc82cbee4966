/// The form a secret takes in output unless the user asks for secrets in full:
/// a short prefix (enough to tell `ghp_` from `AKIA`) and an ellipsis.
public func redact(_ secret: String) -> String {
    let characters = Array(secret)
    let keep = min(6, characters.count / 5)
    return String(characters.prefix(keep)) + "…"
}

/// A secret matched by a secret rule somewhere in a buffer: its byte range there and its text. Another
/// finding's snippet must never show it.
public struct SecretMask: Sendable, Hashable {
    public var range: Range<Int>
    public var text: String

    public init(range: Range<Int>, text: String) {
        self.range = range
        self.text = text
    }
}

/// The one redaction policy of the tool: what a finding's own match and its snippet look like when they
/// leave it. Every renderer (tables, JSON, JSON Lines, SARIF, `scan-text`) goes through this type.
///
/// Unless secrets are shown in full:
/// - a secret rule's own secret takes the short form of ``redact(_:)``;
/// - a content rule's match is shown (it is code, not a credential), except any part of it that is a secret;
/// - every other secret matched by a secret rule in the same buffer becomes `…`, wherever it overlaps the
///   snippet (by byte position, and by text, so a repeat of a secret that no rule matched there is hidden too).
///
/// Snippet pieces are text decoded from the buffer with U+FFFD for bytes that are not UTF-8, so their
/// length in bytes may differ from the buffer's. A piece without U+FFFD maps byte for byte; a piece with
/// one is masked whole whenever a secret may reach into it (its decoded length bounds the bytes it came from).
public struct RedactedSnippet: Sendable, Equatable {
    /// The finding's own secret or match, as it may be shown.
    public var match: String
    /// `before + match + after`, as it may be shown.
    public var snippet: String

    /// What stands in for a secret that is not the finding's own.
    public static let mask = "…"

    /// - Parameters:
    ///   - before: the text of the line before the match; its last byte lies just before `range`.
    ///   - match: the secret (for a JSON string the decoded value, which may differ from the buffer's bytes).
    ///   - after: the text of the line after the match; it starts at `range.upperBound`.
    ///   - range: the match's byte range in the buffer.
    ///   - kind: the kind of the finding's rule.
    ///   - secrets: the secrets matched by secret rules in the buffer (the finding's own may be among them):
    ///     at least those that reach into the snippet; a mask with an empty range stands for its text only.
    ///   - showSecrets: the user asked for secrets in full: nothing is masked.
    public init(
        before: String, match: String, after: String, range: Range<Int>, kind: RuleKind, secrets: [SecretMask],
        showSecrets: Bool
    ) {
        guard !showSecrets else {
            self.match = match
            self.snippet = before + match + after
            return
        }
        var texts = secrets.map(\.text)
        if kind == .secret { texts.append(match) }
        let ranges = secrets.map(\.range)
        let shownBefore = Self.masked(before, endingAt: range.lowerBound, ranges: ranges, texts: texts)
        let shownAfter = Self.masked(after, startingAt: range.upperBound, ranges: ranges, texts: texts)
        let shownMatch: String
        switch kind {
        case .secret:
            shownMatch = redact(match)
        case .content:
            // A JSON string's decoded value is shorter than its escaped bytes: then it maps only as a whole.
            shownMatch = Self.masked(
                match, window: range, exact: match.utf8.count == range.count, ranges: ranges, texts: texts)
        }
        self.match = shownMatch
        self.snippet = shownBefore + shownMatch + shownAfter
    }

    static func masked(_ piece: String, endingAt end: Int, ranges: [Range<Int>], texts: [String]) -> String {
        let count = piece.utf8.count
        return masked(piece, window: end - count..<end, exact: true, ranges: ranges, texts: texts)
    }

    static func masked(_ piece: String, startingAt start: Int, ranges: [Range<Int>], texts: [String]) -> String {
        let count = piece.utf8.count
        return masked(piece, window: start..<start + count, exact: true, ranges: ranges, texts: texts)
    }

    /// `piece` with every byte that belongs to a secret replaced, runs of them by one ``mask``.
    /// `window` is where its bytes lie in the buffer when it maps byte for byte; when it does not (it holds
    /// U+FFFD, or `exact` is false), the bytes it came from lie within `window` and any secret there masks it whole.
    static func masked(
        _ piece: String, window: Range<Int>, exact: Bool, ranges: [Range<Int>], texts: [String]
    ) -> String {
        let bytes = Array(piece.utf8)
        guard !bytes.isEmpty else { return piece }
        var hidden = [Bool](repeating: false, count: bytes.count)
        let mapsExactly = exact && !piece.unicodeScalars.contains("\u{FFFD}")
        for range in ranges where range.overlaps(window) {
            guard mapsExactly else { return mask }
            let lower = max(range.lowerBound, window.lowerBound) - window.lowerBound
            let upper = min(range.upperBound, window.upperBound) - window.lowerBound
            for index in lower..<upper { hidden[index] = true }
        }
        for text in texts where !text.isEmpty {
            for start in occurrences(of: Array(text.utf8), in: bytes) {
                for index in start..<start + text.utf8.count { hidden[index] = true }
            }
        }
        guard hidden.contains(true) else { return piece }
        // Whole scalars are shown or hidden: a secret that ends inside a multi-byte character hides all of it.
        var result = ""
        var offset = 0
        var inMask = false
        for scalar in piece.unicodeScalars {
            let width = UTF8.width(scalar)
            if hidden[offset..<offset + width].contains(true) {
                if !inMask { result += mask }
                inMask = true
            } else {
                result.unicodeScalars.append(scalar)
                inMask = false
            }
            offset += width
        }
        return result
    }

    /// Start offsets of every occurrence of `needle` in `haystack`, overlapping ones included.
    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard !needle.isEmpty, needle.count <= haystack.count else { return [] }
        var starts: [Int] = []
        for start in 0...(haystack.count - needle.count)
        where haystack[start] == needle[0] && haystack[start..<start + needle.count].elementsEqual(needle) {
            starts.append(start)
        }
        return starts
    }
}
