// The element-wise hot loops of the coordinate-wise LSTM, in C so that they vectorise, with
// versions for AVX-512, AVX2 and baseline x86-64 chosen at run time (target_clones): the binary
// runs on any x86-64 machine and is fast on this one. This module provides no stable Swift API.
#ifndef L2L_CKERNELS_H
#define L2L_CKERNELS_H

#include <stdint.h>

/// One LSTM layer's cell update for `rows` coordinates of `hidden` units.
///
/// `gates` (rows × 4H) holds [x, h] · W on entry and the activated gates σ(i), tanh(j),
/// σ(f + 1), σ(o) on exit; `bias` (4H) is added first. c' = σ(f + 1)·c + σ(i)·tanh(j) and
/// h' = tanh(c')·σ(o) go to `c_next` and `h_next` (rows × H); tanh(c') to `tanh_c` (rows × H).
void l2l_lstm_cell_forward(int64_t rows, int64_t hidden, float *gates, const float *bias,
                           const float *c_previous, float *c_next, float *h_next, float *tanh_c);

/// The matching backward pass: from ∂L/∂h' (`dh`) and ∂L/∂c' (`dc`, overwritten with ∂L/∂c),
/// ∂L/∂(pre-activation gates) into `d_gates` (rows × 4H).
void l2l_lstm_cell_backward(int64_t rows, int64_t hidden, const float *gates, const float *c_previous,
                            const float *tanh_c, const float *dh, float *dc, float *d_gates);

/// tanh(x) to within 4e-7 (the rational approximation used by the kernels), for tests.
float l2l_tanh(float x);
/// σ(x) = (1 + tanh(x/2)) / 2 with the same tanh, for tests.
float l2l_sigmoid(float x);

#endif
