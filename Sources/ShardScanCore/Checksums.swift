/// CRC-32 (IEEE 802.3, the zlib polynomial) of `bytes`.
public func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc = crc32Table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
    }
    return crc ^ 0xFFFF_FFFF
}

private let crc32Table: [UInt32] = (0..<256).map { index in
    var value = UInt32(index)
    for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
    return value
}

/// `value` in base 62 (`0-9A-Za-z`), left-padded with `0` to `width` digits.
public func base62(_ value: UInt32, width: Int) -> String {
    digits(of: value, in: "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", width: width)
}

/// `value` in base 36 (`0-9a-z`, lower case as Ruby's `Integer#to_s(36)` writes it), left-padded with `0` to
/// `width` digits.
public func base36(_ value: UInt32, width: Int) -> String {
    digits(of: value, in: "0123456789abcdefghijklmnopqrstuvwxyz", width: width)
}

/// `value` written with `alphabet`'s characters as digits, most significant first, padded with its zero.
private func digits(of value: UInt32, in alphabet: String, width: Int) -> String {
    let digits = Array(alphabet)
    let base = UInt32(digits.count)
    var remaining = value
    var out: [Character] = []
    repeat {
        out.append(digits[Int(remaining % base)])
        remaining /= base
    } while remaining > 0
    while out.count < width { out.append(digits[0]) }
    return String(out.reversed())
}
