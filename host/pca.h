/*
 * pca: principal components of a feature matrix, to reduce a layer's width before a fit.
 *
 * Centres the columns, then takes the eigendecomposition of the smaller of the covariance (P, P)
 * and Gram (N, N) matrices in float64 — the same subspace either way, chosen for cost. Each
 * component's sign is fixed so its largest-magnitude score is positive. Fitted on the rows given
 * (all samples: the reference study's behaviour; fold-wise fitting arrives with the ridge engine).
 * Shapes: N samples, P features, K components (K <= min(N, P)). The caller owns every buffer.
 */
#ifndef HOST_PCA_H
#define HOST_PCA_H

#include <stddef.h>

// out (N, K): scores of x (N, P) on its top K components; explained (K) variance ratios or NULL
void pca_fit_transform(double *out, double *explained, const double *x, size_t N, size_t P, size_t K);

#endif  // HOST_PCA_H
