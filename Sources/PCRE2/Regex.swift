import CPCRE2

/// A compiled PCRE2 pattern over 8-bit code units (bytes).
///
/// The compiled code is immutable after compilation (JIT included), which PCRE2
/// documents as safe to share between threads; everything a match mutates lives
/// in a per-thread ``MatchScratch``.
public final class Regex: @unchecked Sendable {
    let code: OpaquePointer
    /// The pattern text as given.
    public let pattern: String
    /// Whether JIT compilation succeeded; matching falls back to the interpreter otherwise.
    public let isJITCompiled: Bool
    /// The number of capture groups (group 0, the whole match, not counted).
    public let captureCount: Int

    /// Compiles `pattern`.
    ///
    /// The corresponding C functions are `pcre2_compile` and `pcre2_jit_compile`.
    public init(_ pattern: String, options: CompileOptions = [], jit: Bool = true) throws(CompileError) {
        var errorCode: Int32 = 0
        var errorOffset = 0
        let bytes = Array(pattern.utf8)
        let compiled = bytes.withUnsafeBufferPointer { buffer in
            // A non-null pointer even for the empty pattern.
            let base = buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!
            return pcre2_compile_8(base, buffer.count, options.rawValue, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            throw CompileError(code: errorCode, offset: errorOffset, message: PCRE2Error.message(for: errorCode))
        }
        self.code = compiled
        self.pattern = pattern
        self.isJITCompiled = jit && pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE)) == 0
        var count: UInt32 = 0
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        self.captureCount = Int(count)
    }

    deinit {
        pcre2_code_free_8(code)
    }

    /// The number of the capture group called `name`, or `nil` when there is none.
    ///
    /// The corresponding C function is `pcre2_substring_number_from_name`.
    public func groupNumber(named name: String) -> Int? {
        let number = Array(name.utf8 + [0]).withUnsafeBufferPointer {
            pcre2_substring_number_from_name_8(code, $0.baseAddress)
        }
        return number > 0 ? Int(number) : nil
    }

    /// The first match in `subject` at or after byte `offset`, or `nil` when there is none.
    ///
    /// Throws ``MatchError`` when a limit set on `scratch` is hit: the answer is then unknown,
    /// which is not the same as no match.
    ///
    /// The corresponding C function is `pcre2_match`.
    public func firstMatch(
        in subject: UnsafeRawBufferPointer, from offset: Int = 0, scratch: MatchScratch, useJIT: Bool = true
    ) throws(MatchError) -> Match? {
        precondition(offset >= 0 && offset <= subject.count, "offset outside the subject")
        scratch.ensureCapacity(pairs: captureCount + 1)
        let options: UInt32 = (useJIT && isJITCompiled) ? 0 : UInt32(PCRE2_NO_JIT)
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? MatchScratch.emptySubject
        let rc = pcre2_match_8(code, base, subject.count, offset, options, scratch.matchData, scratch.context)
        if rc == PCRE2_ERROR_NOMATCH { return nil }
        if rc < 0 { throw MatchError(code: rc) }
        let ovector = pcre2_get_ovector_pointer_8(scratch.matchData)!
        var groups: [Range<Int>?] = []
        groups.reserveCapacity(captureCount + 1)
        for group in 0...captureCount {
            // Groups past the highest one set are left unset by PCRE2 (rc tells how many were set).
            let start = group < Int(rc) ? ovector[2 * group] : -1
            let end = group < Int(rc) ? ovector[2 * group + 1] : -1
            // PCRE2_UNSET is ~0 as a size_t, which reads as -1 here.
            groups.append(start < 0 || end < start ? nil : start..<end)
        }
        return Match(groups: groups)
    }

    /// Every non-overlapping match in `subject`, in order.
    public func allMatches(
        in subject: UnsafeRawBufferPointer, scratch: MatchScratch, useJIT: Bool = true
    ) throws(MatchError) -> [Match] {
        var matches: [Match] = []
        var offset = 0
        while offset <= subject.count,
            let match = try firstMatch(in: subject, from: offset, scratch: scratch, useJIT: useJIT)
        {
            matches.append(match)
            let whole = match.range
            // An empty match would be found again at the same place; step over one byte.
            offset = whole.isEmpty ? whole.upperBound + 1 : whole.upperBound
        }
        return matches
    }
}

/// The byte ranges of one match: group 0 is the whole match.
public struct Match: Sendable, Equatable {
    /// The range of each group, `nil` for a group that did not take part.
    public var groups: [Range<Int>?]
    /// The range of the whole match.
    public var range: Range<Int> { groups[0]! }

    public init(groups: [Range<Int>?]) {
        self.groups = groups
    }
}

/// Options for ``Regex/init(_:options:jit:)``; the raw values are PCRE2's.
public struct CompileOptions: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let caseless = CompileOptions(rawValue: UInt32(PCRE2_CASELESS))
    public static let multiline = CompileOptions(rawValue: UInt32(PCRE2_MULTILINE))
    public static let dotAll = CompileOptions(rawValue: UInt32(PCRE2_DOTALL))
    public static let extended = CompileOptions(rawValue: UInt32(PCRE2_EXTENDED))
    /// Treat the pattern as a literal string.
    public static let literal = CompileOptions(rawValue: UInt32(PCRE2_LITERAL))
}
