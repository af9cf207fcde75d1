/*
 * linalg: the few float64 building blocks the fits share, on OpenBLAS and LAPACKE.
 *
 * Row-major throughout. linalg_eigh returns eigenvalues in descending order with the eigenvectors
 * as the columns of a, sign-fixed so that each vector's largest-magnitude entry is positive (so
 * results are reproducible across BLAS builds). A LAPACK failure is fatal (DIE): it means a NaN
 * slipped through input validation. Nothing here keeps state.
 */
#ifndef HOST_LINALG_H
#define HOST_LINALG_H

#include <stddef.h>

// a (n, n) symmetric -> eigenvectors in its columns; w (n) eigenvalues, descending
void linalg_eigh(double *a, double *w, size_t n);

// the k largest eigenpairs of a (n, n) symmetric (destroyed): w (k) descending, eigenvectors in the columns of
// v (n, k), signs fixed as above: tridiagonal reduction, MRRR on the wanted index range, back-transformation of k
// vectors (about half the cost of the full decomposition for k << n).
void linalg_eigh_top(double *a, double *w, double *v, size_t n, size_t k);

// g (P, P) = x^T x for x (N, P), both triangles filled
void linalg_gram(double *g, const double *x, size_t N, size_t P);

// k (N, N) = x x^T for x (N, P), both triangles filled (the linear kernel of the rows)
void linalg_kernel(double *k, const double *x, size_t N, size_t P);

// flip the sign of each column of a (rows, cols) so its largest-magnitude entry is positive
void linalg_fix_column_signs(double *a, size_t rows, size_t cols);

#endif  // HOST_LINALG_H
