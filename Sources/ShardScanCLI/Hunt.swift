import ArgumentParser
import Foundation
import Git
import PCRE2
import ShardScanCore
import ShardScanEngine

/// `shardscan hunt`: an ad-hoc search through every file of history, each distinct blob read once.
struct Hunt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search every file of the mirror's history with a PCRE2 pattern, a rule, or paths alone.",
        usage: """
            shardscan hunt PATTERN [--path GLOB]… [--project NAME] [--since DATE] [--shard NAME]… ROOT…
            shardscan hunt --rule ID [--path GLOB]… ROOT…
            shardscan hunt --path GLOB… ROOT…
            """,
        discussion: """
            Each distinct blob is read once, whatever the number of releases it appears in, and every place it \
            appears at is reported: project, version, release file, path and line, with the keys of `findings` \
            JSON. Globs match the path inside the release; a glob without `/` matches the file name at any \
            depth (`pyproject.toml`, `*.pth`, `*/PKG-INFO`). With no PATTERN and no --rule the paths alone are \
            the answer and no blob is read: then every argument is a root (a first argument that is not a folder \
            is the PATTERN; write a pattern that names a folder here as `(?:name)`). \
            --extract DIR writes each matching blob once, as DIR/ab/<blob id>.<file name>, and DIR/index.jsonl, \
            one line for every place of every blob written. Binary blobs are not searched. Matches of a secret \
            rule are redacted unless --show-secrets; a PATTERN's matches are shown as found. \
            Exit status: 0 something found, 1 nothing found, 2 error.
            """
    )

    @Argument(help: "The PCRE2 pattern (unless --rule or a path-only hunt), then mirror roots or shards.")
    var arguments: [String] = []

    @Option(help: "Only files whose path inside the release matches this glob; repeat for more.")
    var path: [String] = []

    @Option(help: "Only this project.")
    var project: String?

    @Option(help: "Only releases uploaded on or after this date (YYYY-MM-DD or ISO 8601, UTC).")
    var since: String?

    @Option(help: "Only this shard; repeat for more.")
    var shard: [String] = []

    @Option(
        help: "Search with this rule of the packs (its keywords, entropy, validator and filters) instead of a pattern.")
    var rule: String?

    @OptionGroup var rules: RuleOptions

    @Flag(help: "Match the pattern without regard to case.")
    var ignoreCase = false

    @Option(help: "Output format.")
    var format: FindingsFormat = .table

    @Flag(help: "One row per file: no lines.")
    var filesOnly = false

    @Flag(help: "Only the counts: matches, files and distinct blobs.")
    var count = false

    @Option(
        help: ArgumentHelp("Write each matching blob once into this folder, with index.jsonl.", valueName: "folder"),
        completion: .directory)
    var extract: String?

    @Option(help: "The branch whose history holds the releases.")
    var branch = "code"

    @Option(help: "Skip (and count) blobs larger than this many bytes.")
    var maxBlobSize = 50_000_000

    @Option(parsing: .unconditional, help: "Threads that read and search blobs, 1 to \(ScanOptions.maxWorkers).")
    var jobs = ScanOptions().workers

    @Flag(help: "Print a secret rule's matches in full instead of redacted.")
    var showSecrets = false

    func validate() throws {
        if maxBlobSize <= 0 { throw ValidationError("--max-blob-size must be positive") }
        if !(1...ScanOptions.maxWorkers).contains(jobs) {
            throw ValidationError(
                "--jobs must be a number of threads from 1 to \(ScanOptions.maxWorkers) (got \(jobs))")
        }
        if let since, Self.time(since) == nil {
            throw ValidationError("--since takes a date like 2026-11-21 or 2026-11-21T04:00:00Z, not '\(since)'")
        }
        if count && filesOnly { throw ValidationError("--count and --files-only do not go together") }
        if split().roots.isEmpty { throw ValidationError("name at least one mirror root or shard") }
    }

    /// The pattern (if the arguments hold one) and the roots.
    func split() -> (pattern: String?, roots: [String]) {
        guard rule == nil, let first = arguments.first else { return (nil, arguments) }
        var isFolder: ObjCBool = false
        let pathOnly =
            !path.isEmpty
            && arguments.allSatisfy {
                FileManager.default.fileExists(atPath: $0, isDirectory: &isFolder) && isFolder.boolValue
            }
        return pathOnly ? (nil, arguments) : (first, Array(arguments.dropFirst()))
    }

    func run() throws {
        let (pattern, roots) = split()
        let content: HuntQuery.Content
        if let rule {
            let ruleSet = try rules.loadRuleSet()
            guard let index = ruleSet.index(of: rule) else {
                throw ValidationError(
                    "no rule `\(rule)` in the packs"
                        + RulePackLoader.didYouMean(rule, among: ruleSet.rules.map(\.rule.id)))
            }
            content = .rule(ruleSet, index: index)
        } else if let pattern {
            do {
                content = .pattern(try Regex(pattern, options: ignoreCase ? [.caseless, .multiline] : [.multiline]))
            } catch {
                printError("error: the pattern does not compile: \(error)")
                throw ExitCode(2)
            }
        } else {
            content = .none
        }
        var sources = ShardLocator.locate(roots, branch: branch)
        if !shard.isEmpty {
            let unknown = Set(shard).subtracting(sources.map(\.name))
            if !unknown.isEmpty {
                printError("error: no shard named \(unknown.sorted().joined(separator: ", ")) under the roots")
                throw ExitCode(2)
            }
            sources = sources.filter { shard.contains($0.name) }
        }
        if sources.isEmpty {
            printError("error: no shard found under \(roots.joined(separator: ", "))")
            throw ExitCode(2)
        }
        let query = HuntQuery(
            content: content, paths: path.map(Glob.init), project: project, since: since.flatMap(Self.time),
            maxBlobSize: maxBlobSize, workers: jobs, showSecrets: showSecrets)
        let extraction = try extract.map { try Extraction(folder: $0) }
        var rows: [HuntRow] = []
        var matches = 0
        var places = 0
        var blobs = 0
        var warnings = 0
        let counters = Hunter.run(
            sources, query: query,
            extract: extraction.map(\.writer),
            warning: { message in
                warnings += 1
                printError("warning: \(terminalSafe(message))")
            },
            emit: { result in
                blobs += 1
                places += result.places.count
                matches += result.matches.count * result.places.count
                if let extraction {
                    do {
                        try extraction.index(result)
                    } catch {
                        printError("error: \(extraction.indexPath): \(error)")
                    }
                }
                guard !count else { return }
                for place in result.places {
                    if filesOnly || result.matches.isEmpty {
                        rows.append(HuntRow(place, blob: result.blob, match: nil))
                    } else {
                        rows += result.matches.map { HuntRow(place, blob: result.blob, match: $0) }
                    }
                }
            })
        rows.sort()
        if count {
            if format == .table {
                if query.readsContent {
                    print(
                        "\(matches) matches in \(places) files (\(blobs) distinct blobs) of \(counters.places) files "
                            + "searched in \(counters.shards) shards, \(counters.blobsRead) blobs read "
                            + "(\(counters.bytesRead) bytes)")
                } else {
                    // A path-only hunt matches no content: what it found is files.
                    print("\(places) files (\(blobs) distinct blobs) in \(counters.shards) shards")
                }
            } else {
                let summary = HuntCount(
                    matches: matches, files: places, blobs: blobs, filesSearched: counters.places,
                    blobsRead: counters.blobsRead, bytesRead: counters.bytesRead, shards: counters.shards)
                print(String(decoding: try Self.encoder.encode(summary), as: UTF8.self))
            }
        } else {
            try printRows(rows)
        }
        if counters.blobsSkipped > 0 {
            printError("note: \(counters.blobsSkipped) blobs were not searched (binary, or over --max-blob-size)")
        }
        if warnings > 0 && blobs == 0 { throw ExitCode(2) }
        if blobs == 0 { throw ExitCode.failure }
    }

    private func printRows(_ rows: [HuntRow]) throws {
        switch format {
        case .json:
            let encoder = Self.encoder
            encoder.outputFormatting.insert(.prettyPrinted)
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        case .jsonl:
            for row in rows { print(String(decoding: try Self.encoder.encode(row), as: UTF8.self)) }
        case .table:
            let showsLines = rows.contains { $0.line != nil }
            var table = TextTable(
                headers: ["PROJECT", "VERSION", "RELEASE", "PATH"] + (showsLines ? ["LINE", "TEXT"] : []) + ["BLOB"])
            table.shrinkable = [2, 3]
            if showsLines { table.shrinkFirst = [5] }
            for row in rows {
                var cells = [row.project, row.version, row.release, row.path]
                if showsLines {
                    cells += [row.line.map(String.init) ?? "", row.text ?? ""]
                }
                cells.append(String(row.blob.prefix(12)))
                table.rows.append(cells.map(terminalSafe))
            }
            print(table.render(width: TerminalWidth.of()), terminator: "")
        }
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// `text` (a date, or a date and time, UTC) in seconds since 1970.
    static func time(_ text: String) -> Int64? {
        guard Report.isDate(text) else { return nil }
        var full = text
        if full.count == 10 { full += "T00:00:00" }
        if full.count == 16 { full += ":00" }
        if !full.hasSuffix("Z") { full += "Z" }
        return ISO8601DateFormatter().date(from: full).map { Int64($0.timeIntervalSince1970) }
    }
}

/// One row of `hunt` output: a place, and the match there (none for path-only hunts and --files-only).
struct HuntRow: Encodable, Comparable {
    var project: String
    var version: String
    var release: String
    var path: String
    var line: Int?
    var column: Int?
    var text: String?
    var blob: String
    var shard: String
    var commit: String
    var shardPath: String
    var uploadedAt: String

    enum CodingKeys: String, CodingKey {
        case project, version, release, path, line, column, text, blob, shard, commit
        case shardPath = "shard_path"
        case uploadedAt = "uploaded_at"
    }

    init(_ place: HuntPlace, blob: ObjectID, match: HuntMatch?) {
        project = place.release.project
        version = place.release.version
        release = place.release.filename
        path = place.release.innerPath
        line = match?.line
        column = match?.column
        text = match?.text
        self.blob = blob.hex
        shard = place.shard
        commit = place.commit.hex
        shardPath = place.shardPath
        let formatter = ISO8601DateFormatter()
        uploadedAt = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(place.time)))
    }

    static func < (a: HuntRow, b: HuntRow) -> Bool {
        let left = (ReleasePath.normalize(a.project), a.version, a.release, a.path, a.line ?? 0, a.column ?? 0)
        let right = (ReleasePath.normalize(b.project), b.version, b.release, b.path, b.line ?? 0, b.column ?? 0)
        return left != right ? left < right : a.shard < b.shard
    }
}

/// `hunt --count --format json`.
struct HuntCount: Encodable {
    var matches: Int
    var files: Int
    var blobs: Int
    var filesSearched: Int
    var blobsRead: Int
    var bytesRead: Int
    var shards: Int

    enum CodingKeys: String, CodingKey {
        case matches, files, blobs, shards
        case filesSearched = "files_searched"
        case blobsRead = "blobs_read"
        case bytesRead = "bytes_read"
    }
}

/// `hunt --extract DIR`: each blob once, named by its id and its file's name, and an index of every place.
/// Blobs are written from worker threads, each to its own file; the index only from the thread that runs the hunt.
final class Extraction: @unchecked Sendable {
    let folder: URL
    let indexPath: String
    private let index: FileHandle

    init(folder path: String) throws {
        folder = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(
            at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        indexPath = folder.appendingPathComponent("index.jsonl").path
        let descriptor = open(indexPath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ValidationError("cannot open \(indexPath): \(String(cString: strerror(errno)))")
        }
        index = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Where blob `blob` named `name` is written: `ab/<id>.<name>`, the name made safe for a file system.
    static func relativePath(blob: ObjectID, name: String) -> String {
        let safe = String(
            name.unicodeScalars.map { scalar -> Character in
                scalar.value < 0x20 || scalar == "/" || scalar == "\\" || scalar.value == 0x7F ? "_" : Character(scalar)
            }
        ).prefix(200)
        let hex = blob.hex
        return "\(hex.prefix(2))/\(hex)" + (safe.isEmpty ? "" : ".\(safe)")
    }

    /// Writes the blob unless a file of its name is there already (from this hunt or an earlier one).
    func write(blob: ObjectID, name: String, bytes: UnsafeRawBufferPointer) throws {
        let target = folder.appendingPathComponent(Self.relativePath(blob: blob, name: name))
        if FileManager.default.fileExists(atPath: target.path) { return }
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(blob.hex).\(getpid()).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ValidationError("cannot write \(temporary.path): \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
        guard rename(temporary.path, target.path) == 0 else {
            throw ValidationError("cannot write \(target.path): \(String(cString: strerror(errno)))")
        }
    }

    /// ``write(blob:name:bytes:)`` as the engine takes it.
    var writer: Hunter.Extract {
        { blob, name, bytes in try self.write(blob: blob, name: name, bytes: bytes) }
    }

    /// Appends one index line for every place of `result`.
    func index(_ result: HuntResult) throws {
        let file = Self.relativePath(blob: result.blob, name: Hunter.fileName(of: result.places))
        var lines = Data()
        for place in result.places {
            var row = HuntRow(place, blob: result.blob, match: nil)
            row.text = nil
            let entry = ExtractedPlace(file: file, row: row)
            lines += try Hunt.encoder.encode(entry) + Data("\n".utf8)
        }
        try index.write(contentsOf: lines)
    }
}

/// One line of an extraction's index.jsonl.
struct ExtractedPlace: Encodable {
    var file: String
    var row: HuntRow

    func encode(to encoder: Encoder) throws {
        try row.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
    }

    enum CodingKeys: String, CodingKey { case file }
}
