#include "host/ridge.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/linalg.h"

void ridge_fold_bounds(size_t *bounds, size_t N, int K) {
    for (int k = 0; k <= K; k++) bounds[k] = (size_t)k * N / (size_t)K;
}

void ridge_logspace(double *alphas, double lo, double hi, size_t n) {
    for (size_t i = 0; i < n; i++) alphas[i] = pow(10.0, n == 1 ? lo : lo + (hi - lo) * (double)i / (double)(n - 1));
}

// ----------------------------------------------------------------------------
// one training set, decomposed: predictions for any alpha are A diag(1/(lam + alpha)) B + ybar

typedef struct {
    size_t n_te, rank, T;
    double *A;     // (n_te, rank)
    double *lam;   // (rank)
    double *B;     // (rank, T)
    double *ybar;  // (T)
    double *E;     // (rank, rank) eigenvectors, kept for weights (ridge_fit)
    double *mu;    // (P) training feature means
    int dual;
} Basis;

static void gather_rows(double *dst, const double *src, size_t cols, const size_t *rows, size_t n) {
    for (size_t i = 0; i < n; i++) memcpy(dst + i * cols, src + rows[i] * cols, cols * sizeof(double));
}

static void column_means(double *mean, const double *x, size_t n, size_t cols) {
    memset(mean, 0, cols * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < cols; c++) mean[c] += x[i * cols + c];
    for (size_t c = 0; c < cols; c++) mean[c] /= (double)n;
}

static void subtract_row(double *x, const double *v, size_t n, size_t cols) {
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < cols; c++) x[i * cols + c] -= v[c];
}

// The linear kernels of centred rows from G = X X^T of the raw rows (N, N): with a_i the mean of
// row i of G over the training rows and c the mean of a over them, (x_i - mu)(x_j - mu)^T =
// G_ij - a_i - a_j + c. K (n_tr, n_tr) among training rows, Kte (n_te, n_tr) test x training.
static void centred_kernels(double *K, double *Kte, const double *G, size_t N, const size_t *tr, size_t n_tr,
                            const size_t *te, size_t n_te) {
    double *a = base_calloc(N, sizeof(double), "kernel means");
    for (size_t i = 0; i < N; i++) {
        double s = 0;
        for (size_t j = 0; j < n_tr; j++) s += G[i * N + tr[j]];
        a[i] = s / (double)n_tr;
    }
    double c = 0;
    for (size_t j = 0; j < n_tr; j++) c += a[tr[j]];
    c /= (double)n_tr;
    for (size_t i = 0; i < n_tr; i++)
        for (size_t j = 0; j < n_tr; j++) K[i * n_tr + j] = G[tr[i] * N + tr[j]] - a[tr[i]] - a[tr[j]] + c;
    for (size_t i = 0; i < n_te; i++)
        for (size_t j = 0; j < n_tr; j++) Kte[i * n_tr + j] = G[te[i] * N + tr[j]] - a[te[i]] - a[tr[j]] + c;
    free(a);
}

// G (N, N) = X X^T of all rows, when the dual form would otherwise recompute it for every split
static void basis_compute(Basis *b, const double *X, const double *Y, const double *G, size_t N, size_t P, size_t T,
                          const size_t *tr, size_t n_tr, const size_t *te, size_t n_te) {
    double *xtr = base_malloc(base_mul(n_tr, P) * sizeof(double), "ridge train X");
    double *ytr = base_malloc(base_mul(n_tr, T) * sizeof(double), "ridge train Y");
    double *xte = base_malloc(base_mul(n_te ? n_te : 1, P) * sizeof(double), "ridge test X");
    double *mu = b->mu = base_malloc(P * sizeof(double), "ridge means");
    gather_rows(xtr, X, P, tr, n_tr);
    gather_rows(ytr, Y, T, tr, n_tr);
    gather_rows(xte, X, P, te, n_te);
    column_means(mu, xtr, n_tr, P);
    subtract_row(xtr, mu, n_tr, P);
    subtract_row(xte, mu, n_te, P);
    b->ybar = base_malloc(T * sizeof(double), "ridge target means");
    column_means(b->ybar, ytr, n_tr, T);
    subtract_row(ytr, b->ybar, n_tr, T);
    b->n_te = n_te;
    b->T = T;
    b->dual = P > n_tr;
    size_t R = b->dual ? n_tr : P;
    b->rank = R;
    double *E = b->E = base_malloc(base_mul(R, R) * sizeof(double), "ridge eigenvectors");
    b->lam = base_malloc(R * sizeof(double), "ridge eigenvalues");
    b->B = base_malloc(base_mul(R, T) * sizeof(double), "ridge projected targets");
    b->A = base_malloc(base_mul(n_te ? n_te : 1, R) * sizeof(double), "ridge projected test rows");
    if (!b->dual) {
        // X^T X = V L V^T;  B = V^T X^T Y;  A = X_te V
        linalg_gram(E, xtr, n_tr, P);
        linalg_eigh(E, b->lam, P);
        double *C = base_malloc(base_mul(P, T) * sizeof(double), "ridge X^T Y");
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)T, (int)n_tr, 1.0, xtr, (int)P, ytr, (int)T,
                    0.0, C, (int)T);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)T, (int)P, 1.0, E, (int)P, C, (int)T, 0.0,
                    b->B, (int)T);
        free(C);
        if (n_te)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_te, (int)P, (int)P, 1.0, xte, (int)P, E,
                        (int)P, 0.0, b->A, (int)P);
    } else {
        // X X^T = U L U^T;  B = U^T Y;  A = (X_te X^T) U
        double *Kte = base_malloc(base_mul(n_te ? n_te : 1, n_tr) * sizeof(double), "ridge test kernel");
        if (G) {
            centred_kernels(E, Kte, G, N, tr, n_tr, te, n_te);
        } else {
            linalg_kernel(E, xtr, n_tr, P);
            if (n_te)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_te, (int)n_tr, (int)P, 1.0, xte, (int)P,
                            xtr, (int)P, 0.0, Kte, (int)n_tr);
        }
        linalg_eigh(E, b->lam, n_tr);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_tr, (int)T, (int)n_tr, 1.0, E, (int)n_tr, ytr,
                    (int)T, 0.0, b->B, (int)T);
        if (n_te)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_te, (int)n_tr, (int)n_tr, 1.0, Kte,
                        (int)n_tr, E, (int)n_tr, 0.0, b->A, (int)n_tr);
        free(Kte);
    }
    for (size_t i = 0; i < R; i++)
        if (b->lam[i] < 0) b->lam[i] = 0;  // rounding below zero on a positive semi-definite matrix
    free(xte);
    free(ytr);
    free(xtr);
}

static void basis_free(Basis *b) {
    free(b->A);
    free(b->lam);
    free(b->B);
    free(b->ybar);
    free(b->E);
    free(b->mu);
    memset(b, 0, sizeof *b);
}

// out (n_te, T) = A diag(1/(lam + alpha_t)) B + ybar, alpha per target (alpha_per_target) or one
static void basis_predict(double *out, double *scaled, const Basis *b, const double *alpha, int alpha_per_target) {
    size_t R = b->rank, T = b->T;
    for (size_t i = 0; i < R; i++)
        for (size_t t = 0; t < T; t++)
            scaled[i * T + t] = b->B[i * T + t] / (b->lam[i] + alpha[alpha_per_target ? t : 0]);
    for (size_t i = 0; i < b->n_te; i++) memcpy(out + i * T, b->ybar, T * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b->n_te, (int)T, (int)R, 1.0, b->A, (int)R, scaled,
                (int)T, 1.0, out, (int)T);
}

// ----------------------------------------------------------------------------
// nested cross-validation

int ridge_cv(double *r, double *alpha, double *pred, const double *X, const double *Y, size_t N, size_t P, size_t T,
             const RidgeConfig *cfg, RidgeStats *stats, char *err) {
    const int K = cfg->n_folds, KI = cfg->n_inner_folds;
    const size_t A = cfg->n_alphas;
    if (K < 2 || KI < 2 || A == 0)
        return base_errf(err, "ridge needs at least 2 outer folds, 2 inner folds and one alpha (got %d, %d, %zu)", K, KI,
                         A);
    // the smallest inner training set must still hold a few rows per inner fold
    if (N < (size_t)K * (size_t)KI * 2)
        return base_errf(err, "%zu samples are too few for %d outer x %d inner folds (need at least %d)", N, K, KI,
                         2 * K * KI);
    for (size_t a = 0; a < A; a++)
        if (!(cfg->alphas[a] > 0) || (a > 0 && cfg->alphas[a] <= cfg->alphas[a - 1]))
            return base_errf(err, "ridge alphas must be positive and ascending");
    memset(stats, 0, sizeof *stats);

    double *all_pred = pred ? pred : base_malloc(base_mul(N, T) * sizeof(double), "ridge predictions");
    double *log_alpha_sum = base_calloc(T, sizeof(double), "alpha sums");
    double *r_sum = base_calloc(T, sizeof(double), "r sums"), *fold_r = base_malloc(T * sizeof(double), "fold r");
    double *sse = base_malloc(base_mul(A, T) * sizeof(double), "inner errors");
    double *chosen = base_malloc(T * sizeof(double), "chosen alphas");
    size_t *outer = base_malloc((size_t)(K + 1) * sizeof(size_t), "folds");
    size_t *inner = base_malloc((size_t)(KI + 1) * sizeof(size_t), "folds");
    size_t *tr = base_malloc(N * sizeof(size_t), "train rows");
    size_t *itr = base_malloc(N * sizeof(size_t), "inner train rows");
    size_t max_rank = N > P ? N : P;
    double *scaled = base_malloc(base_mul(max_rank, T) * sizeof(double), "ridge scaled targets");
    double *ipred = base_malloc(base_mul(N, T) * sizeof(double), "inner predictions");
    size_t *te = base_malloc(N * sizeof(size_t), "test rows");
    ridge_fold_bounds(outer, N, K);
    // the dual form's kernels of every split come from one X X^T: O(N^2 P) once, not per split.
    // Splits train on at least a quarter of the rows (K, KI >= 2), so below that no split is dual.
    double *G = NULL;
    if (4 * P > N) {
        G = base_malloc(base_mul(N, N) * sizeof(double), "ridge kernel");
        linalg_kernel(G, X, N, P);
    }

    for (int f = 0; f < K; f++) {
        size_t n_tr = 0, n_te = 0;
        for (size_t i = 0; i < N; i++) {
            if (i >= outer[f] && i < outer[f + 1]) te[n_te++] = i;
            else tr[n_tr++] = i;
        }
        // inner CV on the outer training rows: squared error per (alpha, target)
        memset(sse, 0, A * T * sizeof(double));
        ridge_fold_bounds(inner, n_tr, KI);
        for (int g = 0; g < KI; g++) {
            size_t n_itr = 0;
            for (size_t i = 0; i < n_tr; i++)
                if (i < inner[g] || i >= inner[g + 1]) itr[n_itr++] = tr[i];
            const size_t *ite = tr + inner[g];
            size_t n_ite = inner[g + 1] - inner[g];
            Basis b;
            basis_compute(&b, X, Y, G, N, P, T, itr, n_itr, ite, n_ite);
            for (size_t a = 0; a < A; a++) {
                basis_predict(ipred, scaled, &b, &cfg->alphas[a], 0);
                for (size_t i = 0; i < n_ite; i++)
                    for (size_t t = 0; t < T; t++) {
                        double d = ipred[i * T + t] - Y[ite[i] * T + t];
                        sse[a * T + t] += d * d;
                    }
            }
            basis_free(&b);
        }
        for (size_t t = 0; t < T; t++) {
            size_t best = 0;
            for (size_t a = 1; a < A; a++)
                if (sse[a * T + t] <= sse[best * T + t]) best = a;  // ties go to the stronger penalty
            chosen[t] = cfg->alphas[best];
            log_alpha_sum[t] += log(chosen[t]);
            if (A >= 3) {
                stats->n_edge_low += best == 0;
                stats->n_edge_high += best == A - 1;
            }
            stats->n_choices++;
        }
        // outer fit with each target's alpha, predicting the held-out fold
        Basis b;
        basis_compute(&b, X, Y, G, N, P, T, tr, n_tr, te, n_te);
        stats->dual |= b.dual;
        basis_predict(all_pred + outer[f] * T, scaled, &b, chosen, 1);
        basis_free(&b);
        linalg_pearson_columns(fold_r, all_pred + outer[f] * T, Y + outer[f] * T, n_te, T);
        for (size_t t = 0; t < T; t++) r_sum[t] += fold_r[t];  // NaN propagates: a constant fold has no r
    }
    for (size_t t = 0; t < T; t++) {
        r[t] = r_sum[t] / K;
        alpha[t] = exp(log_alpha_sum[t] / K);
    }

    free(G);
    free(te);
    free(ipred);
    free(scaled);
    free(itr);
    free(tr);
    free(inner);
    free(outer);
    free(chosen);
    free(sse);
    free(log_alpha_sum);
    free(r_sum);
    free(fold_r);
    if (!pred) free(all_pred);
    return 0;
}

void ridge_fit(double *W, double *b, const double *X, const double *Y, size_t N, size_t P, size_t T,
               const double *alpha) {
    // W = V diag(1/(lam+alpha)) V^T X_c^T Y_c (primal) = X_c^T U diag(1/(lam+alpha)) U^T Y_c (dual)
    size_t *rows = base_malloc(N * sizeof(size_t), "rows");
    for (size_t i = 0; i < N; i++) rows[i] = i;
    Basis bs;
    basis_compute(&bs, X, Y, NULL, N, P, T, rows, N, NULL, 0);
    size_t R = bs.rank;
    double *scaled = base_malloc(base_mul(R, T) * sizeof(double), "ridge scaled targets");
    for (size_t i = 0; i < R; i++)
        for (size_t t = 0; t < T; t++) scaled[i * T + t] = bs.B[i * T + t] / (bs.lam[i] + alpha[t]);
    if (!bs.dual) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)T, (int)P, 1.0, bs.E, (int)P, scaled,
                    (int)T, 0.0, W, (int)T);
    } else {
        double *c = base_malloc(base_mul(N, T) * sizeof(double), "dual coefficients");
        double *xc = base_malloc(base_mul(N, P) * sizeof(double), "centred X");
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)T, (int)N, 1.0, bs.E, (int)N, scaled,
                    (int)T, 0.0, c, (int)T);
        memcpy(xc, X, N * P * sizeof(double));
        subtract_row(xc, bs.mu, N, P);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)T, (int)N, 1.0, xc, (int)P, c, (int)T, 0.0, W,
                    (int)T);
        free(xc);
        free(c);
    }
    for (size_t t = 0; t < T; t++) {
        double s = bs.ybar[t];
        for (size_t p = 0; p < P; p++) s -= bs.mu[p] * W[p * T + t];
        b[t] = s;
    }
    free(scaled);
    basis_free(&bs);
    free(rows);
}
