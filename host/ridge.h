/*
 * ridge: cross-validated ridge regression from one feature matrix to thousands of targets at once,
 * the fitting engine of every (model, layer, subject).
 *
 * Protocol. Splits come from a CvPlan (contiguous folds or groups, with a gap). Each target's alpha
 * is chosen on training data only:
 *  - RIDGE_SELECT_INNER (default): inside each outer training set, the nested splits score every
 *    alpha by pooled held-out squared error and each target takes the best (ties: the larger alpha);
 *    the outer fold then scores the model refitted on its whole training set with that alpha;
 *  - RIDGE_SELECT_OUTER_MEAN: every alpha is scored on the outer folds and each target keeps the
 *    alpha of the best mean r, whose scores are reported. Faster (no nested fits) and slightly
 *    optimistic: the reported r is a maximum over the grid.
 * Scores per outer fold, averaged over the folds: Pearson r and R^2 of the held-out samples. (Pooling
 * the folds would reward or punish differences between fold means, which slow drifts create.)
 * Every model has an unpenalised intercept (features and targets centred on the training samples).
 *
 * Algorithm (primal, when a split trains on at least as many samples as features): per segment of
 * the plan, H_s = X_s^T X_s and sums in float64, D_s = X_s^T Y_s in float32 — one pass over Y. A
 * split's training and held-out statistics are sums of segments; its centred training Gram is
 * diagonalised once (float64 eigh, G = V diag(lambda) V^T) and every alpha is a diagonal rescale
 * B_alpha = diag(1/(lambda + alpha)) V^T C. Held-out scores come from sufficient statistics,
 *   sum(yhat y) = colsum(B_alpha .* V^T D_test),  sum(yhat^2) = colsum(B_alpha .* (V^T H_test V) B_alpha),
 * or from explicit predictions (X_test V) B_alpha when the held-out set is smaller than the feature
 * count (cheaper then). The dual form (kernel X X^T per split, same rescale) serves splits with more
 * features than training samples. Grams and eigendecompositions in float64, the large products in
 * float32. Targets run in batches sized from cfg.memory_bytes.
 *
 * Design cache: what a split's basis owes to the features alone (the eigendecomposition, the held-out samples in
 * its eigenbasis or their Gram there) is the same for every target batch. When the targets take more than one
 * batch (a whole brain: 100,000 voxels of many subjects), the first batch keeps each split's design in a cache
 * carved from the same memory budget, and the later batches (the other subjects' voxels) reuse it: each split is
 * decomposed once per feature matrix instead of once per batch. The cache's size is chosen among a few shares of
 * the budget to leave the fewest decompositions (a design without room is rebuilt per batch, as before); the
 * results are the same bit for bit with or without it (the same arithmetic, read back instead of redone).
 *
 * Shared designs: fits of the same feature matrices and CV plan with other targets (the subject groups of one
 * layer, on other ranks) need the same designs. A fit given an empty RidgeDesigns records every design it builds
 * there (up to the set's size limit, host memory); the set's bytes travel (the unit store), and a fit given the set
 * back uploads each recorded design instead of decomposing again: the same bytes, so the same results bit for bit.
 * A set made for another shape of fit (other folds, another number of feature matrices) is not used; an entry
 * made for another split shape is rebuilt.
 *
 * Backend: every product, decomposition and element-wise kernel of the fit goes through cfg.linalg
 * (linalg.h), and every buffer of the fit's splits lives in one workspace allocated once from it before the
 * first target batch, sized for the largest batch (RidgeStats.work_bytes), with one host block beside it for
 * what the fit's own loops read and write (split masks, host copies of the small vectors: segment sums, means,
 * band scalings, eigenvalues, target sums): nothing is allocated per split, per alpha or per fold. The feature
 * matrices, the targets and the outputs are host memory; the features are uploaded into the workspace.
 *
 * Banded ridge: features split into bands (e.g. a layer, word rate, sound power); each candidate
 * scaling gamma (one positive weight per band) rescales the statistics (G -> S G S, C -> S C with
 * S = diag(sqrt(gamma))), never Y, and each target chooses its (gamma, alpha) pair as it chooses
 * alpha. Its effective penalty per band is alpha / gamma_b.
 *
 * Shapes: N samples, P features, T targets, A alphas, K outer folds, NB bands, NG candidate scalings.
 * Ownership: the caller owns X, Y and every output array (RidgeOut fields it sets to NULL are not
 * produced). Errors: -1 with err (a NaN or Inf feature or target, a band of zero width, splits too
 * small to score, a bad alpha grid); 1 when base_stop_signal is set before a target batch (base.h): the
 * outputs are then incomplete. Concurrent ridge_cv calls may share one RidgeTargets (read-only);
 * called outside an OpenMP parallel region, ridge_cv lets OpenBLAS use every OpenMP thread meanwhile.
 */
#ifndef HOST_RIDGE_H
#define HOST_RIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "host/cv.h"
#include "host/linalg.h"  // defines: LinalgOps

typedef enum { RIDGE_SELECT_INNER = 0, RIDGE_SELECT_OUTER_MEAN } RidgeSelect;

// Designs of one fit's splits, shared with fits of the same features and other targets (above).
typedef struct RidgeDesigns RidgeDesigns;
// an empty set, which a fit fills; it stops adding designs past max_bytes
RidgeDesigns *ridge_designs_create(size_t max_bytes);
// a set from the bytes ridge_designs_bytes gave; NULL with err when they are not a whole set
RidgeDesigns *ridge_designs_from_bytes(const void *bytes, size_t n, char *err);
void ridge_designs_free(RidgeDesigns *d);
// the set as bytes (owned by the set), and how many designs it holds
const void *ridge_designs_bytes(const RidgeDesigns *d, size_t *n);
size_t ridge_designs_count(const RidgeDesigns *d);

typedef struct {
    const CvPlan *cv;
    const double *alphas;     // (A) ascending, > 0
    size_t n_alphas;
    RidgeSelect select;
    size_t n_bands;           // 0 or 1: one band of all features
    const size_t *band_size;  // (NB) widths summing to P
    size_t n_gammas;          // candidate band scalings; 0: gamma = 1 for every band
    const double *gammas;     // (NG, NB), positive
    size_t memory_bytes;      // working memory of the target batches; 0: 1 GiB
    const LinalgOps *linalg;  // the backend of the fit's products, decompositions and workspace; NULL: the CPU's
    int no_design_cache;      // 1: the cache is sized (and the batches with it) but keeps nothing, so every batch
                              // decomposes every split again: the same arithmetic in the same batches, for comparison
    RidgeDesigns *designs;    // empty: filled with the designs this fit builds; filled: used instead of building them;
                              // NULL: none (not shared between concurrent fits)
} RidgeConfig;

// Targets prepared once per subject and reused by every layer's fit: checked for NaN, summed per segment.
typedef struct {
    const float *Y;     // (N, T) row-major, not owned
    size_t N, T;
    const CvPlan *cv;
    double *seg_sum;    // (n_seg, T) per-segment sums of y and of y^2
    double *seg_sumsq;
    uint8_t *constant;  // (T) 1 where the target is constant over all samples
    size_t n_constant;
    const LinalgOps *resident_la;  // the backend holding a copy of Y (ridge_targets_resident), or NULL
    float *resident;               // (N, T) that copy, in its memory
} RidgeTargets;

int ridge_targets_init(RidgeTargets *rt, const float *Y, size_t N, size_t T, const CvPlan *cv, char *err);
// Put Y in the memory of backend la once, where every fit on that backend reads its target batches in place
// instead of uploading each batch into its workspace: the fits of every layer of a subject group then share one
// copy (on a GPU, one upload per group instead of one per layer and pass), and their workspaces leave out the
// batch's targets. On the CPU table the copy is Y itself. Fits on another backend upload as before; the products
// are the same either way. The caller sizes it against the backend's memory (N T floats). Released by
// ridge_targets_free.
void ridge_targets_resident(RidgeTargets *rt, const LinalgOps *la);
void ridge_targets_free(RidgeTargets *rt);

typedef struct {
    double *r;          // (T) mean over outer folds of the held-out Pearson r (NaN if a fold's target is constant)
    double *r2;         // (T) mean over outer folds of the held-out R^2
    double *alpha;      // (T) geometric mean over outer folds of the chosen alpha
    double *gamma;      // (T, NB) mean over outer folds of the chosen band scalings, or NULL
    float *pred;        // (N, T) held-out predictions, each sample from the fold that held it out, or NULL
    float *weights;     // (P, T) refit on all samples with each target's (gamma, alpha) chosen by the
    float *intercept;   // (T)    outer folds' pooled squared error, or NULL
} RidgeOut;

typedef struct {
    size_t n_edge_low;   // (target, fold) choices at the smallest alpha of a grid of 3 or more
    size_t n_edge_high;  // ... at the largest
    size_t n_choices;
    size_t n_dual;       // splits fitted in the dual form
    size_t n_splits;
    size_t n_direct;     // (target, alpha, split) scores the all-alphas form left to the direct one (cancellation)
    size_t n_batches, batch_targets;
    size_t n_reused;     // of n_splits, the bases whose design (eigendecomposition) an earlier target batch built
    size_t n_shared;     // designs taken from cfg->designs instead of built
    size_t cache_bytes;  // the design cache, allocated once from the backend beside the workspace
    size_t work_bytes;   // the workspace of the target batches, allocated once from the backend
    double flops;        // floating-point work of the products and decompositions
} RidgeStats;

// X: one (N, P) float32 matrix serving every split (x_per_fold = 0), or K of them, matrix k serving
// outer fold k and its nested splits (features a fold-wise transform such as PCA made from fold k's
// training samples).
int ridge_cv(const float *const *X, int x_per_fold, size_t P, const RidgeTargets *Y, const RidgeConfig *cfg,
             RidgeOut *out, RidgeStats *stats, char *err);

#endif  // HOST_RIDGE_H
