/// A stretch of decoded bytes and the original bytes it came from.
///
/// Decoded byte `k` of the segment comes from original byte `originalStart + k * stride`; a stride of 0
/// means every decoded byte comes from the segment as a whole (an escape, a transcoded character).
struct DecodedSegment {
    var originalStart: Int
    /// Original bytes the segment consumed, skipped punctuation included.
    var originalCount: Int
    var decodedCount: Int
    var stride: Int
}

/// A way of turning a blob into the UTF-8 bytes rules run on. `walk` is deterministic: it runs once to
/// decode and again to map findings back, so decoded bytes and offsets can never disagree.
protocol BlobDecoding {
    /// Calls `body` with each segment in order and its decoded bytes (the original's own, for a copy).
    func walk(_ original: UnsafeRawBufferPointer, _ body: (DecodedSegment, UnsafeRawBufferPointer) -> Void)
}

/// The text of a blob that rules cannot read as it is stored: UTF-16 or UTF-32 with a byte-order mark,
/// or JSON whose strings hold escaped code. Holds the decoded UTF-8 bytes and nothing per byte: offsets
/// map back by walking the original again, so memory is the decoded copy alone (a map with an entry per
/// byte cost eight times the blob; one per escape or per character still costs several times the blob for
/// an adversarial file such as `a\na\n…`, which a second walk does not).
public struct DecodedText: Sendable {
    /// The decoded text, UTF-8 for the Unicode forms.
    public let bytes: [UInt8]
    let decoding: Decoding

    enum Decoding: Sendable {
        case unicode(UnicodeForm)
        case json
        case pythonStatements
    }

    /// Decodes `original` when `form` is given (see ``UnicodeForm/detect(_:)``).
    public init(_ original: UnsafeRawBufferPointer, form: UnicodeForm) {
        self.init(original, decoding: .unicode(form))
    }

    /// Decodes every backslash escape of JSON text; `nil` when there is none (nothing to gain).
    public init?(json original: UnsafeRawBufferPointer) {
        guard original.contains(UInt8(ascii: "\\")) else { return nil }
        self.init(original, decoding: .json)
    }

    /// Python source as logical statements (see ``PythonStatementJoiner``); `nil` when that is the source
    /// as it stands (no comment, no statement continued over lines).
    public init?(pythonStatements original: UnsafeRawBufferPointer) {
        // One walk both decodes and tells whether anything changed; an unchanged copy is dropped.
        var changed = false
        var bytes: [UInt8] = []
        bytes.reserveCapacity(original.count)
        PythonStatementJoiner().walk(original) { segment, decoded in
            if segment.stride != 1 { changed = true }
            bytes.append(contentsOf: decoded)
        }
        guard changed else { return nil }
        self.bytes = bytes
        self.decoding = .pythonStatements
    }

    private init(_ original: UnsafeRawBufferPointer, decoding: Decoding) {
        var bytes: [UInt8] = []
        // UTF-16 text is mostly ASCII: half the size in UTF-8; JSON shrinks by its escapes only.
        bytes.reserveCapacity(original.count)
        Self.walk(decoding, original) { _, decoded in bytes.append(contentsOf: decoded) }
        self.bytes = bytes
        self.decoding = decoding
    }

    private static func walk(
        _ decoding: Decoding, _ original: UnsafeRawBufferPointer,
        _ body: (DecodedSegment, UnsafeRawBufferPointer) -> Void
    ) {
        switch decoding {
        case .unicode(let form): UnicodeTranscoder(form: form).walk(original, body)
        case .json: JSONUnescaper().walk(original, body)
        case .pythonStatements: PythonStatementJoiner().walk(original, body)
        }
    }

    /// The original offsets of decoded `starts` and (exclusive) `ends`, in one walk over `original` (the
    /// bytes this was decoded from). A start maps to where its byte came from; an end to just past where the
    /// byte before it came from, so a non-empty range never maps to an empty one. Offsets past the decoded
    /// text map to the original's end.
    public func originalOffsets(starts: [Int], ends: [Int], in original: UnsafeRawBufferPointer) -> (
        starts: [Int], ends: [Int]
    ) {
        // The decoded byte each query is answered from; ends look at the byte before them.
        let probes = starts + ends.map { max(0, $0 - 1) }
        let order = probes.indices.sorted { probes[$0] < probes[$1] }
        var answers = Array(repeating: original.count, count: probes.count)
        var next = 0
        var decodedStart = 0
        Self.walk(decoding, original) { segment, _ in
            let decodedEnd = decodedStart + segment.decodedCount
            while next < order.count, probes[order[next]] < decodedEnd {
                let index = order[next]
                let isEnd = index >= starts.count
                let within = max(0, probes[index] - decodedStart)
                if isEnd && ends[index - starts.count] <= 0 {
                    answers[index] = segment.originalStart
                } else if segment.stride > 0 {
                    answers[index] = segment.originalStart + within * segment.stride + (isEnd ? segment.stride : 0)
                } else {
                    answers[index] = segment.originalStart + (isEnd ? segment.originalCount : 0)
                }
                next += 1
            }
            decodedStart = decodedEnd
        }
        return (Array(answers[..<starts.count]), Array(answers[starts.count...]))
    }
}

/// The Unicode encodings recognised by their byte-order mark.
public enum UnicodeForm: String, Sendable, CaseIterable {
    case utf16LittleEndian = "UTF-16LE"
    case utf16BigEndian = "UTF-16BE"
    case utf32LittleEndian = "UTF-32LE"
    case utf32BigEndian = "UTF-32BE"

    /// The first bytes, as in git's binary check, that must read as text in the form a mark declares.
    public static let probeLength = 8192

    /// The form `bytes` declare by their byte-order mark; `nil` for none (UTF-8 or bytes). The mark counts
    /// only when the first ``probeLength`` bytes read as text in that form: a line break among them, or
    /// mostly printable ASCII, as source code in UTF-16 or UTF-32 has. So binary data or a Latin-1 file that
    /// happens to begin with `ÿþ` stays as it is. UTF-32LE's mark starts with UTF-16LE's; it is tried first.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> UnicodeForm? {
        let marked = allCases.filter { bytes.starts(with: $0.byteOrderMark) }.sorted { $0.unitSize > $1.unitSize }
        return marked.first { $0.readsAsText(UnsafeRawBufferPointer(rebasing: bytes.prefix(probeLength))) }
    }

    /// The byte-order mark: U+FEFF in this form.
    public var byteOrderMark: [UInt8] {
        switch self {
        case .utf16LittleEndian: [0xFF, 0xFE]
        case .utf16BigEndian: [0xFE, 0xFF]
        case .utf32LittleEndian: [0xFF, 0xFE, 0x00, 0x00]
        case .utf32BigEndian: [0x00, 0x00, 0xFE, 0xFF]
        }
    }

    /// Whether the units after the mark hold a line break, or are at least half printable ASCII.
    private func readsAsText(_ probe: UnsafeRawBufferPointer) -> Bool {
        var units = 0
        var ascii = 0
        var offset = unitSize
        while offset + unitSize <= probe.count {
            let value = unit(at: offset, in: probe)
            if value == 0x0A { return true }
            if (0x20...0x7E).contains(value) || value == 0x09 || value == 0x0D { ascii += 1 }
            units += 1
            offset += unitSize
        }
        return units > 0 && ascii * 2 >= units
    }

    /// The code unit at `offset` of `bytes` (which must hold a whole unit there).
    public func unit(at offset: Int, in bytes: UnsafeRawBufferPointer) -> UInt32 {
        var result: UInt32 = 0
        for k in 0..<unitSize {
            result = result << 8 | UInt32(bytes[isLittleEndian ? offset + unitSize - 1 - k : offset + k])
        }
        return result
    }

    /// Bytes per code unit, and of the byte-order mark.
    public var unitSize: Int {
        switch self {
        case .utf16LittleEndian, .utf16BigEndian: 2
        case .utf32LittleEndian, .utf32BigEndian: 4
        }
    }

    var isLittleEndian: Bool { self == .utf16LittleEndian || self == .utf32LittleEndian }
}

/// UTF-16 or UTF-32 (after its byte-order mark) to UTF-8. Malformed units (a lone surrogate, a value past
/// U+10FFFF, a trailing partial unit) become U+FFFD, each mapped to the bytes it replaces.
struct UnicodeTranscoder: BlobDecoding {
    let form: UnicodeForm

    /// ASCII characters gathered into one segment before it is handed on.
    private static let asciiRun = 512

    func walk(_ original: UnsafeRawBufferPointer, _ body: (DecodedSegment, UnsafeRawBufferPointer) -> Void) {
        let unit = form.unitSize
        let count = original.count
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.asciiRun) { run in
            var runLength = 0
            var runStart = unit
            func flush() {
                guard runLength > 0 else { return }
                body(
                    DecodedSegment(
                        originalStart: runStart, originalCount: runLength * unit, decodedCount: runLength, stride: unit),
                    UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(run)[0..<runLength]))
                runLength = 0
            }
            func character(_ scalar: Unicode.Scalar, at start: Int, length: Int) {
                if scalar.isASCII {
                    if runLength == Self.asciiRun { flush() }
                    if runLength == 0 { runStart = start }
                    run[runLength] = UInt8(scalar.value)
                    runLength += 1
                    return
                }
                flush()
                var encoded = (UInt8(0), UInt8(0), UInt8(0), UInt8(0))
                var length8 = 0
                withUnsafeMutableBytes(of: &encoded) { buffer in
                    UTF8.encode(scalar) { byte in
                        buffer[length8] = byte
                        length8 += 1
                    }
                    body(
                        DecodedSegment(originalStart: start, originalCount: length, decodedCount: length8, stride: 0),
                        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<length8]))
                }
            }
            func value(at offset: Int) -> UInt32 { form.unit(at: offset, in: original) }
            // The byte-order mark decodes to nothing.
            body(
                DecodedSegment(originalStart: 0, originalCount: min(unit, count), decodedCount: 0, stride: 0),
                .init(start: nil, count: 0))
            var offset = unit
            while offset + unit <= count {
                let first = value(at: offset)
                if unit == 4 {
                    character(Unicode.Scalar(first) ?? "\u{FFFD}", at: offset, length: 4)
                    offset += 4
                } else if first & 0xFC00 == 0xD800, offset + 4 <= count, value(at: offset + 2) & 0xFC00 == 0xDC00 {
                    let second = value(at: offset + 2)
                    let scalar = Unicode.Scalar(0x10000 + ((first & 0x3FF) << 10) + (second & 0x3FF))!
                    character(scalar, at: offset, length: 4)
                    offset += 4
                } else {
                    character(Unicode.Scalar(first) ?? "\u{FFFD}", at: offset, length: 2)
                    offset += 2
                }
            }
            if offset < count { character("\u{FFFD}", at: offset, length: count - offset) }
            flush()
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// JSON string escapes decoded (`\"` as `"`, `\n` as a line break, `\u00e9` as UTF-8).
///
/// Notebooks and JSON configs hold code as JSON strings: `"TOKEN = \"ghp_…\"\n"`. Rules are written
/// against code as it is typed, so they run on the decoded bytes and their findings are mapped back.
struct JSONUnescaper: BlobDecoding {
    /// Whether `path` names a file that is JSON by convention, and so worth decoding.
    static func applies(to path: String?) -> Bool {
        guard let path else { return false }
        return path.hasSuffix(".json") || path.hasSuffix(".ipynb")
    }

    func walk(_ original: UnsafeRawBufferPointer, _ body: (DecodedSegment, UnsafeRawBufferPointer) -> Void) {
        guard let base = original.baseAddress else { return }
        func copy(_ range: Range<Int>) {
            body(
                DecodedSegment(
                    originalStart: range.lowerBound, originalCount: range.count, decodedCount: range.count, stride: 1),
                UnsafeRawBufferPointer(rebasing: original[range]))
        }
        func emit(_ byte: UInt8, from start: Int, to end: Int) {
            withUnsafeBytes(of: byte) {
                body(DecodedSegment(originalStart: start, originalCount: end - start, decodedCount: 1, stride: 0), $0)
            }
        }
        var index = 0
        while index < original.count {
            // Copy the run up to the next backslash in one go: most of a file has no escape.
            let found = memchr(base + index, Int32(UInt8(ascii: "\\")), original.count - index)
            let runEnd = found.map { UnsafeRawPointer($0) - base } ?? original.count
            if runEnd > index {
                copy(index..<runEnd)
                index = runEnd
                continue
            }
            guard index + 1 < original.count else {
                copy(index..<index + 1)
                index += 1
                continue
            }
            let start = index
            let escaped = original[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "n"):
                index = Self.nextLineString(in: original, after: index)
                emit(0x0A, from: start, to: index)
            case UInt8(ascii: "t"): emit(0x09, from: start, to: index)
            case UInt8(ascii: "r"): emit(0x0D, from: start, to: index)
            case UInt8(ascii: "b"): emit(0x08, from: start, to: index)
            case UInt8(ascii: "f"): emit(0x0C, from: start, to: index)
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): emit(escaped, from: start, to: index)
            case UInt8(ascii: "u"):
                guard index + 4 <= original.count,
                    let value = UInt32(String(decoding: original[index..<index + 4], as: UTF8.self), radix: 16)
                else {
                    copy(start..<start + 2)
                    continue
                }
                index += 4
                // A lone surrogate half has no UTF-8 form; a replacement character keeps the offsets honest.
                var encoded = Array(String(Unicode.Scalar(value) ?? "\u{FFFD}").utf8)
                encoded.withUnsafeMutableBytes {
                    body(
                        DecodedSegment(originalStart: start, originalCount: 6, decodedCount: $0.count, stride: 0),
                        UnsafeRawBufferPointer($0))
                }
            default:
                copy(start..<start + 2)
            }
        }
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

/// Python source as logical statements: what the interpreter sees as one statement is one line.
///
/// A line break inside brackets, or after a backslash, becomes one space together with the next line's
/// indentation; comments are dropped (the line break after one stays); strings are copied as written,
/// so a `#` or a bracket inside a string is text. Content rules that want a call and its arguments in one
/// piece (`Popen(` … `stdout=DEVNULL` over five lines) read this view.
struct PythonStatementJoiner: BlobDecoding {
    /// How names of Python source end (compared lower-cased).
    static let suffixes = [".py", ".pyw", ".pyi", ".pth"]

    /// Whether `path` names Python source; an unknown path (an example, standard input) is taken to be.
    static func applies(to path: String?) -> Bool {
        guard let path else { return true }
        // Asked of every blob: compared on the bytes, ASCII case folded, with no lower-cased copy made.
        let name = path.utf8
        return suffixes.contains { suffix in
            name.count >= suffix.utf8.count
                && zip(name.suffix(suffix.utf8.count), suffix.utf8).allSatisfy { $0 | 0x20 == $1 }
        }
    }

    func walk(_ original: UnsafeRawBufferPointer, _ body: (DecodedSegment, UnsafeRawBufferPointer) -> Void) {
        let count = original.count
        let newline = UInt8(ascii: "\n")
        let carriageReturn = UInt8(ascii: "\r")
        var runStart = 0
        func flush(_ end: Int) {
            guard end > runStart else { return }
            body(
                DecodedSegment(
                    originalStart: runStart, originalCount: end - runStart, decodedCount: end - runStart, stride: 1),
                UnsafeRawBufferPointer(rebasing: original[runStart..<end]))
        }
        func replace(_ range: Range<Int>, withSpace: Bool) {
            flush(range.lowerBound)
            let space = UInt8(ascii: " ")
            withUnsafeBytes(of: space) { bytes in
                body(
                    DecodedSegment(
                        originalStart: range.lowerBound, originalCount: range.count, decodedCount: withSpace ? 1 : 0,
                        stride: 0),
                    withSpace ? bytes : UnsafeRawBufferPointer(rebasing: bytes[0..<0]))
            }
            runStart = range.upperBound
        }
        /// Past a line break at `index` (CRLF, LF or CR) and the next line's indentation.
        func pastBreak(_ index: Int) -> Int {
            var index = index
            if index < count && original[index] == carriageReturn { index += 1 }
            if index < count && original[index] == newline { index += 1 }
            while index < count && (original[index] == UInt8(ascii: " ") || original[index] == UInt8(ascii: "\t")) {
                index += 1
            }
            return index
        }
        var depth = 0
        var index = 0
        while index < count {
            // Most bytes are none of the punctuation below: skip them without the switch. Outside brackets a line
            // break or a closing bracket changes nothing (a third of the stops were line breaks), and the fewer bytes
            // to stop at are looked for eight at a time.
            if depth == 0 {
                index = Self.skipWords(original, from: index) { word in
                    Self.holds(word, UInt8(ascii: "#")) || Self.holds(word, UInt8(ascii: "\\"))
                        || Self.holds(word, UInt8(ascii: "(")) || Self.holds(word, UInt8(ascii: "["))
                        || Self.holds(word, UInt8(ascii: "{")) || Self.holds(word, UInt8(ascii: "'"))
                        || Self.holds(word, UInt8(ascii: "\""))
                }
                while index < count && !Self.inMasks(original[index], low: Self.outsideLow, high: Self.outsideHigh) {
                    index += 1
                }
            } else {
                while index < count && !Self.isSpecial(original[index]) { index += 1 }
            }
            guard index < count else { break }
            let byte = original[index]
            switch byte {
            case UInt8(ascii: "#"):
                var end = index
                while end < count && original[end] != newline && original[end] != carriageReturn { end += 1 }
                replace(index..<end, withSpace: false)
                index = end
            case UInt8(ascii: "\\"):
                let next = index + 1
                if next < count && (original[next] == newline || original[next] == carriageReturn) {
                    let end = pastBreak(next)
                    replace(index..<end, withSpace: true)
                    index = end
                } else {
                    index += 1
                }
            case newline, carriageReturn:
                if depth > 0 {
                    let end = pastBreak(index)
                    replace(index..<end, withSpace: true)
                    index = end
                } else {
                    index += 1
                }
            case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                index += 1
            case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
                index += 1
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                index = Self.stringEnd(original, from: index)
            default:
                index += 1
            }
        }
        flush(count)
    }

    /// Just past the string literal whose opening quote is at `start`: its closing quote, or for a
    /// one-line string the end of its line when it is never closed.
    static func stringEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let quote = bytes[start]
        let count = bytes.count
        let triple = start + 2 < count && bytes[start + 1] == quote && bytes[start + 2] == quote
        var index = start + (triple ? 3 : 1)
        while index < count {
            // Only a backslash, a quote or a line break can end the string or change how it is read.
            index = skipWords(bytes, from: index) { word in
                holds(word, quote) || holds(word, UInt8(ascii: "\\")) || holds(word, UInt8(ascii: "\n"))
                    || holds(word, UInt8(ascii: "\r"))
            }
            while index < count && !isStringSpecial(bytes[index]) { index += 1 }
            guard index < count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if byte == quote {
                if !triple { return index + 1 }
                if index + 2 < count && bytes[index + 1] == quote && bytes[index + 2] == quote { return index + 3 }
            } else if !triple && (byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")) {
                return index
            }
            index += 1
        }
        return count
    }

    /// The bytes ``walk(_:_:)`` must look at outside brackets (`#`, a backslash, an opening bracket or a quote), as
    /// ``inMasks(_:low:high:)`` masks.
    static let outsideLow: UInt64 = 0x18c_0000_0000
    static let outsideHigh: UInt64 = 0x0800_0000_1800_0000

    /// Past the 8-byte words from `start` in none of which `holdsStop` finds a byte the caller must look at; the
    /// word holding one is left to the caller's byte-by-byte loop.
    @inline(__always) static func skipWords(
        _ bytes: UnsafeRawBufferPointer, from start: Int, holdsStop: (UInt64) -> Bool
    ) -> Int {
        guard let base = bytes.baseAddress else { return start }
        var index = start
        while index + 8 <= bytes.count, !holdsStop(base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
            index += 8
        }
        return index
    }

    /// Whether some byte of `word` is `byte`.
    @inline(__always) private static func holds(_ word: UInt64, _ byte: UInt8) -> Bool {
        hasZero(word ^ (ones &* UInt64(byte)))
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101

    /// Whether some byte of `word` is zero.
    @inline(__always) private static func hasZero(_ word: UInt64) -> Bool {
        (word &- ones) & ~word & 0x8080_8080_8080_8080 != 0
    }

    /// Whether ``walk(_:_:)`` must look at `byte`: `#`, a backslash, a line break, a bracket or a quote.
    @inline(__always) static func isSpecial(_ byte: UInt8) -> Bool {
        inMasks(byte, low: 0x38c_0000_2400, high: 0x2800_0000_3800_0000)
    }

    /// Whether ``stringEnd(_:from:)`` must look at `byte`: a backslash, a line break or a quote.
    @inline(__always) static func isStringSpecial(_ byte: UInt8) -> Bool {
        inMasks(byte, low: 0x84_0000_2400, high: 0x1000_0000)
    }

    /// Whether ASCII `byte` has its bit set in `low` (bytes 0–63) or `high` (64–127); never for bytes past 127.
    /// Without branches: Python source mixes both halves byte by byte, which a branch mispredicts.
    @inline(__always) static func inMasks(_ byte: UInt8, low: UInt64, high: UInt64) -> Bool {
        let mask = byte & 0x40 == 0 ? low : high
        return (mask >> UInt64(byte & 63)) & UInt64(1 &- (byte >> 7)) != 0
    }
}

/// Where the statements and function bodies of a buffer start, for co-occurrence scopes.
struct StatementLayout {
    /// Start offset of each statement, ascending; the first is 0.
    let starts: [Int]
    /// Per statement: the function body it belongs to (0: outside any function).
    let functions: [Int]

    /// Statements are lines; with `python`, a line break inside a triple-quoted string does not end one
    /// (in the statement view that is the only line break inside a statement).
    init(_ bytes: UnsafeRawBufferPointer, python: Bool) {
        var starts = [0]
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                starts.append(index + 1)
                index += 1
            } else if python && (byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"")) {
                index = PythonStatementJoiner.stringEnd(bytes, from: index)
            } else if python && byte == UInt8(ascii: "#") {
                while index < count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
            } else {
                index += 1
            }
        }
        self.starts = starts
        // A function body runs from its `def` line to the next statement indented no deeper than the `def`.
        var functions: [Int] = []
        var open: [(indent: Int, id: Int)] = []
        var nextID = 1
        for (number, start) in starts.enumerated() {
            let end = number + 1 < starts.count ? starts[number + 1] : count
            var position = start
            var indent = 0
            while position < end && (bytes[position] == UInt8(ascii: " ") || bytes[position] == UInt8(ascii: "\t")) {
                indent += bytes[position] == UInt8(ascii: "\t") ? 8 - indent % 8 : 1
                position += 1
            }
            let blank =
                position >= end || bytes[position] == UInt8(ascii: "\n") || bytes[position] == UInt8(ascii: "\r")
                || bytes[position] == UInt8(ascii: "#")
            if blank {
                functions.append(open.last?.id ?? 0)
                continue
            }
            while let last = open.last, last.indent >= indent { open.removeLast() }
            if Self.startsDefinition(bytes, at: position, end: end) {
                open.append((indent, nextID))
                nextID += 1
            }
            functions.append(open.last?.id ?? 0)
        }
        self.functions = functions
    }

    static func startsDefinition(_ bytes: UnsafeRawBufferPointer, at position: Int, end: Int) -> Bool {
        for keyword in ["def ", "async def "] {
            let utf8 = Array(keyword.utf8)
            if end - position > utf8.count && utf8.indices.allSatisfy({ bytes[position + $0] == utf8[$0] }) {
                return true
            }
        }
        return false
    }

    /// The statement holding `offset`.
    func statement(at offset: Int) -> Int {
        var low = 0
        var high = starts.count
        while low + 1 < high {
            let middle = (low + high) / 2
            if starts[middle] <= offset { low = middle } else { high = middle }
        }
        return low
    }
}
