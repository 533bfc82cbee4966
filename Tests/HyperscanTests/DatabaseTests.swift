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

    @Test func serializedDatabaseScansTheSame() throws {
        let database = try Database(patterns: [.init(expression: "secret[0-9]+", id: 3)])
        let copy = try Database(serialized: try database.serialized())
        #expect(try scan(copy, "secret42").map(\.id) == [3, 3])
        #expect(throws: HyperscanError.self) { try Database(serialized: [1, 2, 3]) }
    }
}
