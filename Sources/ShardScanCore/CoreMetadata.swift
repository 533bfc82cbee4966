/// The contact fields of a release's core metadata (`PKG-INFO` of an sdist, `*.dist-info/METADATA` of a wheel):
/// RFC 822 style headers, up to the first blank line. Parsing never fails: what does not parse is skipped and
/// noted in ``problems``, since metadata is written by the project and may be anything.
public struct CoreMetadata: Sendable, Equatable, Codable {
    public var name: String?
    public var version: String?
    public var author: String?
    public var authorEmail: String?
    public var maintainer: String?
    public var maintainerEmail: String?
    public var homePage: String?
    /// `Project-URL` values as written (`Label, https://…`), in order.
    public var projectURLs: [String] = []
    /// The path inside the release the metadata was read from.
    public var source: String = ""
    /// What could not be read, e.g. a line that is neither a header nor a continuation.
    public var problems: [String] = []

    enum CodingKeys: String, CodingKey {
        case name, version, author, maintainer, source, problems
        case authorEmail = "author_email"
        case maintainerEmail = "maintainer_email"
        case homePage = "home_page"
        case projectURLs = "project_urls"
    }

    public init() {}

    /// Headers past this many bytes are not read: the fields sit at the top and a description may be huge.
    public static let maxBytes = 256 * 1024

    /// Parses the header block of `bytes`; bytes that are not UTF-8 become U+FFFD.
    public static func parse(_ bytes: some Collection<UInt8>, source: String = "") -> CoreMetadata {
        var metadata = CoreMetadata()
        metadata.source = source
        let text = String(decoding: bytes.prefix(maxBytes), as: UTF8.self)
        var headers: [(name: String, value: String)] = []
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { break }  // the body (description) follows
            if line.first == " " || line.first == "\t" {
                if headers.isEmpty {
                    metadata.problems.append("line \(lineNumber): continuation before any header")
                } else {
                    let more = line.trimmingCharacters(in: " \t")
                    headers[headers.count - 1].value += headers[headers.count - 1].value.isEmpty ? more : " " + more
                }
                continue
            }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                !line[..<colon].contains(where: { $0 == " " || $0 == "\t" })
            else {
                metadata.problems.append("line \(lineNumber): not a header")
                continue
            }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: " \t")))
        }
        for (name, value) in headers {
            let value = value == "UNKNOWN" ? "" : value
            switch name.lowercased() {
            case "name": metadata.name = metadata.name ?? value
            case "version": metadata.version = metadata.version ?? value
            case "author": metadata.author = metadata.author ?? value
            case "author-email": metadata.authorEmail = metadata.authorEmail ?? value
            case "maintainer": metadata.maintainer = metadata.maintainer ?? value
            case "maintainer-email": metadata.maintainerEmail = metadata.maintainerEmail ?? value
            case "home-page": metadata.homePage = metadata.homePage ?? value
            case "project-url": if !value.isEmpty { metadata.projectURLs.append(value) }
            default: break
            }
        }
        if headers.isEmpty { metadata.problems.append("no headers") }
        return metadata
    }

    /// The release's own metadata file, by its path inside the release: `<dir>/PKG-INFO` (or a top-level one) of an
    /// sdist, `<name>.dist-info/METADATA` of a wheel. Not `*.egg-info/PKG-INFO`, which sits beside the real one.
    public static func isMetadataPath(_ innerPath: String) -> Bool {
        let parts = innerPath.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return parts[0] == "PKG-INFO"
        case 2:
            return (parts[1] == "PKG-INFO" && !parts[0].hasSuffix(".egg-info"))
                || (parts[1] == "METADATA" && parts[0].hasSuffix(".dist-info"))
        default: return false
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}
