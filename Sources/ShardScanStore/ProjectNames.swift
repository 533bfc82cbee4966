import GRDB

extension Store {
    /// The names of the projects whose releases the store has seen that start with `prefix` (as spelled in
    /// their release files), for shell completion: the project index answers without reading findings.
    public func projectNames(startingWith prefix: String, limit: Int = 200) throws -> [String] {
        try queue.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT project FROM release
                    WHERE project != '' AND substr(project, 1, length(?)) = ? ORDER BY project LIMIT ?
                    """,
                arguments: [prefix, prefix, limit])
        }
    }
}
