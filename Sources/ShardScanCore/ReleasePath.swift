/// A path in a mirror shard, split into the release it belongs to and the path inside that release.
///
/// `packages/<project>/<release file>/<path inside the archive>`; any other path keeps an empty project.
public struct ReleasePath: Sendable, Equatable, Hashable {
    /// The project name as the mirror spells it.
    public var project: String
    /// PEP 503 normal form: lower case, runs of `-`, `_` and `.` as one `-`.
    public var projectNormalized: String
    /// Parsed from the release file name; empty when the name does not parse.
    public var version: String
    /// The release file, e.g. `requests-2.31.0.tar.gz`.
    public var filename: String
    /// The path inside the release (the whole shard path when outside `packages/`).
    public var innerPath: String

    public init(project: String, version: String, filename: String, innerPath: String) {
        self.project = project
        self.projectNormalized = Self.normalize(project)
        self.version = version
        self.filename = filename
        self.innerPath = innerPath
    }

    /// Splits a path from a shard's tree.
    public static func parse(_ shardPath: String) -> ReleasePath {
        // Split at every `/` scalar, as git does: a `/` followed by a combining mark is one Character, and
        // splitting Characters would leave it inside a part.
        let parts = shardPath.unicodeScalars.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
            .map(String.init)
        guard parts.count >= 3, parts[0].utf8.elementsEqual("packages".utf8), !parts[1].isEmpty, !parts[2].isEmpty
        else {
            return ReleasePath(project: "", version: "", filename: "", innerPath: shardPath)
        }
        let project = parts[1]
        let filename = parts[2]
        return ReleasePath(
            project: project, version: version(of: filename, project: project), filename: filename,
            innerPath: parts.count == 4 ? parts[3] : "")
    }

    /// `parse(shardPath)`, taking project, version and release file from `previous` when `shardPath` lies in
    /// the same release (as the paths of one commit do), so that only the inner path is cut out.
    public static func parse(_ shardPath: String, reusing previous: ReleasePath?) -> ReleasePath {
        guard let previous, !previous.project.isEmpty else { return parse(shardPath) }
        let bytes = shardPath.utf8
        var index = bytes.startIndex
        // `packages/<project>/<release file>/`, byte for byte.
        for part in ["packages", previous.project, previous.filename] {
            for byte in part.utf8 {
                guard index < bytes.endIndex, bytes[index] == byte else { return parse(shardPath) }
                index = bytes.index(after: index)
            }
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "/") else { return parse(shardPath) }
            index = bytes.index(after: index)
        }
        var release = previous
        release.innerPath = String(shardPath[index...])
        return release
    }

    /// PEP 503 normalisation of a project name. Separators are scalars, as in PEP 503's
    /// `re.sub(r"[-_.]+", "-", name)`: a `_` followed by a combining mark is one Character but still a separator.
    public static func normalize(_ name: String) -> String {
        var out = String.UnicodeScalarView()
        var lastWasSeparator = false
        for scalar in name.lowercased().unicodeScalars {
            if scalar == "-" || scalar == "_" || scalar == "." {
                if !lastWasSeparator { out.append("-") }
                lastWasSeparator = true
            } else {
                out.append(scalar)
                lastWasSeparator = false
            }
        }
        return String(out)
    }

    static let sdistSuffixes = [".tar.gz", ".tar.bz2", ".tar.xz", ".tar.Z", ".tgz", ".tbz", ".tar", ".zip"]

    /// The version in a release file name: wheels and eggs by their fixed fields, sdists by removing
    /// the project name; `""` when the name does not parse.
    static func version(of filename: String, project: String) -> String {
        if filename.hasSuffix(".whl") || filename.hasSuffix(".egg") {
            // {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl, {name}-{version}(-pyX.Y(-platform)?)?.egg;
            // names in these formats have `-` escaped as `_`, so the version is the second field.
            let fields = filename.dropLast(4).split(separator: "-", omittingEmptySubsequences: false)
            return fields.count >= 2 && startsWithDigit(fields[1]) ? String(fields[1]) : ""
        }
        guard let suffix = sdistSuffixes.first(where: { filename.lowercased().hasSuffix($0.lowercased()) }) else {
            return ""
        }
        let stem = filename.dropLast(suffix.count)
        let wanted = normalize(project)
        // The project name may itself hold `-`: take the split whose left side is the project.
        var dashes = stem.indices.filter { stem[$0] == "-" }
        if let index = dashes.first(where: { normalize(String(stem[..<$0])) == wanted }) {
            let version = stem[stem.index(after: index)...]
            return version.isEmpty ? "" : String(version)
        }
        dashes.removeAll { !startsWithDigit(stem[stem.index(after: $0)...]) }
        if let index = dashes.first { return String(stem[stem.index(after: index)...]) }
        return ""
    }

    private static func startsWithDigit(_ text: Substring) -> Bool {
        text.first?.isASCII == true && text.first?.isNumber == true
    }
}
