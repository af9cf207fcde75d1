// The CUDA decoder ops (cuda/ops.h) against their CPU twins (host/ops_cpu.h), case by case.
//
// Every case: a fixed seed, random normal inputs (never zeros), the twin on the host, the launcher on the
// device into an output POISONED with NaN (all bits set) and followed by a guard of poisoned floats, then
// ||gpu - cpu|| / ||cpu|| <= 1e-5 (float32; the arithmetic is shared, the sums' order is not), no NaN
// anywhere (an unwritten element stays NaN) and the guard intact (a write past the end fails). Shapes:
// tiny (C=1, T=1), odd (C not a multiple of 32 or of 4, pointers off 16-byte alignment, so the scalar
// paths run) and real (C=4096, HS=128, d_ff 11008, T up to 2048; attention over packed windows and a sliding
// window, grouped and multi-query heads, ALiBi). to_16bit_gpu (the 16-bit products' rounding) is compared bit for
// bit with CUDA's host conversions instead, ties to even and fp16's subnormals and overflow included.
//
// Without a usable GPU (no driver: 35, no device: 100, stub library: 34) every case prints one SKIP line
// with the runtime's answer and the program exits 0: never a silent pass. `--quick` skips the real
// shapes (for compute-sanitizer runs, bench/gpu/ops.sh).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/ops.h"
extern "C" {
#include "host/dequant.h"
#include "host/ops_cpu.h"
#include "host/threads.h"
#include "tests/test.h"
}

#define TOL 1e-5
#include "tests/cuda/gpu_test.h"  // defines: GUARD, dev_floats, dev_bytes, check_gpu_tol, gpu_unusable

static uint64_t seed = 0x5eed17ull;

static void rand_fill(float *x, size_t n, double scale) { rand_fill_seeded(&seed, x, n, scale); }
static void check_gpu(const char *what, const float *d, const float *ref, size_t n) { check_gpu_tol(what, d, ref, n, TOL); }

// ----------------------------------------------------------------------------
// the cases: one function per op, its shape in the table below

typedef struct Case Case;
struct Case {
    const char *name;
    void (*run)(const Case *);
    int T, C, a, b;  // shape; a, b: op-specific (see each function)
    float f;         // eps or theta
    int real;        // a real shape (--quick skips it)
};

// a = vocabulary size
static void run_embedding(const Case *k) {
    size_t n = (size_t)k->T * k->C;
    float *table = (float *)malloc((size_t)k->a * k->C * sizeof(float)), *ref = (float *)malloc(n * sizeof(float));
    int32_t *ids = (int32_t *)malloc((size_t)k->T * sizeof(int32_t));
    rand_fill(table, (size_t)k->a * k->C, 1.0);
    for (int t = 0; t < k->T; t++) ids[t] = (int32_t)(test_urand(&seed) * k->a) % k->a;
    embedding_forward_cpu(ref, ids, table, k->T, k->C);
    float *d_table = dev_floats(table, (size_t)k->a * k->C), *d_out = dev_floats(NULL, n);
    int32_t *d_ids = (int32_t *)dev_bytes(ids, (size_t)k->T * sizeof(int32_t));
    embedding_forward_gpu(d_out, d_ids, d_table, k->T, k->C, NULL);
    check_gpu(k->name, d_out, ref, n);
    cudaFree(d_table), cudaFree(d_out), cudaFree(d_ids);
    free(table), free(ref), free(ids);
}

// the bf16 table (raw bits, as stored) against the twin on its widened copy; a = vocabulary size
static void run_embedding_bf16(const Case *k) {
    size_t n = (size_t)k->T * k->C, nt = (size_t)k->a * k->C;
    float *table = (float *)malloc(nt * sizeof(float)), *ref = (float *)malloc(n * sizeof(float));
    uint16_t *bits = (uint16_t *)malloc(nt * sizeof(uint16_t));
    int32_t *ids = (int32_t *)malloc((size_t)k->T * sizeof(int32_t));
    rand_fill(table, nt, 1.0);
    for (size_t i = 0; i < nt; i++) {
        uint32_t u;
        memcpy(&u, &table[i], 4);
        bits[i] = (uint16_t)(u >> 16);
        table[i] = bf16_to_f32(bits[i]);
    }
    for (int t = 0; t < k->T; t++) ids[t] = (int32_t)(test_urand(&seed) * k->a) % k->a;
    embedding_forward_cpu(ref, ids, table, k->T, k->C);
    float *d_out = dev_floats(NULL, n);
    uint16_t *d_bits = (uint16_t *)dev_bytes(bits, nt * sizeof(uint16_t));
    int32_t *d_ids = (int32_t *)dev_bytes(ids, (size_t)k->T * sizeof(int32_t));
    embedding_bf16_forward_gpu(d_out, d_ids, d_bits, k->T, k->C, NULL);
    check_gpu(k->name, d_out, ref, n);
    cudaFree(d_out), cudaFree(d_bits), cudaFree(d_ids);
    free(table), free(ref), free(bits), free(ids);
}

// a = 1: LayerNorm (b = 1: with bias), else RMSNorm; a = 2: out aliases inp (RMSNorm)
static void run_norm(const Case *k) {
    size_t n = (size_t)k->T * k->C;
    float *x = (float *)malloc(n * sizeof(float)), *ref = (float *)malloc(n * sizeof(float));
    float *w = (float *)malloc((size_t)k->C * sizeof(float)), *bias = (float *)malloc((size_t)k->C * sizeof(float));
    rand_fill(x, n, 2.0);
    for (size_t i = 0; i < n; i++) x[i] += 0.5f;  // a mean away from 0, so LayerNorm's centring matters
    rand_fill(w, (size_t)k->C, 1.0);
    rand_fill(bias, (size_t)k->C, 0.5);
    float *d_x = dev_floats(x, n), *d_w = dev_floats(w, (size_t)k->C), *d_b = dev_floats(bias, (size_t)k->C);
    float *d_out = k->a == 2 ? d_x : dev_floats(NULL, n);
    if (k->a == 1) {
        layernorm_forward_cpu(ref, x, w, k->b ? bias : NULL, k->T, k->C, k->f);
        layernorm_forward_gpu(d_out, d_x, d_w, k->b ? d_b : NULL, k->T, k->C, k->f, NULL);
    } else {
        rmsnorm_forward_cpu(ref, x, w, k->T, k->C, k->f);
        rmsnorm_forward_gpu(d_out, d_x, d_w, k->T, k->C, k->f, NULL);
    }
    check_gpu(k->name, d_out, ref, n);
    if (d_out != d_x) cudaFree(d_out);
    cudaFree(d_x), cudaFree(d_w), cudaFree(d_b);
    free(x), free(ref), free(w), free(bias);
}

// C = NH * HS as the shape's row; a = HS, b = rot_dims; positions restart every 1000 tokens (packed windows)
// and run past 4096 in the real case
static void run_rope(const Case *k) {
    int HS = k->a, NH = k->C / HS;
    size_t n = (size_t)k->T * k->C;
    float *x = (float *)malloc(n * sizeof(float));
    int *pos = (int *)malloc((size_t)k->T * sizeof(int));
    rand_fill(x, n, 1.0);
    for (int t = 0; t < k->T; t++) pos[t] = k->T > 1000 ? t % 1000 + 3 * (t / 1000) * 1000 : t * 7 + 1;
    float *d_x = dev_floats(x, n);
    int *d_pos = (int *)dev_bytes(pos, (size_t)k->T * sizeof(int));
    rope_forward_cpu(x, pos, k->T, NH, HS, k->b, k->f);
    rope_forward_gpu(d_x, d_pos, k->T, NH, HS, k->b, k->f, NULL);
    check_gpu(k->name, d_x, x, n);
    cudaFree(d_x), cudaFree(d_pos);
    free(x), free(pos);
}

// C = F
static void run_swiglu(const Case *k) {
    size_t n = (size_t)k->T * k->C;
    float *gu = (float *)malloc(2 * n * sizeof(float)), *ref = (float *)malloc(n * sizeof(float));
    rand_fill(gu, 2 * n, 3.0);
    swiglu_rows_cpu(ref, gu, k->T, k->C);
    float *d_gu = dev_floats(gu, 2 * n), *d_out = dev_floats(NULL, n);
    swiglu_rows_gpu(d_out, d_gu, k->T, k->C, NULL);
    check_gpu(k->name, d_out, ref, n);
    cudaFree(d_gu), cudaFree(d_out);
    free(gu), free(ref);
}

// N = T * C; a = 0 GELU erf, 1 GELU tanh, 2 ReLU, 3 residual, 4 residual into a; b = offset in floats from
// the allocation's start (1: no 16-byte alignment, the scalar path)
static void run_elementwise(const Case *k) {
    size_t n = (size_t)k->T * k->C, off = (size_t)k->b;
    float *x = (float *)malloc((n + off) * sizeof(float)), *y = (float *)malloc((n + off) * sizeof(float));
    float *ref = (float *)malloc(n * sizeof(float));
    rand_fill(x, n + off, 3.0);
    rand_fill(y, n + off, 1.0);
    float *d_x = dev_floats(x, n + off), *d_y = dev_floats(y, n + off), *d_out = d_x + off;
    if (k->a <= 2) {
        memcpy(ref, x + off, n * sizeof(float));
        if (k->a == 2) relu_forward_cpu(ref, n);
        else gelu_forward_cpu(ref, n, k->a);
        if (k->a == 2) relu_forward_gpu(d_x + off, n, NULL);
        else gelu_forward_gpu(d_x + off, n, k->a, NULL);
    } else {
        residual_forward_cpu(ref, x + off, y + off, n);
        if (k->a == 3) d_out = dev_floats(NULL, n + off) + off;
        residual_forward_gpu(d_out, d_x + off, d_y + off, n, NULL);
    }
    check_gpu(k->name, d_out, ref, n);
    if (d_out != d_x + off) cudaFree(d_out - off);
    cudaFree(d_x), cudaFree(d_y);
    free(x), free(y), free(ref);
}

// to_16bit_gpu against CUDA's host conversions, bit for bit; a = 1 bf16, 0 fp16. Random values at every scale from
// 1e-9 to 1e6 (fp16's subnormals and overflow to infinity included), with each value's exact halfway points between
// two 16-bit neighbours mixed in, so ties to even are checked; into a poisoned output with a guard after it.
static void run_to_16bit(const Case *k) {
    size_t n = (size_t)k->T * k->C;
    float *x = (float *)malloc(n * sizeof(float));
    uint16_t *want = (uint16_t *)malloc((n + GUARD) * sizeof(uint16_t));
    uint16_t *got = (uint16_t *)malloc((n + GUARD) * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) {
        double mag = pow(10.0, -9.0 + 15.0 * test_urand(&seed)), v = (test_urand(&seed) < 0.5 ? -mag : mag);
        x[i] = (float)v;
        if (i % 3 == 2) {  // the midpoint of x[i - 1]'s 16-bit truncation and the next value up: exactly a float
            uint32_t bits;
            memcpy(&bits, &x[i - 1], sizeof bits);
            // bf16 keeps 7 of float's 23 fraction bits, fp16 10 (in its normal range): the dropped bits a half
            bits = k->a ? (bits & 0xffff0000u) | 0x8000u : (bits & ~0x1fffu) | 0x1000u;
            memcpy(&x[i], &bits, sizeof bits);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (k->a) {
            __nv_bfloat16 h = __float2bfloat16_rn(x[i]);
            memcpy(&want[i], &h, sizeof want[i]);
        } else {
            __half h = __float2half_rn(x[i]);
            memcpy(&want[i], &h, sizeof want[i]);
        }
    }
    for (size_t i = n; i < n + GUARD; i++) want[i] = 0xffffu;
    float *d_x = dev_floats(x, n);
    uint16_t *d_out = NULL;
    CHECK_CUDA(cudaMalloc(&d_out, (n + GUARD) * sizeof(uint16_t)));
    CHECK_CUDA(cudaMemset(d_out, 0xff, (n + GUARD) * sizeof(uint16_t)));
    to_16bit_gpu(d_out, d_x, n, k->a, NULL);
    CHECK_CUDA(cudaMemcpy(got, d_out, (n + GUARD) * sizeof(uint16_t), cudaMemcpyDeviceToHost));
    size_t bad = 0, first = n;
    for (size_t i = 0; i < n + GUARD; i++)
        if (got[i] != want[i]) bad++, first = first < i ? first : i;
    CHECK(bad == 0, "%s: %zu of %zu values differ from the host's conversion (first at %zu)", k->name, bad, n + GUARD,
          first);
    cudaFree(d_x), cudaFree(d_out);
    free(x), free(want), free(got);
}

// packed sequences for attention: one of length L0, n_short of short_len (the context experiment's windows),
// then one of length 1; Case.a indexes this table
typedef struct {
    int L0, n_short, short_len, NH, NKV, HS, alibi, window;
} AttnShape;
static const AttnShape attn_shapes[] = {
    {1, 0, 1, 1, 1, 1, 0, 0},          // tiny
    {40, 3, 7, 6, 2, 80, 1, 0},        // grouped heads, HS not a multiple of 32, ALiBi (MPT)
    {100, 5, 33, 4, 1, 64, 0, 17},     // multi-query, sliding window
    {9, 2, 3, 2, 2, 33, 0, 0},         // HS = 33
    {1000, 48, 16, 32, 8, 128, 0, 0},  // real: a long sequence and 48 windows of 16 tokens
    {2048, 0, 1, 32, 8, 128, 0, 512},  // real: Mistral-style window over 2048 tokens
};

static void run_attention(const Case *k) {
    const AttnShape *a = &attn_shapes[k->a];
    int n_seq = a->n_short + 2, T_max = a->L0 > a->short_len ? a->L0 : a->short_len;
    int *seq_start = (int *)malloc((size_t)(n_seq + 1) * sizeof(int));
    seq_start[0] = 0;
    seq_start[1] = a->L0;
    for (int s = 0; s < a->n_short; s++) seq_start[s + 2] = seq_start[s + 1] + a->short_len;
    seq_start[n_seq] = seq_start[n_seq - 1] + 1;
    int NT = seq_start[n_seq];
    size_t nq = (size_t)NT * a->NH * a->HS, nkv = (size_t)NT * a->NKV * a->HS;
    float *q = (float *)malloc(nq * sizeof(float)), *kk = (float *)malloc(nkv * sizeof(float));
    float *v = (float *)malloc(nkv * sizeof(float)), *ref = (float *)malloc(nq * sizeof(float));
    float slopes[64];
    for (int h = 0; h < a->NH; h++) slopes[h] = exp2f(-8.0f * (float)(h + 1) / (float)a->NH);  // MPT's slopes
    rand_fill(q, nq, 1.0);
    rand_fill(kk, nkv, 1.0);
    rand_fill(v, nkv, 1.0);
    int threads = threads_count();
    float *scores = (float *)malloc(attention_scratch_floats(T_max, threads) * sizeof(float));
    attention_forward_cpu(ref, scores, threads, q, kk, v, seq_start, n_seq, a->NH, a->NKV, a->HS,
                          a->alibi ? slopes : NULL, a->window);
    float *d_q = dev_floats(q, nq), *d_k = dev_floats(kk, nkv), *d_v = dev_floats(v, nkv);
    float *d_out = dev_floats(NULL, nq), *d_slopes = dev_floats(slopes, (size_t)a->NH);
    int *d_seq = (int *)dev_bytes(seq_start, (size_t)(n_seq + 1) * sizeof(int));
    attention_forward_gpu(d_out, d_q, d_k, d_v, d_seq, n_seq, NT, a->NH, a->NKV, a->HS, a->alibi ? d_slopes : NULL,
                          a->window, NULL);
    check_gpu(k->name, d_out, ref, nq);
    cudaFree(d_q), cudaFree(d_k), cudaFree(d_v), cudaFree(d_out), cudaFree(d_slopes), cudaFree(d_seq);
    free(q), free(kk), free(v), free(ref), free(scores), free(seq_start);
}

static const Case cases[] = {
    // name                                   run              T     C     a    b    f       real
    {"embedding/tiny T=1 C=1", run_embedding, 1, 1, 5, 0, 0, 0},
    {"embedding/odd T=7 C=33", run_embedding, 7, 33, 50, 0, 0, 0},
    {"embedding/real T=512 C=4096", run_embedding, 512, 4096, 1000, 0, 0, 1},
    {"embedding_bf16/tiny T=1 C=1", run_embedding_bf16, 1, 1, 5, 0, 0, 0},
    {"embedding_bf16/odd T=7 C=33", run_embedding_bf16, 7, 33, 50, 0, 0, 0},
    {"embedding_bf16/real T=512 C=4096", run_embedding_bf16, 512, 4096, 1000, 0, 0, 1},
    {"rmsnorm/tiny T=1 C=1", run_norm, 1, 1, 0, 0, 1e-5f, 0},
    {"rmsnorm/odd T=1 C=33", run_norm, 1, 33, 0, 0, 1e-6f, 0},
    {"rmsnorm/odd T=7 C=4097", run_norm, 7, 4097, 0, 0, 1e-5f, 0},
    {"rmsnorm/in_place T=5 C=4096", run_norm, 5, 4096, 2, 0, 1e-5f, 0},
    {"rmsnorm/real T=2048 C=4096", run_norm, 2048, 4096, 0, 0, 1e-5f, 1},
    {"layernorm/tiny T=1 C=1", run_norm, 1, 1, 1, 1, 1e-5f, 0},
    {"layernorm/odd T=1 C=33", run_norm, 1, 33, 1, 1, 1e-5f, 0},
    {"layernorm/odd_nobias T=7 C=4097", run_norm, 7, 4097, 1, 0, 1e-5f, 0},
    {"layernorm/real T=2048 C=4096", run_norm, 2048, 4096, 1, 1, 1e-5f, 1},
    {"layernorm/real_nobias T=512 C=4096", run_norm, 512, 4096, 1, 0, 1e-5f, 1},
    {"rope/tiny T=1 NH=1 HS=2", run_rope, 1, 2, 2, 2, 10000.0f, 0},
    {"rope/odd_partial T=3 NH=3 HS=6 rot=4", run_rope, 3, 18, 6, 4, 10000.0f, 0},
    {"rope/odd_partial T=5 NH=2 HS=80 rot=20", run_rope, 5, 160, 80, 20, 10000.0f, 0},
    {"rope/real T=2048 NH=32 HS=128", run_rope, 2048, 4096, 128, 128, 500000.0f, 1},
    {"rope/real_partial T=2048 NH=32 HS=128 rot=32", run_rope, 2048, 4096, 128, 32, 10000.0f, 1},
    {"swiglu/tiny T=1 F=1", run_swiglu, 1, 1, 0, 0, 0, 0},
    {"swiglu/odd T=3 F=33", run_swiglu, 3, 33, 0, 0, 0, 0},
    {"swiglu/real T=512 F=11008", run_swiglu, 512, 11008, 0, 0, 0, 1},
    {"gelu_erf/tiny N=1", run_elementwise, 1, 1, 0, 0, 0, 0},
    {"gelu_erf/odd_unaligned N=1001", run_elementwise, 1, 1001, 0, 1, 0, 0},
    {"gelu_erf/real N=2048*3072", run_elementwise, 2048, 3072, 0, 0, 0, 1},
    {"gelu_tanh/tiny N=1", run_elementwise, 1, 1, 1, 0, 0, 0},
    {"gelu_tanh/odd N=1003", run_elementwise, 1, 1003, 1, 0, 0, 0},
    {"gelu_tanh/odd_unaligned N=1001", run_elementwise, 1, 1001, 1, 1, 0, 0},
    {"gelu_tanh/real N=2048*3072", run_elementwise, 2048, 3072, 1, 0, 0, 1},
    {"relu/tiny N=1", run_elementwise, 1, 1, 2, 0, 0, 0},
    {"relu/odd_unaligned N=1001", run_elementwise, 1, 1001, 2, 1, 0, 0},
    {"relu/real N=2048*16384", run_elementwise, 2048, 16384, 2, 0, 0, 1},
    {"residual/tiny N=1", run_elementwise, 1, 1, 3, 0, 0, 0},
    {"residual/odd N=4097", run_elementwise, 1, 4097, 3, 0, 0, 0},
    {"residual/odd_unaligned N=4097", run_elementwise, 1, 4097, 3, 1, 0, 0},
    {"residual/in_place N=4096*7", run_elementwise, 7, 4096, 4, 0, 0, 0},
    {"residual/real N=2048*4096", run_elementwise, 2048, 4096, 3, 0, 0, 1},
    {"to_16bit/bf16 tiny N=1", run_to_16bit, 1, 1, 1, 0, 0, 0},
    {"to_16bit/bf16 odd N=3001 with ties", run_to_16bit, 1, 3001, 1, 0, 0, 0},
    {"to_16bit/fp16 odd N=3001 subnormals and overflow", run_to_16bit, 1, 3001, 0, 0, 0, 0},
    {"to_16bit/bf16 real N=2048*11008", run_to_16bit, 2048, 11008, 1, 0, 0, 1},
    {"attention/tiny T=1 NH=1 HS=1", run_attention, 0, 0, 0, 0, 0, 0},
    {"attention/odd_gqa_alibi seqs=40,7x3,1 NH=6 NKV=2 HS=80", run_attention, 0, 0, 1, 0, 0, 0},
    {"attention/odd_mqa_window seqs=100,33x5,1 NH=4 NKV=1 HS=64 w=17", run_attention, 0, 0, 2, 0, 0, 0},
    {"attention/odd_hs seqs=9,3x2,1 NH=2 HS=33", run_attention, 0, 0, 3, 0, 0, 0},
    {"attention/real_packed seqs=1000,16x48,1 NH=32 NKV=8 HS=128", run_attention, 0, 0, 4, 0, 0, 1},
    {"attention/real_window T=2048 NH=32 NKV=8 HS=128 w=512", run_attention, 0, 0, 5, 0, 0, 1},
};

TEST_MAIN("test_ops_gpu") {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    char why[256];
    const char *no_gpu = gpu_unusable(why, sizeof why);
    if (!no_gpu) {
        cudaDeviceProp p;
        CHECK_CUDA(cudaGetDeviceProperties(&p, 0));
        printf("GPU: %s, compute capability %d.%d\n", p.name, p.major, p.minor);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (no_gpu) SKIP(cases[i].name, no_gpu);
        else if (quick && cases[i].real) SKIP(cases[i].name, "--quick: real shapes left out");
        else cases[i].run(&cases[i]);
    }
}
