/// Shannon entropy of `bytes` in bits per byte: 0 for a run of one byte, 8 at most.
public func shannonEntropy(_ bytes: some Collection<UInt8>) -> Double {
    guard !bytes.isEmpty else { return 0 }
    var counts = [Int](repeating: 0, count: 256)
    for byte in bytes { counts[Int(byte)] += 1 }
    let total = Double(bytes.count)
    var entropy = 0.0
    for count in counts where count > 0 {
        let p = Double(count) / total
        entropy -= p * log2(p)
    }
    return entropy
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
