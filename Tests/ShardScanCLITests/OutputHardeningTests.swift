import Foundation
import Git
import ShardScanCore
import Testing

/// What leaves the tool: no secret in any output unless asked, no terminal control characters, paths exact.
@Suite struct OutputHardeningTests {
    /// The shapes of the shipped rules for the four credentials of the issue's line, and a content rule whose
    /// match runs over one of them.
    static let rules = """
        rules:
          - id: aws.access-key-id
            name: AWS access key ID
            pattern: '(?<![A-Z0-9])(?<secret>AKIA[A-Z0-9]{16})(?![A-Za-z0-9])'
          - id: aws.secret-access-key
            name: AWS secret access key
            pattern: '(?i:aws_secret_access_key)[''"]?\\s{0,5}[:=]\\s{0,5}[''"]?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])'
          - id: postgresql.connection-uri-password
            name: PostgreSQL URI with password
            pattern: '\\bpostgres(?:ql)?://(?<user>[^\\s:/?#@''"]{0,64}):(?<secret>[^\\s/?#@''"]{3,128})@[A-Za-z0-9_.-]{1,253}'
          - id: telegram.bot-token
            name: Telegram bot token
            pattern: '(?<![A-Za-z0-9_:-])(?<secret>\\d{5,12}:[A-Za-z0-9_-]{35})(?![A-Za-z0-9_-])'
          - id: content.bot-call
            name: Bot token passed to a call
            kind: content
            pattern: '(?<secret>bot=''[^'']*''\\))'
        """

    struct Secrets {
        var keyID: String
        var secretKey: String
        var password: String
        var botToken: String
        var all: [String] { [keyID, secretKey, password, botToken] }

        init(seed: UInt64) {
            var fake = TokenMint(seed: seed)
            keyID = "AKIA" + fake.string(16, from: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
            secretKey = fake.string(40, from: TokenMint.base62Alphabet + "+/")
            password = fake.string(16, from: TokenMint.base62Alphabet)
            botToken =
                "\(100_000_000 + fake.next(below: 900_000_000)):AA" + fake.string(33, from: TokenMint.base62Alphabet)
        }

        /// The issue's line.
        var line: String {
            "cfg = dict(key='\(keyID)', aws_secret_access_key='\(secretKey)', "
                + "db='postgresql://admin:\(password)@h/db', bot='\(botToken)')"
        }
    }

    /// Fails when `output` holds any seven consecutive characters of any secret. ``redact(_:)`` keeps at most
    /// six characters of a finding's own secret, and nothing of the others.
    static func expectNoSecret(_ output: String, _ secrets: Secrets, _ what: String) {
        #expect(!output.isEmpty, "\(what) is empty")
        for secret in secrets.all {
            let characters = Array(secret)
            for start in 0...(characters.count - 7) {
                let window = String(characters[start..<start + 7])
                if output.contains(window) {
                    Issue.record("\(what) shows \(window) of a secret:\n\(output)")
                    break
                }
            }
        }
    }

    func makeMirror(_ folder: URL, files: [(path: [UInt8], content: String)]) throws -> String {
        let mirror = folder.appendingPathComponent("mirror").path
        let repository = try Repository.create(at: mirror + "/pypi-mirror-1", bare: true)
        let blobs = try files.map { (path: $0.path, blob: try repository.writeBlob(Array($0.content.utf8))) }
        try repository.commit(
            rawFiles: blobs, parent: nil, message: "release", author: Signature(name: "m", email: "m@x", time: 1),
            reference: "refs/heads/code")
        return mirror
    }

    @Test func noSecretOfTheBlobLeaksThroughAnySnippetOrOutput() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let rules = folder.appendingPathComponent("rules.yaml").path
        try Self.rules.write(toFile: rules, atomically: true, encoding: .utf8)
        let secrets = Secrets(seed: 11)
        let mirror = try makeMirror(
            folder,
            files: [(Array("packages/cfg/cfg-1.0.tar.gz/cfg-1.0/settings.py".utf8), "import os\n\(secrets.line)\n")])
        let db = folder.appendingPathComponent("s.sqlite").path
        let sarif = folder.appendingPathComponent("new.sarif").path
        let json = folder.appendingPathComponent("new.json").path

        let scan = try CLI.run(["scan", "--db", db, "--rules", rules, "--sarif", sarif, "--json", json, mirror])
        #expect(scan.status == 1, "\(scan.stderr)")
        Self.expectNoSecret(scan.stdout + scan.stderr, secrets, "scan's output")
        let sarifText = try String(contentsOfFile: sarif, encoding: .utf8)
        Self.expectNoSecret(sarifText, secrets, "SARIF")
        #expect(sarifText.contains("content.bot-call"))
        Self.expectNoSecret(try String(contentsOfFile: json, encoding: .utf8), secrets, "JSON")
        for format in ["jsonl", "json", "sarif"] {
            let report = try CLI.run(["report", "--db", db, "--all", "--format", format])
            #expect(report.status == 0, "\(report.stderr)")
            Self.expectNoSecret(report.stdout, secrets, "report --format \(format)")
        }
        for format in ["table", "json", "jsonl"] {
            let findings = try CLI.run(["findings", "--db", db, "--format", format])
            #expect(findings.status == 0, "\(findings.stderr)")
            Self.expectNoSecret(findings.stdout + findings.stderr, secrets, "findings --format \(format)")
            #expect(findings.stdout.contains("postgresql.connection-uri-password"))
        }
        let file = folder.appendingPathComponent("settings.py").path
        try (secrets.line + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        for format in ["table", "json"] {
            let text = try CLI.run(["scan-text", "--rules", rules, "--format", format, file])
            #expect(text.status == 1, "\(text.stderr)")
            Self.expectNoSecret(text.stdout + text.stderr, secrets, "scan-text --format \(format)")
            #expect(text.stdout.contains("telegram.bot-token") && text.stdout.contains("content.bot-call"))
        }

        // Asked for, they are all there.
        let shown = try CLI.run(["findings", "--db", db, "--format", "json", "--show-secrets"])
        let report = try CLI.run(["report", "--db", db, "--all", "--format", "sarif", "--show-secrets"])
        let text = try CLI.run(["scan-text", "--rules", rules, "--format", "json", "--show-secrets", file])
        for output in [shown.stdout, report.stdout, text.stdout] {
            for secret in secrets.all { #expect(output.contains(secret), "\(secret) missing with --show-secrets") }
        }
    }

    /// A shard whose one commit holds `files` at paths as raw bytes, trees written object by object with
    /// `git hash-object --literally`, so that paths git's own index would refuse (`..` segments) can be built.
    func makeRawMirror(_ folder: URL, files: [(path: [UInt8], content: String)]) throws -> String {
        let mirror = folder.appendingPathComponent("mirror").path
        let shard = mirror + "/pypi-mirror-1"
        _ = try Repository.create(at: shard, bare: true)
        func git(_ arguments: [String], input: [UInt8] = []) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["git", "--git-dir", shard] + arguments
            let stdin = Pipe()
            let stdout = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            try process.run()
            stdin.fileHandleForWriting.write(Data(input))
            try stdin.fileHandleForWriting.close()
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            try #require(process.terminationStatus == 0, "git \(arguments)")
            return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func hexBytes(_ hex: String) -> [UInt8] {
            let digits = Array(hex.utf8)
            return stride(from: 0, to: digits.count, by: 2).map {
                UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
            }
        }
        func tree(_ entries: [(path: [[UInt8]], content: String)]) throws -> String {
            var groups: [[UInt8]: [(path: [[UInt8]], content: String)]] = [:]
            var body: [([UInt8], [UInt8])] = []
            for entry in entries {
                if entry.path.count == 1 {
                    let blob = try git(["hash-object", "-w", "--stdin"], input: Array(entry.content.utf8))
                    body.append((entry.path[0], Array("100644 ".utf8) + entry.path[0] + [0] + hexBytes(blob)))
                } else {
                    groups[entry.path[0], default: []].append((Array(entry.path.dropFirst()), entry.content))
                }
            }
            for (name, children) in groups {
                let child = try tree(children)
                body.append((name + [UInt8(ascii: "/")], Array("40000 ".utf8) + name + [0] + hexBytes(child)))
            }
            let bytes = body.sorted { $0.0.lexicographicallyPrecedes($1.0) }.flatMap(\.1)
            return try git(["hash-object", "-w", "-t", "tree", "--literally", "--stdin"], input: bytes)
        }
        let root = try tree(files.map { (PathEncoding.segments($0.path), $0.content) })
        let commit = try git(["commit-tree", root, "-m", "release"])
        _ = try git(["update-ref", "refs/heads/code", commit])
        return mirror
    }

    static let tokenRules = """
        rules:
          - id: github.pat-classic
            name: GitHub token
            pattern: '\\b(?<secret>ghp_[A-Za-z0-9]{36})\\b'
        """

    func setUpRules(_ folder: URL) throws -> String {
        let rules = folder.appendingPathComponent("rules.yaml").path
        try Self.tokenRules.write(toFile: rules, atomically: true, encoding: .utf8)
        return rules
    }

    @Test func controlCharactersInPathsReachNoTerminal() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let rules = try setUpRules(folder)
        var fake = TokenMint(seed: 9)
        let hostile = "packages/evil/evil-1.0.tar.gz/evil-1.0/\u{1B}[31mred\nPROJECT FORGED ROW\r.py"
        let mirror = try makeMirror(folder, files: [(Array(hostile.utf8), "TOKEN = '\(fake.githubToken())'\n")])
        let db = folder.appendingPathComponent("s.sqlite").path
        let scan = try CLI.run(["scan", "--db", db, "--rules", rules, mirror])
        #expect(scan.status == 1, "\(scan.stderr)")
        let table = try CLI.run(["findings", "--db", db])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 2, "one header and one row: \(table.stdout)")
        #expect(table.stdout.contains("\\e[31mred\\nPROJECT FORGED ROW\\r.py"), "\(table.stdout)")
        let status = try CLI.run(["status", "--db", db])
        for output in [scan.stdout, scan.stderr, table.stdout, table.stderr, status.stdout, status.stderr] {
            #expect(!output.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\r" }, "\(output)")
        }
        let file = folder.appendingPathComponent("x\u{1B}[2Jy.py").path
        try "TOKEN = '\(fake.githubToken())'\n".write(toFile: file, atomically: true, encoding: .utf8)
        let text = try CLI.run(["scan-text", "--rules", rules, file])
        #expect(text.status == 1, "\(text.stderr)")
        #expect(text.stdout.contains("x\\e[2Jy.py"), "\(text.stdout)")
        #expect(!text.stdout.unicodeScalars.contains("\u{1B}"))
    }

    @Test func pathsStayExactAndInsideTheRootInEveryOutput() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let rules = try setUpRules(folder)
        var fake = TokenMint(seed: 10)
        let traversal = Array("packages/x/../../../../tmp/evil".utf8)
        let latin1: [UInt8] = Array("packages/caf/caf-1.0.tar.gz/caf-1.0/caf".utf8) + [0xE9] + Array(".py".utf8)
        let latin1Twin: [UInt8] = Array("packages/caf/caf-1.0.tar.gz/caf-1.0/caf".utf8) + [0xE8] + Array(".py".utf8)
        let content = "TOKEN = '\(fake.githubToken())'\n"
        let mirror = try makeRawMirror(
            folder, files: [(traversal, content), (latin1, content), (latin1Twin, content)])
        let db = folder.appendingPathComponent("s.sqlite").path
        let sarif = folder.appendingPathComponent("new.sarif").path
        let scan = try CLI.run(["scan", "--db", db, "--rules", rules, "--sarif", sarif, mirror])
        #expect(scan.status == 1, "\(scan.stderr)")

        let log =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sarif))) as! [String: Any]
        let results = (log["runs"] as! [[String: Any]]).flatMap { $0["results"] as! [[String: Any]] }
        let uris = Set(
            results.map {
                ((($0["locations"] as! [[String: Any]])[0]["physicalLocation"] as! [String: Any])["artifactLocation"]
                    as! [String: Any])["uri"] as! String
            })
        #expect(
            uris == [
                "pypi-mirror-1/packages/x/%2E%2E/%2E%2E/%2E%2E/%2E%2E/tmp/evil",
                "pypi-mirror-1/packages/caf/caf-1.0.tar.gz/caf-1.0/caf%E9.py",
                "pypi-mirror-1/packages/caf/caf-1.0.tar.gz/caf-1.0/caf%E8.py",
            ], "\(uris)")
        for uri in uris {
            // As a SARIF consumer would resolve it against the checkout (Foundation removes dot segments).
            let resolved = URL(string: uri, relativeTo: URL(string: "file:///checkout/")!)!.absoluteURL.standardized
            #expect(resolved.absoluteString.hasPrefix("file:///checkout/pypi-mirror-1/"), "\(uri) -> \(resolved)")
        }

        let jsonl = try CLI.run(["findings", "--db", db, "--format", "jsonl"])
        let rows = try jsonl.stdout.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(rows.count == 3)
        let exact = Set(
            rows.map { row in
                (row["shard_path_base64"] as? String).map { Array(Data(base64Encoded: $0)!) }
                    ?? Array((row["shard_path"] as! String).utf8)
            })
        #expect(exact == [traversal, latin1, latin1Twin])
        #expect(rows.filter { $0["shard_path_base64"] != nil }.count == 2)

        let table = try CLI.run(["findings", "--db", db])
        #expect(table.stdout.contains("caf\\xE9.py") && table.stdout.contains("caf\\xE8.py"), "\(table.stdout)")

        let json = try CLI.run(["report", "--db", db, "--all", "--format", "json"])
        #expect(json.stdout.contains("shard_path_base64"))
    }
}
