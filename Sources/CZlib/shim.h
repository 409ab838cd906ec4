// The C side of the gunzip. This module provides no stable Swift API: `inflateInit2` is a macro
// that Swift cannot import, so it is re-exposed as an inline function.
#ifndef L2L_CZLIB_SHIM_H
#define L2L_CZLIB_SHIM_H

#include <zlib.h>

/// `inflateInit2(stream, windowBits)`; pass 16 + MAX_WBITS to accept only a gzip wrapper.
static inline __attribute__((__always_inline__)) int l2l_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

static inline __attribute__((__always_inline__)) int l2l_MAX_WBITS(void) { return MAX_WBITS; }

#endif
