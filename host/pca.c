#include "host/pca.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/linalg.h"

// q (m, l) in place: orthonormal columns spanning the same space (thin QR)
static void orthonormalise(double *q, size_t m, size_t l) {
    double *tau = base_malloc(l * sizeof(double), "qr");
    lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)l, q, (lapack_int)l, tau);
    if (info == 0) info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)l, (lapack_int)l, q, (lapack_int)l, tau);
    if (info != 0) DIE("the features hold NaN or Inf", "QR failed (info %d) on a %zux%zu matrix", (int)info, m, l);
    free(tau);
}

static double gaussian(uint64_t *s) {  // xorshift64* and Box-Muller
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
        u[i] = (double)((*s * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

// components (P, K) and variances w (K) of the centred rows xc (n, P) by randomized SVD
static void randomized(double *comp, double *w, const double *xc, size_t n, size_t P, size_t K, uint64_t seed) {
    size_t l = K + 10 < (n < P ? n : P) ? K + 10 : (n < P ? n : P);
    double *omega = base_malloc(base_mul(P, l) * sizeof(double), "pca sketch");
    double *Y = base_malloc(base_mul(n, l) * sizeof(double), "pca sketch");
    double *Z = base_malloc(base_mul(P, l) * sizeof(double), "pca sketch");
    uint64_t s = seed ? seed : 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < P * l; i++) omega[i] = gaussian(&s);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)l, (int)P, 1.0, xc, (int)P, omega, (int)l, 0.0,
                Y, (int)l);
    orthonormalise(Y, n, l);
    for (int it = 0; it < 4; it++) {  // power iterations sharpen the spectrum's gap
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)l, (int)n, 1.0, xc, (int)P, Y, (int)l, 0.0, Z,
                    (int)l);
        orthonormalise(Z, P, l);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)l, (int)P, 1.0, xc, (int)P, Z, (int)l, 0.0,
                    Y, (int)l);
        orthonormalise(Y, n, l);
    }
    // B = Q^T xc (l, P) = Ub S Vb^T; the components are Vb's first K rows
    double *B = base_malloc(base_mul(l, P) * sizeof(double), "pca projection");
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l, (int)P, (int)n, 1.0, Y, (int)l, xc, (int)P, 0.0, B,
                (int)P);
    double *sv = base_malloc(l * sizeof(double), "pca"), *vt = base_malloc(base_mul(l, P) * sizeof(double), "pca");
    double *superb = base_malloc(l * sizeof(double), "pca");
    lapack_int info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'S', (lapack_int)l, (lapack_int)P, B, (lapack_int)P, sv,
                                     NULL, 1, vt, (lapack_int)P, superb);
    if (info != 0) DIE("the features hold NaN or Inf", "SVD failed (info %d) on a %zux%zu matrix", (int)info, l, P);
    for (size_t k = 0; k < K; k++) {
        w[k] = sv[k] * sv[k];
        for (size_t p = 0; p < P; p++) comp[p * K + k] = vt[k * P + p];
    }
    free(omega), free(Y), free(Z), free(B), free(sv), free(vt), free(superb);
}

static void pca_init(Pca *pca, size_t P, size_t K) {
    memset(pca, 0, sizeof *pca);
    pca->P = P, pca->K = K;
    pca->mean = base_calloc(P, sizeof(double), "pca mean");
    pca->components = base_malloc(base_mul(P, K) * sizeof(double), "pca components");
    pca->explained = base_malloc(K * sizeof(double), "pca variance");
}

// components k = xc^T u_k / sqrt(w_k) from the K leading eigenpairs of the centred kernel a (n, n) (destroyed) of the
// centred rows xc (n, P)
static void from_kernel(Pca *pca, double *a, const double *xc, size_t n, double *w) {
    const size_t P = pca->P, K = pca->K;
    double *u = base_malloc(base_mul(n, K) * sizeof(double), "pca Gram");
    linalg_eigh_top(a, w, u, n, K);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++) u[i * K + k] /= sqrt(w[k] > 0 ? w[k] : 1.0);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)K, (int)n, 1.0, xc, (int)P, u, (int)K, 0.0,
                pca->components, (int)K);
    free(u);
}

static void finish(Pca *pca, const double *w, double total) {
    linalg_fix_column_signs(pca->components, pca->P, pca->K);
    for (size_t k = 0; k < pca->K; k++) pca->explained[k] = total > 0 ? (w[k] > 0 ? w[k] : 0) / total : 0;
}

// (n, P): the rows (NULL: the first n) of x minus their mean, written to mean (P); total: their sum of squares
static double *centred_rows(const double *x, size_t P, const size_t *rows, size_t n, double *mean, double *total) {
    double *xc = base_malloc(base_mul(n, P) * sizeof(double), "pca centred rows");
    for (size_t i = 0; i < n; i++) memcpy(xc + i * P, x + (rows ? rows[i] : i) * P, P * sizeof(double));
    memset(mean, 0, P * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < P; p++) mean[p] += xc[i * P + p];
    for (size_t p = 0; p < P; p++) mean[p] /= (double)n;
    *total = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < P; p++) {
            double v = xc[i * P + p] -= mean[p];
            *total += v * v;
        }
    return xc;
}

void pca_fit(Pca *pca, const double *x, size_t N, size_t P, const size_t *rows, size_t n_rows, size_t K,
             PcaMethod method, uint64_t seed) {
    size_t n = rows ? n_rows : N;
    ASSERT(K >= 1 && K <= n && K <= P);
    pca_init(pca, P, K);
    double total;
    double *xc = centred_rows(x, P, rows, n, pca->mean, &total);
    double *w = base_malloc((P > n ? P : n) * sizeof(double), "pca variances");
    if (method == PCA_RANDOMIZED) {
        randomized(pca->components, w, xc, n, P, K, seed);
    } else if (P <= n) {
        double *a = base_malloc(base_mul(P, P) * sizeof(double), "pca covariance");
        linalg_gram(a, xc, n, P);
        linalg_eigh_top(a, w, pca->components, P, K);
        free(a);
    } else {  // Gram route: xc xc^T = U L U^T
        double *a = base_malloc(base_mul(n, n) * sizeof(double), "pca Gram");
        linalg_kernel(a, xc, n, P);
        from_kernel(pca, a, xc, n, w);
        free(a);
    }
    finish(pca, w, total);
    free(w), free(xc);
}

void pca_fit_folds(Pca *pca, const double *x, size_t N, size_t P, const uint8_t *in, size_t F, size_t K,
                   PcaMethod method, uint64_t seed) {
    size_t *n = base_calloc(F, sizeof(size_t), "fold sizes"), *rows = base_malloc(N * sizeof(size_t), "rows");
    int need_cov = 0, need_ker = 0;
    for (size_t f = 0; f < F; f++) {
        for (size_t i = 0; i < N; i++) n[f] += in[f * N + i] != 0;
        if (P <= n[f]) need_cov = 1;
        else need_ker = 1;
    }
    if (method == PCA_RANDOMIZED || (need_ker && N > 20000)) {  // nothing to share, or an (N, N) kernel too large
        for (size_t f = 0; f < F; f++) {
            size_t m = 0;
            for (size_t i = 0; i < N; i++)
                if (in[f * N + i]) rows[m++] = i;
            pca_fit(&pca[f], x, N, P, rows, m, K, method, seed + f);
        }
        free(n), free(rows);
        return;
    }
    // every row centred on the mean of all rows; the Gram (P, P) and/or kernel (N, N) of them, once
    double *mean = base_malloc(P * sizeof(double), "pca mean"), unused;
    double *xg = centred_rows(x, P, NULL, N, mean, &unused);
    double *G = NULL, *Kall = NULL;
    if (need_cov) G = base_malloc(base_mul(P, P) * sizeof(double), "pca covariance"), linalg_gram(G, xg, N, P);
    if (need_ker) Kall = base_malloc(base_mul(N, N) * sizeof(double), "pca kernel"), linalg_kernel(Kall, xg, N, P);
    double *mu = base_malloc(P * sizeof(double), "fold mean"), *w = base_malloc((P > N ? P : N) * sizeof(double), "pca");
    for (size_t f = 0; f < F; f++) {
        const size_t nf = n[f];
        ASSERT(K >= 1 && K <= nf && K <= P);
        pca_init(&pca[f], P, K);
        size_t m = 0;
        for (size_t i = 0; i < N; i++)
            if (in[f * N + i]) rows[m++] = i;
        double total;
        double *xc = centred_rows(xg, P, rows, nf, mu, &total);
        for (size_t p = 0; p < P; p++) pca[f].mean[p] = mean[p] + mu[p];
        if (P <= nf) {
            // the fold's centred covariance: G minus the rows it leaves out, minus nf mu mu^T
            double *a = base_malloc(base_mul(P, P) * sizeof(double), "pca covariance");
            memcpy(a, G, P * P * sizeof(double));
            size_t nout = N - nf;
            if (nout) {
                double *xo = base_malloc(base_mul(nout, P) * sizeof(double), "pca rows left out");
                for (size_t i = 0, o = 0; i < N; i++)
                    if (!in[f * N + i]) memcpy(xo + (o++) * P, xg + i * P, P * sizeof(double));
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)P, (int)nout, -1.0, xo, (int)P, 1.0, a, (int)P);
                free(xo);
            }
            cblas_dsyr(CblasRowMajor, CblasUpper, (int)P, -(double)nf, mu, 1, a, (int)P);
            for (size_t i = 0; i < P; i++)
                for (size_t j = 0; j < i; j++) a[i * P + j] = a[j * P + i];
            linalg_eigh_top(a, w, pca[f].components, P, K);
            free(a);
        } else {
            // the fold's block of the kernel, centred: k_ij - r_i - r_j + r, r_i the row means over the fold
            double *a = base_malloc(base_mul(nf, nf) * sizeof(double), "pca Gram"), *r = base_calloc(nf, sizeof(double), "pca");
            double rr = 0;
            for (size_t i = 0; i < nf; i++) {
                for (size_t j = 0; j < nf; j++) r[i] += a[i * nf + j] = Kall[rows[i] * N + rows[j]];
                r[i] /= (double)nf;
                rr += r[i] / (double)nf;
            }
            for (size_t i = 0; i < nf; i++)
                for (size_t j = 0; j < nf; j++) a[i * nf + j] += rr - r[i] - r[j];
            from_kernel(&pca[f], a, xc, nf, w);
            free(a), free(r);
        }
        finish(&pca[f], w, total);
        free(xc);
    }
    free(n), free(rows), free(mean), free(xg), free(G), free(Kall), free(mu), free(w);
}

void pca_transform(const Pca *pca, const double *x, size_t N, double *out) {
    const size_t P = pca->P, K = pca->K;
    double *xc = base_malloc(base_mul(N, P) * sizeof(double), "pca rows");
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < P; p++) xc[i * P + p] = x[i * P + p] - pca->mean[p];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)K, (int)P, 1.0, xc, (int)P, pca->components,
                (int)K, 0.0, out, (int)K);
    free(xc);
}

void pca_free(Pca *pca) {
    free(pca->mean), free(pca->components), free(pca->explained);
    memset(pca, 0, sizeof *pca);
}
