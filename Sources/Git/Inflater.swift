import CZlib

/// One zlib inflate stream, reset for each object; owned by one thread.
///
/// Pack entries are zlib streams: a 2-byte header, raw deflate data, and an Adler-32 checksum of the inflated
/// bytes. The inflater checks the header and inflates the deflate data raw, leaving the checksum unchecked:
/// every object a ``PackReader`` lends is checked against its SHA-1 id, which a wrong byte cannot pass, and
/// Adler-32 was 1.25% of a full scan's profile.
final class Inflater {
    // zlib's state points back at its z_stream, so the stream lives at a fixed heap address.
    private let stream: UnsafeMutablePointer<z_stream>

    init() throws(GitError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = shardscan_inflate_init_raw(stream)
        guard rc == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw GitError.pack("zlib: cannot start inflating (error \(rc))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Input bytes the last inflate consumed, zlib header and checksum included: zlib stops at the end of the
    /// stream.
    var consumed: Int { Self.headerBytes + Int(stream.pointee.total_in) + Self.checksumBytes }

    private static let headerBytes = 2
    private static let checksumBytes = 4

    /// The deflate data after a zlib header, `nil` when `input` does not start with one (RFC 1950: method 8
    /// with a window of at most 32 KiB, no preset dictionary, check bits making the header a multiple of 31).
    private static func deflateData(_ input: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard input.count >= headerBytes else { return nil }
        let method = UInt(input[0])
        let flags = UInt(input[1])
        guard method & 0x0f == 8, method >> 4 <= 7, flags & 0x20 == 0, (method << 8 | flags) % 31 == 0 else {
            return nil
        }
        return UnsafeRawBufferPointer(rebasing: input[headerBytes...])
    }

    /// Inflates the zlib stream at the start of `input` into `output`, which it must fill exactly; returns
    /// `nil` on success, else what went wrong.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> String? {
        // One call fills at most 4 GiB; no object shardscan reads comes near.
        guard output.count <= Int(UInt32.max) else { return "\(output.count) bytes is too large to inflate" }
        inflateReset(stream)
        guard let input = Self.deflateData(input) else { return "zlib: incorrect header check" }
        var spare: UInt8 = 0
        return withUnsafeMutablePointer(to: &spare) { sparePointer -> String? in
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            stream.pointee.avail_in = UInt32(clamping: input.count)
            // An empty object still needs somewhere to point; zlib writes nothing there.
            stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? sparePointer
            stream.pointee.avail_out = UInt32(clamping: output.count)
            let rc = CZlib.inflate(stream, Z_FINISH)
            if rc == Z_STREAM_END && Int(stream.pointee.total_out) == output.count { return nil }
            if rc == Z_STREAM_END {
                return "inflates to \(stream.pointee.total_out) bytes, its header says \(output.count)"
            }
            if rc == Z_OK || rc == Z_BUF_ERROR {
                return
                    stream.pointee.avail_out == 0
                    ? "inflates to more than the \(output.count) bytes its header says" : "compressed data is cut short"
            }
            let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
            return "zlib: \(message)"
        }
    }

    /// Inflates at most `output.count` bytes of the start of the stream (for a delta's header); returns how
    /// many it got, `nil` when the data is not zlib.
    func inflatePrefix(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        inflateReset(stream)
        guard let input = Self.deflateData(input) else { return nil }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(clamping: input.count)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = UInt32(clamping: output.count)
        let rc = CZlib.inflate(stream, Z_SYNC_FLUSH)
        guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else { return nil }
        return Int(stream.pointee.total_out)
    }
}
