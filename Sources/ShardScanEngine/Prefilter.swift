import Crypto
import Foundation
import Hyperscan
import ShardScanCore

/// Every rule's pattern (in Hyperscan's prefilter mode) and every keyword (as a caseless literal) in one
/// Hyperscan database, so one pass over a blob tells which rules can match it and where.
///
/// Prefilter mode over-approximates what Hyperscan cannot run exactly (lookarounds, backreferences): a
/// pattern hit is a candidate that PCRE2 confirms, and no PCRE2 match can end where Hyperscan reported
/// nothing. A pattern Hyperscan rejects even so is gated by its rule's keywords, or, without keywords,
/// runs on every blob.
public final class Prefilter: Sendable {
    /// How a rule is gated.
    public enum Gate: Sendable, Equatable, Codable {
        /// Hyperscan reports where its matches may end; a match spans at most `maxWidth` bytes
        /// (`nil`: unbounded).
        case pattern(maxWidth: Int?)
        /// Its pattern is not in the database: it runs on every blob holding one of its keywords.
        case keywords
        /// Its pattern is not in the database and it has no keywords: it runs on every blob.
        case always
    }

    /// `nil` when there is nothing to put in it.
    let database: Database?
    /// Per rule index.
    public let gates: [Gate]
    /// The rules whose pattern is not in the database, which every blob must consider.
    func ungatedRules() -> [Int] {
        gates.indices.filter { if case .pattern = gates[$0] { false } else { true } }
    }
    /// Per rule index: why Hyperscan did not take its pattern.
    public let rejections: [Int: String]
    /// Distinct lower-cased keywords; keyword `k` has Hyperscan id `ruleCount + k`.
    let keywords: [String]
    /// Per rule index: its keywords' indices in ``keywords``.
    let ruleKeywords: [[Int]]
    let ruleCount: Int
    /// Whether the database came from the on-disk cache.
    public let wasCached: Bool

    /// Builds the prefilter for `rules`, reading and writing the compiled database in `cacheDirectory`
    /// when one is given (a missing or stale cache is rebuilt, never an error).
    init(rules: [Rule], cacheDirectory: String?) throws(HyperscanError) {
        ruleCount = rules.count
        (keywords, ruleKeywords) = Self.indexKeywords(rules)

        let key = Self.cacheKey(rules: rules, keywords: keywords)
        let cachePaths = cacheDirectory.map { directory in
            (
                database: (directory as NSString).appendingPathComponent("prefilter-\(key).hsdb"),
                metadata: (directory as NSString).appendingPathComponent("prefilter-\(key).json")
            )
        }
        if let cachePaths, let cached = Self.readCache(database: cachePaths.database, metadata: cachePaths.metadata),
            cached.metadata.gates.count == rules.count
        {
            database = cached.database
            gates = cached.metadata.gates
            rejections = cached.metadata.rejections
            wasCached = true
            return
        }

        var gates: [Gate] = []
        var rejections: [Int: String] = [:]
        for (index, rule) in rules.enumerated() {
            do {
                let info = try ExpressionInfo(rule.pattern, flags: Self.patternFlags)
                gates.append(.pattern(maxWidth: info.maxWidth))
            } catch {
                rejections[index] = error.message
                gates.append(rule.keywords.isEmpty ? .always : .keywords)
            }
        }
        // hs_expression_info accepts a few patterns the full compiler refuses: drop those and retry.
        var database: Database?
        while database == nil {
            var patterns: [Database.Pattern] = []
            for (index, rule) in rules.enumerated() {
                if case .pattern = gates[index] {
                    patterns.append(
                        Database.Pattern(expression: rule.pattern, id: UInt32(index), flags: Self.patternFlags))
                }
            }
            for (index, keyword) in keywords.enumerated() {
                patterns.append(
                    Database.Pattern(
                        expression: Self.literal(keyword), id: UInt32(rules.count + index), flags: [.caseless]))
            }
            if patterns.isEmpty { break }
            do {
                database = try Database(patterns: patterns)
            } catch {
                guard let at = error.expressionIndex, Int(patterns[at].id) < rules.count else { throw error }
                let ruleIndex = Int(patterns[at].id)
                rejections[ruleIndex] = error.message
                gates[ruleIndex] = rules[ruleIndex].keywords.isEmpty ? .always : .keywords
            }
        }
        self.database = database
        self.gates = gates
        self.rejections = rejections
        wasCached = false
        if let cachePaths, let database {
            Self.writeCache(database, metadata: CacheMetadata(gates: gates, rejections: rejections), to: cachePaths)
        }
    }

    /// A prefilter that gates nothing: every rule runs on every blob. For when Hyperscan itself fails.
    init(ungated rules: [Rule], reason: String) {
        ruleCount = rules.count
        database = nil
        gates = Array(repeating: .always, count: rules.count)
        rejections = Dictionary(uniqueKeysWithValues: rules.indices.map { ($0, reason) })
        (keywords, ruleKeywords) = Self.indexKeywords(rules)
        wasCached = false
    }

    /// The distinct keywords of `rules`, and each rule's keywords as indices into them.
    static func indexKeywords(_ rules: [Rule]) -> (keywords: [String], ruleKeywords: [[Int]]) {
        var keywordIndex: [String: Int] = [:]
        var keywords: [String] = []
        let ruleKeywords = rules.map { rule in
            rule.keywords.map { keyword in
                if let index = keywordIndex[keyword] { return index }
                keywordIndex[keyword] = keywords.count
                keywords.append(keyword)
                return keywords.count - 1
            }
        }
        return (keywords, ruleKeywords)
    }

    static let patternFlags: PatternFlags = [.prefilter, .allowEmpty]

    /// `text` as a Hyperscan expression matching it literally.
    static func literal(_ text: String) -> String {
        text.utf8.map { byte in
            let isPlain =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            return isPlain ? String(UnicodeScalar(byte)) : String(format: "\\x%02x", byte)
        }.joined()
    }

    /// Names everything that shapes the database, so that a cache entry is never used for other rules
    /// or another Hyperscan build.
    static func cacheKey(rules: [Rule], keywords: [String]) -> String {
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(data: Data((text + "\u{0}").utf8)) }
        add("shardscan-prefilter/1")
        add(hyperscanVersion)
        add(String(patternFlags.rawValue))
        for rule in rules {
            add(rule.pattern)
            add(rule.keywords.isEmpty ? "-" : "k")
        }
        for keyword in keywords { add(keyword) }
        return hasher.finalize().prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    struct CacheMetadata: Codable {
        var gates: [Gate]
        var rejections: [Int: String]
    }

    static func readCache(database path: String, metadata metadataPath: String) -> (
        database: Database, metadata: CacheMetadata
    )? {
        guard let bytes = FileManager.default.contents(atPath: path),
            let metadataBytes = FileManager.default.contents(atPath: metadataPath),
            let metadata = try? JSONDecoder().decode(CacheMetadata.self, from: metadataBytes),
            let database = try? Database(serialized: [UInt8](bytes))
        else { return nil }
        return (database, metadata)
    }

    /// Writes each file under a temporary name and renames it, so a reader never sees half a file.
    static func writeCache(
        _ database: Database, metadata: CacheMetadata, to paths: (database: String, metadata: String)
    ) {
        guard let bytes = try? database.serialized(), let metadataBytes = try? JSONEncoder().encode(metadata) else {
            return
        }
        let directory = (paths.database as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (path, data) in [(paths.metadata, metadataBytes), (paths.database, Data(bytes))] {
            let temporary = path + ".\(getpid()).tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
            guard rename(temporary, path) == 0 else {
                unlink(temporary)
                return
            }
        }
    }

    /// Where compiled prefilters are kept between runs: `$SHARDSCAN_CACHE`, else `$XDG_CACHE_HOME/shardscan`,
    /// else `~/.cache/shardscan`.
    public static var defaultCacheDirectory: String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["SHARDSCAN_CACHE"] { return explicit.isEmpty ? nil : explicit }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/shardscan" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/shardscan" }
        return nil
    }
}
