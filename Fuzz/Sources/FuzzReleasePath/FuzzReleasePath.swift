import FuzzSupport
import ShardScanCore

// ReleasePath.parse and ReleasePath.normalize on arbitrary text (the fuzz bytes as UTF-8, invalid bytes
// replaced). Paths are split at `/` bytes, as git writes them, whatever Unicode characters surround them, so
// the invariants compare bytes. As ReleasePath.swift defines them:
// - normalize is idempotent, and its output has no `_`, `.`, upper-case ASCII letter or `--`;
// - parse never crashes and keeps projectNormalized == normalize(project);
// - a path `packages/<project>/<file>[/<inner>]` (non-empty project and file) is split there: project and file
//   hold no `/`, the parts put back together give the input byte for byte, so the inner path is a suffix of it,
//   and the version is part of the file name;
// - any other path comes back whole as the inner path, with no project, file or version.

func fuzz(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    let text = String(decoding: input, as: UTF8.self)

    let once = ReleasePath.normalize(text)
    let twice = ReleasePath.normalize(once)
    require(once == twice, "normalize is not idempotent: \(debug(text)) -> \(debug(once)) -> \(debug(twice))")
    require(
        !once.utf8.contains { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || (65...90).contains($0) },
        "normalize left `_`, `.` or an upper-case ASCII letter: \(debug(text)) -> \(debug(once))")
    require(
        !once.utf8.indices.dropFirst().contains { i in
            once.utf8[i] == UInt8(ascii: "-") && once.utf8[once.utf8.index(before: i)] == UInt8(ascii: "-")
        }, "normalize left a run of separators: \(debug(text)) -> \(debug(once))")

    let parsed = ReleasePath.parse(text)
    require(
        parsed.projectNormalized == ReleasePath.normalize(parsed.project),
        "projectNormalized \(debug(parsed.projectNormalized)) for project \(debug(parsed.project))")
    let slash = UInt8(ascii: "/")
    let parts = Array(text.utf8).split(separator: slash, maxSplits: 3, omittingEmptySubsequences: false)
    let isReleasePath =
        parts.count >= 3 && parts[0].elementsEqual("packages".utf8) && !parts[1].isEmpty && !parts[2].isEmpty
    if isReleasePath {
        require(!parsed.project.isEmpty, "\(debug(text)) is a release path, parsed as \(parsed)")
        require(
            !parsed.project.utf8.contains(slash) && !parsed.filename.utf8.contains(slash),
            "a `/` in the project or release file: \(debug(text)) -> \(parsed)")
        let head = "packages/" + parsed.project + "/" + parsed.filename
        let whole = parsed.innerPath.isEmpty ? [head, head + "/"] : [head + "/" + parsed.innerPath]
        require(
            whole.contains { $0.utf8.elementsEqual(text.utf8) }, "the parts do not give back \(debug(text)): \(parsed)")
        require(text.utf8.reversed().starts(with: parsed.innerPath.utf8.reversed()), "inner path is not a suffix")
        require(
            containsBytes(parsed.filename, parsed.version),
            "version is not part of the release file: \(debug(text)) -> \(parsed)")
    } else {
        require(
            parsed.project.isEmpty && parsed.filename.isEmpty && parsed.version.isEmpty
                && parsed.innerPath.utf8.elementsEqual(text.utf8),
            "a path outside packages/ must stay whole: \(debug(text)) -> \(parsed)")
    }
    return 0
}

private func debug(_ text: String) -> String { String(reflecting: text) }

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(UnsafeBufferPointer(start: data, count: size))
}

@main
enum FuzzReleasePathMain {
    static func main() { runLibFuzzer(testOneInput) }
}
