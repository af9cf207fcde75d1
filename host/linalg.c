#include "host/linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"

void linalg_eigh(double *a, double *w, size_t n) {
    if (n == 0) return;
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, a, (lapack_int)n, w);
    if (info != 0)
        DIE("the matrix holds NaN or Inf; check the inputs", "LAPACKE_dsyevd failed (info %d) on a %zux%zu matrix",
            (int)info, n, n);
    // LAPACK gives ascending order: reverse the columns, then fix signs
    for (size_t i = 0; i < n / 2; i++) {
        size_t j = n - 1 - i;
        double t = w[i];
        w[i] = w[j];
        w[j] = t;
        for (size_t r = 0; r < n; r++) {
            t = a[r * n + i];
            a[r * n + i] = a[r * n + j];
            a[r * n + j] = t;
        }
    }
    linalg_fix_column_signs(a, n, n);
}

// Householder reduction to tridiagonal form (dsytrd), the k wanted eigenpairs of the tridiagonal matrix by MRRR
// (dstemr: O(n k) for a subset, where dsyevr falls back to bisection and inverse iteration), back-transformation
// of those k vectors (dormtr). Where MRRR does not converge, the full dsyevd of a kept copy.
void linalg_eigh_top(double *a, double *w, double *v, size_t n, size_t k) {
    if (k == 0) return;
    const lapack_int N = (lapack_int)n, K = (lapack_int)k;
    double *copy = base_malloc(base_mul(n, n) * sizeof(double), "eigen copy");
    memcpy(copy, a, n * n * sizeof(double));
    double *d = base_malloc(n * sizeof(double), "tridiagonal"), *e = base_malloc(n * sizeof(double), "tridiagonal");
    double *tau = base_malloc(n * sizeof(double), "reflectors"), *wall = base_malloc(n * sizeof(double), "eigenvalues");
    lapack_int *support = base_malloc(2 * k * sizeof(lapack_int), "eigenvector support"), found = 0;
    lapack_logical tryrac = 1;
    // column-major throughout (a is symmetric: its upper triangle row-major is the lower one column-major), so
    // no interface copies; z (n, k) column-major is v transposed
    double *z = base_malloc(base_mul(n, k) * sizeof(double), "eigenvectors");
    lapack_int info = LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'L', N, a, N, d, e, tau);
    if (info == 0)
        info = LAPACKE_dstemr(LAPACK_COL_MAJOR, 'V', 'I', N, d, e, 0.0, 0.0, N - K + 1, N, &found, wall, z, N, K,
                              support, &tryrac);
    if (info == 0 && found == K) info = LAPACKE_dormtr(LAPACK_COL_MAJOR, 'L', 'L', 'N', N, K, a, N, tau, z, N);
    for (size_t r = 0; info == 0 && found == K && r < n; r++)
        for (size_t i = 0; i < k; i++) v[r * k + i] = z[i * n + r];
    free(z);
    if (info != 0 || found != K) {
        linalg_eigh(copy, wall, n);  // descending, signs fixed
        for (size_t i = 0; i < k; i++) w[i] = wall[i];
        for (size_t r = 0; r < n; r++) memcpy(v + r * k, copy + r * n, k * sizeof(double));
    } else {
        for (size_t i = 0; i < k; i++) w[i] = wall[k - 1 - i];  // ascending from LAPACK: reverse
        for (size_t r = 0; r < n; r++)
            for (size_t i = 0; i < k / 2; i++) {
                double t = v[r * k + i];
                v[r * k + i] = v[r * k + k - 1 - i];
                v[r * k + k - 1 - i] = t;
            }
        linalg_fix_column_signs(v, n, k);
    }
    free(copy), free(d), free(e), free(tau), free(wall), free(support);
}

void linalg_fix_column_signs(double *a, size_t rows, size_t cols) {
    for (size_t c = 0; c < cols; c++) {
        size_t best = 0;
        for (size_t r = 1; r < rows; r++)
            if (fabs(a[r * cols + c]) > fabs(a[best * cols + c])) best = r;
        if (a[best * cols + c] < 0)
            for (size_t r = 0; r < rows; r++) a[r * cols + c] = -a[r * cols + c];
    }
}

void linalg_kernel(double *k, const double *x, size_t N, size_t P) {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)N, (int)P, 1.0, x, (int)P, 0.0, k, (int)N);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < i; j++) k[i * N + j] = k[j * N + i];
}

void linalg_gram(double *g, const double *x, size_t N, size_t P) {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)P, (int)N, 1.0, x, (int)P, 0.0, g, (int)P);
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < i; j++) g[i * P + j] = g[j * P + i];
}
