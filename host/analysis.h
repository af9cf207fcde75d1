/*
 * analysis: the reference study's questions asked of a sweep's scores (paper-method.md §6 and the
 * proposals of §10) — layer curves, brain scores, peak layers, hierarchy alignment, layer-to-layer
 * correspondences between models (linear CKA and electrode profiles), and their statistics.
 *
 * Pure functions: no I/O, no global state; host/analyze reads results.h5 and writes /analysis.
 * Shapes: L hidden states (a model's 0..n_layers), E electrodes (or any targets), W words, d feature
 * columns, G region groups, B bootstrap resamples, nb distance bins. A score matrix r is (L, E)
 * row-major: r[l * E + e] is hidden state l's held-out r at electrode e. NaN marks a missing value
 * everywhere and is skipped, never propagated, unless a definition says otherwise.
 *
 * Randomness (bootstrap, permutations) comes from splitmix64 seeded by the caller, so a seed fixes
 * every resample; tests/golden/make_analysis_fixture.py re-implements the same stream in Python:
 *   next:  s += 0x9E3779B97F4A7C15; z = s; z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9;
 *          z = (z ^ z >> 27) * 0x94D049BB133111EB; return z ^ z >> 31      (64-bit wrap-around)
 *   below(n) = next % n   (the modulo bias is below n / 2^64, negligible for any electrode count)
 *   shuffle(a, n): for i = n-1 down to 1: j = below(i + 1); swap a[i], a[j]   (Fisher-Yates)
 *
 * Memory: the caller owns every buffer; functions needing scratch allocate and free it (DIE on
 * allocation failure, like the rest of host/). Errors: none — degenerate inputs give NaN (or -1 for
 * an index), as each definition says.
 */
#ifndef HOST_ANALYSIS_H
#define HOST_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

// ----------------------------------------------------------------------------
// randomness (see above)

uint64_t analysis_rng_next(uint64_t *state);
size_t analysis_rng_below(uint64_t *state, size_t n);  // n >= 1
void analysis_shuffle(double *a, size_t n, uint64_t *state);

// ----------------------------------------------------------------------------
// statistics

// Pearson r over the pairs (x[i], y[i]) where both are finite (two-pass, in double). NaN when fewer
// than 3 such pairs or when either side is constant over them.
double analysis_pearson(const double *x, const double *y, size_t n);

// Two-sided permutation p-value of the Pearson r of the finite pairs: y is shuffled n_perm times in
// succession (one stream seeded by seed; each shuffle continues from the previous order) and
// p = (1 + #{k: |r_k| >= |r_obs| - 1e-12}) / (1 + n_perm), the 1e-12 so that exact ties count
// whatever the summation order. Writes r_obs to *r (may be NULL). NaN p when r_obs is NaN or n_perm is 0.
double analysis_permutation_p(const double *x, const double *y, size_t n, size_t n_perm, uint64_t seed, double *r);

// Benjamini-Hochberg q-values of each electrode's best layer: the electrode's p at its peak layer
// (analysis_peaks), Bonferroni-corrected over the L layers it was chosen from (min(1, L · p)),
// then BH over the electrodes with a finite value (host/signif's step-up). r, p (L, E); q (E), NaN where the
// electrode has no finite r or its p is NaN.
void analysis_best_layer_q(const double *r, const double *p, size_t L, size_t E, double *q);

// ----------------------------------------------------------------------------
// layer curves and brain scores

// mean (L): mean over electrodes of the finite r[l, :] (NaN if none).
void analysis_layer_curve(const double *r, size_t L, size_t E, double *mean);

// Percentile bootstrap over electrodes of the mean curve: resample b draws E electrode indices with
// replacement (below(E), in order, one stream for every b) and takes the mean curve of those columns;
// lo and hi (L) are the (1 - level)/2 and (1 + level)/2 quantiles of the B resampled means of each layer,
// linearly interpolated between order statistics (numpy.percentile's default), over the resamples with
// a finite mean. NaN when B is 0 or E is 0. With L = 1 this is the CI of a mean over electrodes.
void analysis_bootstrap_curve(const double *r, size_t L, size_t E, size_t B, uint64_t seed, double level, double *lo,
                              double *hi);

// Per electrode (E each): peak = the first hidden state with the highest finite r (-1 if none);
// best = that r (NaN if none); com = the centre of mass sum_l l · w_l / sum_l w_l of the min-max
// normalised profile w_l = (r_l - min) / (max - min) over the finite layers (NaN when fewer than two
// are finite or max == min). Any output may be NULL.
void analysis_peaks(const double *r, size_t L, size_t E, int *peak, double *best, double *com);

// The two brain scores of a model: *mean_of_best = mean over electrodes of each one's best r
// (analysis_peaks), *best_of_mean = the maximum of the mean curve, at hidden state *best_layer
// (the first maximum; -1 and NaN when the curve has no finite value).
void analysis_brain_scores(const double *r, size_t L, size_t E, double *mean_of_best, double *best_of_mean,
                           int *best_layer);

// The first l with curve[l] >= frac · max(curve), over finite values; -1 when no value is finite or the
// maximum is not positive (a fraction of a non-positive maximum is not "reaching" anything).
int analysis_first_reaching(const double *curve, size_t L, double frac);

// out (L, G): the mean of the finite r[l, e] over the electrodes with group[e] == g (group -1: none; NaN
// for a group without a finite value). With L = 1 and group = quantile bins: each bin's mean.
void analysis_group_curves(const double *r, size_t L, size_t E, const int *group, size_t G, double *out);

// ----------------------------------------------------------------------------
// hierarchy alignment

// Equal-count quantile bins: the n' finite x are ranked ascending (ties by index) and rank k goes to
// bin floor(k · nb / n'); bin[i] = -1 where x[i] is NaN.
void analysis_quantile_bins(const double *x, size_t n, size_t nb, int *bin);

typedef struct {
    size_t n;              // electrodes with a finite distance and a finite layer
    double r_electrodes;   // Pearson r of distance with layer over those electrodes
    double p_electrodes;   // its permutation p (analysis_permutation_p, seed)
    double r_bins;         // Pearson r of bin mean distance with bin mean layer
    double p_bins;         // its permutation p over the bins (seed + 1)
} AnalysisHierarchy;

// Electrodes with a finite dist[i] and layer[i] are put in nb quantile bins of distance; bin_dist and
// bin_layer (nb) get each bin's mean distance and mean layer. layer is any per-electrode layer measure
// (peak layer, centre of mass, depth fraction).
void analysis_hierarchy(const double *dist, const double *layer, size_t n, size_t nb, size_t n_perm, uint64_t seed,
                        double *bin_dist, double *bin_layer, AnalysisHierarchy *h);

// ----------------------------------------------------------------------------
// model-to-model pathways

// Xc (W, d): X (W, d) with each column's mean (accumulated in double) subtracted; Xc may be X.
void analysis_centre_columns(const float *X, size_t W, size_t d, float *Xc);

// ||A^T B||_F^2 for A (W, da) and B (W, db), through one cblas_sgemm (da x db scratch), squares summed
// in double. Cost 2 · W · da · db flops.
double analysis_cross_norm2(const float *A, const float *B, size_t W, size_t da, size_t db);

// Linear CKA of two feature matrices on the same W words (rows), X (W, da) and Y (W, db):
// with Xc, Yc column-centred, CKA = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F · ||Yc^T Yc||_F), in [0, 1];
// NaN when either side is constant. Callers comparing many layer pairs centre once and cache the
// self terms sqrt(analysis_cross_norm2(Xc, Xc, ...)) instead.
double analysis_cka(const float *X, const float *Y, size_t W, size_t da, size_t db);

// out (LA, LB): the Pearson r over electrodes of model A's profile rA[la, :] with model B's rB[lb, :],
// rA (LA, E) and rB (LB, E) on the same electrodes.
void analysis_profile_similarity(const double *rA, size_t LA, const double *rB, size_t LB, size_t E, double *out);

// best (LA): for each row of S (LA, LB) the column of its highest finite value (first; -1 if none):
// the layer of model B that best matches layer la of model A.
void analysis_best_match(const double *S, size_t LA, size_t LB, int *best);

#endif  // HOST_ANALYSIS_H
