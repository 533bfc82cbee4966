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

    /// Loads and compiles the packs. Any error in them (a field, a pattern, a duplicate key or id) stops the
    /// command with exit status 2 before it reads anything: scanning with a rule left out would record blobs as
    /// scanned without it, and move watermarks past them for good.
    func loadRuleSet() throws -> RuleSet {
        let ruleSet = RuleSet.load(paths: try resolvedPaths())
        try Self.refuseErrors(in: ruleSet)
        return ruleSet
    }

    /// Prints every error of `ruleSet` as `file:line: error: rule ID: message` and exits 2 when there is one,
    /// or when no rule compiled at all.
    static func refuseErrors(in ruleSet: RuleSet) throws {
        let errors = ruleSet.errors
        for diagnostic in errors { printError(diagnostic.description) }
        if !errors.isEmpty {
            printError(
                "error: \(errors.count) error\(errors.count == 1 ? "" : "s") in the rule packs; nothing was scanned (fix them, `shardscan rules check` lists them)"
            )
            throw ExitCode(2)
        }
        if ruleSet.rules.isEmpty {
            printError("error: no rules compiled")
            throw ExitCode(2)
        }
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
