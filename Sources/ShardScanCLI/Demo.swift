import ArgumentParser
import Foundation
import ShardScanDemo
import ShardScanEngine
import ShardScanStore

/// `shardscan demo`: the whole flow on a small mirror built on the spot.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a small demo mirror (three shards, fake secrets, decoys) and scan it.",
        discussion: "Rebuilds DIR/mirror and DIR/shardscan.sqlite on every run; DIR holds nothing else."
    )

    @OptionGroup var rules: RuleOptions

    @Argument(help: "Where to build the demo.", completion: .directory)
    var directory = "shardscan-demo"

    static let marker = ".shardscan-demo"

    func run() throws {
        let fileManager = FileManager.default
        let root = URL(fileURLWithPath: directory)
        if fileManager.fileExists(atPath: root.path) {
            guard fileManager.fileExists(atPath: root.appendingPathComponent(Self.marker).path) else {
                throw ValidationError("\(directory) exists and is not a shardscan demo folder; name another")
            }
            try fileManager.removeItem(at: root)
        }
        let mirror = root.appendingPathComponent("mirror")
        try fileManager.createDirectory(at: mirror, withIntermediateDirectories: true)
        _ = fileManager.createFile(atPath: root.appendingPathComponent(Self.marker).path, contents: Data())
        let shards = try DemoMirror.build(at: mirror.path)
        printError("built \(shards.count) shards under \(mirror.path)")

        let ruleSet = try rules.loadRuleSet()
        let storePath = root.appendingPathComponent("shardscan.sqlite").path
        let store = try Store(path: storePath)
        let status = try runScan(
            sources: ShardLocator.locate([mirror.path], branch: "code"), store: store, ruleSet: ruleSet,
            options: ScanOptions(), quiet: false)
        print(
            try FindingsOutput.render(
                try store.findings(FindingQuery()).map { $0.presented(showSecrets: false) }, as: .table))
        let shardscan = CommandLine.arguments[0]
        print(
            """
            Next, try:
              \(shardscan) findings --db \(storePath) --project acme_utils
              \(shardscan) report --db \(storePath) --all --format sarif --output demo.sarif
              \(shardscan) status --db \(storePath)
              \(shardscan) summary --db \(storePath)
              \(shardscan) triage FINGERPRINT --status test-data --comment "demo key" --db \(storePath)
              \(shardscan) scan --db \(storePath) \(mirror.path)    # nothing new: exit 0
              \(shardscan) disclose --db \(storePath) --project Flask_Login_Demo    # the notice to send
            """)
        if status == 2 { throw ExitCode(2) }
    }
}
