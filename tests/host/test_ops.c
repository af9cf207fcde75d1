// The CPU twins against plain loops in float64, on random inputs at tiny, odd and model shapes.
#include <math.h>
#include <omp.h>

#include "host/base.h"
#include "host/ops_cpu.h"
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

static void check_attention(int T, int NH, int NKV, int HS) {
    size_t nq = (size_t)T * NH * HS, nk = (size_t)T * NKV * HS;
    float *q = rand_array(nq), *k = rand_array(nk), *v = rand_array(nk), *out = poisoned(nq);
    int threads = omp_get_max_threads();
    float *scores = base_malloc(attention_scratch_floats(T, threads) * sizeof(float), "scores");
    attention_forward_cpu(out, scores, threads, q, k, v, T, NH, NKV, HS);
    double *ref = base_calloc(nq, sizeof(double), "ref"), *p = base_malloc((size_t)T * sizeof(double), "p");
    for (int h = 0; h < NH; h++) {
        int g = h / (NH / NKV);
        for (int i = 0; i < T; i++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int d = 0; d < HS; d++)
                    s += (double)q[((size_t)i * NH + h) * HS + d] * k[((size_t)j * NKV + g) * HS + d];
                p[j] = s / sqrt((double)HS);
                mx = fmax(mx, p[j]);
            }
            for (int j = 0; j <= i; j++) sum += (p[j] = exp(p[j] - mx));
            for (int j = 0; j <= i; j++)
                for (int d = 0; d < HS; d++)
                    ref[((size_t)i * NH + h) * HS + d] += p[j] / sum * v[((size_t)j * NKV + g) * HS + d];
        }
    }
    double *got = as_double(out, nq);
    char name[80];
    snprintf(name, sizeof name, "attention T=%d NH=%d NKV=%d HS=%d", T, NH, NKV, HS);
    CHECK_CLOSE(name, got, ref, nq, 1e-5, 1e-4);
    free(q), free(k), free(v), free(out), free(scores), free(ref), free(p), free(got);
}

static void check_elementwise(size_t N) {
    float *g = rand_array(N), *u = rand_array(N), *out = poisoned(N), *sum = poisoned(N);
    swiglu_forward_cpu(out, g, u, N);
    residual_forward_cpu(sum, g, u, N);
    double *ref = base_malloc(N * sizeof(double), "ref"), *ref2 = base_malloc(N * sizeof(double), "ref");
    for (size_t i = 0; i < N; i++) {
        ref[i] = g[i] / (1.0 + exp(-(double)g[i])) * u[i];
        ref2[i] = (double)g[i] + u[i];
    }
    double *got = as_double(out, N), *got2 = as_double(sum, N);
    char name[64];
    snprintf(name, sizeof name, "swiglu N=%zu", N);
    CHECK_CLOSE(name, got, ref, N, 1e-6, 1e-5);
    snprintf(name, sizeof name, "residual N=%zu", N);
    CHECK_CLOSE(name, got2, ref2, N, 1e-7, 1e-6);
    free(g), free(u), free(out), free(sum), free(ref), free(ref2), free(got), free(got2);
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
    check_attention(1, 1, 1, 1);
    check_attention(7, 4, 2, 5);
    check_attention(300, 9, 3, 64);  // two query blocks, grouped KV
    check_attention(257, 8, 8, 8);
    check_elementwise(1);
    check_elementwise(17);
    check_elementwise(100003);
}
