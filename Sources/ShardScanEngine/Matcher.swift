import PCRE2
import ShardScanCore

#if canImport(Glibc)
    import Glibc
#endif

/// What scanning one buffer produced.
public struct ScanOutcome: Sendable, Equatable {
    /// Findings sorted by position.
    public var findings: [Finding]
    /// Rules whose answer is unknown for this buffer (a PCRE2 limit was hit).
    public var failures: [RuleFailure]

    public init(findings: [Finding] = [], failures: [RuleFailure] = []) {
        self.findings = findings
        self.failures = failures
    }
}

/// Runs a ``RuleSet`` over byte buffers. One per thread: it owns PCRE2 match scratch.
public final class Matcher {
    public let ruleSet: RuleSet
    private let scratch: MatchScratch
    private let useJIT: Bool

    /// Bytes either side of a match in which one of a rule's keywords must occur.
    public static let keywordWindow = 256
    /// Bytes of context kept either side of a secret in a snippet, within its line.
    public static let snippetContext = 60

    /// - Parameters:
    ///   - limits: PCRE2 limits for each match call.
    ///   - useJIT: `false` runs the interpreter, whose step counts are exact (for budgets in `rules check`).
    public init(ruleSet: RuleSet, limits: MatchLimits = .scanning, useJIT: Bool = true) {
        self.ruleSet = ruleSet
        self.scratch = MatchScratch(limits: limits)
        self.useJIT = useJIT
    }

    /// Scans `bytes` (any bytes: not necessarily UTF-8) as the file at `path` inside its release;
    /// `path` decides which rules apply, `nil` applies all.
    public func scan(_ bytes: UnsafeRawBufferPointer, path: String?) -> ScanOutcome {
        var outcome = ScanOutcome()
        var lowered: [UInt8]?
        for compiled in ruleSet.rules where compiled.rule.paths.admits(path) {
            let rule = compiled.rule
            if !rule.keywords.isEmpty {
                if lowered == nil { lowered = asciiLowercased(bytes) }
                guard rule.keywords.contains(where: { lowered!.contains(keyword: $0, in: 0..<bytes.count) }) else {
                    continue
                }
            }
            do {
                for match in try compiled.regex.allMatches(in: bytes, scratch: scratch, useJIT: useJIT) {
                    guard let secretRange = match.groups[compiled.secretGroup], !secretRange.isEmpty else { continue }
                    if !rule.keywords.isEmpty {
                        let window =
                            max(
                                0, match.range.lowerBound - Self.keywordWindow)..<min(
                                bytes.count, match.range.upperBound + Self.keywordWindow)
                        guard rule.keywords.contains(where: { lowered!.contains(keyword: $0, in: window) }) else {
                            continue
                        }
                    }
                    let secretBytes = UnsafeRawBufferPointer(rebasing: bytes[secretRange])
                    let entropy = shannonEntropy(secretBytes)
                    if let minimum = rule.minEntropy, entropy < minimum { continue }
                    let secret = String(decoding: secretBytes, as: UTF8.self)
                    if !rule.stopwords.isEmpty {
                        let lowerSecret = secret.lowercased()
                        if rule.stopwords.contains(where: { lowerSecret.contains($0) }) { continue }
                    }
                    outcome.findings.append(
                        Finding(
                            ruleID: rule.id, start: secretRange.lowerBound, end: secretRange.upperBound, line: 0,
                            column: 0, endLine: 0, endColumn: 0, secret: secret, entropy: entropy,
                            snippetBefore: "", snippetAfter: ""))
                }
            } catch {
                outcome.failures.append(RuleFailure(ruleID: rule.id, message: Self.describe(error)))
            }
        }
        if outcome.findings.count > 1 { outcome.findings = Self.preferSpecific(outcome.findings, ruleSet: ruleSet) }
        if !outcome.findings.isEmpty { locate(&outcome.findings, in: bytes) }
        return outcome
    }

    /// Where secrets of rules of different confidence overlap (a generic `token = "…"` rule and the
    /// provider's own), keeps only the more confident: one secret, one finding.
    static func preferSpecific(_ findings: [Finding], ruleSet: RuleSet) -> [Finding] {
        let rank = Dictionary(
            ruleSet.rules.map { ($0.rule.id, $0.rule.confidence.rank) }, uniquingKeysWith: { first, _ in first })
        let sorted = findings.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
        var dropped = Set<Int>()
        for i in sorted.indices {
            var j = i + 1
            while j < sorted.count && sorted[j].start < sorted[i].end {
                let left = rank[sorted[i].ruleID] ?? 0
                let right = rank[sorted[j].ruleID] ?? 0
                if left < right { dropped.insert(i) } else if right < left { dropped.insert(j) }
                j += 1
            }
        }
        return sorted.indices.filter { !dropped.contains($0) }.map { sorted[$0] }
    }

    /// Scans `text`'s UTF-8 bytes.
    public func scan(text: String, path: String?) -> ScanOutcome {
        var copy = text
        return copy.withUTF8 { scan(UnsafeRawBufferPointer($0), path: path) }
    }

    static func describe(_ error: MatchError) -> String {
        switch error.kind {
        case .matchLimit: "stopped at the PCRE2 match limit (backtracking step budget); result unknown"
        case .depthLimit: "stopped at the PCRE2 depth limit; result unknown"
        case .heapLimit: "stopped at the PCRE2 heap limit; result unknown"
        case .jitStackLimit: "stopped at the PCRE2 JIT stack limit; result unknown"
        case .other: "PCRE2 match error: \(error.description)"
        }
    }

    /// Fills in line, column and snippets, walking the buffer once in position order.
    private func locate(_ findings: inout [Finding], in bytes: UnsafeRawBufferPointer) {
        findings.sort { ($0.start, $0.ruleID) < ($1.start, $1.ruleID) }
        var position = 0
        var line = 1
        var lineStart = 0
        let newline = UInt8(ascii: "\n")
        func advance(to offset: Int) {
            while position < offset {
                if bytes[position] == newline {
                    line += 1
                    lineStart = position + 1
                }
                position += 1
            }
        }
        for index in findings.indices {
            var finding = findings[index]
            advance(to: finding.start)
            finding.line = line
            finding.column = finding.start - lineStart + 1
            let startLineStart = lineStart
            // The end position may lie on a later line for multi-line secrets (private keys); count
            // from here without moving the shared cursor past later findings' starts.
            var endLine = line
            var endLineStart = lineStart
            for offset in finding.start..<finding.end where bytes[offset] == newline {
                endLine += 1
                endLineStart = offset + 1
            }
            finding.endLine = endLine
            finding.endColumn = finding.end - endLineStart + 1

            let snippetStart = max(startLineStart, finding.start - Self.snippetContext)
            var lineEnd = finding.end
            while lineEnd < bytes.count && lineEnd < finding.end + Self.snippetContext && bytes[lineEnd] != newline
                && bytes[lineEnd] != UInt8(ascii: "\r")
            {
                lineEnd += 1
            }
            finding.snippetBefore = String(decoding: bytes[snippetStart..<finding.start], as: UTF8.self)
            finding.snippetAfter = String(decoding: bytes[finding.end..<lineEnd], as: UTF8.self)
            findings[index] = finding
        }
    }
}

/// An ASCII-lower-cased copy, for case-insensitive keyword search over bytes.
func asciiLowercased(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
        for index in 0..<bytes.count {
            let byte = bytes[index]
            buffer[index] = (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
        }
        count = bytes.count
    }
}

extension Array where Element == UInt8 {
    /// Whether lower-case `keyword` occurs entirely inside `range` of this (lower-cased) buffer.
    func contains(keyword: String, in range: Range<Int>) -> Bool {
        var needle = keyword
        return needle.withUTF8 { needleBytes in
            guard needleBytes.count <= range.count else { return false }
            return withUnsafeBufferPointer { haystack in
                let first = Int32(needleBytes[0])
                var cursor = haystack.baseAddress! + range.lowerBound
                let last = haystack.baseAddress! + range.upperBound - needleBytes.count
                while cursor <= last {
                    guard let hit = memchr(cursor, first, last - cursor + 1) else { return false }
                    let candidate = hit.assumingMemoryBound(to: UInt8.self)
                    if memcmp(candidate, needleBytes.baseAddress!, needleBytes.count) == 0 { return true }
                    cursor = UnsafePointer(candidate) + 1
                }
                return false
            }
        }
    }
}
