import Foundation
import Git
import ShardScanCore
import Testing

@testable import ShardScanEngine

/// A hunt walks a shard's history in parts of consecutive commits on several threads, and lets its globs and
/// project leave folders of the trees unread: neither may change what it finds, or in which order.
@Suite struct HuntWalkTests {
    /// Each blob a hunt hands on, with every place it sits at, in the order handed on.
    static func hunt(_ sources: [ShardSource], _ query: HuntQuery) -> (results: [String], warnings: [String]) {
        var results: [String] = []
        var warnings: [String] = []
        _ = Hunter.run(
            sources, query: query, warning: { warnings.append($0) },
            emit: { result in
                let places = result.places.map { "\($0.shard) \($0.commit.hex) \($0.time) \($0.shardPath)" }
                results.append("\(result.blob.hex): " + places.joined(separator: ", "))
            })
        return (results, warnings)
    }

    @Test func partsOnThreadsGiveWhatOneWalkGives() throws {
        let mirror = try PackReadTests.buildPackedMirror()
        let sources = ShardLocator.locate([mirror.mirrorPath], branch: "code")
        #expect(sources.count == 2)
        // The walk does split: 36 commits in two parts (a part takes at least `minimumPartCommits`).
        let repository = try Repository(at: sources[0].repositoryPath)
        let tip = try #require(try repository.commitID(ofReference: "refs/heads/code"))
        let commits = try repository.commits(from: tip)
        #expect(commits.count == 36)
        for workers in [2, 3] {
            let parts = Hunter.walk(commits, of: sources[0], query: HuntQuery(content: .none, workers: workers))
            #expect(parts.count == min(workers, commits.count / Hunter.minimumPartCommits))
            #expect(parts.map(\.commits).reduce(0, +) == commits.count)
        }
        let queries = [
            HuntQuery(content: .none), HuntQuery(content: .none, paths: [Glob("*/src/*.py")]),
            HuntQuery(content: .none, paths: [Glob("LICENSE"), Glob("*/src/db.py")], project: "PROJ3"),
            HuntQuery(content: .none, since: 1_700_000_000 + 20 * 60),
        ]
        for (number, query) in queries.enumerated() {
            var one = query
            one.workers = 1
            let expected = Self.hunt(sources, one)
            #expect(expected.warnings.isEmpty)
            #expect(!expected.results.isEmpty, "query \(number)")
            for workers in [2, 3] {
                var many = query
                many.workers = workers
                let got = Self.hunt(sources, many)
                #expect(got.warnings.isEmpty)
                #expect(got.results == expected.results, "query \(number), \(workers) threads")
            }
        }
    }

    /// A hunt whose globs and project let the tree walk leave folders unread finds, place for place, the files
    /// of a hunt that reads every folder and keeps the same files afterwards.
    @Test func leavingFoldersUnreadLosesNoFile() throws {
        let mirror = try PackReadTests.buildPackedMirror()
        let sources = ShardLocator.locate([mirror.mirrorPath], branch: "code")
        let everything = Self.places(sources, HuntQuery(content: .none))
        let cases: [([String], String?)] = [
            (["*/src/*.py"], nil), (["*/LICENSE", "*/*/db.py"], nil), (["*/src/version_1?.py"], "proj1"),
            ([], "Proj2"), (["src/*.py"], nil),
        ]
        for (globs, project) in cases {
            let query = HuntQuery(content: .none, paths: globs.map(Glob.init), project: project)
            #expect(query.treeFilter != nil)
            let expected = everything.filter { place in
                (query.project == nil || place.release.projectNormalized == query.project)
                    && (globs.isEmpty || query.paths.contains { $0.matches(place.release.innerPath) })
            }
            #expect(Self.places(sources, query) == expected, "\(globs) \(project ?? "")")
            #expect(!expected.isEmpty || globs == ["src/*.py"], "\(globs) \(project ?? "")")
        }
    }

    /// Every place a hunt hands on, sorted by shard, commit time and path.
    static func places(_ sources: [ShardSource], _ query: HuntQuery) -> [HuntPlace] {
        var places: [HuntPlace] = []
        _ = Hunter.run(sources, query: query, warning: { Issue.record("\($0)") }, emit: { places += $0.places })
        return places.sorted { ($0.shard, $0.time, $0.shardPath) < ($1.shard, $1.time, $1.shardPath) }
    }
}
