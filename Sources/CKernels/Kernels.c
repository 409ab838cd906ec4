#include "CKernels.h"

#if defined(__x86_64__) && defined(__clang__)
#define L2L_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define L2L_CLONES
#endif

// tanh as a rational function of odd degree 13 over even degree 6, the form Eigen uses for
// float: accurate to a few ulp on [-9, 9], where it is clamped (tanh(±9) = ±1 in float).
// Branch-free, so the loops below vectorise.
static inline float fast_tanh(float x) {
    const float clamp = 7.90531110763549805f;
    x = x < -clamp ? -clamp : (x > clamp ? clamp : x);
    const float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

static inline float fast_sigmoid(float x) { return 0.5f + 0.5f * fast_tanh(0.5f * x); }

float l2l_tanh(float x) { return fast_tanh(x); }
float l2l_sigmoid(float x) { return fast_sigmoid(x); }

L2L_CLONES
void l2l_lstm_cell_forward(int64_t rows, int64_t hidden, float *gates, const float *bias,
                           const float *c_previous, float *c_next, float *h_next, float *tanh_c) {
    const int64_t width = 4 * hidden;
    for (int64_t row = 0; row < rows; row++) {
        float *z = gates + row * width;
        const float *c = c_previous + row * hidden;
        float *c_out = c_next + row * hidden, *h_out = h_next + row * hidden, *t_out = tanh_c + row * hidden;
        for (int64_t unit = 0; unit < hidden; unit++) {
            const float i = fast_sigmoid(z[unit] + bias[unit]);
            const float j = fast_tanh(z[hidden + unit] + bias[hidden + unit]);
            const float f = fast_sigmoid(z[2 * hidden + unit] + bias[2 * hidden + unit] + 1.0f);
            const float o = fast_sigmoid(z[3 * hidden + unit] + bias[3 * hidden + unit]);
            const float cell = f * c[unit] + i * j;
            const float t = fast_tanh(cell);
            c_out[unit] = cell;
            t_out[unit] = t;
            h_out[unit] = t * o;
            z[unit] = i;
            z[hidden + unit] = j;
            z[2 * hidden + unit] = f;
            z[3 * hidden + unit] = o;
        }
    }
}

L2L_CLONES
void l2l_lstm_cell_backward(int64_t rows, int64_t hidden, const float *gates, const float *c_previous,
                            const float *tanh_c, const float *dh, float *dc, float *d_gates) {
    const int64_t width = 4 * hidden;
    for (int64_t row = 0; row < rows; row++) {
        const float *a = gates + row * width;
        float *dz = d_gates + row * width;
        const int64_t base = row * hidden;
        for (int64_t unit = 0; unit < hidden; unit++) {
            const float i = a[unit], j = a[hidden + unit], f = a[2 * hidden + unit], o = a[3 * hidden + unit];
            const float t = tanh_c[base + unit];
            const float dh_value = dh[base + unit];
            const float dc_value = dc[base + unit] + dh_value * o * (1.0f - t * t);
            dz[unit] = dc_value * j * i * (1.0f - i);
            dz[hidden + unit] = dc_value * i * (1.0f - j * j);
            dz[2 * hidden + unit] = dc_value * c_previous[base + unit] * f * (1.0f - f);
            dz[3 * hidden + unit] = dh_value * t * o * (1.0f - o);
            dc[base + unit] = dc_value * f;
        }
    }
}
