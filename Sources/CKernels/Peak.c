// The processor's multiply-add peak, for the benchmark's efficiencies.
#include "CKernels.h"
#include "Vectors.h"

// Twelve chains: enough independent multiply-adds to cover two FMA units' latency (4 cycles).
L2L_CLONES
double l2l_fma_peak(int64_t iterations, float *sink) {
    const v16 b = (v16){0} + 0.999999f, c = (v16){0} + 1e-6f;
    v16 a0 = (v16){0} + 0.1f, a1 = (v16){0} + 0.2f, a2 = (v16){0} + 0.3f, a3 = (v16){0} + 0.4f;
    v16 a4 = (v16){0} + 0.5f, a5 = (v16){0} + 0.6f, a6 = (v16){0} + 0.7f, a7 = (v16){0} + 0.8f;
    v16 a8 = (v16){0} + 0.9f, a9 = (v16){0} + 1.0f, a10 = (v16){0} + 1.1f, a11 = (v16){0} + 1.2f;
    for (int64_t k = 0; k < iterations; k++) {
        a0 = a0 * b + c; a1 = a1 * b + c; a2 = a2 * b + c; a3 = a3 * b + c;
        a4 = a4 * b + c; a5 = a5 * b + c; a6 = a6 * b + c; a7 = a7 * b + c;
        a8 = a8 * b + c; a9 = a9 * b + c; a10 = a10 * b + c; a11 = a11 * b + c;
    }
    const v16 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    float total = 0;
    for (int lane = 0; lane < 16; lane++) total += sum[lane];
    *sink = total;
    return (double)iterations * 12 * 16 * 2;
}
