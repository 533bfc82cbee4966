import Foundation
import Testing

/// `shardscan rules profile` on the demo mirror: what each rule cost, sorted, as a table and as JSON.
@Suite struct RulesProfileTests {
    static func demoMirror() throws -> (folder: URL, root: String) {
        let folder = try CLI.temporaryFolder()
        let demo = try CLI.run(["demo", folder.appendingPathComponent("demo").path])
        #expect(demo.status == 0, "\(demo.stderr)")
        return (folder, folder.appendingPathComponent("demo/mirror").path)
    }

    @Test func profileReportsEveryRuleSortedByCostWithTheFindingsAScanMakes() throws {
        let (folder, root) = try Self.demoMirror()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run(["rules", "profile", "--json", root])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let rules = try #require(report["rules"] as? [[String: Any]])
        #expect((report["files"] as? Int ?? 0) > 0)
        #expect((report["shards"] as? Int ?? 0) > 0)
        // Every rule of the shipped packs, costliest first.
        let list = try CLI.run(["rules", "list", "--json"])
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(rules.count == listed.count)
        let seconds = rules.map { $0["seconds"] as? Double ?? -1 }
        #expect(seconds == seconds.sorted(by: >))
        // The demo mirror holds GitHub tokens: the rule ran where Hyperscan found candidates, and found them.
        let github = try #require(rules.first { $0["id"] as? String == "github.pat-classic" })
        #expect((github["findings"] as? Int ?? 0) >= 1)
        #expect((github["files"] as? Int ?? 0) >= 1)
        #expect((github["candidates"] as? Int ?? 0) >= (github["findings"] as? Int ?? 0))
        let stages = try #require(report["stages"] as? [[String: Any]])
        let hyperscan = try #require(stages.first { $0["stage"] as? String == "hyperscan" })
        #expect((hyperscan["files"] as? Int ?? 0) >= (report["files"] as? Int ?? 0))

        let table = try CLI.run(["rules", "profile", "--top", "3", "--hyperscan-sample", "1", root])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("RULE") == true && lines.first?.contains("HS TIME") == true)
        let ruleRows = lines.filter { $0.range(of: #"^[a-z0-9-]+\.[a-z0-9.-]+ "#, options: .regularExpression) != nil }
        #expect(ruleRows.count == 3, "\(table.stdout)")
        #expect(lines.contains { $0.hasPrefix("(hyperscan)") })
        #expect(lines.last?.contains("files") == true)

        let none = try CLI.run(["rules", "profile", folder.appendingPathComponent("nothing").path])
        #expect(none.status == 2)
    }
}
