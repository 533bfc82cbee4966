import Foundation
import Git

/// A shard to scan: a repository and the reference whose history holds its releases.
public struct ShardSource: Sendable, Equatable {
    /// The directory name (without `.git`) or, in the one-repository-many-remotes layout, the remote name.
    public var name: String
    public var repositoryPath: String
    /// The full reference name, e.g. `refs/remotes/origin/code`; `nil` when the shard cannot be scanned.
    public var reference: String?
    /// Why the shard cannot be scanned.
    public var problem: String?
    /// The repository's git directory, every link resolved: what tells two repositories of one name apart.
    public var gitDirectory: String?
    /// The mirror root (resolved) the shard was found under, when it was found under one: every shard the
    /// store knows under that root is expected there.
    public var root: String?

    public init(
        name: String, repositoryPath: String, reference: String?, problem: String? = nil,
        gitDirectory: String? = nil, root: String? = nil
    ) {
        self.name = name
        self.repositoryPath = repositoryPath
        self.reference = reference
        self.problem = problem
        self.gitDirectory = gitDirectory
        self.root = root
    }
}

/// Finds the shards named on the command line.
public enum ShardLocator {
    /// Each argument is a shard repository, a repository with one remote per shard
    /// (`refs/remotes/<shard>/<branch>`), or a mirror root whose direct subfolders are shard repositories.
    /// Sources that cannot be scanned come back with a ``ShardSource/problem`` instead of being dropped.
    public static func locate(_ arguments: [String], branch: String) -> [ShardSource] {
        var sources: [ShardSource] = []
        for argument in arguments {
            // Resolved, so that a shard has one name and one path however it is reached (`scan .` inside it,
            // a relative path, a symbolic link).
            let path = resolved((argument as NSString).standardizingPath)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                sources.append(
                    ShardSource(
                        name: shardName(path), repositoryPath: path, reference: nil, problem: "no such file or folder"))
                continue
            }
            if let repository = try? Repository(at: path) {
                sources += shards(in: repository, at: path, branch: branch)
                continue
            }
            guard isDirectory.boolValue else {
                sources.append(
                    ShardSource(
                        name: shardName(path), repositoryPath: path, reference: nil,
                        problem: "not a directory or git repository (a file); give a mirror root or a shard repository"
                    ))
                continue
            }
            if let unreadable = unreadableReason(path) {
                sources.append(
                    ShardSource(name: shardName(path), repositoryPath: path, reference: nil, problem: unreadable))
                continue
            }
            let children = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            var found = false
            for child in children.sorted() {
                let childPath = (path as NSString).appendingPathComponent(child)
                var childIsDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: childPath, isDirectory: &childIsDirectory),
                    childIsDirectory.boolValue, !child.hasPrefix(".")
                else { continue }
                do {
                    let repository = try Repository(at: childPath)
                    sources += shards(in: repository, at: childPath, branch: branch).map {
                        var source = $0
                        source.root = path
                        return source
                    }
                    found = true
                } catch {
                    // A folder that looks like a repository but does not open is a broken shard, not noise;
                    // so is one that cannot be read, which might be one.
                    let unreadable = unreadableReason(childPath)
                    if looksLikeRepository(childPath) || unreadable != nil {
                        sources.append(
                            ShardSource(
                                name: shardName(childPath), repositoryPath: childPath, reference: nil,
                                problem: unreadable.map { "\(error.message) (\($0))" } ?? error.message, root: path))
                        found = true
                    }
                }
            }
            if !found {
                sources.append(
                    ShardSource(
                        name: shardName(path), repositoryPath: path, reference: nil,
                        problem: "not a git repository, and no git repositories directly under it", root: path))
            }
        }
        return sources
    }

    static func shards(in repository: Repository, at path: String, branch: String) -> [ShardSource] {
        shardsOf(repository, at: path, branch: branch).map {
            var source = $0
            source.gitDirectory = resolved(repository.gitDirectory)
            return source
        }
    }

    private static func shardsOf(_ repository: Repository, at path: String, branch: String) -> [ShardSource] {
        // libgit2 reports an unreadable object folder as missing objects; say what it is.
        if let unreadable = unreadableReason((repository.gitDirectory as NSString).appendingPathComponent("objects")) {
            return [ShardSource(name: shardName(path), repositoryPath: path, reference: nil, problem: unreadable)]
        }
        let remotes = (try? repository.referenceNames(matching: "refs/remotes/*/\(branch)")) ?? []
        if remotes.count > 1 {
            return remotes.map { reference in
                let remote = reference.dropFirst("refs/remotes/".count).dropLast(branch.count + 1)
                return ShardSource(name: String(remote), repositoryPath: path, reference: reference)
            }
        }
        if let reference = remotes.first {
            // A clone of one shard: `git fetch` moves the remote-tracking branch, not the local one.
            let remote = String(reference.dropFirst("refs/remotes/".count).dropLast(branch.count + 1))
            return [
                ShardSource(
                    name: remote == "origin" ? shardName(path) : remote, repositoryPath: path, reference: reference)
            ]
        }
        let local = "refs/heads/\(branch)"
        if (try? repository.commitID(ofReference: local)) != nil {
            return [ShardSource(name: shardName(path), repositoryPath: path, reference: local)]
        }
        return [
            ShardSource(
                name: shardName(path), repositoryPath: path, reference: nil,
                problem: "no branch `\(branch)` (looked for \(local) and refs/remotes/*/\(branch))")
        ]
    }

    /// The shard's name from its (resolved) path: the folder's name without `.git`; for the `.git` folder of
    /// a work tree, the work tree's name.
    static func shardName(_ path: String) -> String {
        var name = (path as NSString).lastPathComponent
        if name == ".git" { name = ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent }
        return name.hasSuffix(".git") && name.count > 4 ? String(name.dropLast(4)) : name
    }

    /// `path` made absolute with every symbolic link resolved, without a trailing slash; as given (made
    /// absolute) when it does not exist.
    public static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else {
            return URL(fileURLWithPath: path).standardizedFileURL.path
        }
        defer { free(real) }
        return String(cString: real)
    }

    /// Why the folder at `path` cannot be listed and entered, or `nil` when it can.
    static func unreadableReason(_ path: String) -> String? {
        guard access(path, R_OK | X_OK) != 0 else { return nil }
        return "cannot read folder \(path): \(String(cString: strerror(errno)))"
    }

    static func looksLikeRepository(_ path: String) -> Bool {
        let fileManager = FileManager.default
        return fileManager.fileExists(atPath: path + "/.git")
            || (fileManager.fileExists(atPath: path + "/HEAD") && fileManager.fileExists(atPath: path + "/objects"))
    }
}
