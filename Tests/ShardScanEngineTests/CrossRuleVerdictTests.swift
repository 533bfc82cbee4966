import Foundation
import ShardScanCore
import ShardScanStore
import Testing

@testable import ShardScanEngine

/// Verdicts that hold across the shipped rules, through the real pipeline (shard → scan → store): a secret one
/// rule's validator rejected does not come back under a generic rule, and a pair rule's identifier is not
/// reported again by the rule for the identifier alone.
@Suite struct CrossRuleVerdictTests {
    static func scanShipped(_ files: [String: String]) throws -> [FindingRow] {
        let ruleSet = RuleSet(RulePackLoader.load(paths: [PrefilterTests.rulesFolder]))
        #expect(ruleSet.errors.isEmpty)
        let mirror = try MirrorFixture()
        try mirror.createShard("pypi-mirror-1")
        let root = "packages/demo/demo-1.0.tar.gz/demo-1.0/"
        try mirror.addRelease(
            shard: "pypi-mirror-1", files: Dictionary(uniqueKeysWithValues: files.map { (root + $0.key, $0.value) }))
        let store = try Store(path: mirror.storePath)
        let summary = try MirrorScan(sink: store, ruleSet: ruleSet).run(
            ShardLocator.locate([mirror.mirrorPath], branch: "code")
        ) { _ in }
        #expect(summary.failedShards.isEmpty)
        return try store.findings(FindingQuery())
    }

    @Test func aTokenAValidatorRejectedIsNotReportedByAGenericRule() throws {
        var mint = TokenMint(seed: 1616)
        let valid = mint.githubToken()
        // The same shape with the checksum's last digit changed: a made-up or mistyped token.
        let last = valid.last!
        let digits = Array(TokenMint.base62Alphabet)
        let broken = String(valid.dropLast()) + String(digits[(digits.firstIndex(of: last)! + 1) % digits.count])
        #expect(!TokenValidator.githubChecksum.validate(broken).isValid)
        let rows = try Self.scanShipped([
            "app/settings.py": "GITHUB_TOKEN = \"\(broken)\"\nAPI_TOKEN = \"\(valid)\"\n",
            "deploy.env": "token=\(broken)\n",
        ])
        #expect(!rows.contains { $0.secret.contains(broken) }, "\(rows.map { ($0.rule, $0.path) })")
        // The checksum-valid token beside it is still reported, once, by its own rule.
        #expect(rows.filter { $0.secret == valid }.map(\.rule) == ["github.pat-classic"])
    }

    @Test func aPairIsOneFindingAndItsIdentifierIsNotReportedAlone() throws {
        var mint = TokenMint(seed: 1617)
        let secretID = "AKID" + mint.string(32, from: TokenMint.base62Alphabet)
        let secretKey = mint.string(32, from: TokenMint.base62Alphabet)
        let lonelyID = "AKID" + mint.string(32, from: TokenMint.base62Alphabet)
        let rows = try Self.scanShipped([
            "cloud.py": "cred = credential.Credential(\"\(secretID)\", \"\(secretKey)\")\n",
            "other.py": "TENCENTCLOUD_SECRET_ID = \"\(lonelyID)\"\n",
        ])
        let pair = rows.filter { $0.path.hasSuffix("cloud.py") }
        #expect(pair.map(\.rule) == ["tencent.secret-key"], "\(pair.map { ($0.rule, $0.secret.prefix(6)) })")
        #expect(pair.first?.secret == secretKey)
        #expect(pair.first?.facts["pair"] != nil)
        // An identifier without its secret is still reported by its own rule.
        #expect(rows.filter { $0.path.hasSuffix("other.py") }.map(\.rule) == ["tencent.secret-id"])
    }
}
