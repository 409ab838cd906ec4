#include "CKernels.h"
#include "Vectors.h"

// tanh as a rational function of odd degree 13 over even degree 6, the form Eigen uses for
// float: accurate to a few ulp on [-9, 9], where it is clamped (tanh(±9) = ±1 in float).
// Branch-free. The kernels and l2l_tanh share this one definition.
//
// `scale` is 1 for tanh(x). σ(x) = (1 + tanh(x/2))/2 passes 4 instead and x itself, not x/2:
// with y = x/2, every Horner partial sum of P(y²) = P'(x²) is that of P'(x²) times a power of
// two when P' has its k-th coefficient divided by 4ᵏ (the same for Q), and scaling by a power of
// two commutes with rounding, so y·P(y²)/Q(y²) comes out bit for bit as (x·P'(x²)/Q'(x²))/2
// without the multiplication by 1/2.
#define L2L_TANH_CLAMP 7.90531110763549805f
// (Vectors pass by pointer: by value, they would change the ABI between clones; all is inlined.)
static inline __attribute__((always_inline)) void rational_tanh(v16 *value, const float clamp, const float scale) {
    v16 x = *value;
    const float s1 = 1 / scale, s2 = s1 / scale, s3 = s2 / scale, s4 = s3 / scale, s5 = s4 / scale, s6 = s5 / scale;
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, (v16){0} - clamp), (v16){0} + clamp);
    const v16 x2 = x * x;
    v16 p = x2 * (-2.76076847742355e-16f * s6) + 2.00018790482477e-13f * s5;
    p = p * x2 + -8.60467152213735e-11f * s4;
    p = p * x2 + 5.12229709037114e-08f * s3;
    p = p * x2 + 1.48572235717979e-05f * s2;
    p = p * x2 + 6.37261928875436e-04f * s1;
    p = p * x2 + 4.89352455891786e-03f;
    v16 q = x2 * (1.19825839466702e-06f * s3) + 1.18534705686654e-04f * s2;
    q = q * x2 + 2.26843463243900e-03f * s1;
    q = q * x2 + 4.89352518554385e-03f;
    *value = (p * x) / q;
}

static inline __attribute__((always_inline)) void vector_tanh(v16 *value) {
    rational_tanh(value, L2L_TANH_CLAMP, 1);
}

// σ(x) = 1/2 + tanh(x/2)/2 = 1/2 + (x·P'(x²)/Q'(x²))/4 (see rational_tanh).
static inline __attribute__((always_inline)) void vector_sigmoid(v16 *value) {
    rational_tanh(value, 2 * L2L_TANH_CLAMP, 4);
    *value = 0.5f + 0.25f * *value;
}

// Compiled for baseline x86-64 (no FMA): the kernels' clones fuse the multiply-adds and round
// differently in the last bit (their tanh saturates at 0.99999976, not 1).
float l2l_tanh(float x) {
    v16 value = (v16){0} + x;
    vector_tanh(&value);
    return value[0];
}

float l2l_sigmoid(float x) {
    v16 value = (v16){0} + x;
    vector_sigmoid(&value);
    return value[0];
}

L2L_CLONES
void l2l_bytes_to_floats(int64_t count, const uint8_t *restrict bytes, float divisor, float *restrict floats) {
    for (int64_t k = 0; k < count; k++) floats[k] = (float)bytes[k] / divisor;
}

// The LSTM's buffers are feature-major: row r of a matrix holds feature r (a gate, a unit's h or
// c) of every coordinate, rows `ld` floats apart, so that every loop below runs over coordinates,
// contiguous in memory. `columns` is a multiple of L2L_LANES (the buffers are padded): reductions
// keep L2L_LANES partial sums summed in a fixed order, so the result does not depend on which
// clone (AVX-512, AVX2, baseline) runs.
#define L2L_LANES 16

// The sum of L2L_LANES partial sums, in a fixed order.
static inline __attribute__((always_inline)) float lane_sum(const float *lanes) {
    float sum = 0;
    for (int64_t lane = 0; lane < L2L_LANES; lane++) sum += lanes[lane];
    return sum;
}

// tanh(c') is recomputed from c' rather than kept on the tape: c' is in cache here (it was c of
// the step after, just before), while a stored tanh(c') would have to come back from memory.
L2L_CLONES
void l2l_lstm_backward(int64_t hidden, int64_t columns, int64_t ld, const float *restrict gates,
                       const float *restrict c_previous, const float *restrict c_next, const float *restrict dh,
                       const float *restrict dh_recurrent, float *restrict dc, float *restrict d_gates) {
    for (int64_t unit = 0; unit < hidden; unit++) {
        const float *restrict ai = gates + unit * ld, *restrict aj = gates + (hidden + unit) * ld;
        const float *restrict af = gates + (2 * hidden + unit) * ld, *restrict ao = gates + (3 * hidden + unit) * ld;
        float *restrict di = d_gates + unit * ld, *restrict dj = d_gates + (hidden + unit) * ld;
        float *restrict df = d_gates + (2 * hidden + unit) * ld, *restrict d_o = d_gates + (3 * hidden + unit) * ld;
        const float *restrict c = c_previous + unit * ld, *restrict c_out = c_next + unit * ld;
        const float *restrict dh_above = dh + unit * ld, *restrict dh_next = dh_recurrent + unit * ld;
        float *restrict dc_row = dc + unit * ld;
        for (int64_t column = 0; column < columns; column += 16) {
            const v16 i = *(const v16u *)(ai + column), j = *(const v16u *)(aj + column);
            const v16 f = *(const v16u *)(af + column), o = *(const v16u *)(ao + column);
            v16 t = *(const v16u *)(c_out + column);
            vector_tanh(&t);
            const v16 dh_value = *(const v16u *)(dh_above + column) + *(const v16u *)(dh_next + column);
            const v16 dc_value = *(const v16u *)(dc_row + column) + dh_value * o * (1.0f - t * t);
            *(v16u *)(di + column) = dc_value * j * i * (1.0f - i);
            *(v16u *)(dj + column) = dc_value * i * (1.0f - j * j);
            *(v16u *)(df + column) = dc_value * *(const v16u *)(c + column) * f * (1.0f - f);
            *(v16u *)(d_o + column) = dh_value * t * o * (1.0f - o);
            *(v16u *)(dc_row + column) = dc_value * f;
        }
    }
}

L2L_CLONES
void l2l_output_forward(int64_t hidden, int64_t columns, int64_t ld, const float *restrict h, const float *restrict weights,
                        float bias, float scale, float *restrict delta) {
    for (int64_t column = 0; column < columns; column++) delta[column] = 0;
    for (int64_t unit = 0; unit < hidden; unit++) {
        const float w = weights[unit];
        const float *restrict row = h + unit * ld;
        for (int64_t column = 0; column < columns; column++) delta[column] += row[column] * w;
    }
    for (int64_t column = 0; column < columns; column++) delta[column] = scale * (delta[column] + bias);
}

// Σ_column a[column] · b[column], in L2L_LANES partial sums.
static inline __attribute__((always_inline)) float dot(int64_t columns, const float *restrict a, const float *restrict b) {
    float lanes[L2L_LANES] = {0};
    for (int64_t column = 0; column < columns; column += L2L_LANES)
        for (int64_t lane = 0; lane < L2L_LANES; lane++) lanes[lane] += a[column + lane] * b[column + lane];
    return lane_sum(lanes);
}

L2L_CLONES
void l2l_output_backward(int64_t hidden, int64_t columns, int64_t ld, const float *restrict h, const float *restrict weights,
                         float scale, const float *restrict d_theta, float *restrict dy, float *restrict d_weights,
                         float *restrict d_bias, float *restrict dh) {
    float lanes[L2L_LANES] = {0};
    for (int64_t column = 0; column < columns; column += L2L_LANES)
        for (int64_t lane = 0; lane < L2L_LANES; lane++) {
            dy[column + lane] = scale * d_theta[column + lane];
            lanes[lane] += dy[column + lane];
        }
    for (int64_t lane = 0; lane < L2L_LANES; lane++) *d_bias += lanes[lane];
    for (int64_t unit = 0; unit < hidden; unit++) {
        d_weights[unit] += dot(columns, h + unit * ld, dy);
        const float w = weights[unit];
        float *restrict row = dh + unit * ld;
        for (int64_t column = 0; column < columns; column++) row[column] = dy[column] * w;
    }
}

L2L_CLONES
void l2l_add_row_sums(int64_t rows, int64_t columns, int64_t ld, const float *restrict matrix, float *restrict sums) {
    for (int64_t row = 0; row < rows; row++) {
        float lanes[L2L_LANES] = {0};
        const float *restrict values = matrix + row * ld;
        for (int64_t column = 0; column < columns; column += L2L_LANES)
            for (int64_t lane = 0; lane < L2L_LANES; lane++) lanes[lane] += values[column + lane];
        sums[row] += lane_sum(lanes);
    }
}

// --- The LSTM's matrix products --------------------------------------------------------------
// C (m × columns, feature-major) = init + A (m × k, small: a slice of φ read with any strides) · B,
// B's k rows being k1 rows of `b1` followed by k2 rows of `b2` (so [x; h] need not be copied), and
// init[r] (or 0) starting row r's sums. Columns run 16 to a vector; a tile of R rows × NV vectors
// keeps its R·NV accumulators in registers.
static inline __attribute__((always_inline)) void product_tile(
    const int R, const int NV, const float *init, int64_t k1, const float *b1, int64_t k2, const float *b2, int64_t ldb,
    const float *a, int64_t a_row, int64_t a_column, float *c, int64_t ldc) {
    v16 sum[4][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) sum[r][v] = (v16){0} + (init ? init[r] : 0.0f);
    for (int64_t kk = 0; kk < k1 + k2; kk++) {
        const float *row = kk < k1 ? b1 + kk * ldb : b2 + (kk - k1) * ldb;
        v16 b[4];
        for (int v = 0; v < NV; v++) b[v] = *(const v16u *)(row + 16 * v);
        for (int r = 0; r < R; r++) {
            const float weight = a[r * a_row + kk * a_column];
            for (int v = 0; v < NV; v++) sum[r][v] += weight * b[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) *(v16u *)(c + r * ldc + 16 * v) = sum[r][v];
}

L2L_CLONES
void l2l_lstm_product(int64_t m, int64_t columns, const float *init, int64_t k1, const float *b1, int64_t k2, const float *b2,
                      int64_t ldb, const float *a, int64_t a_row, int64_t a_column, float *c, int64_t ldc) {
    int64_t column = 0;
    for (; column + 64 <= columns; column += 64) {
        // The rows of B are many streams at once, more than the hardware prefetcher follows:
        // fetch the next block of columns while this one is multiplied.
        if (column + 128 <= columns)
            for (int64_t kk = 0; kk < k1 + k2; kk++) {
                const float *next = (kk < k1 ? b1 + kk * ldb : b2 + (kk - k1) * ldb) + column + 64;
                for (int line = 0; line < 4; line++) __builtin_prefetch(next + 16 * line);
            }
        int64_t row = 0;
        for (; row + 4 <= m; row += 4)
            product_tile(4, 4, init ? init + row : 0, k1, b1 + column, k2, b2 + column, ldb, a + row * a_row, a_row, a_column, c + row * ldc + column, ldc);
        for (; row < m; row++)
            product_tile(1, 4, init ? init + row : 0, k1, b1 + column, k2, b2 + column, ldb, a + row * a_row, a_row, a_column, c + row * ldc + column, ldc);
    }
    for (; column < columns; column += 16) {
        int64_t row = 0;
        for (; row + 4 <= m; row += 4)
            product_tile(4, 1, init ? init + row : 0, k1, b1 + column, k2, b2 + column, ldb, a + row * a_row, a_row, a_column, c + row * ldc + column, ldc);
        for (; row < m; row++)
            product_tile(1, 1, init ? init + row : 0, k1, b1 + column, k2, b2 + column, ldb, a + row * a_row, a_row, a_column, c + row * ldc + column, ldc);
    }
}

// The sums of the 16 lanes of each of 16 vectors, as one vector (lane k: the sum of s[k]), by a
// tree of additions, each level adding the halves of pairs of vectors: 15 additions and 30
// shuffles instead of 240 scalar additions. The order is fixed, so every clone gives the same.
static inline __attribute__((always_inline)) void lane_sums16(const v16 *s, v16 *sums) {
    v16 t[8], u[4], v[2];
    for (int p = 0; p < 8; p++)
        t[p] = __builtin_shufflevector(s[2 * p], s[2 * p + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
             + __builtin_shufflevector(s[2 * p], s[2 * p + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    for (int p = 0; p < 4; p++)
        u[p] = __builtin_shufflevector(t[2 * p], t[2 * p + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
             + __builtin_shufflevector(t[2 * p], t[2 * p + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    for (int p = 0; p < 2; p++)
        v[p] = __builtin_shufflevector(u[2 * p], u[2 * p + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29)
             + __builtin_shufflevector(u[2 * p], u[2 * p + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    *sums = __builtin_shufflevector(v[0], v[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
          + __builtin_shufflevector(v[0], v[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

// ∂W of one layer: dw (rows × width, row stride ldw) += A · Bᵀ over `columns` coordinates, A's
// rows being k1 rows of `a1` then k2 rows of `a2` ([x; h], stride lda), B's the width rows of
// `b` (∂gates, stride ldb). A tile of R rows of A × 4 rows of B keeps one vector of 16 partial
// sums per output in registers; their lanes are summed together at the end (lane_sums16).
static inline __attribute__((always_inline)) void weight_gradient_tile(
    const int R, int64_t columns, const float *const *a_rows, const float *b, int64_t ldb, float *dw, int64_t ldw) {
    v16 sum[16];
    for (int k = 0; k < 16; k++) sum[k] = (v16){0};
    for (int64_t column = 0; column < columns; column += 16) {
        v16 x[4], y[4];
        for (int r = 0; r < R; r++) x[r] = *(const v16u *)(a_rows[r] + column);
        for (int g = 0; g < 4; g++) y[g] = *(const v16u *)(b + g * ldb + column);
        for (int r = 0; r < R; r++)
            for (int g = 0; g < 4; g++) sum[4 * r + g] += x[r] * y[g];
    }
    v16 totals;
    lane_sums16(sum, &totals);
    for (int r = 0; r < R; r++)
        for (int g = 0; g < 4; g++) dw[r * ldw + g] += totals[4 * r + g];
}

L2L_CLONES
void l2l_lstm_weight_gradient(int64_t columns, int64_t k1, const float *a1, int64_t k2, const float *a2, int64_t lda,
                              int64_t width, const float *b, int64_t ldb, float *dw, int64_t ldw) {
    const int64_t rows = k1 + k2;
    for (int64_t row = 0; row < rows; row += 4) {
        const int R = rows - row >= 4 ? 4 : (int)(rows - row);
        const float *a_rows[4];
        for (int r = 0; r < R; r++) a_rows[r] = row + r < k1 ? a1 + (row + r) * lda : a2 + (row + r - k1) * lda;
        for (int64_t gate = 0; gate + 4 <= width; gate += 4) {
            if (R == 4) weight_gradient_tile(4, columns, a_rows, b + gate * ldb, ldb, dw + row * ldw + gate, ldw);
            else if (R == 3) weight_gradient_tile(3, columns, a_rows, b + gate * ldb, ldb, dw + row * ldw + gate, ldw);
            else if (R == 2) weight_gradient_tile(2, columns, a_rows, b + gate * ldb, ldb, dw + row * ldw + gate, ldw);
            else weight_gradient_tile(1, columns, a_rows, b + gate * ldb, ldb, dw + row * ldw + gate, ldw);
        }
    }
}

// --- The forward cell -------------------------------------------------------------------------
// One LSTM layer's cell update, 16 coordinates per vector, reading the raw gates from a small
// scratch block. When it records the tape, the activated gates (read again only by the backward
// pass, long after) go out with non-temporal stores, which skip reading the tape's fresh memory
// into the cache before overwriting it; c' and h', read again at once, are stored normally.
static inline __attribute__((always_inline)) void forward_cell(
    const int record, int64_t hidden, int64_t columns, const float *raw, int64_t raw_ld,
    const float *c_previous, int64_t ld, float *gates, float *c_next, float *h_next) {
    for (int64_t unit = 0; unit < hidden; unit++) {
        for (int64_t column = 0; column < columns; column += 16) {
            v16 i = *(const v16u *)(raw + unit * raw_ld + column);
            v16 j = *(const v16u *)(raw + (hidden + unit) * raw_ld + column);
            v16 f = *(const v16u *)(raw + (2 * hidden + unit) * raw_ld + column);
            v16 o = *(const v16u *)(raw + (3 * hidden + unit) * raw_ld + column);
            vector_sigmoid(&i);
            vector_tanh(&j);
            vector_sigmoid(&f);
            vector_sigmoid(&o);
            const int64_t at = unit * ld + column;
            const v16 cell = f * *(const v16u *)(c_previous + at) + i * j;
            v16 t = cell;
            vector_tanh(&t);
            *(v16u *)(c_next + at) = cell;
            *(v16u *)(h_next + at) = t * o;
            if (record) {
                __builtin_nontemporal_store(i, (v16 *)(gates + at));
                __builtin_nontemporal_store(j, (v16 *)(gates + hidden * ld + at));
                __builtin_nontemporal_store(f, (v16 *)(gates + 2 * hidden * ld + at));
                __builtin_nontemporal_store(o, (v16 *)(gates + 3 * hidden * ld + at));
            }
        }
    }
}

L2L_CLONES
void l2l_lstm_forward_streaming(int64_t hidden, int64_t columns, const float *raw, int64_t raw_ld, const float *c_previous,
                                int64_t ld, float *gates, float *c_next, float *h_next) {
    forward_cell(1, hidden, columns, raw, raw_ld, c_previous, ld, gates, c_next, h_next);
#if defined(__x86_64__)
    __builtin_ia32_sfence();  // the stores are visible to whichever thread runs the backward pass
#endif
}

L2L_CLONES
void l2l_lstm_forward(int64_t hidden, int64_t columns, const float *raw, int64_t raw_ld, const float *c_previous,
                      int64_t ld, float *c_next, float *h_next) {
    forward_cell(0, hidden, columns, raw, raw_ld, c_previous, ld, 0, c_next, h_next);
}
