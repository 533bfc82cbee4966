import Foundation
import Git
import ShardScanCore

/// Builds a small mirror-shaped root: three shards of a few releases each, with fake credentials,
/// decoys, a binary file and blobs repeated across shards. Everything is generated here, from a
/// fixed seed, so the demo is the same on every machine.
public enum DemoMirror {
    /// Creates the shards under `root` (which must not hold them yet) and returns their paths.
    public static func build(at root: String) throws -> [String] {
        var fake = FakeCredentials(seed: 0xD3_40)
        let githubToken = fake.githubToken(prefix: "ghp_")
        let awsKeyID = "AKIA" + fake.string(16, from: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let awsSecret = fake.string(40, from: FakeCredentials.base62 + "+/")
        let stripeKey = "sk_live_" + fake.string(24, from: FakeCredentials.base62)
        let slackWebhook =
            "https://hooks.slack.com/services/T\(fake.string(10, from: FakeCredentials.upperDigits))/B\(fake.string(10, from: FakeCredentials.upperDigits))/\(fake.string(24, from: FakeCredentials.base62))"
        let databasePassword = fake.string(18, from: FakeCredentials.base62)
        var mint = TokenMint(seed: 0xD3_41)
        let projectID = mint.uuid()
        let pypiToken = mint.pypiToken(
            location: "pypi.org", caveats: [.projectNames(["flask-login-demo"]), .projectIDs([projectID])])
        let pypirc = """
            [distutils]
            index-servers = pypi

            [pypi]
            username = __token__
            password = \(pypiToken)

            """

        let settings = """
            \"\"\"acme-utils settings.\"\"\"
            import os

            DEBUG = False
            # Token for the release bot; should have come from the environment.
            GITHUB_TOKEN = "\(githubToken)"
            # The documentation's example key is not a secret:
            AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"

            """
        let cleanedSettings = """
            \"\"\"acme-utils settings.\"\"\"
            import os

            DEBUG = False
            GITHUB_TOKEN = os.environ["GITHUB_TOKEN"]

            """
        let setup = { (name: String, version: String) in
            "from setuptools import setup\n\nsetup(name=\"\(name)\", version=\"\(version)\", packages=[\"\(name.replacingOccurrences(of: "-", with: "_"))\"])\n"
        }
        let weatherConfig = """
            import boto3

            session = boto3.Session(
                aws_access_key_id="\(awsKeyID)",
                aws_secret_access_key="\(awsSecret)",
            )

            """
        let dotenv = """
            SLACK_WEBHOOK_URL=\(slackWebhook)
            SLACK_FALLBACK_URL=${SLACK_WEBHOOK_URL}
            DEBUG=1

            """
        let billing = """
            import stripe

            stripe.api_key = "\(stripeKey)"
            PLACEHOLDER = "sk_live_your_key_here"

            """
        let database = """
            from sqlalchemy import create_engine

            engine = create_engine("postgresql://report:\(databasePassword)@db.internal.example:5432/reports")
            LOCAL = "postgresql://user:${DB_PASSWORD}@localhost/dev"

            """
        let png: [UInt8] =
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D] + Array("IHDR".utf8) + [0, 0, 0, 1]

        typealias Release = (message: String, files: [(String, [UInt8])])
        func text(_ string: String) -> [UInt8] { Array(string.utf8) }
        let shards: [(name: String, releases: [Release])] = [
            (
                "pypi-mirror-1",
                [
                    (
                        "acme-utils 0.1.0",
                        [
                            (
                                "packages/acme-utils/acme-utils-0.1.0.tar.gz/acme-utils-0.1.0/setup.py",
                                text(setup("acme-utils", "0.1.0"))
                            ),
                            (
                                "packages/acme-utils/acme-utils-0.1.0.tar.gz/acme-utils-0.1.0/acme_utils/settings.py",
                                text(settings)
                            ),
                            (
                                "packages/acme-utils/acme-utils-0.1.0.tar.gz/acme-utils-0.1.0/README.md",
                                text("# acme-utils\n\nHelpers.\n")
                            ),
                        ]
                    ),
                    (
                        "weather-client 1.0.0",
                        [
                            (
                                "packages/weather-client/weather_client-1.0.0-py3-none-any.whl/weather_client/config.py",
                                text(weatherConfig)
                            ),
                            (
                                "packages/weather-client/weather_client-1.0.0-py3-none-any.whl/weather_client/__init__.py",
                                text("from .config import session\n")
                            ),
                        ]
                    ),
                    (
                        "Flask_Login_Demo 0.3",
                        [
                            (
                                "packages/Flask_Login_Demo/Flask_Login_Demo-0.3.zip/Flask_Login_Demo-0.3/.env",
                                text(dotenv)
                            ),
                            (
                                "packages/Flask_Login_Demo/Flask_Login_Demo-0.3.zip/Flask_Login_Demo-0.3/setup.py",
                                text(setup("Flask_Login_Demo", "0.3"))
                            ),
                            // The upload token, scoped to this project, shipped by mistake.
                            (
                                "packages/Flask_Login_Demo/Flask_Login_Demo-0.3.zip/Flask_Login_Demo-0.3/.pypirc",
                                text(pypirc)
                            ),
                            // Core metadata: whom `disclose` names as the contact.
                            (
                                "packages/Flask_Login_Demo/Flask_Login_Demo-0.3.zip/Flask_Login_Demo-0.3/PKG-INFO",
                                text(
                                    "Metadata-Version: 2.1\nName: Flask_Login_Demo\nVersion: 0.3\n"
                                        + "Maintainer: Demo Maintainer\nMaintainer-email: maintainer@example.invalid\n"
                                        + "Project-URL: Source, https://example.invalid/flask-login-demo\n")
                            ),
                        ]
                    ),
                ]
            ),
            (
                "pypi-mirror-2",
                [
                    (
                        "acme-utils 0.2.0",
                        [
                            (
                                "packages/acme-utils/acme-utils-0.2.0.tar.gz/acme-utils-0.2.0/setup.py",
                                text(setup("acme-utils", "0.2.0"))
                            ),
                            // The same settings.py blob as in 0.1.0, in another shard: not scanned again.
                            (
                                "packages/acme-utils/acme-utils-0.2.0.tar.gz/acme-utils-0.2.0/acme_utils/settings.py",
                                text(settings)
                            ),
                            (
                                "packages/acme-utils/acme-utils-0.2.0.tar.gz/acme-utils-0.2.0/acme_utils/billing.py",
                                text(billing)
                            ),
                            (
                                "packages/acme-utils/acme-utils-0.2.0.tar.gz/acme-utils-0.2.0/README.md",
                                text("# acme-utils\n\nHelpers.\n")
                            ),
                        ]
                    ),
                    (
                        "dbtools 2.0",
                        [("packages/dbtools/dbtools-2.0-py3.11.egg/dbtools/db.py", text(database))]
                    ),
                    (
                        "oddball latest",
                        [
                            ("packages/oddball/oddball-latest.tar.gz/oddball/logo.png", png),
                            (
                                "packages/oddball/oddball-latest.tar.gz/oddball/__init__.py",
                                text("VERSION = 'latest'\n")
                            ),
                        ]
                    ),
                ]
            ),
            (
                "pypi-mirror-3",
                [
                    (
                        "acme-utils 0.3.0",
                        [
                            (
                                "packages/acme-utils/acme_utils-0.3.0-py3-none-any.whl/acme_utils/settings.py",
                                text(cleanedSettings)
                            )
                        ]
                    ),
                    ("mirror notes", [("README.md", text("This shard holds releases uploaded in the demo period.\n"))]),
                ]
            ),
        ]

        var paths: [String] = []
        var time: Int64 = 1_700_000_000
        for shard in shards {
            let path = (root as NSString).appendingPathComponent(shard.name + ".git")
            let repository = try Repository.create(at: path, bare: true)
            var parent: ObjectID?
            for release in shard.releases {
                let files = try release.files.map { (path, bytes) in (path: path, blob: try repository.writeBlob(bytes))
                }
                time += 3600
                parent = try repository.commit(
                    files: files, parent: parent, message: "Add \(release.message)",
                    author: Signature(name: "PyPI mirror", email: "mirror@example.invalid", time: time),
                    reference: "refs/heads/code")
            }
            paths.append(path)
        }
        return paths
    }
}
