/// Which paths inside a release a rule applies to.
public struct PathFilter: Sendable, Equatable {
    public var include: [Glob]
    public var exclude: [Glob]

    public init(include: [Glob] = [], exclude: [Glob] = []) {
        self.include = include
        self.exclude = exclude
    }

    /// Whether a file at `path` is scanned by the rule. An unknown path (`nil`) always is.
    public func admits(_ path: String?) -> Bool {
        guard let path else { return true }
        if exclude.contains(where: { $0.matches(path) }) { return false }
        return include.isEmpty || include.contains(where: { $0.matches(path) })
    }
}

/// A path glob: `*` and `?` stay within one directory, `**` spans directories, and a glob without
/// `/` matches the file name alone.
public struct Glob: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    private let segments: [Substring]
    private let matchesBaseName: Bool
    /// What every matching path ends with: the last segment's bytes after its last wildcard (empty when that
    /// segment is `**` or ends with a wildcard). Checked first, it turns most paths away without splitting them.
    private let literalTail: [UInt8]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.matchesBaseName = !pattern.contains("/")
        self.segments = pattern.split(separator: "/", omittingEmptySubsequences: true)
        if let last = segments.last, last != "**" {
            let bytes = Array(last.utf8)
            let wildcard = bytes.lastIndex { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
            literalTail = Array(bytes[(wildcard.map { $0 + 1 } ?? 0)...])
        } else {
            literalTail = []
        }
    }

    public var description: String { pattern }

    public func matches(_ path: String) -> Bool {
        if !literalTail.isEmpty {
            // The last segment matches the last part, which ends the path (but for trailing `/`s).
            var end = path.utf8.endIndex
            while end > path.utf8.startIndex, path.utf8[path.utf8.index(before: end)] == UInt8(ascii: "/") {
                end = path.utf8.index(before: end)
            }
            guard path.utf8[..<end].reversed().starts(with: literalTail.reversed()) else { return false }
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if matchesBaseName {
            guard let last = parts.last, let only = segments.first else { return false }
            return Self.segmentMatches(Array(only.utf8), Array(last.utf8))
        }
        return Self.match(segments[...], parts[...])
    }

    private static func match(_ globs: ArraySlice<Substring>, _ parts: ArraySlice<Substring>) -> Bool {
        guard let first = globs.first else { return parts.isEmpty }
        if first == "**" {
            let rest = globs.dropFirst()
            for skip in 0...parts.count where match(rest, parts.dropFirst(skip)) { return true }
            return false
        }
        guard let part = parts.first, segmentMatches(Array(first.utf8), Array(part.utf8)) else { return false }
        return match(globs.dropFirst(), parts.dropFirst())
    }

    /// `*` and `?` wildcard match of one path segment, iterative with single backtrack point.
    private static func segmentMatches(_ glob: [UInt8], _ text: [UInt8]) -> Bool {
        var g = 0
        var t = 0
        var starG = -1
        var starT = 0
        while t < text.count {
            if g < glob.count && (glob[g] == UInt8(ascii: "?") || glob[g] == text[t]) {
                g += 1
                t += 1
            } else if g < glob.count && glob[g] == UInt8(ascii: "*") {
                starG = g
                starT = t
                g += 1
            } else if starG >= 0 {
                g = starG + 1
                starT += 1
                t = starT
            } else {
                return false
            }
        }
        while g < glob.count && glob[g] == UInt8(ascii: "*") { g += 1 }
        return g == glob.count
    }
}
