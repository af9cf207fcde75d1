#include "host/ops_cpu.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"

// element-wise loops below this many elements stay on one thread: a parallel region costs more
#define PARALLEL_MIN 16384

void matmul_forward_cpu(float *out, const float *inp, const float *weight, const float *bias, int T, int C, int OC) {
    int threads = omp_get_max_threads();
    if (threads > 1 && T >= 16 * threads) {
        // each thread one row block, one single-threaded sgemm; blocks are multiples of 8 rows
#pragma omp parallel
        {
            int n = omp_get_num_threads(), id = omp_get_thread_num();
            int rows = ((T + n - 1) / n + 7) / 8 * 8, t0 = id * rows, t1 = t0 + rows < T ? t0 + rows : T;
            if (t0 < T)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t1 - t0, OC, C, 1.0f, inp + (size_t)t0 * C, C,
                            weight, C, 0.0f, out + (size_t)t0 * OC, OC);
        }
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
    }
    if (bias) {
#pragma omp parallel for if ((size_t)T * OC >= PARALLEL_MIN)
        for (int t = 0; t < T; t++)
            for (int o = 0; o < OC; o++) out[(size_t)t * OC + o] += bias[o];
    }
}

void embedding_forward_cpu(float *out, const int32_t *ids, const float *table, int T, int C) {
    for (int t = 0; t < T; t++) memcpy(out + (size_t)t * C, table + (size_t)ids[t] * C, (size_t)C * sizeof(float));
}

void rmsnorm_forward_cpu(float *out, const float *inp, const float *weight, int T, int C, float eps) {
#pragma omp parallel for if ((size_t)T * C >= PARALLEL_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C;
        float *y = out + (size_t)t * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
        float rstd = 1.0f / sqrtf((float)(ss / C) + eps);
        for (int c = 0; c < C; c++) y[c] = weight[c] * (x[c] * rstd);
    }
}

void layernorm_forward_cpu(float *out, const float *inp, const float *weight, const float *bias, int T, int C,
                           float eps) {
#pragma omp parallel for if ((size_t)T * C >= PARALLEL_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C;
        float *y = out + (size_t)t * C;
        double mean = 0.0, var = 0.0;
        for (int c = 0; c < C; c++) mean += x[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += ((double)x[c] - mean) * ((double)x[c] - mean);
        float m = (float)mean, rstd = 1.0f / sqrtf((float)(var / C) + eps);
        for (int c = 0; c < C; c++) y[c] = (x[c] - m) * rstd * weight[c] + (bias ? bias[c] : 0.0f);
    }
}

void rope_forward_cpu(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta) {
    int half = rot_dims / 2;
#pragma omp parallel for if ((size_t)T * NH * HS >= PARALLEL_MIN)
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            // transformers: inv_freq = 1 / base ** (arange(0, dim, 2) / dim), float32 throughout
            float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)rot_dims);
            float angle = (float)pos[t] * inv_freq;
            float c = (float)cos((double)angle), s = (float)sin((double)angle);
            for (int h = 0; h < NH; h++) {
                float *v = x + ((size_t)t * NH + h) * HS;
                float a = v[i], b = v[i + half];
                v[i] = a * c - b * s;
                v[i + half] = b * c + a * s;
            }
        }
    }
}

// exp(x) for x <= 0, branch-free so the loops below vectorise: 2^(x log2 e) split into 2^k (built
// in the exponent bits) and 2^f, f in [-1/2, 1/2], by its degree-6 Taylor polynomial (relative
// error below 2e-7, about libm's). Below 2^-126 the result is 0. The selects stay branch-free only
// without -ftrapping-math, which the Makefile turns off (brainsweep never reads FP exception flags).
static inline float exp_nonpositive(float x) {
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

// row[lo..hi) = softmax(row[lo..hi) + slope * (j - i)); the rest of row[0..total) = 0. Compiled for
// AVX-512, AVX2 and baseline x86-64, chosen at run time: one binary, the widest vectors it finds.
__attribute__((target_clones("default", "avx2", "avx512f"))) static void softmax_range(float *row, int lo, int hi,
                                                                                      int total, float slope, int i) {
    if (slope != 0.0f) {
#pragma omp simd
        for (int j = lo; j < hi; j++) row[j] += slope * (float)(j - i);
    }
    float mx = row[lo];
#pragma omp simd reduction(max : mx)
    for (int j = lo + 1; j < hi; j++) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = lo; j < hi; j++) {
        row[j] = exp_nonpositive(row[j] - mx);
        sum += row[j];
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = lo; j < hi; j++) row[j] *= inv;
    for (int j = 0; j < lo; j++) row[j] = 0.0f;
    for (int j = hi; j < total; j++) row[j] = 0.0f;
}

size_t attention_scratch_floats(int T_max, int threads) { return (size_t)threads * ATTN_QUERY_BLOCK * (size_t)T_max; }

void attention_forward_cpu(float *out, float *scores, int threads, const float *q, const float *k, const float *v,
                           const int *seq_start, int n_seq, int NH, int NKV, int HS, const float *alibi, int window) {
    const int q_stride = NH * HS, kv_stride = NKV * HS, group = NH / NKV;
    const float scale = 1.0f / sqrtf((float)HS);
    // work items: (sequence, query block) pairs, each for every head
    int n_items = 0, T_max = 0;  // each thread's scores take T_max columns of the scratch
    for (int s = 0; s < n_seq; s++) {
        int T = seq_start[s + 1] - seq_start[s];
        n_items += (T + ATTN_QUERY_BLOCK - 1) / ATTN_QUERY_BLOCK;
        if (T > T_max) T_max = T;
    }
    int *item_seq = base_malloc((size_t)(n_items + 1) * sizeof(int) * 2, "attention items"), *item_blk = item_seq + n_items + 1;
    for (int s = 0, n = 0; s < n_seq; s++)
        for (int q0 = 0; q0 < seq_start[s + 1] - seq_start[s]; q0 += ATTN_QUERY_BLOCK, n++) {
            item_seq[n] = s;
            item_blk[n] = q0;
        }
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (NH * n_items > 1)
    for (int work = 0; work < NH * n_items; work++) {
        int h = work % NH, it = work / NH, s = item_seq[it], q0 = item_blk[it];
        int base = seq_start[s], T = seq_start[s + 1] - base;
        float *sc = scores + (size_t)omp_get_thread_num() * ATTN_QUERY_BLOCK * (size_t)T_max;
        const float *kh = k + (size_t)base * kv_stride + (size_t)(h / group) * HS;
        const float *vh = v + (size_t)base * kv_stride + (size_t)(h / group) * HS;
        int nq = T - q0 < ATTN_QUERY_BLOCK ? T - q0 : ATTN_QUERY_BLOCK;
        int k0 = window > 0 && q0 - window + 1 > 0 ? q0 - window + 1 : 0;  // first key any query here sees
        int nk = q0 + nq - k0;
        // scores (nq, nk) = q_block (nq, HS) @ k[k0 .. q0 + nq) (nk, HS)^T * scale
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, HS, scale,
                    q + (size_t)(base + q0) * q_stride + (size_t)h * HS, q_stride, kh + (size_t)k0 * kv_stride,
                    kv_stride, 0.0f, sc, nk);
        float slope = alibi ? alibi[h] : 0.0f;
        for (int r = 0; r < nq; r++) {
            int i = q0 + r, lo = window > 0 && i - window + 1 > k0 ? i - window + 1 : k0;
            softmax_range(sc + (size_t)r * nk, lo - k0, i + 1 - k0, nk, slope, i - k0);
        }
        // out_block (nq, HS) = probs (nq, nk) @ v[k0 ..] (nk, HS)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, HS, nk, 1.0f, sc, nk, vh + (size_t)k0 * kv_stride,
                    kv_stride, 0.0f, out + (size_t)(base + q0) * q_stride + (size_t)h * HS, q_stride);
    }
    free(item_seq);
}

// o = silu(g) * u over n values, with sigmoid(g) from e = exp(-|g|): 1 / (1 + e) for g >= 0, e / (1 + e)
// below, so the exponent never overflows. Cloned per ISA like softmax_range.
__attribute__((target_clones("default", "avx2", "avx512f"))) static void silu_mul_row(float *o, const float *g,
                                                                                      const float *u, int n) {
    for (int i = 0; i < n; i++) {
        float e = exp_nonpositive(-fabsf(g[i]));
        float sigmoid = (g[i] >= 0.0f ? 1.0f : e) / (1.0f + e);
        o[i] = g[i] * sigmoid * u[i];
    }
}

// GPT-2's gelu_new in place: 0.5 x (1 + tanh(y)), y = sqrt(2/pi) (x + 0.044715 x^3), with
// tanh(|y|) = (1 - e) / (1 + e), e = exp(-2|y|)
__attribute__((target_clones("default", "avx2", "avx512f"))) static void gelu_tanh_row(float *x, size_t n) {
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    for (size_t i = 0; i < n; i++) {
        float v = x[i], y = k * (v + 0.044715f * v * v * v);
        float e = exp_nonpositive(-2.0f * fabsf(y)), th = (1.0f - e) / (1.0f + e);
        x[i] = 0.5f * v * (1.0f + (y >= 0.0f ? th : -th));
    }
}

void swiglu_rows_cpu(float *out, const float *gu, int T, int F) {
#pragma omp parallel for if ((size_t)T * F >= PARALLEL_MIN)
    for (int t = 0; t < T; t++) silu_mul_row(out + (size_t)t * F, gu + (size_t)t * 2 * F, gu + (size_t)t * 2 * F + F, F);
}

void gelu_forward_cpu(float *x, size_t N, int tanh_approx) {
    const size_t block = 4096;
    if (tanh_approx) {
#pragma omp parallel for if (N >= PARALLEL_MIN)
        for (size_t i = 0; i < N; i += block) gelu_tanh_row(x + i, N - i < block ? N - i : block);
    } else {
#pragma omp parallel for if (N >= PARALLEL_MIN)
        for (size_t i = 0; i < N; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.7071067811865476f));
    }
}

void relu_forward_cpu(float *x, size_t N) {
#pragma omp parallel for if (N >= PARALLEL_MIN)
    for (size_t i = 0; i < N; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void residual_forward_cpu(float *out, const float *a, const float *b, size_t N) {
#pragma omp parallel for if (N >= PARALLEL_MIN)
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}
