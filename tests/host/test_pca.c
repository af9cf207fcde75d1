// PCA against LAPACK's SVD of the centred rows: both methods, both routes, fitted on a subset.
#include <lapacke.h>
#include <math.h>

#include "host/base.h"
#include "host/pca.h"
#include "tests/test.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double nrand(void) { return test_nrand(&rng); }

// rows of a matrix with a decaying spectrum (column p scaled by 1/(1 + p/2)) and an offset; with
// gap_after > 0 the columns from gap_after on are ten times weaker (a spectral gap)
static void make_data(double *x, size_t N, size_t P, size_t gap_after) {
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < P; p++)
            x[i * P + p] = nrand() * 4.0 / (1.0 + 0.5 * (double)p) * (gap_after && p >= gap_after ? 0.1 : 1.0) + 5.0 -
                           (double)p;
    // mix the columns so components are not the axes
    for (size_t i = 0; i < N; i++)
        for (size_t p = 1; p < P; p++) x[i * P + p] += 0.5 * x[i * P + p - 1];
}

// the reference on rows (n): right singular vectors (P, K) sign-fixed like pca, variance ratios (K)
static void reference(double *comp, double *ratio, const double *x, const size_t *rows, size_t n, size_t P, size_t K) {
    double *xc = malloc(n * P * sizeof(double)), *sv = malloc(P * sizeof(double)), *vt = malloc(P * P * sizeof(double));
    double *sb = malloc(P * sizeof(double)), *m = calloc(P, sizeof(double)), total = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < P; p++) m[p] += x[rows[i] * P + p] / (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < P; p++) xc[i * P + p] = x[rows[i] * P + p] - m[p];
    size_t r = n < P ? n : P;
    LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'S', (int)n, (int)P, xc, (int)P, sv, NULL, 1, vt, (int)P, sb);
    for (size_t k = 0; k < r; k++) total += sv[k] * sv[k];
    for (size_t k = 0; k < K; k++) {
        size_t big = 0;
        for (size_t p = 1; p < P; p++)
            if (fabs(vt[k * P + p]) > fabs(vt[k * P + big])) big = p;
        double sign = vt[k * P + big] < 0 ? -1 : 1;
        for (size_t p = 0; p < P; p++) comp[p * K + k] = sign * vt[k * P + p];
        ratio[k] = sv[k] * sv[k] / total;
    }
    free(xc), free(sv), free(vt), free(sb), free(m);
}

static void check(const char *name, size_t N, size_t P, size_t K, PcaMethod method, int subset, size_t gap_after,
                  double tol) {
    double *x = malloc(N * P * sizeof(double));
    make_data(x, N, P, gap_after);
    size_t *rows = malloc(N * sizeof(size_t)), n = 0;
    for (size_t i = 0; i < N; i++)
        if (!subset || i % 4 != 1) rows[n++] = i;  // a fold's training rows: every fourth held out
    Pca pca;
    pca_fit(&pca, x, N, P, subset ? rows : NULL, n, K, method, 7, &linalg_ops_cpu);
    double *comp = malloc(P * K * sizeof(double)), *ratio = malloc(K * sizeof(double));
    reference(comp, ratio, x, rows, n, P, K);
    double dc = 0, dr = 0, ds = 0;
    for (size_t i = 0; i < P * K; i++) dc = fmax(dc, fabs(pca.components[i] - comp[i]));
    for (size_t k = 0; k < K; k++) dr = fmax(dr, fabs(pca.explained[k] - ratio[k]));
    // scores of every row, held-out ones included, are projections on the fitted components
    double *scores = malloc(N * K * sizeof(double));
    pca_transform(&pca, x, N, scores, &linalg_ops_cpu);
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < K; k++) {
            double s = 0;
            for (size_t p = 0; p < P; p++) s += (x[i * P + p] - pca.mean[p]) * comp[p * K + k];
            ds = fmax(ds, fabs(scores[i * K + k] - s));
        }
    CHECK(dc < tol && dr < tol && ds < tol * 100,
          "%s/equals_lapack_svd (components %.1e, variance ratios %.1e, scores %.1e)", name, dc, dr, ds);
    pca_free(&pca);
    free(x), free(rows), free(comp), free(ratio), free(scores);
}

// pca_fit_folds (shared Gram or kernel) equals one pca_fit per fold, folds of different sizes so that with
// N = 36, P = 30 some folds take the covariance route and some the Gram route
static void check_folds(const char *name, size_t N, size_t P, size_t K, size_t F) {
    double *x = malloc(N * P * sizeof(double));
    make_data(x, N, P, 0);
    uint8_t *in = malloc(F * N);
    size_t *rows = malloc(N * sizeof(size_t));
    for (size_t f = 0; f < F; f++)
        for (size_t i = 0; i < N; i++) in[f * N + i] = (i * F / N) != f && !(f == 0 && i % 5 == 0);
    Pca *shared = malloc(F * sizeof(Pca));
    pca_fit_folds(shared, x, N, P, in, F, K, PCA_EIGH, 3, &linalg_ops_cpu);
    double d = 0;
    int routes[2] = {0, 0};
    for (size_t f = 0; f < F; f++) {
        size_t n = 0;
        for (size_t i = 0; i < N; i++)
            if (in[f * N + i]) rows[n++] = i;
        routes[P <= n]++;
        Pca one;
        pca_fit(&one, x, N, P, rows, n, K, PCA_EIGH, 3 + f, &linalg_ops_cpu);
        for (size_t i = 0; i < P * K; i++) d = fmax(d, fabs(one.components[i] - shared[f].components[i]));
        for (size_t p = 0; p < P; p++) d = fmax(d, fabs(one.mean[p] - shared[f].mean[p]));
        for (size_t k = 0; k < K; k++) d = fmax(d, fabs(one.explained[k] - shared[f].explained[k]));
        pca_free(&one);
        pca_free(&shared[f]);
    }
    CHECK(d < 1e-9, "%s/folds_equal_separate_fits (max %.1e; %d covariance, %d Gram folds)", name, d, routes[1],
          routes[0]);
    free(x), free(in), free(rows), free(shared);
}

TEST_MAIN("test_pca") {
    check_folds("covariance_folds_N200_P12_K4", 200, 12, 4, 5);
    check_folds("gram_folds_N30_P60_K5", 30, 60, 5, 3);
    check_folds("mixed_folds_N45_P30_K4", 45, 30, 4, 3);
    check("eigh_covariance_N80_P12_K4", 80, 12, 4, PCA_EIGH, 0, 0, 1e-9);
    check("eigh_gram_N14_P40_K5", 14, 40, 5, PCA_EIGH, 0, 0, 1e-9);
    check("eigh_fold_rows_N80_P12_K4", 80, 12, 4, PCA_EIGH, 1, 0, 1e-9);
    // randomized: exact where the spectrum leaves a gap after K, close without one
    check("randomized_gap_N300_P60_K8", 300, 60, 8, PCA_RANDOMIZED, 0, 8, 1e-9);
    check("randomized_gap_fold_rows_N300_P60_K8", 300, 60, 8, PCA_RANDOMIZED, 1, 8, 1e-9);
    check("randomized_gap_wide_N40_P90_K6", 40, 90, 6, PCA_RANDOMIZED, 0, 6, 1e-9);
    check("randomized_no_gap_N300_P60_K8", 300, 60, 8, PCA_RANDOMIZED, 0, 0, 1e-3);
}
