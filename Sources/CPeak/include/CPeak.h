// The processor's arithmetic peak, measured: what `l2l-bench` divides its FLOP rates by, next to
// BLAS's sgemm (which may not use the widest vectors the processor has).
#ifndef L2L_CPEAK_H
#define L2L_CPEAK_H

#include <stdint.h>

/// Runs `iterations` rounds of twelve independent chains of 16-wide multiply-adds, in the widest
/// vectors the processor has (AVX-512, AVX2 or SSE, chosen at run time), and returns the
/// floating-point operations done (2 per multiply-add and lane). `sink` receives a value that
/// depends on all of them, so that none can be optimised away.
double l2l_fma_peak(int64_t iterations, float *sink);

#endif
