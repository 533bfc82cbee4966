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

    /// Whether every path admitted ends with one of `suffixes`: `false` unless each `include` glob's match
    /// must end so.
    public func admitsOnly(namesEndingWith suffixes: [String]) -> Bool {
        !include.isEmpty && include.allSatisfy { $0.onlyMatches(namesEndingWith: suffixes) }
    }

    /// Whether every path admitted that ends with `suffix` is singled out by more of its name (`setup.py`,
    /// `__init__.py`, or another suffix such as `*.pth`): `false` when an `include` glob (or none) admits names
    /// for ending with `suffix` alone (`*.py`, `src/*.py`).
    public func admitsByMoreThan(suffix: String) -> Bool {
        !include.isEmpty && !include.contains { $0.mayMatchEveryName(endingWith: suffix) }
    }
}

/// A path glob: `*` and `?` stay within one directory, `**` spans directories, and a glob without
/// `/` matches the file name alone.
///
/// Paths are matched as bytes (their UTF-8), split at every `/` byte as git splits them, so that a tree walk can
/// match a path it has not made a `String` of, and ask of a directory whether anything under it can match
/// (``mayMatch(under:)``) before reading it.
public struct Glob: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    private let segments: [[UInt8]]
    private let matchesBaseName: Bool
    /// What every matching path ends with: the last segment's bytes after its last wildcard (empty when that
    /// segment is `**` or ends with a wildcard). Checked first, it turns most paths away without splitting them.
    private let literalTail: [UInt8]

    private static let slash = UInt8(ascii: "/")
    private static let doubleStar = Array("**".utf8)

    public init(_ pattern: String) {
        self.pattern = pattern
        self.matchesBaseName = !pattern.utf8.contains(Self.slash)
        self.segments = pattern.utf8.split(separator: Self.slash, omittingEmptySubsequences: true).map(Array.init)
        if let last = segments.last, last != Self.doubleStar {
            let wildcard = last.lastIndex { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
            literalTail = Array(last[(wildcard.map { $0 + 1 } ?? 0)...])
        } else {
            literalTail = []
        }
    }

    public var description: String { pattern }

    public func matches(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { matches(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Whether the path whose UTF-8 is `path` matches.
    public func matches(bytes path: UnsafeRawBufferPointer) -> Bool {
        guard mayEndWith(path) else { return false }
        if matchesBaseName {
            // Asked of every file by every rule with `paths`: the name alone, no list of parts made.
            guard let last = Self.lastPart(of: path), let only = segments.first else { return false }
            return Self.segmentMatches(only, UnsafeRawBufferPointer(rebasing: path[last]))
        }
        let parts = Self.parts(of: path)
        return Self.match(segments[...], parts[...], in: path)
    }

    /// Whether the glob may match names that have nothing in common but ending with `suffix`: its match's fixed
    /// end is part of `suffix` (`*.py` for `.py`), or it has none (`*`, `src/**`).
    public func mayMatchEveryName(endingWith suffix: String) -> Bool {
        literalTail.count <= suffix.utf8.count && suffix.utf8.suffix(literalTail.count).elementsEqual(literalTail)
    }

    /// Whether every path this glob matches ends with one of `suffixes` (byte for byte).
    public func onlyMatches(namesEndingWith suffixes: [String]) -> Bool {
        suffixes.contains {
            literalTail.count >= $0.utf8.count && literalTail.suffix($0.utf8.count).elementsEqual($0.utf8)
        }
    }

    /// Whether `path` ends (but for trailing `/`s) with what every match ends with: a check that needs no
    /// splitting, true of every path that matches and of few others.
    public func mayEndWith(_ path: UnsafeRawBufferPointer) -> Bool {
        guard !literalTail.isEmpty else { return true }
        var end = path.count
        while end > 0, path[end - 1] == Self.slash { end -= 1 }
        guard end >= literalTail.count else { return false }
        var index = end
        for byte in literalTail.reversed() {
            index -= 1
            guard path[index] == byte else { return false }
        }
        return true
    }

    /// Whether some path under the directory `directory` (its path, with or without a trailing `/`) can match:
    /// `false` only when none can, so that a walk may leave the directory unread.
    public func mayMatch(under directory: UnsafeRawBufferPointer) -> Bool {
        if matchesBaseName { return true }
        let parts = Self.parts(of: directory)
        var segment = 0
        for part in parts {
            guard segment < segments.count else { return false }
            // `**` may take any number of the parts left, and anything after them.
            if segments[segment] == Self.doubleStar { return true }
            guard Self.segmentMatches(segments[segment], UnsafeRawBufferPointer(rebasing: directory[part])) else {
                return false
            }
            segment += 1
        }
        // A path under the directory has at least one more part, for the segments left.
        return segment < segments.count
    }

    /// The last of ``parts(of:)``, if any.
    private static func lastPart(of path: UnsafeRawBufferPointer) -> Range<Int>? {
        var end = path.count
        while end > 0, path[end - 1] == slash { end -= 1 }
        guard end > 0 else { return nil }
        var start = end
        while start > 0, path[start - 1] != slash { start -= 1 }
        return start..<end
    }

    /// The non-empty parts of `path` between `/`s.
    private static func parts(of path: UnsafeRawBufferPointer) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = 0
        for index in 0...path.count where index == path.count || path[index] == slash {
            if index > start { parts.append(start..<index) }
            start = index + 1
        }
        return parts
    }

    private static func match(
        _ globs: ArraySlice<[UInt8]>, _ parts: ArraySlice<Range<Int>>, in path: UnsafeRawBufferPointer
    ) -> Bool {
        guard let first = globs.first else { return parts.isEmpty }
        if first == doubleStar {
            let rest = globs.dropFirst()
            for skip in 0...parts.count where match(rest, parts.dropFirst(skip), in: path) { return true }
            return false
        }
        guard let part = parts.first, segmentMatches(first, UnsafeRawBufferPointer(rebasing: path[part])) else {
            return false
        }
        return match(globs.dropFirst(), parts.dropFirst(), in: path)
    }

    /// `*` and `?` wildcard match of one path segment, iterative with single backtrack point.
    private static func segmentMatches(_ glob: [UInt8], _ text: UnsafeRawBufferPointer) -> Bool {
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
