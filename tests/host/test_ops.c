// The CPU twins against plain loops in float64, on random inputs at tiny, odd and model shapes.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "host/base.h"
#include "host/ops_cpu.h"
#include "host/ops_math.h"
#include "host/model.h"
#include "host/threads.h"
#include "tests/test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {  // uniform in [-1, 1), never all zeros
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 4503599627370496.0 - 1.0);
}
static float *rand_array(size_t n) {
    float *a = base_malloc(n * sizeof(float), "test");
    for (size_t i = 0; i < n; i++) a[i] = frand();
    return a;
}
static double *as_double(const float *a, size_t n) {
    double *d = base_malloc(n * sizeof(double), "test");
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}
static float *poisoned(size_t n) {  // outputs start as NaN so unwritten elements fail
    float *a = base_malloc(n * sizeof(float), "test");
    for (size_t i = 0; i < n; i++) a[i] = NAN;
    return a;
}

static void check_matmul(int T, int C, int OC, int with_bias) {
    float *x = rand_array((size_t)T * C), *w = rand_array((size_t)OC * C), *b = rand_array((size_t)OC);
    float *out = poisoned((size_t)T * OC);
    double *ref = base_malloc((size_t)T * OC * sizeof(double), "ref");
    matmul_forward_cpu(out, x, w, with_bias ? b : NULL, T, C, OC);
    for (int t = 0; t < T; t++)
        for (int o = 0; o < OC; o++) {
            double s = with_bias ? b[o] : 0;
            for (int c = 0; c < C; c++) s += (double)x[(size_t)t * C + c] * w[(size_t)o * C + c];
            ref[(size_t)t * OC + o] = s;
        }
    double *got = as_double(out, (size_t)T * OC);
    char name[96];
    snprintf(name, sizeof name, "matmul T=%d C=%d OC=%d bias=%d", T, C, OC, with_bias);
    CHECK_CLOSE(name, got, ref, (size_t)T * OC, 1e-5 * sqrt((double)C), 1e-5);
    free(x), free(w), free(b), free(out), free(ref), free(got);
}

static void check_rmsnorm(int T, int C) {
    float *x = rand_array((size_t)T * C), *w = rand_array((size_t)C), *out = poisoned((size_t)T * C);
    double *ref = base_malloc((size_t)T * C * sizeof(double), "ref");
    rmsnorm_forward_cpu(out, x, w, T, C, 1e-5f);
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double)x[(size_t)t * C + c] * x[(size_t)t * C + c];
        double rs = 1.0 / sqrt(ss / C + 1e-5);
        for (int c = 0; c < C; c++) ref[(size_t)t * C + c] = w[c] * x[(size_t)t * C + c] * rs;
    }
    double *got = as_double(out, (size_t)T * C);
    char name[64];
    snprintf(name, sizeof name, "rmsnorm T=%d C=%d", T, C);
    CHECK_CLOSE(name, got, ref, (size_t)T * C, 1e-6, 1e-5);
    free(x), free(w), free(out), free(ref), free(got);
}

// rotate_half: pairs (i, i + d/2) rotated by pos * theta^(-2i/d)
static void check_rope(int T, int NH, int HS, float theta) {
    size_t n = (size_t)T * NH * HS;
    float *x = rand_array(n);
    double *ref = as_double(x, n);
    int *pos = base_malloc((size_t)T * sizeof(int), "pos");
    for (int t = 0; t < T; t++) pos[t] = t * 37 % 1000;  // positions need not be in order
    rope_forward_cpu(x, pos, T, NH, HS, HS, theta);
    int half = HS / 2;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < half; i++) {
                double ang = pos[t] * pow(theta, -2.0 * i / HS);
                double *v = ref + ((size_t)t * NH + h) * HS, a = v[i], b = v[i + half];
                v[i] = a * cos(ang) - b * sin(ang);
                v[i + half] = b * cos(ang) + a * sin(ang);
            }
    double *got = as_double(x, n);
    char name[64];
    snprintf(name, sizeof name, "rope T=%d NH=%d HS=%d", T, NH, HS);
    // float32 angles, as transformers computes them: error grows with the position
    CHECK_CLOSE(name, got, ref, n, 2e-4, 1e-4);
    free(x), free(ref), free(pos), free(got);
}

// several sequences end to end; ALiBi slopes and a sliding window optional
static void check_attention(const int *lens, int n_seq, int NH, int NKV, int HS, int alibi, int window) {
    int seq_start[8] = {0}, T_max = 0;
    for (int s = 0; s < n_seq; s++) {
        seq_start[s + 1] = seq_start[s] + lens[s];
        if (lens[s] > T_max) T_max = lens[s];
    }
    int NT = seq_start[n_seq];
    size_t nq = (size_t)NT * NH * HS, nk = (size_t)NT * NKV * HS;
    float *q = rand_array(nq), *k = rand_array(nk), *v = rand_array(nk), *out = poisoned(nq), slopes[16];
    for (int h = 0; h < NH; h++) slopes[h] = 0.5f / (float)(h + 1);
    int threads = omp_get_max_threads();
    float *scores = base_malloc(attention_scratch_floats(T_max, threads) * sizeof(float), "scores");
    attention_forward_cpu(out, scores, threads, q, k, v, seq_start, n_seq, NH, NKV, HS, alibi ? slopes : NULL, window);
    double *ref = base_calloc(nq, sizeof(double), "ref"), *p = base_malloc((size_t)T_max * sizeof(double), "p");
    for (int s = 0; s < n_seq; s++) {
        int b = seq_start[s], T = lens[s];
        for (int h = 0; h < NH; h++) {
            int g = h / (NH / NKV);
            for (int i = 0; i < T; i++) {
                int lo = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
                double mx = -INFINITY, sum = 0;
                for (int j = lo; j <= i; j++) {
                    double sc = 0;
                    for (int d = 0; d < HS; d++)
                        sc += (double)q[((size_t)(b + i) * NH + h) * HS + d] * k[((size_t)(b + j) * NKV + g) * HS + d];
                    p[j] = sc / sqrt((double)HS) + (alibi ? slopes[h] * (double)(j - i) : 0.0);
                    mx = fmax(mx, p[j]);
                }
                for (int j = lo; j <= i; j++) sum += (p[j] = exp(p[j] - mx));
                for (int j = lo; j <= i; j++)
                    for (int d = 0; d < HS; d++)
                        ref[((size_t)(b + i) * NH + h) * HS + d] += p[j] / sum * v[((size_t)(b + j) * NKV + g) * HS + d];
            }
        }
    }
    double *got = as_double(out, nq);
    char name[128];
    snprintf(name, sizeof name, "attention seqs=%d T0=%d NH=%d NKV=%d HS=%d alibi=%d window=%d", n_seq, lens[0], NH, NKV,
             HS, alibi, window);
    CHECK_CLOSE(name, got, ref, nq, 1e-5, 1e-4);
    free(q), free(k), free(v), free(out), free(scores), free(ref), free(p), free(got);
}

static void check_layernorm(int T, int C, int with_bias) {
    float *x = rand_array((size_t)T * C), *w = rand_array((size_t)C), *b = rand_array((size_t)C), *out = poisoned((size_t)T * C);
    double *ref = base_malloc((size_t)T * C * sizeof(double), "ref");
    for (int i = 0; i < T * C; i++) x[i] += 3.0f;  // a mean far from zero
    layernorm_forward_cpu(out, x, w, with_bias ? b : NULL, T, C, 1e-5f);
    for (int t = 0; t < T; t++) {
        double m = 0, var = 0;
        for (int c = 0; c < C; c++) m += x[(size_t)t * C + c] / (double)C;
        for (int c = 0; c < C; c++) var += pow(x[(size_t)t * C + c] - m, 2) / C;
        for (int c = 0; c < C; c++)
            ref[(size_t)t * C + c] = (x[(size_t)t * C + c] - m) / sqrt(var + 1e-5) * w[c] + (with_bias ? b[c] : 0);
    }
    double *got = as_double(out, (size_t)T * C);
    char name[64];
    snprintf(name, sizeof name, "layernorm T=%d C=%d bias=%d", T, C, with_bias);
    CHECK_CLOSE(name, got, ref, (size_t)T * C, 1e-5, 1e-4);
    free(x), free(w), free(b), free(out), free(ref), free(got);
}

static void check_activations(int T, int F) {
    size_t N = (size_t)T * F;
    float *gu = rand_array(2 * N), *out = poisoned(N), *e = rand_array(N), *th = base_malloc(N * sizeof(float), "t"),
          *re = base_malloc(N * sizeof(float), "r");
    for (size_t i = 0; i < N; i++) e[i] *= 4.0f;  // the range where the GELU forms differ
    // and far tails, where a naive exp overflows or a sigmoid/tanh saturates
    for (size_t i = 0; i < 2 * N; i++) gu[i] *= i % 5 == 0 ? 40.0f : 3.0f;
    for (size_t i = 0; i + 1 < N; i += 97) e[i] = i % 2 ? 60.0f : -60.0f;
    memcpy(th, e, N * sizeof(float));
    memcpy(re, e, N * sizeof(float));
    swiglu_rows_cpu(out, gu, T, F);
    double *r1 = base_malloc(N * sizeof(double), "ref"), *r2 = base_malloc(N * sizeof(double), "ref"),
           *r3 = base_malloc(N * sizeof(double), "ref"), *r4 = base_malloc(N * sizeof(double), "ref");
    for (int t = 0; t < T; t++)
        for (int i = 0; i < F; i++) {
            double g = gu[(size_t)t * 2 * F + i], u = gu[(size_t)t * 2 * F + F + i], x = e[(size_t)t * F + i];
            r1[(size_t)t * F + i] = g / (1 + exp(-g)) * u;
            r2[(size_t)t * F + i] = 0.5 * x * (1 + erf(x / sqrt(2.0)));
            r3[(size_t)t * F + i] = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
            r4[(size_t)t * F + i] = x > 0 ? x : 0;
        }
    gelu_forward_cpu(e, N, 0);
    gelu_forward_cpu(th, N, 1);
    relu_forward_cpu(re, N);
    double *g1 = as_double(out, N), *g2 = as_double(e, N), *g3 = as_double(th, N), *g4 = as_double(re, N);
    char name[64];
    snprintf(name, sizeof name, "swiglu_rows T=%d F=%d", T, F);
    CHECK_CLOSE(name, g1, r1, N, 1e-6, 1e-5);
    snprintf(name, sizeof name, "gelu_erf N=%zu", N);
    CHECK_CLOSE(name, g2, r2, N, 1e-6, 1e-5);
    snprintf(name, sizeof name, "gelu_tanh N=%zu", N);
    CHECK_CLOSE(name, g3, r3, N, 1e-6, 1e-5);
    snprintf(name, sizeof name, "relu N=%zu", N);
    CHECK_CLOSE(name, g4, r4, N, 0, 0);
    free(gu), free(out), free(e), free(th), free(re), free(r1), free(r2), free(r3), free(r4), free(g1), free(g2), free(g3),
        free(g4);
}

static void check_residual(size_t N) {
    float *a = rand_array(N), *b = rand_array(N), *sum = poisoned(N);
    residual_forward_cpu(sum, a, b, N);
    double *ref = base_malloc(N * sizeof(double), "ref");
    for (size_t i = 0; i < N; i++) ref[i] = (double)a[i] + b[i];
    double *got = as_double(sum, N);
    char name[64];
    snprintf(name, sizeof name, "residual N=%zu", N);
    CHECK_CLOSE(name, got, ref, N, 1e-7, 1e-6);
    free(a), free(b), free(sum), free(ref), free(got);
}

// the fused rows split into q, k, v exactly (a copy), or clamped to [-clip, clip]; NaN stays NaN (torch.clamp)
static void check_qkv_split(int T, int QD, int KD, float clip) {
    size_t W = (size_t)QD + 2 * (size_t)KD;
    float *qkv = rand_array((size_t)T * W), *q = poisoned((size_t)T * QD), *k = poisoned((size_t)T * KD),
          *v = poisoned((size_t)T * KD);
    qkv_split_cpu(q, k, v, qkv, T, QD, KD, clip);
    int ok = 1;
    for (int t = 0; t < T; t++)
        for (size_t c = 0; c < W; c++) {
            float x = qkv[(size_t)t * W + c], want = clip > 0 ? fminf(fmaxf(x, -clip), clip) : x;
            float got = c < (size_t)QD ? q[(size_t)t * QD + c]
                        : c < (size_t)(QD + KD) ? k[(size_t)t * KD + c - QD] : v[(size_t)t * KD + c - QD - KD];
            ok &= got == want;
        }
    CHECK(ok, "qkv_split T=%d QD=%d KD=%d clip=%g: every value in its block, exactly%s", T, QD, KD, clip,
          clip > 0 ? " (clamped)" : "");
    free(qkv), free(q), free(k), free(v);
}

static void check_clip_value(void) {
    CHECK(clip_value(3.0f, 2.0f) == 2.0f && clip_value(-3.0f, 2.0f) == -2.0f && clip_value(0.5f, 2.0f) == 0.5f &&
              isnan(clip_value(NAN, 2.0f)),
          "clip_value: above, below, inside, NaN passes through");
}

// out += bias per row, and table rows at pos + offset added
static void check_bias_and_positions(int T, int C, int offset) {
    float *x = rand_array((size_t)T * C), *bias = rand_array((size_t)C), *table = rand_array((size_t)(T + offset) * C);
    float *y = base_malloc((size_t)T * C * sizeof(float), "test"), *z = base_malloc((size_t)T * C * sizeof(float), "test");
    int *pos = base_malloc((size_t)T * sizeof(int), "test");
    for (int t = 0; t < T; t++) pos[t] = (t * 7) % T;
    memcpy(y, x, (size_t)T * C * sizeof(float));
    memcpy(z, x, (size_t)T * C * sizeof(float));
    bias_add_cpu(y, bias, T, C);
    positions_add_cpu(z, table, pos, offset, T, C);
    int ok_b = 1, ok_p = 1;
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)t * C + c;
            ok_b &= y[i] == x[i] + bias[c];
            ok_p &= z[i] == x[i] + table[(size_t)(pos[t] + offset) * C + c];
        }
    CHECK(ok_b, "bias_add T=%d OC=%d", T, C);
    CHECK(ok_p, "positions_add T=%d C=%d offset=%d", T, C, offset);
    free(x), free(bias), free(table), free(y), free(z), free(pos);
}

static void check_alibi_slopes(void) {
    float s8[8], s6[6];
    model_alibi_slopes(s8, 8, 8.0f);
    model_alibi_slopes(s6, 6, 8.0f);
    // powers of two: 2^-(8/8 * (h+1)); six heads: slopes of 8 heads, the odd ones then the even ones
    int ok = fabsf(s8[0] - 0.5f) < 1e-7f && fabsf(s8[7] - 1.0f / 256) < 1e-9f;
    const float want6[6] = {0.25f, 1.0f / 16, 1.0f / 64, 1.0f / 256, 0.5f, 0.125f};
    for (int h = 0; h < 6; h++) ok &= fabsf(s6[h] - want6[h]) < 1e-8f;
    CHECK(ok, "alibi/slopes_as_mpt (8 heads and 6 heads)");
}

// host/ops_math.h's pieces that ops_cpu.c does not call but the CUDA attention does: the online softmax
// over a stream of scores (with ALiBi) gives the same weighted sum as the two-pass softmax in float64, and
// exp_nonpositive is 0, not undefined behaviour, for -inf and huge negative arguments
static void check_online_softmax(int n) {
    float m = -INFINITY, l = 0.0f, acc = 0.0f, *s = rand_array((size_t)n), *v = rand_array((size_t)n);
    for (int j = 0; j < n; j++) s[j] = s[j] * 8.0f * attn_scale(64) + attn_alibi(0.25f, n - 1, j);
    for (int j = 0; j < n; j++) {
        float p, r = softmax_online_update(&m, &l, &p, s[j]);
        acc = acc * r + p * v[j];
    }
    double mx = -INFINITY, sum = 0, want = 0;
    for (int j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    for (int j = 0; j < n; j++) sum += exp((double)s[j] - mx), want += exp((double)s[j] - mx) * v[j];
    want /= sum;
    double got = acc / l;
    CHECK(fabs(got - want) <= 1e-5 * (1 + fabs(want)) && exp_nonpositive(-INFINITY) == 0.0f &&
              exp_nonpositive(-1e30f) == 0.0f && attn_first_key(10, 4) == 7 && attn_first_key(2, 4) == 0 &&
              attn_first_key(9, 0) == 0,
          "ops_math/online_softmax n=%d got %.7g want %.7g", n, got, want);
    free(s), free(v);
}

TEST_MAIN("test_ops") {
    threads_init(0);
    printf("# %d OpenMP thread(s)\n", omp_get_max_threads());
    // tiny, odd and real shapes (SmolLM2: C 576, F 1536, 9 heads / 3 KV heads of 64)
    check_matmul(1, 1, 1, 0);
    check_matmul(7, 13, 5, 1);
    check_matmul(67, 576, 192, 0);
    check_matmul(300, 64, 172, 1);
    check_rmsnorm(1, 1);
    check_rmsnorm(5, 63);
    check_rmsnorm(33, 576);
    check_rope(1, 1, 2, 10000.0f);
    check_rope(9, 3, 14, 10000.0f);
    check_rope(40, 9, 64, 100000.0f);
    int one[1] = {1}, seven[1] = {7}, two[2] = {300, 45}, three[3] = {257, 1, 33};
    check_online_softmax(1);
    check_online_softmax(1000);
    check_attention(one, 1, 1, 1, 1, 0, 0);
    check_attention(seven, 1, 4, 2, 5, 0, 0);
    check_attention(two, 2, 9, 3, 64, 0, 0);     // two query blocks, grouped KV, two sequences
    check_attention(three, 3, 8, 8, 8, 0, 0);
    check_attention(two, 2, 6, 6, 8, 1, 0);      // ALiBi (MPT)
    check_attention(two, 2, 4, 1, 16, 0, 16);    // sliding window (Mistral), multi-query
    check_attention(three, 3, 4, 2, 8, 0, 300);  // a window wider than the sequence changes nothing
    check_layernorm(1, 1, 1);
    check_layernorm(5, 63, 0);
    check_layernorm(33, 576, 1);
    check_activations(1, 1);
    check_activations(7, 33);
    check_activations(64, 1536);
    check_residual(1);
    check_residual(100003);
    check_alibi_slopes();
    check_clip_value();
    check_qkv_split(1, 1, 1, 0);
    check_qkv_split(5, 24, 8, 0);
    check_qkv_split(7, 30, 10, 0.5f);
    check_bias_and_positions(1, 1, 0);
    check_bias_and_positions(9, 33, 2);
}
