import Foundation
import Git
import ShardScanCore
import Testing

@Suite struct CommitHeaderTests {
    /// Every commit of a repository, read from its packs (or loose) and parsed, has the tree, parents and time
    /// libgit2 gives.
    @Test func everyCommitMatchesLibgit2() throws {
        let repository = try PackedRepository()
        let packs = try PackSet(objectsDirectory: repository.objects)
        let reader = try PackReader(packs: packs, repositoryPath: repository.path)
        let libgit2 = try Repository(at: repository.path)
        let commits = try repository.allObjects().filter { $0.type == "commit" }.map(\.id)
        #expect(commits.count == 24)
        for id in commits {
            let expected = try libgit2.commit(id)
            let header = try #require(try reader.withObjectBytes(id) { CommitHeader(parsing: $0) })
            #expect(header == CommitHeader(tree: expected.tree, parents: expected.parents, time: expected.time))
        }
    }

    static let tree = ObjectID(hex: "4b825dc642cb6eb9a060e54bf8d69288fbee4904")!
    static let parents = [
        ObjectID(hex: "1111111111111111111111111111111111111111")!,
        ObjectID(hex: "2222222222222222222222222222222222222222")!,
    ]

    static func parse(_ text: String) -> CommitHeader? {
        Array(text.utf8).withUnsafeBytes { CommitHeader(parsing: $0) }
    }

    /// The committer's time, not the author's; header lines other than these (a signature's continuation lines
    /// among them) and the message are skipped, whatever they hold.
    @Test func readsTheCommitterTimeAndSkipsOtherHeaders() {
        let text = """
            tree \(Self.tree.hex)
            parent \(Self.parents[0].hex)
            parent \(Self.parents[1].hex)
            author A <a@example.com> 1000000000 +0100
            committer C > D <c@example.com> 1700000000 -0500
            gpgsig -----BEGIN PGP SIGNATURE-----
             committer X <x@example.com> 5 +0000
             -----END PGP SIGNATURE-----
            encoding UTF-8

            committer in the message 7 +0000
            parent 3333333333333333333333333333333333333333
            """
        #expect(Self.parse(text) == CommitHeader(tree: Self.tree, parents: Self.parents, time: 1_700_000_000))
    }

    /// What does not start with a tree line, or has no committer time, is not a commit header: the walk asks
    /// libgit2 instead, whose error names the problem.
    @Test(arguments: [
        "",
        "parent \(parents[0].hex)\ntree \(tree.hex)\ncommitter C <c@example.com> 1 +0000\n",
        "tree \(tree.hex)\nauthor A <a@example.com> 1 +0000\n\nmessage",
        "tree \(tree.hex)\ncommitter C <c@example.com> soon\n",
        "tree \(tree.hex)\ncommitter C <c@example.com> 99999999999999999999 +0000\n",
        "tree \(tree.hex.prefix(39))\ncommitter C <c@example.com> 1 +0000\n",
    ])
    func refusesWhatIsNotACommitHeader(text: String) {
        #expect(Self.parse(text) == nil)
    }
}

@Suite struct ObjectDatabaseTests {
    /// Closing the object database unmaps the pack indexes libgit2 opened (a walk reads through its own
    /// readers, which share one mapping), and the next read opens them again.
    @Test func closingUnmapsThePackIndexesUntilTheNextRead() throws {
        let repository = try PackedRepository()
        let libgit2 = try Repository(at: repository.path)
        let tip = try #require(try libgit2.commitID(ofReference: "HEAD"))
        let commits = try libgit2.commits(from: tip)
        #expect(commits.count == 24)
        let indexes = try repository.packIndexPaths()
        #expect(try indexes.map(SharedPackIndexTests.mappings(of:)).reduce(0, +) > 0)
        try libgit2.closeObjectDatabase()
        #expect(try indexes.map(SharedPackIndexTests.mappings(of:)).reduce(0, +) == 0)
        #expect(try libgit2.commits(from: tip) == commits)
        #expect(libgit2.contains(commits[0]))
    }

    /// A pack reader reads objects in no pack through libgit2's loose objects alone: libgit2 looking for them
    /// in the packs first would map every pack index again, beside the reader's own mapping. An object in none
    /// of the packs it opened and not loose either is still looked for in the whole database.
    @Test func looseObjectsAreReadWithoutMappingThePackIndexesAgain() throws {
        let repository = try PackedRepository()
        let packs = try PackSet(objectsDirectory: repository.objects)
        let reader = try PackReader(packs: packs, repositoryPath: repository.path)
        let indexes = try repository.packIndexPaths()
        let objects = try repository.allObjects().map(\.id)
        let loose = objects.filter { packs.location(of: $0) == nil }
        #expect(loose.count > 5)
        let read = try loose.map { id in try reader.withObjectBytes(id) { Array($0) } }
        #expect(reader.statistics.fallbackReads == loose.count)
        #expect(try indexes.map(SharedPackIndexTests.mappings(of:)) == indexes.map { _ in 1 })
        let libgit2 = try Repository(at: repository.path)
        #expect(try read == loose.map { id in try libgit2.withObjectBytes(id) { Array($0) } })

        let looseOnly = try Repository(at: repository.path)
        try looseOnly.readLooseObjectsOnly()
        #expect(loose.allSatisfy(looseOnly.contains))
        #expect(!objects.filter { packs.location(of: $0) != nil }.contains(where: looseOnly.contains))
        try looseOnly.closeObjectDatabase()
        #expect(objects.allSatisfy(looseOnly.contains))
    }
}
