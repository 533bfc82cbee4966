import Foundation
import Git
import Testing

/// A repository whose history holds what a tree walk can get wrong: names that sort around a folder of the
/// same name, names with spaces, tabs, newlines and bytes that are not UTF-8, symlinks, submodules (gitlinks),
/// mode changes, a file becoming a folder, a link or a submodule and back, deletions, and unchanged subtrees;
/// written by `git fast-import` into two packs, and its last commits as loose objects.
struct OddTreeRepository {
    let path: String
    /// Every commit, oldest first.
    let commits: [ObjectID]

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tree-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try runGit(["init", "-q", "--bare"], in: path)
        let gitlink = String(repeating: "1234567890", count: 4)
        // Each step: fast-import file commands; after steps 2 and 5 a pack ends, and the last steps stay loose.
        let steps: [[String]] = [
            [
                "M 100644 inline foo", "M 100644 inline foo.txt", "M 100644 inline foo/bar", "M 100644 inline foo-",
                "M 100644 inline foo0", "M 100644 inline \"a b/tab\\there\"", "M 100644 inline \"line\\nbreak\"",
                "M 100644 inline \"caf\\351/latin1.txt\"", "M 100644 inline \"ünï/cödé.py\"",
                "M 100644 inline deep/er/still/file.py", "M 100644 inline deep/er/other.py",
                "M 100644 inline d/inside", "M 100644 inline e", "M 100644 inline same/x.py", "M 100644 BLOB1 modeonly",
            ],
            [
                "M 100644 inline deep/er/still/file.py", "M 100755 BLOB1 foo0", "M 100755 BLOB1 modeonly",
                "M 120000 inline link",
                "M 160000 \(gitlink) sub", "M 100644 inline \"caf\\351/second\"",
            ],
            [
                "D d", "M 100644 inline d", "M 120000 inline foo.txt", "D \"line\\nbreak\"", "M 100644 inline link2",
            ],
            [
                "D e", "M 100644 inline e/x", "D sub", "M 100644 inline sub", "D link", "M 100644 inline link",
                "M 160000 \(gitlink) foo-",
            ],
            ["M 100644 inline deep/er/other.py", "M 100644 inline deep/new/file.txt", "D foo/bar"],
            ["D foo.txt", "M 100644 inline foo.txt", "M 100644 inline \"ünï/cödé.py\"", "M 100755 inline run.sh"],
            ["M 100644 inline \"caf\\351/latin1.txt\"", "D deep", "M 100644 inline deep"],
        ]
        var mark = 0
        var blob1 = ""
        var made: [ObjectID] = []
        for (number, step) in steps.enumerated() {
            var stream = ""
            if number == 0 { stream += "blob\nmark :1\ndata 4\nx=1\n\n" }
            stream +=
                "commit refs/heads/code\ncommitter T <t@x.invalid> \(1_700_000_000 + number * 60) +0000\n"
                + "data 7\nstep \(number)\n"
            if let parent = made.last { stream += "from \(parent.hex)\n" }
            for command in step {
                // The small blob of step 0, by mark there and by id after (marks end with each import).
                let command = command.replacingOccurrences(of: "BLOB1", with: number == 0 ? ":1" : blob1)
                stream += command + "\n"
                if command.contains(" inline ") {
                    mark += 1
                    let content =
                        command.hasPrefix("M 120000") ? "target/\(mark)" : "content \(mark) of step \(number)\n"
                    stream += "data \(content.utf8.count)\n\(content)\n"
                }
            }
            stream += "\n"
            let file = path + "/stream"
            try stream.write(toFile: file, atomically: true, encoding: .utf8)
            // Steps 0-1 become one pack (fast-import writes one per run; repack joins them), steps 2-4 a pack
            // each, and the last two stay loose (under unpackLimit fast-import writes loose objects).
            let loose = number >= 5
            try runGit(
                ["-c", "fastimport.unpackLimit=\(loose ? 100_000 : 0)", "fast-import", "--quiet"], in: path,
                stdinFile: file)
            if number == 1 { try runGit(["repack", "-adq"], in: path) }
            if number == 0 { blob1 = try runGit(["rev-parse", "refs/heads/code:modeonly"], in: path).trimmed }
            made.append(ObjectID(hex: try runGit(["rev-parse", "refs/heads/code"], in: path).trimmed)!)
        }
        commits = made
    }

    func tree(of commit: ObjectID) throws -> ObjectID {
        ObjectID(hex: try runGit(["rev-parse", "\(commit.hex)^{tree}"], in: path).trimmed)!
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}

@Suite struct TreeReaderTests {
    /// Every commit against its parent and against nothing: the same changes, in the same order, as libgit2's
    /// diff; whether the trees come from a pack, two packs or loose objects.
    @Test func sameChangesAsLibgit2() throws {
        let fixture = try OddTreeRepository()
        defer { try? FileManager.default.removeItem(atPath: fixture.path) }
        let packs = try runGit(["count-objects", "-v"], in: fixture.path)
        #expect(packs.contains("packs: 4"), "\(packs)")
        #expect(!packs.hasPrefix("count: 0\n"), "loose objects too: \(packs)")
        let repository = try Repository(at: fixture.path)
        let reader = TreeReader(
            reader: try PackReader(packs: PackSet(repository: repository), repositoryPath: fixture.path))
        var kinds: Set<String> = []
        for (index, commit) in fixture.commits.enumerated() {
            let tree = try fixture.tree(of: commit)
            let parent = try index > 0 ? fixture.tree(of: fixture.commits[index - 1]) : nil
            let expected = try repository.changes(from: parent, to: tree)
            let got = try reader.changes(from: parent, to: tree)
            #expect(got == expected, "commit \(index)")
            #expect(try reader.changes(from: nil, to: tree) == repository.changes(from: nil, to: tree))
            for change in got { kinds.insert("\(change.kind) \(change.isSymlink) \(change.pathBytes != nil)") }
        }
        // The history exercises added and modified files, links, and paths that are not UTF-8.
        #expect(
            kinds.isSuperset(of: [
                "added false false", "modified false false", "added true false",
                "added false true", "modified false true",
            ]), "\(kinds)")
    }

    /// A whole tree read from nothing lists what `git ls-tree -r` lists for files and links, byte for byte.
    @Test func wholeTreesMatchLsTree() throws {
        let fixture = try OddTreeRepository()
        defer { try? FileManager.default.removeItem(atPath: fixture.path) }
        let repository = try Repository(at: fixture.path)
        let reader = TreeReader(
            reader: try PackReader(packs: PackSet(repository: repository), repositoryPath: fixture.path))
        for commit in fixture.commits {
            let listing = try Self.gitBytes(["ls-tree", "-r", "-z", commit.hex], in: fixture.path)
            // "<mode> <type> <id>\t<path>" as (is a link, id, path bytes); gitlinks are left out.
            let expected = listing.split(separator: 0).compactMap { line -> [UInt8]? in
                let text = Array(line)
                guard let tab = text.firstIndex(of: UInt8(ascii: "\t")) else { return nil }
                let mode = String(decoding: text[..<6], as: UTF8.self)
                guard mode != "160000" else { return nil }
                return [mode == "120000" ? 1 : 0] + text[12..<52] + text[(tab + 1)...]
            }
            let got = try reader.changes(from: nil, to: fixture.tree(of: commit)).map { change -> [UInt8] in
                [change.isSymlink ? 1 : 0] + Array(change.blob.hex.utf8) + (change.pathBytes ?? Array(change.path.utf8))
            }
            #expect(got == expected, "commit \(commit.hex)")
            #expect(got.count > 10)
        }
    }

    /// `git` output as bytes, paths that are not UTF-8 included.
    static func gitBytes(_ arguments: [String], in folder: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", folder] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return Array(data)
    }

    /// A malformed tree is an error, not a guess.
    @Test func aMalformedTreeIsAnError() throws {
        let fixture = try OddTreeRepository()
        defer { try? FileManager.default.removeItem(atPath: fixture.path) }
        let repository = try Repository(at: fixture.path)
        let reader = TreeReader(
            reader: try PackReader(packs: PackSet(repository: repository), repositoryPath: fixture.path))
        // A blob read as a tree: its bytes are not `<mode> <name>\0<id>` entries.
        let blob = ObjectID(hex: try runGit(["rev-parse", "refs/heads/code:foo0"], in: fixture.path).trimmed)!
        #expect(throws: GitError.self) { try reader.changes(from: nil, to: blob) }
    }

    /// A filter leaves out the files it does not want, and a directory it rules out is not read: the changes are
    /// the unfiltered ones it wants, nothing under a ruled-out directory is asked about, and fewer objects are read.
    @Test func aFilterLeavesOutFilesAndDirectoriesUnread() throws {
        let fixture = try OddTreeRepository()
        defer { try? FileManager.default.removeItem(atPath: fixture.path) }
        let repository = try Repository(at: fixture.path)
        let pruned = Array("deep/er/".utf8)
        let asked = AskedPaths()
        let filter = TreeFilter(
            directory: { path in
                asked.add(Array(path))
                return !path.starts(with: pruned)
            },
            file: { path in path.reversed().starts(with: Array(".py".utf8).reversed()) })
        let allPacks = try PackReader(packs: PackSet(repository: repository), repositoryPath: fixture.path)
        let all = TreeReader(reader: allPacks)
        let somePacks = try PackReader(packs: PackSet(repository: repository), repositoryPath: fixture.path)
        let some = TreeReader(reader: somePacks)
        some.filter = filter
        var wanted = 0
        for (index, commit) in fixture.commits.enumerated() {
            let tree = try fixture.tree(of: commit)
            let parent = try index > 0 ? fixture.tree(of: fixture.commits[index - 1]) : nil
            let expected = try all.changes(from: parent, to: tree).filter { change in
                let bytes = change.pathBytes ?? Array(change.path.utf8)
                return !bytes.starts(with: pruned) && change.path.hasSuffix(".py")
            }
            #expect(try some.changes(from: parent, to: tree) == expected, "commit \(index)")
            wanted += expected.count
        }
        #expect(wanted > 0)
        // `deep/er/` itself is asked about (and ruled out), `deep/er/still/` never.
        #expect(asked.paths.contains(pruned))
        #expect(!asked.paths.contains { $0.starts(with: pruned) && $0.count > pruned.count })
        let reads = { (reader: PackReader) in reader.statistics.packedReads + reader.statistics.fallbackReads }
        #expect(reads(somePacks) < reads(allPacks))
    }
}

/// Paths a filter was asked about, from whichever thread asked.
private final class AskedPaths: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [[UInt8]] = []

    func add(_ path: [UInt8]) { lock.withLock { stored.append(path) } }
    var paths: [[UInt8]] { lock.withLock { stored } }
}
