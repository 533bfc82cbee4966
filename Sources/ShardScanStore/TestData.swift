import Foundation
import GRDB
import ShardScanCore

/// Why a finding looks like a test fixture or a documentation example rather than a leak, from what the store
/// knows of every place it appears. Each verdict carries a reason a person can check.
public enum TestDataEvidence {
    /// Directories that hold fixtures and examples. A segment of the path inside the release must be one of
    /// these exactly (`tests/`, not `contests/`).
    public static let fixtureDirectories: Set<String> = [
        "test", "tests", "testing", "testdata", "test_data", "test-data", "fixtures", "fixture", "docs", "doc",
        "examples", "example", "samples", "sample", "certs", "dummyserver",
    ]

    /// Words that mark a file name as a fixture (`test.key`, `dummy_cert.pem`, `example.env`), and test
    /// modules by Python's conventions (`test_*.py`, `*_test.py`, `conftest.py`).
    public static let fixtureNameWords = ["test.key", "dummy", "example", "sample", "fixture"]

    /// Distinct unrelated projects that must hold the same secret before it counts as published fixture data.
    public static let prevalenceThreshold = 3

    /// Rules whose secrets are never hidden by where they sit: a PyPI token uploads as its owner from any
    /// file, and the secret half of a cloud key pair is never a fixture by accident of its folder.
    public static let openByPathRules: Set<String> = [
        "aws.secret-access-key", "aws.session-token", "alibaba.access-key-secret", "tencent.secret-key",
        "azure.storage-account-key",
    ]

    /// The reason `path` (inside its release) looks like a fixture, if it does.
    public static func pathReason(_ path: String) -> String? {
        let segments = path.split(separator: "/").map { $0.lowercased() }
        guard let name = segments.last else { return nil }
        for segment in segments.dropLast() where fixtureDirectories.contains(segment) {
            return "fixture path \(segment)/"
        }
        if let word = fixtureNameWords.first(where: { name.contains($0) }) { return "fixture name \(word)" }
        if name.hasSuffix(".py") && (name.hasPrefix("test_") || name.hasSuffix("_test.py") || name == "conftest.py") {
            return "test module \(name)"
        }
        return nil
    }

    /// What keeps a finding open whatever its path says: a token whose checksum a validator confirmed, a PyPI
    /// token, a credential found with its identifier (a key pair), a cloud secret key.
    public static func strongReason(rule: String, facts: [String: String]) -> String? {
        if facts["valid"] == "yes" { return "its checksum or structure is valid" }
        if rule.hasPrefix("pypi.") { return "it is a PyPI token" }
        if facts["pair"] != nil { return "it was found with its identifier" }
        if openByPathRules.contains(rule) { return "it is a cloud secret key" }
        return nil
    }

    /// A project's family for prevalence: its name up to the first `-`, `_` or `.` (`django-rest-framework` and
    /// `django` are one family), so that a project and its plugins do not count as unrelated.
    public static func family(_ projectNormalized: String) -> String {
        String(projectNormalized.split(whereSeparator: { $0 == "-" || $0 == "_" || $0 == "." }).first ?? "")
    }

    /// One place of a finding, as the classifier sees it.
    public struct Place: Sendable, Equatable {
        public var path: String
        public var project: String

        public init(path: String, project: String) {
            self.path = path
            self.project = project
        }
    }

    /// The automatic verdict on a finding of `rule` with `facts`, seen at `places`: the reason it is test data,
    /// or `nil` when it stays open.
    public static func verdict(rule: String, facts: [String: String], places: [Place]) -> String? {
        let families = Set(places.map { family($0.project) }.filter { !$0.isEmpty })
        if families.count >= prevalenceThreshold {
            let named = families.sorted().prefix(3).joined(separator: ", ")
            return "prevalence: the same secret in \(families.count) unrelated projects (\(named)…)"
        }
        guard !places.isEmpty, strongReason(rule: rule, facts: facts) == nil else { return nil }
        var reasons: [String] = []
        for place in places {
            guard let reason = pathReason(place.path) else { return nil }
            if !reasons.contains(reason) { reasons.append(reason) }
        }
        let example = places[0].path
        return
            "\(reasons.joined(separator: ", ")) (\(example)\(places.count > 1 ? " and \(places.count - 1) more" : ""))"
    }
}

/// What an automatic classification changed.
public struct TestDataOutcome: Sendable, Equatable {
    /// Fingerprints now `test-data` by the classifier.
    public var marked = 0
    /// Fingerprints the classifier had marked that new places reopened.
    public var reopened = 0
    /// Fingerprints a person triaged, left as they are.
    public var keptHuman = 0
}

extension Store {
    /// The author of the triage records the classifier writes. A record by anyone else is a person's, and
    /// always wins over the classifier.
    public static let automaticAuthor = "shardscan (automatic)"

    /// Marks as `test-data` the secret findings that every place shows to be fixtures or examples, or that
    /// unrelated projects share, with the evidence as the record's comment; reopens those it marked before
    /// when new places say otherwise. Never touches a fingerprint a person has triaged. `runID` limits the work
    /// to fingerprints with a place that run recorded (their evidence is all that can have changed); `nil`
    /// classifies every finding.
    @discardableResult
    public func classifyTestData(runID: Int64? = nil) throws -> TestDataOutcome {
        try writing("classify test data") { db in
            var outcome = TestDataOutcome()
            let scope =
                runID == nil
                ? ""
                : """
                AND f.id IN (SELECT m2.finding_id FROM match m2 JOIN provenance p2 ON p2.blob = m2.blob
                             WHERE p2.run_id = ?)
                """
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT f.fingerprint, f.rule, f.facts, p.path, r.project_normalized AS project
                    FROM finding f
                    LEFT JOIN rule ru ON ru.id = f.rule
                    JOIN match m ON m.finding_id = f.id
                    JOIN provenance p ON p.blob = m.blob
                    JOIN release r ON r.id = p.release_id
                    WHERE coalesce(ru.kind, 'secret') = 'secret' \(scope)
                    ORDER BY f.fingerprint, p.shard_path
                    """, arguments: runID.map { [$0] } ?? [])
            var order: [String] = []
            var byFingerprint: [String: (rule: String, facts: String, places: [TestDataEvidence.Place])] = [:]
            for row in rows {
                let fingerprint: String = row["fingerprint"]
                if byFingerprint[fingerprint] == nil {
                    order.append(fingerprint)
                    byFingerprint[fingerprint] = (row["rule"], row["facts"] ?? "{}", [])
                }
                byFingerprint[fingerprint]!.places.append(
                    TestDataEvidence.Place(path: row["path"], project: row["project"]))
            }
            let changedAt = Self.now()
            for fingerprint in order {
                let (rule, factsJSON, places) = byFingerprint[fingerprint]!
                let existing = try TriageRecord.fetchOne(db, key: fingerprint)
                if let existing, existing.author != Self.automaticAuthor {
                    outcome.keptHuman += 1
                    continue
                }
                let facts =
                    (try? JSONDecoder().decode([String: String].self, from: Data(factsJSON.utf8))) ?? [:]
                if let reason = TestDataEvidence.verdict(rule: rule, facts: facts, places: places) {
                    let comment = "automatic: \(reason)"
                    if existing?.status == .testData && existing?.comment == comment { continue }
                    let record = TriageRecord(
                        fingerprint: fingerprint, rule: rule, status: .testData, comment: comment,
                        author: Self.automaticAuthor, changedAt: changedAt)
                    try record.save(db)
                    var event = TriageEvent(record, source: "automatic")
                    try event.insert(db)
                    outcome.marked += 1
                } else if let existing {
                    // New places took the evidence away: the finding is open again, and its history says why.
                    try existing.delete(db)
                    var event = TriageEvent(
                        TriageRecord(
                            fingerprint: fingerprint, rule: rule, status: .open,
                            comment: "automatic: reopened, a new place is not a fixture",
                            author: Self.automaticAuthor, changedAt: changedAt),
                        source: "automatic")
                    try event.insert(db)
                    outcome.reopened += 1
                }
            }
            return outcome
        }
    }
}
