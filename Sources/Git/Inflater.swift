import CDeflate
import CZlib

/// Inflates pack entries; owned by one thread.
///
/// Pack entries are zlib streams: a 2-byte header, raw deflate data, and an Adler-32 checksum of the inflated
/// bytes. The inflater checks the header and inflates the deflate data raw, leaving the checksum unchecked:
/// every object a ``PackReader`` lends is checked against its SHA-1 id, which a wrong byte cannot pass, and
/// Adler-32 was 1.25% of a full scan's profile.
///
/// A whole object is inflated by libdeflate, into a buffer of the size its entry header gives (zlib's inflate
/// was a fifth of a full scan's CPU; libdeflate decodes a whole buffer in one call, without zlib's stream
/// bookkeeping); the start of a delta, for its size alone, by a zlib stream, which can stop early.
final class Inflater {
    // zlib's state points back at its z_stream, so the stream lives at a fixed heap address.
    private let stream: UnsafeMutablePointer<z_stream>
    private let decompressor: OpaquePointer

    init() throws(GitError) {
        guard let decompressor = libdeflate_alloc_decompressor() else {
            throw GitError.pack("libdeflate: cannot allocate a decompressor")
        }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = shardscan_inflate_init_raw(stream)
        guard rc == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            libdeflate_free_decompressor(decompressor)
            throw GitError.pack("zlib: cannot start inflating (error \(rc))")
        }
        self.decompressor = decompressor
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        libdeflate_free_decompressor(decompressor)
    }

    /// Input bytes the last ``inflate(_:into:)`` consumed, zlib header and checksum included: the deflate data
    /// says where it ends.
    private(set) var consumed = 0

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
    ///
    /// The corresponding C function is `libdeflate_deflate_decompress_ex`.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> String? {
        consumed = 0
        guard let input = Self.deflateData(input) else { return "zlib: incorrect header check" }
        var spare: UInt8 = 0
        var read = 0
        var written = 0
        let rc = withUnsafeMutablePointer(to: &spare) { sparePointer in
            // An empty object still needs somewhere to point; nothing is written there.
            let target = output.baseAddress ?? UnsafeMutableRawPointer(sparePointer)
            return libdeflate_deflate_decompress_ex(
                decompressor, input.baseAddress, input.count, target, output.count, &read, &written)
        }
        consumed = Self.headerBytes + read + Self.checksumBytes
        switch rc {
        case LIBDEFLATE_SUCCESS:
            return written == output.count ? nil : "inflates to \(written) bytes, its header says \(output.count)"
        case LIBDEFLATE_INSUFFICIENT_SPACE:
            return "inflates to more than the \(output.count) bytes its header says"
        default:
            // Cut short and corrupt data look the same to a decoder that was given the rest of the pack.
            return "zlib: invalid or cut-short compressed data"
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
