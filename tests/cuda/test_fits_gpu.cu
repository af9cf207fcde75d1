// The fits on the GPU against the same fits on the CPU: ridge_cv, pca_fit and signif_shift_null given the CUDA table
// (cuda/linalg_cuda.h) and the CPU's (host/linalg.h), on the kinds of problem tests/host/test_ridge.c covers.
//
// Ridge: primal (sufficient statistics and explicit predictions) and dual forms, 1 and 1,000 targets, a gap between
// folds, leave-one-group-out folds, two bands with two candidate scalings, nested (inner) and outer-mean selection,
// tied eigenvalues (duplicated features), the refit's weights and the held-out predictions, small budgets that batch
// the targets and keep designs in the cache, and targets resident on the device (the sweep's way) or uploaded per
// batch. Bounds: |dr| and |dR^2| at most 1e-5 for every target; the same alpha for every target unless the two
// choices are a float tie (adjacent grid values whose r agree within 1e-5 on both tables: counted and printed);
// weights and predictions within 1e-4 of the CPU's relative to their norm. PCA (covariance, Gram and randomized
// routes): every component within 1e-4 of the CPU's up to its sign, the explained ratios within 1e-6. The shift
// null: the same p-values.
//
// Without a usable GPU every case prints one SKIP line with the runtime's answer; with a GPU but without the CUDA
// math libraries the cases fail naming what is missing.
#include <cuda_runtime.h>

#include <math.h>
#include <string.h>

#include "cuda/linalg_cuda.h"
#include "cuda/ops.h"
extern "C" {
#include "host/base.h"
#include "host/cv.h"
#include "host/pca.h"
#include "host/ridge.h"
#include "host/signif.h"
#include "tests/test.h"
}
#include "tests/cuda/gpu_test.h"  // defines: gpu_unusable

#define R_TOL 1e-5
#define W_TOL 1e-4
#define PCA_TOL 1e-4

static uint64_t seed = 0xf175c0deull;
static const LinalgOps *cpu = &linalg_ops_cpu, *gpu = &linalg_ops_cuda;

// ||a - b|| / ||b|| over n
static double rel(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), r += (double)b[i] * b[i];
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

typedef struct {
    const char *name;
    size_t N, P, T;
    RidgeSelect select;
    size_t gap;     // samples dropped on each side of a held-out block
    int groups;     // leave-one-group-out over 6 groups instead of 5 contiguous folds
    int banded;     // two bands (a third of the features and the rest), two candidate scalings
    int tied;       // every feature twice: tied eigenvalues
    int outputs;    // the refit's weights and the held-out predictions
    size_t memory;  // the fit's budget (0: 1 GiB); small: batches and the design cache
    int resident;   // the targets resident in the table's memory
} RidgeCase;

static void ridge_case(const RidgeCase *k) {
    const size_t N = k->N, P = k->P, T = k->T;
    float *X = (float *)base_malloc(N * P * sizeof(float), "X"), *Y = (float *)base_malloc(N * T * sizeof(float), "Y");
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < P; j++)
            X[i * P + j] = k->tied && j % 2 ? X[i * P + j - 1] : (float)test_nrand(&seed);
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++) {
            double s = 0;
            for (size_t j = 0; j < 4 && j < P; j++) s += X[i * P + (j + t) % P] * (0.3 + 0.1 * (double)(t % 7));
            Y[i * T + t] = (float)(s + 1.5 * test_nrand(&seed));
        }
    CvPlan cv;
    char err[BASE_ERR_LEN];
    int rc = 0;
    if (k->groups) {
        int *label = (int *)base_malloc(N * sizeof(int), "groups");
        for (size_t i = 0; i < N; i++) label[i] = (int)(i * 6 / N);
        rc = cv_plan_groups(&cv, label, N, k->gap, err);
        free(label);
    } else {
        rc = cv_plan_folds(&cv, N, 5, k->gap, err);
    }
    CHECK(rc == 0, "%s/folds %s", k->name, rc ? err : "");
    if (rc) return;
    double alphas[15];
    for (int a = 0; a < 15; a++) alphas[a] = pow(10.0, -2.0 + 0.5 * a);
    const size_t bands[2] = {P / 3, P - P / 3};
    const double gammas[4] = {1.0, 1.0, 0.3, 2.0};
    const LinalgOps *tables[2] = {cpu, gpu};
    double *res[2];
    float *w[2], *pred[2];
    int ok_run = 1;
    for (int s = 0; s < 2; s++) {
        res[s] = (double *)base_calloc(3 * T, sizeof(double), "results");
        w[s] = (float *)base_calloc(P * T + T, sizeof(float), "weights");
        pred[s] = (float *)base_calloc(N * T, sizeof(float), "predictions");
        RidgeTargets rt;
        ok_run &= ridge_targets_init(&rt, Y, N, T, &cv, err) == 0;
        if (k->resident) ridge_targets_resident(&rt, tables[s]);
        RidgeConfig cfg = {};
        cfg.cv = &cv, cfg.alphas = alphas, cfg.n_alphas = 15, cfg.select = k->select, cfg.memory_bytes = k->memory;
        cfg.linalg = tables[s];
        if (k->banded) cfg.n_bands = 2, cfg.band_size = bands, cfg.n_gammas = 2, cfg.gammas = gammas;
        RidgeOut out = {};
        out.r = res[s], out.r2 = res[s] + T, out.alpha = res[s] + 2 * T;
        if (k->outputs) out.pred = pred[s], out.weights = w[s], out.intercept = w[s] + P * T;
        RidgeStats st;
        const float *xs = X;
        ok_run &= ridge_cv(&xs, 0, P, &rt, &cfg, &out, &st, err) == 0;
        ridge_targets_free(&rt);
    }
    CHECK(ok_run, "%s/ran %s", k->name, ok_run ? "" : err);
    double dr = 0, dr2 = 0;
    size_t ties = 0, differ = 0;
    for (size_t t = 0; t < T; t++) {
        double a = fabs(res[1][t] - res[0][t]), b = fabs(res[1][T + t] - res[0][T + t]);
        dr = a > dr || isnan(a) ? a : dr, dr2 = b > dr2 || isnan(b) ? b : dr2;
        double ac = res[0][2 * T + t], ag = res[1][2 * T + t];
        if (ac != ag) {
            // a float tie: neighbouring alphas whose scores the two tables rank the other way round
            double step = fabs(log10(ag) - log10(ac));
            if (step <= 0.5 + 1e-9 && a <= R_TOL) ties++;
            else differ++;
        }
    }
    CHECK(dr <= R_TOL && dr2 <= R_TOL, "%s/r_and_r2 N=%zu P=%zu T=%zu: max |dr| %.2g, |dR2| %.2g (tol %.0e)", k->name,
          N, P, T, dr, dr2, R_TOL);
    CHECK(differ == 0, "%s/alphas: %zu of %zu differ beyond a float tie (%zu ties)", k->name, differ, T, ties);
    if (k->outputs) {
        double ew = rel(w[1], w[0], P * T + T), ep = rel(pred[1], pred[0], N * T);
        CHECK(ew <= W_TOL && ep <= W_TOL, "%s/weights_and_predictions: rel %.2g and %.2g (tol %.0e)", k->name, ew, ep,
              W_TOL);
    }
    for (int s = 0; s < 2; s++) free(res[s]), free(w[s]), free(pred[s]);
    free(X), free(Y);
    cv_free(&cv);
}

// every route of PCA on both tables: components up to sign, explained ratios
static void pca_case(const char *name, size_t N, size_t P, size_t K, PcaMethod method) {
    double *x = (double *)base_malloc(N * P * sizeof(double), "x");
    for (size_t i = 0; i < N * P; i++) x[i] = test_nrand(&seed) * (i % P < 8 ? 5.0 - 0.5 * (double)(i % P) : 1.0);
    Pca a, b;
    pca_fit(&a, x, N, P, NULL, 0, K, method, 7, cpu);
    pca_fit(&b, x, N, P, NULL, 0, K, method, 7, gpu);
    double worst = 0, worst_explained = 0;
    for (size_t c = 0; c < K; c++) {
        double dot = 0, d = 0;
        for (size_t p = 0; p < P; p++) dot += a.components[p * K + c] * b.components[p * K + c];
        double sign = dot < 0 ? -1.0 : 1.0;
        for (size_t p = 0; p < P; p++) {
            double e = fabs(sign * b.components[p * K + c] - a.components[p * K + c]);
            d = e > d ? e : d;
        }
        worst = d > worst ? d : worst;
        double ee = fabs(b.explained[c] - a.explained[c]);
        worst_explained = ee > worst_explained ? ee : worst_explained;
    }
    CHECK(worst <= PCA_TOL && worst_explained <= 1e-6,
          "pca/%s N=%zu P=%zu K=%zu: components max |d| %.2g up to sign (tol %.0e), explained %.2g", name, N, P, K,
          worst, PCA_TOL, worst_explained);
    pca_free(&a), pca_free(&b);
    free(x);
}

static void null_case(void) {
    const size_t N = 400, T = 12, n_null = 200;
    float *pred = (float *)base_malloc(N * T * sizeof(float), "pred");
    float *Y = (float *)base_malloc(N * T * sizeof(float), "Y");
    for (size_t i = 0; i < N * T; i++) pred[i] = (float)test_nrand(&seed);
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++) Y[i * T + t] = pred[i * T + t] * (float)(0.05 * t) + (float)test_nrand(&seed);
    CvPlan cv;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, N, 5, 0, err);
    double r[12], p[2][12];
    for (size_t t = 0; t < T; t++) {
        double sxy = 0, sxx = 0, syy = 0;
        for (size_t i = 0; i < N; i++) {
            double a = pred[i * T + t], b = Y[i * T + t];
            sxy += a * b, sxx += a * a, syy += b * b;
        }
        r[t] = sxy / sqrt(sxx * syy);
    }
    int rc = signif_shift_null(p[0], NULL, pred, Y, N, T, &cv, r, n_null, 20, cpu, err);
    rc |= signif_shift_null(p[1], NULL, pred, Y, N, T, &cv, r, n_null, 20, gpu, err);
    CHECK(rc == 0 && memcmp(p[0], p[1], sizeof p[0]) == 0,
          "signif/shift_null N=%zu T=%zu shifts=%zu: the same p-values", N, T, n_null);
    free(pred), free(Y);
    cv_free(&cv);
}

static const RidgeCase CASES[] = {
    // name                       N    P    T    select                  gap grp band tied out memory       resident
    {"primal_inner", 400, 30, 70, RIDGE_SELECT_INNER, 0, 0, 0, 0, 1, 0, 0},
    {"primal_outer_mean", 400, 30, 70, RIDGE_SELECT_OUTER_MEAN, 0, 0, 0, 0, 1, 0, 1},
    {"one_target", 400, 30, 1, RIDGE_SELECT_INNER, 0, 0, 0, 0, 1, 0, 0},
    {"thousand_targets", 300, 20, 1000, RIDGE_SELECT_INNER, 0, 0, 0, 0, 0, 0, 1},
    {"explicit_predictions", 120, 60, 50, RIDGE_SELECT_INNER, 0, 0, 0, 0, 1, 0, 0},
    {"dual", 60, 90, 40, RIDGE_SELECT_INNER, 0, 0, 0, 0, 1, 0, 1},
    {"gap", 400, 30, 70, RIDGE_SELECT_INNER, 5, 0, 0, 0, 0, 0, 0},
    {"groups", 360, 24, 50, RIDGE_SELECT_INNER, 0, 1, 0, 0, 0, 0, 0},
    {"banded", 400, 30, 70, RIDGE_SELECT_INNER, 0, 0, 1, 0, 1, 0, 0},
    {"dual_banded", 60, 90, 40, RIDGE_SELECT_INNER, 0, 0, 1, 0, 0, 0, 0},
    {"tied_eigenvalues", 400, 30, 70, RIDGE_SELECT_INNER, 0, 0, 0, 1, 0, 0, 0},
    {"batches_and_design_cache", 400, 30, 300, RIDGE_SELECT_INNER, 0, 0, 0, 0, 1, 600 << 10, 1},
};

TEST_MAIN("test_fits_gpu") {
    char why[256];
    const char *no_gpu = gpu_unusable(why, sizeof why);
    if (no_gpu) {
        for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) SKIP(CASES[i].name, no_gpu);
        SKIP("pca/*", no_gpu);
        SKIP("signif/shift_null", no_gpu);
        return;
    }
    char libs[256];
    if (!linalg_cuda_ready(libs, sizeof libs)) {
        CHECK(0, "libraries: the fits' table cannot load them: %s", libs);
        return;
    }
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) ridge_case(&CASES[i]);
    // the first 8 features carry variances 25 down to 6.25 above the rest's 1: 6 components well apart (a component
    // of the flat rest would be any rotation of its neighbours, on either table)
    pca_case("covariance", 300, 40, 6, PCA_EIGH);
    pca_case("gram", 80, 200, 6, PCA_EIGH);
    pca_case("randomized", 300, 120, 6, PCA_RANDOMIZED);
    null_case();
}
