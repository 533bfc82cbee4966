import ShardScanCore
import ShardScanStore
import Testing

/// The evidence the automatic `test-data` verdict rests on, one rule at a time.
@Suite struct TestDataEvidenceTests {
    @Test func fixturePathsAndNames() {
        #expect(TestDataEvidence.pathReason("urllib3-2.0/dummyserver/certs/server.key") == "fixture path dummyserver/")
        #expect(TestDataEvidence.pathReason("twisted/conch/test/keydata.py") == "fixture path test/")
        #expect(TestDataEvidence.pathReason("pkg-1.0/docs/config.rst") == "fixture path docs/")
        #expect(TestDataEvidence.pathReason("pkg-1.0/certs/ca.pem") == "fixture path certs/")
        #expect(TestDataEvidence.pathReason("pkg-1.0/pkg/test.key") == "fixture name test.key")
        #expect(TestDataEvidence.pathReason("pkg-1.0/pkg/settings_example.py") == "fixture name example")
        #expect(TestDataEvidence.pathReason("pkg-1.0/pkg/test_client.py") == "test module test_client.py")
        // Segments must match whole: `contests/` and `latest/` are not fixture folders.
        #expect(TestDataEvidence.pathReason("pkg-1.0/contests/settings.py") == nil)
        #expect(TestDataEvidence.pathReason("pkg-1.0/latest/settings.py") == nil)
        #expect(TestDataEvidence.pathReason("pkg-1.0/pkg/settings.py") == nil)
    }

    @Test func realCredentialsAreNotHiddenByPathAlone() {
        let tests = [TestDataEvidence.Place(path: "pkg-1.0/tests/test_upload.py", project: "pkg")]
        #expect(TestDataEvidence.verdict(rule: "generic.secret-assignment", facts: [:], places: tests) != nil)
        #expect(TestDataEvidence.verdict(rule: "github.pat-classic", facts: ["valid": "yes"], places: tests) == nil)
        #expect(TestDataEvidence.verdict(rule: "pypi.upload-token", facts: [:], places: tests) == nil)
        #expect(TestDataEvidence.verdict(rule: "aws.secret-access-key", facts: [:], places: tests) == nil)
        #expect(TestDataEvidence.verdict(rule: "tencent.secret-key", facts: ["pair": "x"], places: tests) == nil)
        // One place outside fixtures keeps it open.
        let mixed = tests + [TestDataEvidence.Place(path: "pkg-1.0/pkg/settings.py", project: "pkg")]
        #expect(TestDataEvidence.verdict(rule: "generic.secret-assignment", facts: [:], places: mixed) == nil)
    }

    @Test func prevalenceCountsUnrelatedProjects() {
        func places(_ projects: [String]) -> [TestDataEvidence.Place] {
            projects.map { TestDataEvidence.Place(path: "\($0)-1.0/app.py", project: $0) }
        }
        #expect(
            TestDataEvidence.verdict(rule: "generic.secret-assignment", facts: [:], places: places(["a", "b"])) == nil)
        #expect(
            TestDataEvidence.verdict(
                rule: "github.pat-classic", facts: ["valid": "yes"], places: places(["a", "b", "c"]))?
                .hasPrefix("prevalence: the same secret in 3 unrelated projects") == true)
        #expect(
            TestDataEvidence.verdict(
                rule: "generic.secret-assignment", facts: [:], places: places(["flask", "flask-login", "flask_wtf"]))
                == nil)
    }
}
