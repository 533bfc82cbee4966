import Foundation
import Testing

@Suite struct DemoTests {
    /// The README's main command: the shipped rules find every planted fake credential in the demo
    /// mirror, once each, and none of its decoys.
    @Test func demoFindsThePlantedSecretsAndNoDecoys() throws {
        let folder = try CLI.temporaryFolder().appendingPathComponent("demo")
        let result = try CLI.run(["demo", folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        let db = folder.appendingPathComponent("shardscan.sqlite").path
        let rows = try CLI.run(["findings", "--db", db, "--format", "jsonl"]).stdout.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let places = Set(rows.map { "\($0["rule"]!) \($0["project"]!) \($0["version"]!) \($0["path"]!)" })
        #expect(
            places == [
                "github.pat-classic acme-utils 0.1.0 acme-utils-0.1.0/acme_utils/settings.py",
                "github.pat-classic acme-utils 0.2.0 acme-utils-0.2.0/acme_utils/settings.py",
                "stripe.live-secret-key acme-utils 0.2.0 acme-utils-0.2.0/acme_utils/billing.py",
                "aws.access-key-id weather-client 1.0.0 weather_client/config.py",
                "aws.secret-access-key weather-client 1.0.0 weather_client/config.py",
                "slack.incoming-webhook-url Flask_Login_Demo 0.3 Flask_Login_Demo-0.3/.env",
                "postgresql.connection-uri-password dbtools 2.0 dbtools/db.py",
                "pypi.upload-token Flask_Login_Demo 0.3 Flask_Login_Demo-0.3/.pypirc",
            ], "\(places.sorted())")
        #expect(rows.count == places.count)
        // The PyPI token's macaroon says what it can do: upload to one project, on pypi.org.
        let pypi = try #require(rows.first { $0["rule"] as? String == "pypi.upload-token" })
        let facts = try #require(pypi["facts"] as? [String: String])
        #expect(facts["scope"] == "projects")
        #expect(facts["projects"] == "flask-login-demo")
        #expect(facts["index"] == "pypi")
        #expect(facts["valid"] == "yes")
        let table = try CLI.run(["findings", "--db", db, "--project", "flask-login-demo"]).stdout
        #expect(table.contains("pypi.upload-token"))
        #expect(table.contains("scope=projects projects=flask-login-demo"), "\(table)")
        #expect(!table.contains("pypi-AgEI"))  // redacted: the token never leaves unasked
        #expect(result.stdout.contains("acme-utils"))
        // The walk-through ends with the disclosure notice for the project whose upload token leaked.
        #expect(result.stdout.contains("disclose --db \(db) --project Flask_Login_Demo"))
        let notice = try CLI.run(["disclose", "--db", db, "--project", "Flask_Login_Demo"])
        #expect(notice.status == 0, "\(notice.stderr)")
        #expect(notice.stdout.contains("maintainer@example.invalid"))
        #expect(notice.stdout.contains("scope=projects projects=flask-login-demo"))
        #expect(notice.stdout.contains("Revoke the token in your PyPI account settings"))
        #expect(!notice.stdout.contains("pypi-AgEI"))
        // A second run rebuilds the demo from scratch.
        #expect(try CLI.run(["demo", folder.path]).status == 0)
    }
}
