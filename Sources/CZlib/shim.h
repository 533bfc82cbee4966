#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit is a macro, which Swift cannot call: the function it expands to, with this zlib's version. */
static inline int shardscan_inflate_init(z_stream *stream) {
    return inflateInit(stream);
}
/* inflateInit2 for raw deflate data (negative window bits): no zlib header, no Adler-32 checksum. */
static inline int shardscan_inflate_init_raw(z_stream *stream) {
    return inflateInit2(stream, -MAX_WBITS);
}
#endif
