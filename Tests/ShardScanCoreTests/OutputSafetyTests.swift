import Foundation
import ShardScanCore
import Testing

@Suite struct RedactedSnippetTests {
    /// A line with three secrets: each finding's snippet must hide the other two.
    @Test func masksEverySecretOfTheBufferNotOnlyItsOwn() {
        var fake = TokenMint(seed: 3)
        let first = "AKIA" + fake.string(16, from: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let second = fake.string(24, from: TokenMint.base62Alphabet)
        let third = fake.string(30, from: TokenMint.base62Alphabet)
        let line = "a='\(first)', b='\(second)', c='\(third)'"
        let bytes = Array(line.utf8)
        func range(of secret: String) -> Range<Int> {
            let start = RedactedSnippetTests.offset(of: secret, in: bytes)
            return start..<start + secret.utf8.count
        }
        let masks = [first, second, third].map { SecretMask(range: range(of: $0), text: $0) }
        for (index, secret) in [first, second, third].enumerated() {
            let own = range(of: secret)
            let before = String(decoding: bytes[0..<own.lowerBound], as: UTF8.self)
            let after = String(decoding: bytes[own.upperBound...], as: UTF8.self)
            let shown = RedactedSnippet(
                before: before, match: secret, after: after, range: own, kind: .secret, secrets: masks,
                showSecrets: false)
            #expect(shown.match == redact(secret))
            for (other, text) in [first, second, third].enumerated() where other != index {
                #expect(!shown.snippet.contains(String(text.prefix(4))), "\(shown.snippet)")
            }
            #expect(shown.snippet.hasPrefix("a='"))
            let full = RedactedSnippet(
                before: before, match: secret, after: after, range: own, kind: .secret, secrets: masks,
                showSecrets: true)
            #expect(full.snippet == line)
        }
    }

    /// Content rules show their match, but not a secret inside it or beside it.
    @Test func contentMatchesKeepCodeAndLoseSecrets() {
        var fake = TokenMint(seed: 4)
        let token = fake.string(40, from: TokenMint.base62Alphabet)
        let line = "requests.post(url, data='\(token)')"
        let bytes = Array(line.utf8)
        let tokenStart = Self.offset(of: token, in: bytes)
        let match = "requests.post(url, data='\(token)'"
        let shown = RedactedSnippet(
            before: "", match: match, after: ")", range: 0..<match.utf8.count, kind: .content,
            secrets: [SecretMask(range: tokenStart..<tokenStart + token.utf8.count, text: token)], showSecrets: false)
        #expect(shown.match == "requests.post(url, data='…'")
        #expect(shown.snippet == "requests.post(url, data='…')")
    }

    /// Where the line holds bytes that are not UTF-8, the snippet's text no longer maps byte for byte: a side a
    /// secret may reach into is hidden whole rather than guessed.
    @Test func undecodableSidesAreMaskedWhole() {
        let secret = "S3cr3tS3cr3tS3cr3t"
        var bytes: [UInt8] =
            [UInt8(ascii: "x"), 0xFF, 0xFE] + Array("='".utf8) + Array(secret.utf8) + Array("' own=".utf8)
        let ownStart = bytes.count
        let own = "ownsecretvalue123"
        bytes += Array(own.utf8)
        let before = String(decoding: bytes[0..<ownStart], as: UTF8.self)
        let shown = RedactedSnippet(
            before: before, match: own, after: "", range: ownStart..<ownStart + own.utf8.count, kind: .secret,
            secrets: [SecretMask(range: 5..<5 + secret.utf8.count, text: "")], showSecrets: false)
        #expect(shown.snippet == "…" + redact(own))
    }

    static func offset(of needle: String, in bytes: [UInt8]) -> Int {
        let needle = Array(needle.utf8)
        return (0...(bytes.count - needle.count)).first { bytes[$0..<$0 + needle.count].elementsEqual(needle) }!
    }
}

@Suite struct TerminalTextTests {
    @Test func controlCharactersAreWrittenOut() {
        #expect(TerminalText.escaped("a\u{1B}[31mred\nline\r\t\u{7F}\u{0}") == "a\\e[31mred\\nline\\r\\t\\x7F\\x00")
        #expect(TerminalText.escaped("x\u{9B}31m\u{202E}y") == "x\\u{9B}31m\\u{202E}y")
        #expect(TerminalText.escaped("plain/ü/path\\x") == "plain/ü/path\\x")
        let once = TerminalText.escaped("\u{1B}]0;title\u{7}")
        #expect(TerminalText.escaped(once) == once)
        #expect(!once.unicodeScalars.contains { $0.value < 0x20 })
    }

    @Test func invalidUTF8BytesAreShownAsHex() {
        #expect(
            TerminalText.escaped(bytes: Array("a/".utf8) + [0xFF, 0xC3] + Array("/ü\n".utf8)) == "a/\\xFF\\xC3/ü\\n")
    }
}

@Suite struct PathEncodingTests {
    /// RFC 3986 §5.2.4 remove_dot_segments, as a URI consumer resolving a reference against its base would.
    static func removeDotSegments(_ path: String) -> String {
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            if segment == "." { continue }
            if segment == ".." {
                if output.count > 1 { output.removeLast() }
                continue
            }
            output.append(segment)
        }
        return output.joined(separator: "/")
    }

    @Test func dotSegmentsCannotClimbOutOfTheRoot() {
        let uri = PathEncoding.uriReference(
            segments: [Array("shard".utf8)] + PathEncoding.segments(Array("packages/x/../../../../tmp/evil".utf8)))
        #expect(uri == "shard/packages/x/%2E%2E/%2E%2E/%2E%2E/%2E%2E/tmp/evil")
        #expect(Self.removeDotSegments("/root/" + uri).hasPrefix("/root/shard/"))
        #expect(PathEncoding.uriReference(segments: [[], Array("etc".utf8)]) == ".//etc")
        #expect(PathEncoding.uriReference(segments: [Array("s".utf8), Array("...".utf8)]) == "s/...")
    }

    @Test func rawBytesArePercentEncodedExactly() {
        let path: [UInt8] = Array("packages/a b/".utf8) + [0xFF, 0xC3, 0xA9] + Array("#?:%.py".utf8)
        let uri = PathEncoding.uriReference(segments: PathEncoding.segments(path))
        #expect(uri == "packages/a%20b/%FF%C3%A9%23%3F%3A%25.py")
        #expect(Array(uri.removingPercentEncoding?.utf8 ?? "".utf8) != path)  // %FF is not UTF-8: bytes, not text
        #expect(Self.percentDecoded(uri) == path)
    }

    static func percentDecoded(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%") {
                bytes.append(UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)!)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return bytes
    }
}
