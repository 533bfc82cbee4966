import FuzzSupport
import ShardScanCore

// ReleasePath.parse and ReleasePath.normalize on arbitrary text (the fuzz bytes as UTF-8, invalid bytes
// replaced). Invariants, as ReleasePath.swift defines them:
// - normalize is idempotent, and its output has no `_`, `.`, upper-case ASCII letters or `--`;
// - parse never crashes, keeps projectNormalized == normalize(project), and either splits a
//   `packages/<project>/<file>[/<inner>]` path (the parts put back together give the input, the inner path is a
//   suffix of it, the version is part of the file name) or returns the whole input as the inner path.

func fuzz(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    let text = String(decoding: input, as: UTF8.self)

    let once = ReleasePath.normalize(text)
    let twice = ReleasePath.normalize(once)
    require(once == twice, "normalize is not idempotent: \(debug(text)) -> \(debug(once)) -> \(debug(twice))")
    require(
        !once.unicodeScalars.contains { $0 == "_" || $0 == "." || ("A"..."Z").contains($0) },
        "normalize left `_`, `.` or an upper-case ASCII letter: \(debug(once))")
    require(!once.contains("--"), "normalize left a run of separators: \(debug(once))")

    let parsed = ReleasePath.parse(text)
    require(
        parsed.projectNormalized == ReleasePath.normalize(parsed.project),
        "projectNormalized \(debug(parsed.projectNormalized)) for project \(debug(parsed.project))")
    if parsed.project.isEmpty {
        require(
            parsed.innerPath == text && parsed.filename.isEmpty && parsed.version.isEmpty,
            "a path outside packages/ must stay whole: \(debug(text)) -> \(parsed)")
    } else {
        require(text.hasPrefix("packages/"), "a project parsed from \(debug(text))")
        require(!parsed.filename.isEmpty, "a project without a release file: \(debug(text)) -> \(parsed)")
        let head = "packages/" + parsed.project + "/" + parsed.filename
        let whole = parsed.innerPath.isEmpty ? [head, head + "/"] : [head + "/" + parsed.innerPath]
        require(whole.contains(text), "the parts do not give back \(debug(text)): \(parsed)")
        require(text.hasSuffix(parsed.innerPath), "inner path is not a suffix of \(debug(text)): \(parsed)")
        require(
            !parsed.project.contains("/") && !parsed.filename.contains("/"),
            "a `/` in the project or release file: \(debug(text)) -> \(parsed)")
        require(
            parsed.version.isEmpty || parsed.filename.contains(parsed.version),
            "version is not part of the release file: \(debug(text)) -> \(parsed)")
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
