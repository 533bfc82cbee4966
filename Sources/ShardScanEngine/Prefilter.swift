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
///
/// A co-occurrence rule's parts go in one by one, in place of their alternation: the rule runs only where
/// every `all` part (and one `any` part) may match, and each part only around its own candidates.
public final class Prefilter: Sendable {
    /// How a rule is gated.
    public enum Gate: Sendable, Equatable, Codable {
        /// Hyperscan reports where its matches may end; a match spans at most `maxWidth` bytes
        /// (`nil`: unbounded).
        case pattern(maxWidth: Int?)
        /// Its pattern is not in the database: it runs on every blob holding one of its keywords, around them when
        /// a match spans at most `maxWidth` bytes (a match must have a keyword near it), else over the whole blob.
        case keywords(maxWidth: Int?)
        /// Its pattern is not in the database and it has no keywords: it runs on every blob.
        case always
    }

    /// Which files a Hyperscan pass reads. Each pass has a database of just the patterns that can match there
    /// (every pass numbers rules, keywords and parts alike), so no pass tracks patterns whose hits nobody reads.
    public enum Pass: String, CaseIterable, Sendable, Codable {
        /// Python source as stored: the `text` rules (`statements` rules read the joined view instead) but those of
        /// ``pythonTextNamed``, every keyword, and the pieces of the blank keywords of `statements` rules: their hits
        /// tell whether joining the file is worth it (see ``joinGates``).
        case pythonText = "python-text"
        /// Python source as stored, for the `text` rules that admit Python modules by more than their suffix
        /// (`setup.py`, `__init__.py`, `*.pth`), scanned besides ``pythonText`` only when one of them admits the
        /// file; their keywords are in ``pythonText``. Most Python files are scanned without these patterns: on
        /// the bench shard the ten such rules cost the Python pass 14% of its time.
        case pythonTextNamed = "python-text-named"
        /// Python source joined into statements: the `statements` rules (but those of ``statementsNamed``) and the
        /// keywords of all of them.
        case statements
        /// The joined view's counterpart of ``pythonTextNamed``.
        case statementsNamed = "statements-named"
        /// Every other file: the rules whose `paths` admit a file that is not Python source, and their keywords.
        case otherText = "other-text"

        /// The pass that reads a file at `path` in `view` (`nil`: the file's only pass).
        static func reading(_ path: String?, view: RuleView?) -> Pass {
            switch view {
            case .statements: .statements
            case .text: .pythonText
            case nil: PythonStatementJoiner.applies(to: path) ? .pythonText : .otherText
            }
        }

        /// The pass scanned besides this one for the files its named rules admit.
        var named: Pass? {
            switch self {
            case .pythonText: .pythonTextNamed
            case .statements: .statementsNamed
            case .pythonTextNamed, .statementsNamed, .otherText: nil
            }
        }

        /// Whether the pass's database holds `rule`'s pattern.
        func reads(_ rule: Rule) -> Bool {
            switch self {
            case .pythonText: rule.view == .text && !Self.isNamed(rule)
            case .pythonTextNamed: rule.view == .text && Self.isNamed(rule)
            case .statements: rule.view == .statements && !Self.isNamed(rule)
            case .statementsNamed: rule.view == .statements && Self.isNamed(rule)
            case .otherText: !rule.paths.admitsOnly(namesEndingWith: PythonStatementJoiner.suffixes)
            }
        }

        /// Whether `rule` admits no Python module for its `.py` suffix alone (see ``pythonTextNamed``).
        static func isNamed(_ rule: Rule) -> Bool { rule.paths.admitsByMoreThan(suffix: ".py") }
    }

    /// Per pass, the database of what it reads; a pass with nothing to read in Hyperscan has none (and so no
    /// candidates).
    let passDatabases: [Pass: Database]
    /// Per named pass with a database: the rules it holds, one of which must admit a file for the pass to scan it.
    let namedRules: [Pass: [Int]]
    /// Whether Hyperscan gates the rules; `false` for a prefilter made ``init(ungated:reason:)``, with which
    /// every rule runs over every buffer.
    let isGating: Bool
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
    /// Per index of a `statements` rule with keywords: sets of keyword indices, of which one must be wholly in a
    /// Python file's stored text for the rule to match the file's statements; without one, joining the file is
    /// worthless for the rule. A keyword without blanks is a set of itself. Joining turns line breaks (and the
    /// indentation after them) into blanks, so a keyword with blanks may be made by it: it is a set of its
    /// blank-free pieces instead, which joining never makes or splits (it only deletes comments up to a line
    /// break, and puts one blank for a break), and which ``keywords`` holds as literals of their own.
    let joinGates: [Int: [[Int]]]
    let ruleCount: Int
    /// Per rule index with parts in the database: how each part is gated (`.pattern`, or `.always` for a
    /// part with `hyperscan: false`, which is not in the database), in the order of the rule's parts. Part `p`
    /// of all such rules, counted in rule order, has Hyperscan id `ruleCount + keywords.count + p`.
    public let partGates: [Int: [Gate]]
    /// Per rule index: the index of its first part in the flat part numbering (see ``partGates``).
    let firstPart: [Int: Int]
    /// Per flat part index: the rule it belongs to.
    let partOwner: [Int]
    /// Whether the database came from the on-disk cache.
    public let wasCached: Bool

    /// Builds the prefilter for `rules`, reading and writing the compiled database in `cacheDirectory`
    /// when one is given (a missing or stale cache is rebuilt, never an error).
    init(rules: [Rule], cacheDirectory: String?) throws(HyperscanError) {
        ruleCount = rules.count
        (keywords, ruleKeywords, joinGates) = Self.indexKeywords(rules)

        let key = Self.cacheKey(rules: rules, keywords: keywords)
        let cachePaths = cacheDirectory.map { directory in
            CachePaths(directory: directory, key: key)
        }
        if let cachePaths, let metadata = Self.readMetadata(cachePaths.metadata), metadata.gates.count == rules.count,
            let passDatabases = Self.readPassDatabases(metadata.passes, cachePaths)
        {
            self.passDatabases = passDatabases
            namedRules = Self.namedRules(rules, gates: metadata.gates, passes: passDatabases.keys)
            isGating = true
            gates = metadata.gates
            rejections = metadata.rejections
            partGates = metadata.partGates
            (firstPart, partOwner) = Self.numberParts(partGates)
            wasCached = true
            // Used now: the last entry a pruning removes.
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: cachePaths.metadata)
            return
        }

        var gates: [Gate] = []
        var rejections: [Int: String] = [:]
        var partGates: [Int: [Gate]] = [:]
        for (index, rule) in rules.enumerated() {
            guard rule.hyperscan else {
                rejections[index] = Self.keptOut
                gates.append(Self.keptOutGate(rule))
                continue
            }
            do {
                let info = try ExpressionInfo(rule.pattern, flags: Self.patternFlags)
                gates.append(.pattern(maxWidth: info.maxWidth))
                // Parts only when Hyperscan takes every one of them; else the alternation gates the rule.
                if let parts = rule.cooccurrence?.parts,
                    let partGate = try? parts.map({ part throws(HyperscanError) -> Gate in
                        // A part kept out of the database is searched wherever its rule runs.
                        guard part.hyperscan else { return .always }
                        return .pattern(maxWidth: try ExpressionInfo(part.pattern, flags: Self.patternFlags).maxWidth)
                    })
                {
                    partGates[index] = partGate
                }
            } catch {
                rejections[index] = error.message
                gates.append(Self.keptOutGate(rule))
            }
        }
        // hs_expression_info accepts a few patterns the full compiler refuses: drop those and retry. The passes'
        // databases are compiled side by side, on as many threads as there are passes.
        var passDatabases: [Pass: Database] = [:]
        compiling: while true {
            var sets: [(Pass, [Database.Pattern])] = []
            for pass in Pass.allCases {
                let patterns = Self.patterns(
                    rules: rules, keywords: keywords, ruleKeywords: ruleKeywords, gates: gates, partGates: partGates,
                    only: pass)
                if !patterns.isEmpty { sets.append((pass, patterns)) }
            }
            passDatabases = [:]
            for (index, result) in Self.compile(sets.map(\.1)).enumerated() {
                switch result {
                case .success(let database):
                    passDatabases[sets[index].0] = database
                case .failure(let error):
                    guard let at = error.expressionIndex else { throw error }
                    let id = Int(sets[index].1[at].id)
                    if id >= rules.count + keywords.count {
                        // A part the compiler refuses: the rule falls back to its alternation.
                        let (_, partOwner) = Self.numberParts(partGates)
                        partGates[partOwner[id - rules.count - keywords.count]] = nil
                        continue compiling
                    }
                    guard id < rules.count else { throw error }
                    rejections[id] = error.message
                    gates[id] = Self.keptOutGate(rules[id])
                    partGates[id] = nil
                    continue compiling
                }
            }
            break
        }
        self.passDatabases = passDatabases
        namedRules = Self.namedRules(rules, gates: gates, passes: passDatabases.keys)
        isGating = true
        self.gates = gates
        self.rejections = rejections
        self.partGates = partGates
        (firstPart, partOwner) = Self.numberParts(partGates)
        wasCached = false
        if let cachePaths {
            Self.writeCache(
                passDatabases: passDatabases,
                metadata: CacheMetadata(
                    gates: gates, rejections: rejections, partGates: partGates,
                    passes: passDatabases.keys.map(\.rawValue).sorted()),
                to: cachePaths)
            Self.pruneCache((cachePaths.metadata as NSString).deletingLastPathComponent)
        }
    }

    /// The patterns of `pass`'s database (see ``Pass``): the prefiltered patterns of the rules it reads (each
    /// part of a rule in `partGates`), and keywords.
    static func patterns(
        rules: [Rule], keywords: [String], ruleKeywords: [[Int]], gates: [Gate], partGates: [Int: [Gate]],
        only pass: Pass
    ) -> [Database.Pattern] {
        var patterns: [Database.Pattern] = []
        var wantedKeywords = Set<Int>()
        let (firstPart, _) = Self.numberParts(partGates)
        for (index, rule) in rules.enumerated() {
            // A named pass's rules have their keywords looked for by the pass it goes with.
            if pass.reads(rule) || pass.named?.reads(rule) == true { wantedKeywords.formUnion(ruleKeywords[index]) }
            if !pass.reads(rule) { continue }
            guard case .pattern = gates[index] else { continue }
            if let first = firstPart[index], let parts = rule.cooccurrence?.parts {
                for (offset, part) in parts.enumerated() where part.hyperscan {
                    patterns.append(
                        Database.Pattern(
                            expression: part.pattern, id: UInt32(rules.count + keywords.count + first + offset),
                            flags: Self.patternFlags))
                }
            } else {
                patterns.append(
                    Database.Pattern(expression: rule.pattern, id: UInt32(index), flags: Self.patternFlags))
            }
        }
        let ofSomeRule = Set(ruleKeywords.joined())
        for (index, keyword) in keywords.enumerated() {
            switch pass {
            case .pythonText: break
            case .statements, .otherText: if !wantedKeywords.contains(index) { continue }
            case .pythonTextNamed, .statementsNamed: continue
            }
            // A piece of a blank keyword only says whether a file is worth joining: its first hit says it all.
            let flags: PatternFlags = ofSomeRule.contains(index) ? [.caseless] : [.caseless, .singleMatch]
            patterns.append(
                Database.Pattern(expression: Self.literal(keyword), id: UInt32(rules.count + index), flags: flags))
        }
        return patterns
    }

    /// Per named pass among `passes`: the rules whose patterns its database holds.
    static func namedRules(_ rules: [Rule], gates: [Gate], passes: some Sequence<Pass>) -> [Pass: [Int]] {
        var named: [Pass: [Int]] = [:]
        for pass in passes where pass == .pythonTextNamed || pass == .statementsNamed {
            named[pass] = rules.indices.filter { index in
                guard case .pattern = gates[index] else { return false }
                return pass.reads(rules[index])
            }
        }
        return named
    }

    /// Numbers the parts of the rules in `partGates` in rule order: each rule's first part, and each part's rule.
    static func numberParts(_ partGates: [Int: [Gate]]) -> (firstPart: [Int: Int], partOwner: [Int]) {
        var firstPart: [Int: Int] = [:]
        var partOwner: [Int] = []
        for (rule, gates) in partGates.sorted(by: { $0.key < $1.key }) {
            firstPart[rule] = partOwner.count
            partOwner += Array(repeating: rule, count: gates.count)
        }
        return (firstPart, partOwner)
    }

    /// A prefilter that gates nothing: every rule runs on every blob. For when Hyperscan itself fails.
    init(ungated rules: [Rule], reason: String) {
        ruleCount = rules.count
        passDatabases = [:]
        namedRules = [:]
        isGating = false
        gates = Array(repeating: .always, count: rules.count)
        rejections = Dictionary(uniqueKeysWithValues: rules.indices.map { ($0, reason) })
        (keywords, ruleKeywords, joinGates) = Self.indexKeywords(rules)
        partGates = [:]
        firstPart = [:]
        partOwner = []
        wasCached = false
    }

    /// The distinct keywords of `rules`, and the pieces of blank keywords of `statements` rules; each rule's
    /// keywords as indices into them; the ``joinGates``.
    static func indexKeywords(_ rules: [Rule]) -> (
        keywords: [String], ruleKeywords: [[Int]], joinGates: [Int: [[Int]]]
    ) {
        var keywordIndex: [String: Int] = [:]
        var keywords: [String] = []
        func index(_ keyword: String) -> Int {
            if let index = keywordIndex[keyword] { return index }
            keywordIndex[keyword] = keywords.count
            keywords.append(keyword)
            return keywords.count - 1
        }
        let ruleKeywords = rules.map { $0.keywords.map(index) }
        var joinGates: [Int: [[Int]]] = [:]
        for (rule, indices) in zip(rules.indices, ruleKeywords) where rules[rule].view == .statements {
            guard !indices.isEmpty else { continue }
            joinGates[rule] = zip(rules[rule].keywords, indices).map { keyword, keywordIndex in
                guard keyword.contains(where: \.isWhitespace) else { return [keywordIndex] }
                // All blanks: no piece to look for, so every file may be worth joining (an empty set always holds).
                return keyword.split(whereSeparator: \.isWhitespace).map { index(String($0)) }
            }
        }
        return (keywords, ruleKeywords, joinGates)
    }

    static let patternFlags: PatternFlags = [.prefilter, .allowEmpty]

    /// The gate of a rule whose pattern is not in the database: its keywords, with how wide a match can be when
    /// Hyperscan can tell even so (its compiler may refuse what its parser measures), else every blob.
    static func keptOutGate(_ rule: Rule) -> Gate {
        guard !rule.keywords.isEmpty else { return .always }
        return .keywords(maxWidth: (try? ExpressionInfo(rule.pattern, flags: patternFlags))?.maxWidth)
    }

    /// Why a rule with `hyperscan: false` is not in the database.
    static let keptOut = "kept out of Hyperscan by the rule pack (`hyperscan: false`)"

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
        add("shardscan-prefilter/9")
        add(hyperscanVersion)
        add(String(patternFlags.rawValue))
        for rule in rules {
            add(rule.pattern)
            // What decides which pass databases hold the pattern.
            add(Pass.allCases.map { $0.reads(rule) ? "r" : "-" }.joined())
            add(rule.keywords.isEmpty ? "-" : "k")
            add(rule.hyperscan ? "h" : "-")
            for part in rule.cooccurrence?.parts ?? [] {
                add((part.hyperscan ? "part " : "kept-out part ") + part.pattern)
            }
        }
        for keyword in keywords { add(keyword) }
        return lowercaseHex(hasher.finalize().prefix(16))
    }

    struct CacheMetadata: Codable {
        var gates: [Gate]
        var rejections: [Int: String]
        var partGates: [Int: [Gate]]
        /// The passes with a database of their own (``Pass`` raw values).
        var passes: [String]
    }

    /// Compiles each set of patterns into a database, the sets side by side on their own threads: a pack's
    /// passes cost about what its largest one does, not their sum.
    static func compile(_ sets: [[Database.Pattern]]) -> [Result<Database, HyperscanError>] {
        sets.concurrentMap { patterns in Result { () throws(HyperscanError) in try Database(patterns: patterns) } }
    }

    /// Where one prefilter's files are kept in a cache directory.
    struct CachePaths {
        var metadata: String
        var passes: [Pass: String]

        init(directory: String, key: String) {
            func file(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
            metadata = file("prefilter-\(key).json")
            passes = Dictionary(
                uniqueKeysWithValues: Pass.allCases.map { ($0, file("prefilter-\(key)-\($0.rawValue).hsdb")) })
        }
    }

    /// The pass databases `names` lists, read from the cache side by side; `nil` when one is missing or
    /// unreadable.
    static func readPassDatabases(_ names: [String], _ paths: CachePaths) -> [Pass: Database]? {
        let passes = names.compactMap(Pass.init(rawValue:))
        guard passes.count == names.count else { return nil }
        let files = passes.map { paths.passes[$0]! }
        var databases: [Pass: Database] = [:]
        for (pass, database) in zip(passes, files.concurrentMap(readDatabase)) {
            guard let database else { return nil }
            databases[pass] = database
        }
        return databases
    }

    static func readMetadata(_ path: String) -> CacheMetadata? {
        guard let bytes = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(CacheMetadata.self, from: bytes)
    }

    static func readDatabase(_ path: String) -> Database? {
        guard let bytes = FileManager.default.contents(atPath: path) else { return nil }
        return try? Database(serialized: [UInt8](bytes))
    }

    /// Writes each file under a temporary name and renames it, so a reader never sees half a file; the
    /// metadata last, so that a reader who finds it finds the databases it lists.
    static func writeCache(passDatabases: [Pass: Database], metadata: CacheMetadata, to paths: CachePaths) {
        guard let metadataBytes = try? JSONEncoder().encode(metadata) else { return }
        var files: [(String, Data)] = []
        for (pass, passDatabase) in passDatabases.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let passBytes = try? passDatabase.serialized() else { return }
            files.append((paths.passes[pass]!, Data(passBytes)))
        }
        files.append((paths.metadata, metadataBytes))
        let directory = (paths.metadata as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (path, data) in files {
            let temporary = path + ".\(getpid()).tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
            guard rename(temporary, path) == 0 else {
                unlink(temporary)
                return
            }
        }
    }

    /// How many prefilters a cache directory keeps: each rule pack edit makes a new one (some 5 MB for the shipped
    /// packs), so a rule author's cache would otherwise grow without end.
    static let cacheEntriesKept = 8

    /// Removes the files of all but the ``cacheEntriesKept`` most recently written or used prefilters in
    /// `directory`. A reader that loses an entry to a pruning in another process compiles it again.
    static func pruneCache(_ directory: String) {
        let fileManager = FileManager.default
        guard let names = try? fileManager.contentsOfDirectory(atPath: directory) else { return }
        let entries = names.filter { $0.hasPrefix("prefilter-") && $0.hasSuffix(".json") }.map { name in
            let path = (directory as NSString).appendingPathComponent(name)
            let used = (try? fileManager.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            return (prefix: String(name.dropLast(".json".count)), used: used)
        }
        guard entries.count > cacheEntriesKept else { return }
        let stale = entries.sorted { $0.used > $1.used }.dropFirst(cacheEntriesKept).map(\.prefix)
        for name in names where stale.contains(where: { name == $0 + ".json" || name.hasPrefix($0 + "-") }) {
            try? fileManager.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
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
