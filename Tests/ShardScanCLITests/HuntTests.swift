import Foundation
import Testing

/// `shardscan hunt` checked against git itself (`ls-tree`, `cat-file`) on the demo mirror.
@Suite struct HuntTests {
    struct Place: Hashable, Comparable {
        var shard: String
        var shardPath: String
        var blob: String
        var line: Int?

        static func < (a: Place, b: Place) -> Bool {
            (a.shard, a.shardPath, a.line ?? 0) < (b.shard, b.shardPath, b.line ?? 0)
        }
    }

    /// A demo mirror built by the binary, and every file of each shard's `code` as git lists it.
    struct Mirror {
        let folder: URL
        var root: String { folder.appendingPathComponent("demo/mirror").path }
        /// shard → (path → blob id)
        let files: [String: [String: String]]

        init() throws {
            folder = try CLI.temporaryFolder()
            let demo = try CLI.run(["demo", folder.appendingPathComponent("demo").path])
            #expect(demo.status == 0, "\(demo.stderr)")
            var files: [String: [String: String]] = [:]
            let root = folder.appendingPathComponent("demo/mirror").path
            for entry in try FileManager.default.contentsOfDirectory(atPath: root) where entry.hasSuffix(".git") {
                let listing = try Self.git(["ls-tree", "-r", "code"], in: "\(root)/\(entry)")
                var paths: [String: String] = [:]
                for line in listing.split(separator: "\n") {
                    // <mode> SP <type> SP <object> TAB <file>
                    let parts = line.split(separator: "\t", maxSplits: 1)
                    let fields = parts[0].split(separator: " ")
                    guard fields[1] == "blob", fields[0] != "120000" else { continue }
                    paths[String(parts[1])] = String(fields[2])
                }
                files[String(entry.dropLast(4))] = paths
            }
            self.files = files
        }

        func content(_ blob: String, shard: String) throws -> String {
            try Self.git(["cat-file", "blob", blob], in: "\(root)/\(shard).git")
        }

        static func git(_ arguments: [String], in directory: String) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
            process.arguments = ["-C", directory, "-c", "core.quotePath=false"] + arguments
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
    }

    static func rows(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    static func places(_ rows: [[String: Any]]) -> [Place] {
        rows.map {
            Place(
                shard: $0["shard"] as? String ?? "", shardPath: $0["shard_path"] as? String ?? "",
                blob: $0["blob"] as? String ?? "", line: $0["line"] as? Int)
        }.sorted()
    }

    @Test func pathOnlyHuntListsEveryFileGitListsAndReadsNoBlob() throws {
        let mirror = try Mirror()
        defer { try? FileManager.default.removeItem(at: mirror.folder) }
        let result = try CLI.run(["hunt", "--path", "*.py", "--format", "jsonl", mirror.root])
        #expect(result.status == 0, "\(result.stderr)")
        var expected: [Place] = []
        for (shard, files) in mirror.files {
            for (path, blob) in files where path.hasSuffix(".py") {
                expected.append(Place(shard: shard, shardPath: path, blob: blob))
            }
        }
        let rows = try Self.rows(result.stdout)
        #expect(!expected.isEmpty)
        #expect(Self.places(rows) == expected.sorted())
        // The keys of `findings` JSON, with the release parsed from the shard path.
        for row in rows {
            let shardPath = row["shard_path"] as? String ?? ""
            let parts = shardPath.split(separator: "/", maxSplits: 3).map(String.init)
            #expect(parts.count == 4 && row["project"] as? String == parts[1] && row["release"] as? String == parts[2])
            #expect(row["path"] as? String == parts[3])
            #expect((row["version"] as? String)?.isEmpty == false)
            #expect(row["line"] == nil)
        }
        let count = try CLI.run(["hunt", "--path", "*.py", "--count", "--format", "json", mirror.root])
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(count.stdout.utf8)) as? [String: Int])
        #expect(counts["files"] == expected.count)
        #expect(counts["blobs"] == Set(expected.map(\.blob)).count)
        #expect(counts["blobs_read"] == 0, "a path-only hunt reads no blob")
    }

    @Test func contentHuntFindsEveryLineGitsContentHasEachBlobReadOnce() throws {
        let mirror = try Mirror()
        defer { try? FileManager.default.removeItem(at: mirror.folder) }
        let pattern = "AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}"
        let result = try CLI.run(["hunt", pattern, "--format", "jsonl", mirror.root])
        #expect(result.status == 0, "\(result.stderr)")
        var expected: [Place] = []
        var blobs: Set<String> = []
        for (shard, files) in mirror.files {
            for (path, blob) in files {
                let text = try mirror.content(blob, shard: shard)
                if text.utf8.prefix(8192).contains(0) { continue }
                for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.range(of: pattern, options: .regularExpression) != nil {
                    expected.append(Place(shard: shard, shardPath: path, blob: blob, line: index + 1))
                }
                blobs.insert(blob)
            }
        }
        #expect(expected.count >= 2)
        let rows = try Self.rows(result.stdout)
        #expect(Self.places(rows) == expected.sorted())
        // What the pattern matched is shown as found: the user wrote the pattern.
        #expect(rows.allSatisfy { ($0["text"] as? String)?.range(of: pattern, options: .regularExpression) != nil })

        let count = try CLI.run(["hunt", pattern, "--count", "--format", "json", mirror.root])
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(count.stdout.utf8)) as? [String: Int])
        #expect(counts["matches"] == expected.count)
        #expect((counts["blobs_read"] ?? 0) <= blobs.count, "each distinct blob is read at most once")

        // Filters: one project, and a time after every upload.
        let project = try #require(rows.first?["project"] as? String)
        let one = try CLI.run(["hunt", pattern, "--project", project.uppercased(), "--format", "jsonl", mirror.root])
        #expect(try Self.rows(one.stdout).allSatisfy { $0["project"] as? String == project })
        let later = try CLI.run(["hunt", pattern, "--since", "2099-01-01", mirror.root])
        #expect(later.status == 1 && later.stdout.isEmpty)
    }

    @Test func ruleHuntRedactsSecretsUnlessAsked() throws {
        let mirror = try Mirror()
        defer { try? FileManager.default.removeItem(at: mirror.folder) }
        let redacted = try CLI.run(["hunt", "--rule", "github.pat-classic", "--format", "jsonl", mirror.root])
        #expect(redacted.status == 0, "\(redacted.stderr)")
        let rows = try Self.rows(redacted.stdout)
        #expect(!rows.isEmpty)
        #expect(
            rows.allSatisfy {
                ($0["text"] as? String)?.range(of: "ghp_[A-Za-z0-9]{36}", options: .regularExpression) == nil
            })
        let shown = try CLI.run(
            ["hunt", "--rule", "github.pat-classic", "--show-secrets", "--format", "jsonl", mirror.root])
        #expect(try Self.rows(shown.stdout).allSatisfy { ($0["text"] as? String)?.contains("ghp_") == true })
        let unknown = try CLI.run(["hunt", "--rule", "github.pat-clasic", mirror.root])
        #expect(unknown.status != 0 && unknown.stderr.contains("did you mean `github.pat-classic`?"))
    }

    @Test func extractWritesEachBlobOnceWithAnIndexOfEveryPlace() throws {
        let mirror = try Mirror()
        defer { try? FileManager.default.removeItem(at: mirror.folder) }
        let out = mirror.folder.appendingPathComponent("out")
        let result = try CLI.run(["hunt", "--path", "PKG-INFO", "--path", "*.py", "--extract", out.path, mirror.root])
        #expect(result.status == 0, "\(result.stderr)")
        let index = try String(contentsOf: out.appendingPathComponent("index.jsonl"), encoding: .utf8)
        let entries = try Self.rows(index)
        var expected: [Place] = []
        for (shard, files) in mirror.files {
            for (path, blob) in files where path.hasSuffix(".py") || path.hasSuffix("/PKG-INFO") {
                expected.append(Place(shard: shard, shardPath: path, blob: blob))
            }
        }
        #expect(Self.places(entries) == expected.sorted())
        for entry in entries {
            let file = try #require(entry["file"] as? String)
            let blob = try #require(entry["blob"] as? String)
            #expect(file.hasPrefix("\(blob.prefix(2))/\(blob)."))
            let written = try String(contentsOf: out.appendingPathComponent(file), encoding: .utf8)
            #expect(written == (try mirror.content(blob, shard: entry["shard"] as? String ?? "")))
            let attributes = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent(file).path)
            #expect((attributes[.posixPermissions] as? Int ?? 0) & 0o077 == 0)
        }
        let written = try FileManager.default.subpathsOfDirectory(atPath: out.path).filter { $0.contains("/") }
        #expect(written.count == Set(expected.map(\.blob)).count, "one file per distinct blob")
    }

    @Test func aBadPatternGetsPCRE2sMessageWithItsOffset() throws {
        let mirror = try Mirror()
        defer { try? FileManager.default.removeItem(at: mirror.folder) }
        let result = try CLI.run(["hunt", "token(", mirror.root])
        #expect(result.status == 2)
        #expect(result.stderr.contains("missing closing parenthesis at offset 6"), "\(result.stderr)")
    }

    /// Globs with folders and `--project` let the tree walk leave whole folders unread; what the hunt finds is
    /// still exactly what git lists under those globs in that project, whatever the number of jobs.
    @Test func huntsThatSkipFoldersFindWhatGitLists() throws {
        let mirror = try Mirror()
        defer { try? FileManager.default.removeItem(at: mirror.folder) }
        let cases: [(globs: [String], project: String?)] = [
            (["*/setup.py"], nil), (["*/*.py", "*/acme_utils/*.py"], nil), (["*/*/*.py"], "ACME.utils"),
            (["*/setup.py"], "acme_utils"), (["*/PKG-INFO", "weather_client/*"], nil), (["*/nothing/*"], nil),
            (["*.py"], "dbtools"),
        ]
        var found = 0
        for (globs, project) in cases {
            var expected: [Place] = []
            for (shard, files) in mirror.files {
                for (path, blob) in files {
                    let parts = path.split(separator: "/", maxSplits: 3).map(String.init)
                    guard parts.count == 4, parts[0] == "packages" else { continue }
                    if let project, Self.normalized(parts[1]) != Self.normalized(project) { continue }
                    guard globs.contains(where: { Self.globMatches($0, parts[3]) }) else { continue }
                    expected.append(Place(shard: shard, shardPath: path, blob: blob))
                }
            }
            found += expected.isEmpty ? 0 : 1
            for jobs in ["1", "2"] {
                var arguments = ["hunt", "--format", "jsonl", "--jobs", jobs]
                for glob in globs { arguments += ["--path", glob] }
                if let project { arguments += ["--project", project] }
                let result = try CLI.run(arguments + [mirror.root])
                let label = "\(globs) \(project ?? "any project") --jobs \(jobs)"
                #expect(result.status == (expected.isEmpty ? 1 : 0), "\(label): \(result.stderr)")
                #expect(Self.places(try Self.rows(result.stdout)) == expected.sorted(), "\(label)")
            }
        }
        #expect(found >= 5)
    }

    /// PEP 503, as the test sees it.
    static func normalized(_ name: String) -> String {
        name.lowercased().replacingOccurrences(of: "[-_.]+", with: "-", options: .regularExpression)
    }

    /// A glob of `*`, `?` and plain names (no `**`) over a whole path; one without `/` over the file name.
    static func globMatches(_ glob: String, _ path: String) -> Bool {
        var pattern = "^"
        for character in glob {
            switch character {
            case "*": pattern += "[^/]*"
            case "?": pattern += "[^/]"
            default: pattern += NSRegularExpression.escapedPattern(for: String(character))
            }
        }
        pattern += "$"
        let subject = glob.contains("/") ? path : String(path.split(separator: "/").last ?? "")
        return subject.range(of: pattern, options: .regularExpression) != nil
    }
}
