import CPCRE2

/// The mutable state of matching, one per thread: match data, a match context carrying the limits,
/// and a JIT stack.
///
/// Not thread-safe: create one inside each task or thread that matches.
public final class MatchScratch {
    // Never written after creation: a non-null pointer for empty subjects, which PCRE2 10.42 rejects as NULL.
    nonisolated(unsafe) static let emptySubject: UnsafePointer<UInt8> = {
        let byte = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        byte.initialize(to: 0)
        return UnsafePointer(byte)
    }()

    private(set) var matchData: OpaquePointer
    private var pairCapacity: Int
    let context: OpaquePointer
    private let jitStack: OpaquePointer?
    /// The limits in force for every match made with this scratch.
    public let limits: MatchLimits

    /// Creates scratch space whose matches stop at `limits`.
    ///
    /// The corresponding C functions are `pcre2_match_context_create`, `pcre2_set_match_limit`,
    /// `pcre2_set_depth_limit`, `pcre2_set_heap_limit`, `pcre2_jit_stack_create` and
    /// `pcre2_jit_stack_assign`.
    public init(limits: MatchLimits = .scanning) {
        self.limits = limits
        self.context = pcre2_match_context_create_8(nil)!
        pcre2_set_match_limit_8(context, limits.matchSteps)
        pcre2_set_depth_limit_8(context, limits.depth)
        pcre2_set_heap_limit_8(context, limits.heapKiB)
        self.jitStack = pcre2_jit_stack_create_8(32 * 1024, limits.jitStackBytes, nil)
        if let jitStack {
            pcre2_jit_stack_assign_8(context, nil, UnsafeMutableRawPointer(jitStack))
        }
        self.pairCapacity = 16
        self.matchData = pcre2_match_data_create_8(16, nil)!
    }

    deinit {
        pcre2_match_data_free_8(matchData)
        if let jitStack { pcre2_jit_stack_free_8(jitStack) }
        pcre2_match_context_free_8(context)
    }

    func ensureCapacity(pairs: Int) {
        guard pairs > pairCapacity else { return }
        pcre2_match_data_free_8(matchData)
        pairCapacity = pairs
        matchData = pcre2_match_data_create_8(UInt32(pairs), nil)!
    }
}

/// Bounds on the work of one `pcre2_match` call.
public struct MatchLimits: Sendable, Equatable {
    /// `pcre2_set_match_limit`: backtracking steps (JIT counts them differently but honours it).
    public var matchSteps: UInt32
    /// `pcre2_set_depth_limit`: backtracking depth of the interpreter (JIT ignores it).
    public var depth: UInt32
    /// `pcre2_set_heap_limit`, in KiB.
    public var heapKiB: UInt32
    /// The most a JIT stack may grow to.
    public var jitStackBytes: Int

    public init(matchSteps: UInt32, depth: UInt32, heapKiB: UInt32, jitStackBytes: Int) {
        self.matchSteps = matchSteps
        self.depth = depth
        self.heapKiB = heapKiB
        self.jitStackBytes = jitStackBytes
    }

    /// Limits for scanning blobs: generous enough for sane patterns on large files,
    /// small enough that a pathological pattern fails in milliseconds instead of hanging.
    public static let scanning = MatchLimits(
        matchSteps: 5_000_000, depth: 100_000, heapKiB: 64 * 1024, jitStackBytes: 1 << 20)
}
