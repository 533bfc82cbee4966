import Foundation
import ShardScanStore
import Testing

/// `scan --json`/`--jsonl` and `report --new` deliver every place recorded since the last delivery, so a
/// killed scan's places arrive with the next one, and nothing twice.
@Suite final class DeliveryTests {
    let folder: URL
    let rulesPath: String

    init() throws {
        folder = try CLI.temporaryFolder()
        rulesPath = folder.appendingPathComponent("rules.yaml").path
        try ReliabilityTests.rules.write(toFile: rulesPath, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// (fingerprint, shard, shard path, blob) of each row of a JSON report or JSON Lines file.
    static func places(json file: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let rows: [[String: Any]]
        if file.hasSuffix(".jsonl") {
            rows = try data.split(separator: 0x0A).map {
                try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
            }
        } else {
            let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let selection = document["selection"] as? [String: Any]
            #expect(selection?["kind"] as? String == "new")
            let value = selection?["value"] as? String ?? ""
            #expect(value.hasPrefix("runs ") || value.hasPrefix("no run after "), "\(value)")
            rows = try #require(document["findings"] as? [[String: Any]])
        }
        return rows.map { row in
            ["fingerprint", "shard", "shard_path", "blob"].map { "\(row[$0] ?? "")" }.joined(separator: " ")
        }
    }

    @Test func aKilledScanIsDeliveredByTheNextAndASecondDeliveryIsEmpty() throws {
        let mirror = path("mirror")
        try ReliabilityTests.buildMirror(at: mirror, commits: 400)

        // What an uninterrupted scan delivers.
        let reference = path("reference.json")
        let whole = try CLI.run([
            "scan", "--db", path("reference.sqlite"), "--rules", rulesPath, "--quiet", "--json", reference, mirror,
        ])
        #expect(whole.status == 1, "\(whole.stderr)")
        let expected = try Self.places(json: reference)
        #expect(expected.count == 400 && Set(expected).count == 400)

        let db = path("s.sqlite")
        let killedJSON = path("killed.json")
        let (first, _, _) = try ReliabilityTests.start(
            [
                CLI.executable.path, "scan", "--db", db, "--rules", rulesPath, "--quiet", "--batch-commits", "1",
                "--json", killedJSON, mirror,
            ], outputIn: folder)
        #expect(ReliabilityTests.wait(seconds: 60) { ReliabilityTests.hasWatermark(db) || !first.isRunning })
        kill(first.processIdentifier, SIGSTOP)
        #expect(first.isRunning, "the scan finished before it could be killed; make the mirror larger")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: killedJSON))
        let recordedByKilled = try Store(path: db).findings(FindingQuery()).count
        #expect(recordedByKilled > 0 && recordedByKilled < 400, "killed mid-way: \(recordedByKilled) places")

        let rerunJSON = path("rerun.json")
        let rerun = try CLI.run(["scan", "--db", db, "--rules", rulesPath, "--quiet", "--json", rerunJSON, mirror])
        #expect(rerun.status == 1, "\(rerun.stderr)")
        let delivered = try Self.places(json: rerunJSON)
        #expect(delivered.count == 400, "the rerun delivers the killed run's places too")
        #expect(Set(delivered) == Set(expected))

        // Nothing new: an empty delivery, in both forms; JSON Lines has its own cursor, so its first
        // delivery holds everything.
        let emptyJSON = path("empty.json")
        let again = try CLI.run(["scan", "--db", db, "--rules", rulesPath, "--quiet", "--json", emptyJSON, mirror])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.places(json: emptyJSON).isEmpty)
        let lines = path("all.jsonl")
        #expect(try CLI.run(["report", "--db", db, "--new", "--format", "jsonl", "--output", lines]).status == 0)
        #expect(Set(try Self.places(json: lines)) == Set(expected))
        let none = try CLI.run(["report", "--db", db, "--new", "--format", "jsonl"])
        #expect(none.status == 0 && none.stdout.isEmpty, "\(none.stdout.prefix(200))")
        let noneJSON = path("none.json")
        #expect(try CLI.run(["report", "--db", db, "--new", "--format", "json", "--output", noneJSON]).status == 0)
        #expect(try Self.places(json: noneJSON).isEmpty)
        #expect(try CLI.run(["report", "--db", db, "--new", "--format", "sarif"]).status != 0)
    }

    @Test func aDeliveryThatCannotBeWrittenIsRepeated() throws {
        let mirror = path("mirror")
        try ReliabilityTests.buildMirror(at: mirror, commits: 3)
        let db = path("s.sqlite")
        let unwritable = path("missing-folder/out.json")
        let failed = try CLI.run(["scan", "--db", db, "--rules", rulesPath, "--quiet", "--json", unwritable, mirror])
        #expect(failed.status != 0 && failed.status != 1, "\(failed.stderr)")
        #expect(try Store(path: db).deliveryCursor("json") == 0, "the cursor stays until a file is written")
        let out = path("out.json")
        #expect(try CLI.run(["report", "--db", db, "--new", "--format", "json", "--output", out]).status == 0)
        #expect(try Self.places(json: out).count == 3)
        #expect(try Store(path: db).deliveryCursor("json") == 1)
    }
}
