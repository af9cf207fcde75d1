#include "host/pca.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/linalg.h"

static double gaussian(uint64_t *s) {  // xorshift64* and Box-Muller
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
        u[i] = (double)((*s * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

// The buffers of fits on up to n rows, allocated once from the table: a loop over folds reuses them.
typedef struct {
    const LinalgOps *la;
    double *xc, *w, *a, *u;               // (n, P) centred rows, (max(n, P)) variances, the covariance or Gram, (n, K)
    double *omega, *Y, *Z, *B, *sv, *vt;  // randomized: (P, l), (n, l), (P, l), (l, P), (l), (l, P)
} PcaWork;

// oversampled sketch width of a randomized fit on n rows
static size_t sketch(size_t n, size_t P, size_t K) {
    size_t m = n < P ? n : P;
    return K + 10 < m ? K + 10 : m;
}

static void work_init(PcaWork *pw, size_t n, size_t P, size_t K, PcaMethod method, const LinalgOps *la) {
    memset(pw, 0, sizeof *pw);
    pw->la = la;
    pw->xc = la->alloc(base_mul(n, P) * sizeof(double), "pca centred rows");
    pw->w = la->alloc((P > n ? P : n) * sizeof(double), "pca variances");
    if (method == PCA_RANDOMIZED) {
        const size_t l = sketch(n, P, K), Pl = base_mul(P, l);
        pw->omega = la->alloc(Pl * sizeof(double), "pca sketch");
        pw->Y = la->alloc(base_mul(n, l) * sizeof(double), "pca sketch");
        pw->Z = la->alloc(Pl * sizeof(double), "pca sketch");
        pw->B = la->alloc(Pl * sizeof(double), "pca projection");
        pw->sv = la->alloc(l * sizeof(double), "pca singular values");
        pw->vt = la->alloc(Pl * sizeof(double), "pca singular vectors");
    } else {
        const size_t m = P < n ? P : n;  // the covariance (P <= rows) or the Gram (rows < P) of any fit on <= n rows
        pw->a = la->alloc(base_mul(m, m) * sizeof(double), "pca covariance");
        pw->u = la->alloc(base_mul(n, K) * sizeof(double), "pca Gram vectors");
    }
}

static void work_free(PcaWork *pw) {
    const LinalgOps *la = pw->la;
    la->free(pw->xc), la->free(pw->w), la->free(pw->a), la->free(pw->u), la->free(pw->omega), la->free(pw->Y);
    la->free(pw->Z), la->free(pw->B), la->free(pw->sv), la->free(pw->vt);
}

// components (P, K) and variances w (K) of the centred rows xc (n, P) by randomized SVD
static void randomized(double *comp, double *w, const double *xc, size_t n, size_t P, size_t K, uint64_t seed,
                       const PcaWork *pw) {
    const LinalgOps *la = pw->la;
    const size_t l = sketch(n, P, K);
    double *omega = pw->omega, *Y = pw->Y, *Z = pw->Z, *B = pw->B, *sv = pw->sv, *vt = pw->vt;
    uint64_t s = seed ? seed : 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < P * l; i++) omega[i] = gaussian(&s);
    la->dgemm(LINALG_N, LINALG_N, n, l, P, 1.0, xc, P, omega, l, 0.0, Y, l);
    la->orthonormalise(Y, n, l);
    for (int it = 0; it < 4; it++) {  // power iterations sharpen the spectrum's gap
        la->dgemm(LINALG_T, LINALG_N, P, l, n, 1.0, xc, P, Y, l, 0.0, Z, l);
        la->orthonormalise(Z, P, l);
        la->dgemm(LINALG_N, LINALG_N, n, l, P, 1.0, xc, P, Z, l, 0.0, Y, l);
        la->orthonormalise(Y, n, l);
    }
    // B = Q^T xc (l, P) = Ub S Vb^T; the components are Vb's first K rows
    la->dgemm(LINALG_T, LINALG_N, l, P, n, 1.0, Y, l, xc, P, 0.0, B, P);
    la->svd_right(B, sv, vt, l, P);
    for (size_t k = 0; k < K; k++) {
        w[k] = sv[k] * sv[k];
        for (size_t p = 0; p < P; p++) comp[p * K + k] = vt[k * P + p];
    }
}

static void pca_init(Pca *pca, size_t P, size_t K) {
    memset(pca, 0, sizeof *pca);
    pca->P = P, pca->K = K;
    pca->mean = base_calloc(P, sizeof(double), "pca mean");
    pca->components = base_malloc(base_mul(P, K) * sizeof(double), "pca components");
    pca->explained = base_malloc(K * sizeof(double), "pca variance");
}

// components k = xc^T u_k / sqrt(w_k) from the K leading eigenpairs of the centred kernel a (n, n) (destroyed) of the
// centred rows xc (n, P); u (n, K) scratch
static void from_kernel(Pca *pca, double *a, const double *xc, size_t n, double *w, double *u, const LinalgOps *la) {
    const size_t P = pca->P, K = pca->K;
    la->eigh_top(a, w, u, n, K);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++) u[i * K + k] /= sqrt(w[k] > 0 ? w[k] : 1.0);
    la->dgemm(LINALG_T, LINALG_N, P, K, n, 1.0, xc, P, u, K, 0.0, pca->components, K);
}

static void finish(Pca *pca, const double *w, double total, const LinalgOps *la) {
    la->fix_column_signs(pca->components, pca->P, pca->K);
    for (size_t k = 0; k < pca->K; k++) pca->explained[k] = total > 0 ? (w[k] > 0 ? w[k] : 0) / total : 0;
}

// xc (n, P): the rows (NULL: the first n) of x minus their mean, written to mean (P); total: their sum of squares
static void centred_rows(double *xc, const double *x, size_t P, const size_t *rows, size_t n, double *mean,
                         double *total) {
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
}

// one fit on the rows (n; NULL: the first n) of x, in pw's buffers
static void fit_one(Pca *pca, const double *x, size_t P, const size_t *rows, size_t n, size_t K, PcaMethod method,
                    uint64_t seed, const PcaWork *pw) {
    const LinalgOps *la = pw->la;
    ASSERT(K >= 1 && K <= n && K <= P);
    pca_init(pca, P, K);
    double total, *xc = pw->xc, *w = pw->w;
    centred_rows(xc, x, P, rows, n, pca->mean, &total);
    if (method == PCA_RANDOMIZED) {
        randomized(pca->components, w, xc, n, P, K, seed, pw);
    } else if (P <= n) {
        la->dsyrk(LINALG_T, P, n, 1.0, xc, P, 0.0, pw->a, P);
        la->eigh_top(pw->a, w, pca->components, P, K);
    } else {  // Gram route: xc xc^T = U L U^T
        la->dsyrk(LINALG_N, n, P, 1.0, xc, P, 0.0, pw->a, n);
        from_kernel(pca, pw->a, xc, n, w, pw->u, la);
    }
    finish(pca, w, total, la);
}

void pca_fit(Pca *pca, const double *x, size_t N, size_t P, const size_t *rows, size_t n_rows, size_t K,
             PcaMethod method, uint64_t seed, const LinalgOps *la) {
    size_t n = rows ? n_rows : N;
    PcaWork pw;
    work_init(&pw, n, P, K, method, la);
    fit_one(pca, x, P, rows, n, K, method, seed, &pw);
    work_free(&pw);
}

void pca_fit_folds(Pca *pca, const double *x, size_t N, size_t P, const uint8_t *in, size_t F, size_t K,
                   PcaMethod method, uint64_t seed, const LinalgOps *la) {
    size_t *n = base_calloc(F, sizeof(size_t), "fold sizes"), *rows = base_malloc(N * sizeof(size_t), "rows");
    int need_cov = 0, need_ker = 0;
    for (size_t f = 0; f < F; f++) {
        for (size_t i = 0; i < N; i++) n[f] += in[f * N + i] != 0;
        if (P <= n[f]) need_cov = 1;
        else need_ker = 1;
    }
    if (method == PCA_RANDOMIZED || (need_ker && N > 20000)) {  // nothing to share, or an (N, N) kernel too large
        size_t most = 0;
        for (size_t f = 0; f < F; f++) most = n[f] > most ? n[f] : most;
        PcaWork pw;
        work_init(&pw, most, P, K, method, la);
        for (size_t f = 0; f < F; f++) {
            size_t m = 0;
            for (size_t i = 0; i < N; i++)
                if (in[f * N + i]) rows[m++] = i;
            fit_one(&pca[f], x, P, rows, m, K, method, seed + f, &pw);
        }
        work_free(&pw);
        free(n), free(rows);
        return;
    }
    // every row centred on the mean of all rows; the Gram (P, P) and/or kernel (N, N) of them, once; the folds'
    // buffers once, for the largest of them
    const size_t NP = base_mul(N, P), NN = base_mul(N, N), PP = base_mul(P, P);
    double *mean = base_malloc(P * sizeof(double), "pca mean"), unused;
    double *xg = base_malloc(NP * sizeof(double), "pca centred rows");
    centred_rows(xg, x, P, NULL, N, mean, &unused);
    double *G = need_cov ? base_malloc(PP * sizeof(double), "pca covariance") : NULL;
    double *Kall = need_ker ? base_malloc(NN * sizeof(double), "pca kernel") : NULL;
    if (G) la->dsyrk(LINALG_T, P, N, 1.0, xg, P, 0.0, G, P);
    if (Kall) la->dsyrk(LINALG_N, N, P, 1.0, xg, P, 0.0, Kall, N);
    PcaWork pw;  // a fold's rows, covariance or Gram block, variances
    work_init(&pw, N, P, K, PCA_EIGH, la);
    double *xc = pw.xc, *w = pw.w, *a = pw.a, *mu = base_malloc(P * sizeof(double), "fold mean");
    double *xo = need_cov ? base_malloc(NP * sizeof(double), "pca rows left out") : NULL;
    double *r = need_ker ? base_malloc(N * sizeof(double), "pca") : NULL;
    for (size_t f = 0; f < F; f++) {
        const size_t nf = n[f];
        ASSERT(K >= 1 && K <= nf && K <= P);
        pca_init(&pca[f], P, K);
        size_t m = 0;
        for (size_t i = 0; i < N; i++)
            if (in[f * N + i]) rows[m++] = i;
        double total;
        centred_rows(xc, xg, P, rows, nf, mu, &total);
        for (size_t p = 0; p < P; p++) pca[f].mean[p] = mean[p] + mu[p];
        if (P <= nf) {
            // the fold's centred covariance: G minus the rows it leaves out, minus nf mu mu^T
            la->copy(a, G, PP * sizeof(double));
            size_t nout = N - nf;
            if (nout) {
                for (size_t i = 0, o = 0; i < N; i++)
                    if (!in[f * N + i]) memcpy(xo + (o++) * P, xg + i * P, P * sizeof(double));
                la->dsyrk(LINALG_T, P, nout, -1.0, xo, P, 1.0, a, P);
            }
            la->dsyr(P, -(double)nf, mu, a, P);
            la->eigh_top(a, w, pca[f].components, P, K);
        } else {
            // the fold's block of the kernel, centred: k_ij - r_i - r_j + r, r_i the row means over the fold
            memset(r, 0, nf * sizeof(double));
            double rr = 0;
            for (size_t i = 0; i < nf; i++) {
                for (size_t j = 0; j < nf; j++) r[i] += a[i * nf + j] = Kall[rows[i] * N + rows[j]];
                r[i] /= (double)nf;
                rr += r[i] / (double)nf;
            }
            for (size_t i = 0; i < nf; i++)
                for (size_t j = 0; j < nf; j++) a[i * nf + j] += rr - r[i] - r[j];
            from_kernel(&pca[f], a, xc, nf, w, pw.u, la);
        }
        finish(&pca[f], w, total, la);
    }
    work_free(&pw);
    free(n), free(rows), free(mean), free(xg), free(G), free(Kall), free(mu), free(xo), free(r);
}

void pca_transform(const Pca *pca, const double *x, size_t N, double *out, const LinalgOps *la) {
    const size_t P = pca->P, K = pca->K;
    double *xc = base_malloc(base_mul(N, P) * sizeof(double), "pca rows");
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < P; p++) xc[i * P + p] = x[i * P + p] - pca->mean[p];
    la->dgemm(LINALG_N, LINALG_N, N, K, P, 1.0, xc, P, pca->components, K, 0.0, out, K);
    free(xc);
}

void pca_free(Pca *pca) {
    free(pca->mean), free(pca->components), free(pca->explained);
    memset(pca, 0, sizeof *pca);
}
