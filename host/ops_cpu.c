#include "host/ops_cpu.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/ops_math.h"  // the per-element arithmetic the CUDA kernels share

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
    if (bias) bias_add_cpu(out, bias, T, OC);
}

void bias_add_cpu(float *out, const float *bias, int T, int OC) {
#pragma omp parallel for if ((size_t)T * OC >= PARALLEL_MIN)
    for (int t = 0; t < T; t++)
        for (int o = 0; o < OC; o++) out[(size_t)t * OC + o] += bias[o];
}

// dst = src over n values, clamped to [-clip, clip] when clip > 0
static void copy_clipped(float *dst, const float *src, size_t n, float clip) {
    if (clip <= 0) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = clip_value(src[i], clip);
}

void qkv_split_cpu(float *q, float *k, float *v, const float *qkv, int T, int QD, int KD, float clip) {
    const size_t row = (size_t)QD + 2 * (size_t)KD;
    for (int t = 0; t < T; t++) {
        const float *src = qkv + (size_t)t * row;
        copy_clipped(q + (size_t)t * QD, src, (size_t)QD, clip);
        copy_clipped(k + (size_t)t * KD, src + QD, (size_t)KD, clip);
        copy_clipped(v + (size_t)t * KD, src + QD + KD, (size_t)KD, clip);
    }
}

void positions_add_cpu(float *out, const float *table, const int *pos, int offset, int T, int C) {
    for (int t = 0; t < T; t++) {
        const float *pe = table + (size_t)(pos[t] + offset) * C;
        float *o = out + (size_t)t * C;
        for (int i = 0; i < C; i++) o[i] += pe[i];
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
        float rstd = rmsnorm_rstd(ss, C, eps);
        for (int c = 0; c < C; c++) y[c] = rmsnorm_apply(x[c], rstd, weight[c]);
    }
}

void layernorm_forward_cpu(float *out, const float *inp, const float *weight, const float *bias, int T, int C,
                           float eps) {
#pragma omp parallel for if ((size_t)T * C >= PARALLEL_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C;
        float *y = out + (size_t)t * C;
        double sum = 0.0, var = 0.0;
        for (int c = 0; c < C; c++) sum += x[c];
        double mean = sum / C;
        for (int c = 0; c < C; c++) var += ((double)x[c] - mean) * ((double)x[c] - mean);
        float m = layernorm_mean(sum, C), rstd = layernorm_rstd(var, C, eps);
        for (int c = 0; c < C; c++) y[c] = layernorm_apply(x[c], m, rstd, weight[c], bias, c);
    }
}

void rope_forward_cpu(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta) {
    int half = rot_dims / 2;
#pragma omp parallel for if ((size_t)T * NH * HS >= PARALLEL_MIN)
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            float c, s;
            rope_cos_sin(&c, &s, pos[t], rope_inv_freq(i, rot_dims, theta));
            for (int h = 0; h < NH; h++) {
                float *v = x + ((size_t)t * NH + h) * HS;
                rope_rotate(&v[i], &v[i + half], c, s);
            }
        }
    }
}

// exp_nonpositive, silu_mul, gelu_tanh, ...: host/ops_math.h

// row[lo..hi) = softmax(row[lo..hi) + slope * (j - i)); the rest of row[0..total) = 0. Compiled for
// AVX-512, AVX2 and baseline x86-64, chosen at run time: one binary, the widest vectors it finds.
__attribute__((target_clones("default", "avx2", "avx512f"))) static void softmax_range(float *row, int lo, int hi,
                                                                                      int total, float slope, int i) {
    if (slope != 0.0f) {
#pragma omp simd
        for (int j = lo; j < hi; j++) row[j] += attn_alibi(slope, i, j);
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
    const float scale = attn_scale(HS);
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
        int k0 = attn_first_key(q0, window);  // the first key any query of the block sees
        int nk = q0 + nq - k0;
        // scores (nq, nk) = q_block (nq, HS) @ k[k0 .. q0 + nq) (nk, HS)^T * scale
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, HS, scale,
                    q + (size_t)(base + q0) * q_stride + (size_t)h * HS, q_stride, kh + (size_t)k0 * kv_stride,
                    kv_stride, 0.0f, sc, nk);
        float slope = alibi ? alibi[h] : 0.0f;
        for (int r = 0; r < nq; r++) {
            int i = q0 + r, lo = attn_first_key(i, window);  // >= k0, as i >= q0
            softmax_range(sc + (size_t)r * nk, lo - k0, i + 1 - k0, nk, slope, i - k0);
        }
        // out_block (nq, HS) = probs (nq, nk) @ v[k0 ..] (nk, HS)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, HS, nk, 1.0f, sc, nk, vh + (size_t)k0 * kv_stride,
                    kv_stride, 0.0f, out + (size_t)(base + q0) * q_stride + (size_t)h * HS, q_stride);
    }
    free(item_seq);
}

// o = silu(g) * u over n values (silu_mul: host/ops_math.h). Cloned per ISA like softmax_range.
__attribute__((target_clones("default", "avx2", "avx512f"))) static void silu_mul_row(float *o, const float *g,
                                                                                      const float *u, int n) {
    for (int i = 0; i < n; i++) o[i] = silu_mul(g[i], u[i]);
}

// GPT-2's gelu_new in place (gelu_tanh: host/ops_math.h), cloned per ISA
__attribute__((target_clones("default", "avx2", "avx512f"))) static void gelu_tanh_row(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = gelu_tanh(x[i]);
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
        for (size_t i = 0; i < N; i++) x[i] = gelu_erf(x[i]);
    }
}

void relu_forward_cpu(float *x, size_t N) {
#pragma omp parallel for if (N >= PARALLEL_MIN)
    for (size_t i = 0; i < N; i++) x[i] = relu(x[i]);
}

void residual_forward_cpu(float *out, const float *a, const float *b, size_t N) {
#pragma omp parallel for if (N >= PARALLEL_MIN)
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}
