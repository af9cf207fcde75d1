// Every op of the CPU linear-algebra table against a plain loop, at odd shapes and leading dimensions wider than
// the rows (so an op that ignores ld or swaps a transpose fails), plus the eigen and factorisation contracts.
#include <complex.h>
#include <math.h>
#include <string.h>

#include "host/base.h"
#include "host/linalg.h"
#include "tests/test.h"

static uint64_t rng = 0x9d2c5680a7f3e1b5ull;
static const LinalgOps *la = &linalg_ops_cpu;

static void fill(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = test_nrand(&rng);
}

// element (i, j) of op(A), A row-major with leading dimension ld
static double at(const double *A, size_t ld, LinalgTrans t, size_t i, size_t j) {
    return t == LINALG_T ? A[j * ld + i] : A[i * ld + j];
}

// C (M, N) = op(A) op(B), op(A) (M, K)
static void product(double *C, size_t ldc, const double *A, size_t lda, LinalgTrans ta, const double *B, size_t ldb,
                    LinalgTrans tb, size_t M, size_t N, size_t K) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) s += at(A, lda, ta, i, k) * at(B, ldb, tb, k, j);
            C[i * ldc + j] = s;
        }
}

static void memory_ops(void) {
    const size_t n = 1001;
    double *host = base_malloc(n * sizeof(double), "host"), *back = base_malloc(n * sizeof(double), "host");
    fill(host, n);
    double *a = la->alloc(n * sizeof(double), "a"), *b = la->alloc(n * sizeof(double), "b");
    CHECK(((uintptr_t)a & 63) == 0 && ((uintptr_t)b & 63) == 0, "memory/alloc_is_64_byte_aligned");
    la->upload(a, host, n * sizeof(double));
    la->copy(b, a, n * sizeof(double));
    la->download(back, b, n * sizeof(double));
    CHECK(memcmp(back, host, n * sizeof(double)) == 0, "memory/upload_copy_download_round_trip n=%zu", n);
    la->memset(b, 0, n * sizeof(double));
    la->download(back, b, n * sizeof(double));
    int zero = 1;
    for (size_t i = 0; i < n; i++) zero &= back[i] == 0.0;
    CHECK(zero, "memory/memset_zeroes");
    la->free(a), la->free(b), la->free(NULL);
    free(host), free(back);
}

static void products(void) {
    const size_t M = 7, N = 5, K = 3, pad = 2;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const LinalgTrans A_t = ta ? LINALG_T : LINALG_N, B_t = tb ? LINALG_T : LINALG_N;
            const size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
            const size_t lda = ac + pad, ldb = bc + pad, ldc = N + pad;
            double A[64], B[64], C[64], ref[64];
            fill(A, ar * lda), fill(B, br * ldb), fill(C, M * ldc);
            float Af[64], Bf[64], Cf[64];
            for (size_t i = 0; i < 64; i++) Af[i] = (float)A[i], Bf[i] = (float)B[i], Cf[i] = (float)C[i];
            memcpy(ref, C, sizeof ref);
            product(ref, ldc, A, lda, A_t, B, ldb, B_t, M, N, K);
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) ref[i * ldc + j] = 0.5 * ref[i * ldc + j] - 1.5 * C[i * ldc + j];
            la->dgemm(A_t, B_t, M, N, K, 0.5, A, lda, B, ldb, -1.5, C, ldc);
            la->sgemm(A_t, B_t, M, N, K, 0.5f, Af, lda, Bf, ldb, -1.5f, Cf, ldc);
            double got_f[64];
            for (size_t i = 0; i < 64; i++) got_f[i] = Cf[i];
            char name[64];
            snprintf(name, sizeof name, "dgemm_%c%c_7x5x3_ld+2", ta ? 'T' : 'N', tb ? 'T' : 'N');
            CHECK_CLOSE(name, C, ref, M * ldc, 1e-12, 1e-12);
            snprintf(name, sizeof name, "sgemm_%c%c_7x5x3_ld+2", ta ? 'T' : 'N', tb ? 'T' : 'N');
            CHECK_CLOSE(name, got_f, ref, M * ldc, 1e-5, 1e-5);
        }
    for (int t = 0; t < 2; t++) {  // y = alpha op(A) x + beta y, A (5, 3) with ld 4
        const LinalgTrans A_t = t ? LINALG_T : LINALG_N;
        const size_t rows = 5, cols = 3, lda = 4, nx = t ? rows : cols, ny = t ? cols : rows;
        double A[20], x[5], y[5], ref[5];
        fill(A, rows * lda), fill(x, nx), fill(y, ny);
        for (size_t i = 0; i < ny; i++) {
            double s = 0;
            for (size_t k = 0; k < nx; k++) s += at(A, lda, A_t, i, k) * x[k];
            ref[i] = 2.0 * s + 0.25 * y[i];
        }
        la->dgemv(A_t, rows, cols, 2.0, A, lda, x, 0.25, y);
        CHECK_CLOSE(t ? "dgemv_T_5x3_ld4" : "dgemv_N_5x3_ld4", y, ref, ny, 1e-12, 1e-12);
    }
    for (int t = 0; t < 2; t++) {  // C (5, 5) = alpha op(A) op(A)^T + beta C, op(A) (5, 3)
        const LinalgTrans A_t = t ? LINALG_T : LINALG_N;
        const size_t n = 5, k = 3, lda = (t ? n : k) + 1, ldc = n + 2;
        double A[40], C[40], ref[40];
        fill(A, (t ? k : n) * lda), fill(C, n * ldc);
        for (size_t i = 0; i < n; i++)  // beta C needs a symmetric C
            for (size_t j = 0; j < i; j++) C[i * ldc + j] = C[j * ldc + i];
        memcpy(ref, C, sizeof ref);
        product(ref, ldc, A, lda, A_t, A, lda, A_t == LINALG_T ? LINALG_N : LINALG_T, n, n, k);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) ref[i * ldc + j] = -1.0 * ref[i * ldc + j] + 2.0 * C[i * ldc + j];
        la->dsyrk(A_t, n, k, -1.0, A, lda, 2.0, C, ldc);
        CHECK_CLOSE(t ? "dsyrk_T_both_triangles" : "dsyrk_N_both_triangles", C, ref, n * ldc, 1e-12, 1e-12);
    }
    {
        const size_t n = 6, lda = 7;
        double A[42], x[6], ref[42];
        fill(A, n * lda), fill(x, n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++) A[i * lda + j] = A[j * lda + i];
        memcpy(ref, A, sizeof ref);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) ref[i * lda + j] += -3.0 * x[i] * x[j];
        la->dsyr(n, -3.0, x, A, lda);
        CHECK_CLOSE("dsyr_both_triangles", A, ref, n * lda, 1e-12, 1e-12);
    }
}

// a (n, n) random symmetric with distinct eigenvalues
static void symmetric(double *a, size_t n) {
    fill(a, n * n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = 0.5 * (a[i * n + j] + a[j * n + i]);
}

static void decompositions(void) {
    const size_t n = 9, k = 4;
    double a[81], v[81], w[9], top_v[36], top_w[4], av[81], vw[81];
    symmetric(a, n);
    memcpy(v, a, sizeof a);
    la->eigh(v, w, n);
    product(av, n, a, n, LINALG_N, v, n, LINALG_N, n, n, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) vw[i * n + j] = v[i * n + j] * w[j];
    CHECK_CLOSE("eigh_9/a_v_equals_v_w", av, vw, n * n, 1e-10, 0);
    int desc = 1, signs = 1;
    for (size_t j = 0; j + 1 < n; j++) desc &= w[j] >= w[j + 1];
    for (size_t j = 0; j < n; j++) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (fabs(v[i * n + j]) > fabs(v[best * n + j])) best = i;
        signs &= v[best * n + j] > 0;
    }
    CHECK(desc && signs, "eigh_9/descending_and_largest_entry_positive");
    double copy[81], ref_v[36];
    memcpy(copy, a, sizeof a);
    la->eigh_top(copy, top_w, top_v, n, k);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) ref_v[i * k + j] = v[i * n + j];
    CHECK_CLOSE("eigh_top_9_4/values_equal_eigh", top_w, w, k, 1e-10, 0);
    CHECK_CLOSE("eigh_top_9_4/vectors_equal_eigh", top_v, ref_v, n * k, 1e-8, 0);

    // thin QR of q (7, 3): orthonormal columns spanning the original ones
    const size_t m = 7, l = 3;
    double q0[21], q[21], gram[9], eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, coef[9], proj[21];
    fill(q0, m * l);
    memcpy(q, q0, sizeof q);
    la->orthonormalise(q, m, l);
    product(gram, l, q, l, LINALG_T, q, l, LINALG_N, l, l, m);
    CHECK_CLOSE("orthonormalise_7x3/q_t_q_is_identity", gram, eye, l * l, 1e-12, 0);
    product(coef, l, q, l, LINALG_T, q0, l, LINALG_N, l, l, m);  // q q^T q0 = q0
    product(proj, l, q, l, LINALG_N, coef, l, LINALG_N, m, l, l);
    CHECK_CLOSE("orthonormalise_7x3/same_span", proj, q0, m * l, 1e-12, 0);

    // a (3, 8) = U S Vt: Vt's rows orthonormal, |a v_i| = s_i, descending
    const size_t sm = 3, sn = 8;
    double sa[24], sb[24], s[3], vt[24], vv[9], av3[9], norms[3];
    fill(sa, sm * sn);
    memcpy(sb, sa, sizeof sa);
    la->svd_right(sb, s, vt, sm, sn);
    product(vv, sm, vt, sn, LINALG_N, vt, sn, LINALG_T, sm, sm, sn);
    product(av3, sm, sa, sn, LINALG_N, vt, sn, LINALG_T, sm, sm, sn);  // column i: a v_i
    for (size_t i = 0; i < sm; i++) {
        double nn = 0;
        for (size_t r = 0; r < sm; r++) nn += av3[r * sm + i] * av3[r * sm + i];
        norms[i] = sqrt(nn);
    }
    CHECK_CLOSE("svd_right_3x8/rows_of_vt_orthonormal", vv, eye, sm * sm, 1e-12, 0);
    CHECK_CLOSE("svd_right_3x8/a_v_norms_are_the_values", norms, s, sm, 1e-12, 1e-12);
    CHECK(s[0] >= s[1] && s[1] >= s[2], "svd_right_3x8/descending");
}

static void fft(void) {
    for (size_t n = 11; n <= 12; n++) {  // odd and even lengths
        const size_t F = n / 2 + 1;
        double *x = la->alloc(n * sizeof(double), "x"), *back = la->alloc(n * sizeof(double), "x");
        double complex *X = la->alloc(F * sizeof(double complex), "X");
        fill(x, n);
        LinalgFft *plan = la->fft_plan(n);
        la->fft_forward(plan, x, X);
        double got[14], ref[14], nx[12];
        for (size_t f = 0; f < F; f++) {
            double complex s = 0;
            for (size_t i = 0; i < n; i++) s += x[i] * cexp(-2.0 * M_PI * I * (double)(f * i % n) / (double)n);
            ref[2 * f] = creal(s), ref[2 * f + 1] = cimag(s), got[2 * f] = creal(X[f]), got[2 * f + 1] = cimag(X[f]);
        }
        la->fft_inverse(plan, X, back);
        for (size_t i = 0; i < n; i++) nx[i] = (double)n * x[i];
        char name[64];
        snprintf(name, sizeof name, "fft_forward_n%zu_equals_the_dft", n);
        CHECK_CLOSE(name, got, ref, 2 * F, 1e-12, 1e-12);
        snprintf(name, sizeof name, "fft_inverse_n%zu_gives_n_times_the_signal", n);
        CHECK_CLOSE(name, back, nx, n, 1e-12, 1e-12);
        la->fft_free(plan);
        la->free(x), la->free(back), la->free(X);
    }
}

static void elementwise(void) {
    double d[7] = {1e-40, -2.5, 1.0 / 3.0, 1e30, 0, -0.0, 7.25}, got[7], ref[7];
    float f[7];
    la->to_float(f, d, 7);
    for (size_t i = 0; i < 7; i++) got[i] = f[i], ref[i] = (float)d[i];
    CHECK(memcmp(got, ref, sizeof got) == 0, "to_float_rounds_as_a_cast");

    // (4, 3): column 0's largest entry is 5 (kept), column 1's -5 and column 2's -7 (flipped)
    double a[12] = {1, -5, 2, -3, 4, 0, 5, 1, -7, 0, -1, 6}, s[12];
    memcpy(s, a, sizeof a);
    la->fix_column_signs(s, 4, 3);
    double want[12] = {1, 5, -2, -3, -4, 0, 5, -1, 7, 0, 1, -6};
    CHECK_CLOSE("fix_column_signs_4x3", s, want, 12, 0, 0);

    // shrink: out (R, m) = B[r, col[j]] / (lam[r] + alpha[j]); B (R, ldb)
    const size_t R = 5, ldb = 9, m = 4;
    float B[45];
    double lam[5] = {9, 4, 2, 0.5, 0}, alpha[4] = {0.1, 0.1, 0.1, 0.1}, alpha2[4] = {0.1, 1, 10, 100};
    for (size_t i = 0; i < R * ldb; i++) B[i] = (float)test_nrand(&rng);
    size_t run_col[4] = {3, 4, 5, 6}, col[4] = {8, 0, 3, 3};
    float out[20];
    double o[20], r1[20], r2[20];
    la->shrink(out, B, ldb, lam, R, run_col, alpha, m, 1);
    for (size_t r = 0; r < R; r++)
        for (size_t j = 0; j < m; j++) o[r * m + j] = out[r * m + j], r1[r * m + j] = B[r * ldb + 3 + j] / (lam[r] + 0.1);
    CHECK_CLOSE("shrink_run_5x4", o, r1, R * m, 0, 2e-7);
    la->shrink(out, B, ldb, lam, R, col, alpha2, m, 0);
    for (size_t r = 0; r < R; r++)
        for (size_t j = 0; j < m; j++)
            o[r * m + j] = out[r * m + j], r2[r * m + j] = B[r * ldb + col[j]] / (lam[r] + alpha2[j]);
    CHECK_CLOSE("shrink_columns_5x4", o, r2, R * m, 0, 2e-7);

    // col_sums over R rows: s1 += c_r u (or u), s2 += u w, s3 += u z[r, col[j]]
    const size_t ldu = 6, ldw = 5, ldz = 10;
    float u[30], w[25], z[50];
    double c[5];
    for (size_t i = 0; i < 30; i++) u[i] = (float)test_nrand(&rng);
    for (size_t i = 0; i < 25; i++) w[i] = (float)test_nrand(&rng);
    for (size_t i = 0; i < 50; i++) z[i] = (float)test_nrand(&rng);
    fill(c, R);
    for (int with_c = 0; with_c < 2; with_c++)
        for (int run = 0; run < 2; run++) {
            const size_t *cl = run ? run_col : col;
            double sums[12], want3[12];
            for (size_t i = 0; i < 12; i++) sums[i] = want3[i] = 0.5;  // accumulates
            for (size_t r = 0; r < R; r++)
                for (size_t j = 0; j < m; j++) {
                    double v = u[r * ldu + j];
                    want3[j] += (with_c ? c[r] : 1.0) * v, want3[m + j] += v * w[r * ldw + j];
                    want3[2 * m + j] += v * z[r * ldz + cl[j]];
                }
            la->col_sums(sums, u, ldu, w, ldw, with_c ? c : NULL, z, ldz, cl, R, m, run);
            char name[64];
            snprintf(name, sizeof name, "col_sums_%s_%s", with_c ? "weighted" : "plain", run ? "run" : "columns");
            CHECK_CLOSE(name, sums, want3, 3 * m, 1e-12, 1e-12);
        }
}

// the fits' statistics against the loops they replaced in ridge.c: the same arithmetic in the same order, so equal
// bit for bit
static void statistics(void) {
    // centre: X (7, 5) float
    const size_t n = 7, p = 5;
    float xf[35], x0[35], want_f[35];
    double xd[35], mean[5], want_d[35], want_mean[5] = {0};
    for (size_t i = 0; i < n * p; i++) x0[i] = xf[i] = (float)(3.0 + test_nrand(&rng));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) want_mean[j] += x0[i * p + j];
    for (size_t j = 0; j < p; j++) want_mean[j] /= (double)n;
    for (size_t i = 0; i < n * p; i++) want_d[i] = x0[i] - want_mean[i % p], want_f[i] = (float)want_d[i];
    la->centre(xf, xd, mean, n, p);
    CHECK(memcmp(mean, want_mean, sizeof mean) == 0 && memcmp(xd, want_d, sizeof xd) == 0 &&
              memcmp(xf, want_f, sizeof xf) == 0,
          "centre_7x5/mean_float64_and_float32_exact");

    // dsum_rows: s (7) += the rows of a (6, ld 9); and rows 1 (s += a)
    double a[54], sums[7], want[7];
    fill(a, 54);
    for (size_t j = 0; j < 7; j++) sums[j] = want[j] = 0.5 * (double)j;
    for (size_t r = 0; r < 6; r++)
        for (size_t j = 0; j < 7; j++) want[j] += a[r * 9 + j];
    la->dsum_rows(sums, a, 9, 6, 7);
    CHECK(memcmp(sums, want, sizeof sums) == 0, "dsum_rows_6x7_ld9_accumulates_exact");
    for (size_t j = 0; j < 7; j++) want[j] += a[20 + j];
    la->dsum_rows(sums, a + 20, 7, 1, 7);
    CHECK(memcmp(sums, want, sizeof sums) == 0, "dsum_rows_one_row_is_an_add");

    // centre_gram (6, 6), both forms
    const size_t q = 6;
    double G[36], G2[36], g_want[36], g2_want[36], mu[6], sx[6], sc[6];
    fill(G, 36), fill(mu, q), fill(sx, q), fill(sc, q);
    memcpy(G2, G, sizeof G);
    for (size_t i = 0; i < q; i++)
        for (size_t j = 0; j < q; j++) {
            g_want[i * q + j] = (G[i * q + j] - 40.0 * mu[i] * mu[j]) * sc[i] * sc[j];
            g2_want[i * q + j] = (G[i * q + j] - mu[i] * sx[j] - sx[i] * mu[j] + 9.0 * mu[i] * mu[j]) * sc[i] * sc[j];
        }
    la->centre_gram(G, q, mu, NULL, 40.0, sc);
    la->centre_gram(G2, q, mu, sx, 9.0, sc);
    CHECK(memcmp(G, g_want, sizeof G) == 0, "centre_gram_training_exact");
    CHECK(memcmp(G2, g2_want, sizeof G2) == 0, "centre_gram_held_out_exact");

    // sum_segments: D (4, 5, 300) (two chunks of columns), segments 0, 2, 3 masked in
    const size_t S = 4, P = 5, T = 300;
    float *D = base_malloc(S * P * T * sizeof(float), "D"), *out = base_malloc(P * T * sizeof(float), "out");
    float *ref = base_malloc(P * T * sizeof(float), "ref");
    double y[300], m5[5], s5[5];
    const unsigned char mask[4] = {1, 0, 1, 1};
    for (size_t i = 0; i < S * P * T; i++) D[i] = (float)test_nrand(&rng);
    fill(y, T), fill(m5, P), fill(s5, P);
    for (size_t i = 0; i < P; i++)
        for (size_t t = 0; t < T; t++) {
            double acc = 0;
            for (size_t g = 0; g < S; g++)
                if (mask[g]) acc += D[(g * P + i) * T + t];
            ref[i * T + t] = (float)((acc - m5[i] * y[t] * 3.0) * s5[i]);
        }
    la->sum_segments(out, D, mask, S, P, T, m5, y, 3.0, s5);
    CHECK(memcmp(out, ref, P * T * sizeof(float)) == 0, "sum_segments_4x5x300_masked_exact");
    free(D), free(out), free(ref);

    // gather_rows: rows 4, 0, 4 of a (6, 9) into (3, 7) (row_bytes less than the stride)
    double src[54], got[21], want_rows[21];
    const size_t pick[3] = {4, 0, 4};
    fill(src, 54);
    for (size_t i = 0; i < 3; i++) memcpy(want_rows + i * 7, src + pick[i] * 9, 7 * sizeof(double));
    la->gather_rows(got, src, 9 * sizeof(double), pick, 3, 7 * sizeof(double));
    CHECK(memcmp(got, want_rows, sizeof got) == 0, "gather_rows_3_of_6_exact");

    // sub_scale (3, 7): with and without s
    double z[21], z2[21], zw[21], zw2[21];
    memcpy(z, got, sizeof z), memcpy(z2, got, sizeof z2);
    for (size_t r = 0; r < 3; r++)
        for (size_t j = 0; j < 7; j++)
            zw[r * 7 + j] = (got[r * 7 + j] - sums[j]) * want[j], zw2[r * 7 + j] = got[r * 7 + j] - sums[j];
    la->sub_scale(z, 3, 7, sums, want);
    la->sub_scale(z2, 3, 7, sums, NULL);
    CHECK(memcmp(z, zw, sizeof z) == 0 && memcmp(z2, zw2, sizeof z2) == 0, "sub_scale_3x7_scaled_and_not_exact");

    // shrink_d: out (5, 4) = B[r, col[j]] / (lam[r] + alpha[j]) in float64; scale_rows: row r times f[r]
    float Bs[45];
    double lam5[5] = {9, 4, 2, 0.5, 0}, alpha4[4] = {0.1, 1, 10, 100}, sd[20], sd_want[20], f5[5];
    const size_t col4[4] = {8, 0, 3, 3};
    for (size_t i = 0; i < 45; i++) Bs[i] = (float)test_nrand(&rng);
    for (size_t r = 0; r < 5; r++)
        for (size_t j = 0; j < 4; j++) sd_want[r * 4 + j] = Bs[r * 9 + col4[j]] / (lam5[r] + alpha4[j]);
    la->shrink_d(sd, Bs, 9, lam5, 5, col4, alpha4, 4);
    CHECK(memcmp(sd, sd_want, sizeof sd) == 0, "shrink_d_5x4_exact");
    fill(f5, 5);
    for (size_t i = 0; i < 20; i++) sd_want[i] *= f5[i / 4];
    la->scale_rows(sd, 5, 4, f5);
    CHECK(memcmp(sd, sd_want, sizeof sd) == 0, "scale_rows_5x4_exact");

    // widen: (5, 3) of B (5, 9) into float64
    double wd[15];
    int wide_ok = 1;
    la->widen(wd, Bs + 2, 9, 5, 3);
    for (size_t r = 0; r < 5; r++)
        for (size_t t = 0; t < 3; t++) wide_ok &= wd[r * 3 + t] == (double)Bs[r * 9 + 2 + t];
    CHECK(wide_ok, "widen_5x3_exact");

    // the partial-fraction scoring's kernels, R = 5 with eigenvalues 1 and 2 tied (block {1, 2}): M, then F and G
    // for m = 3 against the loops of ridge.c
    const size_t R = 5, m = 3, blk[5] = {0, 1, 1, 3, 4}, blk_end[5] = {1, 3, 3, 4, 5};
    double Hp[25], lamR[5] = {9, 4, 4, 2, 1}, Mp[25], M_want[25], Bc[15], Q[15], mt[5];
    double Fp[60], Gp[30], F_want[60], G_want[30];
    float PmR[5 * 7];
    fill(Hp, 25), fill(Bc, 15), fill(Q, 15), fill(mt, 5);
    for (size_t i = 0; i < 35; i++) PmR[i] = (float)test_nrand(&rng);
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < R; j++) M_want[i * R + j] = blk[i] == blk[j] ? 0.0 : Hp[i * R + j] / (lamR[j] - lamR[i]);
    la->divided_differences(Mp, Hp, lamR, blk, R);
    CHECK(memcmp(Mp, M_want, sizeof Mp) == 0, "divided_differences_5_with_a_tie_exact");
    for (size_t i = 0; i < R; i++)
        for (size_t t = 0; t < m; t++) {
            const double b = Bc[i * m + t], v = 2.0 * b * Q[i * m + t];
            double u = Hp[i * R + i] * b * b, au = fabs(u);
            for (size_t j = blk[i]; j < blk_end[i]; j++)
                if (j != i) {
                    double uj = b * Hp[i * R + j] * Bc[j * m + t];
                    u += uj, au += fabs(uj);
                }
            F_want[i * 2 * m + t] = v, F_want[i * 2 * m + m + t] = fabs(v);
            F_want[(R + i) * 2 * m + t] = u, F_want[(R + i) * 2 * m + m + t] = au;
            G_want[i * 2 * m + t] = mt[i] * b, G_want[i * 2 * m + m + t] = b * PmR[i * 7 + 1 + t];
        }
    la->pf_terms(Fp, Gp, Bc, Q, Hp, mt, PmR + 1, 7, blk, blk_end, R, m);
    CHECK(memcmp(Fp, F_want, sizeof Fp) == 0 && memcmp(Gp, G_want, sizeof Gp) == 0, "pf_terms_5x3_with_a_tie_exact");

    // the dual basis's kernels: columns 3, 0, 5 of K (4, 6) scaled into Kr (4, 3); its row means; centred; and a
    // float32 matrix minus (float) v by columns
    double Kk[24], Kr[12], Kr_want[12], rm[4], rm_want[4], ar[4], ac[3];
    const size_t kc[3] = {3, 0, 5};
    fill(Kk, 24), fill(Kr, 12), fill(ar, 4), fill(ac, 3);
    memcpy(Kr_want, Kr, sizeof Kr);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 3; j++) Kr_want[i * 3 + j] += 0.7 * Kk[i * 6 + kc[j]];
    la->gather_cols_axpy(Kr, Kk, 6, 4, kc, 3, 0.7);
    CHECK(memcmp(Kr, Kr_want, sizeof Kr) == 0, "gather_cols_axpy_4x3_exact");
    for (size_t i = 0; i < 4; i++) {
        double sum = 0;
        for (size_t j = 0; j < 3; j++) sum += Kr[i * 3 + j];
        rm_want[i] = sum / 3.0;
    }
    la->row_means(rm, Kr, 4, 3);
    CHECK(memcmp(rm, rm_want, sizeof rm) == 0, "row_means_4x3_exact");
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 3; j++) Kr_want[i * 3 + j] = Kr[i * 3 + j] - ar[i] - ac[j] + 0.25;
    la->double_centre(Kr, 4, 3, ar, ac, 0.25);
    CHECK(memcmp(Kr, Kr_want, sizeof Kr) == 0, "double_centre_4x3_exact");
    float yf[12], yf_want[12];
    for (size_t i = 0; i < 12; i++) yf[i] = yf_want[i] = (float)test_nrand(&rng);
    for (size_t i = 0; i < 12; i++) yf_want[i] -= (float)ac[i % 3];
    la->sub_cols_f(yf, 4, 3, ac);
    CHECK(memcmp(yf, yf_want, sizeof yf) == 0, "sub_cols_f_4x3_exact");

    // PCA's: dcentre (6, 4) in float64 with the sum of squares; div_cols; gather_block; kernel_centre
    double xc[24], xc_want[24], mean4[4], mean4_want[4] = {0}, total, total_want = 0;
    fill(xc, 24);
    memcpy(xc_want, xc, sizeof xc);
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 4; j++) mean4_want[j] += xc_want[i * 4 + j];
    for (size_t j = 0; j < 4; j++) mean4_want[j] /= 6.0;
    for (size_t i = 0; i < 24; i++) {
        double v = xc_want[i] -= mean4_want[i % 4];
        total_want += v * v;
    }
    la->dcentre(xc, 6, 4, mean4, &total);
    CHECK(memcmp(xc, xc_want, sizeof xc) == 0 && memcmp(mean4, mean4_want, sizeof mean4) == 0 && total == total_want,
          "dcentre_6x4_mean_and_total_exact");
    for (size_t i = 0; i < 24; i++) xc_want[i] /= mean4[i % 4];
    la->div_cols(xc, 6, 4, mean4);
    CHECK(memcmp(xc, xc_want, sizeof xc) == 0, "div_cols_6x4_exact");
    double blk9[9], blk9_want[9], rmean[3] = {0.5, -1, 2};
    const size_t brows[3] = {5, 1, 3};
    double K6[36];
    fill(K6, 36);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) blk9_want[i * 3 + j] = K6[brows[i] * 6 + brows[j]];
    la->gather_block(blk9, K6, 6, brows, 3);
    CHECK(memcmp(blk9, blk9_want, sizeof blk9) == 0, "gather_block_3_of_6_exact");
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) blk9_want[i * 3 + j] += 0.125 - rmean[i] - rmean[j];
    la->kernel_centre(blk9, 3, rmean, 0.125);
    CHECK(memcmp(blk9, blk9_want, sizeof blk9) == 0, "kernel_centre_3_exact");

    // the null's cross-spectra: conj(a) b
    double complex ca5[5], cb5[5], cm[5], cm_want[5];
    for (size_t f = 0; f < 5; f++) {
        ca5[f] = test_nrand(&rng) + I * test_nrand(&rng), cb5[f] = test_nrand(&rng) + I * test_nrand(&rng);
        cm_want[f] = conj(ca5[f]) * cb5[f];
    }
    la->conj_mul(cm, ca5, cb5, 5);
    CHECK(memcmp(cm, cm_want, sizeof cm) == 0, "conj_mul_5_exact");
}

TEST_MAIN("test_linalg") {
    CHECK(strcmp(la->name, "cpu") == 0, "table/named_cpu");
    memory_ops();
    products();
    decompositions();
    fft();
    elementwise();
    statistics();
}
