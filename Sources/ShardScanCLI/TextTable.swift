import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The width human output is laid out for.
enum TerminalWidth {
    /// The width of the terminal `descriptor` writes to; else `COLUMNS` (what a user or a pager sets when
    /// output is piped); else 80, the width that is safe everywhere.
    static func of(_ descriptor: Int32 = STDOUT_FILENO) -> Int {
        var size = winsize()
        if isatty(descriptor) == 1, ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let columns = Int(text), columns > 0 {
            return columns
        }
        return 80
    }
}

/// A table for the terminal: columns as wide as their widest cell when the table fits; otherwise the columns
/// marked `shrinkable` (paths, names) are shortened in the middle, keeping both ends (the shard or project
/// at the start, the file name at the end); and when even that cannot fit, each row is printed as a record,
/// one `HEADER: value` per line.
///
/// Cells must already be terminal-safe (``terminalSafe(_:)``): widths count characters, and an escaped cell
/// holds no control character that would move the cursor.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []
    /// Columns that may be shortened to fit, by index; the widest gives first.
    var shrinkable: Set<Int> = []
    /// Columns shortened (to their minimum if need be) before any of `shrinkable`: detail that the JSON forms
    /// hold in full, such as a validator's facts, gives way before a path does.
    var shrinkFirst: Set<Int> = []
    /// Printed before every line of the table form (a table nested under a section title).
    var indent = ""

    static let separator = "  "
    /// The narrowest a shrinkable column gets before the table gives way to records.
    static let minimumShrunk = 10

    /// The table laid out for `width` columns, one `\n` after each line; empty when there are no rows.
    func render(width: Int) -> String {
        guard !rows.isEmpty else { return "" }
        var widths = headers.indices.map { column in
            rows.reduce(headers[column].count) { max($0, column < $1.count ? $1[column].count : 0) }
        }
        func total() -> Int {
            indent.count + widths.reduce(0, +) + Self.separator.count * (widths.count - 1)
        }
        var excess = total() - width
        func canGive(_ column: Int) -> Bool {
            column < widths.count && widths[column] > max(Self.minimumShrunk, headers[column].count)
        }
        while excess > 0 {
            // Takes one character at a time from the widest column that may still give one.
            let first = shrinkFirst.filter(canGive)
            let candidates = first.isEmpty ? shrinkable.filter(canGive) : first
            guard let widest = candidates.max(by: { widths[$0] < widths[$1] }) else { break }
            widths[widest] -= 1
            excess -= 1
        }
        guard excess <= 0 else { return records(width: width) }
        var lines = [line(headers, widths)]
        for row in rows { lines.append(line(row, widths)) }
        return lines.joined(separator: "\n") + "\n"
    }

    private func line(_ cells: [String], _ widths: [Int]) -> String {
        let shown = widths.indices.map { column -> String in
            let cell = column < cells.count ? cells[column] : ""
            let fitted = shortened(cell, to: widths[column])
            return column == widths.count - 1 ? fitted : padded(fitted, widths[column])
        }
        return indent + shown.joined(separator: Self.separator).trimmingTrailingSpaces()
    }

    /// Each row as `HEADER: value` lines, a blank line between rows; values too long for the line are
    /// shortened in the middle.
    private func records(width: Int) -> String {
        let keyWidth = headers.map(\.count).max() ?? 0
        var lines: [String] = []
        for (index, row) in rows.enumerated() {
            if index > 0 { lines.append("") }
            for (column, header) in headers.enumerated() {
                let value = column < row.count ? row[column] : ""
                guard !value.isEmpty else { continue }
                let key = padded(header + ":", keyWidth + 1) + " "
                lines.append(key + shortened(value, to: max(width - key.count, 8)))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `text` cut to `width` characters by replacing its middle with `…`, so that both ends stay readable.
func shortened(_ text: String, to width: Int) -> String {
    guard text.count > width else { return text }
    guard width > 1 else { return String(text.prefix(width)) }
    // The end (a file name, a shard's folder) is usually the more telling part, so it keeps two thirds.
    let head = (width - 1) / 3
    let tail = width - 1 - head
    return String(text.prefix(head)) + "…" + String(text.suffix(tail))
}

/// Long text (a failure message) broken at spaces into lines of at most `width` characters after `indent`.
func wrapped(_ text: String, width: Int, indent: String) -> [String] {
    let room = max(width - indent.count, 20)
    var lines: [String] = []
    var current = ""
    for word in text.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
        var word = word
        while word.count > room {
            if !current.isEmpty {
                lines.append(current)
                current = ""
            }
            lines.append(String(word.prefix(room)))
            word = String(word.dropFirst(room))
        }
        if current.isEmpty {
            current = word
        } else if current.count + 1 + word.count <= room {
            current += " " + word
        } else {
            lines.append(current)
            current = word
        }
    }
    if !current.isEmpty { lines.append(current) }
    return lines.map { indent + $0 }
}

extension String {
    /// The text without its final line break, for `print`, which adds one.
    func dropLastNewline() -> String { hasSuffix("\n") ? String(dropLast()) : self }

    fileprivate func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}
