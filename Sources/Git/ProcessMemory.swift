import CMalloc

/// Process-wide settings of the C allocator (glibc's malloc).
public enum ProcessMemory {
    /// Gives allocations of `bytes` and up pages of their own (`mmap`), handed back to the system when freed,
    /// and stops glibc from raising that threshold to the largest block freed so far (up to 32 MB), as it
    /// otherwise does. Does nothing where the allocator has no such setting.
    ///
    /// The corresponding C function is `mallopt` with `M_MMAP_THRESHOLD`.
    public static func ownPages(from bytes: Int) {
        _ = shardscan_malloc_set_mmap_threshold(Int32(clamping: bytes))
    }
}
