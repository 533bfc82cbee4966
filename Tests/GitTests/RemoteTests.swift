import Foundation
import Git
import Testing

/// The clone, fetch, reference listing and object checks that `mirror sync` is built on, against a local remote.
@Suite struct RemoteTests {
    let folder: String
    let author = Signature(name: "Test", email: "test@example.invalid", time: 1_700_000_000)

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("git-remote-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func release(_ repository: Repository, _ text: String) throws -> (commit: ObjectID, blob: ObjectID) {
        let blob = try repository.writeBlob(Array(text.utf8))
        let parent = try repository.commitID(ofReference: "refs/heads/code")
        let commit = try repository.commit(
            files: [("packages/\(text)/setup.py", blob)], parent: parent, message: text, author: author,
            reference: "refs/heads/code")
        return (commit, blob)
    }

    @Test func cloneBareListFetchAndCheckObjects() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let origin = try Repository.create(at: folder + "/origin.git", bare: true)
        let (first, _) = try release(origin, "one")
        let url = URL(fileURLWithPath: folder + "/origin.git").absoluteString

        var reports = 0
        let (clone, stats) = try Repository.cloneBare(from: url, to: folder + "/clone") { _ in
            reports += 1
            return true
        }
        #expect(clone.isBare)
        #expect(try clone.commitID(ofReference: "refs/heads/code") == first)
        #expect(try clone.referenceNames(matching: "refs/remotes/*").isEmpty)
        #expect(stats.receivedBytes > 0 && stats.receivedObjects == stats.totalObjects && reports > 0)
        #expect(try clone.allObjectIDs().allSatisfy { clone.checkObject($0) == nil })

        let (second, blob) = try release(origin, "two")
        let remote = try Remote(anonymousURL: url, in: clone)
        #expect(try remote.references().contains { $0.name == "refs/heads/code" && $0.id == second })
        try remote.fetch(refspecs: ["+refs/heads/code:refs/heads/code"])
        #expect(try clone.commitID(ofReference: "refs/heads/code") == second)
        #expect(clone.contains(blob))

        // A progress callback that says stop cancels the transfer.
        let (third, _) = try release(origin, "three")
        #expect(throws: GitError.self) {
            try Remote(anonymousURL: url, in: clone).fetch(refspecs: ["+refs/heads/code:refs/heads/code"]) { _ in false
            }
        }
        #expect(try clone.commitID(ofReference: "refs/heads/code") != third)

        // A loose object whose bytes were replaced is reported by id.
        let file = folder + "/origin.git/objects/\(blob.hex.prefix(2))/\(blob.hex.dropFirst(2))"
        chmod(file, 0o644)
        try Data(repeating: 0x5A, count: 32).write(to: URL(fileURLWithPath: file))
        let reopened = try Repository(at: folder + "/origin.git")
        #expect(reopened.checkObject(blob)?.id == blob)
        #expect(reopened.checkObject(second) == nil)
        let (checked, problems) = try reopened.checkAllObjects()
        #expect(try checked == reopened.allObjectIDs().count && problems.map(\.id) == [blob])
    }
}
