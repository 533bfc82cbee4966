import CHyperscan

#if canImport(Glibc)
    import Glibc
#endif

/// What Hyperscan can tell about one expression without building a database.
public struct ExpressionInfo: Sendable, Equatable {
    /// The fewest bytes a match can span.
    public let minWidth: Int
    /// The most bytes a match can span; `nil` when matches can be arbitrarily long.
    public let maxWidth: Int?

    /// Analyses `expression` as it would be compiled with `flags`.
    ///
    /// The corresponding C function is `hs_expression_info`.
    public init(_ expression: String, flags: PatternFlags = []) throws(HyperscanError) {
        var info: UnsafeMutablePointer<hs_expr_info_t>?
        var compileError: UnsafeMutablePointer<hs_compile_error_t>?
        let rc = hs_expression_info(expression, flags.rawValue, &info, &compileError)
        guard rc == HS_SUCCESS, let info else {
            var message = "hs_expression_info failed (\(rc))"
            if let compileError {
                message = String(cString: compileError.pointee.message)
                hs_free_compile_error(compileError)
            }
            throw HyperscanError(code: rc, message: message)
        }
        // Hyperscan allocates the info with its misc allocator, which is malloc unless replaced.
        defer { free(info) }
        minWidth = Int(info.pointee.min_width)
        maxWidth = info.pointee.max_width == UInt32.max ? nil : Int(info.pointee.max_width)
    }
}

/// The Hyperscan library's version and build date, e.g. `5.4.0 2023-01-21`; serialized databases are
/// only valid for the same one.
///
/// The corresponding C function is `hs_version`.
public var hyperscanVersion: String { String(cString: hs_version()) }
