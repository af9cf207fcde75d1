#include "host/ops_cpu.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

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

// row[0..n) = softmax(row[0..n)); row[n..total) = 0. Compiled for AVX-512, AVX2 and baseline x86-64,
// chosen at run time, so one binary runs everywhere and uses the widest vectors it finds.
__attribute__((target_clones("default", "avx2", "avx512f"))) static void softmax_prefix(float *row, int n, int total) {
    float mx = row[0];
#pragma omp simd reduction(max : mx)
    for (int j = 1; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        row[j] = exp_nonpositive(row[j] - mx);
        sum += row[j];
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < n; j++) row[j] *= inv;
    for (int j = n; j < total; j++) row[j] = 0.0f;
}

size_t attention_scratch_floats(int T, int threads) { return (size_t)threads * ATTN_QUERY_BLOCK * (size_t)T; }

void attention_forward_cpu(float *out, float *scores, int threads, const float *q, const float *k, const float *v, int T,
                           int NH, int NKV, int HS) {
    const int q_stride = NH * HS, kv_stride = NKV * HS, group = NH / NKV;
    const int n_blocks = (T + ATTN_QUERY_BLOCK - 1) / ATTN_QUERY_BLOCK;
    const float scale = 1.0f / sqrtf((float)HS);
    // later query blocks see more keys, so hand out (head, block) pairs dynamically, largest first
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (NH * n_blocks > 1)
    for (int work = 0; work < NH * n_blocks; work++) {
        int h = work % NH, blk = n_blocks - 1 - work / NH;
        float *sc = scores + (size_t)omp_get_thread_num() * ATTN_QUERY_BLOCK * T;
        const float *kh = k + (size_t)(h / group) * HS, *vh = v + (size_t)(h / group) * HS;
        int q0 = blk * ATTN_QUERY_BLOCK;
        int nq = T - q0 < ATTN_QUERY_BLOCK ? T - q0 : ATTN_QUERY_BLOCK;
        int nk = q0 + nq;  // causal: this block sees keys [0, q0 + nq)
        // scores (nq, nk) = q_block (nq, HS) @ k (nk, HS)^T * scale
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, HS, scale, q + (size_t)q0 * q_stride + h * HS,
                    q_stride, kh, kv_stride, 0.0f, sc, nk);
        for (int r = 0; r < nq; r++) softmax_prefix(sc + (size_t)r * nk, q0 + r + 1, nk);
        // out_block (nq, HS) = probs (nq, nk) @ v (nk, HS)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, HS, nk, 1.0f, sc, nk, vh, kv_stride, 0.0f,
                    out + (size_t)q0 * q_stride + h * HS, q_stride);
    }
}

void swiglu_forward_cpu(float *out, const float *gate, const float *up, size_t N) {
#pragma omp parallel for if (N >= PARALLEL_MIN)
    for (size_t i = 0; i < N; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void residual_forward_cpu(float *out, const float *a, const float *b, size_t N) {
#pragma omp parallel for if (N >= PARALLEL_MIN)
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}
