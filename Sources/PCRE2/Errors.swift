import CPCRE2

enum PCRE2Error {
    /// The text PCRE2 gives for an error code.
    ///
    /// The corresponding C function is `pcre2_get_error_message`.
    static func message(for code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = pcre2_get_error_message_8(code, &buffer, buffer.count)
        guard length > 0 else { return "PCRE2 error \(code)" }
        return String(decoding: buffer[0..<Int(length)], as: UTF8.self)
    }
}

/// A pattern that PCRE2 refused to compile.
public struct CompileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// PCRE2's error code.
    public let code: Int32
    /// The byte offset in the pattern where PCRE2 stopped.
    public let offset: Int
    /// PCRE2's own message.
    public let message: String

    public var description: String { "\(message) at offset \(offset)" }
}

/// A match that could not be completed. The subject may or may not match.
public struct MatchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// PCRE2's (negative) error code.
    public let code: Int32

    /// What went wrong, in terms a rule author can act on.
    public enum Kind: Sendable {
        /// The backtracking step budget ran out (`PCRE2_ERROR_MATCHLIMIT`).
        case matchLimit
        /// The backtracking depth ran out (`PCRE2_ERROR_DEPTHLIMIT`).
        case depthLimit
        /// The heap budget ran out (`PCRE2_ERROR_HEAPLIMIT`).
        case heapLimit
        /// The JIT stack ran out (`PCRE2_ERROR_JIT_STACKLIMIT`).
        case jitStackLimit
        /// Any other failure.
        case other
    }

    public var kind: Kind {
        switch code {
        case PCRE2_ERROR_MATCHLIMIT: .matchLimit
        case PCRE2_ERROR_DEPTHLIMIT: .depthLimit
        case PCRE2_ERROR_HEAPLIMIT: .heapLimit
        case PCRE2_ERROR_JIT_STACKLIMIT: .jitStackLimit
        default: .other
        }
    }

    /// Whether a resource limit (rather than a bug or bad input) stopped the match.
    public var isLimit: Bool { kind != .other }

    public var description: String { PCRE2Error.message(for: code) }
}
