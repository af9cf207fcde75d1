// Are the fits (ridge, PCA, the shift null) device-clean? A table that behaves as a device does for the host: "opaque", the CPU table's ops
// over memory the host cannot touch. Every buffer it allocates is its own mapping, kept PROT_NONE except while one
// of its ops runs; a fit that reads or writes backend memory in a loop of its own (instead of through an op, an
// upload or a download) faults, and the fault handler names the buffer and fails the test. Where it runs clean, the
// fit's results must equal the CPU table's bit for bit (the same ops on the same data).
//
// mprotect is process-wide, so the fits run on one thread here (an op of one thread would open the memory another
// thread's host loop then reads).
#include <fcntl.h>
#include <omp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/base.h"
#include "host/cv.h"
#include "host/encoding.h"
#include "host/linalg.h"
#include "host/pca.h"
#include "host/ridge.h"
#include "host/signif.h"
#include "tests/test.h"

// ----------------------------------------------------------------------------
// the opaque table

enum { MAX_BUFFERS = 4096 };
static struct {
    char *base;
    size_t bytes;  // mapped (whole pages)
    const char *label;
} buffers[MAX_BUFFERS];
static size_t n_buffers;
static const LinalgOps *cpu = &linalg_ops_cpu;

static void protect_all(int prot) {
    for (size_t i = 0; i < n_buffers; i++)
        if (buffers[i].base && mprotect(buffers[i].base, buffers[i].bytes, prot) != 0)
            DIE("this is a bug in the test", "mprotect failed on %s", buffers[i].label);
}
#define OPEN() protect_all(PROT_READ | PROT_WRITE)
#define SHUT() protect_all(PROT_NONE)

static void on_fault(int sig, siginfo_t *si, void *ctx) {
    (void)sig, (void)ctx;
    const char *label = "memory outside the table";
    for (size_t i = 0; i < n_buffers; i++)
        if (buffers[i].base && (char *)si->si_addr >= buffers[i].base &&
            (char *)si->si_addr < buffers[i].base + buffers[i].bytes)
            label = buffers[i].label;
    // async-signal-safe output only
    const char *a = "FAIL test_device_clean/a host loop touched backend memory: ";
    ssize_t unused = write(1, a, strlen(a));
    unused = write(1, label, strlen(label));
    unused = write(1, " (run under gdb for the loop)\n", 30);
    (void)unused;
    _exit(1);
}

static void *alloc_o(size_t bytes, const char *label) {
    if (!bytes) return NULL;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), mapped = (bytes + page - 1) / page * page;
    void *p = mmap(NULL, mapped, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) DIE("this is a bug in the test", "mmap of %zu bytes for %s failed", bytes, label);
    size_t i = 0;
    while (i < n_buffers && buffers[i].base) i++;
    ASSERT(i < MAX_BUFFERS);
    buffers[i].base = p, buffers[i].bytes = mapped, buffers[i].label = label;
    if (i == n_buffers) n_buffers++;
    return p;
}

static void free_o(void *p) {
    if (!p) return;
    for (size_t i = 0; i < n_buffers; i++)
        if (buffers[i].base == p) {
            munmap(p, buffers[i].bytes);
            buffers[i].base = NULL;
            return;
        }
    DIE("this is a bug in the fits", "free of a pointer the opaque table did not allocate");
}

static void upload_o(void *d, const void *h, size_t n) { OPEN(), cpu->upload(d, h, n), SHUT(); }
static void download_o(void *h, const void *d, size_t n) { OPEN(), cpu->download(h, d, n), SHUT(); }
static void copy_o(void *d, const void *s, size_t n) { OPEN(), cpu->copy(d, s, n), SHUT(); }
static void memset_o(void *p, int b, size_t n) { OPEN(), cpu->memset(p, b, n), SHUT(); }
static void sgemm_o(LinalgTrans ta, LinalgTrans tb, size_t M, size_t N, size_t K, float al, const float *A, size_t lda,
                    const float *B, size_t ldb, float be, float *C, size_t ldc) {
    OPEN(), cpu->sgemm(ta, tb, M, N, K, al, A, lda, B, ldb, be, C, ldc), SHUT();
}
static void dgemm_o(LinalgTrans ta, LinalgTrans tb, size_t M, size_t N, size_t K, double al, const double *A,
                    size_t lda, const double *B, size_t ldb, double be, double *C, size_t ldc) {
    OPEN(), cpu->dgemm(ta, tb, M, N, K, al, A, lda, B, ldb, be, C, ldc), SHUT();
}
static void dgemv_o(LinalgTrans ta, size_t M, size_t N, double al, const double *A, size_t lda, const double *x,
                    double be, double *y) {
    OPEN(), cpu->dgemv(ta, M, N, al, A, lda, x, be, y), SHUT();
}
static void dsyrk_o(LinalgTrans ta, size_t n, size_t k, double al, const double *A, size_t lda, double be, double *C,
                    size_t ldc) {
    OPEN(), cpu->dsyrk(ta, n, k, al, A, lda, be, C, ldc), SHUT();
}
static void dsyr_o(size_t n, double al, const double *x, double *A, size_t lda) {
    OPEN(), cpu->dsyr(n, al, x, A, lda), SHUT();
}
static void eigh_o(double *a, double *w, size_t n) { OPEN(), cpu->eigh(a, w, n), SHUT(); }
static void eigh_top_o(double *a, double *w, double *v, size_t n, size_t k) {
    OPEN(), cpu->eigh_top(a, w, v, n, k), SHUT();
}
static void orthonormalise_o(double *q, size_t m, size_t l) { OPEN(), cpu->orthonormalise(q, m, l), SHUT(); }
static void svd_right_o(double *a, double *s, double *vt, size_t m, size_t n) {
    OPEN(), cpu->svd_right(a, s, vt, m, n), SHUT();
}
static LinalgFft *fft_plan_o(size_t n) { return cpu->fft_plan(n); }
static void fft_forward_o(const LinalgFft *p, const double *x, LinalgComplex *X) {
    OPEN(), cpu->fft_forward(p, x, X), SHUT();
}
static void fft_inverse_o(const LinalgFft *p, LinalgComplex *X, double *x) {
    OPEN(), cpu->fft_inverse(p, X, x), SHUT();
}
static void fft_free_o(LinalgFft *p) { cpu->fft_free(p); }
static void to_float_o(float *d, const double *s, size_t n) { OPEN(), cpu->to_float(d, s, n), SHUT(); }
static void fix_column_signs_o(double *a, size_t r, size_t c) { OPEN(), cpu->fix_column_signs(a, r, c), SHUT(); }
static void shrink_o(float *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                     const double *alpha, size_t m, int run) {
    OPEN(), cpu->shrink(out, B, ldb, lam, R, col, alpha, m, run), SHUT();
}
static void col_sums_o(double *s, const float *u, size_t ldu, const float *w, size_t ldw, const double *c,
                       const float *z, size_t ldz, const size_t *col, size_t R, size_t m, int run) {
    OPEN(), cpu->col_sums(s, u, ldu, w, ldw, c, z, ldz, col, R, m, run), SHUT();
}
static void centre_o(float *xf, double *xd, double *mean, size_t n, size_t p) {
    OPEN(), cpu->centre(xf, xd, mean, n, p), SHUT();
}
static void dsum_rows_o(double *s, const double *a, size_t lda, size_t rows, size_t cols) {
    OPEN(), cpu->dsum_rows(s, a, lda, rows, cols), SHUT();
}
static void centre_gram_o(double *G, size_t p, const double *mu, const double *sx, double n, const double *s) {
    OPEN(), cpu->centre_gram(G, p, mu, sx, n, s), SHUT();
}
static void sum_segments_o(float *out, const float *D, const unsigned char *mask, size_t n_seg, size_t p, size_t t,
                           const double *mu, const double *y, double y_scale, const double *s) {
    OPEN(), cpu->sum_segments(out, D, mask, n_seg, p, t, mu, y, y_scale, s), SHUT();
}
static void gather_rows_o(void *dst, const void *src, size_t stride, const size_t *rows, size_t n, size_t row_bytes) {
    OPEN(), cpu->gather_rows(dst, src, stride, rows, n, row_bytes), SHUT();
}
static void sub_scale_o(double *a, size_t rows, size_t cols, const double *mu, const double *s) {
    OPEN(), cpu->sub_scale(a, rows, cols, mu, s), SHUT();
}
static void shrink_d_o(double *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                       const double *alpha, size_t m) {
    OPEN(), cpu->shrink_d(out, B, ldb, lam, R, col, alpha, m), SHUT();
}
static void scale_rows_o(double *a, size_t rows, size_t cols, const double *f) {
    OPEN(), cpu->scale_rows(a, rows, cols, f), SHUT();
}
static void widen_o(double *dst, const float *src, size_t lds, size_t rows, size_t cols) {
    OPEN(), cpu->widen(dst, src, lds, rows, cols), SHUT();
}
static void divided_differences_o(double *M, const double *H, const double *lam, const size_t *block, size_t R) {
    OPEN(), cpu->divided_differences(M, H, lam, block, R), SHUT();
}
static void pf_terms_o(double *F, double *G, const double *Bc, const double *Q, const double *H, const double *mt,
                       const float *Pm, size_t ldp, const size_t *block, const size_t *block_end, size_t R, size_t m) {
    OPEN(), cpu->pf_terms(F, G, Bc, Q, H, mt, Pm, ldp, block, block_end, R, m), SHUT();
}
static void gather_cols_axpy_o(double *dst, const double *src, size_t lds, size_t rows, const size_t *cols, size_t n,
                               double scale) {
    OPEN(), cpu->gather_cols_axpy(dst, src, lds, rows, cols, n, scale), SHUT();
}
static void row_means_o(double *m, const double *a, size_t rows, size_t cols) {
    OPEN(), cpu->row_means(m, a, rows, cols), SHUT();
}
static void double_centre_o(double *a, size_t rows, size_t cols, const double *ar, const double *ac, double cc) {
    OPEN(), cpu->double_centre(a, rows, cols, ar, ac, cc), SHUT();
}
static void sub_cols_f_o(float *a, size_t rows, size_t cols, const double *v) {
    OPEN(), cpu->sub_cols_f(a, rows, cols, v), SHUT();
}
static void dcentre_o(double *x, size_t n, size_t p, double *mean, double *total) {
    OPEN(), cpu->dcentre(x, n, p, mean, total), SHUT();
}
static void div_cols_o(double *a, size_t rows, size_t cols, const double *f) {
    OPEN(), cpu->div_cols(a, rows, cols, f), SHUT();
}
static void gather_block_o(double *a, const double *K, size_t ldk, const size_t *rows, size_t n) {
    OPEN(), cpu->gather_block(a, K, ldk, rows, n), SHUT();
}
static void kernel_centre_o(double *a, size_t n, const double *r, double rr) {
    OPEN(), cpu->kernel_centre(a, n, r, rr), SHUT();
}
static void conj_mul_o(LinalgComplex *out, const LinalgComplex *a, const LinalgComplex *b, size_t n) {
    OPEN(), cpu->conj_mul(out, a, b, n), SHUT();
}

static const LinalgOps opaque = {
    .name = "opaque",
    .alloc = alloc_o,
    .free = free_o,
    .upload = upload_o,
    .download = download_o,
    .copy = copy_o,
    .memset = memset_o,
    .sgemm = sgemm_o,
    .dgemm = dgemm_o,
    .dgemv = dgemv_o,
    .dsyrk = dsyrk_o,
    .dsyr = dsyr_o,
    .eigh = eigh_o,
    .eigh_top = eigh_top_o,
    .orthonormalise = orthonormalise_o,
    .svd_right = svd_right_o,
    .fft_plan = fft_plan_o,
    .fft_forward = fft_forward_o,
    .fft_inverse = fft_inverse_o,
    .fft_free = fft_free_o,
    .to_float = to_float_o,
    .fix_column_signs = fix_column_signs_o,
    .shrink = shrink_o,
    .col_sums = col_sums_o,
    .centre = centre_o,
    .dsum_rows = dsum_rows_o,
    .centre_gram = centre_gram_o,
    .sum_segments = sum_segments_o,
    .gather_rows = gather_rows_o,
    .sub_scale = sub_scale_o,
    .shrink_d = shrink_d_o,
    .scale_rows = scale_rows_o,
    .widen = widen_o,
    .divided_differences = divided_differences_o,
    .pf_terms = pf_terms_o,
    .gather_cols_axpy = gather_cols_axpy_o,
    .row_means = row_means_o,
    .double_centre = double_centre_o,
    .sub_cols_f = sub_cols_f_o,
    .dcentre = dcentre_o,
    .div_cols = div_cols_o,
    .gather_block = gather_block_o,
    .kernel_centre = kernel_centre_o,
    .conj_mul = conj_mul_o,
};

// ----------------------------------------------------------------------------
// ridge on the opaque table against the CPU table

static uint64_t rng = 0x5ca1ab1e0ddba11ull;

typedef struct {
    const char *name;
    size_t N, P, T;
    RidgeSelect select;
    int weights, pred, alphas_wide;  // refit; held-out predictions; a grid wide enough that scores are redone
    int banded;                      // two bands (a third and the rest of the features), two candidate scalings
    size_t memory;                   // the fit's budget; small: several target batches, the design cache in use
} RidgeCase;

static void ridge_case(const RidgeCase *k) {
    const size_t N = k->N, P = k->P, T = k->T;
    float *X = base_malloc(N * P * sizeof(float), "X"), *Y = base_malloc(N * T * sizeof(float), "Y");
    for (size_t i = 0; i < N * P; i++) X[i] = (float)test_nrand(&rng);
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++) {
            double s = 0;
            for (size_t p = 0; p < 4 && p < P; p++) s += X[i * P + (p + t) % P] * (1.0 + (double)(t % 3));
            Y[i * T + t] = (float)(s + 2.0 * test_nrand(&rng));
        }
    CvPlan cv;
    char err[256];
    cv_plan_folds(&cv, N, 4, 0, err);
    // the targets uploaded per batch, or resident (in the host's memory for the CPU table, the opaque table's for it)
    RidgeTargets rt, rt_cpu, rt_opaque;
    ridge_targets_init(&rt, Y, N, T, &cv, err);
    ridge_targets_init(&rt_cpu, Y, N, T, &cv, err);
    ridge_targets_init(&rt_opaque, Y, N, T, &cv, err);
    ridge_targets_resident(&rt_cpu, &linalg_ops_cpu);
    ridge_targets_resident(&rt_opaque, &opaque);
    double alphas[12];
    for (size_t a = 0; a < 12; a++) alphas[a] = pow(10.0, (k->alphas_wide ? -8.0 : -1.0) + (double)a * (k->alphas_wide ? 1.5 : 0.5));
    // runs 0 and 1: the CPU's table and the opaque one, each recording its designs; 2 and 3: the same tables
    // given the other's recorded designs (uploaded into the opaque table's memory, downloaded from it); 4 and 5:
    // the two tables on resident targets
    enum { RUNS = 6 };
    RidgeOut out[RUNS];
    const size_t per = N * T + P * T + T;
    double *res = base_calloc(RUNS * 3 * T, sizeof(double), "results");
    float *fl = base_calloc(RUNS * per, sizeof(float), "results");
    const LinalgOps *tables[RUNS] = {&linalg_ops_cpu, &opaque, &linalg_ops_cpu, &opaque, &linalg_ops_cpu, &opaque};
    const RidgeTargets *targets[RUNS] = {&rt, &rt, &rt, &rt, &rt_cpu, &rt_opaque};
    RidgeDesigns *sets[2] = {ridge_designs_create(SIZE_MAX), ridge_designs_create(SIZE_MAX)};
    int rc[RUNS];
    RidgeStats st[RUNS];
    for (int s = 0; s < RUNS; s++) {
        out[s] = (RidgeOut){.r = res + (s * 3) * T, .r2 = res + (s * 3 + 1) * T, .alpha = res + (s * 3 + 2) * T};
        float *f = fl + s * per;
        if (k->pred) out[s].pred = f;
        if (k->weights) out[s].weights = f + N * T, out[s].intercept = f + N * T + P * T;
        const size_t bands[2] = {P / 3, P - P / 3};
        const double gammas[4] = {1.0, 1.0, 0.2, 3.0};
        RidgeConfig cfg = {.cv = &cv, .alphas = alphas, .n_alphas = 12, .select = k->select, .memory_bytes = k->memory,
                           .linalg = tables[s], .designs = s < 2 ? sets[s] : s < 4 ? sets[3 - s] : NULL};
        if (k->banded) cfg.n_bands = 2, cfg.band_size = bands, cfg.n_gammas = 2, cfg.gammas = gammas;
        const float *xs = X;
        rc[s] = ridge_cv(&xs, 0, P, targets[s], &cfg, &out[s], &st[s], err);
    }
    int all_ran = 1;
    for (int s = 0; s < RUNS; s++) all_ran &= rc[s] == 0;
    CHECK(all_ran, "ridge/%s/ran (%zu dual splits, %zu scores redone "
          "directly)", k->name, st[1].n_dual, st[1].n_direct);
    if (k->memory)
        CHECK(st[1].n_batches > 1 && st[1].n_reused > 0, "ridge/%s/designs_reused_across_batches (%zu batches, %zu of "
              "%zu bases from the cache)", k->name, st[1].n_batches, st[1].n_reused, st[1].n_splits);
    CHECK(memcmp(res, res + 3 * T, 3 * T * sizeof(double)) == 0 && memcmp(fl, fl + per, per * sizeof(float)) == 0,
          "ridge/%s/opaque_equals_cpu_bit_for_bit N=%zu P=%zu T=%zu", k->name, N, P, T);
    int same = 1;
    for (int s = 2; s < 4; s++)
        same &= memcmp(res, res + s * 3 * T, 3 * T * sizeof(double)) == 0 &&
                memcmp(fl, fl + s * per, per * sizeof(float)) == 0 && st[s].n_shared > 0;
    CHECK(same, "ridge/%s/shared_designs_cross_the_tables_bit_for_bit (%zu recorded; %zu and %zu bases taken)", k->name,
          ridge_designs_count(sets[0]), st[2].n_shared, st[3].n_shared);
    same = 1;
    for (int s = 4; s < RUNS; s++)
        same &= memcmp(res, res + s * 3 * T, 3 * T * sizeof(double)) == 0 &&
                memcmp(fl, fl + s * per, per * sizeof(float)) == 0 && st[s].work_bytes < st[s - 4].work_bytes;
    CHECK(same, "ridge/%s/resident_targets_bit_for_bit_in_less_workspace (%zu bytes, %zu resident)", k->name,
          st[1].work_bytes, st[5].work_bytes);
    ridge_designs_free(sets[0]), ridge_designs_free(sets[1]);
    free(res), free(fl), free(X), free(Y);
    ridge_targets_free(&rt), ridge_targets_free(&rt_cpu), ridge_targets_free(&rt_opaque);
    cv_free(&cv);
}

// ----------------------------------------------------------------------------
// PCA on the opaque table against the CPU table: every route (covariance, Gram, randomized; one fit, a row subset,
// the folds' shared covariance and kernel) and the transform

static int pca_same(const Pca *a, const Pca *b) {
    return a->P == b->P && a->K == b->K && memcmp(a->mean, b->mean, a->P * sizeof(double)) == 0 &&
           memcmp(a->components, b->components, a->P * a->K * sizeof(double)) == 0 &&
           memcmp(a->explained, b->explained, a->K * sizeof(double)) == 0;
}

static void pca_cases(void) {
    const size_t N = 120, Pw = 200, Pn = 40, K = 7, F = 4;  // Pw > the rows: Gram and kernel; Pn: covariance
    double *x = base_malloc(N * Pw * sizeof(double), "x"), *t[2];
    for (size_t i = 0; i < N * Pw; i++) x[i] = test_nrand(&rng) * (i % Pw < 5 ? 4.0 : 1.0);
    uint8_t *in = base_malloc(F * N, "folds");
    for (size_t f = 0; f < F; f++)
        for (size_t i = 0; i < N; i++) in[f * N + i] = i / 30 != f;
    size_t rows[50];
    for (size_t i = 0; i < 50; i++) rows[i] = 2 * i;
    const LinalgOps *tables[2] = {&linalg_ops_cpu, &opaque};
    for (int m = 0; m < 2; m++)
        for (int wide = 0; wide < 2; wide++) {
            const size_t P = wide ? Pw : Pn;
            const char *route = m == PCA_RANDOMIZED ? "randomized" : wide ? "gram" : "covariance";
            Pca one[2], sub[2], folds[2][4];
            for (int s = 0; s < 2; s++) {
                pca_fit(&one[s], x, N, P, NULL, 0, K, (PcaMethod)m, 5, tables[s]);
                pca_fit(&sub[s], x, N, P, rows, 50, K, (PcaMethod)m, 5, tables[s]);
                pca_fit_folds(folds[s], x, N, P, in, F, K, (PcaMethod)m, 5, tables[s]);
                t[s] = base_malloc(N * K * sizeof(double), "scores");
                pca_transform(&one[s], x, N, t[s], tables[s]);
            }
            int same_folds = 1;
            for (size_t f = 0; f < F; f++) same_folds &= pca_same(&folds[0][f], &folds[1][f]);
            CHECK(pca_same(&one[0], &one[1]) && pca_same(&sub[0], &sub[1]) && same_folds &&
                      memcmp(t[0], t[1], N * K * sizeof(double)) == 0,
                  "pca/%s_P%zu/fit_rows_folds_transform_opaque_equals_cpu_bit_for_bit", route, P);
            for (int s = 0; s < 2; s++) {
                pca_free(&one[s]), pca_free(&sub[s]), free(t[s]);
                for (size_t f = 0; f < F; f++) pca_free(&folds[s][f]);
            }
        }
    free(x), free(in);
}

// ----------------------------------------------------------------------------
// the shift null on the opaque table against the CPU table

static void null_case(void) {
    const size_t N = 150, T = 9, n_null = 40;
    float *pred = base_malloc(N * T * sizeof(float), "pred"), *Y = base_malloc(N * T * sizeof(float), "Y");
    for (size_t i = 0; i < N * T; i++) pred[i] = (float)test_nrand(&rng), Y[i] = pred[i] + (float)test_nrand(&rng);
    CvPlan cv;
    char err[256];
    cv_plan_folds(&cv, N, 5, 0, err);
    double r[9], p[2][9], null[2][9 * 40];
    for (size_t t = 0; t < T; t++) r[t] = t == 4 ? NAN : 0.1 * (double)t;
    const LinalgOps *tables[2] = {&linalg_ops_cpu, &opaque};
    int rc[2];
    for (int s = 0; s < 2; s++) rc[s] = signif_shift_null(p[s], null[s], pred, Y, N, T, &cv, r, n_null, 5, tables[s], err);
    CHECK(rc[0] == 0 && rc[1] == 0 && memcmp(p[0], p[1], sizeof p[0]) == 0 && memcmp(null[0], null[1], sizeof null[0]) == 0,
          "signif/shift_null_opaque_equals_cpu_bit_for_bit N=%zu T=%zu shifts=%zu", N, T, n_null);
    free(pred), free(Y);
    cv_free(&cv);
}

// ----------------------------------------------------------------------------
// a layer's whole fit as the sweep runs it (encoding.h: PCA per outer fold, delays, nested ridge, the shift null;
// the design shared with a second set of targets, which takes the split designs the first recorded)
// on the opaque table against the CPU table

static void encoding_case(void) {
    const size_t W = 300, C = 40, T = 6, T2 = 4;
    float *x = base_malloc(W * C * sizeof(float), "x"), *Y = base_malloc(W * (T + T2) * sizeof(float), "Y");
    for (size_t i = 0; i < W * C; i++) x[i] = (float)test_nrand(&rng);
    for (size_t w = 0; w < W; w++)
        for (size_t t = 0; t < T + T2; t++)
            Y[w * (T + T2) + t] = x[w * C + t % 5] * (float)(1 + t % 3) + 2.0f * (float)test_nrand(&rng);
    float *Y1 = base_malloc(W * T * sizeof(float), "Y"), *Y2 = base_malloc(W * T2 * sizeof(float), "Y");
    for (size_t w = 0; w < W; w++) {
        memcpy(Y1 + w * T, Y + w * (T + T2), T * sizeof(float));
        memcpy(Y2 + w * T2, Y + w * (T + T2) + T, T2 * sizeof(float));
    }
    CvPlan cv;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, W, 4, 0, err);
    RidgeTargets rt1, rt2;
    ridge_targets_init(&rt1, Y1, W, T, &cv, err);
    ridge_targets_init(&rt2, Y2, W, T2, &cv, err);
    double alphas[9];
    base_logspace(alphas, -1, 4, 9);
    const int delays[2] = {0, 1};
    const LinalgOps *tables[2] = {&linalg_ops_cpu, &opaque};
    enum { PER = 5 };  // r, r2, alpha, p, q
    float out[2][2][PER * 6];
    int rc[2][2];
    size_t shared[2];
    for (int s = 0; s < 2; s++) {
        EncodingSpec e = {.W = W, .resample = RESAMPLE_SUM, .delays = delays, .D = 2, .pca_components = 8,
                          .pca_method = PCA_EIGH, .cv = &cv, .targets = &rt1, .alphas = alphas, .n_alphas = 9,
                          .select = RIDGE_SELECT_INNER, .memory_bytes = 1 << 24, .permutations = 30,
                          .linalg = tables[s]};
        EncodingDesign d;
        rc[s][0] = rc[s][1] = encoding_design(&e, x, C, &d, err);
        d.splits = ridge_designs_create(SIZE_MAX);
        // the first target set records the split designs, the second takes them
        for (int k = 0; k < 2 && rc[s][0] == 0; k++) {
            float *o = out[s][k];
            size_t n = k ? T2 : T;
            EncodingOut eo = {o, o + n, o + 2 * n, o + 3 * n, o + 4 * n, NULL, NULL, 0};
            EncodingStats st;
            e.targets = k ? &rt2 : &rt1;
            rc[s][k] = encoding_fit_design(&e, &d, &eo, &st, err);
            if (k) shared[s] = st.ridge.n_shared;
        }
        encoding_design_free(&d);
    }
    CHECK(rc[0][0] == 0 && rc[0][1] == 0 && rc[1][0] == 0 && rc[1][1] == 0, "encoding/ran %s",
          rc[0][0] || rc[0][1] || rc[1][0] || rc[1][1] ? err : "");
    CHECK(memcmp(out[0][0], out[1][0], PER * T * sizeof(float)) == 0 &&
              memcmp(out[0][1], out[1][1], PER * T2 * sizeof(float)) == 0 && shared[0] > 0 && shared[1] > 0,
          "encoding/pca_per_fold_delays_nested_ridge_null_opaque_equals_cpu_bit_for_bit (W=%zu C=%zu; the second "
          "target set took %zu and %zu split designs)", W, C, shared[0], shared[1]);
    ridge_targets_free(&rt1), ridge_targets_free(&rt2);
    cv_free(&cv);
    free(x), free(Y), free(Y1), free(Y2);
}

// the check itself: a child process reads a buffer of the opaque table in a plain loop and must be stopped
static void opaque_catches_a_host_read(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);  // the child's FAIL line is the expected outcome here
        volatile double *p = opaque.alloc(64 * sizeof(double), "a buffer read on the host");
        double s = 0;
        for (size_t i = 0; i < 64; i++) s += p[i];
        (void)s;
        _exit(0);  // reached only if the read went through
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "opaque_table_stops_a_host_read (child exit %d)",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

TEST_MAIN("test_device_clean") {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    omp_set_num_threads(1);
    static const RidgeCase cases[] = {
        // name                                   N    P   T    select                    weights pred wide banded memory
        {"primal_sufficient_statistics_inner", 400, 30, 70, RIDGE_SELECT_INNER, 1, 1, 0, 0},
        {"primal_sufficient_statistics_outer_mean", 400, 30, 70, RIDGE_SELECT_OUTER_MEAN, 1, 1, 0, 0},
        {"primal_explicit_predictions", 120, 60, 50, RIDGE_SELECT_INNER, 1, 1, 0, 0},
        {"dual", 60, 90, 40, RIDGE_SELECT_INNER, 1, 1, 0, 0},
        {"dual_banded", 60, 90, 40, RIDGE_SELECT_INNER, 1, 1, 0, 1},
        {"primal_banded", 400, 30, 70, RIDGE_SELECT_INNER, 1, 1, 0, 1},
        {"primal_redone_scores_wide_grid", 400, 30, 70, RIDGE_SELECT_INNER, 0, 0, 1, 0},
        {"primal_design_cache", 400, 30, 300, RIDGE_SELECT_INNER, 1, 1, 0, 1, 600 << 10},
        {"explicit_design_cache", 120, 60, 300, RIDGE_SELECT_OUTER_MEAN, 0, 1, 0, 0, 600 << 10},
        {"dual_design_cache", 60, 90, 300, RIDGE_SELECT_INNER, 1, 1, 0, 0, 600 << 10},
    };
    opaque_catches_a_host_read();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) ridge_case(&cases[i]);
    pca_cases();
    null_case();
    encoding_case();
}
