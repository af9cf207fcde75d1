// The ridge engine alone, timed: cross-validated ridge from one (n, p) design to t targets.
//   build/bench/ridge_bench [--data DIR | --shape N,P,T] [--folds K] [--alphas LO,HI,COUNT]
//                           [--select inner|outer_mean] [--threads N] [--reps R] [--memory-gib G] [--out DIR]
//                           [--layers L,C [--pca-fit fold|all] [--pca-method eigh|randomized]] [--design-cache on|off]
//                           [--device cpu|cuda]
// --data DIR reads DIR/shape.txt ("n p t"), DIR/X.f32 (n, p) and DIR/Y.f32 (n, t), row-major float32
// (bench/compare_ridge.py writes them and runs the other implementations on the same files);
// --shape generates a planted problem instead (Y = X W + noise, signal-to-noise varying over targets so
// the chosen alphas spread over the grid). Prints the median wall time over R runs (no warm-up), the
// engine's floating-point work and its GFLOP/s, this machine's OpenBLAS sgemm GFLOP/s on the same threads
// (median over the runs of the best of 3 at 2048^3, measured before each fit, so the yardstick sees the
// machine as the fits do), and the peak resident memory. Each timed run is all of the engine's work for one
// call on these targets: the fold plan, ridge_targets_init (the NaN check and the per-segment sums of y and
// y^2 over the whole of Y) and ridge_cv; its share spent in ridge_targets_init is printed beside it. Reading
// or generating the data and the yardstick are outside the timer.
// --layers L,C: the whole fit of a subject instead, as a sweep runs it (host/encoding.h): L layers of C
// features per word (a shared low-rank structure plus noise), each reduced by PCA to P components (--pca-fit,
// default fold; --pca-method, default eigh) and fitted to the same T targets, which are prepared once (as a
// sweep prepares a subject's targets once for all its layers); N is the number of words (word-level targets).
// Prints the time of the L fits, PCA included, and the time of preparing the targets, which the total includes.
// --design-cache off: the engine's design cache keeps nothing (the same batches, every split decomposed again by
// every target batch), to measure what the cache saves in one build.
// --device cuda: the fits' CUDA table (cuda/linalg_cuda.h) on GPU 0, the targets resident in its memory as a sweep
// keeps them (ridge_targets_resident), and the yardstick cuBLAS's float32 product (8192^3, no TF32) through the same
// table; exit 77 with the reason where no GPU or no CUDA math library is there.
// --out DIR writes r.f64 and alpha.f64 (t each) for comparison. Defaults: 5 folds, 20 alphas 1e-2..1e5,
// outer_mean (himalaya's choice), all cores, 3 reps, 4 GiB, cpu.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "cuda/backend_cuda.h"
#include "cuda/gpu.h"
#include "host/base.h"
#include "host/cv.h"
#include "host/encoding.h"
#include "host/ridge.h"
#include "host/threads.h"


static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double urand(void) {
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return ((rng * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
}
static float nrand(void) { return (float)(sqrt(-2 * log(urand())) * cos(2 * M_PI * urand())); }

static float *read_f32(const char *dir, const char *name, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) DIE("write the data with bench/compare_ridge.py", "cannot open %s", path);
    float *x = base_malloc(n * sizeof(float), name);
    if (fread(x, sizeof(float), n, f) != n) DIE("the shape in shape.txt must match the file", "%s is short", path);
    fclose(f);
    return x;
}

static void write_f64(const char *dir, const char *name, const double *x, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof(double), n, f) != n || fclose(f) != 0) DIE("check --out", "cannot write %s", path);
}

// Y = X W + noise: W (p, t) Gaussian scaled per target so the signal's share of variance runs from 0.5% to 50%
static void planted(float *X, float *Y, size_t n, size_t p, size_t t) {
    for (size_t i = 0; i < n * p; i++) X[i] = nrand();
    float *W = base_malloc(base_mul(p, t) * sizeof(float), "weights");
    for (size_t k = 0; k < t; k++) {
        double share = pow(10.0, -2.3 + 2.0 * (double)k / (double)(t > 1 ? t - 1 : 1));
        double scale = sqrt(share / (1 - share) / (double)p);
        for (size_t j = 0; j < p; j++) W[j * t + k] = (float)(scale * nrand());
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)t, (int)p, 1.0f, X, (int)p, W, (int)t, 0.0f, Y,
                (int)t);
    for (size_t i = 0; i < n * t; i++) Y[i] += nrand();
    free(W);
}

// OpenBLAS sgemm GFLOP/s at 2048^3 on `threads` threads: the best of 3 (run between the fits, so the
// yardstick sees the machine as the fits do)
// peak resident memory of this process (VmHWM: unlike getrusage's maxrss, not inherited from a parent)
static double peak_rss_gib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf", &kib) == 1) break;
    if (f) fclose(f);
    return kib / 1048576.0;
}

static double sgemm_peak(int threads) {
    const int M = 2048;
    float *a = base_malloc((size_t)M * M * sizeof(float), "peak"), *b = base_malloc((size_t)M * M * sizeof(float), "peak");
    float *c = base_malloc((size_t)M * M * sizeof(float), "peak");
    for (size_t i = 0; i < (size_t)M * M; i++) a[i] = (float)(i % 17) * 0.01f, b[i] = (float)(i % 13) * 0.01f;
    openblas_set_num_threads(threads);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, M, M, 1.0f, a, M, b, M, 0.0f, c, M);
        double t = bench_now() - t0;
        if (t < best) best = t;
    }
    openblas_set_num_threads(1);
    free(a), free(b), free(c);
    return 2.0 * M * M * (double)M / best * 1e-9;
}

// the float32 product rate of a device's table (GFLOP/s): 8192^3 on random data in its memory, the best of 3 after
// a warm-up (the table's ops return with their results complete, so the host's clock times them)
static double table_sgemm_peak(const LinalgOps *la) {
    const size_t M = 8192, bytes = M * M * sizeof(float);
    float *h = base_malloc(bytes, "peak");
    for (size_t i = 0; i < M * M; i++) h[i] = nrand();
    float *a = la->alloc(bytes, "peak"), *b = la->alloc(bytes, "peak"), *c = la->alloc(bytes, "peak");
    la->upload(a, h, bytes), la->upload(b, h, bytes);
    double best = 1e30;
    for (int r = -1; r < 3; r++) {
        double t0 = bench_now();
        la->sgemm(LINALG_N, LINALG_T, M, M, M, 1.0f, a, M, b, M, 0.0f, c, M);
        double t = bench_now() - t0;
        if (r >= 0 && t < best) best = t;
    }
    la->free(a), la->free(b), la->free(c);
    free(h);
    return 2.0 * (double)M * M * (double)M / best * 1e-9;
}

// the fits' table of --device: the CPU's, or the CUDA one on GPU 0 (exit 77 naming why it cannot run)
static const LinalgOps *device_table(const char *device, char *name, size_t len) {
    snprintf(name, len, "cpu");
    if (!strcmp(device, "cpu")) return &linalg_ops_cpu;
    char why[BASE_ERR_LEN];
    GpuInfo gpu;
    const Backend *b = backend_cuda_get(why, sizeof why);
    if (b && gpu_bind(0, &gpu) < 0) snprintf(why, sizeof why, "%s", gpu.name), b = NULL;
    if (b && !backend_cuda_fits(why, sizeof why)) b = NULL;
    if (!b) {
        printf("SKIP ridge_bench --device cuda: %s\n", why);
        exit(77);
    }
    snprintf(name, len, "cuda (%s)", gpu.name);
    return b->linalg;
}

// L layers of C features for n words, PCA to p, fitted to t targets: the per-subject work of a sweep
static void run_layers(size_t n, size_t p, size_t t, size_t L, size_t C, int K, const double *alphas, size_t A,
                       RidgeSelect select, int pca_all, PcaMethod method, size_t memory, int threads,
                       const LinalgOps *la) {
    const size_t Z = 64;  // latent dimensions shared by the layers and the targets
    float *z = base_malloc(n * Z * sizeof(float), "latents"), *mix = base_malloc(Z * C * sizeof(float), "mixing");
    float *x = base_malloc(base_mul(n, C) * sizeof(float), "layer"), *Y = base_malloc(base_mul(n, t) * sizeof(float), "Y");
    float *w = base_malloc(Z * t * sizeof(float), "weights");
    for (size_t i = 0; i < n * Z; i++) z[i] = nrand();
    for (size_t i = 0; i < Z * t; i++) w[i] = nrand() * 0.1f;
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)t, (int)Z, 1.0f, z, (int)Z, w, (int)t, 0.0f, Y,
                (int)t);
    for (size_t i = 0; i < n * t; i++) Y[i] += nrand();
    char err[BASE_ERR_LEN];
    CvPlan cv;
    RidgeTargets rt;
    double t_targets = bench_now();
    if (cv_plan_folds(&cv, n, K, 0, err) || ridge_targets_init(&rt, Y, n, t, &cv, err)) DIE("check the shape", "%s", err);
    ridge_targets_resident(&rt, la);
    t_targets = bench_now() - t_targets;
    int delay0 = 0;
    EncodingSpec e = {NULL, RESAMPLE_SUM, 3, NULL, n, &delay0, 1, 0, p, pca_all, method, NULL, 0, &cv, &rt,
                      alphas, A, select, 0, memory, 0, 0, la};
    float *r = base_malloc(5 * t * sizeof(float), "scores");
    EncodingOut o = {r, r + t, r + 2 * t, r + 3 * t, r + 4 * t, NULL, NULL, 0};
    EncodingStats st;
    double fit = 0, flops = 0, rsum = 0;
    for (size_t l = 0; l < L; l++) {
        for (size_t i = 0; i < Z * C; i++) mix[i] = nrand();
        openblas_set_num_threads(threads);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)C, (int)Z, 1.0f, z, (int)Z, mix, (int)C, 0.0f,
                    x, (int)C);
        openblas_set_num_threads(1);
        for (size_t i = 0; i < n * C; i++) x[i] += 2.0f * nrand();
        double t0 = bench_now();
        if (encoding_fit(&e, x, C, &o, &st, err)) DIE("check the shape", "%s", err);
        fit += bench_now() - t0;
        flops += st.ridge.flops;
        for (size_t k = 0; k < t; k++) rsum += r[k] / (double)(L * t);
    }
    printf("ridge_bench layers: %zu layers x %zu features -> PCA %zu (%s, %s) x %zu words -> %zu targets; %d folds, %zu "
           "alphas, select %s, %d thread(s), table %s\n",
           L, C, st.components, pca_all ? "all samples" : "per fold", method == PCA_EIGH ? "eigh" : "randomized", n, t,
           K, A, select == RIDGE_SELECT_INNER ? "inner" : "outer_mean", threads, la->name);
    printf("%.2f s for the %zu fits (%.3f s per layer, PCA included) and %.3f s preparing the targets once: %.2f s in "
           "all; ridge %.1f GFLOP; mean r %.3f; peak RSS %.2f GiB\n",
           fit, L, fit / (double)L, t_targets, fit + t_targets, flops * 1e-9, rsum, peak_rss_gib());
    ridge_targets_free(&rt);
    cv_free(&cv);
    free(z), free(mix), free(x), free(Y), free(w), free(r);
}

int main(int argc, char **argv) {
    threads_choose_blas_kernels(argv);
    const char *data = NULL, *out = NULL, *device = "cpu";
    size_t n = 20000, p = 500, t = 5000, count = 20;
    int K = 5, threads = 0, reps = 3;
    double lo = -2, hi = 5, memory_gib = 4;
    RidgeSelect select = RIDGE_SELECT_OUTER_MEAN;
    size_t layers = 0, width = 0;
    int pca_all = 0, no_design_cache = 0;
    PcaMethod method = PCA_EIGH;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        int ok = 1;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--shape")) ok = sscanf(v, "%zu,%zu,%zu", &n, &p, &t) == 3;
        else if (!strcmp(a, "--folds")) K = atoi(v);
        else if (!strcmp(a, "--alphas")) ok = sscanf(v, "%lf,%lf,%zu", &lo, &hi, &count) == 3;
        else if (!strcmp(a, "--select")) select = !strcmp(v, "inner") ? RIDGE_SELECT_INNER : RIDGE_SELECT_OUTER_MEAN;
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--memory-gib")) memory_gib = atof(v);
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--layers")) ok = sscanf(v, "%zu,%zu", &layers, &width) == 2;
        else if (!strcmp(a, "--pca-fit")) pca_all = !strcmp(v, "all");
        else if (!strcmp(a, "--pca-method")) method = !strcmp(v, "randomized") ? PCA_RANDOMIZED : PCA_EIGH;
        else if (!strcmp(a, "--design-cache")) no_design_cache = !strcmp(v, "off");
        else if (!strcmp(a, "--device")) ok = !strcmp(v, "cpu") || !strcmp(v, "cuda"), device = v;
        else ok = 0;
        if (!ok || i + 1 >= argc) {
            fprintf(stderr, "ridge_bench: bad option '%s' (see the comment at the top of bench/ridge_bench.c)\n", a);
            return 2;
        }
        i++;
    }
    if (threads <= 0) threads = omp_get_num_procs();
    if (reps < 1) reps = 1;
    threads_init(threads);
    char device_name[320];
    const LinalgOps *la = device_table(device, device_name, sizeof device_name);

    if (layers) {
        double *grid = base_malloc(count * sizeof(double), "alphas");
        base_logspace(grid, lo, hi, count);
        run_layers(n, p, t, layers, width, K, grid, count, select, pca_all, method, (size_t)(memory_gib * 1073741824.0),
                   threads, la);
        free(grid);
        return 0;
    }
    float *X, *Y;
    if (data) {
        char path[4096];
        snprintf(path, sizeof path, "%s/shape.txt", data);
        FILE *f = fopen(path, "r");
        if (!f || fscanf(f, "%zu %zu %zu", &n, &p, &t) != 3) DIE("write the data with bench/compare_ridge.py", "cannot read %s", path);
        fclose(f);
        X = read_f32(data, "X.f32", base_mul(n, p));
        Y = read_f32(data, "Y.f32", base_mul(n, t));
    } else {
        X = base_malloc(base_mul(n, p) * sizeof(float), "X");
        Y = base_malloc(base_mul(n, t) * sizeof(float), "Y");
        openblas_set_num_threads(threads);
        planted(X, Y, n, p, t);
        openblas_set_num_threads(1);
    }

    char err[BASE_ERR_LEN];
    double *alphas = base_malloc(count * sizeof(double), "alphas");
    base_logspace(alphas, lo, hi, count);
    double *r = base_malloc(t * sizeof(double), "r"), *r2 = base_malloc(t * sizeof(double), "r2");
    double *alpha = base_malloc(t * sizeof(double), "alpha"), *secs = base_malloc(3 * (size_t)reps * sizeof(double), "t");
    double *peaks = secs + reps, *prep = secs + 2 * reps;
    RidgeOut o = {r, r2, alpha, NULL, NULL, NULL, NULL};
    RidgeStats st;
    const float *Xs[1] = {X};
    for (int i = 0; i < reps; i++) {
        peaks[i] = la == &linalg_ops_cpu ? sgemm_peak(threads) : table_sgemm_peak(la);
        // timed: everything the engine does for one call, the targets' preparation included
        CvPlan cv;
        RidgeTargets rt;
        double t0 = bench_now();
        if (cv_plan_folds(&cv, n, K, 0, err) || ridge_targets_init(&rt, Y, n, t, &cv, err)) DIE("check the shape", "%s", err);
        ridge_targets_resident(&rt, la);
        prep[i] = bench_now() - t0;
        RidgeConfig cfg = {&cv, alphas, count, select, 0, NULL, 0, NULL, (size_t)(memory_gib * 1073741824.0),
                           la, no_design_cache};
        if (ridge_cv(Xs, 0, p, &rt, &cfg, &o, &st, err)) DIE("check the shape", "%s", err);
        secs[i] = bench_now() - t0;
        ridge_targets_free(&rt);
        cv_free(&cv);
    }
    double sec = bench_median(secs, reps), peak = bench_median(peaks, reps), sec_prep = bench_median(prep, reps);
    printf("ridge_bench n %zu p %zu t %zu: %d folds, %zu alphas, select %s, %d thread(s), OpenBLAS %s, device %s\n", n,
           p, t, K, count, select == RIDGE_SELECT_INNER ? "inner" : "outer_mean", threads, openblas_get_corename(),
           device_name);
    printf("median %.3f s over %d run(s); %.1f GFLOP, %.1f GFLOP/s; sgemm %.1f GFLOP/s (%.0f%%); %zu split(s), "
           "%zu dual, %zu from the design cache (%.0f MiB); %zu of %zu scores direct; %zu batch(es) of %zu targets; "
           "targets prepared in %.3f s (%.0f%%, included); peak RSS %.2f GiB\n",
           sec, reps, st.flops * 1e-9, st.flops / sec * 1e-9, peak, 100.0 * st.flops / sec * 1e-9 / peak, st.n_splits,
           st.n_dual, st.n_reused, (double)st.cache_bytes / (1 << 20), st.n_direct, (size_t)K * count * t,
           st.n_batches, st.batch_targets, sec_prep,
           100.0 * sec_prep / sec, peak_rss_gib());
    if (out) {
        write_f64(out, "r.f64", r, t);
        write_f64(out, "alpha.f64", alpha, t);
    }
    free(X), free(Y), free(alphas), free(r), free(r2), free(alpha), free(secs);
    return 0;
}
