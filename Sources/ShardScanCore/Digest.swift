import Crypto
import Foundation

/// SHA-256 of `text`'s UTF-8 bytes, as 64 lower-case hex digits.
public func sha256Hex(_ text: String) -> String {
    sha256Hex(Data(text.utf8))
}

/// SHA-256 of `data`, as 64 lower-case hex digits.
public func sha256Hex(_ data: Data) -> String {
    lowercaseHex(SHA256.hash(data: data))
}

/// `bytes` as lower-case hexadecimal digits, two a byte. Rule digests are made on every run's start, a
/// `String(format:)` a byte cost more there than the hashing.
public func lowercaseHex(_ bytes: some Sequence<UInt8>) -> String {
    let digits: StaticString = "0123456789abcdef"
    var out: [UInt8] = []
    out.reserveCapacity(bytes.underestimatedCount * 2)
    digits.withUTF8Buffer { digits in
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
    }
    return String(decoding: out, as: UTF8.self)
}

extension Finding {
    /// Identifies one secret found by one rule, wherever it appears: stable across runs, releases and shards.
    public static func fingerprint(ruleID: String, secret: String) -> String {
        sha256Hex(ruleID + "\u{0}" + secret)
    }
}

extension Rule {
    /// Everything about the rule that changes what it finds, as text. Names, descriptions and
    /// examples are left out, so editing them does not force a rescan.
    var matchingDefinition: String {
        [
            id, pattern, minEntropy.map { "\($0)" } ?? "-", keywords.joined(separator: "\u{1}"),
            stopwords.joined(separator: "\u{1}"), paths.include.map(\.pattern).joined(separator: "\u{1}"),
            paths.exclude.map(\.pattern).joined(separator: "\u{1}"), allow.map(\.pattern).joined(separator: "\u{1}"),
            allowContext.map(\.pattern).joined(separator: "\u{1}"), kind.rawValue, validator ?? "-", onInvalid.rawValue,
        ].joined(separator: "\u{0}") + viewDefinition
    }

    /// The view and co-occurrence parts; empty for a plain rule on the stored text, so that the digests of
    /// such rules did not change when views came in.
    private var viewDefinition: String {
        guard view != .text || cooccurrence != nil else { return "" }
        let parts =
            cooccurrence.map { c in
                [
                    c.scope.rawValue, c.all.map { $0.name + "=" + $0.pattern }.joined(separator: "\u{1}"),
                    c.any.map { $0.name + "=" + $0.pattern }.joined(separator: "\u{1}"),
                ].joined(separator: "\u{2}")
            } ?? "-"
        return "\u{0}" + view.rawValue + "\u{0}" + parts
    }

    /// The digest of what this one rule finds (see ``matchingDefinition``), with the `global:` filters a secret
    /// rule obeys and the engine version: a blob that has seen a rule under this digest need not see it again.
    /// Severity, confidence, names and descriptions are left out. Backfill compares these per rule, so that a
    /// changed rule is re-run alone.
    public func matchDigest(global: GlobalFilters = GlobalFilters(), engineVersion: String) -> String {
        let globalDefinition =
            kind == .secret
            ? [
                global.stopwords.sorted().joined(separator: "\u{1}"),
                global.allow.map(\.pattern).sorted().joined(separator: "\u{1}"),
                global.allowContext.map(\.pattern).sorted().joined(separator: "\u{1}"),
            ].joined(separator: "\u{0}") : "-"
        return sha256Hex("shardscan-rule/1\n\(engineVersion)\n\(globalDefinition)\n\(matchingDefinition)")
    }

    /// The digest of a rule set: blobs scanned under one digest are not scanned again under it.
    /// `engineVersion` is part of it so that matching changes in the engine force a rescan too.
    public static func digest(of rules: [Rule], global: GlobalFilters = GlobalFilters(), engineVersion: String)
        -> String
    {
        let body = rules.map(\.matchingDefinition).sorted().joined(separator: "\n")
        let globalDefinition = [
            global.stopwords.sorted().joined(separator: "\u{1}"),
            global.allow.map(\.pattern).sorted().joined(separator: "\u{1}"),
            global.allowContext.map(\.pattern).sorted().joined(separator: "\u{1}"),
        ].joined(separator: "\u{0}")
        return sha256Hex("shardscan-rules/2\n\(engineVersion)\n\(globalDefinition)\n\(body)")
    }
}
