/// Text from the outside (paths, project names, messages that echo them) made safe to print on a terminal.
///
/// A tree path is chosen by whoever uploaded the package: `ESC[31m`, a carriage return or a newline in it
/// would recolour the terminal, overwrite a line or forge a table row. Every human-readable output escapes
/// through here; JSON and SARIF escape control characters themselves.
public enum TerminalText {
    /// `text` with every control character written out: `\n`, `\r`, `\t`, `\e` (ESC), `\xHH` for the other
    /// C0 controls and DEL, `\u{HH}` for C1 controls and the bidirectional controls that reorder what a
    /// terminal shows. Everything else, backslashes included, is left as it is, so escaping twice changes nothing.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        for scalar in text.unicodeScalars { append(scalar, to: &result) }
        return result
    }

    /// `bytes` as UTF-8 with each byte that is not part of valid UTF-8 written `\xHH` (instead of U+FFFD, which
    /// would make distinct names look alike), then escaped as ``escaped(_:)``.
    public static func escaped(bytes: some Collection<UInt8>) -> String {
        var result = ""
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var rest = Array(bytes)[...]
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                append(Unicode.UTF8.decode(encoded), to: &result)
                rest = rest.dropFirst(encoded.count)
            case .error(let length):
                for byte in rest.prefix(length) { result += "\\x" + hexByte(byte) }
                rest = rest.dropFirst(length)
            case .emptyInput:
                return result
            }
        }
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    static func append(_ scalar: Unicode.Scalar, to result: inout String) {
        guard needsEscape(scalar) else {
            result.unicodeScalars.append(scalar)
            return
        }
        switch scalar.value {
        case 0x0A: result += "\\n"
        case 0x0D: result += "\\r"
        case 0x09: result += "\\t"
        case 0x1B: result += "\\e"
        case 0x00...0x1F, 0x7F: result += "\\x" + hexByte(UInt8(scalar.value))
        default: result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }

    /// Two upper-case hex digits. Called per escaped byte (every non-ASCII byte of every SARIF URI), so it
    /// builds the string from ASCII bytes rather than from an array of Characters.
    static func hexByte(_ byte: UInt8) -> String {
        let digits: StaticString = "0123456789ABCDEF"
        return digits.withUTF8Buffer { table in
            String(decoding: [table[Int(byte >> 4)], table[Int(byte & 0xF)]], as: UTF8.self)
        }
    }
}
