#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H
#include <malloc.h>

/* glibc's M_MMAP_THRESHOLD, as a function: Swift's Glibc module does not include malloc.h. Returns 1 on success. */
static inline int shardscan_malloc_set_mmap_threshold(int bytes) {
#ifdef M_MMAP_THRESHOLD
    return mallopt(M_MMAP_THRESHOLD, bytes);
#else
    (void)bytes;
    return 0;
#endif
}
#endif
