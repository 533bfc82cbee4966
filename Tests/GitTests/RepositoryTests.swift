import Foundation
import Git
import Testing

@Suite final class RepositoryTests {
    let folder: String
    let author = Signature(name: "Test", email: "test@example.invalid", time: 1_700_000_000)

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("git-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: folder)
    }

    @Test func commitsDiffsAndBlobsRoundTrip() throws {
        let repository = try Repository.create(at: folder + "/shard", bare: true)
        #expect(repository.isBare)
        let setup = try repository.writeBlob(Array("print('hi')\n".utf8))
        let readme = try repository.writeBlob(Array("# demo\n".utf8))
        let first = try repository.commit(
            files: [("packages/demo/demo-1.0.tar.gz/demo-1.0/setup.py", setup), ("README.md", readme)], parent: nil,
            message: "demo 1.0", author: author, reference: "refs/heads/code")
        let changed = try repository.writeBlob(Array("print('bye')\n".utf8))
        let second = try repository.commit(
            files: [("packages/demo/demo-1.0.tar.gz/demo-1.0/setup.py", changed)], removing: ["README.md"],
            parent: first, message: "demo 1.1", author: author, reference: "refs/heads/code")

        #expect(try repository.commitID(ofReference: "refs/heads/code") == second)
        #expect(try repository.commitID(ofReference: "refs/heads/nope") == nil)
        #expect(try repository.commits(from: second) == [first, second])
        #expect(try repository.commits(from: second, hiding: [first]) == [second])
        #expect(try repository.isAncestor(first, of: second))
        #expect(try !repository.isAncestor(second, of: first))

        let rootCommit = try repository.commit(first)
        #expect(rootCommit.parents.isEmpty)
        #expect(rootCommit.summary == "demo 1.0")
        let rootChanges = try repository.changes(from: nil, to: rootCommit.tree)
        #expect(Set(rootChanges.map(\.path)) == ["README.md", "packages/demo/demo-1.0.tar.gz/demo-1.0/setup.py"])
        #expect(rootChanges.allSatisfy { $0.kind == .added })

        let secondCommit = try repository.commit(second)
        let changes = try repository.changes(from: rootCommit.tree, to: secondCommit.tree)
        #expect(
            changes == [
                FileChange(
                    path: "packages/demo/demo-1.0.tar.gz/demo-1.0/setup.py", blob: changed, kind: .modified,
                    isSymlink: false)
            ])

        #expect(try repository.objectSize(changed) == 13)
        let text = try repository.withObjectBytes(changed) { String(decoding: $0, as: UTF8.self) }
        #expect(text == "print('bye')\n")
        #expect(repository.contains(changed))
    }

    @Test func referencesByGlob() throws {
        let repository = try Repository.create(at: folder + "/many", bare: false)
        #expect(!repository.isBare)
        let blob = try repository.writeBlob([1, 2, 3])
        let commit = try repository.commit(
            files: [("a.bin", blob)], parent: nil, message: "a", author: author, reference: nil)
        try repository.setReference("refs/remotes/pypi-mirror-2/code", to: commit)
        try repository.setReference("refs/remotes/pypi-mirror-1/code", to: commit)
        try repository.setReference("refs/remotes/pypi-mirror-1/other", to: commit)
        #expect(
            try repository.referenceNames(matching: "refs/remotes/*/code") == [
                "refs/remotes/pypi-mirror-1/code", "refs/remotes/pypi-mirror-2/code",
            ])
    }

    @Test func openingSomethingElseFailsWithTheReason() throws {
        do {
            _ = try Repository(at: folder)
            Issue.record("opened a folder that is not a repository")
        } catch {
            #expect(error.isNotFound)
            #expect(error.message.contains(folder))
        }
        #expect(ObjectID(hex: "zz") == nil)
        let id = try #require(ObjectID(hex: "0123456789abcdef0123456789ABCDEF01234567"))
        #expect(id.hex == "0123456789abcdef0123456789abcdef01234567")
    }
}
