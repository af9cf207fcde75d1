/*
 * signif: how likely a cross-validated score is when features and targets are unrelated, from
 * circular shifts of the targets against the fixed held-out predictions; false discovery rate.
 *
 * Shifting a target series circularly (y_i -> y_{(i + s) mod N}) keeps its autocorrelation and
 * breaks its alignment with the predictions. For a shift s, the null score is computed exactly as
 * the observed one: Pearson r between predictions and shifted targets inside each outer fold's
 * held-out samples, averaged over folds. Every shift comes at once from FFT cross-correlations
 * (the FFT of a linalg.h table): per target and fold, sum over the fold of yhat_i y_{i+s}, and the shifted fold's sums of
 * y and y^2 from the cross-correlations of the fold's indicator with y and y^2 — O(K N log N) per
 * target. The null uses n_null shifts spread evenly over [min_shift, N - min_shift] (shifts closer
 * to zero keep too much of the alignment an autocorrelated series carries), or all of them when
 * fewer. p = (1 + #{null >= observed}) / (1 + n_null): one-sided, never zero.
 *
 * signif_fdr_bh: Benjamini-Hochberg step-up q-values over the targets with a p-value (NaN p: NaN q,
 * not counted among the tests).
 * Shapes: N samples, T targets; pred and Y (N, T) row-major. Errors: -1 with err (too few shifts).
 */
#ifndef HOST_SIGNIF_H
#define HOST_SIGNIF_H

#include <stddef.h>

#include "host/cv.h"
#include "host/linalg.h"  // defines: LinalgOps

// the shifts of the null: up to n_null spread evenly over [min_shift, N - min_shift]; returns how many
// (0 when no shift is admissible). shift (n_null) may be NULL to count.
size_t signif_shifts(size_t *shift, size_t N, size_t n_null, size_t min_shift);

// p (T) from r_obs (T), the mean over the plan's outer folds of the held-out r (NaN r: NaN p);
// null (T, signif_shifts(...)) the null scores, or NULL. The transforms and the cross-spectra go through la (buffers
// from la, allocated once per call and per thread): each signal is built on the host and uploaded, the three
// correlations of a fold downloaded; pred, Y and the outputs are host arrays.
int signif_shift_null(double *p, double *null, const float *pred, const float *Y, size_t N, size_t T,
                      const CvPlan *cv, const double *r_obs, size_t n_null, size_t min_shift, const LinalgOps *la,
                      char *err);

// the null's mean-over-folds r of target t at shift s, computed directly (O(N)): the reference of the tests
double signif_shifted_r(const float *pred, const float *Y, size_t N, size_t T, const CvPlan *cv, size_t t, size_t s);

void signif_fdr_bh(double *q, const double *p, size_t T);

#endif  // HOST_SIGNIF_H
