import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One shard of the published list: where to fetch it from and the folder it gets under the mirror root.
public struct ShardListEntry: Sendable, Equatable {
    /// The folder name under the mirror root: the URL's last path component without `.git`.
    public let name: String
    public let url: String
    /// The line of the list it came from, for messages.
    public let line: Int

    public init(name: String, url: String, line: Int) {
        self.name = name
        self.url = url
        self.line = line
    }
}

/// A list of shards that cannot be used, with where and why.
public struct ShardListError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(_ message: String) { self.message = message }
}

/// The list of shard repositories (`repositories.txt`): one URL per line, `#` comments and blank lines allowed,
/// oldest shard first, so the last lines are the open shards that still grow.
public enum ShardList {
    /// Parses the list's text; `origin` names it in messages.
    public static func parse(_ text: String, origin: String) throws(ShardListError) -> [ShardListEntry] {
        var entries: [ShardListEntry] = []
        var lineByName: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let url = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if url.isEmpty { continue }
            if url.contains(where: \.isWhitespace) {
                throw ShardListError("\(origin):\(index + 1): one URL per line, found \"\(url)\"")
            }
            guard let name = shardName(url) else {
                throw ShardListError("\(origin):\(index + 1): cannot tell the shard's name from \"\(url)\"")
            }
            if let first = lineByName[name] {
                throw ShardListError(
                    "\(origin):\(index + 1): shard \(name) is listed twice (first on line \(first)); each needs its own folder"
                )
            }
            lineByName[name] = index + 1
            entries.append(ShardListEntry(name: name, url: url, line: index + 1))
        }
        if entries.isEmpty { throw ShardListError("\(origin): no shard URLs in the list") }
        return entries
    }

    /// The folder name for `url`: its last path component without `.git`; `nil` when that would not be a
    /// plain folder name (empty, `.`/`..`, or hidden, which the scan would skip as a partial clone).
    public static func shardName(_ url: String) -> String? {
        var text = Substring(url)
        while text.hasSuffix("/") { text = text.dropLast() }
        // Both URLs and scp-like addresses (host:path) end in the repository's name.
        let last = text.split(whereSeparator: { $0 == "/" || $0 == ":" }).last.map(String.init) ?? ""
        let name = last.hasSuffix(".git") ? String(last.dropLast(4)) : last
        guard !name.isEmpty, !name.hasPrefix("."), !name.contains("\\") else { return nil }
        return name
    }

    /// Reads the list from a local path, a `file://` URL, or an `http(s)://` URL.
    public static func read(_ location: String) async throws(ShardListError) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") {
            guard let url = URL(string: location) else { throw ShardListError("not a URL: \(location)") }
            return try await download(url)
        }
        var path = location
        if location.hasPrefix("file://") {
            guard let url = URL(string: location), url.isFileURL else { throw ShardListError("not a URL: \(location)") }
            path = url.path
        }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ShardListError("cannot read the shard list \(path): \(error.localizedDescription)")
        }
    }

    private static func download(_ url: URL) async throws(ShardListError) -> String {
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(from: url)
        } catch {
            throw ShardListError("cannot download the shard list \(url): \(error.localizedDescription)")
        }
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            throw ShardListError("cannot download the shard list \(url): HTTP \(http.statusCode)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ShardListError("the shard list \(url) is not UTF-8 text")
        }
        return text
    }
}
