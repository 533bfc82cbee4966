import Git

/// How two commits of a shard relate, for `merge` to tell which of two watermarks is the later one.
public enum CommitAncestry: Sendable, Equatable {
    case firstDescends
    case secondDescends
    /// Neither descends from the other (history rewritten).
    case diverged

    /// How commits `first` and `second` relate in the first of `repositories` that holds both; `nil`
    /// when none does (the shard is not reachable from here, or a commit is gone).
    public static func of(_ firstID: ObjectID, _ secondID: ObjectID, in repositories: [String]) -> CommitAncestry? {
        for path in repositories {
            guard let repository = try? Repository(at: path), repository.contains(firstID),
                repository.contains(secondID)
            else { continue }
            if (try? repository.isAncestor(firstID, of: secondID)) == true { return .secondDescends }
            if (try? repository.isAncestor(secondID, of: firstID)) == true { return .firstDescends }
            return .diverged
        }
        return nil
    }
}
