import Foundation
import Git
import ShardScanCore
import ShardScanDemo
import ShardScanEngine
import ShardScanReports
import ShardScanStore
import Testing

/// A demo mirror scanned with the shipped rules into a fresh store; the folder it made goes with it.
final class ScannedMirror {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let sarifSchema = packageRoot.deletingLastPathComponent().appendingPathComponent(
        "shared/sarif-schema-2.1.0.json"
    ).path
    static let reportSchema = packageRoot.appendingPathComponent("Reports/shardscan-report.schema.json").path

    let folder: URL
    let store: Store
    let summary: MirrorScan.Summary
    private let ownsFolder: Bool

    init(storeName: String = "store.sqlite", folder existing: URL? = nil) throws {
        folder =
            existing ?? FileManager.default.temporaryDirectory.appendingPathComponent("reports-\(UUID().uuidString)")
        ownsFolder = existing == nil
        let mirror = folder.appendingPathComponent("mirror").path
        if existing == nil {
            try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
            _ = try DemoMirror.build(at: mirror)
        }
        store = try Store(path: folder.appendingPathComponent(storeName).path)
        // The Hyperscan cache in a temporary folder: tests write nothing under `~`.
        let ruleSet = RuleSet.load(
            paths: [Self.packageRoot.appendingPathComponent("Rules").path],
            cacheDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("shardscan-tests-cache").path)
        summary = try MirrorScan(sink: store, ruleSet: ruleSet).run(ShardLocator.locate([mirror], branch: "code")) {
            _ in
        }
    }

    deinit {
        if ownsFolder { try? FileManager.default.removeItem(at: folder) }
    }

    func sarif(_ selection: ReportSelection) throws -> (files: [SARIFReport.File], json: [[String: Any]]) {
        let files = try SARIFReport.render(try ReportInput(store: store, selection: selection), toolVersion: "0.1.0")
        return (files, try files.map { try JSONSerialization.jsonObject(with: $0.data) as! [String: Any] })
    }
}

@Suite struct SARIFReportTests {
    @Test func aResultPerFindingWithRulesRegionsAndNoSecrets() throws {
        let scanned = try ScannedMirror()
        let rows = try scanned.store.findings(FindingQuery())
        #expect(rows.count == 8)
        let (files, logs) = try scanned.sarif(.all)
        #expect(files.count == 1)
        let log = logs[0]
        #expect(log["version"] as? String == "2.1.0")
        let runs = try #require(log["runs"] as? [[String: Any]])
        let categories = runs.map { ($0["automationDetails"] as! [String: Any])["id"] as! String }
        #expect(categories == ["shardscan/pypi-mirror-1/", "shardscan/pypi-mirror-2/"])
        #expect(Set(categories).count == categories.count)

        var results: [[String: Any]] = []
        for run in runs {
            let driver = (run["tool"] as! [String: Any])["driver"] as! [String: Any]
            #expect(driver["name"] as? String == "shardscan")
            #expect(driver["semanticVersion"] as? String == "0.1.0")
            let rules = driver["rules"] as! [[String: Any]]
            let ids = rules.map { $0["id"] as! String }
            #expect(Set(ids).count == ids.count)
            for rule in rules {
                let properties = rule["properties"] as! [String: Any]
                #expect(Double(properties["security-severity"] as! String) != nil)
                #expect(["high", "medium", "low", "very-high"].contains(properties["precision"] as! String))
                #expect(((rule["help"] as! [String: Any])["markdown"] as! String).contains("rotate"))
                #expect(
                    ["error", "warning", "note"].contains(
                        (rule["defaultConfiguration"] as! [String: Any])["level"] as! String))
            }
            for result in run["results"] as! [[String: Any]] {
                let index = result["ruleIndex"] as! Int
                #expect(ids[index] == result["ruleId"] as! String)
                results.append(result)
            }
        }
        #expect(results.count == rows.count)
        for row in rows {
            let uri = "\(row.shard)/\(row.shardPath)"
            let result = try #require(
                results.first { result in
                    let location = (result["locations"] as! [[String: Any]])[0]["physicalLocation"] as! [String: Any]
                    return (location["artifactLocation"] as! [String: Any])["uri"] as? String == uri
                        && result["ruleId"] as? String == row.rule
                }, "no result for \(uri)")
            let region =
                ((result["locations"] as! [[String: Any]])[0]["physicalLocation"] as! [String: Any])["region"]
                as! [String: Any]
            #expect(region["startLine"] as? Int == row.line)
            #expect(region["startColumn"] as? Int == row.column)
            #expect(region["endColumn"] as? Int == row.endColumn)
            #expect((result["properties"] as! [String: Any])["project"] as? String == row.project)
            #expect(!((result["message"] as! [String: Any])["text"] as! String).contains(row.secret))
        }
        let text = String(decoding: files[0].data, as: UTF8.self)
        for row in rows { #expect(!text.contains(row.secret), "unredacted \(row.rule) secret in SARIF") }

        let shown = try SARIFReport.render(
            try ReportInput(store: scanned.store, selection: .all), toolVersion: "0.1.0", showSecrets: true)
        #expect(String(decoding: shown[0].data, as: UTF8.self).contains(rows[0].secret))
    }

    @Test func fingerprintsAreStableAcrossRendersAndRuns() throws {
        let first = try ScannedMirror()
        func hashes(_ scanned: ScannedMirror) throws -> [String] {
            let (_, logs) = try scanned.sarif(.all)
            return logs.flatMap { ($0["runs"] as! [[String: Any]]).flatMap { $0["results"] as! [[String: Any]] } }
                .map { ($0["partialFingerprints"] as! [String: String])["primaryLocationLineHash"]! }.sorted()
        }
        let once = try hashes(first)
        #expect(try hashes(first) == once)
        #expect(Set(once).count == once.count)
        let second = try ScannedMirror(storeName: "other.sqlite", folder: first.folder)
        #expect(try hashes(second) == once)
    }

    @Test func validatesAgainstTheOfficialSchemaWhenPresent() throws {
        guard FileManager.default.fileExists(atPath: ScannedMirror.sarifSchema) else {
            print("skipped: the official SARIF schema is not at \(ScannedMirror.sarifSchema) (outside this checkout)")
            return
        }
        let scanned = try ScannedMirror()
        // A triaged finding, so that the state report holds a suppression too.
        let first = try #require(try scanned.store.findings(FindingQuery()).first)
        try scanned.store.setTriage([first.fingerprint], status: .testData, comment: "a fixture", author: "t")
        for selection in [ReportSelection.all, .run(scanned.summary.runID), .project("nothing-here"), .open] {
            let (files, _) = try scanned.sarif(selection)
            for file in files {
                let errors = try SchemaValidator.errors(in: file.data, schema: ScannedMirror.sarifSchema)
                #expect(errors.isEmpty, "\(selection): \(errors.prefix(5))")
            }
        }
    }

    @Test func everyFormatRendersThroughOneEntryPoint() throws {
        let rows = (0..<45).map { index in Self.row(shard: String(format: "pypi-mirror-%03d", index), line: 1) }
        let input = Self.input(rows)
        let sarif = try input.render(as: .sarif, toolVersion: "0.1.0", showSecrets: false)
        #expect(sarif.files.count == 3)
        #expect(sarif.notes.contains { $0.hasPrefix("split into 3 files") })
        let lines = try input.render(as: .jsonl, toolVersion: "0.1.0", showSecrets: false)
        #expect(lines.files.count == 1)
        #expect(String(decoding: lines.files[0], as: UTF8.self).split(separator: "\n").count == 45)
        let json = try input.render(as: .json, toolVersion: "0.1.0", showSecrets: false)
        let document = try #require(try JSONSerialization.jsonObject(with: json.files[0]) as? [String: Any])
        #expect((document["findings"] as? [Any])?.count == 45)
        for rendered in [sarif, lines, json] {
            for file in rendered.files { #expect(!String(decoding: file, as: UTF8.self).contains("s3cr3t-")) }
        }
    }

    @Test func manyShardsSplitIntoFilesOfTwentyRuns() throws {
        let rows = (0..<45).map { index in Self.row(shard: String(format: "pypi-mirror-%03d", index), line: 1) }
        let input = Self.input(rows)
        let files = try SARIFReport.render(input, toolVersion: "0.1.0")
        #expect(files.count == 3)
        let runCounts = try files.map {
            ((try JSONSerialization.jsonObject(with: $0.data) as! [String: Any])["runs"] as! [Any]).count
        }
        #expect(runCounts == [20, 20, 5])
        #expect(files.allSatisfy { $0.notes.contains { $0.contains("split into 3 files") } })
    }

    @Test func anOversizedRunIsCutMostSevereFirstAndSaysSo() throws {
        var rows = (1...400).map { Self.row(shard: "pypi-mirror-1", line: $0, rule: "demo.low") }
        rows.append(Self.row(shard: "pypi-mirror-1", line: 999, rule: "demo.critical"))
        let files = try SARIFReport.render(Self.input(rows), toolVersion: "0.1.0", maxFileBytes: 60_000)
        #expect(files.count == 1)
        #expect(files[0].data.count <= 60_000 + 2_000)
        let log = try JSONSerialization.jsonObject(with: files[0].data) as! [String: Any]
        let run = (log["runs"] as! [[String: Any]])[0]
        let results = run["results"] as! [[String: Any]]
        #expect(results.count < 401 && results.count > 10)
        #expect(results.first?["ruleId"] as? String == "demo.critical")
        let notifications =
            ((run["invocations"] as! [[String: Any]])[0]["toolExecutionNotifications"] as! [[String: Any]])
        #expect(
            notifications.contains { (($0["message"] as! [String: Any])["text"] as! String).contains("most severe") })
    }

    @Test func uriSegmentsArePercentEncoded() {
        #expect(SARIFReportTests.uri("s1", "packages/a b/ü/x#y?.py") == "s1/packages/a%20b/%C3%BC/x%23y%3F.py")
    }

    static func uri(_ shard: String, _ path: String) -> String {
        let rows = [row(shard: shard, line: 1, path: path)]
        let data = try! SARIFReport.render(input(rows), toolVersion: "0.1.0")[0].data
        let log = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        let result = ((log["runs"] as! [[String: Any]])[0]["results"] as! [[String: Any]])[0]
        let location = (result["locations"] as! [[String: Any]])[0]["physicalLocation"] as! [String: Any]
        return (location["artifactLocation"] as! [String: Any])["uri"] as! String
    }

    static func row(
        shard: String, line: Int, rule: String = "demo.critical", path: String = "packages/p/p-1.0.tar.gz/p-1.0/k.py"
    ) -> FindingRow {
        let secret = "s3cr3t-\(shard)-\(line)"
        let json = """
            {"rule":"\(rule)","shard":"\(shard)","commit":"\(String(repeating: "a", count: 40))","blob":"\(String(repeating: "b", count: 40))",
             "project":"p","version":"1.0","release":"p-1.0.tar.gz","path":"p-1.0/k.py","shard_path":"\(path)",
             "line":\(line),"column":5,"end_line":\(line),"end_column":20,"secret":"\(secret)","snippet":"k = \(secret)",
             "fingerprint":"\(Finding.fingerprint(ruleID: rule, secret: secret))","entropy":3.5,"run_id":1,
             "kind":"secret","confidence":"high","facts":{},"status":"open"}
            """
        return try! JSONDecoder().decode(FindingRow.self, from: Data(json.utf8))
    }

    static func input(_ rows: [FindingRow]) -> ReportInput {
        var critical = RuleRecord(Rule(id: "demo.critical", name: "Critical demo", pattern: "(x)", severity: .critical))
        critical.description = "A demo."
        let low = RuleRecord(Rule(id: "demo.low", name: "Low demo", pattern: "(x)", severity: .low))
        return ReportInput(
            selection: .all, rows: rows, rules: ["demo.critical": critical, "demo.low": low], runs: [],
            shards: Array(Set(rows.map(\.shard))).sorted())
    }
}

@Suite struct JSONReportTests {
    @Test func reportAndLinesValidateAgainstThePublishedSchema() throws {
        let scanned = try ScannedMirror()
        for selection in [
            ReportSelection.all, .run(scanned.summary.runID), .project("acme_utils"), .since("2000-01-01"),
        ] {
            let input = try ReportInput(store: scanned.store, selection: selection)
            let document = try JSONReport.render(input, toolVersion: "0.1.0")
            #expect(try SchemaValidator.errors(in: document, schema: ScannedMirror.reportSchema).isEmpty)
            let lines = try JSONReport.renderLines(input)
            #expect(
                try SchemaValidator.errors(in: lines, schema: ScannedMirror.reportSchema, definition: "finding").isEmpty
            )
        }
        let input = try ReportInput(store: scanned.store, selection: .run(scanned.summary.runID))
        let object =
            try JSONSerialization.jsonObject(with: try JSONReport.render(input, toolVersion: "0.1.0")) as! [String: Any]
        let run = (object["runs"] as! [[String: Any]])[0]
        #expect((run["counts"] as! [String: Any])["findings_new"] as? Int == 8)
        #expect((object["findings"] as! [Any]).count == 8)
    }

    @Test func aPathThatIsNotUTF8KeepsItsBytesInJSONAndSARIF() throws {
        var row = SARIFReportTests.row(shard: "s1", line: 3, path: "packages/p/p-1.0.tar.gz/p-1.0/k\u{FFFD}.py")
        let bytes = Array("packages/p/p-1.0.tar.gz/p-1.0/k".utf8) + [0xE9] + Array(".py".utf8)
        row.shardPathBase64 = Data(bytes).base64EncodedString()
        let input = SARIFReportTests.input([row])
        let document = try JSONReport.render(input, toolVersion: "0.1.0")
        #expect(try SchemaValidator.errors(in: document, schema: ScannedMirror.reportSchema).isEmpty)
        let object = try JSONSerialization.jsonObject(with: document) as! [String: Any]
        let finding = (object["findings"] as! [[String: Any]])[0]
        #expect((finding["shard_path_base64"] as? String).flatMap { Data(base64Encoded: $0) } == Data(bytes))
        let sarif = String(decoding: try SARIFReport.render(input, toolVersion: "0.1.0")[0].data, as: UTF8.self)
        #expect(sarif.contains("s1/packages/p/p-1.0.tar.gz/p-1.0/k%E9.py"))
        // Valid UTF-8 paths keep the row as it was: no extra key.
        let plain = try JSONReport.renderLines(SARIFReportTests.input([SARIFReportTests.row(shard: "s1", line: 1)]))
        #expect(!String(decoding: plain, as: UTF8.self).contains("shard_path_base64"))
    }

    @Test func theSchemaRejectsWhatItShould() throws {
        let bad = Data(
            #"{"schema_version":1,"tool":{"name":"shardscan","version":"0.1.0"},"generated_at":"2026-01-01T00:00:00Z","selection":{"kind":"all"},"runs":[],"findings":[{"rule":"x"}]}"#
                .utf8)
        #expect(!(try SchemaValidator.errors(in: bad, schema: ScannedMirror.reportSchema)).isEmpty)
    }
}
