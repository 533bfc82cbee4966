import ArgumentParser
import ShardScanCore
import ShardScanStore

/// What makes `scan` exit 1.
enum FailOn: String, ExpressibleByArgument, CaseIterable {
    /// A fingerprint no finished scan had recorded before, and not triaged.
    case newSecrets = "new-secrets"
    /// A place of an untriaged fingerprint no finished scan had recorded before.
    case newPlaces = "new-places"
    case never

    /// Whether `counts` fail the scan.
    func fails(_ counts: NewFindingCounts) -> Bool {
        switch self {
        case .newSecrets: counts.secrets > 0
        case .newPlaces: counts.places > 0
        case .never: false
        }
    }
}

extension Confidence: ExpressibleByArgument {}
extension Severity: ExpressibleByArgument {}
extension RuleKind: ExpressibleByArgument {}
extension TriageStatus: ExpressibleByArgument {}
