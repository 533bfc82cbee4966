import CHyperscan

/// Hyperscan's per-thread scratch space for scanning a ``Database``. Not thread-safe.
public final class Scratch {
    // Never written after creation: a non-null pointer for empty input.
    nonisolated(unsafe) static let emptyData: UnsafePointer<CChar> = {
        let byte = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        byte.initialize(to: 0)
        return UnsafePointer(byte)
    }()

    let handle: OpaquePointer

    /// Allocates scratch space large enough for `database`.
    ///
    /// The corresponding C function is `hs_alloc_scratch`.
    public init(for database: Database) throws(HyperscanError) {
        var scratch: OpaquePointer?
        let rc = hs_alloc_scratch(database.handle, &scratch)
        guard rc == HS_SUCCESS, let scratch else {
            throw HyperscanError(code: rc, message: "cannot allocate scratch (\(rc))")
        }
        self.handle = scratch
    }

    /// Allocates one scratch space large enough for each of `databases` (one at a time), so that a thread
    /// scanning with several of them keeps a single scratch.
    ///
    /// The corresponding C function is `hs_alloc_scratch`, called once per database to grow the space.
    public init(for databases: [Database]) throws(HyperscanError) {
        var scratch: OpaquePointer?
        for database in databases {
            let rc = hs_alloc_scratch(database.handle, &scratch)
            guard rc == HS_SUCCESS else {
                if let scratch { hs_free_scratch(scratch) }
                throw HyperscanError(code: rc, message: "cannot allocate scratch (\(rc))")
            }
        }
        guard let scratch else {
            throw HyperscanError(code: HS_INVALID, message: "no database to allocate scratch for")
        }
        self.handle = scratch
    }

    deinit {
        hs_free_scratch(handle)
    }
}
