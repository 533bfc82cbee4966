import Hyperscan
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

/// Runs a ``RuleSet`` over byte buffers. One per thread: it owns PCRE2 match scratch and Hyperscan scratch.
///
/// One Hyperscan pass finds where each rule's pattern may match and where its keywords are; PCRE2 then
/// runs only for rules with candidates, only over the bytes around them.
public final class Matcher {
    public let ruleSet: RuleSet
    private let scratch: MatchScratch
    /// Large enough for every database of the prefilter.
    private let hyperscanScratch: Scratch?
    private let useJIT: Bool
    /// Reused across scans: candidate end offsets per rule and per keyword, in ascending order.
    private var ruleHits: [[Int]]
    private var keywordHits: [[Int]]
    /// Per co-occurrence part in the database (see ``Prefilter/partGates``).
    private var partHits: [[Int]]
    private var touchedRules: [Int] = []
    private var touchedKeywords: [Int] = []
    private var touchedParts: [Int] = []
    private let ungatedRules: [Int]
    /// Per distinct `paths` of the rule set (``RuleSet/pathFilters``), whether it admits the file being scanned:
    /// 0 not asked yet, 1 yes, 2 no. Asked of many rules per file, and a glob match cost more than the rest of
    /// deciding which rules run.
    private var admission: [UInt8]
    private var admissionPath: String?
    /// What each rule and each per-file stage cost so far; `nil` unless made with `profiling: true`, and then
    /// the only cost of profiling is reading the clock.
    public private(set) var profile: RuleProfile?

    /// Bytes either side of a match in which one of a rule's keywords must occur.
    public static let keywordWindow = 256
    /// Bytes of context kept either side of a secret in a snippet, within its line.
    public static let snippetContext = 60
    /// Bytes PCRE2 may look at past the last candidate end of a region, for lookaheads.
    static let lookaheadSlack = 256

    /// - Parameters:
    ///   - limits: PCRE2 limits for each match call.
    ///   - useJIT: `false` runs the interpreter, whose step counts are exact (for budgets in `rules check`).
    ///   - profiling: keep a ``profile`` of what each rule costs.
    public init(ruleSet: RuleSet, limits: MatchLimits = .scanning, useJIT: Bool = true, profiling: Bool = false) {
        self.ruleSet = ruleSet
        self.scratch = MatchScratch(limits: limits)
        let databases = Array(ruleSet.prefilter.passDatabases.values)
        self.hyperscanScratch = databases.isEmpty ? nil : try? Scratch(for: databases)
        self.useJIT = useJIT
        self.ruleHits = Array(repeating: [], count: ruleSet.rules.count)
        self.keywordHits = Array(repeating: [], count: ruleSet.prefilter.keywords.count)
        self.partHits = Array(repeating: [], count: ruleSet.prefilter.partOwner.count)
        self.ungatedRules = ruleSet.prefilter.ungatedRules()
        self.admission = Array(repeating: 0, count: ruleSet.pathFilters.count)
        self.profile = profiling ? RuleProfile(ruleIDs: ruleSet.rules.map(\.rule.id)) : nil
    }

    /// Whether rule `index`'s `paths` admit the file at `path`, each distinct filter matched once per file.
    private func admits(_ index: Int, _ path: String?) -> Bool {
        guard let path else { return true }
        if path != admissionPath {
            for filter in admission.indices { admission[filter] = 0 }
            admissionPath = path
        }
        let filter = ruleSet.pathFilterOfRule[index]
        if admission[filter] == 0 { admission[filter] = ruleSet.pathFilters[filter].admits(path) ? 1 : 2 }
        return admission[filter] == 1
    }

    /// The clock when profiling, else 0 (and no clock read).
    private func clock() -> UInt64 { profile == nil ? 0 : RuleProfile.now() }

    /// Scans `bytes` (any bytes: not necessarily UTF-8) as the file at `path` inside its release;
    /// `path` decides which rules apply, `nil` applies all. `onlyRule` limits the scan to one rule index.
    ///
    /// Text with a UTF-16 or UTF-32 byte-order mark is transcoded to UTF-8 first. Its findings keep the
    /// blob's own places: `start`/`end` are byte offsets into the blob, `line` counts the blob's lines, and
    /// columns are 1-based byte offsets within the line in the blob's encoding (so `column` 3 of a UTF-16 line
    /// is its second character); secrets and snippets are UTF-8.
    public func scan(_ bytes: UnsafeRawBufferPointer, path: String?, onlyRule: Int? = nil) -> ScanOutcome {
        scan(bytes, path: path, subset: onlyRule.map { RuleSubset([$0], of: ruleSet.rules.count) })
    }

    private func scan(_ bytes: UnsafeRawBufferPointer, path: String?, subset onlyRule: RuleSubset?) -> ScanOutcome {
        let started = clock()
        defer {
            if profile != nil {
                profile!.files += 1
                profile!.bytes += bytes.count
                profile!.nanoseconds += RuleProfile.now() &- started
            }
        }
        guard let form = UnicodeForm.detect(bytes) else { return scanUTF8(bytes, path: path, onlyRule: onlyRule) }
        let text = DecodedText(bytes, form: form)
        profile?.add(.transcode, bytes: bytes.count, since: started)
        var outcome = text.bytes.withUnsafeBytes { scanUTF8($0, path: path, onlyRule: onlyRule) }
        let findings = outcome.findings
        guard !findings.isEmpty else { return outcome }
        // Lines are the same in both encodings; columns are re-measured from each line's start in the blob.
        let (starts, ends) = text.originalOffsets(
            starts: findings.map(\.start) + findings.map { $0.start - ($0.column - 1) }
                + findings.map { $0.end - ($0.endColumn - 1) },
            ends: findings.map(\.end), in: bytes)
        let count = findings.count
        for index in findings.indices {
            outcome.findings[index].start = starts[index]
            outcome.findings[index].end = ends[index]
            outcome.findings[index].column = starts[index] - starts[count + index] + 1
            outcome.findings[index].endColumn = ends[index] - starts[2 * count + index] + 1
        }
        return outcome
    }

    /// Scans UTF-8 (or ASCII-compatible) bytes; JSON files with their string escapes decoded, Python
    /// source also as logical statements for the rules that read that view.
    private func scanUTF8(_ bytes: UnsafeRawBufferPointer, path: String?, onlyRule: RuleSubset?) -> ScanOutcome {
        var outcome: ScanOutcome
        var statementsWanted = false
        let started = clock()
        if JSONUnescaper.applies(to: path), let decoded = DecodedText(json: bytes) {
            profile?.add(.jsonView, bytes: bytes.count, since: started)
            outcome = decoded.bytes.withUnsafeBytes {
                matchRules($0, path: path, onlyRule: onlyRule, view: nil, statementsWanted: &statementsWanted)
            }
            Self.mapBack(&outcome.findings, through: decoded, in: bytes)
        } else if ruleSet.hasStatementRules, PythonStatementJoiner.applies(to: path),
            onlyRule.map({ $0.indices.contains { ruleSet.rules[$0].rule.view == .statements } }) ?? true
        {
            // Rules on the stored text first; that pass also tells whether a statement rule can match at all
            // (its keywords survive the joining, so a file without them is skipped, and never joined).
            outcome = matchRules(
                bytes, path: path, onlyRule: onlyRule, view: .text, statementsWanted: &statementsWanted)
            let joining = clock()
            if statementsWanted, let statements = DecodedText(pythonStatements: bytes) {
                profile?.add(.statementView, bytes: bytes.count, since: joining)
                var joined = statements.bytes.withUnsafeBytes {
                    var unused = false
                    return matchRules($0, path: path, onlyRule: onlyRule, view: .statements, statementsWanted: &unused)
                }
                Self.mapBack(&joined.findings, through: statements, in: bytes)
                // Evidence is the code as the file holds it (line breaks, indentation, comments), so that a
                // finding's text is the bytes of its range, as every other view's is.
                for index in joined.findings.indices {
                    let finding = joined.findings[index]
                    joined.findings[index].secret = String(
                        decoding: UnsafeRawBufferPointer(rebasing: bytes[finding.start..<finding.end]), as: UTF8.self)
                    for part in finding.parts.indices {
                        let range = finding.parts[part].start..<finding.parts[part].end
                        let cut = range.lowerBound..<min(range.upperBound, range.lowerBound + FindingPart.maxText)
                        joined.findings[index].parts[part].text = String(
                            decoding: UnsafeRawBufferPointer(rebasing: bytes[cut]), as: UTF8.self)
                    }
                }
                outcome.findings += joined.findings
                outcome.failures += joined.failures
            } else if statementsWanted {
                // Joining changes nothing (no comment, no statement over lines): the statements are the text.
                profile?.add(.statementView, bytes: bytes.count, since: joining)
                var unused = false
                let joined = matchRules(
                    bytes, path: path, onlyRule: onlyRule, view: .statements, statementsWanted: &unused)
                outcome.findings += joined.findings
                outcome.failures += joined.failures
            }
        } else {
            outcome = matchRules(bytes, path: path, onlyRule: onlyRule, view: nil, statementsWanted: &statementsWanted)
        }
        if outcome.findings.count > 1 { outcome.findings = Self.preferSpecific(outcome.findings, ruleSet: ruleSet) }
        if !outcome.findings.isEmpty {
            let locating = clock()
            locate(&outcome.findings, in: bytes)
            Self.locateParts(&outcome.findings, in: bytes)
            profile?.add(.locate, bytes: bytes.count, since: locating)
        }
        return outcome
    }

    /// Moves findings (and their parts) found in `decoded` to the places they came from in `original`.
    static func mapBack(_ findings: inout [Finding], through decoded: DecodedText, in original: UnsafeRawBufferPointer)
    {
        guard !findings.isEmpty else { return }
        let parts = findings.flatMap(\.parts)
        let (starts, ends) = decoded.originalOffsets(
            starts: findings.map(\.start) + parts.map(\.start), ends: findings.map(\.end) + parts.map(\.end),
            in: original)
        var next = findings.count
        for index in findings.indices {
            findings[index].start = starts[index]
            findings[index].end = ends[index]
            for part in findings[index].parts.indices {
                findings[index].parts[part].start = starts[next]
                findings[index].parts[part].end = ends[next]
                next += 1
            }
        }
    }

    /// Lines and columns of co-occurrence parts, and the facts that carry them into reports: `parts`
    /// (`name line:column` for each, in file order) and `part_<name>` (`line:column text`).
    static func locateParts(_ findings: inout [Finding], in bytes: UnsafeRawBufferPointer) {
        guard findings.contains(where: { !$0.parts.isEmpty }) else { return }
        var lineStarts = [0]
        for offset in 0..<bytes.count where bytes[offset] == UInt8(ascii: "\n") { lineStarts.append(offset + 1) }
        for index in findings.indices where !findings[index].parts.isEmpty {
            var summary: [String] = []
            for part in findings[index].parts.indices {
                let start = findings[index].parts[part].start
                var low = 0
                var high = lineStarts.count
                while low + 1 < high {
                    let middle = (low + high) / 2
                    if lineStarts[middle] <= start { low = middle } else { high = middle }
                }
                findings[index].parts[part].line = low + 1
                findings[index].parts[part].column = start - lineStarts[low] + 1
                let located = findings[index].parts[part]
                summary.append("\(located.name) \(located.line):\(located.column)")
                findings[index].facts["part_\(located.name)"] = "\(located.line):\(located.column) \(located.text)"
            }
            findings[index].facts["parts"] = summary.joined(separator: ", ")
        }
    }

    /// Runs the rules that read `view` (every rule when `nil`) over `bytes`; findings carry positions and
    /// secrets, not yet lines and snippets. When reading the stored text of a Python file (`view` is
    /// `.text`), sets `statementsWanted` when a statement rule's keyword gate is open.
    private func matchRules(
        _ bytes: UnsafeRawBufferPointer, path: String?, onlyRule: RuleSubset?, view: RuleView?,
        statementsWanted: inout Bool
    ) -> ScanOutcome {
        var outcome = ScanOutcome()
        // Secrets a rule's validator rejected (a `ghp_…` whose CRC-32 fails), and identifiers pair rules found
        // with their secrets: bytes other rules must not report (see `settle`).
        var rejected: [Range<Int>] = []
        var pairedIDs: [(range: Range<Int>, rule: String)] = []
        let prefilter = ruleSet.prefilter
        let prefiltering = clock()
        let gated = collectCandidates(bytes, pass: .reading(path, view: view), path: path)
        if profile != nil {
            profile!.add(.hyperscan, bytes: bytes.count, since: prefiltering)
            for index in touchedRules { profile!.rules[index].candidates += ruleHits[index].count }
        }
        defer { clearCandidates() }
        // Most blobs give most rules no candidate: only those with one (or no gate) are looked at further.
        var indices: [Int]
        if let onlyRule, onlyRule.indices.count == 1 {
            indices = onlyRule.indices
        } else if gated {
            indices = (touchedRules + ungatedRules).sorted()
            if let onlyRule { indices = indices.filter { onlyRule.mask[$0] } }
        } else {
            indices = onlyRule?.indices ?? Array(ruleSet.rules.indices)
        }
        if view == .text {
            // Asked of every Python file: reads no more of each statement rule than it needs.
            statementsWanted = ruleSet.statementRules.contains { index in
                guard onlyRule?.mask[index] ?? true, admits(index, path) else { return false }
                guard let gate = prefilter.joinGates[index] else { return true }
                return gate.contains { $0.allSatisfy { !keywordHits[$0].isEmpty } }
            }
        }
        var layout: StatementLayout?
        for index in indices {
            let compiled = ruleSet.rules[index]
            if let view, compiled.rule.view != view { continue }
            let keywordIndices = prefilter.ruleKeywords[index]
            if !keywordIndices.isEmpty && !keywordIndices.contains(where: { !keywordHits[$0].isEmpty }) { continue }
            guard admits(index, path) else { continue }
            if !compiled.parts.isEmpty {
                if gated, case .pattern = prefilter.gates[index], ruleHits[index].isEmpty { continue }
                // Where Hyperscan saw each part: a rule with a part that cannot match is skipped, and each
                // part is searched only around its own candidates.
                var partRegions = Array(repeating: [0..<bytes.count], count: compiled.parts.count)
                if gated, let first = prefilter.firstPart[index], let gates = prefilter.partGates[index] {
                    var anyFound = false
                    var missing = false
                    for (offset, part) in compiled.parts.enumerated() {
                        // Out of the database (`hyperscan: false`): it may match anywhere, the whole file is searched.
                        guard case .pattern(let maxWidth) = gates[offset] else {
                            if !part.required { anyFound = true }
                            continue
                        }
                        let hits = partHits[first + offset]
                        if hits.isEmpty {
                            if part.required { missing = true }
                            partRegions[offset] = []
                            continue
                        }
                        if !part.required { anyFound = true }
                        partRegions[offset] = Self.regions(ends: hits, maxWidth: maxWidth)
                    }
                    if missing || (!anyFound && compiled.parts.contains { !$0.required }) { continue }
                }
                if layout == nil, compiled.rule.cooccurrence?.scope != .file {
                    let laying = clock()
                    layout = StatementLayout(bytes, python: view == .statements)
                    profile?.add(.statementLayout, bytes: bytes.count, since: laying)
                }
                let started = clock()
                let before = outcome.findings.count
                do {
                    outcome.findings += try cooccurrences(compiled, in: bytes, regions: partRegions, layout: layout)
                } catch {
                    outcome.failures.append(RuleFailure(ruleID: compiled.rule.id, message: Self.describe(error)))
                }
                profile?.add(
                    rule: index, bytes: partRegions.joined().reduce(0) { $0 + $1.count },
                    findings: outcome.findings.count - before, since: started)
                continue
            }
            var regions = [0..<bytes.count]
            // How far past a region's end a match may reach.
            var reach = Self.lookaheadSlack
            switch prefilter.gates[index] {
            case .pattern(let maxWidth) where gated:
                guard !ruleHits[index].isEmpty else { continue }
                regions = Self.regions(ends: ruleHits[index], maxWidth: maxWidth)
            case .keywords(let maxWidth?):
                regions = keywordRegions(keywordIndices, maxWidth: maxWidth, count: bytes.count)
                reach += maxWidth
            default:
                break
            }
            let started = clock()
            let before = outcome.findings.count
            defer {
                if profile != nil {
                    let scanned = regions.reduce(0) {
                        $0 + min(bytes.count, $1.upperBound + reach) - $1.lowerBound
                    }
                    profile!.add(
                        rule: index, bytes: scanned, findings: outcome.findings.count - before, since: started)
                }
            }
            do {
                for match in try matches(of: compiled.regex, in: bytes, regions: regions, reach: reach) {
                    guard let secretRange = match.groups[compiled.secretGroup], !secretRange.isEmpty else { continue }
                    if !keywordIndices.isEmpty && !keywordNear(match.range, keywordIndices, count: bytes.count) {
                        continue
                    }
                    let secretBytes = UnsafeRawBufferPointer(rebasing: bytes[secretRange])
                    let entropy = shannonEntropy(secretBytes)
                    if let minimum = compiled.rule.minEntropy, entropy < minimum { continue }
                    if isAllowed(compiled, secretBytes, at: secretRange, in: bytes) { continue }
                    let secret = String(decoding: secretBytes, as: UTF8.self)
                    var confidence: Confidence?
                    var facts: [String: String] = [:]
                    if let validator = compiled.validator {
                        let validation = validator.validate(secret)
                        if !validation.isValid {
                            guard compiled.rule.onInvalid == .lowerConfidence else {
                                rejected.append(secretRange)
                                continue
                            }
                            confidence = .low
                        }
                        facts = validation.facts
                        facts["valid"] = validation.isValid ? "yes" : "no"
                    }
                    if let idGroup = compiled.idGroup, let idRange = match.groups[idGroup], !idRange.isEmpty {
                        pairedIDs.append((idRange, compiled.rule.id))
                        facts["pair"] = "identifier and secret"
                    }
                    outcome.findings.append(
                        Finding(
                            ruleID: compiled.rule.id, start: secretRange.lowerBound, end: secretRange.upperBound,
                            line: 0,
                            column: 0, endLine: 0, endColumn: 0, secret: secret, entropy: entropy, snippetBefore: "",
                            snippetAfter: "", confidence: confidence, facts: facts))
                }
            } catch {
                outcome.failures.append(RuleFailure(ruleID: compiled.rule.id, message: Self.describe(error)))
            }
        }
        if !rejected.isEmpty || !pairedIDs.isEmpty {
            outcome.findings = Self.settle(outcome.findings, rejected: rejected, pairedIDs: pairedIDs)
        }
        return outcome
    }

    /// Makes verdicts hold across rules. A validator's rejection is about the bytes, not the rule: a `ghp_…`
    /// token whose checksum fails is a made-up or mistyped value under any rule, so a generic rule
    /// (`token = "…"`) that matched the same bytes does not report it either, unless its own validator passed
    /// them. And an identifier a pair rule reported with its secret is part of that one finding, so a rule
    /// for the identifier alone does not report it a second time.
    static func settle(
        _ findings: [Finding], rejected: [Range<Int>], pairedIDs: [(range: Range<Int>, rule: String)]
    ) -> [Finding] {
        findings.filter { finding in
            let range = finding.start..<finding.end
            if finding.facts["valid"] != "yes" && rejected.contains(where: { $0.overlaps(range) }) { return false }
            return !pairedIDs.contains { $0.rule != finding.ruleID && $0.range.overlaps(range) }
        }
    }

    /// The findings of a co-occurrence rule: one per scope (statement, function or the file) in which every
    /// `all` part, and one `any` part when there are some, match. Each part is located at its first match
    /// in that scope; the finding's span is the earliest part's.
    /// `regions` per part: where its matches may start and end (see ``matches(of:in:regions:)``).
    private func cooccurrences(
        _ compiled: CompiledRule, in bytes: UnsafeRawBufferPointer, regions: [[Range<Int>]], layout: StatementLayout?
    ) throws(MatchError) -> [Finding] {
        let scope = compiled.rule.cooccurrence?.scope ?? .file
        /// Per scope key: the first match of each part.
        var firstMatches: [Int: [Int: Range<Int>]] = [:]
        var order: [Int] = []
        for (partIndex, part) in compiled.parts.enumerated() {
            for match in try matches(of: part.regex, in: bytes, regions: regions[partIndex], reach: Self.lookaheadSlack)
            where !match.range.isEmpty {
                let key: Int
                switch scope {
                case .file: key = 0
                case .statement: key = layout?.statement(at: match.range.lowerBound) ?? 0
                case .function: key = layout.map { $0.functions[$0.statement(at: match.range.lowerBound)] } ?? 0
                }
                if firstMatches[key] == nil { order.append(key) }
                if firstMatches[key, default: [:]][partIndex] == nil {
                    firstMatches[key, default: [:]][partIndex] = match.range
                }
            }
        }
        var findings: [Finding] = []
        for key in order.sorted() {
            let found = firstMatches[key] ?? [:]
            let parts = compiled.parts.enumerated()
            guard parts.allSatisfy({ !$0.element.required || found[$0.offset] != nil }) else { continue }
            let optional = parts.filter { !$0.element.required }
            if !optional.isEmpty && !optional.contains(where: { found[$0.offset] != nil }) { continue }
            let located = found.sorted { ($0.value.lowerBound, $0.key) < ($1.value.lowerBound, $1.key) }
            guard let first = located.first?.value else { continue }
            let evidence = UnsafeRawBufferPointer(rebasing: bytes[first])
            var finding = Finding(
                ruleID: compiled.rule.id, start: first.lowerBound, end: first.upperBound, line: 0, column: 0,
                endLine: 0, endColumn: 0, secret: String(decoding: evidence, as: UTF8.self),
                entropy: shannonEntropy(evidence), snippetBefore: "", snippetAfter: "")
            finding.parts = located.map { partIndex, range in
                let text = UnsafeRawBufferPointer(
                    rebasing: bytes[range.lowerBound..<min(range.upperBound, range.lowerBound + FindingPart.maxText)])
                return FindingPart(
                    name: compiled.parts[partIndex].name, start: range.lowerBound, end: range.upperBound,
                    text: String(decoding: text, as: UTF8.self))
            }
            findings.append(finding)
        }
        return findings
    }

    /// Fills ``ruleHits`` and ``keywordHits``, for the rules `pass` reads (see ``Prefilter/Pass``).
    /// Returns whether Hyperscan gated the rules; when it did not (no database, or the scan failed), every
    /// rule runs over the whole buffer and keyword hits come from a plain search.
    private func collectCandidates(_ bytes: UnsafeRawBufferPointer, pass: Prefilter.Pass, path: String?) -> Bool {
        let prefilter = ruleSet.prefilter
        if prefilter.isGating {
            var databases = prefilter.passDatabases[pass].map { [$0] } ?? []
            // A named pass's patterns only for the files its rules admit (`setup.py`, not every module).
            if let named = pass.named, let database = prefilter.passDatabases[named],
                prefilter.namedRules[named, default: []].contains(where: { admits($0, path) })
            {
                databases.append(database)
            }
            // Nothing this file's passes read is in Hyperscan: no rule gated by a pattern has a candidate here.
            guard !databases.isEmpty else { return true }
            if let hyperscanScratch {
                if databases.allSatisfy({ scanHits(bytes, database: $0, scratch: hyperscanScratch) }) { return true }
                clearCandidates()
            }
        }
        guard !prefilter.keywords.isEmpty else { return false }
        let lowered = asciiLowercased(bytes)
        for (index, keyword) in prefilter.keywords.enumerated() {
            let ends = lowered.ends(of: keyword)
            if !ends.isEmpty {
                keywordHits[index] = ends
                touchedKeywords.append(index)
            }
        }
        return false
    }

    /// One Hyperscan scan of `bytes` into the hit arrays; `false` when it failed (its partial hits are kept).
    ///
    /// The callback runs for every hit: it fills local arrays (moved out of the matcher and back, no copy),
    /// which it may change without the run-time exclusivity check every access to a class's stored property costs.
    private func scanHits(_ bytes: UnsafeRawBufferPointer, database: Database, scratch: Scratch) -> Bool {
        let prefilter = ruleSet.prefilter
        let ruleCount = UInt32(prefilter.ruleCount)
        let partBase = ruleCount + UInt32(prefilter.keywords.count)
        var local = HitArrays()
        exchangeHits(&local)
        defer { exchangeHits(&local) }
        do {
            try database.scan(bytes, scratch: scratch) { hit in
                if hit.id < ruleCount {
                    let index = Int(hit.id)
                    if local.rules[index].isEmpty { local.touchedRules.append(index) }
                    local.rules[index].append(hit.end)
                } else if hit.id >= partBase {
                    // A part's hit is also its rule's: the rule has a candidate.
                    let part = Int(hit.id - partBase)
                    if local.parts[part].isEmpty { local.touchedParts.append(part) }
                    local.parts[part].append(hit.end)
                    let index = prefilter.partOwner[part]
                    if local.rules[index].isEmpty { local.touchedRules.append(index) }
                    local.rules[index].append(hit.end)
                } else {
                    let index = Int(hit.id - ruleCount)
                    if local.keywords[index].isEmpty { local.touchedKeywords.append(index) }
                    local.keywords[index].append(hit.end)
                }
                return true
            }
            return true
        } catch {
            return false
        }
    }

    /// The hit arrays, to be moved out of the matcher and back (see ``scanHits(_:database:scratch:)``).
    private struct HitArrays {
        var rules: [[Int]] = []
        var keywords: [[Int]] = []
        var parts: [[Int]] = []
        var touchedRules: [Int] = []
        var touchedKeywords: [Int] = []
        var touchedParts: [Int] = []
    }

    /// Swaps the matcher's hit arrays with `other`'s; no array is copied.
    private func exchangeHits(_ other: inout HitArrays) {
        swap(&other.rules, &ruleHits)
        swap(&other.keywords, &keywordHits)
        swap(&other.parts, &partHits)
        swap(&other.touchedRules, &touchedRules)
        swap(&other.touchedKeywords, &touchedKeywords)
        swap(&other.touchedParts, &touchedParts)
    }

    private func clearCandidates() {
        for index in touchedRules { Self.clear(&ruleHits[index]) }
        for index in touchedKeywords { Self.clear(&keywordHits[index]) }
        for index in touchedParts { Self.clear(&partHits[index]) }
        touchedRules.removeAll(keepingCapacity: true)
        touchedKeywords.removeAll(keepingCapacity: true)
        touchedParts.removeAll(keepingCapacity: true)
    }

    /// Empties `hits`, keeping its storage for the next file unless one with many hits grew it past
    /// ``keptHitCapacity``: kept whatever their size, the arrays came to hold, per rule and keyword, room for the
    /// most hits any one file of the history had (1.3 MB a matcher on the large bench shard, 0.5 MB on the
    /// default one; 0.25 and 0.15 MB now).
    @inline(__always) static func clear(_ hits: inout [Int]) {
        if hits.capacity > keptHitCapacity { hits = [] } else { hits.removeAll(keepingCapacity: true) }
    }

    /// Hits an emptied array keeps room for (2 KB).
    static let keptHitCapacity = 256

    /// The byte ranges a match ending at one of `ends` can start and end in, merged.
    static func regions(ends: [Int], maxWidth: Int?) -> [Range<Int>] {
        guard let maxWidth else { return [0..<ends.last!] }
        return merged(ends.lazy.map { max(0, $0 - maxWidth)..<$0 })
    }

    /// `ranges`, in order of their starts, with those that overlap or touch made one.
    static func merged(_ ranges: some Sequence<Range<Int>>) -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for range in ranges {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// Where a match of a rule gated by its keywords alone can start: within ``keywordWindow`` bytes of one of
    /// the rule's keywords (see ``keywordNear(_:_:count:)``), so from `maxWidth` plus the window before a keyword's
    /// end to the window after its start; merged, in order.
    private func keywordRegions(_ keywordIndices: [Int], maxWidth: Int, count: Int) -> [Range<Int>] {
        var starts: [Range<Int>] = []
        for index in keywordIndices {
            let length = ruleSet.prefilter.keywords[index].utf8.count
            for end in keywordHits[index] {
                starts.append(
                    max(0, end - Self.keywordWindow - maxWidth)..<min(count, end - length + Self.keywordWindow))
            }
        }
        starts.sort { $0.lowerBound < $1.lowerBound }
        return Self.merged(starts)
    }

    /// PCRE2 matches of `regex` that start inside `regions`, without overlaps, in order; a match may end up to
    /// `reach` bytes past its region's end.
    private func matches(of regex: Regex, in bytes: UnsafeRawBufferPointer, regions: [Range<Int>], reach: Int)
        throws(MatchError) -> [Match]
    {
        var matches: [Match] = []
        var offset = 0
        for region in regions {
            offset = max(offset, region.lowerBound)
            let subject = UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, region.upperBound + reach)])
            while offset <= subject.count,
                let match = try regex.firstMatch(in: subject, from: offset, scratch: scratch, useJIT: useJIT)
            {
                guard match.range.lowerBound <= region.upperBound else { break }
                matches.append(match)
                let whole = match.range
                // An empty match would be found again at the same place; step over one byte.
                offset = whole.isEmpty ? whole.upperBound + 1 : whole.upperBound
            }
        }
        return matches
    }

    /// Whether one of the keywords lies wholly within ``keywordWindow`` bytes of `range`.
    private func keywordNear(_ range: Range<Int>, _ keywordIndices: [Int], count: Int) -> Bool {
        let windowStart = max(0, range.lowerBound - Self.keywordWindow)
        let windowEnd = min(count, range.upperBound + Self.keywordWindow)
        for index in keywordIndices {
            let ends = keywordHits[index]
            let length = ruleSet.prefilter.keywords[index].utf8.count
            // The first hit that starts inside the window.
            var low = 0
            var high = ends.count
            while low < high {
                let middle = (low + high) / 2
                if ends[middle] - length < windowStart { low = middle + 1 } else { high = middle }
            }
            if low < ends.count && ends[low] <= windowEnd { return true }
        }
        return false
    }

    /// Whether a stop-word or allow pattern (the rule's, or for secrets the global ones) marks the value
    /// as a placeholder or not a credential.
    private func isAllowed(
        _ compiled: CompiledRule, _ secret: UnsafeRawBufferPointer, at range: Range<Int>,
        in bytes: UnsafeRawBufferPointer
    ) -> Bool {
        if !compiled.stopwords.isEmpty {
            let lowered = asciiLowercased(secret)
            if compiled.stopwords.contains(where: { !lowered.ends(of: $0, limit: 1).isEmpty }) { return true }
        }
        for regex in compiled.allow
        where (try? regex.firstMatch(in: secret, scratch: scratch, useJIT: useJIT)) != nil {
            return true
        }
        guard !compiled.allowContext.isEmpty else { return false }
        let context = Self.lineContext(of: range, in: bytes)
        for regex in compiled.allowContext
        where
            (try? regex.firstMatch(
                in: UnsafeRawBufferPointer(rebasing: bytes[context]), scratch: scratch, useJIT: useJIT))
            != nil
        {
            return true
        }
        return false
    }

    /// The secret's line, cut to ``Rule/contextReach`` bytes either side of it.
    static func lineContext(of range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> Range<Int> {
        let newline = UInt8(ascii: "\n")
        var start = range.lowerBound
        let floor = max(0, range.lowerBound - Rule.contextReach)
        while start > floor && bytes[start - 1] != newline { start -= 1 }
        var end = range.upperBound
        let ceiling = min(bytes.count, range.upperBound + Rule.contextReach)
        while end < ceiling && bytes[end] != newline { end += 1 }
        return start..<end
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

    /// Some of a rule set's rules: their indices, ascending, and a mask for quick membership.
    struct RuleSubset {
        let indices: [Int]
        let mask: [Bool]

        init(_ indices: [Int], of count: Int) {
            var mask = Array(repeating: false, count: count)
            for index in indices where index >= 0 && index < count { mask[index] = true }
            self.mask = mask
            self.indices = mask.indices.filter { mask[$0] }
        }
    }

    /// Scans `text`'s UTF-8 bytes.
    public func scan(text: String, path: String?, onlyRule: Int? = nil) -> ScanOutcome {
        var copy = text
        return copy.withUTF8 { scan(UnsafeRawBufferPointer($0), path: path, onlyRule: onlyRule) }
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

    /// How many UTF-16 code units the UTF-8 bytes in `range` decode to: one per scalar, two for those past
    /// U+FFFF (4-byte sequences); a byte that is not valid UTF-8 decodes to one U+FFFD.
    static func utf16Units(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int {
        var units = 0
        for offset in range {
            let byte = bytes[offset]
            if byte & 0xC0 != 0x80 { units += byte >= 0xF0 && byte <= 0xF4 ? 2 : 1 }
        }
        return units
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
            finding.utf16Column = Self.utf16Units(bytes, startLineStart..<finding.start) + 1
            finding.utf16EndColumn = Self.utf16Units(bytes, endLineStart..<finding.end) + 1

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

extension Array where Element == UInt8 {
    /// The end offsets of the occurrences of lower-case `keyword` in this (lower-cased) buffer, in order;
    /// at most `limit` of them.
    func ends(of keyword: String, limit: Int = .max) -> [Int] {
        var needle = keyword
        return needle.withUTF8 { needleBytes in
            var ends: [Int] = []
            guard !needleBytes.isEmpty, needleBytes.count <= count else { return ends }
            withUnsafeBufferPointer { haystack in
                let base = haystack.baseAddress!
                let first = Int32(needleBytes[0])
                var cursor = base
                let last = base + count - needleBytes.count
                while cursor <= last && ends.count < limit {
                    guard let hit = memchr(cursor, first, last - cursor + 1) else { break }
                    let candidate = hit.assumingMemoryBound(to: UInt8.self)
                    if memcmp(candidate, needleBytes.baseAddress!, needleBytes.count) == 0 {
                        ends.append(UnsafePointer(candidate) - base + needleBytes.count)
                    }
                    cursor = UnsafePointer(candidate) + 1
                }
            }
            return ends
        }
    }
}
