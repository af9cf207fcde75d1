// Ridge and PCA against float64 references written the plain way (normal equations, SVD).
#include <lapacke.h>
#include <math.h>

#include "host/base.h"
#include "host/linalg.h"
#include "host/pca.h"
#include "host/ridge.h"
#include "tests/test.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void) {  // xorshift64*, uniform in (0, 1)
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return ((rng * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
}
static double nrand(void) { return sqrt(-2 * log(urand())) * cos(2 * M_PI * urand()); }

// the reference: solve (Xc^T Xc + alpha I) w = Xc^T yc on the training rows, intercept from the means
static void ref_predict(double *pred, const double *X, const double *Y, size_t P, size_t T, const size_t *tr,
                        size_t n_tr, const size_t *te, size_t n_te, const double *alpha /* (T) */) {
    double *mx = calloc(P, sizeof(double)), *my = calloc(T, sizeof(double));
    for (size_t i = 0; i < n_tr; i++) {
        for (size_t p = 0; p < P; p++) mx[p] += X[tr[i] * P + p] / (double)n_tr;
        for (size_t t = 0; t < T; t++) my[t] += Y[tr[i] * T + t] / (double)n_tr;
    }
    double *G = malloc(P * P * sizeof(double)), *rhs = malloc(P * sizeof(double));
    for (size_t t = 0; t < T; t++) {
        for (size_t a = 0; a < P; a++) {
            for (size_t c = 0; c < P; c++) {
                double s = 0;
                for (size_t i = 0; i < n_tr; i++) s += (X[tr[i] * P + a] - mx[a]) * (X[tr[i] * P + c] - mx[c]);
                G[a * P + c] = s + (a == c ? alpha[t] : 0);
            }
            double s = 0;
            for (size_t i = 0; i < n_tr; i++) s += (X[tr[i] * P + a] - mx[a]) * (Y[tr[i] * T + t] - my[t]);
            rhs[a] = s;
        }
        LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (int)P, 1, G, (int)P, rhs, 1);
        for (size_t i = 0; i < n_te; i++) {
            double s = my[t];
            for (size_t p = 0; p < P; p++) s += (X[te[i] * P + p] - mx[p]) * rhs[p];
            pred[i * T + t] = s;
        }
    }
    free(G);
    free(rhs);
    free(mx);
    free(my);
}

static void ref_cv(double *r, double *alpha_out, const double *X, const double *Y, size_t N, size_t P, size_t T,
                   const RidgeConfig *cfg) {
    size_t K = (size_t)cfg->n_folds, KI = (size_t)cfg->n_inner_folds, A = cfg->n_alphas;
    double *pred = malloc(N * T * sizeof(double)), *ip = malloc(N * T * sizeof(double));
    double *sse = malloc(A * T * sizeof(double)), *chosen = malloc(T * sizeof(double)), *al = malloc(T * sizeof(double));
    size_t *tr = malloc(N * sizeof(size_t)), *te = malloc(N * sizeof(size_t)), *itr = malloc(N * sizeof(size_t));
    for (size_t t = 0; t < T; t++) alpha_out[t] = r[t] = 0;
    for (size_t f = 0; f < K; f++) {
        size_t lo = f * N / K, hi = (f + 1) * N / K, n_tr = 0, n_te = 0;
        for (size_t i = 0; i < N; i++) {
            if (i >= lo && i < hi) te[n_te++] = i;
            else tr[n_tr++] = i;
        }
        for (size_t i = 0; i < A * T; i++) sse[i] = 0;
        for (size_t g = 0; g < KI; g++) {
            size_t ilo = g * n_tr / KI, ihi = (g + 1) * n_tr / KI, n_itr = 0;
            for (size_t i = 0; i < n_tr; i++)
                if (i < ilo || i >= ihi) itr[n_itr++] = tr[i];
            for (size_t a = 0; a < A; a++) {
                for (size_t t = 0; t < T; t++) al[t] = cfg->alphas[a];
                ref_predict(ip, X, Y, P, T, itr, n_itr, tr + ilo, ihi - ilo, al);
                for (size_t i = 0; i < ihi - ilo; i++)
                    for (size_t t = 0; t < T; t++) sse[a * T + t] += pow(ip[i * T + t] - Y[tr[ilo + i] * T + t], 2);
            }
        }
        for (size_t t = 0; t < T; t++) {
            size_t best = 0;
            for (size_t a = 1; a < A; a++)
                if (sse[a * T + t] <= sse[best * T + t]) best = a;
            chosen[t] = cfg->alphas[best];
            alpha_out[t] += log(chosen[t]) / (double)K;
        }
        ref_predict(pred + lo * T, X, Y, P, T, tr, n_tr, te, n_te, chosen);
        double fr[64];
        linalg_pearson_columns(fr, pred + lo * T, Y + lo * T, n_te, T);
        for (size_t t = 0; t < T; t++) r[t] += fr[t] / (double)K;
    }
    for (size_t t = 0; t < T; t++) alpha_out[t] = exp(alpha_out[t]);
    free(pred), free(ip), free(sse), free(chosen), free(al), free(tr), free(te), free(itr);
}

static void random_problem(double *X, double *Y, size_t N, size_t P, size_t T, double noise) {
    double *W = malloc(P * T * sizeof(double));
    for (size_t i = 0; i < N * P; i++) X[i] = nrand();
    for (size_t i = 0; i < P * T; i++) W[i] = nrand() / sqrt((double)P);
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++) {
            double s = 0.3 * t;  // an intercept per target
            for (size_t p = 0; p < P; p++) s += X[i * P + p] * W[p * T + t];
            Y[i * T + t] = s + noise * nrand() * (1 + t % 3);  // targets differ in noise, so alphas differ
        }
    free(W);
}

static void check_against_reference(const char *name, size_t N, size_t P, size_t T) {
    double *X = malloc(N * P * sizeof(double)), *Y = malloc(N * T * sizeof(double));
    random_problem(X, Y, N, P, T, 1.0);
    double alphas[9];
    ridge_logspace(alphas, -2, 4, 9);
    RidgeConfig cfg = {4, 3, alphas, 9};
    double *r = malloc(T * sizeof(double)), *a = malloc(T * sizeof(double));
    double *rr = malloc(T * sizeof(double)), *ra = malloc(T * sizeof(double));
    RidgeStats st;
    char err[BASE_ERR_LEN];
    int rc = ridge_cv(r, a, NULL, X, Y, N, P, T, &cfg, &st, err);
    CHECK(rc == 0, "%s/runs (%s form)", name, st.dual ? "dual" : "primal");
    ref_cv(rr, ra, X, Y, N, P, T, &cfg);
    char n1[128], n2[128];
    snprintf(n1, sizeof n1, "%s/r_equals_normal_equations", name);
    snprintf(n2, sizeof n2, "%s/alpha_equals_normal_equations", name);
    CHECK_CLOSE(n1, r, rr, T, 1e-9, 1e-9);
    CHECK_CLOSE(n2, a, ra, T, 0, 1e-12);
    free(X), free(Y), free(r), free(a), free(rr), free(ra);
}

static void check_planted_weights(void) {
    size_t N = 600, P = 12, T = 5;
    double *X = malloc(N * P * sizeof(double)), *Y = malloc(N * T * sizeof(double)), *W = malloc(P * T * sizeof(double));
    for (size_t i = 0; i < N * P; i++) X[i] = nrand();
    for (size_t i = 0; i < P * T; i++) W[i] = nrand();
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++) {
            double s = 2.0 - (double)t;
            for (size_t p = 0; p < P; p++) s += X[i * P + p] * W[p * T + t];
            Y[i * T + t] = s + 0.05 * nrand();
        }
    double alphas[7], r[5], a[5], Wfit[60], b[5], small[5] = {1e-3, 1e-3, 1e-3, 1e-3, 1e-3};
    ridge_logspace(alphas, -3, 3, 7);
    RidgeConfig cfg = {5, 4, alphas, 7};
    RidgeStats st;
    char err[BASE_ERR_LEN];
    ridge_cv(r, a, NULL, X, Y, N, P, T, &cfg, &st, err);
    double rmin = 1;
    for (size_t t = 0; t < T; t++) rmin = fmin(rmin, r[t]);
    CHECK(rmin > 0.999, "planted/held_out_r_above_0.999 (min %.5f)", rmin);
    ridge_fit(Wfit, b, X, Y, N, P, T, small);
    double maxerr = 0;
    for (size_t i = 0; i < P * T; i++) maxerr = fmax(maxerr, fabs(Wfit[i] - W[i]));
    CHECK(maxerr < 0.01, "planted/weights_recovered (max error %.4f)", maxerr);
    CHECK(fabs(b[0] - 2.0) < 0.01 && fabs(b[4] + 2.0) < 0.01, "planted/intercepts_recovered (%.4f, %.4f)", b[0], b[4]);
    // the dual form gives the same weights when features outnumber samples
    size_t N2 = 30, P2 = 50;
    double *X2 = malloc(N2 * P2 * sizeof(double)), *Y2 = malloc(N2 * sizeof(double));
    double *Wd = malloc(P2 * sizeof(double)), bd, alpha = 3.0;
    for (size_t i = 0; i < N2 * P2; i++) X2[i] = nrand();
    for (size_t i = 0; i < N2; i++) Y2[i] = nrand();
    ridge_fit(Wd, &bd, X2, Y2, N2, P2, 1, &alpha);
    // check the normal equations (Xc^T Xc + alpha I) w = Xc^T yc directly
    double mx[50] = {0}, my = 0, worst = 0;
    for (size_t i = 0; i < N2; i++) {
        my += Y2[i] / (double)N2;
        for (size_t p = 0; p < P2; p++) mx[p] += X2[i * P2 + p] / (double)N2;
    }
    for (size_t p = 0; p < P2; p++) {
        double lhs = alpha * Wd[p], rhs = 0;
        for (size_t i = 0; i < N2; i++) {
            double xp = X2[i * P2 + p] - mx[p], pred = 0;
            for (size_t q = 0; q < P2; q++) pred += (X2[i * P2 + q] - mx[q]) * Wd[q];
            lhs += xp * pred;
            rhs += xp * (Y2[i] - my);
        }
        worst = fmax(worst, fabs(lhs - rhs));
    }
    CHECK(worst < 1e-9, "planted/dual_weights_solve_normal_equations (residual %.1e)", worst);
    free(X), free(Y), free(W), free(X2), free(Y2), free(Wd);
}

static void check_bad_config(void) {
    double X[40], Y[20], r[1], a[1], alphas[2] = {1, 10};
    for (int i = 0; i < 40; i++) X[i] = nrand();
    for (int i = 0; i < 20; i++) Y[i] = nrand();
    RidgeConfig cfg = {5, 5, alphas, 2};
    RidgeStats st;
    char err[BASE_ERR_LEN];
    CHECK(ridge_cv(r, a, NULL, X, Y, 20, 2, 1, &cfg, &st, err) == -1 && strstr(err, "too few"),
          "config/too_few_samples_refused: %s", err);
    double bad[2] = {10, 1};
    RidgeConfig cfg2 = {2, 2, bad, 2};
    CHECK(ridge_cv(r, a, NULL, X, Y, 20, 2, 1, &cfg2, &st, err) == -1, "config/descending_alphas_refused");
}

static void check_pca(void) {
    size_t N = 40, P = 15, K = 4;
    double *x = malloc(N * P * sizeof(double)), *s = malloc(N * K * sizeof(double)), ev[4];
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < P; p++) x[i * P + p] = nrand() * (1.0 + 3.0 / (double)(p + 1)) + 5.0;
    pca_fit_transform(s, ev, x, N, P, K);
    // reference: SVD of the centred matrix; scores = U S
    double *xc = malloc(N * P * sizeof(double)), *U = malloc(N * P * sizeof(double)), sv[15], *Vt = malloc(P * P * sizeof(double));
    double superb[15];
    for (size_t p = 0; p < P; p++) {
        double m = 0;
        for (size_t i = 0; i < N; i++) m += x[i * P + p] / (double)N;
        for (size_t i = 0; i < N; i++) xc[i * P + p] = x[i * P + p] - m;
    }
    LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'S', 'N', (int)N, (int)P, xc, (int)P, sv, U, (int)P, Vt, (int)P, superb);
    double worst = 0, total = 0;
    for (size_t p = 0; p < P; p++) total += sv[p] * sv[p];
    for (size_t k = 0; k < K; k++) {
        double sign = 0;  // compare up to sign
        for (size_t i = 0; i < N; i++) sign += s[i * K + k] * U[i * P + k];
        sign = sign < 0 ? -1 : 1;
        for (size_t i = 0; i < N; i++) worst = fmax(worst, fabs(s[i * K + k] - sign * U[i * P + k] * sv[k]));
        worst = fmax(worst, fabs(ev[k] - sv[k] * sv[k] / total));
    }
    CHECK(worst < 1e-9, "pca/covariance_route_equals_svd (max error %.1e)", worst);
    // the Gram route (more features than samples) gives the same scores as the covariance route
    size_t N2 = 12, P2 = 30;
    double *x2 = malloc(N2 * P2 * sizeof(double)), *s_gram = malloc(N2 * 3 * sizeof(double));
    for (size_t i = 0; i < N2 * P2; i++) x2[i] = nrand();
    pca_fit_transform(s_gram, NULL, x2, N2, P2, 3);
    double *x2c = malloc(N2 * P2 * sizeof(double)), sv2[12], *U2 = malloc(N2 * N2 * sizeof(double)), *Vt2 = malloc(P2 * P2 * sizeof(double)), sb2[30];
    for (size_t p = 0; p < P2; p++) {
        double m = 0;
        for (size_t i = 0; i < N2; i++) m += x2[i * P2 + p] / (double)N2;
        for (size_t i = 0; i < N2; i++) x2c[i * P2 + p] = x2[i * P2 + p] - m;
    }
    LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'S', 'N', (int)N2, (int)P2, x2c, (int)P2, sv2, U2, (int)N2, Vt2, (int)P2, sb2);
    worst = 0;
    for (size_t k = 0; k < 3; k++) {
        double sign = 0;
        for (size_t i = 0; i < N2; i++) sign += s_gram[i * 3 + k] * U2[i * N2 + k];
        sign = sign < 0 ? -1 : 1;
        for (size_t i = 0; i < N2; i++) worst = fmax(worst, fabs(s_gram[i * 3 + k] - sign * U2[i * N2 + k] * sv2[k]));
    }
    CHECK(worst < 1e-9, "pca/gram_route_equals_svd (max error %.1e)", worst);
    free(x), free(s), free(xc), free(U), free(Vt), free(x2), free(s_gram), free(x2c), free(U2), free(Vt2);
}

TEST_MAIN("test_ridge") {
    check_against_reference("primal_N120_P8_T6", 120, 8, 6);
    check_against_reference("dual_N60_P90_T4", 60, 90, 4);
    check_against_reference("odd_N97_P13_T1", 97, 13, 1);
    check_planted_weights();
    check_bad_config();
    check_pca();
}
