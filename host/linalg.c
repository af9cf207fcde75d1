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

void linalg_eigh_top(double *a, double *w, double *v, size_t n, size_t k) {
    if (k == 0) return;
    lapack_int found = 0;
    double *wall = base_malloc(n * sizeof(double), "eigenvalues");
    lapack_int *support = base_malloc(2 * k * sizeof(lapack_int), "eigenvector support");
    lapack_int info = LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'I', 'U', (lapack_int)n, a, (lapack_int)n, 0.0, 0.0,
                                     (lapack_int)(n - k + 1), (lapack_int)n, 0.0, &found, wall, v, (lapack_int)k, support);
    if (info != 0 || (size_t)found != k)
        DIE("the matrix holds NaN or Inf; check the inputs", "LAPACKE_dsyevr failed (info %d, %d of %zu found) on a %zux%zu matrix",
            (int)info, (int)found, k, n, n);
    for (size_t i = 0; i < k; i++) w[i] = wall[k - 1 - i];  // ascending from LAPACK: reverse
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < k / 2; i++) {
            double t = v[r * k + i];
            v[r * k + i] = v[r * k + k - 1 - i];
            v[r * k + k - 1 - i] = t;
        }
    linalg_fix_column_signs(v, n, k);
    free(wall), free(support);
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

void linalg_pearson_columns(double *r, const double *a, const double *b, size_t N, size_t T) {
    for (size_t t = 0; t < T; t++) {
        double ma = 0, mb = 0;
        for (size_t i = 0; i < N; i++) {
            ma += a[i * T + t];
            mb += b[i * T + t];
        }
        ma /= (double)N;
        mb /= (double)N;
        double sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < N; i++) {
            double da = a[i * T + t] - ma, db = b[i * T + t] - mb;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        r[t] = (saa > 0 && sbb > 0) ? sab / sqrt(saa * sbb) : NAN;
    }
}
