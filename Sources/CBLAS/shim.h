// The C side of the linear algebra. This module provides no stable Swift API.
//
// BLIS (Debian's libblis-dev) puts its cblas.h in a folder that depends on the threading variant
// installed (blis-openmp, blis-pthread, blis-serial), so the few declarations used are repeated
// here; they are the standard CBLAS ABI with BLIS's 32-bit BLAS integers (BLIS_BLAS_INT_TYPE_SIZE
// is 32 in every Debian variant), and `-lblis` resolves them whichever variant is installed.
#ifndef L2L_CBLAS_SHIM_H
#define L2L_CBLAS_SHIM_H

#include <stdint.h>

enum L2L_CBLAS_ORDER { L2L_CblasRowMajor = 101, L2L_CblasColMajor = 102 };
enum L2L_CBLAS_TRANSPOSE { L2L_CblasNoTrans = 111, L2L_CblasTrans = 112 };

void cblas_sgemm(enum L2L_CBLAS_ORDER order, enum L2L_CBLAS_TRANSPOSE transA, enum L2L_CBLAS_TRANSPOSE transB,
                 int32_t m, int32_t n, int32_t k, float alpha, const float *a, int32_t lda,
                 const float *b, int32_t ldb, float beta, float *c, int32_t ldc);

/// BLIS's own call to set the number of threads its level-3 operations use.
void bli_thread_set_num_threads(int64_t threads);

/// The sub-configuration (kernel set) BLIS chose for this processor at run time, and its name.
int bli_arch_query_id(void);
const char *bli_arch_string(int id);
/// BLIS's version string.
const char *bli_info_get_version_str(void);

#if defined(__x86_64__)
#include <xmmintrin.h>
/// The calling thread's floating-point control word (MXCSR).
static inline unsigned int l2l_get_fp_control(void) { return _mm_getcsr(); }
static inline void l2l_set_fp_control(unsigned int value) { _mm_setcsr(value); }
/// MXCSR's flush-to-zero and denormals-are-zero bits.
static inline unsigned int l2l_flush_denormals_bits(void) { return 0x8040; }
#else
static inline unsigned int l2l_get_fp_control(void) { return 0; }
static inline void l2l_set_fp_control(unsigned int value) { (void)value; }
static inline unsigned int l2l_flush_denormals_bits(void) { return 0; }
#endif

#endif
