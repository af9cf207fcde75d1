// The CUDA linear-algebra table (cuda/linalg_cuda.h) against the CPU table (host/linalg.h), op by op.
//
// Every case: a fixed seed, random normal inputs at odd shapes (37, 53, 29: no multiple of 32 or of a vector
// width) with leading dimensions wider than the rows, both transposes where an op has them. Each buffer exists
// twice with the same bytes — a host array for the CPU op and a device copy for the GPU op — and is followed by a
// guard of POISON (all bits set: NaN); outputs whose op does not read them start as poison too. After both ops the
// device bytes come back and are compared with the host's: inside the result, no NaN and the norm-relative error
// ||gpu - cpu|| / ||cpu|| within the tolerance below; outside it (the padding of each row, the guard) the same bits
// as before (a write out of bounds fails).
//
// Tolerances, and why:
//   float64 products, FFTs and eigenvalues: 1e-12 — both sides round each operation once; only the summation order
//     (blocking, tree reductions) differs, and the error of a sum of k terms in another order is ~k eps |terms|.
//   float32 products: 1e-5 — the same argument in float32 (eps 6e-8, k up to 53, random signs).
//   eigenvectors, QR factors, right singular vectors: 1e-9 — compared after the table's sign fix (eigenvectors) or
//     after aligning each vector's sign with the CPU's (QR and SVD promise no sign); the spectra are built with gaps
//     of at least 0.5 against a norm under 60, so a vector moves by ~eps ||A|| / gap ~ 1e-14, far inside.
//   to_float, fix_column_signs, shrink: exact — the same correctly rounded operations (a conversion, a negation,
//     one float multiply or one float64 division per entry).
//   the fits' statistics (centre, dsum_rows, centre_gram, sum_segments, gather_rows, sub_scale, shrink_d,
//     scale_rows, widen, divided_differences, pf_terms, gather_cols_axpy, row_means, double_centre, sub_cols_f,
//     dcentre, div_cols, gather_block, kernel_centre, conj_mul): exact — the CPU's loops run per column or entry in the CPU's
//     order with its separate roundings; except dcentre's total, 1e-12 (the device sums the squares by columns).
//   col_sums: 1e-13 — float64 sums in the CPU's row order with the CPU's separate roundings (no FMA): equal in
//     practice; the margin admits a CPU build that contracts.
//
// `--bench N P T` times one ridge fit's steps through both tables instead (below, before the case table).
//
// Without a usable GPU (no driver: 35, no device: 100, stub library: 34) every case prints one SKIP line with the
// runtime's answer and the program exits 0: never a silent pass.
#include <cuda_runtime.h>

#include <cblas.h>
#include <time.h>

#include <thread>

#include "cuda/linalg_cuda.h"
#include "cuda/ops.h"
extern "C" {
#include "tests/test.h"
}

#define GUARD 64  // poisoned bytes after every buffer (a multiple of 8)
#define TOL_D 1e-12
#define TOL_F 1e-5
#define TOL_VEC 1e-9
#define TOL_SUMS 1e-13

static const LinalgOps *cpu = &linalg_ops_cpu, *gpu = &linalg_ops_cuda;
static uint64_t seed = 0x11a19c0da5eedull;

// ----------------------------------------------------------------------------
// twin buffers: a host array and a device copy of the same bytes, each with the poisoned guard after it

typedef struct {
    void *h, *d;
    size_t bytes;
} Twin;

// bytes of content; src NULL: all poison
static Twin twin(const void *src, size_t bytes) {
    Twin t = {base_malloc(bytes + GUARD, "host twin"), NULL, bytes};
    memset(t.h, 0xff, bytes + GUARD);
    if (src) memcpy(t.h, src, bytes);
    t.d = gpu->alloc(bytes + GUARD, "device twin");
    gpu->upload(t.d, t.h, bytes + GUARD);
    return t;
}
static void twin_free(Twin *t) { free(t->h), gpu->free(t->d); }

static double *rand_doubles(size_t n, double scale) {
    double *x = (double *)base_malloc(n * sizeof(double), "random");
    for (size_t i = 0; i < n; i++) x[i] = test_nrand(&seed) * scale;
    return x;
}
static float *rand_floats(size_t n) {
    float *x = (float *)base_malloc(n * sizeof(float), "random");
    for (size_t i = 0; i < n; i++) x[i] = (float)test_nrand(&seed);
    return x;
}

// got (host, downloaded) against ref: a (rows, cols) block with leading dimension ld inside bytes, of element T.
// tol 0: bit for bit inside too
template <typename T>
static void check_block(const char *name, const void *got_v, const void *ref_v, size_t bytes, size_t rows,
                        size_t cols, size_t ld, double tol) {
    const T *got = (const T *)got_v, *ref = (const T *)ref_v;
    double dd = 0, rr = 0, maxdiff = 0;
    size_t nonfinite = 0, outside = 0, inexact = 0, worst = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            const size_t i = r * ld + c;
            if (!isfinite((double)got[i]) || !isfinite((double)ref[i])) {
                nonfinite++;
                continue;
            }
            const double e = (double)got[i] - (double)ref[i];
            dd += e * e, rr += (double)ref[i] * ref[i];
            inexact += memcmp(&got[i], &ref[i], sizeof(T)) != 0;
            if (fabs(e) > maxdiff) maxdiff = fabs(e), worst = i;
        }
    // everything else the buffer holds, its guard included, must keep its bits
    const size_t n_all = (bytes + GUARD) / sizeof(T);
    for (size_t i = 0; i < n_all; i++) {
        const size_t r = i / ld, c = i % ld;
        if (r < rows && c < cols) continue;
        outside += memcmp(&got[i], &ref[i], sizeof(T)) != 0;
    }
    const double rel = rr > 0 ? sqrt(dd / rr) : sqrt(dd);
    const int ok = !nonfinite && !outside && (tol == 0 ? inexact == 0 : rel <= tol);
    if (!ok && rows && cols)
        printf("  %s: worst [%zu]: got %.17g want %.17g; %zu non-finite, %zu differing bits outside the result\n", name,
               worst, (double)got[worst], (double)ref[worst], nonfinite, outside);
    CHECK(ok, "%s %zux%zu ld=%zu rel=%.2g maxdiff=%.2g tol=%s", name, rows, cols, ld, rel, maxdiff,
          tol == 0 ? "exact" : (tol == TOL_D ? "1e-12" : tol == TOL_F ? "1e-5" : tol == TOL_VEC ? "1e-9" : "1e-13"));
}

// the device twin downloaded and checked against the host twin
template <typename T>
static void check_twin(const char *name, const Twin *t, size_t rows, size_t cols, size_t ld, double tol) {
    void *got = base_malloc(t->bytes + GUARD, "download");
    gpu->download(got, t->d, t->bytes + GUARD);
    check_block<T>(name, got, t->h, t->bytes, rows, cols, ld, tol);
    free(got);
}

// ----------------------------------------------------------------------------
// the cases

static void case_memory(void) {
    const size_t n = 1001;
    double *x = rand_doubles(n, 1.0), *back = (double *)base_malloc(n * sizeof(double), "back");
    double *a = (double *)gpu->alloc(n * sizeof(double), "a"), *b = (double *)gpu->alloc(n * sizeof(double), "b");
    gpu->upload(a, x, n * sizeof(double));
    gpu->copy(b, a, n * sizeof(double));
    gpu->download(back, b, n * sizeof(double));
    CHECK(memcmp(back, x, n * sizeof(double)) == 0, "memory/upload_copy_download_round_trip n=%zu", n);
    gpu->memset(b, 0, n * sizeof(double));
    gpu->download(back, b, n * sizeof(double));
    int zero = 1;
    for (size_t i = 0; i < n; i++) zero &= back[i] == 0.0;
    CHECK(zero && ((uintptr_t)a & 63) == 0, "memory/memset_zeroes_and_alloc_64_byte_aligned");
    CHECK(gpu->alloc(0, "nothing") == NULL, "memory/alloc_0_is_NULL");
    gpu->free(a), gpu->free(b), gpu->free(NULL);
    free(x), free(back);
}

// C (M, N) = alpha op(A) op(B) + beta C in both precisions, the four transposes; beta 0 on a poisoned C (never read)
static void case_gemm(void) {
    const size_t M = 37, N = 53, K = 29, pad = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int zero_beta = 0; zero_beta < 2; zero_beta++) {
                const LinalgTrans A_t = ta ? LINALG_T : LINALG_N, B_t = tb ? LINALG_T : LINALG_N;
                const size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                const size_t lda = ac + pad, ldb = bc + pad, ldc = N + pad;
                double *A = rand_doubles(ar * lda, 1.0), *B = rand_doubles(br * ldb, 1.0), *C = rand_doubles(M * ldc, 1.0);
                float *Af = rand_floats(ar * lda), *Bf = rand_floats(br * ldb), *Cf = rand_floats(M * ldc);
                Twin tA = twin(A, ar * lda * 8), tB = twin(B, br * ldb * 8), tC = twin(zero_beta ? NULL : C, M * ldc * 8);
                Twin fA = twin(Af, ar * lda * 4), fB = twin(Bf, br * ldb * 4), fC = twin(zero_beta ? NULL : Cf, M * ldc * 4);
                const double beta = zero_beta ? 0.0 : -1.5;
                cpu->dgemm(A_t, B_t, M, N, K, 0.5, (double *)tA.h, lda, (double *)tB.h, ldb, beta, (double *)tC.h, ldc);
                gpu->dgemm(A_t, B_t, M, N, K, 0.5, (double *)tA.d, lda, (double *)tB.d, ldb, beta, (double *)tC.d, ldc);
                cpu->sgemm(A_t, B_t, M, N, K, 0.5f, (float *)fA.h, lda, (float *)fB.h, ldb, (float)beta, (float *)fC.h, ldc);
                gpu->sgemm(A_t, B_t, M, N, K, 0.5f, (float *)fA.d, lda, (float *)fB.d, ldb, (float)beta, (float *)fC.d, ldc);
                char name[80];
                snprintf(name, sizeof name, "dgemm_%c%c%s", ta ? 'T' : 'N', tb ? 'T' : 'N', zero_beta ? "_beta0_poisoned" : "");
                check_twin<double>(name, &tC, M, N, ldc, TOL_D);
                snprintf(name, sizeof name, "sgemm_%c%c%s", ta ? 'T' : 'N', tb ? 'T' : 'N', zero_beta ? "_beta0_poisoned" : "");
                check_twin<float>(name, &fC, M, N, ldc, TOL_F);
                twin_free(&tA), twin_free(&tB), twin_free(&tC), twin_free(&fA), twin_free(&fB), twin_free(&fC);
                free(A), free(B), free(C), free(Af), free(Bf), free(Cf);
            }
}

static void case_gemv(void) {
    const size_t M = 37, N = 53, lda = 56;
    for (int t = 0; t < 2; t++)
        for (int zero_beta = 0; zero_beta < 2; zero_beta++) {
            const LinalgTrans A_t = t ? LINALG_T : LINALG_N;
            const size_t nx = t ? M : N, ny = t ? N : M;
            double *A = rand_doubles(M * lda, 1.0), *x = rand_doubles(nx, 1.0), *y = rand_doubles(ny, 1.0);
            Twin tA = twin(A, M * lda * 8), tx = twin(x, nx * 8), ty = twin(zero_beta ? NULL : y, ny * 8);
            const double beta = zero_beta ? 0.0 : 0.25;
            cpu->dgemv(A_t, M, N, 2.0, (double *)tA.h, lda, (double *)tx.h, beta, (double *)ty.h);
            gpu->dgemv(A_t, M, N, 2.0, (double *)tA.d, lda, (double *)tx.d, beta, (double *)ty.d);
            char name[64];
            snprintf(name, sizeof name, "dgemv_%c%s", t ? 'T' : 'N', zero_beta ? "_beta0_poisoned" : "");
            check_twin<double>(name, &ty, 1, ny, ny, TOL_D);
            twin_free(&tA), twin_free(&tx), twin_free(&ty);
            free(A), free(x), free(y);
        }
}

// a (n, n) symmetric into ld, both triangles
static void symmetrise(double *a, size_t n, size_t ld) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) a[i * ld + j] = a[j * ld + i];
}

static void case_syrk_syr(void) {
    const size_t n = 37, k = 53;
    for (int t = 0; t < 2; t++)
        for (int zero_beta = 0; zero_beta < 2; zero_beta++) {
            const LinalgTrans A_t = t ? LINALG_T : LINALG_N;
            const size_t lda = (t ? n : k) + 2, ldc = n + 5, rows = t ? k : n;
            double *A = rand_doubles(rows * lda, 1.0), *C = rand_doubles(n * ldc, 1.0);
            symmetrise(C, n, ldc);
            Twin tA = twin(A, rows * lda * 8), tC = twin(zero_beta ? NULL : C, n * ldc * 8);
            const double beta = zero_beta ? 0.0 : 2.0;
            cpu->dsyrk(A_t, n, k, -1.0, (double *)tA.h, lda, beta, (double *)tC.h, ldc);
            gpu->dsyrk(A_t, n, k, -1.0, (double *)tA.d, lda, beta, (double *)tC.d, ldc);
            char name[64];
            snprintf(name, sizeof name, "dsyrk_%c_both_triangles%s", t ? 'T' : 'N', zero_beta ? "_beta0_poisoned" : "");
            check_twin<double>(name, &tC, n, n, ldc, TOL_D);
            twin_free(&tA), twin_free(&tC);
            free(A), free(C);
        }
    const size_t lda = n + 4;
    double *A = rand_doubles(n * lda, 1.0), *x = rand_doubles(n, 1.0);
    symmetrise(A, n, lda);
    Twin tA = twin(A, n * lda * 8), tx = twin(x, n * 8);
    cpu->dsyr(n, -3.0, (double *)tx.h, (double *)tA.h, lda);
    gpu->dsyr(n, -3.0, (double *)tx.d, (double *)tA.d, lda);
    check_twin<double>("dsyr_both_triangles", &tA, n, n, lda, TOL_D);
    twin_free(&tA), twin_free(&tx);
    free(A), free(x);
}

// a (n, n) = Q diag(d) Q^T, Q random orthogonal, d spread over [-n/2, n/2] with gaps of at least 0.5 (tolerances)
static double *separated_symmetric(size_t n) {
    double *q = rand_doubles(n * n, 1.0), *qd = (double *)base_malloc(n * n * sizeof(double), "q d");
    double *a = (double *)base_malloc(n * n * sizeof(double), "a");
    cpu->orthonormalise(q, n, n);
    for (size_t j = 0; j < n; j++) {
        const double d = (double)j - 0.5 * (double)n + 0.5 * test_urand(&seed);  // gaps in [0.5, 1.5]
        for (size_t i = 0; i < n; i++) qd[i * n + j] = q[i * n + j] * d;
    }
    cpu->dgemm(LINALG_N, LINALG_T, n, n, n, 1.0, qd, n, q, n, 0.0, a, n);
    symmetrise(a, n, n);  // exactly symmetric: both libraries read one triangle
    free(q), free(qd);
    return a;
}

static void case_eigh(void) {
    const size_t sizes[] = {37, 200};
    for (size_t s = 0; s < 2; s++) {
        const size_t n = sizes[s];
        double *a = separated_symmetric(n);
        Twin ta = twin(a, n * n * 8), tw = twin(NULL, n * 8);
        cpu->eigh((double *)ta.h, (double *)tw.h, n);
        gpu->eigh((double *)ta.d, (double *)tw.d, n);
        char name[64];
        snprintf(name, sizeof name, "eigh_n%zu/values_descending", n);
        check_twin<double>(name, &tw, 1, n, n, TOL_D);
        snprintf(name, sizeof name, "eigh_n%zu/vectors_sign_fixed", n);
        check_twin<double>(name, &ta, n, n, n, TOL_VEC);
        twin_free(&ta), twin_free(&tw);
        free(a);
    }
    const size_t n = 53, ks[] = {7, 53};
    for (size_t s = 0; s < 2; s++) {
        const size_t k = ks[s];
        double *a = separated_symmetric(n);
        Twin ta = twin(a, n * n * 8), tw = twin(NULL, k * 8), tv = twin(NULL, n * k * 8);
        cpu->eigh_top((double *)ta.h, (double *)tw.h, (double *)tv.h, n, k);
        gpu->eigh_top((double *)ta.d, (double *)tw.d, (double *)tv.d, n, k);
        char name[64];
        snprintf(name, sizeof name, "eigh_top_n%zu_k%zu/values", n, k);
        check_twin<double>(name, &tw, 1, k, k, TOL_D);
        snprintf(name, sizeof name, "eigh_top_n%zu_k%zu/vectors_sign_fixed", n, k);
        check_twin<double>(name, &tv, n, k, k, TOL_VEC);
        twin_free(&ta), twin_free(&tw), twin_free(&tv);
        free(a);
    }
}

// a (rows, cols) downloaded from d, its columns (by_rows 0) or rows (1) flipped where their dot product with ref's
// is negative: the factorisations that promise no sign, compared up to it
static void *aligned_download(const Twin *t, size_t rows, size_t cols, int by_rows) {
    double *got = (double *)base_malloc(t->bytes + GUARD, "download");
    const double *ref = (const double *)t->h;
    gpu->download(got, t->d, t->bytes + GUARD);
    const size_t n_vec = by_rows ? rows : cols, len = by_rows ? cols : rows;
    for (size_t v = 0; v < n_vec; v++) {
        double dot = 0;
        for (size_t i = 0; i < len; i++) {
            const size_t e = by_rows ? v * cols + i : i * cols + v;
            dot += got[e] * ref[e];
        }
        if (dot < 0)
            for (size_t i = 0; i < len; i++) {
                const size_t e = by_rows ? v * cols + i : i * cols + v;
                got[e] = -got[e];
            }
    }
    return got;
}

static void case_factorisations(void) {
    const size_t qr[][2] = {{53, 7}, {37, 37}};
    for (size_t s = 0; s < 2; s++) {
        const size_t m = qr[s][0], l = qr[s][1];
        double *q = rand_doubles(m * l, 1.0);
        Twin tq = twin(q, m * l * 8);
        cpu->orthonormalise((double *)tq.h, m, l);
        gpu->orthonormalise((double *)tq.d, m, l);
        void *got = aligned_download(&tq, m, l, 0);
        char name[64];
        snprintf(name, sizeof name, "orthonormalise_%zux%zu/q_up_to_column_signs", m, l);
        check_block<double>(name, got, tq.h, tq.bytes, m, l, l, TOL_VEC);
        free(got), twin_free(&tq), free(q);
    }
    const size_t sv[][2] = {{7, 53}, {37, 53}, {29, 29}};
    for (size_t s = 0; s < 3; s++) {
        const size_t m = sv[s][0], n = sv[s][1];
        double *a = rand_doubles(m * n, 1.0);
        Twin ta = twin(a, m * n * 8), ts = twin(NULL, m * 8), tvt = twin(NULL, m * n * 8);
        cpu->svd_right((double *)ta.h, (double *)ts.h, (double *)tvt.h, m, n);
        gpu->svd_right((double *)ta.d, (double *)ts.d, (double *)tvt.d, m, n);
        char name[64];
        snprintf(name, sizeof name, "svd_right_%zux%zu/values", m, n);
        check_twin<double>(name, &ts, 1, m, m, TOL_D);
        void *got = aligned_download(&tvt, m, n, 1);
        snprintf(name, sizeof name, "svd_right_%zux%zu/vt_up_to_row_signs", m, n);
        check_block<double>(name, got, tvt.h, tvt.bytes, m, n, n, TOL_VEC);
        free(got), twin_free(&ta), twin_free(&ts), twin_free(&tvt), free(a);
    }
}

static void case_fft(void) {
    const size_t lengths[] = {37, 53, 1000};
    for (size_t s = 0; s < 3; s++) {
        const size_t n = lengths[s], F = n / 2 + 1;
        double *x = rand_doubles(n, 1.0);
        Twin tx = twin(x, n * 8), tX = twin(NULL, F * 16), ty = twin(NULL, n * 8);
        LinalgFft *pc = cpu->fft_plan(n), *pg = gpu->fft_plan(n);
        cpu->fft_forward(pc, (double *)tx.h, (LinalgComplex *)tX.h);
        gpu->fft_forward(pg, (double *)tx.d, (LinalgComplex *)tX.d);
        char name[64];
        snprintf(name, sizeof name, "fft_forward_n%zu", n);
        check_twin<double>(name, &tX, 1, 2 * F, 2 * F, TOL_D);
        snprintf(name, sizeof name, "fft_forward_n%zu/input_unchanged", n);
        check_twin<double>(name, &tx, 1, n, n, 0);
        // the inverse of the same bins on both sides (the CPU's, uploaded): n times the signal
        gpu->upload(tX.d, tX.h, F * 16);
        cpu->fft_inverse(pc, (LinalgComplex *)tX.h, (double *)ty.h);
        gpu->fft_inverse(pg, (LinalgComplex *)tX.d, (double *)ty.d);
        snprintf(name, sizeof name, "fft_inverse_n%zu", n);
        check_twin<double>(name, &ty, 1, n, n, TOL_D);
        cpu->fft_free(pc), gpu->fft_free(pg);
        twin_free(&tx), twin_free(&tX), twin_free(&ty);
        free(x);
    }
}

// the contract's "ops may run concurrently": four threads share one FFT plan (as the null's threads do) and run
// products on their own streams; each thread's results must equal the single-threaded ones bit for bit
static void case_threads(void) {
    enum { THREADS = 4, ROUNDS = 8 };
    const size_t n = 1000, F = n / 2 + 1, M = 37, K = 53;
    double *x = rand_doubles(THREADS * n, 1.0), *A = rand_doubles(M * K, 1.0);
    double *want_X = (double *)base_malloc(THREADS * F * 16, "want"), *want_G = (double *)base_malloc(M * M * 8, "want");
    double *got_X = (double *)base_malloc(THREADS * F * 16, "got"), *got_G = (double *)base_malloc(THREADS * M * M * 8, "got");
    double *dx = (double *)gpu->alloc(THREADS * n * 8, "x"), *dA = (double *)gpu->alloc(M * K * 8, "A");
    double *dX = (double *)gpu->alloc(THREADS * F * 16, "X"), *dG = (double *)gpu->alloc(THREADS * M * M * 8, "G");
    gpu->upload(dx, x, THREADS * n * 8), gpu->upload(dA, A, M * K * 8);
    LinalgFft *plan = gpu->fft_plan(n);
    for (size_t t = 0; t < THREADS; t++) gpu->fft_forward(plan, dx + t * n, (LinalgComplex *)(dX + 2 * t * F));
    gpu->download(want_X, dX, THREADS * F * 16);
    gpu->dsyrk(LINALG_N, M, K, 1.0, dA, K, 0.0, dG, M);
    gpu->download(want_G, dG, M * M * 8);
    gpu->memset(dX, 0xff, THREADS * F * 16), gpu->memset(dG, 0xff, THREADS * M * M * 8);
    std::thread pool[THREADS];
    for (size_t t = 0; t < THREADS; t++)
        pool[t] = std::thread([=] {
            for (int r = 0; r < ROUNDS; r++) {
                gpu->fft_forward(plan, dx + t * n, (LinalgComplex *)(dX + 2 * t * F));
                gpu->dsyrk(LINALG_N, M, K, 1.0, dA, K, 0.0, dG + t * M * M, M);
            }
        });
    for (size_t t = 0; t < THREADS; t++) pool[t].join();
    gpu->download(got_X, dX, THREADS * F * 16), gpu->download(got_G, dG, THREADS * M * M * 8);
    int same_fft = memcmp(got_X, want_X, THREADS * F * 16) == 0, same_syrk = 1;
    for (size_t t = 0; t < THREADS; t++) same_syrk &= memcmp(got_G + t * M * M, want_G, M * M * 8) == 0;
    CHECK(same_fft, "threads/shared_fft_plan_4_threads x%d rounds: bit-identical to one thread", ROUNDS);
    CHECK(same_syrk, "threads/dsyrk_on_4_streams x%d rounds: bit-identical to one thread", ROUNDS);
    gpu->fft_free(plan);
    gpu->free(dx), gpu->free(dA), gpu->free(dX), gpu->free(dG);
    free(x), free(A), free(want_X), free(want_G), free(got_X), free(got_G);
}

static void case_elementwise(void) {
    // to_float: random values plus the edges of float (underflow to a subnormal and to 0, overflow to Inf is
    // left out: Inf would read as non-finite)
    const size_t n = 1001;
    double *d = rand_doubles(n, 1e3);
    d[0] = 1e-40, d[1] = -1e-50, d[2] = 3.4e38, d[3] = -0.0, d[4] = 1.0 / 3.0;
    Twin td = twin(d, n * 8), tf = twin(NULL, n * 4);
    cpu->to_float((float *)tf.h, (double *)td.h, n);
    gpu->to_float((float *)tf.d, (double *)td.d, n);
    check_twin<float>("to_float", &tf, 1, n, n, 0);
    twin_free(&td), twin_free(&tf), free(d);

    // fix_column_signs (37, 53), column 5 with a tie in magnitude (+2 then -2: the first wins, kept) and column 6
    // (-2 then +2: flipped)
    const size_t rows = 37, cols = 53;
    double *a = rand_doubles(rows * cols, 0.1);
    a[3 * cols + 5] = 2, a[9 * cols + 5] = -2, a[4 * cols + 6] = -2, a[8 * cols + 6] = 2;
    Twin ta = twin(a, rows * cols * 8);
    cpu->fix_column_signs((double *)ta.h, rows, cols);
    gpu->fix_column_signs((double *)ta.d, rows, cols);
    check_twin<double>("fix_column_signs_ties_first_wins", &ta, rows, cols, cols, 0);
    twin_free(&ta), free(a);

    // shrink: out (R, m) = B[r, col[j]] / (lam[r] + alpha[j]), a run and scattered columns
    const size_t R = 37, m = 53, ldb = 97;
    float *B = rand_floats(R * ldb);
    double *lam = rand_doubles(R, 1.0), *alpha = rand_doubles(m, 1.0);
    size_t run_col[53], col[53];
    for (size_t i = 0; i < R; i++) lam[i] = lam[i] * lam[i] + 0.01;
    for (size_t j = 0; j < m; j++) {
        alpha[j] = exp(3 * alpha[j]);
        run_col[j] = 11 + j;
        col[j] = (size_t)(test_urand(&seed) * (double)ldb) % ldb;
    }
    Twin tB = twin(B, R * ldb * 4), tl = twin(lam, R * 8), tal = twin(alpha, m * 8);
    for (int run = 0; run < 2; run++) {
        Twin tc = twin(run ? run_col : col, m * sizeof(size_t)), to = twin(NULL, R * m * 4);
        cpu->shrink((float *)to.h, (float *)tB.h, ldb, (double *)tl.h, R, (size_t *)tc.h, (double *)tal.h, m, run);
        gpu->shrink((float *)to.d, (float *)tB.d, ldb, (double *)tl.d, R, (size_t *)tc.d, (double *)tal.d, m, run);
        check_twin<float>(run ? "shrink_run" : "shrink_columns", &to, R, m, m, 0);
        twin_free(&tc), twin_free(&to);
    }
    twin_free(&tB), twin_free(&tl), twin_free(&tal);
    free(B), free(lam), free(alpha);

    // col_sums: s (3, m) accumulates over R rows; u (R, ldu), w (R, ldw), z (R, ldz)
    const size_t ldu = 59, ldw = 61, ldz = 97;
    float *u = rand_floats(R * ldu), *w = rand_floats(R * ldw), *z = rand_floats(R * ldz);
    double *c = rand_doubles(R, 1.0), *s0 = rand_doubles(3 * m, 1.0);
    Twin tu = twin(u, R * ldu * 4), tw = twin(w, R * ldw * 4), tz = twin(z, R * ldz * 4), tcw = twin(c, R * 8);
    for (int with_c = 0; with_c < 2; with_c++)
        for (int run = 0; run < 2; run++) {
            Twin tc = twin(run ? run_col : col, m * sizeof(size_t)), ts = twin(s0, 3 * m * 8);
            cpu->col_sums((double *)ts.h, (float *)tu.h, ldu, (float *)tw.h, ldw, with_c ? (double *)tcw.h : NULL,
                          (float *)tz.h, ldz, (size_t *)tc.h, R, m, run);
            gpu->col_sums((double *)ts.d, (float *)tu.d, ldu, (float *)tw.d, ldw, with_c ? (double *)tcw.d : NULL,
                          (float *)tz.d, ldz, (size_t *)tc.d, R, m, run);
            char name[64];
            snprintf(name, sizeof name, "col_sums_%s_%s", with_c ? "weighted" : "plain", run ? "run" : "columns");
            check_twin<double>(name, &ts, 3, m, m, TOL_SUMS);
            twin_free(&tc), twin_free(&ts);
        }
    twin_free(&tu), twin_free(&tw), twin_free(&tz), twin_free(&tcw);
    free(u), free(w), free(z), free(c), free(s0);
}

// the fits' statistics, every one exact: the kernels run the CPU's loops with its roundings
static void case_statistics(void) {
    const size_t n = 37, p = 53;
    float *x = rand_floats(n * p);
    for (size_t i = 0; i < n * p; i++) x[i] += 3.0f;  // a mean to remove
    Twin txf = twin(x, n * p * 4), txd = twin(NULL, n * p * 8), tmean = twin(NULL, p * 8);
    cpu->centre((float *)txf.h, (double *)txd.h, (double *)tmean.h, n, p);
    gpu->centre((float *)txf.d, (double *)txd.d, (double *)tmean.d, n, p);
    check_twin<double>("centre/mean", &tmean, 1, p, p, 0);
    check_twin<double>("centre/float64", &txd, n, p, p, 0);
    check_twin<float>("centre/float32", &txf, n, p, p, 0);
    twin_free(&txf), twin_free(&txd), twin_free(&tmean), free(x);

    const size_t rows = 29, cols = 53, lda = 61;
    double *a = rand_doubles(rows * lda, 1.0), *s0 = rand_doubles(37 * 37, 1.0);
    Twin ta = twin(a, rows * lda * 8), ts = twin(s0, cols * 8), ts1 = twin(s0, 37 * 37 * 8);
    Twin tg = twin(a, 37 * 37 * 8);  // rows 1: s += a over a Gram's worth
    cpu->dsum_rows((double *)ts.h, (double *)ta.h, lda, rows, cols);
    gpu->dsum_rows((double *)ts.d, (double *)ta.d, lda, rows, cols);
    check_twin<double>("dsum_rows_29x53_ld61", &ts, 1, cols, cols, 0);
    cpu->dsum_rows((double *)ts1.h, (double *)tg.h, 37 * 37, 1, 37 * 37);
    gpu->dsum_rows((double *)ts1.d, (double *)tg.d, 37 * 37, 1, 37 * 37);
    check_twin<double>("dsum_rows_one_row_37x37", &ts1, 37, 37, 37, 0);
    twin_free(&ta), twin_free(&ts), twin_free(&ts1), twin_free(&tg), free(a), free(s0);

    const size_t q = 37;
    double *G = rand_doubles(q * q, 1.0), *mu = rand_doubles(q, 1.0), *sx = rand_doubles(q, 1.0);
    double *sc = rand_doubles(q, 1.0);
    Twin tmu = twin(mu, q * 8), tsx = twin(sx, q * 8), tsc = twin(sc, q * 8);
    for (int held_out = 0; held_out < 2; held_out++) {
        Twin tG = twin(G, q * q * 8);
        cpu->centre_gram((double *)tG.h, q, (double *)tmu.h, held_out ? (double *)tsx.h : NULL, 17.0, (double *)tsc.h);
        gpu->centre_gram((double *)tG.d, q, (double *)tmu.d, held_out ? (double *)tsx.d : NULL, 17.0, (double *)tsc.d);
        check_twin<double>(held_out ? "centre_gram_held_out_37" : "centre_gram_training_37", &tG, q, q, q, 0);
        twin_free(&tG);
    }
    twin_free(&tmu), twin_free(&tsx), twin_free(&tsc), free(G), free(mu), free(sx), free(sc);

    const size_t S = 5, P = 37, T = 300;
    const unsigned char mask[5] = {1, 0, 1, 1, 0};
    float *D = rand_floats(S * P * T);
    double *y = rand_doubles(T, 1.0), *m = rand_doubles(P, 1.0), *sp = rand_doubles(P, 1.0);
    Twin tD = twin(D, S * P * T * 4), ty = twin(y, T * 8), tm = twin(m, P * 8), tsp = twin(sp, P * 8);
    Twin to = twin(NULL, P * T * 4);
    cpu->sum_segments((float *)to.h, (float *)tD.h, mask, S, P, T, (double *)tm.h, (double *)ty.h, 120.0, (double *)tsp.h);
    gpu->sum_segments((float *)to.d, (float *)tD.d, mask, S, P, T, (double *)tm.d, (double *)ty.d, 120.0, (double *)tsp.d);
    check_twin<float>("sum_segments_5x37x300_host_mask", &to, P, T, T, 0);
    twin_free(&tD), twin_free(&ty), twin_free(&tm), twin_free(&tsp), twin_free(&to);
    free(D), free(y), free(m), free(sp);

    // gather_rows (host row list), in 4-byte words (float rows) and in bytes (an odd row length), then sub_scale
    const size_t src_rows = 53, width = 37, pick[7] = {52, 0, 17, 17, 3, 40, 1};
    double *src = rand_doubles(src_rows * width, 1.0), *mu2 = rand_doubles(width, 1.0), *s2 = rand_doubles(width, 1.0);
    Twin tsrc = twin(src, src_rows * width * 8), tz = twin(NULL, 7 * width * 8), tb = twin(NULL, 7 * 13);
    Twin tmu2 = twin(mu2, width * 8), ts2 = twin(s2, width * 8);
    cpu->gather_rows(tz.h, tsrc.h, width * 8, pick, 7, width * 8);
    gpu->gather_rows(tz.d, tsrc.d, width * 8, pick, 7, width * 8);
    check_twin<double>("gather_rows_7_of_53_words", &tz, 7, width, width, 0);
    cpu->gather_rows(tb.h, (char *)tsrc.h + 3, width * 8, pick, 7, 13);
    gpu->gather_rows(tb.d, (char *)tsrc.d + 3, width * 8, pick, 7, 13);
    check_twin<unsigned char>("gather_rows_7_of_53_bytes", &tb, 7, 13, 13, 0);
    for (int scaled = 0; scaled < 2; scaled++) {
        cpu->sub_scale((double *)tz.h, 7, width, (double *)tmu2.h, scaled ? (double *)ts2.h : NULL);
        gpu->sub_scale((double *)tz.d, 7, width, (double *)tmu2.d, scaled ? (double *)ts2.d : NULL);
        check_twin<double>(scaled ? "sub_scale_7x37_scaled" : "sub_scale_7x37", &tz, 7, width, width, 0);
    }
    twin_free(&tsrc), twin_free(&tz), twin_free(&tb), twin_free(&tmu2), twin_free(&ts2);
    free(src), free(mu2), free(s2);

    // shrink_d (37, 53) from B (37, 97), scattered columns; then scale_rows
    const size_t R = 37, m2 = 53, ldb = 97;
    float *B = rand_floats(R * ldb);
    double *lam = rand_doubles(R, 1.0), *alpha = rand_doubles(m2, 1.0), *f = rand_doubles(R, 1.0);
    size_t col[53];
    for (size_t i = 0; i < R; i++) lam[i] = lam[i] * lam[i];
    for (size_t j = 0; j < m2; j++) alpha[j] = exp(2 * alpha[j]), col[j] = (j * 7 + 5) % ldb;
    Twin tB = twin(B, R * ldb * 4), tl = twin(lam, R * 8), ta2 = twin(alpha, m2 * 8), tc = twin(col, m2 * sizeof(size_t));
    Twin tf = twin(f, R * 8), tout = twin(NULL, R * m2 * 8);
    cpu->shrink_d((double *)tout.h, (float *)tB.h, ldb, (double *)tl.h, R, (size_t *)tc.h, (double *)ta2.h, m2);
    gpu->shrink_d((double *)tout.d, (float *)tB.d, ldb, (double *)tl.d, R, (size_t *)tc.d, (double *)ta2.d, m2);
    check_twin<double>("shrink_d_37x53", &tout, R, m2, m2, 0);
    cpu->scale_rows((double *)tout.h, R, m2, (double *)tf.h);
    gpu->scale_rows((double *)tout.d, R, m2, (double *)tf.d);
    check_twin<double>("scale_rows_37x53", &tout, R, m2, m2, 0);
    twin_free(&tB), twin_free(&tl), twin_free(&ta2), twin_free(&tc), twin_free(&tf), twin_free(&tout);
    free(B), free(lam), free(alpha), free(f);

    // the partial-fraction scoring: widen (37, 53) of Pm (37, 97); divided differences and terms with R = 37,
    // eigenvalues descending with tie blocks {3, 4, 5} and {20, 21}, m = 53
    const size_t Rk = 37, mk = 53, ldp = 97;
    float *Pm = rand_floats(Rk * ldp);
    double *H = rand_doubles(Rk * Rk, 1.0), *lk = (double *)base_malloc(Rk * 8, "lam"), *Q = rand_doubles(Rk * mk, 1.0);
    double *mt = rand_doubles(Rk, 1.0);
    size_t blk[37], blk_end[37];
    for (size_t i = 0; i < Rk; i++) lk[i] = 100.0 - 2.0 * (double)i, blk[i] = i;
    lk[4] = lk[5] = lk[3], lk[21] = lk[20];
    blk[4] = blk[5] = 3, blk[21] = 20;
    for (size_t i = Rk; i-- > 0;) blk_end[i] = i + 1 < Rk && blk[i + 1] == blk[i] ? blk_end[i + 1] : i + 1;
    Twin tPm = twin(Pm, Rk * ldp * 4), tBc = twin(NULL, Rk * mk * 8), tH = twin(H, Rk * Rk * 8), tlk = twin(lk, Rk * 8);
    Twin tQ = twin(Q, Rk * mk * 8), tmt = twin(mt, Rk * 8), tblk = twin(blk, sizeof blk), tend = twin(blk_end, sizeof blk_end);
    Twin tM = twin(NULL, Rk * Rk * 8), tF = twin(NULL, 4 * Rk * mk * 8), tG = twin(NULL, 2 * Rk * mk * 8);
    cpu->widen((double *)tBc.h, (float *)tPm.h + 5, ldp, Rk, mk);
    gpu->widen((double *)tBc.d, (float *)tPm.d + 5, ldp, Rk, mk);
    check_twin<double>("widen_37x53_ld97", &tBc, Rk, mk, mk, 0);
    cpu->divided_differences((double *)tM.h, (double *)tH.h, (double *)tlk.h, (size_t *)tblk.h, Rk);
    gpu->divided_differences((double *)tM.d, (double *)tH.d, (double *)tlk.d, (size_t *)tblk.d, Rk);
    check_twin<double>("divided_differences_37_two_ties", &tM, Rk, Rk, Rk, 0);
    cpu->pf_terms((double *)tF.h, (double *)tG.h, (double *)tBc.h, (double *)tQ.h, (double *)tH.h, (double *)tmt.h,
                  (float *)tPm.h + 2, ldp, (size_t *)tblk.h, (size_t *)tend.h, Rk, mk);
    gpu->pf_terms((double *)tF.d, (double *)tG.d, (double *)tBc.d, (double *)tQ.d, (double *)tH.d, (double *)tmt.d,
                  (float *)tPm.d + 2, ldp, (size_t *)tblk.d, (size_t *)tend.d, Rk, mk);
    check_twin<double>("pf_terms_F_37x53_two_ties", &tF, 2 * Rk, 2 * mk, 2 * mk, 0);
    check_twin<double>("pf_terms_G_37x53", &tG, Rk, 2 * mk, 2 * mk, 0);
    Twin *all[] = {&tPm, &tBc, &tH, &tlk, &tQ, &tmt, &tblk, &tend, &tM, &tF, &tG};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) twin_free(all[i]);
    free(Pm), free(H), free(lk), free(Q), free(mt);

    // the dual basis's kernels: K (53, 53), 29 training columns (host list), row means, centring, float targets
    const size_t NK = 53, ntr = 29;
    size_t trc[29];
    for (size_t j = 0; j < ntr; j++) trc[j] = (j * 11 + 3) % NK;
    double *K = rand_doubles(NK * NK, 1.0), *Kr0 = rand_doubles(NK * ntr, 1.0), *ar = rand_doubles(NK, 1.0);
    double *ac = rand_doubles(ntr, 1.0);
    float *yk = rand_floats(NK * ntr);
    Twin tK = twin(K, NK * NK * 8), tKr = twin(Kr0, NK * ntr * 8), tm2 = twin(NULL, NK * 8), tar = twin(ar, NK * 8);
    Twin tac = twin(ac, ntr * 8), tyk = twin(yk, NK * ntr * 4);
    cpu->gather_cols_axpy((double *)tKr.h, (double *)tK.h, NK, NK, trc, ntr, 0.7);
    gpu->gather_cols_axpy((double *)tKr.d, (double *)tK.d, NK, NK, trc, ntr, 0.7);
    check_twin<double>("gather_cols_axpy_53x29_host_cols", &tKr, NK, ntr, ntr, 0);
    cpu->row_means((double *)tm2.h, (double *)tKr.h, NK, ntr);
    gpu->row_means((double *)tm2.d, (double *)tKr.d, NK, ntr);
    check_twin<double>("row_means_53x29", &tm2, 1, NK, NK, 0);
    cpu->double_centre((double *)tKr.h, NK, ntr, (double *)tar.h, (double *)tac.h, 0.25);
    gpu->double_centre((double *)tKr.d, NK, ntr, (double *)tar.d, (double *)tac.d, 0.25);
    check_twin<double>("double_centre_53x29", &tKr, NK, ntr, ntr, 0);
    cpu->sub_cols_f((float *)tyk.h, NK, ntr, (double *)tac.h);
    gpu->sub_cols_f((float *)tyk.d, NK, ntr, (double *)tac.d);
    check_twin<float>("sub_cols_f_53x29", &tyk, NK, ntr, ntr, 0);
    twin_free(&tK), twin_free(&tKr), twin_free(&tm2), twin_free(&tar), twin_free(&tac), twin_free(&tyk);
    free(K), free(Kr0), free(ar), free(ac), free(yk);

    // PCA's: dcentre (53, 37) (its total: TOL_D, the device sums the squares by columns), div_cols, gather_block of
    // 29 rows of K (53, 53), kernel_centre
    double *xp = rand_doubles(53 * 37, 1.0), *fdiv = rand_doubles(37, 1.0), *rk = rand_doubles(29, 1.0);
    for (size_t i = 0; i < 53 * 37; i++) xp[i] += 2.0;
    double *K2 = rand_doubles(NK * NK, 1.0);
    Twin tpx = twin(xp, 53 * 37 * 8), tpmean = twin(NULL, 37 * 8), ttot = twin(NULL, 8), tdiv = twin(fdiv, 37 * 8);
    Twin tK2 = twin(K2, NK * NK * 8), tblock = twin(NULL, ntr * ntr * 8), trk = twin(rk, ntr * 8);
    cpu->dcentre((double *)tpx.h, 53, 37, (double *)tpmean.h, (double *)ttot.h);
    gpu->dcentre((double *)tpx.d, 53, 37, (double *)tpmean.d, (double *)ttot.d);
    check_twin<double>("dcentre_53x37/centred", &tpx, 53, 37, 37, 0);
    check_twin<double>("dcentre_53x37/mean", &tpmean, 1, 37, 37, 0);
    check_twin<double>("dcentre_53x37/total", &ttot, 1, 1, 1, TOL_D);
    cpu->div_cols((double *)tpx.h, 53, 37, (double *)tdiv.h);
    gpu->div_cols((double *)tpx.d, 53, 37, (double *)tdiv.d);
    check_twin<double>("div_cols_53x37", &tpx, 53, 37, 37, 0);
    cpu->gather_block((double *)tblock.h, (double *)tK2.h, NK, trc, ntr);
    gpu->gather_block((double *)tblock.d, (double *)tK2.d, NK, trc, ntr);
    check_twin<double>("gather_block_29_of_53_host_rows", &tblock, ntr, ntr, ntr, 0);
    cpu->kernel_centre((double *)tblock.h, ntr, (double *)trk.h, 0.375);
    gpu->kernel_centre((double *)tblock.d, ntr, (double *)trk.d, 0.375);
    check_twin<double>("kernel_centre_29", &tblock, ntr, ntr, ntr, 0);
    twin_free(&tpx), twin_free(&tpmean), twin_free(&ttot), twin_free(&tdiv), twin_free(&tK2), twin_free(&tblock);
    twin_free(&trk);
    free(xp), free(fdiv), free(rk), free(K2);

    // the null's cross-spectra, conj(a) b over 527 bins (exact for finite bins: the same four products and two sums)
    const size_t nb = 527;
    double *za = rand_doubles(2 * nb, 1.0), *zb = rand_doubles(2 * nb, 1.0);
    Twin tza = twin(za, nb * 16), tzb = twin(zb, nb * 16), tzo = twin(NULL, nb * 16);
    cpu->conj_mul((LinalgComplex *)tzo.h, (LinalgComplex *)tza.h, (LinalgComplex *)tzb.h, nb);
    gpu->conj_mul((LinalgComplex *)tzo.d, (LinalgComplex *)tza.d, (LinalgComplex *)tzb.d, nb);
    check_twin<double>("conj_mul_527", &tzo, 1, 2 * nb, 2 * nb, 0);
    twin_free(&tza), twin_free(&tzb), twin_free(&tzo), free(za), free(zb);
}

// ----------------------------------------------------------------------------
// --bench N P T: the products and factorisations of one ridge fit, timed through both tables on the same data
// (bench/gpu/linalg.sh): the Gram of the features in float64 (dsyrk), its eigendecomposition, the projection of
// the targets (X^T Y, then onto the eigenvectors), the diagonal shrink of one alpha, back to weights, and the
// prediction of a fifth of the rows. One "ROW step | gpu s, cpu s | speed-up, GFLOP/s" line per step, the
// transfers on their own line, and the prediction's norm-relative difference between the tables.

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    double *X64, *G, *w, *lam, *alpha;  // (n, p) float64; (p, p); (p); (p) eigenvalues; (1)
    float *X, *Y, *V, *XtY, *B, *S, *W, *Yhat;  // (n, p), (n, t), (p, p), (p, t) x4, (n/5, t)
    size_t *col;                        // (1): the run's first column
} RidgeBufs;

static RidgeBufs ridge_bufs(const LinalgOps *la, size_t n, size_t p, size_t t) {
    RidgeBufs b;
    b.X64 = (double *)la->alloc(n * p * 8, "X64"), b.G = (double *)la->alloc(p * p * 8, "G");
    b.w = (double *)la->alloc(p * 8, "w"), b.lam = b.w, b.alpha = (double *)la->alloc(8, "alpha");
    b.X = (float *)la->alloc(n * p * 4, "X"), b.Y = (float *)la->alloc(n * t * 4, "Y");
    b.V = (float *)la->alloc(p * p * 4, "V"), b.XtY = (float *)la->alloc(p * t * 4, "XtY");
    b.B = (float *)la->alloc(p * t * 4, "B"), b.S = (float *)la->alloc(p * t * 4, "S");
    b.W = (float *)la->alloc(p * t * 4, "W"), b.Yhat = (float *)la->alloc(n / 5 * t * 4, "Yhat");
    b.col = (size_t *)la->alloc(sizeof(size_t), "col");
    return b;
}

static void ridge_free(const LinalgOps *la, RidgeBufs *b) {
    la->free(b->X64), la->free(b->G), la->free(b->w), la->free(b->alpha), la->free(b->X), la->free(b->Y);
    la->free(b->V), la->free(b->XtY), la->free(b->B), la->free(b->S), la->free(b->W), la->free(b->Yhat);
    la->free(b->col);
}

enum { STEPS = 7 };
static const char *step_name[STEPS] = {"Gram X^T X (dsyrk, f64)", "eigh of the Gram (f64)", "X^T Y (sgemm)",
                                       "onto the eigenvectors (sgemm)", "shrink (one alpha)",
                                       "back to weights (sgemm)", "prediction of n/5 rows (sgemm)"};

// one fit's steps on la; seconds per step into secs
static void ridge_steps(const LinalgOps *la, RidgeBufs *b, size_t n, size_t p, size_t t, double *secs) {
    double t0 = now_s();
    la->dsyrk(LINALG_T, p, n, 1.0, b->X64, p, 0.0, b->G, p);
    double t1 = now_s();
    la->eigh(b->G, b->w, p);
    la->to_float(b->V, b->G, p * p);
    double t2 = now_s();
    la->sgemm(LINALG_T, LINALG_N, p, t, n, 1.0f, b->X, p, b->Y, t, 0.0f, b->XtY, t);
    double t3 = now_s();
    la->sgemm(LINALG_T, LINALG_N, p, t, p, 1.0f, b->V, p, b->XtY, t, 0.0f, b->B, t);
    double t4 = now_s();
    la->shrink(b->S, b->B, t, b->lam, p, b->col, b->alpha, t, 1);
    double t5 = now_s();
    la->sgemm(LINALG_N, LINALG_N, p, t, p, 1.0f, b->V, p, b->S, t, 0.0f, b->W, t);
    double t6 = now_s();
    la->sgemm(LINALG_N, LINALG_N, n / 5, t, p, 1.0f, b->X, p, b->W, t, 0.0f, b->Yhat, t);
    double t7 = now_s();
    const double ts[] = {t0, t1, t2, t3, t4, t5, t6, t7};
    for (int i = 0; i < STEPS; i++) secs[i] = ts[i + 1] - ts[i];
}

static void bench_ridge(size_t n, size_t p, size_t t) {
    const double gflop[STEPS] = {1e-9 * (double)n * p * p, 4e-9 * p * p * p, 2e-9 * (double)n * p * t,
                                 2e-9 * (double)p * p * t, 0, 2e-9 * (double)p * p * t, 2e-9 * (double)(n / 5) * p * t};
    float *X = rand_floats(n * p), *Y = rand_floats(n * t);
    double *X64 = (double *)base_malloc(n * p * 8, "X64"), alpha = 1e3;
    size_t col0 = 0;
    for (size_t i = 0; i < n * p; i++) X64[i] = X[i];
    double cpu_s[STEPS], gpu_s[STEPS];

    RidgeBufs hc = ridge_bufs(cpu, n, p, t);
    memcpy(hc.X, X, n * p * 4), memcpy(hc.Y, Y, n * t * 4), memcpy(hc.X64, X64, n * p * 8);
    *hc.alpha = alpha, *hc.col = col0;
    ridge_steps(cpu, &hc, n, p, t, cpu_s);

    RidgeBufs hg = ridge_bufs(gpu, n, p, t);
    double t0 = now_s();
    gpu->upload(hg.X, X, n * p * 4), gpu->upload(hg.Y, Y, n * t * 4), gpu->upload(hg.X64, X64, n * p * 8);
    double up = now_s() - t0;
    gpu->upload(hg.alpha, &alpha, 8), gpu->upload(hg.col, &col0, sizeof col0);
    ridge_steps(gpu, &hg, n, p, t, gpu_s);  // warm-up: handles, cuBLAS's and cuSOLVER's first-call set-up
    ridge_steps(gpu, &hg, n, p, t, gpu_s);
    float *Yhat = (float *)base_malloc(n / 5 * t * 4, "Yhat");
    t0 = now_s();
    gpu->download(Yhat, hg.Yhat, n / 5 * t * 4);
    double down = now_s() - t0;

    double dd = 0, rr = 0;
    for (size_t i = 0; i < n / 5 * t; i++) {
        const double e = (double)Yhat[i] - hc.Yhat[i];
        dd += e * e, rr += (double)hc.Yhat[i] * hc.Yhat[i];
    }
    double tot_c = 0, tot_g = 0;
    printf("ridge-sized fit n=%zu p=%zu t=%zu (CPU: OpenBLAS on %d threads)\n", n, p, t, openblas_get_num_threads());
    for (int i = 0; i < STEPS; i++) {
        tot_c += cpu_s[i], tot_g += gpu_s[i];
        char rate[48] = "";
        if (gflop[i] > 0) snprintf(rate, sizeof rate, ", GPU %.0f GFLOP/s", gflop[i] / gpu_s[i]);
        printf("ROW linalg %s | GPU %.4f s, CPU %.4f s | x%.1f%s\n", step_name[i], gpu_s[i], cpu_s[i],
               cpu_s[i] / gpu_s[i], rate);
    }
    printf("ROW linalg fit steps n=%zu p=%zu t=%zu | GPU %.3f s, CPU %.3f s | x%.1f; prediction differs by %.2g "
           "(norm-relative)\n", n, p, t, tot_g, tot_c, tot_c / tot_g, sqrt(dd / rr));
    printf("ROW linalg transfers | up %.3f s (%.0f MB), down %.3f s (%.0f MB) | pageable host memory\n", up,
           (double)(n * p * 12 + n * t * 4) / 1e6, down, (double)(n / 5 * t * 4) / 1e6);
    ridge_free(cpu, &hc), ridge_free(gpu, &hg);
    free(X), free(Y), free(X64), free(Yhat);
}

typedef struct {
    const char *name;
    void (*run)(void);
} Case;

static const Case cases[] = {
    {"memory", case_memory},
    {"gemm (s, d; NN NT TN TT; beta 0 on poison) 37x53x29", case_gemm},
    {"dgemv (N, T) 37x53", case_gemv},
    {"dsyrk (N, T) n=37 k=53, dsyr n=37", case_syrk_syr},
    {"eigh n=37,200; eigh_top n=53 k=7,53", case_eigh},
    {"orthonormalise 53x7,37x37; svd_right 7x53,37x53,29x29", case_factorisations},
    {"fft n=37,53,1000", case_fft},
    {"threads: one fft plan, four streams", case_threads},
    {"to_float, fix_column_signs, shrink, col_sums", case_elementwise},
    {"centre, dsum_rows, centre_gram, sum_segments, gather_rows, sub_scale, shrink_d, scale_rows, widen, "
     "divided_differences, pf_terms, gather_cols_axpy, row_means, double_centre, sub_cols_f, dcentre, div_cols, "
     "gather_block, kernel_centre, conj_mul",
     case_statistics},
};

// NULL when a GPU answers; else why not, in the runtime's words
static const char *gpu_unusable(char *why, size_t len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaSuccess && n == 0) e = cudaErrorNoDevice;
    if (e == cudaSuccess) e = cudaSetDevice(0);
    if (e == cudaSuccess) e = cudaFree(0);  // creates the context: a broken driver or stub shows here
    if (e == cudaSuccess) return NULL;
    snprintf(why, len, "no usable GPU (%s %d: %s)", cudaGetErrorName(e), (int)e, cudaGetErrorString(e));
    return why;
}

TEST_MAIN("test_linalg_gpu") {
    char why[256];
    const char *no_gpu = gpu_unusable(why, sizeof why);
    if (!no_gpu) {
        cudaDeviceProp p;
        CHECK_CUDA(cudaGetDeviceProperties(&p, 0));
        printf("GPU: %s, compute capability %d.%d\n", p.name, p.major, p.minor);
        // the table's libraries are loaded at run time: where they are missing every case would die in its first op
        char libs[256];
        if (!linalg_cuda_ready(libs, sizeof libs)) {
            CHECK(0, "libraries: cuBLAS, cuSOLVER and cuFFT load (%s)", libs);
            return;
        }
    }
    if (argc == 5 && strcmp(argv[1], "--bench") == 0) {
        const size_t n = strtoul(argv[2], NULL, 10), p = strtoul(argv[3], NULL, 10), t = strtoul(argv[4], NULL, 10);
        if (no_gpu) SKIP("bench", no_gpu);
        else bench_ridge(n, p, t);
        return;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (no_gpu) SKIP(cases[i].name, no_gpu);
        else cases[i].run();
    }
}
