#if canImport(Glibc)
    import Glibc
#endif

/// The bytes of a JSON document with its string escapes decoded (`\"` as `"`, `\n` as a line break,
/// `\u00e9` as UTF-8), and where each decoded byte came from.
///
/// Notebooks and JSON configs hold code as JSON strings: `"TOKEN = \"ghp_…\"\n"`. Rules are written
/// against code as it is typed, so they run on the decoded bytes and their findings are mapped back.
struct JSONUnescaped {
    let bytes: [UInt8]
    /// `origin[i]` is the offset in the original of decoded byte `i`; one extra entry maps the end.
    let origin: [Int]

    /// Whether `path` names a file that is JSON by convention, and so worth decoding.
    static func applies(to path: String?) -> Bool {
        guard let path else { return false }
        return path.hasSuffix(".json") || path.hasSuffix(".ipynb")
    }

    /// Decodes every backslash escape of `original`; `nil` when there is none (nothing to gain).
    init?(_ original: UnsafeRawBufferPointer) {
        guard original.contains(UInt8(ascii: "\\")) else { return nil }
        var bytes: [UInt8] = []
        var origin: [Int] = []
        bytes.reserveCapacity(original.count)
        origin.reserveCapacity(original.count + 1)
        var index = 0
        func emit(_ byte: UInt8, from start: Int) {
            bytes.append(byte)
            origin.append(start)
        }
        let base = original.baseAddress!
        while index < original.count {
            // Copy the run up to the next backslash in one go: most of a file has no escape.
            let found = memchr(base + index, Int32(UInt8(ascii: "\\")), original.count - index)
            let runEnd = found.map { UnsafeRawPointer($0) - base } ?? original.count
            if runEnd > index {
                bytes.append(contentsOf: original[index..<runEnd])
                origin.append(contentsOf: index..<runEnd)
                index = runEnd
                continue
            }
            let byte = original[index]
            guard index + 1 < original.count else {
                emit(byte, from: index)
                index += 1
                continue
            }
            let start = index
            let escaped = original[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "n"):
                emit(0x0A, from: start)
                index = Self.nextLineString(in: original, after: index)
            case UInt8(ascii: "t"): emit(0x09, from: start)
            case UInt8(ascii: "r"): emit(0x0D, from: start)
            case UInt8(ascii: "b"): emit(0x08, from: start)
            case UInt8(ascii: "f"): emit(0x0C, from: start)
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): emit(escaped, from: start)
            case UInt8(ascii: "u"):
                guard index + 4 <= original.count,
                    let value = UInt32(String(decoding: original[index..<index + 4], as: UTF8.self), radix: 16)
                else {
                    emit(byte, from: start)
                    emit(escaped, from: start + 1)
                    continue
                }
                index += 4
                // A lone surrogate half has no UTF-8 form; a replacement character keeps the offsets honest.
                let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
                for unit in String(scalar).utf8 { emit(unit, from: start) }
            default:
                emit(byte, from: start)
                emit(escaped, from: start + 1)
            }
        }
        origin.append(original.count)
        self.bytes = bytes
        self.origin = origin
    }

    /// Notebooks keep a cell's lines as an array of strings, each ending in `\n`: `"a\n",\n    "b\n"`.
    /// When `\n` closes one string and the next begins after the comma, the array punctuation is skipped,
    /// so that a secret spread over lines (a PEM key, a service-account file) reads as it was typed.
    /// Returns where decoding goes on: after the next string's opening quote, or `offset` itself.
    static func nextLineString(in original: UnsafeRawBufferPointer, after offset: Int) -> Int {
        func skipBlanks(_ position: Int) -> Int {
            var position = position
            while position < original.count,
                [0x20, 0x09, 0x0A, 0x0D].contains(original[position])
            {
                position += 1
            }
            return position
        }
        guard offset < original.count, original[offset] == UInt8(ascii: "\"") else { return offset }
        var position = skipBlanks(offset + 1)
        guard position < original.count, original[position] == UInt8(ascii: ",") else { return offset }
        position = skipBlanks(position + 1)
        guard position < original.count, original[position] == UInt8(ascii: "\"") else { return offset }
        return position + 1
    }
}
