import Foundation
import Git
import ShardScanCore
import ShardScanEngine
import ShardScanStore
import Testing

/// UTF-16 and UTF-32 text with a byte-order mark is transcoded, scanned and mapped back to the blob's own
/// lines, columns (bytes of the blob's encoding) and offsets; and decoding keeps no per-byte map.
@Suite struct UnicodeTextTests {
    /// `text` in `form`, after its byte-order mark.
    static func encode(_ text: String, _ form: UnicodeForm) -> [UInt8] {
        let units: [UInt32] =
            form.unitSize == 2
            ? ([0xFEFF] + text.utf16.map(UInt32.init)) : ([0xFEFF] + text.unicodeScalars.map(\.value))
        let littleEndian = form == .utf16LittleEndian || form == .utf32LittleEndian
        return units.flatMap { unit -> [UInt8] in
            let bytes = (0..<form.unitSize).map { UInt8(truncatingIfNeeded: unit >> (8 * $0)) }
            return littleEndian ? bytes : bytes.reversed()
        }
    }

    /// A Python file whose token sits after characters of every UTF-16 length, on its third line.
    static func source(token: String) -> (text: String, beforeToken: String) {
        let before = "# café ☕ 𝄞\nx = 1\n"
        let linePrefix = "π = '𝄞'; TOKEN = '"
        return (before + linePrefix + token + "'  # é\n", linePrefix)
    }

    /// The encoded length of `text` in `form`, without a mark.
    static func length(_ text: String, _ form: UnicodeForm) -> Int { encode(text, form).count - form.unitSize }

    @Test(arguments: UnicodeForm.allCases)
    func aTokenInUnicodeTextIsFoundAtItsOwnPlace(form: UnicodeForm) throws {
        var fake = FakeCredentials(seed: 7)
        let token = fake.githubToken(prefix: "ghp_")
        let (text, linePrefix) = Self.source(token: token)
        let bytes = Self.encode(text, form)
        let ruleSet = RuleSet(LoadedRules(yaml: MirrorFixture.rules, file: "fixture.yaml"))
        let outcome = bytes.withUnsafeBytes { Matcher(ruleSet: ruleSet).scan($0, path: "acme/settings.py") }
        let finding = try #require(outcome.findings.first)
        #expect(outcome.findings.count == 1)
        #expect(finding.secret == token)
        #expect(finding.line == 3)
        #expect(finding.endLine == 3)
        #expect(finding.column == Self.length(linePrefix, form) + 1)
        #expect(finding.endColumn == Self.length(linePrefix + token, form) + 1)
        let start = form.unitSize + Self.length("# café ☕ 𝄞\nx = 1\n" + linePrefix, form)
        #expect(finding.start == start)
        #expect(finding.end == start + Self.length(token, form))
        #expect(finding.snippetBefore == linePrefix)
        #expect(finding.snippetAfter == "'  # é")
    }

    @Test(arguments: [UnicodeForm.utf16LittleEndian, .utf16BigEndian])
    func theScanPipelineReadsUTF16InsteadOfSkippingItAsBinary(form: UnicodeForm) throws {
        let mirror = try MirrorFixture()
        let token = mirror.githubToken()
        let (text, linePrefix) = Self.source(token: token)
        try mirror.createShard("pypi-mirror-1")
        let repository = try Repository(at: mirror.shardPath("pypi-mirror-1"))
        let blob = try repository.writeBlob(Self.encode(text, form))
        // UTF-16 without a mark stays binary: nothing tells it from any other bytes with NULs.
        let unmarked = try repository.writeBlob(Array(Self.encode(text, form).dropFirst(2)))
        try repository.commit(
            files: [
                (path: "packages/acme/acme-1.0.tar.gz/acme-1.0/acme/settings.py", blob: blob),
                (path: "packages/acme/acme-1.0.tar.gz/acme-1.0/acme/unmarked.py", blob: unmarked),
            ], parent: nil, message: "release",
            author: Signature(name: "m", email: "m@x.invalid", time: 1_700_000_000), reference: "refs/heads/code")
        let (summary, warnings) = try mirror.scan()
        #expect(warnings.isEmpty)
        #expect(summary.counters.blobsBinary == 1)
        let rows = try mirror.findings()
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.secret == token)
        #expect(row.path == "acme-1.0/acme/settings.py")
        #expect(row.line == 3)
        #expect(row.column == Self.length(linePrefix, form) + 1)
    }

    @Test func aLatin1FileThatBeginsLikeAByteOrderMarkStaysAsItIs() throws {
        var fake = FakeCredentials(seed: 9)
        let token = fake.githubToken(prefix: "ghp_")
        let bytes: [UInt8] = [0xFF, 0xFE] + Array(" k = '\(token)'\n".utf8)
        #expect(bytes.withUnsafeBytes { UnicodeForm.detect($0) } == nil)
        let ruleSet = RuleSet(LoadedRules(yaml: MirrorFixture.rules, file: "fixture.yaml"))
        let outcome = bytes.withUnsafeBytes { Matcher(ruleSet: ruleSet).scan($0, path: "x.py") }
        #expect(outcome.findings.map(\.column) == [9])
    }

    @Test func malformedUnitsBecomeReplacementCharactersMappedToTheirBytes() throws {
        // A lone low surrogate, a high one not followed by a low one, then "ab" and a trailing odd byte.
        let bytes: [UInt8] = [0xFF, 0xFE, 0x00, 0xDC, 0x00, 0xD8, 0x61, 0x00, 0x62, 0x00, 0x7A]
        try bytes.withUnsafeBytes { original in
            let form = try #require(UnicodeForm.detect(original))
            let text = DecodedText(original, form: form)
            #expect(String(decoding: text.bytes, as: UTF8.self) == "\u{FFFD}\u{FFFD}ab\u{FFFD}")
            // Starts of each character, and the end of the text.
            let (starts, ends) = text.originalOffsets(starts: [0, 3, 6, 7, 8], ends: [3, 6, 7, 8, 11], in: original)
            #expect(starts == [2, 4, 6, 8, 10])
            #expect(ends == [4, 6, 8, 10, 11])
        }
    }

    @Test func jsonDecodingMapsEscapesAndSkippedNotebookPunctuation() throws {
        let json = Array(#"["a\"b\n",\n  "c\u00e9d"]"#.replacingOccurrences(of: "\\n  ", with: "\n  ").utf8)
        try json.withUnsafeBytes { original in
            let text = try #require(DecodedText(json: original))
            #expect(String(decoding: text.bytes, as: UTF8.self) == "[\"a\"b\nc\u{e9}d\"]")
            // `"` from `\"` at 3, `\n` at 6 (with `",⏎  "` skipped, to 14), `é` (two bytes) from `\u00e9` at 15.
            let (starts, ends) = text.originalOffsets(
                starts: [0, 2, 3, 5, 6, 7, 8, 9], ends: [3, 5, 6, 8, 9], in: original)
            #expect(starts == [0, 2, 3, 6, 14, 15, 15, 21])
            #expect(ends == [3, 6, 14, 21, 21])
        }
    }

    /// Random bytes in every form, and random JSON-ish text: every decoded offset maps inside the input,
    /// starts never decrease, a non-empty range never maps to an empty one, and transcoded offsets fall on
    /// code-unit boundaries (the `decoding` fuzz target checks the same, and more, for longer).
    @Test func offsetsMapInsideInOrderAndOnUnitBoundaries() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let alphabet = Array(#"ab\"nu0e9,d8 "#.utf8) + [0x0A, 0x00, 0xD8, 0xDC, 0xFF]
        for round in 0..<400 {
            let body = (0..<Int(next() % 64)).map { _ in
                round % 2 == 0 ? next() : alphabet[Int(next()) % alphabet.count]
            }
            for form in [UnicodeForm?.none] + UnicodeForm.allCases.map(Optional.some) {
                let original = (form?.byteOrderMark ?? []) + body
                original.withUnsafeBytes { bytes in
                    let text = form.map { DecodedText(bytes, form: $0) } ?? DecodedText(json: bytes)
                    guard let text else { return }
                    let offsets = Array(0...text.bytes.count)
                    let (starts, ends) = text.originalOffsets(starts: offsets, ends: offsets, in: bytes)
                    for q in offsets {
                        #expect((0...bytes.count).contains(starts[q]) && (0...bytes.count).contains(ends[q]))
                        if q > 0 {
                            #expect(starts[q] >= starts[q - 1])
                            #expect(ends[q] > starts[q - 1], "\(form.map(\.rawValue) ?? "JSON") \(body) at \(q)")
                        }
                        if let unit = form?.unitSize {
                            #expect(starts[q] == bytes.count || (starts[q] - unit) % unit == 0)
                        }
                    }
                }
            }
        }
    }
}
