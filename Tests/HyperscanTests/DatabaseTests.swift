import Hyperscan
import Testing

@Suite struct DatabaseTests {
    func scan(_ database: Database, _ text: String) throws -> [HyperscanMatch] {
        let scratch = try Scratch(for: database)
        var found: [HyperscanMatch] = []
        try Array(text.utf8).withUnsafeBytes { bytes in
            try database.scan(bytes, scratch: scratch) { match in
                found.append(match)
                return true
            }
        }
        return found
    }

    @Test func multiPatternScanReportsIDsAndOffsets() throws {
        let database = try Database(patterns: [
            .init(expression: "ghp_[A-Za-z0-9]{4}", id: 7, flags: [.leftmostStart]),
            .init(expression: "akia", id: 9, flags: [.caseless, .leftmostStart]),
        ])
        let found = try scan(database, "x AKIA ghp_abcd AkIa")
        #expect(found.contains(HyperscanMatch(id: 9, start: 2, end: 6)))
        #expect(found.contains(HyperscanMatch(id: 7, start: 7, end: 15)))
        #expect(found.filter { $0.id == 9 }.count == 2)
    }

    @Test func compileErrorNamesTheExpression() {
        do {
            _ = try Database(patterns: [.init(expression: "ok", id: 1), .init(expression: "(unclosed", id: 2)])
            Issue.record("compiled a bad expression")
        } catch {
            #expect(error.expressionIndex == 1)
        }
    }

    @Test func prefilterAcceptsBackreferences() throws {
        #expect(throws: HyperscanError.self) { try Database(patterns: [.init(expression: "(a)\\1", id: 1)]) }
        let database = try Database(patterns: [.init(expression: "(a)\\1", id: 1, flags: [.prefilter])])
        #expect(!(try scan(database, "xaax")).isEmpty)
    }

    @Test func stopsWhenTheCallbackSaysSo() throws {
        let database = try Database(patterns: [.init(expression: "a", id: 1)])
        let scratch = try Scratch(for: database)
        var count = 0
        try Array("aaaa".utf8).withUnsafeBytes { bytes in
            try database.scan(bytes, scratch: scratch) { _ in
                count += 1
                return false
            }
        }
        #expect(count == 1)
    }

    /// Matches are handed over in batches: many more than one batch all arrive, in order, and a stop asked for
    /// mid-batch or at a batch's end is obeyed at once.
    @Test func everyMatchArrivesInOrderAndAStopIsObeyedAcrossBatches() throws {
        let database = try Database(patterns: [.init(expression: "a", id: 1)])
        let scratch = try Scratch(for: database)
        let text = Array(String(repeating: "a", count: 1000).utf8)
        #expect(try scan(database, String(decoding: text, as: UTF8.self)).map(\.end) == Array(1...1000))
        for stopAt in [1, 255, 256, 257, 300, 999, 1000] {
            var count = 0
            try text.withUnsafeBytes { bytes in
                try database.scan(bytes, scratch: scratch) { _ in
                    count += 1
                    return count < stopAt
                }
            }
            #expect(count == stopAt, "stopped at \(stopAt)")
        }
        // One scratch grown for two databases serves both.
        let other = try Database(patterns: [.init(expression: "b+", id: 2)])
        let shared = try Scratch(for: [database, other])
        var ends: [Int] = []
        try Array("abab".utf8).withUnsafeBytes { bytes in
            try other.scan(bytes, scratch: shared) {
                ends.append($0.end)
                return true
            }
            try database.scan(bytes, scratch: shared) {
                ends.append($0.end)
                return true
            }
        }
        #expect(ends == [2, 4, 1, 3])
    }

    @Test func serializedDatabaseScansTheSame() throws {
        let database = try Database(patterns: [.init(expression: "secret[0-9]+", id: 3)])
        let copy = try Database(serialized: try database.serialized())
        #expect(try scan(copy, "secret42").map(\.id) == [3, 3])
        #expect(throws: HyperscanError.self) { try Database(serialized: [1, 2, 3]) }
    }
}
