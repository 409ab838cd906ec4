// What every kernel file shares: run-time dispatch by processor, and the 16-float vector.
#ifndef L2L_VECTORS_H
#define L2L_VECTORS_H

// Each function so marked is compiled for AVX-512, AVX2 and baseline x86-64, and the loader picks
// the best the processor has: the binary runs on any x86-64 machine and is fast on this one.
#if defined(__x86_64__) && defined(__clang__)
#define L2L_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define L2L_CLONES
#endif

// Sixteen floats: one AVX-512 register, two AVX2 ones, four SSE ones, depending on the clone.
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));

#endif
