import ArgumentParser
import Foundation
import ShardScanEngine

/// `--rules`, shared by every command that loads rule packs.
struct RuleOptions: ParsableArguments {
    @Option(
        name: .customLong("rules"),
        help: ArgumentHelp(
            "A rule pack file or folder; repeat for more. Default: $SHARDSCAN_RULES, else ./Rules, else the Rules folder of the checkout the binary was built in.",
            valueName: "path"), completion: .file())
    var paths: [String] = []

    /// The packs to load: the given paths, or the default folder.
    func resolvedPaths() throws -> [String] {
        try Self.resolve(paths)
    }

    /// `paths`, or the default folder when none are given.
    static func resolve(_ paths: [String]) throws -> [String] {
        if !paths.isEmpty { return paths }
        guard let folder = defaultRulesFolder() else {
            throw ValidationError("no rule packs found: pass a path or set SHARDSCAN_RULES")
        }
        return [folder]
    }

    func loadRuleSet() throws -> RuleSet {
        RuleSet.load(paths: try resolvedPaths())
    }
}

/// $SHARDSCAN_RULES, ./Rules, or a `Rules` folder above the executable (a build inside a checkout).
func defaultRulesFolder() -> String? {
    let fileManager = FileManager.default
    if let fromEnvironment = ProcessInfo.processInfo.environment["SHARDSCAN_RULES"], !fromEnvironment.isEmpty {
        return fromEnvironment
    }
    if fileManager.fileExists(atPath: "Rules") { return "Rules" }
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<5 {
        let candidate = folder.appendingPathComponent("Rules")
        if fileManager.fileExists(atPath: candidate.appendingPathComponent("README.md").path) { return candidate.path }
        folder.deleteLastPathComponent()
    }
    return nil
}
