import Foundation

/// The commits the bench moves `refs/heads/code` between.
struct BenchRefs {
    /// Where `refs/heads/code` was when the bench started, and is put back.
    var original: String
    /// The ~90% commit: refs/bench/base, else `original`.
    var base: String
    var full: String
    var half: String?

    init(git: BenchGit, needHalf: Bool) throws {
        func resolve(_ reference: String) throws -> String? {
            let result = try git.run(["rev-parse", "--verify", "--quiet", reference + "^{commit}"])
            return result.status == 0 ? result.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }
        guard let original = try resolve("refs/heads/code") else {
            throw BenchError("\(git.repository) has no refs/heads/code; build a shard with scripts/make-bench-shard")
        }
        guard let full = try resolve("refs/bench/full") else {
            throw BenchError("\(git.repository) has no refs/bench/full; build it with scripts/make-bench-shard")
        }
        let half = try resolve("refs/bench/half")
        if needHalf && half == nil {
            throw BenchError("\(git.repository) has no refs/bench/half; build it with scripts/make-bench-shard")
        }
        let remotes = try git.output(["for-each-ref", "--format=%(refname)", "refs/remotes/"])
        if remotes.split(separator: "\n").contains(where: { $0.hasSuffix("/code") }) {
            throw BenchError("\(git.repository) has remote-tracking code branches, which scan would read instead")
        }
        self.original = original
        self.base = try resolve("refs/bench/base") ?? original
        self.full = full
        self.half = half
        if base == full {
            throw BenchError(
                "refs/heads/code is at refs/bench/full, so there is nothing for an incremental scan; "
                    + "move it back with `git update-ref refs/heads/code <the 90% commit>`")
        }
        guard try git.run(["merge-base", "--is-ancestor", base, full]).status == 0 else {
            throw BenchError("the 90% commit \(base) is not an ancestor of refs/bench/full")
        }
    }
}

/// Git commands on the benchmark shard, with their output in files under `scratch`.
struct BenchGit {
    var repository: String
    var scratch: String

    func run(_ arguments: [String], stdin: String = "/dev/null") throws -> (status: Int32, output: String) {
        let out = scratch + "/git.out"
        let err = scratch + "/git.err"
        let result = try Spawn.run(["git", "-C", repository] + arguments, stdin: stdin, stdout: out, stderr: err)
        guard result.status == 0 || result.status == 1 else {
            let message = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            throw BenchError("git \(arguments.joined(separator: " ")) exited with \(result.status): \(message)")
        }
        return (result.status, try String(contentsOfFile: out, encoding: .utf8))
    }

    func output(_ arguments: [String], stdin: String = "/dev/null") throws -> String {
        let result = try run(arguments, stdin: stdin)
        guard result.status == 0 else { throw BenchError("git \(arguments.joined(separator: " ")) failed") }
        return result.output
    }

    func setCode(_ commit: String, ignoringInterrupt: Bool = false) throws {
        let result = try Spawn.run(
            ["git", "-C", repository, "update-ref", "refs/heads/code", commit],
            stderr: scratch + "/update-ref.err", ignoringInterrupt: ignoringInterrupt)
        guard result.status == 0 else { throw BenchError("git update-ref refs/heads/code \(commit) failed") }
    }

    func commitCount(_ commit: String) throws -> Int {
        Int(try output(["rev-list", "--count", commit]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Bytes of every blob in the repository.
    func allBlobBytes() throws -> Int {
        Self.sumBlobs(try output(["cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)"]))
    }

    /// Bytes of the blobs reachable from `revisions` (e.g. `[B, "^A"]` for those in B and not in A).
    func blobBytes(_ revisions: [String]) throws -> Int {
        let objects = scratch + "/objects"
        let listed = try Spawn.run(
            ["git", "-C", repository, "rev-list", "--objects", "--no-object-names"] + revisions, stdout: objects,
            stderr: scratch + "/git.err")
        guard listed.status == 0 else { throw BenchError("git rev-list --objects failed") }
        return Self.sumBlobs(try output(["cat-file", "--batch-check=%(objecttype) %(objectsize)"], stdin: objects))
    }

    static func sumBlobs(_ batchCheck: String) -> Int {
        batchCheck.split(separator: "\n").reduce(0) { sum, line in
            line.hasPrefix("blob ") ? sum + (Int(line.dropFirst(5)) ?? 0) : sum
        }
    }
}
