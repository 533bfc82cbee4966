import FuzzSupport
import ShardScanCore
import ShardScanEngine

// RulePackLoader.parse on arbitrary text (YAML through Yams), then RuleSet(loaded) (every pattern through PCRE2,
// all of them through the Hyperscan prefilter compiler, no cache). Input is capped at 4 KiB: Hyperscan's compile
// time grows fast with pattern size, and a rule pack's bugs show up in small packs.
// Invariants: nothing crashes; every diagnostic names this file; a rule is loaded only with every required field
// well-formed (valid id, non-empty name and pattern, a known validator, min_entropy in 0...8, no empty keyword);
// every compiled rule is a loaded rule; the prefilter has a gate per compiled rule. (Duplicate ids within one
// text are not checked by `parse`: `load` reports them, across and within files.)

let maximumInput = 4096

func fuzz(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard input.count <= maximumInput else { return -1 }  // -1: libFuzzer keeps it out of the corpus
    let text = String(decoding: input, as: UTF8.self)
    let file = "fuzz.yaml"
    let loaded = RulePackLoader.parse(text, file: file)
    for diagnostic in loaded.diagnostics {
        require(diagnostic.location.file == file, "diagnostic for another file: \(diagnostic)")
    }
    for rule in loaded.rules {
        require(Rule.isValidID(rule.id), "loaded a rule with a bad id \(String(reflecting: rule.id))")
        require(!rule.name.isEmpty && !rule.pattern.isEmpty, "loaded rule \(rule.id) without name or pattern")
        require(rule.validator.map(knownValidators.contains) ?? true, "loaded rule \(rule.id) with an unknown validator")
        require(rule.minEntropy.map { (0...8).contains($0) } ?? true, "loaded rule \(rule.id): min_entropy out of range")
        require(!rule.keywords.contains(""), "loaded rule \(rule.id) with an empty keyword")
    }
    let loadedIDs = loaded.rules.map(\.id)

    let ruleSet = RuleSet(loaded, cacheDirectory: nil)
    let ids = Set(loadedIDs)
    for compiled in ruleSet.rules {
        require(ids.contains(compiled.rule.id), "compiled rule \(compiled.rule.id) was not loaded")
    }
    require(ruleSet.rules.count <= loaded.rules.count, "more compiled rules than loaded")
    require(
        ruleSet.prefilter.gates.count == ruleSet.rules.count,
        "\(ruleSet.prefilter.gates.count) prefilter gates for \(ruleSet.rules.count) rules")
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(UnsafeBufferPointer(start: data, count: size))
}

@main
enum FuzzRuleLoaderMain {
    static func main() { runLibFuzzer(testOneInput) }
}
