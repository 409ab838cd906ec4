// The hot loops of the coordinate-wise LSTM (its matrix products, cell updates and reductions),
// in C so that they vectorise, with versions for AVX-512, AVX2 and baseline x86-64 chosen at run
// time (target_clones): the binary runs on any x86-64 machine and is fast on this one. Also what
// the block workers and the benchmark need from the processor (System.c, Peak.c). This module
// provides no stable Swift API.
#ifndef L2L_CKERNELS_H
#define L2L_CKERNELS_H

#include <stdint.h>

// Every matrix is feature-major: row r (a gate, or a unit's h or c) holds that feature for
// `columns` coordinates, rows `ld` floats apart; `columns` must be a multiple of 16.

/// One LSTM layer's backward pass: from ∂L/∂h' (`dh` + `dh_recurrent`) and ∂L/∂c' (`dc`, overwritten
/// with ∂L/∂c), ∂L/∂(pre-activation gates) into `d_gates` (4H rows). `gates` are the activated
/// gates of the forward pass, `c_previous` and `c_next` its c and c' (H rows).
void l2l_lstm_backward(int64_t hidden, int64_t columns, int64_t ld, const float *gates, const float *c_previous,
                       const float *c_next, const float *dh, const float *dh_recurrent, float *dc, float *d_gates);

/// The output layer: delta = scale · (h · weights + bias), h being H rows.
void l2l_output_forward(int64_t hidden, int64_t columns, int64_t ld, const float *h, const float *weights,
                        float bias, float scale, float *delta);

/// Its backward pass from ∂L/∂delta (`d_theta`): dy = scale · d_theta (scratch, `columns`), adds
/// Σ dy to `*d_bias` and h · dy to `d_weights` (H), writes ∂L/∂h = dy · weights into `dh` (H rows).
void l2l_output_backward(int64_t hidden, int64_t columns, int64_t ld, const float *h, const float *weights,
                         float scale, const float *d_theta, float *dy, float *d_weights, float *d_bias, float *dh);

/// Adds the sum of each of `rows` rows to `sums`.
void l2l_add_row_sums(int64_t rows, int64_t columns, int64_t ld, const float *matrix, float *sums);

/// C (m × columns) = init + A · B, A m × (k1 + k2) with element (r, k) at
/// a[r · a_row + k · a_column], B's rows k1 rows of `b1` then k2 rows of `b2` (row stride `ldb`),
/// init[r] starting row r's sums (zero when `init` is NULL).
/// The LSTM's products: gates = b + Wᵀ [x; h] and ∂[x; h] = W · ∂gates, W being a slice of φ.
void l2l_lstm_product(int64_t m, int64_t columns, const float *init, int64_t k1, const float *b1, int64_t k2, const float *b2,
                      int64_t ldb, const float *a, int64_t a_row, int64_t a_column, float *c, int64_t ldc);

/// ∂W of one layer: dw (rows × width, row stride ldw) += [a1; a2] · bᵀ over `columns` coordinates,
/// [a1; a2] being k1 + k2 rows ([x; h]) and b `width` rows (∂gates); `width` a multiple of 4.
void l2l_lstm_weight_gradient(int64_t columns, int64_t k1, const float *a1, int64_t k2, const float *a2, int64_t lda,
                              int64_t width, const float *b, int64_t ldb, float *dw, int64_t ldw);

/// One LSTM layer's cell update. `raw` (4H rows of `raw_ld`) holds the pre-activation gates
/// b + [x, h] · W (the forget gate's with its bias of 1); the activated gates σ(i), tanh(j), σ(f),
/// σ(o) go to `gates` (4H rows of `ld`), with non-temporal stores, so its rows must be 64-byte
/// aligned. c' = σ(f)·c + σ(i)·tanh(j) and h' = tanh(c')·σ(o) go to `c_next` and `h_next` (H rows
/// of `ld`).
void l2l_lstm_forward_streaming(int64_t hidden, int64_t columns, const float *raw, int64_t raw_ld, const float *c_previous,
                                int64_t ld, float *gates, float *c_next, float *h_next);

/// The same cell update without recording the tape (evaluation): c' and h' only.
void l2l_lstm_forward(int64_t hidden, int64_t columns, const float *raw, int64_t raw_ld, const float *c_previous,
                      int64_t ld, float *c_next, float *h_next);

/// floats[k] = bytes[k] / divisor (a minibatch of MNIST pixels as the MLP's inputs).
void l2l_bytes_to_floats(int64_t count, const uint8_t *bytes, float divisor, float *floats);

/// tanh(x) to within 4e-7: the kernels' rational approximation (without FMA), for tests.
float l2l_tanh(float x);
/// σ(x) = (1 + tanh(x/2)) / 2 with the same tanh, for tests.
float l2l_sigmoid(float x);

/// Runs `iterations` rounds of twelve independent chains of 16-wide multiply-adds, in the widest
/// vectors the processor has, and returns the floating-point operations done (2 per multiply-add
/// and lane): the arithmetic peak, for the benchmark. `sink` receives a value that depends on all
/// of them, so that none can be optimised away.
double l2l_fma_peak(int64_t iterations, float *sink);

/// CPUs this process may run on (its affinity mask, as `taskset` sets it).
int l2l_available_cpus(void);
/// A hint that the caller is spinning (`pause` on x86).
void l2l_cpu_relax(void);

#endif
