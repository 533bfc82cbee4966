import Foundation
import ShardScanCore
import ShardScanStore
import Testing

@testable import ShardScanEngine

/// Detection quality of the shipped packs, measured the way users meet it: every example credential of
/// every secret rule planted in a realistic file of a mirror shard (a `.env`, `settings.py`, `setup.cfg`,
/// a CI workflow, a notebook, `config.json`, docs), scanned by the real pipeline, plus decoys that must
/// raise nothing.
@Suite struct QualityHarnessTests {
    /// The file kinds credentials leak through, each holding a text the way that kind of file would.
    enum Carrier: CaseIterable {
        case dotenv, settings, setupConfig, workflow, notebook, configJSON, docs

        func path(_ release: String) -> String {
            switch self {
            case .dotenv: "\(release)/.env"
            case .settings: "\(release)/app/settings.py"
            case .setupConfig: "\(release)/setup.cfg"
            case .workflow: "\(release)/.github/workflows/release.yml"
            case .notebook: "\(release)/notebooks/explore.ipynb"
            case .configJSON: "\(release)/app/config.json"
            case .docs: "\(release)/docs/usage.md"
            }
        }

        func wrap(_ text: String) -> String {
            switch self {
            case .dotenv:
                return "# Local settings\nDEBUG=0\nLOG_LEVEL=info\n\(text)\nWORKERS=4\n"
            case .settings:
                return
                    "\"\"\"Settings.\"\"\"\nimport logging\n\nlogger = logging.getLogger(__name__)\nDEBUG = False\n\(text)\nALLOWED_HOSTS = [\"*\"]\n"
            case .setupConfig:
                return "[metadata]\nname = demo\nversion = 1.0\n\n[options]\npackages = find:\n\n[tool:demo]\n\(text)\n"
            case .workflow:
                let indented = text.split(separator: "\n", omittingEmptySubsequences: false).map { "          " + $0 }
                    .joined(separator: "\n")
                return
                    "name: release\non: push\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: |\n\(indented)\n"
            case .notebook:
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                let source = lines.enumerated().map { index, line in
                    jsonString(index < lines.count - 1 ? line + "\n" : line)
                }.joined(separator: ",\n    ")
                return """
                    {
                     "cells": [
                      {
                       "cell_type": "code",
                       "execution_count": 1,
                       "metadata": {},
                       "outputs": [],
                       "source": [
                        "import pandas as pd\\n",
                        \(source)
                       ]
                      }
                     ],
                     "metadata": {"kernelspec": {"name": "python3"}},
                     "nbformat": 4,
                     "nbformat_minor": 5
                    }

                    """
            case .configJSON:
                return "{\n  \"name\": \"demo\",\n  \"snippet\": \(jsonString(text)),\n  \"retries\": 3\n}\n"
            case .docs:
                return "# Usage\n\nConfigure the client:\n\n```python\n\(text)\n```\n\nThen run it.\n"
            }
        }
    }

    static func jsonString(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
    }

    /// Texts that hold no credential, each in a file of the kind it is found in. No rule may fire.
    static let decoys: [(path: String, text: String)] = [
        (
            "app/settings.py",
            """
            import os
            SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
            GITHUB_TOKEN = os.getenv("GITHUB_TOKEN")
            AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
            password = "${DB_PASSWORD}"
            api_key = "{{ api_key }}"
            token = "<YOUR_TOKEN_HERE>"
            SECRET = "%(secret)s"
            STRIPE_KEY = "sk_live_your_key_here"
            AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
            API_KEY = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            password = "********************"
            token = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            secret = "0123456789abcdefghijklmnopqrstuvwxyz"
            """
        ),
        (
            "requirements.txt",
            """
            requests==2.31.0 \\
                --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f \\
                --hash=sha256:942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1
            """
        ),
        (
            "demo-1.0.dist-info/RECORD",
            """
            demo/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0
            demo/client.py,sha256=Gl9x0u3kVwR2o8d5fT1yCq7m4pZsXbNHeJ6LAiKoUwE,5321
            demo-1.0.dist-info/METADATA,sha256=n4Jq8cG0bTzVqR5yWk2aXh7uPmD3sLfE9oAiNvC6Y1M,1290
            """
        ),
        (
            "poetry.lock",
            """
            [[package]]
            name = "certifi"
            version = "2023.7.22"
            files = [
                {file = "certifi-2023.7.22-py3-none-any.whl", hash = "sha256:92d6037539857d8206b8f6ae472e8b77db8058fec5937a1ef3f54304089edbb9"},
            ]
            """
        ),
        (
            "app/static.py",
            """
            ICON = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAGXRFWHRTb2Z0d2FyZQBBZG9iZSBJbWFnZVJlYWR5ccllPAAAAJ5JREFUeNpi"
            REQUEST_ID = "3f2c9a7e-8b41-4d0a-9c6e-2f1b7d5e4a90"
            COMMIT = "9fceb02d0ae598e95dc970b74767f19372d61af8"
            session_id = "5b8f1c2e-7d3a-4e6b-9a0c-1d2e3f4a5b6c"
            revision = "e83c5163316f89bfbde7d9ab23ca2e25604af290"
            """
        ),
        (
            "docs/configuration.rst",
            """
            Set ``PYPI_TOKEN`` to a token that starts with ``pypi-``; for example ``pypi-AgEIcHlwaS5vcmc...``.
            The key looks like ``AKIA`` followed by 16 characters, e.g. ``AKIAXXXXXXXXXXXXXXXX``.
            Use ``ghp_`` tokens from https://github.com/settings/tokens, never ``ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx``.
            """
        ),
        (
            "tests/test_hashes.py",
            """
            import hashlib
            EXPECTED_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
            EXPECTED_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
            assert hashlib.sha256(b"").hexdigest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            """
        ),
        (
            "docs/providers.md",
            // The providers' own documentation samples for the kinds of issue 16: masked, cut short, or
            // placeholders, none of them a credential.
            """
            SecretId: AKID****J5yKBZQpn74WFkmLPx3gnPhESA, SecretKey: Gu5t****pq86cd98joQYCN3Cozk1qA
            GET https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=APPID&secret=APPSECRET
            Authorization: Bearer eyJrIjoiT0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk
            PAT = "abcdefghijklmnopqrstuvwxyz012345679ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnoAZDOabcd"
            GOOGLE_CLIENT_ID = "YOUR_CLIENT_ID.apps.googleusercontent.com"
            export VOLCENGINE_ACCESS_KEY=yourAccessKeyID
            https://app.asana.com/0/1204567890123456/1204567890123457
            """
        ),
        ("app/tokens.py", "GITHUB_TOKEN = \"\(brokenChecksumToken)\"\ngithub_token: \(brokenChecksumToken)\n"),
    ]

    /// A `ghp_` token whose CRC-32 fails (its last digit changed): `github.pat-classic` rejects it, and no
    /// generic rule may report it instead.
    static var brokenChecksumToken: String {
        var mint = TokenMint(seed: 40)
        let valid = mint.githubToken()
        let digits = Array(TokenMint.base62Alphabet)
        let last = digits.firstIndex(of: valid.last!)!
        return String(valid.dropLast()) + String(digits[(last + 1) % digits.count])
    }

    struct Plant {
        var rule: String
        var secret: String
        /// `nil` for an example planted in a file of its own path.
        var carrier: Carrier?
        var shardPath: String
    }

    @Test func everySecretRuleFindsItsPlantedCredentialsAndNoDecoyAlarms() throws {
        let loaded = RulePackLoader.load(paths: [PrefilterTests.rulesFolder])
        #expect(loaded.errors.isEmpty)
        let ruleSet = RuleSet(loaded, cacheDirectory: TestCache.directory)
        let matcher = Matcher(ruleSet: ruleSet)

        // What each example yields alone is what its rule must find once it is planted.
        let mirror = try MirrorFixture()
        try mirror.createShard("pypi-mirror-1")
        var plants: [Plant] = []
        var files: [String: String] = [:]
        var release = 0
        var carrierIndex = 0
        func flushRelease() throws {
            guard !files.isEmpty else { return }
            try mirror.addRelease(shard: "pypi-mirror-1", files: files)
            files = [:]
            release += 1
        }
        for (index, compiled) in ruleSet.rules.enumerated() where compiled.rule.kind == .secret {
            for example in compiled.rule.examples {
                let secrets = matcher.scan(text: example.text, path: example.path, onlyRule: index).findings.map(
                    \.secret)
                guard !secrets.isEmpty else { continue }
                let root = "packages/demo\(release)/demo\(release)-1.0.tar.gz/demo\(release)-1.0"
                // An example written for one kind of file (a `.pypirc`) goes into such a file as it is.
                let carrier: Carrier? =
                    example.path == nil ? Carrier.allCases[carrierIndex % Carrier.allCases.count] : nil
                if carrier != nil { carrierIndex += 1 }
                func place(_ suffix: Int) -> String {
                    let folder = suffix == 1 ? root : root + "/copy\(suffix)"
                    return carrier.map { $0.path(folder) } ?? folder + "/" + example.path!
                }
                var suffix = 1
                while files[place(suffix)] != nil { suffix += 1 }
                let path = place(suffix)
                files[path] = carrier.map { $0.wrap(example.text) } ?? example.text
                for secret in secrets {
                    plants.append(Plant(rule: compiled.rule.id, secret: secret, carrier: carrier, shardPath: path))
                }
                if files.count >= 14 { try flushRelease() }
            }
        }
        try flushRelease()
        var decoyPaths: Set<String> = []
        for (number, decoy) in Self.decoys.enumerated() {
            let path = "packages/plain\(number)/plain\(number)-1.0.tar.gz/plain\(number)-1.0/\(decoy.path)"
            files[path] = decoy.text
            decoyPaths.insert(path)
        }
        try flushRelease()

        let store = try Store(path: mirror.storePath)
        let summary = try MirrorScan(sink: store, ruleSet: ruleSet).run(
            ShardLocator.locate([mirror.mirrorPath], branch: "code")
        ) { _ in }
        #expect(summary.failedShards.isEmpty)
        let rows = try store.findings(FindingQuery())
        // A multi-line secret (a PEM body) indented in its file is the same secret: compare without blanks.
        func squeezed(_ secret: String) -> String { secret.filter { !$0.isWhitespace } }
        let found = Set(rows.map { "\($0.rule)\u{0}\(squeezed($0.secret))\u{0}\($0.shardPath)" })

        // The per-rule table.
        var missed: [Plant] = []
        var byRule: [String: (planted: Int, found: Int)] = [:]
        for plant in plants {
            let hit = found.contains("\(plant.rule)\u{0}\(squeezed(plant.secret))\u{0}\(plant.shardPath)")
            byRule[plant.rule, default: (0, 0)].planted += 1
            if hit { byRule[plant.rule, default: (0, 0)].found += 1 } else { missed.append(plant) }
        }
        var table = ["RULE                                         PLANTED  FOUND"]
        for (rule, counts) in byRule.sorted(by: { $0.key < $1.key }) {
            table.append(
                rule.padding(toLength: 45, withPad: " ", startingAt: 0)
                    + String(format: "%7d  %5d", counts.planted, counts.found))
        }
        let recall = Double(plants.count - missed.count) / Double(max(1, plants.count))
        let decoyAlarms = rows.filter { decoyPaths.contains($0.shardPath) }
        table.append(
            "\(byRule.count) rules, \(plants.count) planted credentials in \(release) releases: recall \(String(format: "%.3f", recall)), \(decoyAlarms.count) decoy alarms"
        )
        for plant in missed {
            table.append(
                "missed: \(plant.rule) in \(plant.carrier.map { "\($0)" } ?? plant.shardPath) (\(redact(plant.secret)))"
            )
        }
        for alarm in decoyAlarms {
            table.append("decoy alarm: \(alarm.rule) at \(alarm.path):\(alarm.line) (\(redact(alarm.secret)))")
        }
        print(table.joined(separator: "\n"))

        let secretRules = ruleSet.rules.filter { $0.rule.kind == .secret }.count
        #expect(byRule.count == secretRules, "every secret rule has at least one plantable example")
        #expect(recall >= 0.98, "\(missed.count) of \(plants.count) planted credentials missed")
        #expect(decoyAlarms.isEmpty, "\(decoyAlarms.map { "\($0.rule) at \($0.path):\($0.line)" })")
    }
}
