/// The parts of SARIF 2.1.0 that shardscan writes. Property names are SARIF's own.
enum SARIF {
    struct Log: Encodable {
        let schema = "https://json.schemastore.org/sarif-2.1.0.json"
        let version = "2.1.0"
        var runs: [Run]

        enum CodingKeys: String, CodingKey {
            case schema = "$schema"
            case version, runs
        }
    }

    struct Run: Encodable {
        var tool: Tool
        var automationDetails: AutomationDetails
        /// How region columns count: GitHub and most viewers count UTF-16 code units.
        var columnKind: String
        var invocations: [Invocation]
        var results: [Result]
        var properties: [String: String]
    }

    struct Tool: Encodable {
        var driver: Driver
    }

    struct Driver: Encodable {
        let name = "shardscan"
        var version: String
        var semanticVersion: String
        let informationUri = "https://github.com/shardscan/shardscan"
        var rules: [ReportingDescriptor]
    }

    struct ReportingDescriptor: Encodable {
        var id: String
        var name: String
        var shortDescription: Message
        var fullDescription: Message
        var help: Help
        var helpUri: String?
        var defaultConfiguration: Configuration
        var properties: RuleProperties
    }

    struct Help: Encodable {
        var text: String
        var markdown: String
    }

    struct Configuration: Encodable {
        var level: String
    }

    struct RuleProperties: Encodable {
        var tags: [String]
        var precision: String
        var securitySeverity: String

        enum CodingKeys: String, CodingKey {
            case tags, precision
            case securitySeverity = "security-severity"
        }
    }

    struct Message: Encodable {
        var text: String
    }

    struct AutomationDetails: Encodable {
        var id: String
    }

    struct Invocation: Encodable {
        var executionSuccessful: Bool
        var toolExecutionNotifications: [Notification]
    }

    struct Notification: Encodable {
        var level: String
        var message: Message
    }

    struct Result: Encodable {
        var ruleId: String
        var ruleIndex: Int
        var level: String
        var message: Message
        var locations: [Location]
        var partialFingerprints: [String: String]
        /// A triaged finding: GitHub closes its alert as dismissed.
        var suppressions: [Suppression]?
        var properties: ResultProperties
    }

    struct Suppression: Encodable {
        /// `external`: the verdict was made outside the code (in shardscan's triage).
        var kind: String
        var status: String
        var justification: String
    }

    struct Location: Encodable {
        var physicalLocation: PhysicalLocation
    }

    struct PhysicalLocation: Encodable {
        var artifactLocation: ArtifactLocation
        var region: Region
    }

    struct ArtifactLocation: Encodable {
        var uri: String
    }

    struct Region: Encodable {
        var startLine: Int
        var startColumn: Int
        var endLine: Int
        var endColumn: Int
        var snippet: Message
    }

    struct ResultProperties: Encodable {
        var shard: String
        var project: String
        var version: String
        var release: String
        var path: String
        var blob: String
        var commit: String
        var fingerprint: String
        var confidence: String
        /// The fingerprint's triage status.
        var status: String
        /// What the rule's validator read from the secret; absent when it read nothing.
        var facts: [String: String]?
    }
}
