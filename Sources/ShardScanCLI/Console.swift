import Foundation
import ShardScanCore

/// Writes a line to standard error, where diagnostics and progress go so that stdout stays parseable.
/// Control characters in it are escaped (its own line breaks kept): messages echo paths and names from
/// the mirror, which callers escape where a line break inside them must not split the message.
func printError(_ line: String) {
    let safe = line.split(separator: "\n", omittingEmptySubsequences: false)
        .map { TerminalText.escaped(String($0)) }.joined(separator: "\n")
    FileHandle.standardError.write(Data((safe + "\n").utf8))
}

/// Text from outside (a path, a name, a message echoing one) as one safe line for a terminal.
func terminalSafe(_ text: String) -> String { TerminalText.escaped(text) }

/// Pads `text` on the right to `width` characters.
func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// Encodes `value` as JSON with sorted keys, for stable output.
func jsonText<Value: Encodable>(_ value: Value, pretty: Bool = true) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting =
        pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
