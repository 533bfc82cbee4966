import FuzzSupport
import ShardScanCore

// RedactedSnippet on arbitrary buffers and secret positions. The input gives up to four secret ranges and the
// buffer; every byte inside a secret range becomes `Z`, every `Z` outside one becomes `Y`, so a `Z` in the output
// can only come from a secret. The first range is the finding's own, its snippet cut as the matcher cuts it (up
// to 60 bytes either side, within the line), decoded with U+FFFD like the matcher does. Invariants:
// - without showSecrets, a secret finding's snippet holds no more `Z` than redact() keeps of its own secret
//   (none of any other), a content finding's none at all; the shown match of a secret is redact(secret);
// - with showSecrets, the snippet is before + match + after, untouched.

func fuzz(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard input.count >= 6 else { return 0 }
    let isContent = input[0] & 0x80 != 0
    let spanCount = Int(input[0] & 0x03) + 1
    let header = 1 + 2 * spanCount
    guard input.count > header + 1 else { return 0 }
    var buffer = Array(input[header...])
    let count = buffer.count
    var ranges: [Range<Int>] = []
    for index in 0..<spanCount {
        let start = Int(input[1 + 2 * index]) % count
        let length = Int(input[2 + 2 * index]) % 50 + 1
        ranges.append(start..<min(count, start + length))
    }
    for index in buffer.indices where buffer[index] == UInt8(ascii: "Z") { buffer[index] = UInt8(ascii: "Y") }
    for (index, range) in ranges.enumerated() where !(isContent && index == 0) {
        for offset in range { buffer[offset] = UInt8(ascii: "Z") }
    }
    let own = ranges[0]
    let newline = UInt8(ascii: "\n")
    var lineStart = own.lowerBound
    while lineStart > 0 && buffer[lineStart - 1] != newline { lineStart -= 1 }
    let snippetStart = max(lineStart, own.lowerBound - 60)
    var lineEnd = own.upperBound
    while lineEnd < count && lineEnd < own.upperBound + 60 && buffer[lineEnd] != newline
        && buffer[lineEnd] != UInt8(ascii: "\r")
    {
        lineEnd += 1
    }
    let before = String(decoding: buffer[snippetStart..<own.lowerBound], as: UTF8.self)
    let match = String(decoding: buffer[own], as: UTF8.self)
    let after = String(decoding: buffer[own.upperBound..<lineEnd], as: UTF8.self)
    let secretRanges = isContent ? Array(ranges.dropFirst()) : ranges
    let masks = secretRanges.map { SecretMask(range: $0, text: String(decoding: buffer[$0], as: UTF8.self)) }
    let kind: RuleKind = isContent ? .content : .secret

    let shown = RedactedSnippet(
        before: before, match: match, after: after, range: own, kind: kind, secrets: masks, showSecrets: false)
    let zs = shown.snippet.utf8.filter { $0 == UInt8(ascii: "Z") }.count
    if isContent {
        require(zs == 0, "a secret shows in a content snippet: \(String(reflecting: shown.snippet)) ranges \(ranges)")
    } else {
        require(shown.match == redact(match), "own secret shown as \(String(reflecting: shown.match))")
        let kept = redact(match).utf8.filter { $0 == UInt8(ascii: "Z") }.count
        require(zs <= kept, "a secret shows in the snippet: \(String(reflecting: shown.snippet)) ranges \(ranges)")
    }
    let full = RedactedSnippet(
        before: before, match: match, after: after, range: own, kind: kind, secrets: masks, showSecrets: true)
    require(full.snippet == before + match + after && full.match == match, "showSecrets changed the snippet")
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(UnsafeBufferPointer(start: data, count: size))
}

@main
enum FuzzRedactionMain {
    static func main() { runLibFuzzer(testOneInput) }
}
