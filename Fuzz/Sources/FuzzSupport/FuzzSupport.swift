import CLibFuzzer
import Foundation
import ShardScanCore
import ShardScanEngine

#if canImport(Glibc)
    import Glibc
#endif

/// Writes `text` and a newline to standard error.
public func eprint(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Stops the fuzzer with a message when an invariant does not hold. `abort()` makes libFuzzer report a
/// crash and keep the input (`crash-<sha1>`), like a Swift trap would.
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    guard !condition() else { return }
    eprint("fuzz invariant failed at \(file):\(line): \(message())")
    abort()
}

/// Whether the UTF-8 bytes of `needle` occur in those of `haystack`. Not `String.contains`: Foundation's version
/// (visible wherever Foundation is imported) compares like NSString, which skips NUL characters, so "prefix"
/// would "contain" "x\0\0".
public func containsBytes(_ haystack: String, _ needle: String) -> Bool {
    let hay = Array(haystack.utf8)
    let pin = Array(needle.utf8)
    guard !pin.isEmpty else { return true }
    guard hay.count >= pin.count else { return false }
    return (0...(hay.count - pin.count)).contains { hay[$0..<($0 + pin.count)].elementsEqual(pin) }
}

/// Hands the process to libFuzzer, which calls `testOneInput` with each input (`LLVMFuzzerRunDriver`). Every
/// target's `@main` calls this with its `LLVMFuzzerTestOneInput`; libFuzzer reads its flags from the command line.
public func runLibFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}

/// The rule packs the matcher target scans with: `$SHARDSCAN_RULES`, else the `Rules` folder of the checkout the
/// fuzz binary was built in (found by walking up from the executable), else `nil`.
public func shippedRulesFolder() -> String? {
    if let folder = ProcessInfo.processInfo.environment["SHARDSCAN_RULES"], !folder.isEmpty { return folder }
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<8 {
        let candidate = folder.appendingPathComponent("Rules")
        if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("README.md").path) {
            return candidate.path
        }
        folder.deleteLastPathComponent()
    }
    return nil
}

/// A small pack for when no `Rules` folder is found. Patterns follow the documented token shapes; the examples
/// are made up.
public let embeddedRulePack = #"""
    rules:
      - id: fuzz.github-classic
        name: GitHub token (classic), embedded fuzz pack
        pattern: '\b(?<secret>gh[pousr]_[A-Za-z0-9]{36})\b'
        validate: github-checksum
        on_invalid: lower-confidence
        keywords: [ghp_, gho_, ghu_, ghs_, ghr_]
        confidence: high
        examples: ['t = "ghp_000000000000000000000000000000000000"']
        negative_examples: ['t = "ghp_"']
      - id: fuzz.pypi-token
        name: PyPI token, embedded fuzz pack
        pattern: '(?<![A-Za-z0-9_-])(?<secret>pypi-[A-Za-z0-9_-]{50,2000})(?![A-Za-z0-9_-])'
        validate: pypi-macaroon
        on_invalid: lower-confidence
        keywords: [pypi-]
        examples: ['p = pypi-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']
        negative_examples: ['p = pypi-']
      - id: fuzz.generic-assignment
        name: Generic secret assignment, embedded fuzz pack
        pattern: '(?i)(?:password|secret|token)\s*[:=]\s*["'']?(?<secret>[^\s"'']{8,64})'
        min_entropy: 3.0
        keywords: [password, secret, token]
        stopwords: [example]
        allow: ['^\$\{']
        allow_context: ['os\.environ']
        paths:
          exclude: ['*.md']
        confidence: low
        examples: ['password = "Zq8vR2mX7pL4"']
        negative_examples: ['password = os.environ["P"]']
      - id: fuzz.private-key
        name: Private key block, embedded fuzz pack
        pattern: '(?s)(?<secret>-----BEGIN [A-Z ]*PRIVATE KEY-----.{16,4096}?-----END [A-Z ]*PRIVATE KEY-----)'
        keywords: ['PRIVATE KEY-----']
        examples: ["-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----"]
        negative_examples: ['-----BEGIN PUBLIC KEY-----']
    """#
