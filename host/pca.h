/*
 * pca: principal components of a feature matrix, to reduce a layer's width before a fit.
 *
 * pca_fit learns the components from a subset of the rows (a fold's training samples, or all of
 * them: the reference study's choice), pca_transform projects any rows on them, so held-out samples
 * never shape the projection they are scored in. Two methods, both in float64:
 *  - PCA_EIGH: the K leading eigenpairs of the smaller of the covariance (P, P) and Gram (n, n)
 *    matrices of the centred rows (LAPACK dsyevr on an index range) — exact;
 *  - PCA_RANDOMIZED: randomized SVD (Halko, Martinsson & Tropp 2011): a Gaussian sketch of K + 10
 *    columns, 4 power iterations with QR re-orthonormalisation, then an exact SVD of the small
 *    projected matrix; O(n P K) instead of O(P^3). Equal to the exact components where the spectrum
 *    leaves a gap after the K-th value; the sketch is seeded, so results repeat.
 * Each component's sign is fixed so its largest-magnitude loading is positive (row-independent, so
 * fold-wise fits of similar data agree in sign).
 *
 * Shapes: N rows, P features, K components (K <= min(rows used, P)). Ownership: Pca owns its arrays
 * (pca_free); callers own inputs and outputs. LAPACK failures are fatal (NaN input). Every product,
 * factorisation and loop over the rows goes through the table la (linalg.h), on its memory: x is uploaded, the
 * components and means come back into the Pca's host arrays; each call allocates one workspace of fits from it
 * (and a few host vectors), sized for its largest fold, which every fold reuses (a fold allocates only its own
 * Pca's arrays); pca_transform allocates its rows, the components and its result from la per call.
 */
#ifndef HOST_PCA_H
#define HOST_PCA_H

#include <stddef.h>
#include <stdint.h>

#include "host/linalg.h"  // defines: LinalgOps

typedef enum { PCA_EIGH = 0, PCA_RANDOMIZED } PcaMethod;

typedef struct {
    size_t P, K;
    double *mean;        // (P) of the rows fitted on
    double *components;  // (P, K) orthonormal columns, by decreasing variance
    double *explained;   // (K) variance ratio of each component (of the total variance of the rows)
} Pca;

// rows (n_rows) of x (N, P) to fit on; NULL rows: all N
void pca_fit(Pca *pca, const double *x, size_t N, size_t P, const size_t *rows, size_t n_rows, size_t K,
             PcaMethod method, uint64_t seed, const LinalgOps *la);
// F fits at once, fit f on the rows i with in[f * N + i] != 0 (outer folds' training samples): equal to F calls
// of pca_fit, seeds seed + f. The exact method shares the folds' work: one Gram (P, P) of all rows, from which
// each fold subtracts the rows it leaves out, and/or one kernel (N, N), from which each fold takes its block
// (computed only for N <= 20,000); the randomized method fits each fold alone.
void pca_fit_folds(Pca *pca, const double *x, size_t N, size_t P, const uint8_t *in, size_t F, size_t K,
                   PcaMethod method, uint64_t seed, const LinalgOps *la);
// out (N, K) = (x - mean) components
void pca_transform(const Pca *pca, const double *x, size_t N, double *out, const LinalgOps *la);
void pca_free(Pca *pca);

#endif  // HOST_PCA_H
