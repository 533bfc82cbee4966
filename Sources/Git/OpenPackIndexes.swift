import Foundation

extension PackIndex {
    /// The index at `path`, shared with every ``PackSet`` that has it open now, else opened.
    ///
    /// A scan opens a shard's packs once per reader (each worker's, the tree reader's, the read order's, the
    /// walking thread's), and every lookup binary-searches the index, so each mapping ends up resident whole: on
    /// the large bench shard five copies of a 1.9 MB index. Git never rewrites an index in place (its name is its
    /// pack's checksum), and a file put in its place has another identity (``FileIdentity``), which is opened
    /// afresh. An index no set holds any more is unmapped.
    public static func shared(path: String) throws(GitError) -> PackIndex {
        try OpenPackIndexes.shared.index(at: path)
    }
}

/// The pack indexes open in the process, by path, held weakly.
private final class OpenPackIndexes: @unchecked Sendable {
    static let shared = OpenPackIndexes()

    private struct Entry {
        weak var index: PackIndex?
    }

    // Guards `open`: readers on several threads open the same shard's packs at once.
    private let lock = NSLock()
    private var open: [String: Entry] = [:]

    func index(at path: String) throws(GitError) -> PackIndex {
        lock.lock()
        defer { lock.unlock() }
        if let index = open[path]?.index, let identity = FileIdentity(path: path), index.file.identity == identity {
            return index
        }
        let index = try PackIndex(path: path)
        open = open.filter { $0.value.index != nil }
        open[path] = Entry(index: index)
        return index
    }
}
