/// Mirror paths as exact bytes in URIs. Git allows any byte but NUL and `/` in a path segment, `.` and `..`
/// segments included (libgit2 reads such trees), and bytes that are not UTF-8.
public enum PathEncoding {
    /// `segments` as a relative URI reference (RFC 3986 `path-noscheme`) that stays below its base:
    /// every byte outside `pchar` (less `:`) is percent-encoded, so the bytes come back exactly by
    /// percent-decoding each segment; a `.` or `..` segment is written `%2E` / `%2E%2E`, so resolving the
    /// reference (RFC 3986 §5.2.4, which removes only literal dot segments) never climbs out of the base;
    /// an empty first segment is preceded by `./`, so the reference never reads as an absolute path or an authority.
    public static func uriReference(segments: [[UInt8]]) -> String {
        var encoded = segments.map { segment -> String in
            if segment.allSatisfy({ $0 == UInt8(ascii: ".") }) && (1...2).contains(segment.count) {
                return String(repeating: "%2E", count: segment.count)
            }
            var text = ""
            for byte in segment {
                if allowed[Int(byte)] {
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    text += "%" + TerminalText.hexByte(byte)
                }
            }
            return text
        }
        if encoded.first?.isEmpty == true { encoded.insert(".", at: 0) }
        return encoded.joined(separator: "/")
    }

    /// `path`'s bytes split at every `/`, empty segments kept.
    public static func segments(_ path: some Collection<UInt8>) -> [[UInt8]] {
        path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { Array($0) }
    }

    /// RFC 3986 `pchar` less `:` (a first segment with `:` would read as a scheme) and less `%` (always encoded).
    static let allowed: [Bool] = (0..<256).map { byte in
        let characters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=@"
        return characters.utf8.contains(UInt8(byte))
    }
}
