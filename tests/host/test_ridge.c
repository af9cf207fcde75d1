// The ridge engine against a float64 reference written the plain way: every split's training and
// held-out samples listed by brute force, every (alpha, band scaling) solved by the normal equations
// (LAPACK dposv), every score computed from explicit predictions. Every target is checked: where the
// reference's choice is a float tie, against the range of what the tied choices give (Span). Per-fold
// features give each outer fold its own matrix, and the reference solves each fold with its own.
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
    const float *const *X;  // one (N, P) matrix, or one per outer fold (per_fold): fold k's serves its splits
    int per_fold;
    const float *Y;
    const int *block;  // (N)
    int K;
    size_t gap;
    const double *alphas;
    size_t A;
    const double *scale;  // (NG, P) sqrt(gamma) per feature
    size_t NG;
    int outer_mean;
} Ref;

// Where two candidates' selection scores lie within a float tie (pooled squared errors within a relative 1e-5,
// or mean r within 1e-5), either choice is right. The reference then gives the range of each output over the
// tied candidates, and the engine's value must lie in it (within the tolerance): every target is checked, and a
// tie can change nothing beyond what the tied choices themselves give. Without a tie lo == hi.
typedef struct {
    double lo, hi;
} Span;

static const double TIE = 1e-5;

static void span_set(Span *s, double v) { s->lo = s->hi = v; }
static void span_widen(Span *s, double v) { s->lo = fmin(s->lo, v), s->hi = fmax(s->hi, v); }
// how far v lies outside s (0 inside; infinite for NaN)
static double span_miss(const Span *s, double v) {
    if (isnan(v)) return INFINITY;
    return v < s->lo ? s->lo - v : v > s->hi ? v - s->hi : 0;
}

static const float *ref_x(const Ref *R, size_t k) { return R->X[R->per_fold ? k : 0]; }

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

// predictions (n_te) of target t from features X scaled by s, penalty alpha; weights (P) and intercept if asked
static void ref_solve(const Ref *R, const float *X, const double *s, double alpha, size_t t, const size_t *tr,
                      size_t n_tr, const size_t *te, size_t n_te, double *pred, double *w_out, double *b_out) {
    size_t P = R->P;
    double *mx = calloc(P, sizeof(double)), my = 0, *G = malloc(P * P * sizeof(double)), *rhs = malloc(P * sizeof(double));
    for (size_t i = 0; i < n_tr; i++) {
        for (size_t p = 0; p < P; p++) mx[p] += X[tr[i] * P + p] * s[p] / (double)n_tr;
        my += R->Y[tr[i] * R->T + t] / (double)n_tr;
    }
    for (size_t a = 0; a < P; a++) {
        for (size_t c = 0; c < P; c++) {
            double sum = 0;
            for (size_t i = 0; i < n_tr; i++)
                sum += (X[tr[i] * P + a] * s[a] - mx[a]) * (X[tr[i] * P + c] * s[c] - mx[c]);
            G[a * P + c] = sum + (a == c ? alpha : 0);
        }
        double sum = 0;
        for (size_t i = 0; i < n_tr; i++) sum += (X[tr[i] * P + a] * s[a] - mx[a]) * (R->Y[tr[i] * R->T + t] - my);
        rhs[a] = sum;
    }
    LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (int)P, 1, G, (int)P, rhs, 1);
    for (size_t i = 0; i < n_te; i++) {
        double v = my;
        for (size_t p = 0; p < P; p++) v += (X[te[i] * P + p] * s[p] - mx[p]) * rhs[p];
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

typedef struct {
    Span *r, *r2, *log_alpha;  // (T)
    Span *pred;                // (N, T)
    Span *W, *b0;              // (P, T), (T): refit on all samples; not made with per-fold features
    size_t ties;               // targets whose choice (in some fold, or of the refit) was a tie
} RefOut;

// fold k's held-out predictions of target t with candidate i (= g * A + a) added to the prediction spans (the
// first candidate sets them); its r and R^2 on the fold returned
static void ref_outer_candidate(const Ref *R, size_t k, size_t t, size_t i, const size_t *tr, size_t n_tr,
                                const size_t *te, size_t n_te, double *p, int first, Span *pred, double *r,
                                double *r2) {
    double e;
    ref_solve(R, ref_x(R, k), R->scale + (i / R->A) * R->P, R->alphas[i % R->A], t, tr, n_tr, te, n_te, p, NULL, NULL);
    ref_scores(R, t, te, n_te, p, &e, r, r2);
    for (size_t q = 0; q < n_te; q++) {
        Span *s = &pred[te[q] * R->T + t];
        if (first) span_set(s, p[q]);
        else span_widen(s, p[q]);
    }
}

static void ref_cv(const Ref *R, RefOut *o) {
    size_t N = R->N, T = R->T, A = R->A, NG = R->NG, K = (size_t)R->K, NC = NG * A;
    size_t *tr = malloc(N * sizeof(size_t)), *te = malloc(N * sizeof(size_t));
    size_t *itr = malloc(N * sizeof(size_t)), *ite = malloc(N * sizeof(size_t));
    double *p = malloc(N * sizeof(double)), *sc = malloc(NC * sizeof(double));
    double *outer = calloc(NC * T * 3, sizeof(double));  // per candidate: mean r, mean R^2, summed sse of the outer folds
    uint8_t *tied = calloc(T, 1), *chosen = malloc(NC);
    for (size_t t = 0; t < T; t++) span_set(&o->r[t], 0), span_set(&o->r2[t], 0), span_set(&o->log_alpha[t], 0);
    for (size_t k = 0; k < K; k++) {
        size_t n_tr, n_te;
        ref_split(R, (int)k, -1, tr, &n_tr, te, &n_te);
        for (size_t t = 0; t < T; t++) {
            for (size_t i = 0; i < NC; i++) {
                double e, rr, rr2, *oc = outer + (i * T + t) * 3;
                ref_solve(R, ref_x(R, k), R->scale + (i / A) * R->P, R->alphas[i % A], t, tr, n_tr, te, n_te, p,
                          NULL, NULL);
                ref_scores(R, t, te, n_te, p, &e, &rr, &rr2);
                oc[0] += rr / (double)K, oc[1] += rr2 / (double)K, oc[2] += e;
                sc[i] = 0;
            }
            if (R->outer_mean) continue;
            for (size_t j = 0; j < K; j++) {
                if (j == k) continue;
                size_t n_itr, n_ite;
                ref_split(R, (int)k, (int)j, itr, &n_itr, ite, &n_ite);
                for (size_t i = 0; i < NC; i++) {
                    double e, rr, rr2;
                    ref_solve(R, ref_x(R, k), R->scale + (i / A) * R->P, R->alphas[i % A], t, itr, n_itr, ite,
                              n_ite, p, NULL, NULL);
                    ref_scores(R, t, ite, n_ite, p, &e, &rr, &rr2);
                    sc[i] += e;
                }
            }
            // this fold's choice by pooled inner error; the mean over folds adds each fold's range
            double best = INFINITY;
            for (size_t i = 0; i < NC; i++) best = fmin(best, sc[i]);
            Span fr = {INFINITY, -INFINITY}, fr2 = fr, fla = fr;
            size_t n_tied = 0;
            for (size_t i = 0; i < NC; i++) {
                if (sc[i] - best > TIE * best) continue;
                double rr, rr2;
                ref_outer_candidate(R, k, t, i, tr, n_tr, te, n_te, p, n_tied++ == 0, o->pred, &rr, &rr2);
                span_widen(&fr, rr), span_widen(&fr2, rr2), span_widen(&fla, log(R->alphas[i % A]));
            }
            tied[t] |= n_tied > 1;
            o->r[t].lo += fr.lo / (double)K, o->r[t].hi += fr.hi / (double)K;
            o->r2[t].lo += fr2.lo / (double)K, o->r2[t].hi += fr2.hi / (double)K;
            o->log_alpha[t].lo += fla.lo / (double)K, o->log_alpha[t].hi += fla.hi / (double)K;
        }
    }
    size_t *all = malloc(N * sizeof(size_t));
    for (size_t i = 0; i < N; i++) all[i] = i;
    for (size_t t = 0; t < T; t++) {
        // outer_mean: the candidates of best mean r (their scores reported, their predictions, their refit);
        // inner: the refit's candidates, of least pooled outer error
        double best_r = -INFINITY, best_sse = INFINITY;
        for (size_t i = 0; i < NC; i++)
            best_r = fmax(best_r, outer[(i * T + t) * 3]), best_sse = fmin(best_sse, outer[(i * T + t) * 3 + 2]);
        size_t n_chosen = 0;
        for (size_t i = 0; i < NC; i++) {
            chosen[i] = R->outer_mean ? best_r - outer[(i * T + t) * 3] <= TIE
                                      : outer[(i * T + t) * 3 + 2] - best_sse <= TIE * best_sse;
            n_chosen += chosen[i];
        }
        tied[t] |= n_chosen > 1;
        if (R->outer_mean) {
            Span r = {INFINITY, -INFINITY}, r2 = r, la = r;
            for (size_t i = 0; i < NC; i++)
                if (chosen[i])
                    span_widen(&r, outer[(i * T + t) * 3]), span_widen(&r2, outer[(i * T + t) * 3 + 1]),
                        span_widen(&la, log(R->alphas[i % A]));
            o->r[t] = r, o->r2[t] = r2, o->log_alpha[t] = la;
            for (size_t k = 0; k < K; k++) {
                size_t n_tr, n_te;
                ref_split(R, (int)k, -1, tr, &n_tr, te, &n_te);
                double rr, rr2;
                for (size_t i = 0, c = 0; i < NC; i++)
                    if (chosen[i]) ref_outer_candidate(R, k, t, i, tr, n_tr, te, n_te, p, c++ == 0, o->pred, &rr, &rr2);
            }
        }
        if (R->per_fold) continue;
        int first = 1;
        for (size_t i = 0; i < NC; i++) {
            if (!chosen[i]) continue;
            double w[64], b;
            ref_solve(R, R->X[0], R->scale + (i / A) * R->P, R->alphas[i % A], t, all, N, all, 0, p, w, &b);
            for (size_t q = 0; q < R->P; q++)
                if (first) span_set(&o->W[q * T + t], w[q]);
                else span_widen(&o->W[q * T + t], w[q]);
            if (first) span_set(&o->b0[t], b);
            else span_widen(&o->b0[t], b);
            first = 0;
        }
    }
    o->ties = 0;
    for (size_t t = 0; t < T; t++) o->ties += tied[t];
    free(all), free(chosen), free(tr), free(te), free(itr), free(ite), free(p), free(sc), free(outer), free(tied);
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
    int fold_wise;      // one feature matrix per outer fold (as a PCA fitted per fold makes), each its own
} Case;

static double span_miss_max(const Span *s, const float *v, size_t n, double *scale) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, span_miss(&s[i], v[i])), *scale = fmax(*scale, fabs(s[i].hi));
    return m;
}

static void check_case(const Case *cs) {
    size_t N = cs->N, P = cs->P, T = cs->T, K = (size_t)cs->K;
    float *X = malloc(N * P * sizeof(float)), *Y = malloc(N * T * sizeof(float));
    random_problem(X, Y, N, P, T, 1.0);
    for (size_t z = 0; z < cs->zero_cols; z++)
        for (size_t i = 0; i < N; i++) X[i * P + (3 * z + 2) % P] = 0;
    // per-fold features: each fold's own rescaled and perturbed copy, so that a fold scored with another fold's
    // matrix gives other predictions
    float **Xk = malloc(K * sizeof *Xk);
    for (size_t k = 0; k < (cs->fold_wise ? K : 1); k++) {
        if (!cs->fold_wise) {
            Xk[k] = X;
            continue;
        }
        Xk[k] = malloc(N * P * sizeof(float));
        for (size_t p = 0; p < P; p++) {
            double g = 1 + 0.5 * test_urand(&rng);
            for (size_t i = 0; i < N; i++) Xk[k][i * P + p] = (float)(X[i * P + p] * g + 0.3 * nrand());
        }
    }
    char err[BASE_ERR_LEN], name[160];
    CvPlan cv;
    int *label = malloc(N * sizeof(int));
    for (size_t i = 0; i < N; i++) label[i] = (int)((i * 3 * K / N) % K) * 10 + 7;
    int rc = cs->groups ? cv_plan_groups(&cv, label, N, cs->gap, err) : cv_plan_folds(&cv, N, cs->K, cs->gap, err);
    CHECK(rc == 0, "%s/plan %s", cs->name, rc ? err : "");
    double alphas[7];
    base_logspace(alphas, -1, cs->alpha_hi ? cs->alpha_hi : 3.5, 7);
    size_t bands[2] = {P / 2, P - P / 2};
    double gammas[6] = {1, 1, 0.2, 1.8, 1.7, 0.3};
    RidgeConfig cfg = {&cv, alphas, 7, cs->outer_mean ? RIDGE_SELECT_OUTER_MEAN : RIDGE_SELECT_INNER,
                       cs->n_bands, bands, cs->n_bands ? 3 : 0, gammas, cs->memory};
    RidgeTargets rt;
    CHECK(ridge_targets_init(&rt, Y, N, T, &cv, err) == 0, "%s/targets", cs->name);
    double *r = malloc(T * 8), *r2 = malloc(T * 8), *al = malloc(T * 8), *gm = malloc(T * 2 * 8);
    float *pred = malloc(N * T * 4), *W = malloc(P * T * 4), *b0 = malloc(T * 4);
    // weights need one matrix for all samples: per-fold features have none
    RidgeOut out = {r, r2, al, gm, pred, cs->fold_wise ? NULL : W, cs->fold_wise ? NULL : b0};
    RidgeStats st;
    rc = ridge_cv((const float *const *)Xk, cs->fold_wise, P, &rt, &cfg, &out, &st, err);
    CHECK(rc == 0, "%s/runs (%zu splits, %zu dual, %zu batch(es) of %zu targets) %s", cs->name, st.n_splits, st.n_dual,
          st.n_batches, st.batch_targets, rc ? err : "");
    if (cs->alpha_hi > 6)
        CHECK(st.n_direct > 0, "%s/large_alphas_scored_directly (%zu scores)", cs->name, st.n_direct);

    // reference
    double *scale = malloc(3 * P * sizeof(double));
    size_t NG = cs->n_bands ? 3 : 1;
    for (size_t g = 0; g < NG; g++)
        for (size_t p = 0; p < P; p++) scale[g * P + p] = cs->n_bands ? sqrt(gammas[g * 2 + (p >= P / 2)]) : 1.0;
    Ref R = {N, P, T, (const float *const *)Xk, cs->fold_wise, Y, cv.block, cv.n_blocks, cs->gap, alphas, 7, scale,
             NG, cs->outer_mean};
    RefOut ro = {malloc(T * sizeof(Span)), malloc(T * sizeof(Span)), malloc(T * sizeof(Span)),
                 malloc(N * T * sizeof(Span)), malloc(P * T * sizeof(Span)), malloc(T * sizeof(Span)), 0};
    ref_cv(&R, &ro);

    // every target against the reference; where its choice was a tie, against the range of the tied choices
    size_t alpha_diff = 0;
    double dr = 0, dr2 = 0, pscale = 0, wscale = 0;
    for (size_t t = 0; t < T; t++) {
        alpha_diff += span_miss(&ro.log_alpha[t], log(al[t])) > 1e-9;
        dr = fmax(dr, span_miss(&ro.r[t], r[t])), dr2 = fmax(dr2, span_miss(&ro.r2[t], r2[t]));
    }
    double dp = span_miss_max(ro.pred, pred, N * T, &pscale);
    snprintf(name, sizeof name, "%s/alphas_equal_reference (%zu of %zu targets; %zu with tied choices, either accepted)",
             cs->name, T - alpha_diff, T, ro.ties);
    CHECK(alpha_diff == 0, "%s", name);
    CHECK(dr <= 1e-5 && dr2 <= 1e-5, "%s/r_and_r2_equal_reference (max |dr| %.1e, |dR2| %.1e)", cs->name, dr, dr2);
    CHECK(dp <= 1e-4 * pscale, "%s/held_out_predictions_equal_reference (%s; max %.1e of %.1f)", cs->name,
          cs->fold_wise ? "each fold from its own matrix" : "every fold", dp, pscale);
    if (!cs->fold_wise) {
        double dw = span_miss_max(ro.W, W, P * T, &wscale), bscale = 0;
        dw = fmax(dw, span_miss_max(ro.b0, b0, T, &bscale) / (1 + bscale) * wscale);
        CHECK(dw <= 1e-4 * wscale, "%s/refit_weights_equal_reference (max %.1e of %.2f)", cs->name, dw, wscale);
    }
    ridge_targets_free(&rt);
    cv_free(&cv);
    for (size_t k = 0; cs->fold_wise && k < K; k++) free(Xk[k]);
    free(Xk), free(X), free(Y), free(label), free(r), free(r2), free(al), free(gm), free(pred), free(W), free(b0), free(scale);
    free(ro.r), free(ro.r2), free(ro.log_alpha), free(ro.pred), free(ro.W), free(ro.b0);
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
    base_logspace(alphas, -3, 5, 9);
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

// weights need one matrix for all samples: per-fold features are refused for them
// The design cache: a fit whose targets take several batches, with the cache and without it (each batch
// decomposing every split again), gives the same outputs bit for bit (the same arithmetic, read back instead of
// redone), while the later batches reuse the first batch's decompositions: with room for every design each is built
// once, whatever the batches. The budget (1 MiB) is far below these targets' need on any thread count, and holds
// only some of the wide design's decompositions.
typedef struct {
    const char *name;
    size_t N, P, T;
    int K, outer_mean, banded, fold_wise;
    size_t memory;
    int partly;  // the cache holds only some designs: the others are rebuilt by every batch
} CacheCase;

static void check_design_cache(const CacheCase *cs) {
    const size_t N = cs->N, P = cs->P, T = cs->T, K = (size_t)cs->K, NG = cs->banded ? 3 : 1;
    float *X = malloc(N * P * 4), *Y = malloc(N * T * 4);
    random_problem(X, Y, N, P, T, 1.0);
    const float *Xk[8];
    for (size_t k = 0; k < K; k++) {
        float *x = malloc(N * P * 4);  // fold-wise: each fold's own perturbed copy
        for (size_t i = 0; i < N * P; i++) x[i] = X[i] + (cs->fold_wise ? 0.2f * (float)nrand() : 0.0f);
        Xk[k] = x;
    }
    CvPlan cv;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, N, cs->K, 0, err);
    double alphas[9];
    base_logspace(alphas, -2, 4, 9);
    size_t bands[2] = {P / 2, P - P / 2};
    double gammas[6] = {1, 1, 0.2, 1.8, 1.7, 0.3};
    RidgeTargets rt;
    CHECK(ridge_targets_init(&rt, Y, N, T, &cv, err) == 0, "design_cache/%s/targets", cs->name);
    double *d[3][4];
    float *f[3][3];
    RidgeStats st[3];
    int rc[3];
    for (int run = 0; run < 3; run++) {  // with the cache; without it; with it and half the budget
        RidgeConfig cfg = {&cv, alphas, 9, cs->outer_mean ? RIDGE_SELECT_OUTER_MEAN : RIDGE_SELECT_INNER,
                           cs->banded ? 2 : 0, bands, cs->banded ? 3 : 0, gammas, run == 2 ? cs->memory / 2 : cs->memory,
                           NULL, run == 1};
        for (int i = 0; i < 4; i++) d[run][i] = calloc(T * NG, 8);
        f[run][0] = calloc(N * T, 4), f[run][1] = calloc(P * T, 4), f[run][2] = calloc(T, 4);
        RidgeOut out = {d[run][0], d[run][1], d[run][2], cs->banded ? d[run][3] : NULL, f[run][0],
                        cs->fold_wise ? NULL : f[run][1], cs->fold_wise ? NULL : f[run][2]};
        rc[run] = ridge_cv(Xk, cs->fold_wise, P, &rt, &cfg, &out, &st[run], err);
    }
    CHECK(rc[0] == 0 && rc[1] == 0 && rc[2] == 0, "design_cache/%s/runs %s", cs->name,
          rc[0] || rc[1] || rc[2] ? err : "");
    CHECK(st[0].n_batches > 1 && st[0].n_batches == st[1].n_batches && st[2].n_batches > 1,
          "design_cache/%s/several_batches (%zu of %zu targets; %zu without the cache; %zu with half the budget)",
          cs->name, st[0].n_batches, st[0].batch_targets, st[1].n_batches, st[2].n_batches);
    CHECK(st[0].cache_bytes > 0 && st[0].n_reused > 0 && st[1].n_reused == 0 &&
              st[0].n_splits == st[1].n_splits && st[0].flops < st[1].flops,
          "design_cache/%s/later_batches_reuse_the_designs (%zu of %zu bases reused, cache %zu KiB, %.3g of %.3g "
          "GFLOP)", cs->name, st[0].n_reused, st[0].n_splits, st[0].cache_bytes >> 10, st[0].flops * 1e-9,
          st[1].flops * 1e-9);
    // with room for every design, each is decomposed once however many batches there are; else more batches
    // rebuild more
    size_t built = st[0].n_splits - st[0].n_reused, built_half = st[2].n_splits - st[2].n_reused;
    CHECK(cs->partly ? built_half > built : built_half == built, "design_cache/%s/%s (%zu decompositions; %zu with "
          "half the budget)", cs->name, cs->partly ? "more_batches_rebuild_more" : "decompositions_independent_of_batches",
          built, built_half);
    int same = 1;
    for (int i = 0; i < 4; i++) same &= memcmp(d[0][i], d[1][i], T * NG * 8) == 0;
    same &= memcmp(f[0][0], f[1][0], N * T * 4) == 0 && memcmp(f[0][1], f[1][1], P * T * 4) == 0 &&
            memcmp(f[0][2], f[1][2], T * 4) == 0;
    CHECK(same, "design_cache/%s/same_outputs_bit_for_bit (r, R^2, alphas, scalings, predictions, weights)", cs->name);
    for (int run = 0; run < 3; run++) {
        for (int i = 0; i < 4; i++) free(d[run][i]);
        for (int i = 0; i < 3; i++) free(f[run][i]);
    }
    for (size_t k = 0; k < K; k++) free((void *)Xk[k]);
    ridge_targets_free(&rt);
    cv_free(&cv);
    free(X), free(Y);
}

// Shared designs: a fit of some targets records its designs; a fit of other targets of the same features, given
// the set (through its bytes, as the unit store passes it between ranks), decomposes nothing and gives the same
// outputs bit for bit as a fit that builds its own. A set cut short by its size limit serves what it holds; a set
// of another shape of fit is not used; damaged bytes are refused.
static void check_shared_designs(const CacheCase *cs) {
    const size_t N = cs->N, P = cs->P, T = cs->T, K = (size_t)cs->K, NG = cs->banded ? 3 : 1, T1 = T / 3, T2 = T - T1;
    float *X = malloc(N * P * 4), *Y = malloc(N * T * 4), *Y1 = malloc(N * T1 * 4), *Y2 = malloc(N * T2 * 4);
    random_problem(X, Y, N, P, T, 1.0);
    for (size_t i = 0; i < N; i++) {
        memcpy(Y1 + i * T1, Y + i * T, T1 * 4);
        memcpy(Y2 + i * T2, Y + i * T + T1, T2 * 4);
    }
    const float *Xk[9];  // K + 1 matrices: the fit of other folds (K + 1 of them) takes one more when fold-wise
    for (size_t k = 0; k <= K; k++) {
        float *x = malloc(N * P * 4);
        for (size_t i = 0; i < N * P; i++) x[i] = X[i] + (cs->fold_wise ? 0.2f * (float)nrand() : 0.0f);
        Xk[k] = x;
    }
    CvPlan cv, other;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, N, cs->K, 0, err);
    cv_plan_folds(&other, N, cs->K + 1, 0, err);
    double alphas[9];
    base_logspace(alphas, -2, 4, 9);
    size_t bands[2] = {P / 2, P - P / 2};
    double gammas[6] = {1, 1, 0.2, 1.8, 1.7, 0.3};
    RidgeTargets rt1, rt2, rt_other;
    ridge_targets_init(&rt1, Y1, N, T1, &cv, err);
    ridge_targets_init(&rt2, Y2, N, T2, &cv, err);
    ridge_targets_init(&rt_other, Y1, N, T1, &other, err);
    RidgeConfig cfg = {&cv, alphas, 9, cs->outer_mean ? RIDGE_SELECT_OUTER_MEAN : RIDGE_SELECT_INNER,
                       cs->banded ? 2 : 0, bands, cs->banded ? 3 : 0, gammas, cs->memory, NULL, 0, NULL};
    // run 0: Y1 recording; 1: Y2 building its own; 2: Y2 from the set; 3: Y2 from a set cut short; 4: Y2 from a
    // set of other folds
    enum { RUNS = 5 };
    double *d[RUNS][4];
    float *f[RUNS][3];
    RidgeStats st[RUNS], st_other;
    int rc[RUNS];
    RidgeDesigns *recorded = ridge_designs_create(SIZE_MAX), *partial = ridge_designs_create(0), *shared = NULL,
                 *cut = NULL, *foreign = ridge_designs_create(SIZE_MAX);
    for (int run = 0; run < RUNS; run++) {
        size_t Tr = run == 0 ? T1 : T2;
        for (int i = 0; i < 4; i++) d[run][i] = calloc(Tr * NG, 8);
        f[run][0] = calloc(N * Tr, 4), f[run][1] = calloc(P * Tr, 4), f[run][2] = calloc(Tr, 4);
    }
    for (int run = 0; run < RUNS; run++) {
        RidgeConfig c = cfg;
        int pre = 0;  // the fit that records the set a run takes
        if (run == 0) c.designs = recorded;
        if (run == 2 || run == 3 || run == 4) {
            size_t n;
            const void *b = ridge_designs_bytes(recorded, &n);
            if (run == 2) c.designs = shared = ridge_designs_from_bytes(b, n, err);
            if (run == 3) {
                // the recorded set's first designs only: what a size limit halfway through would have kept
                ridge_designs_free(partial);
                partial = ridge_designs_create(n / 2);
                RidgeConfig rec = cfg;
                rec.designs = partial;
                RidgeOut o = {d[3][0], d[3][1], d[3][2], cs->banded ? d[3][3] : NULL, f[3][0],
                              cs->fold_wise ? NULL : f[3][1], cs->fold_wise ? NULL : f[3][2]};
                pre = ridge_cv(Xk, cs->fold_wise, P, &rt2, &rec, &o, &st[3], err);
                const void *pb = ridge_designs_bytes(partial, &n);
                c.designs = cut = ridge_designs_from_bytes(pb, n, err);
            }
            if (run == 4) {
                RidgeConfig rec = cfg;
                rec.cv = &other, rec.designs = foreign;
                double *r = calloc(T1 * NG * 4, 8);
                RidgeOut o = {r, r + T1 * NG, r + 2 * T1 * NG, cs->banded ? r + 3 * T1 * NG : NULL, NULL, NULL, NULL};
                pre = ridge_cv(Xk, cs->fold_wise, P, &rt_other, &rec, &o, &st_other, err);
                free(r);
                c.designs = foreign;
            }
        }
        RidgeOut out = {d[run][0], d[run][1], d[run][2], cs->banded ? d[run][3] : NULL, f[run][0],
                        cs->fold_wise ? NULL : f[run][1], cs->fold_wise ? NULL : f[run][2]};
        rc[run] = ridge_cv(Xk, cs->fold_wise, P, run == 0 ? &rt1 : &rt2, &c, &out, &st[run], err) | pre;
    }
    int ran = rc[0] == 0 && rc[1] == 0 && rc[2] == 0 && rc[3] == 0 && rc[4] == 0 && shared && cut;
    CHECK(ran, "shared_designs/%s/runs %s", cs->name, ran ? "" : err);
    // the recording fit builds each design once and keeps it (a design its cache has no room for, it then takes
    // back from the set in later batches)
    size_t built0 = st[0].n_splits - st[0].n_reused - st[0].n_shared;
    CHECK(built0 == ridge_designs_count(recorded), "shared_designs/%s/the_recording_fit_keeps_each_design_it_builds "
          "(%zu built, %zu recorded, %zu taken back)", cs->name, built0, ridge_designs_count(recorded), st[0].n_shared);
    size_t built = st[2].n_splits - st[2].n_reused - st[2].n_shared;
    CHECK(ridge_designs_count(recorded) > 0 && st[2].n_shared > 0 &&
              (cs->banded || built == 0) && st[2].flops < st[1].flops,
          "shared_designs/%s/a_fit_given_the_set_decomposes_%s (%zu designs recorded; %zu of %zu bases from the set, "
          "%zu from the cache, %zu built; %.3g of %.3g GFLOP)",
          cs->name, cs->banded ? "less" : "nothing", ridge_designs_count(recorded), st[2].n_shared, st[2].n_splits,
          st[2].n_reused, built, st[2].flops * 1e-9, st[1].flops * 1e-9);
    CHECK(ridge_designs_count(cut) > 0 && ridge_designs_count(cut) < ridge_designs_count(recorded) &&
              st[3].n_shared > 0 && st[3].n_shared < st[2].n_shared,
          "shared_designs/%s/a_set_cut_short_serves_what_it_holds (%zu of %zu designs; %zu bases from it)", cs->name,
          ridge_designs_count(cut), ridge_designs_count(recorded), st[3].n_shared);
    CHECK(ridge_designs_count(foreign) > 0 && st[4].n_shared == 0,
          "shared_designs/%s/a_set_of_other_folds_is_not_used (%zu designs of %d folds; %zu bases from it)", cs->name,
          ridge_designs_count(foreign), cs->K + 1, st[4].n_shared);
    for (int run = 2; run < RUNS; run++) {
        int same = 1;
        for (int i = 0; i < 4; i++) same &= memcmp(d[1][i], d[run][i], T2 * NG * 8) == 0;
        same &= memcmp(f[1][0], f[run][0], N * T2 * 4) == 0 && memcmp(f[1][1], f[run][1], P * T2 * 4) == 0 &&
                memcmp(f[1][2], f[run][2], T2 * 4) == 0;
        static const char *how[RUNS] = {"", "", "from_the_set", "from_a_set_cut_short", "beside_a_set_of_other_folds"};
        CHECK(same, "shared_designs/%s/outputs_%s_equal_a_fit_of_its_own_bit_for_bit", cs->name, how[run]);
    }
    size_t n;
    const unsigned char *b = ridge_designs_bytes(recorded, &n);
    unsigned char *bad = malloc(n);
    memcpy(bad, b, n);
    RidgeDesigns *r = ridge_designs_from_bytes(bad, n - 1, err);
    CHECK(r == NULL && strstr(err, "damaged"), "shared_designs/%s/truncated_bytes_refused: %s", cs->name, err);
    ridge_designs_free(r);
    bad[40] ^= 0xff;  // the first entry's index
    r = ridge_designs_from_bytes(bad, n, err);
    CHECK(r == NULL, "shared_designs/%s/damaged_entry_refused: %s", cs->name, err);
    ridge_designs_free(r);
    free(bad);
    ridge_designs_free(recorded), ridge_designs_free(partial), ridge_designs_free(shared), ridge_designs_free(cut);
    ridge_designs_free(foreign);
    for (int run = 0; run < RUNS; run++) {
        for (int i = 0; i < 4; i++) free(d[run][i]);
        for (int i = 0; i < 3; i++) free(f[run][i]);
    }
    for (size_t k = 0; k <= K; k++) free((void *)Xk[k]);
    ridge_targets_free(&rt1), ridge_targets_free(&rt2), ridge_targets_free(&rt_other);
    cv_free(&cv), cv_free(&other);
    free(X), free(Y), free(Y1), free(Y2);
}

static void check_fold_wise_weights_refused(void) {
    size_t N = 120, P = 6, T = 5;
    float *X = malloc(N * P * 4), *Y = malloc(N * T * 4), *W = malloc(P * T * 4), *b = malloc(T * 4);
    random_problem(X, Y, N, P, T, 0.5);
    const float *Xk[4] = {X, X, X, X};
    CvPlan cv;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, N, 4, 0, err);
    double alphas[5], r[5], a[5];
    base_logspace(alphas, -1, 3, 5);
    RidgeConfig cfg = {&cv, alphas, 5, RIDGE_SELECT_INNER, 0, NULL, 0, NULL, 0};
    RidgeTargets rt;
    ridge_targets_init(&rt, Y, N, T, &cv, err);
    RidgeStats st;
    RidgeOut o = {r, NULL, a, NULL, NULL, W, b};
    CHECK(ridge_cv(Xk, 1, P, &rt, &cfg, &o, &st, err) == -1 && strstr(err, "weights"),
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
        {"fold_wise_N120_P6_T5", 120, 6, 5, 4, 0, 0, 0, 0, 0, 0, 0, 1},
        {"fold_wise_gap_2_N160_P8_T12", 160, 8, 12, 4, 2, 0, 0, 0, 0, 0, 0, 1},
        {"fold_wise_outer_mean_N120_P6_T8", 120, 6, 8, 4, 0, 0, 1, 0, 0, 0, 0, 1},
        {"fold_wise_dual_N40_P50_T6", 40, 50, 6, 4, 0, 0, 0, 0, 0, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
    check_planted();
    check_bad_input();
    check_fold_wise_weights_refused();
    static const CacheCase cache_cases[] = {
        {"primal_sufficient_N240_P12_T1200", 240, 12, 1200, 4, 0, 0, 0, 1 << 20},
        {"primal_explicit_N100_P40_T1200", 100, 40, 1200, 4, 0, 0, 0, 1 << 20},
        {"dual_N40_P60_T1200", 40, 60, 1200, 4, 0, 0, 0, 1 << 20},
        {"banded_N200_P10_T800", 200, 10, 800, 4, 0, 1, 0, 1 << 20},
        {"outer_mean_N200_P8_T1200", 200, 8, 1200, 5, 1, 0, 0, 1 << 20},
        {"fold_wise_N160_P8_T1200", 160, 8, 1200, 4, 0, 0, 1, 1 << 20},
        {"partly_cached_N240_P100_T400", 240, 100, 400, 4, 0, 0, 0, 1 << 20, 1},
    };
    for (size_t i = 0; i < sizeof cache_cases / sizeof cache_cases[0]; i++) check_design_cache(&cache_cases[i]);
    for (size_t i = 0; i < sizeof cache_cases / sizeof cache_cases[0]; i++) check_shared_designs(&cache_cases[i]);
}
