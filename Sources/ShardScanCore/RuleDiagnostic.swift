/// A problem found in a rule pack: where it is, which rule, and what is wrong.
public struct RuleDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Level: String, Sendable {
        case error, warning
        /// Worth knowing, nothing to fix: how the engine will run a rule.
        case note
    }

    public var level: Level
    public var location: SourceLocation
    public var ruleID: String?
    public var message: String

    public init(_ level: Level, _ location: SourceLocation, rule ruleID: String? = nil, _ message: String) {
        self.level = level
        self.location = location
        self.ruleID = ruleID
        self.message = message
    }

    /// `file:line: error: rule some.id: message`, the form editors and CI logs link.
    public var description: String {
        "\(location): \(level.rawValue): " + (ruleID.map { "rule \($0): " } ?? "") + message
    }
}
