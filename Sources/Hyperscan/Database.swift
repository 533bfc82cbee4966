import CHyperscan

#if canImport(Glibc)
    import Glibc
#endif

/// A compiled Hyperscan block-mode database of many patterns.
///
/// Hyperscan documents a compiled database as read-only and shareable between threads;
/// each thread scans with its own ``Scratch``.
public final class Database: @unchecked Sendable {
    let handle: OpaquePointer

    /// One expression of a multi-pattern database.
    public struct Pattern: Sendable, Equatable {
        public var expression: String
        /// Reported back with each match.
        public var id: UInt32
        public var flags: PatternFlags

        public init(expression: String, id: UInt32, flags: PatternFlags = []) {
            self.expression = expression
            self.id = id
            self.flags = flags
        }
    }

    /// Compiles `patterns` into one block-mode database.
    ///
    /// The corresponding C function is `hs_compile_multi`.
    public init(patterns: [Pattern]) throws(HyperscanError) {
        guard !patterns.isEmpty else { throw HyperscanError(code: HS_INVALID, message: "no patterns") }
        let expressions = patterns.map { strdup($0.expression) }
        defer { for expression in expressions { free(expression) } }
        let flags = patterns.map { $0.flags.rawValue }
        let ids = patterns.map { $0.id }
        var database: OpaquePointer?
        var compileError: UnsafeMutablePointer<hs_compile_error_t>?
        let rc = expressions.map { UnsafePointer($0) }.withUnsafeBufferPointer { expressionBuffer in
            hs_compile_multi(
                expressionBuffer.baseAddress, flags, ids, UInt32(patterns.count), UInt32(HS_MODE_BLOCK), nil,
                &database, &compileError)
        }
        if rc != HS_SUCCESS {
            var message = "hs_compile_multi failed (\(rc))"
            var index: Int?
            if let compileError {
                message = String(cString: compileError.pointee.message)
                index = compileError.pointee.expression >= 0 ? Int(compileError.pointee.expression) : nil
                hs_free_compile_error(compileError)
            }
            throw HyperscanError(code: rc, message: message, expressionIndex: index)
        }
        self.handle = database!
    }

    /// Rebuilds a database from ``serialized()`` bytes.
    ///
    /// The corresponding C function is `hs_deserialize_database`.
    public init(serialized bytes: [UInt8]) throws(HyperscanError) {
        var database: OpaquePointer?
        let rc = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                hs_deserialize_database($0.baseAddress, $0.count, &database)
            }
        }
        guard rc == HS_SUCCESS, let database else {
            throw HyperscanError(code: rc, message: "cannot deserialize database (\(rc))")
        }
        self.handle = database
    }

    deinit {
        hs_free_database(handle)
    }

    /// The database as bytes, for a cache on disk. Valid only for the same Hyperscan version and CPU features.
    ///
    /// The corresponding C function is `hs_serialize_database`.
    public func serialized() throws(HyperscanError) -> [UInt8] {
        var bytes: UnsafeMutablePointer<CChar>?
        var length = 0
        let rc = hs_serialize_database(handle, &bytes, &length)
        guard rc == HS_SUCCESS, let bytes else {
            throw HyperscanError(code: rc, message: "cannot serialize database (\(rc))")
        }
        defer { free(bytes) }
        return Array(UnsafeRawBufferPointer(start: bytes, count: length).bindMemory(to: UInt8.self))
    }

    /// Calls `onMatch` for every match in `data`, in the order Hyperscan reports them (by end offset).
    /// `onMatch` returns `false` to stop the scan early.
    ///
    /// The corresponding C function is `hs_scan`.
    ///
    /// Matches are gathered in a buffer and handed over a few hundred at a time: calling a Swift closure from
    /// Hyperscan's callback for each one cost a retain and a release of the closure per match.
    public func scan(
        _ data: UnsafeRawBufferPointer, scratch: Scratch, onMatch: (HyperscanMatch) -> Bool
    ) throws(HyperscanError) {
        // On the stack: a scan per blob and view should not cost a heap allocation.
        let rc = withUnsafeTemporaryAllocation(of: HyperscanMatch.self, capacity: MatchBuffer.capacity) { buffer in
            withoutActuallyEscaping(onMatch) { callback in
                var matches = MatchBuffer(callback: callback, matches: buffer.baseAddress!)
                let base = data.baseAddress?.assumingMemoryBound(to: CChar.self) ?? Scratch.emptyData
                let rc = withUnsafeMutablePointer(to: &matches) { context in
                    hs_scan(
                        handle, base, UInt32(clamping: data.count), 0, scratch.handle,
                        { id, from, to, _, context in
                            let matches = context!.assumingMemoryBound(to: MatchBuffer.self)
                            let count = matches.pointee.count
                            matches.pointee.matches[count] = HyperscanMatch(id: id, start: Int(from), end: Int(to))
                            matches.pointee.count = count + 1
                            guard count + 1 == MatchBuffer.capacity else { return 0 }
                            return matches.pointee.handOver() ? 0 : 1
                        }, context)
                }
                if rc == HS_SUCCESS { _ = matches.handOver() }
                return rc
            }
        }
        guard rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED else {
            throw HyperscanError(code: rc, message: "hs_scan failed (\(rc))")
        }
    }
}

/// Matches found and not yet handed to the caller's callback.
private struct MatchBuffer {
    static let capacity = 256
    let callback: (HyperscanMatch) -> Bool
    let matches: UnsafeMutablePointer<HyperscanMatch>
    var count = 0

    /// Calls the callback with each buffered match, in order; `false` once it asked to stop (the matches after
    /// that one are never handed over).
    mutating func handOver() -> Bool {
        defer { count = 0 }
        for index in 0..<count where !callback(matches[index]) { return false }
        return true
    }
}

/// One match reported by Hyperscan. `start` is exact only with ``PatternFlags/leftmostStart``;
/// otherwise it is 0, and `end` is the exclusive end offset.
public struct HyperscanMatch: Sendable, Equatable {
    public let id: UInt32
    public let start: Int
    public let end: Int

    public init(id: UInt32, start: Int, end: Int) {
        self.id = id
        self.start = start
        self.end = end
    }
}

/// Per-expression compile flags; the raw values are Hyperscan's `HS_FLAG_*`.
public struct PatternFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let caseless = PatternFlags(rawValue: UInt32(HS_FLAG_CASELESS))
    public static let dotAll = PatternFlags(rawValue: UInt32(HS_FLAG_DOTALL))
    public static let multiline = PatternFlags(rawValue: UInt32(HS_FLAG_MULTILINE))
    /// Report each expression at most once per scan.
    public static let singleMatch = PatternFlags(rawValue: UInt32(HS_FLAG_SINGLEMATCH))
    public static let allowEmpty = PatternFlags(rawValue: UInt32(HS_FLAG_ALLOWEMPTY))
    /// Accept constructs Hyperscan cannot run exactly and over-approximate them; confirm matches elsewhere.
    public static let prefilter = PatternFlags(rawValue: UInt32(HS_FLAG_PREFILTER))
    /// Report the leftmost start of each match.
    public static let leftmostStart = PatternFlags(rawValue: UInt32(HS_FLAG_SOM_LEFTMOST))
}

/// A failure reported by Hyperscan.
public struct HyperscanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Hyperscan's `hs_error_t`.
    public let code: Int32
    public let message: String
    /// For compile errors: the index of the expression at fault, when Hyperscan names one.
    public let expressionIndex: Int?

    public init(code: Int32, message: String, expressionIndex: Int? = nil) {
        self.code = code
        self.message = message
        self.expressionIndex = expressionIndex
    }

    public var description: String {
        expressionIndex.map { "expression \($0): \(message)" } ?? message
    }
}
