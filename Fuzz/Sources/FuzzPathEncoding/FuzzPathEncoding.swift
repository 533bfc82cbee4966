import FuzzSupport
import ShardScanCore

// PathEncoding.uriReference on arbitrary bytes: the input up to its first NUL is the shard name, the rest the
// path in the shard (any bytes, as git allows, split at `/`). Invariants, as PathEncoding.swift states them:
// - the reference is ASCII from RFC 3986 `pchar` less `:`, `/` and `%HH` escapes only;
// - percent-decoding its segments gives the shard name and the path's segments back byte for byte;
// - no segment is `.` or `..` (but a leading `.` put before an empty first segment), so RFC 3986 dot-segment
//   removal of `/root/` + reference keeps it under `/root/`; it never starts with `/`.

func fuzz(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    let bytes = Array(input)
    let split = bytes.firstIndex(of: 0) ?? 0
    let shard = Array(bytes[..<split])
    let path = Array(bytes[(split < bytes.count ? split + 1 : split)...])
    let segments = [shard] + PathEncoding.segments(path)
    let uri = PathEncoding.uriReference(segments: segments)

    let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=@/%".utf8)
    require(uri.utf8.allSatisfy(allowed.contains), "unexpected character in \(uri)")
    require(!uri.hasPrefix("/"), "absolute reference \(uri)")
    var encoded = uri.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
    if segments.first?.isEmpty == true {
        require(encoded.first == [UInt8(ascii: ".")], "empty first segment not guarded: \(uri)")
        encoded.removeFirst()
    }
    require(encoded.count == segments.count, "segment count changed: \(uri)")
    for (segment, original) in zip(encoded, segments) {
        require(segment != [0x2E] && segment != [0x2E, 0x2E], "dot segment left in \(uri)")
        require(decoded(segment) == original, "\(uri) does not decode to the path's bytes")
    }
    // RFC 3986 §5.2.4 on the reference resolved against /root/.
    var output: [[UInt8]] = []
    let resolved = "/root/" + uri
    for segment in resolved.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init) {
        if segment == [0x2E] { continue }
        if segment == [0x2E, 0x2E] {
            if output.count > 1 { output.removeLast() }
            continue
        }
        output.append(segment)
    }
    require(output.count >= 2 && output[1] == Array("root".utf8), "\(uri) resolves outside the root")
    return 0
}

/// `%HH` escapes turned back into bytes; a malformed escape fails the run.
func decoded(_ segment: [UInt8]) -> [UInt8]? {
    var result: [UInt8] = []
    var index = 0
    while index < segment.count {
        if segment[index] == UInt8(ascii: "%") {
            let hex = Set("0123456789ABCDEF".utf8)
            guard index + 3 <= segment.count, segment[index + 1..<index + 3].allSatisfy(hex.contains),
                let value = UInt8(String(decoding: segment[index + 1..<index + 3], as: UTF8.self), radix: 16)
            else { return nil }
            result.append(value)
            index += 3
        } else {
            result.append(segment[index])
            index += 1
        }
    }
    return result
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(UnsafeBufferPointer(start: data, count: size))
}

@main
enum FuzzPathEncodingMain {
    static func main() { runLibFuzzer(testOneInput) }
}
