import Git

/// libgit2's failures in words that say what to do about them.
enum GitProblem {
    /// `error`'s message, followed by what to do when it means the repository lacks objects.
    static func describe(_ error: any Error) -> String {
        ((error as? GitError)?.message ?? "\(error)") + advice(for: error)
    }

    /// What to do about `error`, or nothing. Shallow clones are refused before their walk starts (see
    /// ``MirrorScan/admit(_:runID:)``), so an object missing from a full clone means damage: a pack cut
    /// short by a full disk or a killed fetch, or a folder copied in part.
    static func advice(for error: any Error) -> String {
        guard let error = error as? GitError, error.isNotFound || error.message.contains("not found") else {
            return ""
        }
        return
            "; the repository lacks an object its history needs (a truncated or damaged pack, or an interrupted "
            + "fetch or copy?): re-fetch the shard (`git fetch`, or clone it again), then scan again"
    }
}
