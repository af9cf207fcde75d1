// The ridge engine against a float64 reference written the plain way: every split's training and
// held-out samples listed by brute force, every (alpha, band scaling) solved by the normal equations
// (LAPACK dposv), every score computed from explicit predictions.
#include <lapacke.h>
#include <math.h>

#include "host/base.h"
#include "host/cv.h"
#include "host/ridge.h"
#include "tests/test.h"

static uint64_t rng = 88172645463325252ull;
static double nrand(void) { return test_nrand(&rng); }

// ----------------------------------------------------------------------------
// the reference

typedef struct {
    size_t N, P, T;
    const float *X, *Y;
    const int *block;  // (N)
    int K;
    size_t gap;
    const double *alphas;
    size_t A;
    const double *scale;  // (NG, P) sqrt(gamma) per feature
    size_t NG;
    int outer_mean;
} Ref;

// samples of split (k, j) (j < 0: outer), by brute force over distances
static void ref_split(const Ref *R, int k, int j, size_t *tr, size_t *n_tr, size_t *te, size_t *n_te) {
    *n_tr = *n_te = 0;
    for (size_t i = 0; i < R->N; i++) {
        int near_k = 0, near_j = 0;
        for (size_t q = 0; q < R->N; q++) {
            size_t d = q > i ? q - i : i - q;
            if (d <= R->gap && R->block[q] == k) near_k = 1;
            if (j >= 0 && d <= R->gap && R->block[q] == j) near_j = 1;
        }
        int in_outer_train = R->block[i] != k && !near_k;
        if (j < 0) {
            if (R->block[i] == k) te[(*n_te)++] = i;
            else if (in_outer_train) tr[(*n_tr)++] = i;
        } else if (in_outer_train) {
            if (R->block[i] == j) te[(*n_te)++] = i;
            else if (!near_j) tr[(*n_tr)++] = i;
        }
    }
}

// predictions (n_te) of target t with features scaled by s, penalty alpha; weights (P) and intercept if asked
static void ref_solve(const Ref *R, const double *s, double alpha, size_t t, const size_t *tr, size_t n_tr,
                      const size_t *te, size_t n_te, double *pred, double *w_out, double *b_out) {
    size_t P = R->P;
    double *mx = calloc(P, sizeof(double)), my = 0, *G = malloc(P * P * sizeof(double)), *rhs = malloc(P * sizeof(double));
    for (size_t i = 0; i < n_tr; i++) {
        for (size_t p = 0; p < P; p++) mx[p] += R->X[tr[i] * P + p] * s[p] / (double)n_tr;
        my += R->Y[tr[i] * R->T + t] / (double)n_tr;
    }
    for (size_t a = 0; a < P; a++) {
        for (size_t c = 0; c < P; c++) {
            double sum = 0;
            for (size_t i = 0; i < n_tr; i++)
                sum += (R->X[tr[i] * P + a] * s[a] - mx[a]) * (R->X[tr[i] * P + c] * s[c] - mx[c]);
            G[a * P + c] = sum + (a == c ? alpha : 0);
        }
        double sum = 0;
        for (size_t i = 0; i < n_tr; i++) sum += (R->X[tr[i] * P + a] * s[a] - mx[a]) * (R->Y[tr[i] * R->T + t] - my);
        rhs[a] = sum;
    }
    LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (int)P, 1, G, (int)P, rhs, 1);
    for (size_t i = 0; i < n_te; i++) {
        double v = my;
        for (size_t p = 0; p < P; p++) v += (R->X[te[i] * P + p] * s[p] - mx[p]) * rhs[p];
        pred[i] = v;
    }
    if (w_out) {
        double b = my;
        for (size_t p = 0; p < P; p++) w_out[p] = rhs[p] * s[p], b -= mx[p] * rhs[p];
        *b_out = b;
    }
    free(mx), free(G), free(rhs);
}

static void ref_scores(const Ref *R, size_t t, const size_t *te, size_t n_te, const double *pred, double *sse,
                       double *r, double *r2) {
    double my = 0, mp = 0, e = 0, spp = 0, syy = 0, spy = 0;
    for (size_t i = 0; i < n_te; i++) my += R->Y[te[i] * R->T + t] / (double)n_te, mp += pred[i] / (double)n_te;
    for (size_t i = 0; i < n_te; i++) {
        double y = R->Y[te[i] * R->T + t];
        e += (y - pred[i]) * (y - pred[i]);
        spp += (pred[i] - mp) * (pred[i] - mp), syy += (y - my) * (y - my), spy += (pred[i] - mp) * (y - my);
    }
    *sse = e;
    *r = spy / sqrt(spp * syy);
    *r2 = 1 - e / syy;
}

// r, r2, alpha (T); pred (N, T); weights (P, T) + intercept (T) refit with the pooled-outer-error choice
static void ref_cv(const Ref *R, double *r, double *r2, double *alpha, double *pred, double *W, double *b0,
                   double *margin /* (T) smallest relative gap between the best and second choice */) {
    size_t N = R->N, T = R->T, A = R->A, NG = R->NG, K = (size_t)R->K;
    size_t *tr = malloc(N * sizeof(size_t)), *te = malloc(N * sizeof(size_t));
    size_t *itr = malloc(N * sizeof(size_t)), *ite = malloc(N * sizeof(size_t));
    double *p = malloc(N * sizeof(double)), *sc = malloc(NG * A * 3 * sizeof(double));
    double *outer = calloc(NG * A * T * 3, sizeof(double));  // r, r2, sse summed over folds
    for (size_t t = 0; t < T; t++) r[t] = r2[t] = alpha[t] = 0, margin[t] = INFINITY;
    for (size_t k = 0; k < K; k++) {
        size_t n_tr, n_te;
        ref_split(R, (int)k, -1, tr, &n_tr, te, &n_te);
        for (size_t t = 0; t < T; t++) {
            for (size_t g = 0; g < NG; g++)
                for (size_t a = 0; a < A; a++) {
                    double e, rr, rr2, *o = outer + ((g * A + a) * T + t) * 3;
                    ref_solve(R, R->scale + g * R->P, R->alphas[a], t, tr, n_tr, te, n_te, p, NULL, NULL);
                    ref_scores(R, t, te, n_te, p, &e, &rr, &rr2);
                    o[0] += rr / K, o[1] += rr2 / K, o[2] += e;
                    sc[g * A + a] = 0;
                }
            if (R->outer_mean) continue;
            for (size_t j = 0; j < K; j++) {
                if (j == k) continue;
                size_t n_itr, n_ite;
                ref_split(R, (int)k, (int)j, itr, &n_itr, ite, &n_ite);
                for (size_t g = 0; g < NG; g++)
                    for (size_t a = 0; a < A; a++) {
                        double e, rr, rr2;
                        ref_solve(R, R->scale + g * R->P, R->alphas[a], t, itr, n_itr, ite, n_ite, p, NULL, NULL);
                        ref_scores(R, t, ite, n_ite, p, &e, &rr, &rr2);
                        sc[g * A + a] += e;
                    }
            }
            size_t best = 0;
            for (size_t a = 0; a < A; a++)
                for (size_t g = 0; g < NG; g++)
                    if (sc[g * A + a] <= sc[best]) best = g * A + a;
            for (size_t i = 0; i < NG * A; i++)
                if (i != best) margin[t] = fmin(margin[t], (sc[i] - sc[best]) / sc[best]);
            double e, rr, rr2;
            ref_solve(R, R->scale + (best / A) * R->P, R->alphas[best % A], t, tr, n_tr, te, n_te, p, NULL, NULL);
            ref_scores(R, t, te, n_te, p, &e, &rr, &rr2);
            r[t] += rr / K, r2[t] += rr2 / K, alpha[t] += log(R->alphas[best % A]) / K;
            for (size_t i = 0; i < n_te; i++) pred[te[i] * T + t] = p[i];
        }
    }
    size_t *all = malloc(N * sizeof(size_t));
    for (size_t i = 0; i < N; i++) all[i] = i;
    for (size_t t = 0; t < T; t++) {
        size_t best = 0, refit = 0;
        for (size_t a = 0; a < A; a++)
            for (size_t g = 0; g < NG; g++) {
                size_t i = g * A + a;
                if (outer[(i * T + t) * 3] >= outer[(best * T + t) * 3]) best = i;
                if (outer[(i * T + t) * 3 + 2] <= outer[(refit * T + t) * 3 + 2]) refit = i;
            }
        if (R->outer_mean) {
            for (size_t i = 0; i < NG * A; i++)
                if (i != best)
                    margin[t] = fmin(margin[t], fabs(outer[(best * T + t) * 3] - outer[(i * T + t) * 3]));
            r[t] = outer[(best * T + t) * 3], r2[t] = outer[(best * T + t) * 3 + 1], alpha[t] = log(R->alphas[best % A]);
            refit = best;
            for (size_t k = 0; k < K; k++) {
                size_t n_tr, n_te;
                ref_split(R, (int)k, -1, tr, &n_tr, te, &n_te);
                ref_solve(R, R->scale + (best / A) * R->P, R->alphas[best % A], t, tr, n_tr, te, n_te, p, NULL, NULL);
                for (size_t i = 0; i < n_te; i++) pred[te[i] * T + t] = p[i];
            }
        }
        alpha[t] = exp(alpha[t]);
        double w[64], b;
        ref_solve(R, R->scale + (refit / A) * R->P, R->alphas[refit % A], t, all, N, all, 0, p, w, &b);
        for (size_t q = 0; q < R->P; q++) W[q * T + t] = w[q];
        b0[t] = b;
    }
    free(all), free(tr), free(te), free(itr), free(ite), free(p), free(sc), free(outer);
}

// ----------------------------------------------------------------------------
// problems

// targets from random weights, with noise that differs between targets (so their alphas differ)
static void random_problem(float *X, float *Y, size_t N, size_t P, size_t T, double noise) {
    double *W = malloc(P * T * sizeof(double));
    for (size_t i = 0; i < N * P; i++) X[i] = (float)(nrand() + 0.5);
    for (size_t i = 0; i < P * T; i++) W[i] = nrand() / sqrt((double)P);
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++) {
            double s = 0.3 * (double)(t % 7);
            for (size_t p = 0; p < P; p++) s += X[i * P + p] * W[p * T + t];
            Y[i * T + t] = (float)(s + noise * nrand() * (1 + t % 5));
        }
    free(W);
}

typedef struct {
    const char *name;
    size_t N, P, T;
    int K;
    size_t gap;
    int groups;      // blocks from labels (three interleaved runs per group) instead of folds
    int outer_mean;
    size_t n_bands;  // 0: none; 2: bands of P/2 with 3 candidate scalings
    size_t memory;   // bytes of the engine's budget; 0: default
    size_t zero_cols;   // features set to zero (tied zero eigenvalues in every split)
    double alpha_hi;    // log10 of the largest alpha; 0: 3.5 (large ones leave scores to the direct form)
} Case;

static void check_case(const Case *cs) {
    size_t N = cs->N, P = cs->P, T = cs->T;
    float *X = malloc(N * P * sizeof(float)), *Y = malloc(N * T * sizeof(float));
    random_problem(X, Y, N, P, T, 1.0);
    for (size_t z = 0; z < cs->zero_cols; z++)
        for (size_t i = 0; i < N; i++) X[i * P + (3 * z + 2) % P] = 0;
    char err[BASE_ERR_LEN], name[160];
    CvPlan cv;
    int *label = malloc(N * sizeof(int));
    for (size_t i = 0; i < N; i++) label[i] = (int)((i * 3 * (size_t)cs->K / N) % (size_t)cs->K) * 10 + 7;
    int rc = cs->groups ? cv_plan_groups(&cv, label, N, cs->gap, err) : cv_plan_folds(&cv, N, cs->K, cs->gap, err);
    CHECK(rc == 0, "%s/plan %s", cs->name, rc ? err : "");
    double alphas[7];
    ridge_logspace(alphas, -1, cs->alpha_hi ? cs->alpha_hi : 3.5, 7);
    size_t bands[2] = {P / 2, P - P / 2};
    double gammas[6] = {1, 1, 0.2, 1.8, 1.7, 0.3};
    RidgeConfig cfg = {&cv, alphas, 7, cs->outer_mean ? RIDGE_SELECT_OUTER_MEAN : RIDGE_SELECT_INNER,
                       cs->n_bands, bands, cs->n_bands ? 3 : 0, gammas, cs->memory};
    RidgeTargets rt;
    CHECK(ridge_targets_init(&rt, Y, N, T, &cv, err) == 0, "%s/targets", cs->name);
    double *r = malloc(T * 8), *r2 = malloc(T * 8), *al = malloc(T * 8), *gm = malloc(T * 2 * 8);
    float *pred = malloc(N * T * 4), *W = malloc(P * T * 4), *b0 = malloc(T * 4);
    RidgeOut out = {r, r2, al, gm, pred, W, b0};
    RidgeStats st;
    const float *xs[1] = {X};
    rc = ridge_cv(xs, 0, P, &rt, &cfg, &out, &st, err);
    CHECK(rc == 0, "%s/runs (%zu splits, %zu dual, %zu batch(es) of %zu targets) %s", cs->name, st.n_splits, st.n_dual,
          st.n_batches, st.batch_targets, rc ? err : "");
    if (cs->alpha_hi > 6)
        CHECK(st.n_direct > 0, "%s/large_alphas_scored_directly (%zu scores)", cs->name, st.n_direct);

    // reference
    double *scale = malloc(3 * P * sizeof(double));
    size_t NG = cs->n_bands ? 3 : 1;
    for (size_t g = 0; g < NG; g++)
        for (size_t p = 0; p < P; p++) scale[g * P + p] = cs->n_bands ? sqrt(gammas[g * 2 + (p >= P / 2)]) : 1.0;
    Ref R = {N, P, T, X, Y, cv.block, cv.n_blocks, cs->gap, alphas, 7, scale, NG, cs->outer_mean};
    double *rr = malloc(T * 8), *rr2 = malloc(T * 8), *ra = malloc(T * 8), *margin = malloc(T * 8);
    double *rp = malloc(N * T * 8), *rW = malloc(P * T * 8), *rb = malloc(T * 8);
    ref_cv(&R, rr, rr2, ra, rp, rW, rb, margin);

    // alphas equal wherever the reference's choice is not a near tie; scores within 1e-5 there
    size_t ties = 0, alpha_diff = 0;
    double dr = 0, dr2 = 0, dp = 0, dw = 0, pscale = 0, wscale = 0;
    for (size_t t = 0; t < T; t++) {
        if (margin[t] < 1e-5) {
            ties++;
            continue;
        }
        alpha_diff += fabs(log(al[t] / ra[t])) > 1e-9;
        dr = fmax(dr, fabs(r[t] - rr[t])), dr2 = fmax(dr2, fabs(r2[t] - rr2[t]));
        for (size_t i = 0; i < N; i++)
            dp = fmax(dp, fabs(pred[i * T + t] - rp[i * T + t])), pscale = fmax(pscale, fabs(rp[i * T + t]));
        for (size_t q = 0; q < P; q++)
            dw = fmax(dw, fabs(W[q * T + t] - rW[q * T + t])), wscale = fmax(wscale, fabs(rW[q * T + t]));
        dw = fmax(dw, fabs(b0[t] - rb[t]) / (1 + fabs(rb[t])) * wscale);
    }
    snprintf(name, sizeof name, "%s/alphas_equal_reference (%zu of %zu targets, %zu near ties set aside)", cs->name,
             T - ties - alpha_diff, T - ties, ties);
    // r stops changing with alpha once alpha dwarfs the eigenvalues: large grids tie more often
    CHECK(alpha_diff == 0 && ties < (cs->alpha_hi > 6 ? T / 2 : T / 4 + 1), "%s", name);
    CHECK(dr <= 1e-5 && dr2 <= 1e-5, "%s/r_and_r2_equal_reference (max |dr| %.1e, |dR2| %.1e)", cs->name, dr, dr2);
    CHECK(dp <= 1e-4 * pscale, "%s/held_out_predictions_equal_reference (max %.1e of %.1f)", cs->name, dp, pscale);
    CHECK(dw <= 1e-4 * wscale, "%s/refit_weights_equal_reference (max %.1e of %.2f)", cs->name, dw, wscale);
    ridge_targets_free(&rt);
    cv_free(&cv);
    free(X), free(Y), free(label), free(r), free(r2), free(al), free(gm), free(pred), free(W), free(b0), free(scale);
    free(rr), free(rr2), free(ra), free(margin), free(rp), free(rW), free(rb);
}

// targets generated from known weights are recovered; pure-noise targets score near zero
static void check_planted(void) {
    size_t N = 900, P = 10, T = 40;
    float *X = malloc(N * P * 4), *Y = malloc(N * T * 4), *Wfit = malloc(P * T * 4), *b = malloc(T * 4);
    double *W = malloc(P * T * 8), r[40], r2[40], al[40];
    for (size_t i = 0; i < N * P; i++) X[i] = (float)nrand();
    for (size_t i = 0; i < P * T; i++) W[i] = nrand();
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++) {
            double s = 2.0 - (double)(t % 4);
            for (size_t p = 0; p < P; p++) s += X[i * P + p] * W[p * T + t];
            Y[i * T + t] = (float)(t < 20 ? s + 0.05 * nrand() : nrand());  // the last 20: noise alone
        }
    CvPlan cv;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, N, 5, 0, err);
    double alphas[9];
    ridge_logspace(alphas, -3, 5, 9);
    RidgeConfig cfg = {&cv, alphas, 9, RIDGE_SELECT_INNER, 0, NULL, 0, NULL, 0};
    RidgeTargets rt;
    ridge_targets_init(&rt, Y, N, T, &cv, err);
    RidgeOut out = {r, r2, al, NULL, NULL, Wfit, b};
    RidgeStats st;
    const float *xs[1] = {X};
    ridge_cv(xs, 0, P, &rt, &cfg, &out, &st, err);
    double rmin = 1, werr = 0, berr = 0, noise_r = 0;
    for (size_t t = 0; t < 20; t++) {
        rmin = fmin(rmin, r[t]);
        for (size_t p = 0; p < P; p++) werr = fmax(werr, fabs(Wfit[p * T + t] - W[p * T + t]));
        berr = fmax(berr, fabs(b[t] - (2.0 - (double)(t % 4))));
    }
    for (size_t t = 20; t < T; t++) noise_r = fmax(noise_r, fabs(r[t]));
    CHECK(rmin > 0.999, "planted/held_out_r_above_0.999 (min %.5f)", rmin);
    CHECK(werr < 0.01 && berr < 0.01, "planted/weights_and_intercepts_recovered (max error %.4f, %.4f)", werr, berr);
    // held-out r of noise: about N(0, 0.06) per target here, slightly negative on average (a held-out fold's
    // mean differs from the training mean the fit predicts)
    double noise_mean = 0;
    for (size_t t = 20; t < T; t++) noise_mean += r[t] / 20;
    CHECK(noise_r < 0.25 && fabs(noise_mean) < 0.06, "planted/noise_targets_score_near_zero (max |r| %.3f, mean %.3f)",
          noise_r, noise_mean);
    ridge_targets_free(&rt);
    cv_free(&cv);
    free(X), free(Y), free(Wfit), free(b), free(W);
}

static void check_bad_input(void) {
    size_t N = 40, P = 3, T = 2;
    float X[120], Y[80];
    for (int i = 0; i < 120; i++) X[i] = (float)nrand();
    for (int i = 0; i < 80; i++) Y[i] = (float)nrand();
    for (size_t i = 0; i < N; i++) Y[i * T + 1] = 3.0f;  // target 2 constant
    CvPlan cv;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, N, 4, 0, err);
    double alphas[3] = {0.1, 1, 10}, r[2], r2[2], al[2];
    RidgeConfig cfg = {&cv, alphas, 3, RIDGE_SELECT_INNER, 0, NULL, 0, NULL, 0};
    RidgeTargets rt;
    ridge_targets_init(&rt, Y, N, T, &cv, err);
    RidgeOut out = {r, r2, al, NULL, NULL, NULL, NULL};
    RidgeStats st;
    const float *xs[1] = {X};
    int rc = ridge_cv(xs, 0, P, &rt, &cfg, &out, &st, err);
    CHECK(rc == 0 && rt.n_constant == 1 && isnan(r[1]) && isnan(r2[1]) && !isnan(r[0]),
          "bad/constant_target_gives_nan_and_is_counted (r %.3f, NaN)", r[0]);
    ridge_targets_free(&rt);
    Y[7] = NAN;
    CHECK(ridge_targets_init(&rt, Y, N, T, &cv, err) == -1 && strstr(err, "NaN") && strstr(err, "sample 4"),
          "bad/nan_target_refused: %s", err);
    Y[7] = 0;
    ridge_targets_init(&rt, Y, N, T, &cv, err);
    X[5] = INFINITY;
    CHECK(ridge_cv(xs, 0, P, &rt, &cfg, &out, &st, err) == -1 && strstr(err, "feature 3"),
          "bad/infinite_feature_refused: %s", err);
    X[5] = 0;
    size_t bands[2] = {3, 0};
    RidgeConfig banded = cfg;
    banded.n_bands = 2, banded.band_size = bands;
    CHECK(ridge_cv(xs, 0, P, &rt, &banded, &out, &st, err) == -1 && strstr(err, "band 2 is empty"),
          "bad/empty_band_refused: %s", err);
    double desc[2] = {10, 1};
    RidgeConfig bad = cfg;
    bad.alphas = desc, bad.n_alphas = 2;
    CHECK(ridge_cv(xs, 0, P, &rt, &bad, &out, &st, err) == -1 && strstr(err, "ascending"),
          "bad/descending_alphas_refused: %s", err);
    CvPlan tight;
    cv_plan_folds(&tight, N, 4, 15, err);  // a gap of 15 leaves inner folds nothing to train on
    RidgeTargets rt2;
    ridge_targets_init(&rt2, Y, N, T, &tight, err);
    RidgeConfig gapped = cfg;
    gapped.cv = &tight;
    CHECK(ridge_cv(xs, 0, P, &rt2, &gapped, &out, &st, err) == -1 && strstr(err, "fold") && strstr(err, "gap 15"),
          "bad/folds_too_small_refused: %s", err);
    ridge_targets_free(&rt2);
    cv_free(&tight);
    ridge_targets_free(&rt);
    cv_free(&cv);
}

// features made per outer fold: fold k's matrix serves fold k's splits alone
static void check_fold_wise_features(void) {
    size_t N = 120, P = 6, T = 5;
    float *X = malloc(N * P * 4), *Y = malloc(N * T * 4), *Xk[4];
    random_problem(X, Y, N, P, T, 0.5);
    CvPlan cv;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, N, 4, 0, err);
    double alphas[5], r_shared[5], r_fold[5], a1[5], a2[5];
    ridge_logspace(alphas, -1, 3, 5);
    RidgeConfig cfg = {&cv, alphas, 5, RIDGE_SELECT_INNER, 0, NULL, 0, NULL, 0};
    RidgeTargets rt;
    ridge_targets_init(&rt, Y, N, T, &cv, err);
    RidgeStats st;
    const float *one[1] = {X};
    RidgeOut o1 = {r_shared, NULL, a1, NULL, NULL, NULL, NULL}, o2 = {r_fold, NULL, a2, NULL, NULL, NULL, NULL};
    ridge_cv(one, 0, P, &rt, &cfg, &o1, &st, err);
    for (int k = 0; k < 4; k++) Xk[k] = X;  // the same matrix four times: the same answer
    ridge_cv((const float *const *)Xk, 1, P, &rt, &cfg, &o2, &st, err);
    double d = 0;
    for (size_t t = 0; t < T; t++) d = fmax(d, fabs(r_shared[t] - r_fold[t]) + fabs(a1[t] - a2[t]));
    CHECK(d < 1e-12, "fold_wise/same_matrix_per_fold_equals_shared (max diff %.1e)", d);
    float *W = malloc(P * T * 4), *b = malloc(T * 4);
    RidgeOut o3 = {r_fold, NULL, a2, NULL, NULL, W, b};
    CHECK(ridge_cv((const float *const *)Xk, 1, P, &rt, &cfg, &o3, &st, err) == -1 && strstr(err, "weights"),
          "fold_wise/weights_refused: %s", err);
    ridge_targets_free(&rt);
    cv_free(&cv);
    free(X), free(Y), free(W), free(b);
}

TEST_MAIN("test_ridge") {
    static const Case cases[] = {
        {"primal_sufficient_N240_P6_T30", 240, 6, 30, 4, 0, 0, 0, 0, 0},
        {"primal_explicit_N100_P30_T20", 100, 30, 20, 4, 0, 0, 0, 0, 0},
        {"dual_N40_P50_T12", 40, 50, 12, 4, 0, 0, 0, 0, 0},
        {"one_target_N97_P7_T1", 97, 7, 1, 5, 0, 0, 0, 0, 0},
        {"thousand_targets_N150_P5_T1000", 150, 5, 1000, 3, 0, 0, 0, 0, 0},
        {"gap_3_N160_P5_T10", 160, 5, 10, 4, 3, 0, 0, 0, 0},
        {"groups_gap_2_N150_P5_T10", 150, 5, 10, 3, 2, 1, 0, 0, 0},
        {"outer_mean_N200_P6_T25", 200, 6, 25, 5, 0, 0, 1, 0, 0},
        {"outer_mean_dual_N36_P40_T8", 36, 40, 8, 3, 0, 0, 1, 0, 0},
        {"banded_N200_P8_T16", 200, 8, 16, 4, 0, 0, 0, 2, 0},
        {"banded_dual_N40_P60_T6", 40, 60, 6, 4, 0, 0, 0, 2, 0},
        {"batches_of_few_targets_N120_P6_T50", 120, 6, 50, 4, 0, 0, 0, 0, 200000},
        {"tied_eigenvalues_large_alphas_N300_P12_T40", 300, 12, 40, 4, 0, 0, 0, 0, 0, 3, 9},
        {"outer_mean_tied_large_alphas_N300_P12_T40", 300, 12, 40, 4, 0, 0, 1, 0, 0, 3, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
    check_planted();
    check_bad_input();
    check_fold_wise_features();
}
