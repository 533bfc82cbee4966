import FuzzSupport
import ShardScanCore
import ShardScanEngine

// Matcher.scan over arbitrary bytes, with the shipped rule packs compiled once (PCRE2 and the Hyperscan
// prefilter). The first byte picks the path the rules' `paths` filters see; the rest is the file.
// Invariants: every finding lies inside the input (0 <= start < end <= count) and its secret is those bytes;
// lines and columns are 1-based and the end does not come before the start; findings come sorted by start; a
// finding's rule exists and admits the path.

let paths: [String?] = [
    "setup.py", "x.pth", ".env", nil, "pkg/.pypirc", "docs/README.md", "src/pkg/settings.py", "tests/.env.example",
    "nb/explore.ipynb", "app/config.json",
]

nonisolated(unsafe) let matcher: Matcher = {
    let loaded: LoadedRules
    if let folder = shippedRulesFolder() {
        loaded = RulePackLoader.load(paths: [folder])
    } else {
        loaded = RulePackLoader.parse(embeddedRulePack, file: "<embedded fuzz pack>")
    }
    // The compiled prefilter is cached as `shardscan` caches it ($SHARDSCAN_CACHE, empty for none): compiling
    // every shipped pattern takes half a minute under ASan.
    let ruleSet = RuleSet(loaded, cacheDirectory: Prefilter.defaultCacheDirectory)
    for error in ruleSet.errors { eprint("rule error: \(error)") }
    eprint("FuzzMatcher: \(ruleSet.rules.count) rules from \(loaded.files.count) pack files")
    return Matcher(ruleSet: ruleSet)
}()

func fuzz(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard let first = input.first else { return 0 }
    let path = paths[Int(first) % paths.count]
    let body = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[1...])
    let outcome = matcher.scan(body, path: path)
    let count = body.count
    var previousStart = 0
    for finding in outcome.findings {
        let where_ = "\(finding.ruleID) at \(finding.start)..<\(finding.end) in \(count) bytes"
        require(0 <= finding.start && finding.start < finding.end && finding.end <= count, "range: \(where_)")
        require(finding.start >= previousStart, "findings out of order: \(where_)")
        previousStart = finding.start
        require(finding.line >= 1 && finding.column >= 1, "line \(finding.line) column \(finding.column): \(where_)")
        require(
            finding.endLine > finding.line || (finding.endLine == finding.line && finding.endColumn > finding.column),
            "end \(finding.endLine):\(finding.endColumn) before start \(finding.line):\(finding.column): \(where_)")
        // JSON files are matched with their string escapes decoded: there the secret is the decoded text.
        let decoded = path.map { $0.hasSuffix(".json") || $0.hasSuffix(".ipynb") } ?? false
        require(
            decoded || finding.secret == String(decoding: body[finding.start..<finding.end], as: UTF8.self),
            "secret is not the bytes of its range: \(where_)")
        guard let index = matcher.ruleSet.index(of: finding.ruleID) else {
            require(false, "unknown rule: \(where_)")
            continue
        }
        require(matcher.ruleSet.rules[index].rule.paths.admits(path), "rule does not admit \(path ?? "nil"): \(where_)")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(UnsafeBufferPointer(start: data, count: size))
}

@main
enum FuzzMatcherMain {
    static func main() {
        _ = matcher  // compile the rules before the first input, so that they do not count as a slow unit
        runLibFuzzer(testOneInput)
    }
}
