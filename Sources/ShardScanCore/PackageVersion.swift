/// A release version ordered as PEP 440 orders it: `1.10` after `1.2`, `1.0.dev0 < 1.0a1 < 1.0rc1 < 1.0 <
/// 1.0.post1`, an epoch (`1!0.1`) above every version without one, a local label (`1.0+abc`) above its public
/// version. Spellings PEP 440 normalises (`1.0-RC1`, `v1.0`, `1.0.post`, `1.0-1`) parse to the same version.
///
/// A string that is not PEP 440 keeps its text and sorts after every valid version; among themselves such
/// strings compare by text, and callers that know the upload order use ``isValid`` to order them by it.
public struct PackageVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The text it was parsed from.
    public let text: String
    /// The parsed version, or `nil` when `text` is not PEP 440.
    let key: Key?

    public var isValid: Bool { key != nil }
    public var description: String { text }

    public init(_ text: String) {
        self.text = text
        key = Key.parse(text)
    }

    public static func < (lhs: PackageVersion, rhs: PackageVersion) -> Bool {
        switch (lhs.key, rhs.key) {
        case (let l?, let r?): return l < r
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return lhs.text < rhs.text
        }
    }

    public static func == (lhs: PackageVersion, rhs: PackageVersion) -> Bool {
        switch (lhs.key, rhs.key) {
        case (let l?, let r?): return l == r
        case (nil, nil): return lhs.text == rhs.text
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        if let key { hasher.combine(key) } else { hasher.combine(text) }
    }

    /// The parts PEP 440 compares, in the order it compares them.
    struct Key: Hashable, Comparable {
        enum PreTag: Int, Comparable {
            case a = 0
            case b, rc
            static func < (lhs: PreTag, rhs: PreTag) -> Bool { lhs.rawValue < rhs.rawValue }
        }

        /// A local label's segment: numbers sort above words (PEP 440), numbers by value, words by text.
        enum LocalPart: Hashable, Comparable {
            case word(String)
            case number(Int)

            static func < (lhs: LocalPart, rhs: LocalPart) -> Bool {
                switch (lhs, rhs) {
                case (.word(let l), .word(let r)): return l < r
                case (.number(let l), .number(let r)): return l < r
                case (.word, .number): return true
                case (.number, .word): return false
                }
            }
        }

        var epoch = 0
        /// Without trailing zeros: `1.0` and `1` are the same release.
        var release: [Int] = []
        var pre: (tag: PreTag, number: Int)?
        var post: Int?
        var dev: Int?
        var local: [LocalPart]?

        static func == (lhs: Key, rhs: Key) -> Bool { !(lhs < rhs) && !(rhs < lhs) }

        func hash(into hasher: inout Hasher) {
            hasher.combine(epoch)
            hasher.combine(release)
            hasher.combine(pre?.tag)
            hasher.combine(pre?.number)
            hasher.combine(post)
            hasher.combine(dev)
            hasher.combine(local)
        }

        /// Where the pre-release part ranks: a dev release of a final version (`1.0.dev0`) comes before its
        /// pre-releases, a final version after them.
        private var preRank: (Int, Int, Int) {
            if let pre { return (1, pre.tag.rawValue, pre.number) }
            if post == nil && dev != nil { return (0, 0, 0) }
            return (2, 0, 0)
        }

        static func < (lhs: Key, rhs: Key) -> Bool {
            if lhs.epoch != rhs.epoch { return lhs.epoch < rhs.epoch }
            if lhs.release != rhs.release { return lhs.release.lexicographicallyPrecedes(rhs.release) }
            if lhs.preRank != rhs.preRank { return lhs.preRank < rhs.preRank }
            // No post-release sorts before any; no dev release sorts after any.
            let lPost = lhs.post ?? -1
            let rPost = rhs.post ?? -1
            if lPost != rPost { return lPost < rPost }
            let lDev = lhs.dev ?? Int.max
            let rDev = rhs.dev ?? Int.max
            if lDev != rDev { return lDev < rDev }
            switch (lhs.local, rhs.local) {
            case (nil, nil): return false
            case (nil, .some): return true
            case (.some, nil): return false
            case (let l?, let r?): return l.lexicographicallyPrecedes(r)
            }
        }

        /// Parses PEP 440's permissive form (what `packaging` accepts), case-insensitively.
        static func parse(_ text: String) -> Key? {
            var s = Cursor(Array(text.lowercased().trimmingWhitespace().utf8))
            var key = Key()
            _ = s.take("v")
            guard var first = s.number() else { return nil }
            if s.take("!") {
                key.epoch = first
                guard let next = s.number() else { return nil }
                first = next
            }
            key.release = [first]
            while s.peek == UInt8(ascii: "."), s.isDigit(at: 1) {
                s.index += 1
                guard let part = s.number() else { return nil }
                key.release.append(part)
            }
            while key.release.count > 1 && key.release.last == 0 { key.release.removeLast() }

            // Pre-release: [sep](a|b|c|rc|alpha|beta|pre|preview)[sep][N]
            let beforePre = s.index
            _ = s.separator()
            if let tag = s.word(["alpha", "a", "beta", "b", "preview", "pre", "rc", "c"]) {
                let normal: PreTag =
                    switch tag {
                    case "alpha", "a": .a
                    case "beta", "b": .b
                    default: .rc
                    }
                let beforeNumber = s.index
                _ = s.separator()
                if let n = s.number() {
                    key.pre = (normal, n)
                } else {
                    s.index = beforeNumber
                    key.pre = (normal, 0)
                }
            } else {
                s.index = beforePre
            }

            // Post-release: -N, or [sep](post|rev|r)[sep][N]
            let beforePost = s.index
            if s.take("-"), let n = s.number() {
                key.post = n
            } else {
                s.index = beforePost
                _ = s.separator()
                if s.word(["post", "rev", "r"]) != nil {
                    let beforeNumber = s.index
                    _ = s.separator()
                    if let n = s.number() {
                        key.post = n
                    } else {
                        s.index = beforeNumber
                        key.post = 0
                    }
                } else {
                    s.index = beforePost
                }
            }

            // Dev release: [sep]dev[sep][N]
            let beforeDev = s.index
            _ = s.separator()
            if s.word(["dev"]) != nil {
                let beforeNumber = s.index
                _ = s.separator()
                if let n = s.number() {
                    key.dev = n
                } else {
                    s.index = beforeNumber
                    key.dev = 0
                }
            } else {
                s.index = beforeDev
            }

            // Local label: +segment([-_.]segment)*
            if s.take("+") {
                var parts: [LocalPart] = []
                repeat {
                    let start = s.index
                    while let c = s.peek, (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || Cursor.isDigit(c) {
                        s.index += 1
                    }
                    guard s.index > start else { return nil }
                    let segment = String(decoding: s.bytes[start..<s.index], as: UTF8.self)
                    if segment.utf8.allSatisfy(Cursor.isDigit), let n = Int(segment) {
                        parts.append(.number(n))
                    } else {
                        parts.append(.word(segment))
                    }
                } while s.separator()
                key.local = parts
            }
            return s.atEnd ? key : nil
        }
    }

    /// A position in the bytes being parsed.
    struct Cursor {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

        func isDigit(at offset: Int) -> Bool {
            index + offset < bytes.count && Self.isDigit(bytes[index + offset])
        }

        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard peek == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        /// One `-`, `_` or `.`.
        mutating func separator() -> Bool {
            guard let c = peek, c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") else {
                return false
            }
            index += 1
            return true
        }

        /// A run of digits, or `nil` (also when too long for an `Int`).
        mutating func number() -> Int? {
            let start = index
            while let c = peek, Self.isDigit(c) { index += 1 }
            guard index > start, let n = Int(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                index = start
                return nil
            }
            return n
        }

        /// The first of `words` (longest listed first where one prefixes another) that follows.
        mutating func word(_ words: [String]) -> String? {
            for word in words {
                let w = Array(word.utf8)
                if index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w {
                    index += w.count
                    return word
                }
            }
            return nil
        }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let c = scalars.first, c.isWhitespace { scalars.removeFirst() }
        while let c = scalars.last, c.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

/// A release by version and upload time, in the order a project's releases are listed: PEP 440 for valid
/// versions (upload time only between equal ones), then every version that is not PEP 440, by upload.
public struct UploadedVersion: Sendable, Hashable, Comparable {
    public var version: PackageVersion
    /// ISO 8601 (UTC); `nil` when unknown (stores written before upload times were kept), which sorts first.
    public var uploadedAt: String?

    public init(_ version: String, uploadedAt: String?) {
        self.version = PackageVersion(version)
        self.uploadedAt = uploadedAt
    }

    public static func < (lhs: UploadedVersion, rhs: UploadedVersion) -> Bool {
        switch (lhs.version.isValid, rhs.version.isValid) {
        case (true, true):
            if lhs.version != rhs.version { return lhs.version < rhs.version }
            return (lhs.uploadedAt ?? "", lhs.version.text) < (rhs.uploadedAt ?? "", rhs.version.text)
        case (true, false): return true
        case (false, true): return false
        case (false, false):
            return (lhs.uploadedAt ?? "", lhs.version.text) < (rhs.uploadedAt ?? "", rhs.version.text)
        }
    }
}
