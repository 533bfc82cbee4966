#ifndef CPCRE2_SHIM_H
#define CPCRE2_SHIM_H
// Blobs are bytes: the 8-bit library is the only one shardscan uses.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif
