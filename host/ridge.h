/*
 * ridge: cross-validated ridge regression from one feature matrix to many targets at once.
 *
 * Protocol (nested, so the reported score never sees the data that chose it):
 *  - outer: K contiguous folds; each is predicted by a model trained on the other folds;
 *  - inner: inside each outer training set, contiguous inner folds score every alpha of the grid
 *    by held-out squared error, and each target takes its own best alpha (ties: the larger);
 *  - score: Pearson r between prediction and target inside each held-out fold, averaged over the
 *    outer folds. (Correlating the concatenated folds would reward or punish differences between
 *    fold means, which slow drifts create and no model of the words can predict.)
 * Every model has an unpenalised intercept (features and targets centred on the training rows).
 *
 * Numerics, all float64: per training set, one symmetric eigendecomposition serves every alpha and
 * every target. Primal form (X^T X = V L V^T) when features do not outnumber training rows, dual
 * form (X X^T = U L U^T) otherwise; both reduce to predictions A diag(1/(L + alpha)) B, so each
 * alpha costs one rescale and one GEMM. The engine of the ridge issue replaces this with fold
 * downdating and sufficient statistics; this version is the readable reference.
 *
 * Shapes: N samples, P features, T targets, A alphas. X (N, P) and Y (N, T) row-major.
 * Errors: ridge_cv returns -1 with err when the folds cannot be formed. Not collective.
 */
#ifndef HOST_RIDGE_H
#define HOST_RIDGE_H

#include <stddef.h>

typedef struct {
    int n_folds;           // outer folds, >= 2
    int n_inner_folds;     // inner folds for the alpha choice, >= 2
    const double *alphas;  // (A) ascending, > 0
    size_t n_alphas;
} RidgeConfig;

typedef struct {
    size_t n_edge_low;   // (target, outer fold) choices at the smallest alpha of the grid
    size_t n_edge_high;  // ... at the largest (grids of 3 or more alphas only)
    size_t n_choices;
    int dual;       // 1 when the outer fits used the dual form
} RidgeStats;

// r (T) held-out Pearson r (mean over outer folds; NaN where a fold's target is constant); alpha (T) geometric mean over outer folds of the chosen alpha;
// pred (N, T) held-out predictions, or NULL.
int ridge_cv(double *r, double *alpha, double *pred, const double *X, const double *Y, size_t N, size_t P, size_t T,
             const RidgeConfig *cfg, RidgeStats *stats, char *err);

// Fit on all rows with a per-target alpha (T): weights W (P, T) and intercepts b (T).
void ridge_fit(double *W, double *b, const double *X, const double *Y, size_t N, size_t P, size_t T,
               const double *alpha);

// bounds (K + 1): fold k is rows [bounds[k], bounds[k+1]), contiguous and as equal as possible
void ridge_fold_bounds(size_t *bounds, size_t N, int K);

// log-spaced grid: n values from 10^lo to 10^hi
void ridge_logspace(double *alphas, double lo, double hi, size_t n);

#endif  // HOST_RIDGE_H
