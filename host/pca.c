#include "host/pca.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/linalg.h"

void pca_fit_transform(double *out, double *explained, const double *x, size_t N, size_t P, size_t K) {
    ASSERT(K >= 1 && K <= N && K <= P);
    double *xc = base_malloc(base_mul(N, P) * sizeof(double), "pca centred data");
    for (size_t p = 0; p < P; p++) {
        double m = 0;
        for (size_t i = 0; i < N; i++) m += x[i * P + p];
        m /= (double)N;
        for (size_t i = 0; i < N; i++) xc[i * P + p] = x[i * P + p] - m;
    }
    size_t M = P <= N ? P : N;
    double *a = base_malloc(base_mul(M, M) * sizeof(double), "pca eigenproblem");
    double *w = base_malloc(M * sizeof(double), "pca eigenvalues");
    if (P <= N) {
        // covariance route: scores = xc V_K
        linalg_gram(a, xc, N, P);
        linalg_eigh(a, w, P);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)K, (int)P, 1.0, xc, (int)P, a, (int)P, 0.0,
                    out, (int)K);
    } else {
        // Gram route: xc xc^T = U L U^T, scores = U_K sqrt(L_K)
        linalg_kernel(a, xc, N, P);
        linalg_eigh(a, w, N);
        for (size_t i = 0; i < N; i++)
            for (size_t k = 0; k < K; k++) out[i * K + k] = a[i * N + k] * sqrt(w[k] > 0 ? w[k] : 0);
    }
    linalg_fix_column_signs(out, N, K);
    if (explained) {
        double total = 0;
        for (size_t i = 0; i < M; i++) total += w[i] > 0 ? w[i] : 0;
        for (size_t k = 0; k < K; k++) explained[k] = total > 0 ? (w[k] > 0 ? w[k] : 0) / total : 0;
    }
    free(w);
    free(a);
    free(xc);
}
