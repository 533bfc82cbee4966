import PCRE2
import Testing

@Suite struct RegexTests {
    func matches(_ regex: Regex, _ bytes: [UInt8], scratch: MatchScratch = MatchScratch()) throws -> [Match] {
        try bytes.withUnsafeBytes { try regex.allMatches(in: $0, scratch: scratch) }
    }

    @Test func compileErrorGivesMessageAndOffset() {
        #expect(throws: CompileError.self) { try Regex("abc(") }
        do {
            _ = try Regex("ab[c")
            Issue.record("compiled a bad pattern")
        } catch {
            #expect(error.offset == 4)
            #expect(error.message.contains("missing terminating ]"))
        }
    }

    @Test func byteOffsetsOnInvalidUTF8() throws {
        let regex = try Regex("key=(?<secret>[a-z]{3})")
        let subject: [UInt8] = [0xFF, 0xFE, 0xC3] + Array("key=abc and key=xyz".utf8)
        let found = try matches(regex, subject)
        #expect(found.count == 2)
        #expect(found[0].groups[1] == 7..<10)
        #expect(found[1].groups[1] == 19..<22)
        #expect(regex.groupNumber(named: "secret") == 1)
        #expect(regex.groupNumber(named: "missing") == nil)
        #expect(regex.captureCount == 1)
    }

    @Test func unsetGroupIsNil() throws {
        let regex = try Regex("(a)|(b)")
        let found = try matches(regex, Array("b".utf8))
        #expect(found.first?.groups == [0..<1, nil, 0..<1])
    }

    @Test func emptyMatchesTerminateAndEmptySubjectWorks() throws {
        let regex = try Regex("x*")
        #expect(try matches(regex, Array("ab".utf8)).count == 3)
        #expect(try matches(regex, []).count == 1)
    }

    @Test(arguments: [true, false])
    func matchLimitIsAnErrorNotNoMatch(jit: Bool) throws {
        let regex = try Regex("^(a+)+$", jit: jit)
        let subject = Array(String(repeating: "a", count: 40).utf8) + [UInt8(ascii: "b")]
        let scratch = MatchScratch(
            limits: MatchLimits(matchSteps: 10_000, depth: 1_000, heapKiB: 1024, jitStackBytes: 1 << 16))
        let result = subject.withUnsafeBytes { bytes in
            Result { () throws(MatchError) in try regex.firstMatch(in: bytes, scratch: scratch) }
        }
        guard case .failure(let error) = result else {
            Issue.record("expected the match limit, got \(result)")
            return
        }
        #expect(error.isLimit)
    }

    @Test func scratchGrowsForManyGroups() throws {
        let pattern = (0..<40).map { _ in "(a)" }.joined()
        let regex = try Regex(pattern)
        let found = try matches(regex, Array(String(repeating: "a", count: 40).utf8))
        #expect(found.first?.groups.count == 41)
        #expect(found.first?.groups[40] == 39..<40)
    }
}
