/*
 * ops_math: the per-element arithmetic of the decoder ops, one definition for the CPU twin
 * (host/ops_cpu.c) and the CUDA kernels (the .cu files of cuda/ops/).
 *
 * Header-only and BS_HD (host/base.h: __host__ __device__ under nvcc, nothing in C), so the CPU
 * tests exercise exactly the expressions the kernels run. Plain C11, no CUDA types. The CPU build
 * has no FMA contraction (-std=c11 implies -ffp-contract=off), so ops_cpu.c's results are the same
 * bits as before these functions moved here; nvcc contracts a*b+c into FMA on the device, which
 * moves results by an ulp or so, far inside the 1e-5 the GPU tests allow.
 * Nothing here allocates or fails.
 */
#ifndef HOST_OPS_MATH_H
#define HOST_OPS_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "host/base.h"

// exp(x) for x <= 0, branch-free so the CPU loops vectorise: 2^(x log2 e) split into 2^k (built
// in the exponent bits) and 2^f, f in [-1/2, 1/2], by its degree-6 Taylor polynomial (relative
// error below 2e-7, about libm's). Below 2^-126 the result is 0; x is first clamped at -100 (whose
// result is 0 already) so the float-to-int conversion stays defined for -inf, NaN and huge negative
// scores (undefined behaviour in C, saturated on the GPU). The selects stay branch-free only
// without -ftrapping-math, which the Makefile turns off (brainsweep never reads FP exception flags).
// The kernels use it too, so GPU and CPU softmax/SiLU/GELU share their error, not just their formula.
static inline BS_HD float exp_nonpositive(float x) {
    x = x >= -100.0f ? x : -100.0f;  // NaN too (a corrupt model's activations): 0, as x86 gave for (int)NaN
    float t = x * 1.44269504088896341f;
    int k = (int)(t - 0.5f);  // round to nearest for t <= 0 (conversion truncates toward zero)
    int under = k < -126;
    k = under ? -126 : k;
    float f = t - (float)k;
    float p = 1.0f + f * (0.693147181f + f * (0.240226507f + f * (0.0555041087f + f * (0.00961812911f +
              f * (0.00133335581f + f * 0.000154035304f)))));
    int32_t bits = (k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return under ? 0.0f : p * scale;
}

// ----------------------------------------------------------------------------
// activations

// silu(g) * u, with sigmoid(g) from e = exp(-|g|): 1 / (1 + e) for g >= 0, e / (1 + e) below, so
// the exponent never overflows (LlamaMLP: act_fn(gate_proj(x)) * up_proj(x))
static inline BS_HD float silu_mul(float g, float u) {
    float e = exp_nonpositive(-fabsf(g));
    float sigmoid = (g >= 0.0f ? 1.0f : e) / (1.0f + e);
    return g * sigmoid * u;
}

// GELU, exact form (nn.GELU(), transformers' "gelu"): 0.5 x (1 + erf(x / sqrt 2))
static inline BS_HD float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f)); }

// GPT-2's gelu_new: 0.5 x (1 + tanh(y)), y = sqrt(2/pi) (x + 0.044715 x^3), with
// tanh(|y|) = (1 - e) / (1 + e), e = exp(-2|y|): no overflow for large |y|
static inline BS_HD float gelu_tanh(float x) {
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    float y = k * (x + 0.044715f * x * x * x);
    float e = exp_nonpositive(-2.0f * fabsf(y)), th = (1.0f - e) / (1.0f + e);
    return 0.5f * x * (1.0f + (y >= 0.0f ? th : -th));
}

static inline BS_HD float relu(float x) { return x > 0.0f ? x : 0.0f; }

// MPT's clip_qkv: x clamped to [-clip, clip] (callers pass clip > 0 only); a NaN stays NaN, as torch.clamp keeps it
static inline BS_HD float clip_value(float x, float clip) { return x > clip ? clip : x < -clip ? -clip : x; }

// ----------------------------------------------------------------------------
// norms: the accumulation (float64, long rows) is each side's own loop or reduction; the step from
// the sums to the scale is here, so both round it the same way

// LlamaRMSNorm: 1 / sqrt(mean(x^2) + eps) from sumsq = sum of x^2 over C values
static inline BS_HD float rmsnorm_rstd(double sumsq, int C, float eps) {
    return 1.0f / sqrtf((float)(sumsq / C) + eps);
}

// one output element: weight * (x * rstd), in that order (LlamaRMSNorm: weight * hidden_states.to(dtype))
static inline BS_HD float rmsnorm_apply(float x, float rstd, float w) { return w * (x * rstd); }

// nn.LayerNorm, biased variance: from sum = sum of x and the sum of squared deviations from the
// mean (two passes, so no cancellation), the mean and 1 / sqrt(var + eps)
static inline BS_HD float layernorm_mean(double sum, int C) { return (float)(sum / C); }
static inline BS_HD float layernorm_rstd(double sqdev, int C, float eps) {
    return 1.0f / sqrtf((float)(sqdev / C) + eps);
}
// one output element; bias may be NULL (MPT)
static inline BS_HD float layernorm_apply(float x, float mean, float rstd, float w, const float *bias, int c) {
    return (x - mean) * rstd * w + (bias ? bias[c] : 0.0f);
}

// ----------------------------------------------------------------------------
// RoPE (transformers' rotate_half form)

// inv_freq[i] = 1 / theta^(2i / rot_dims), float32 throughout as transformers computes it
// (modeling_rope_utils: 1.0 / base ** (arange(0, dim, 2) / dim)). The CUDA launcher evaluates
// this on the host and passes the table to the kernel: the device's powf may differ from libm's
// by an ulp, and an ulp of the frequency is pos ulps of the angle (1e-3 rad at pos 4096).
static inline BS_HD float rope_inv_freq(int i, int rot_dims, float theta) {
    return 1.0f / powf(theta, (float)(2 * i) / (float)rot_dims);
}

// cos and sin of the angle pos * inv_freq (float32 product, as HF's position_ids @ inv_freq),
// each evaluated in float64 and rounded, so the CPU's libm and CUDA agree to the last bit or so
static inline BS_HD void rope_cos_sin(float *c, float *s, int pos, float inv_freq) {
    float angle = (float)pos * inv_freq;
    *c = (float)cos((double)angle);
    *s = (float)sin((double)angle);
}

// the pair (x[i], x[i + rot_dims/2]) rotated: x*cos + rotate_half(x)*sin
static inline BS_HD void rope_rotate(float *a, float *b, float c, float s) {
    float x0 = *a, x1 = *b;
    *a = x0 * c - x1 * s;
    *b = x1 * c + x0 * s;
}

// ----------------------------------------------------------------------------
// attention

// the scores' scale, 1 / sqrt(head size) (eager_attention_forward's scaling = head_dim ** -0.5)
static inline BS_HD float attn_scale(int HS) { return 1.0f / sqrtf((float)HS); }
// query i of a sequence sees keys [attn_first_key(i, window), i]: causal, and a window > 0 hides
// keys with i - j >= window (Mistral's sliding window)
static inline BS_HD int attn_first_key(int i, int window) { return window > 0 && i - window + 1 > 0 ? i - window + 1 : 0; }
// ALiBi (MPT, Press et al. 2022): slope * (j - i), added to the scaled score
static inline BS_HD float attn_alibi(float slope, int i, int j) { return slope * (float)(j - i); }

// Online softmax (Milakov & Gimelshein 2018): running max m and running sum l of exp(s - m) over
// the scores seen so far. Taking score s: returns the factor that rescales what was accumulated
// under the old max (the sum and the weighted values), and sets *p = exp(s - m_new), the new
// score's weight. Starting state m = -INFINITY, l = 0; at the end out = acc / l.
static inline BS_HD float softmax_online_update(float *m, float *l, float *p, float s) {
    float m_new = s > *m ? s : *m;
    float rescale = exp_nonpositive(*m - m_new);  // 0 on the first score (m = -inf)
    *p = exp_nonpositive(s - m_new);
    *l = *l * rescale + *p;
    *m = m_new;
    return rescale;
}

#endif  // HOST_OPS_MATH_H
