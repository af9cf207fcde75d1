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

// The buffers of fits on up to n rows, allocated once from the table (and their host copies once from the host):
// a loop over folds reuses them.
typedef struct {
    const LinalgOps *la;
    double *xc, *w, *a, *u;               // (n, P) centred rows, (max(n, P)) variances, the covariance or Gram, (n, K)
    double *mean, *total, *comp;          // (P) the rows' mean, (1) their sum of squares, (P, K) components
    double *omega, *Y, *Z, *B, *sv, *vt;  // randomized: (P, l), (n, l), (P, l), (l, P), (l), (l, P)
    // host
    double *w_h, *f_h;                    // (max(n, P)) variances, (K) their square roots
    double *omega_h, *sv_h, *vt_h;        // randomized: (P, l), (l), (l, P)
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
    pw->mean = la->alloc(P * sizeof(double), "pca mean");
    pw->total = la->alloc(sizeof(double), "pca total variance");
    pw->comp = la->alloc(base_mul(P, K) * sizeof(double), "pca components");
    pw->w_h = base_malloc((P > n ? P : n) * sizeof(double), "pca variances");
    pw->f_h = base_malloc(K * sizeof(double), "pca variances");
    if (method == PCA_RANDOMIZED) {
        const size_t l = sketch(n, P, K), Pl = base_mul(P, l);
        pw->omega = la->alloc(Pl * sizeof(double), "pca sketch");
        pw->Y = la->alloc(base_mul(n, l) * sizeof(double), "pca sketch");
        pw->Z = la->alloc(Pl * sizeof(double), "pca sketch");
        pw->B = la->alloc(Pl * sizeof(double), "pca projection");
        pw->sv = la->alloc(l * sizeof(double), "pca singular values");
        pw->vt = la->alloc(Pl * sizeof(double), "pca singular vectors");
        pw->omega_h = base_malloc(Pl * sizeof(double), "pca sketch");
        pw->sv_h = base_malloc(l * sizeof(double), "pca singular values");
        pw->vt_h = base_malloc(Pl * sizeof(double), "pca singular vectors");
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
    la->free(pw->mean), la->free(pw->total), la->free(pw->comp);
    free(pw->w_h), free(pw->f_h), free(pw->omega_h), free(pw->sv_h), free(pw->vt_h);
}

// components (P, K, backend) and variances w (K, host) of the centred rows xc (n, P) by randomized SVD
static void randomized(double *comp, double *w, const double *xc, size_t n, size_t P, size_t K, uint64_t seed,
                       const PcaWork *pw) {
    const LinalgOps *la = pw->la;
    const size_t l = sketch(n, P, K);
    double *omega = pw->omega, *Y = pw->Y, *Z = pw->Z, *B = pw->B, *sv = pw->sv, *vt = pw->vt;
    uint64_t s = seed ? seed : 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < P * l; i++) pw->omega_h[i] = gaussian(&s);
    la->upload(omega, pw->omega_h, P * l * sizeof(double));
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
    // the first K rows of vt, transposed, on the host (comp_h: the caller's components, filled again at finish)
    double *sv_h = pw->sv_h, *vt_h = pw->vt_h, *comp_h = pw->omega_h;  // omega_h (P, l) holds (P, K)
    la->download(sv_h, sv, l * sizeof(double));
    la->download(vt_h, vt, K * P * sizeof(double));
    for (size_t k = 0; k < K; k++) {
        w[k] = sv_h[k] * sv_h[k];
        for (size_t p = 0; p < P; p++) comp_h[p * K + k] = vt_h[k * P + p];
    }
    la->upload(comp, comp_h, base_mul(P, K) * sizeof(double));
}

static void pca_init(Pca *pca, size_t P, size_t K) {
    memset(pca, 0, sizeof *pca);
    pca->P = P, pca->K = K;
    pca->mean = base_calloc(P, sizeof(double), "pca mean");
    pca->components = base_malloc(base_mul(P, K) * sizeof(double), "pca components");
    pca->explained = base_malloc(K * sizeof(double), "pca variance");
}

// components k = xc^T u_k / sqrt(w_k) (pw->comp) from the K leading eigenpairs of the centred kernel a (n, n)
// (destroyed) of the centred rows xc (n, P); w (K) the eigenvalues, downloaded into w_h
static void from_kernel(double *a, const double *xc, size_t n, size_t P, size_t K, const PcaWork *pw) {
    const LinalgOps *la = pw->la;
    la->eigh_top(a, pw->w, pw->u, n, K);
    la->download(pw->w_h, pw->w, K * sizeof(double));
    for (size_t k = 0; k < K; k++) pw->f_h[k] = sqrt(pw->w_h[k] > 0 ? pw->w_h[k] : 1.0);
    la->upload(pw->w, pw->f_h, K * sizeof(double));  // w is free again: the divisors
    la->div_cols(pw->u, n, K, pw->w);
    la->dgemm(LINALG_T, LINALG_N, P, K, n, 1.0, xc, P, pw->u, K, 0.0, pw->comp, K);
}

// the components' signs fixed on the backend, then copied into the fit; explained variance from w (host)
static void finish(Pca *pca, const double *w, double total, const PcaWork *pw) {
    const LinalgOps *la = pw->la;
    la->fix_column_signs(pw->comp, pca->P, pca->K);
    la->download(pca->components, pw->comp, base_mul(pca->P, pca->K) * sizeof(double));
    for (size_t k = 0; k < pca->K; k++) pca->explained[k] = total > 0 ? (w[k] > 0 ? w[k] : 0) / total : 0;
}

// xc (n, P, backend): the rows (NULL: the first n) of x (host memory; x_backend: the backend's, rows given) minus
// their mean, which is left in pw->mean and copied to mean (P, host); total: their sum of squares
static void centred_rows(double *xc, const double *x, int x_backend, size_t P, const size_t *rows, size_t n,
                         double *mean, double *total, const PcaWork *pw) {
    const LinalgOps *la = pw->la;
    if (x_backend) {
        ASSERT(rows);
        la->gather_rows(xc, x, P * sizeof(double), rows, n, P * sizeof(double));
    } else if (rows) {
        for (size_t i = 0; i < n; i++) la->upload(xc + i * P, x + rows[i] * P, P * sizeof(double));
    } else {
        la->upload(xc, x, base_mul(n, P) * sizeof(double));
    }
    la->dcentre(xc, n, P, pw->mean, pw->total);
    la->download(mean, pw->mean, P * sizeof(double));
    la->download(total, pw->total, sizeof(double));
}

// one fit on the rows (n; NULL: the first n) of x, in pw's buffers
static void fit_one(Pca *pca, const double *x, size_t P, const size_t *rows, size_t n, size_t K, PcaMethod method,
                    uint64_t seed, const PcaWork *pw) {
    const LinalgOps *la = pw->la;
    ASSERT(K >= 1 && K <= n && K <= P);
    pca_init(pca, P, K);
    double total, *xc = pw->xc;
    centred_rows(xc, x, 0, P, rows, n, pca->mean, &total, pw);
    if (method == PCA_RANDOMIZED) {
        randomized(pw->comp, pw->w_h, xc, n, P, K, seed, pw);
    } else if (P <= n) {
        la->dsyrk(LINALG_T, P, n, 1.0, xc, P, 0.0, pw->a, P);
        la->eigh_top(pw->a, pw->w, pw->comp, P, K);
        la->download(pw->w_h, pw->w, K * sizeof(double));
    } else {  // Gram route: xc xc^T = U L U^T
        la->dsyrk(LINALG_N, n, P, 1.0, xc, P, 0.0, pw->a, n);
        from_kernel(pw->a, xc, n, P, K, pw);
    }
    finish(pca, pw->w_h, total, pw);
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
    PcaWork pw;  // a fold's rows, covariance or Gram block, variances
    work_init(&pw, N, P, K, PCA_EIGH, la);
    double *mean = base_malloc(P * sizeof(double), "pca mean"), unused;
    double *xg = la->alloc(NP * sizeof(double), "pca centred rows");
    centred_rows(xg, x, 0, P, NULL, N, mean, &unused, &pw);
    double *G = need_cov ? la->alloc(PP * sizeof(double), "pca covariance") : NULL;
    double *Kall = need_ker ? la->alloc(NN * sizeof(double), "pca kernel") : NULL;
    if (G) la->dsyrk(LINALG_T, P, N, 1.0, xg, P, 0.0, G, P);
    if (Kall) la->dsyrk(LINALG_N, N, P, 1.0, xg, P, 0.0, Kall, N);
    double *xc = pw.xc, *a = pw.a, *mu = base_malloc(P * sizeof(double), "fold mean");
    double *xo = need_cov ? la->alloc(NP * sizeof(double), "pca rows left out") : NULL;
    double *r = need_ker ? la->alloc(N * sizeof(double), "pca") : NULL;
    double *r_h = need_ker ? base_malloc(N * sizeof(double), "pca") : NULL;
    size_t *out_rows = need_cov ? base_malloc(N * sizeof(size_t), "rows left out") : NULL;
    for (size_t f = 0; f < F; f++) {
        const size_t nf = n[f];
        ASSERT(K >= 1 && K <= nf && K <= P);
        pca_init(&pca[f], P, K);
        size_t m = 0;
        for (size_t i = 0; i < N; i++)
            if (in[f * N + i]) rows[m++] = i;
        double total;
        centred_rows(xc, xg, 1, P, rows, nf, mu, &total, &pw);  // the fold's mean stays in pw.mean for dsyr
        for (size_t p = 0; p < P; p++) pca[f].mean[p] = mean[p] + mu[p];
        if (P <= nf) {
            // the fold's centred covariance: G minus the rows it leaves out, minus nf mu mu^T
            la->copy(a, G, PP * sizeof(double));
            size_t nout = N - nf;
            if (nout) {
                for (size_t i = 0, o = 0; i < N; i++)
                    if (!in[f * N + i]) out_rows[o++] = i;
                la->gather_rows(xo, xg, P * sizeof(double), out_rows, nout, P * sizeof(double));
                la->dsyrk(LINALG_T, P, nout, -1.0, xo, P, 1.0, a, P);
            }
            la->dsyr(P, -(double)nf, pw.mean, a, P);
            la->eigh_top(a, pw.w, pw.comp, P, K);
            la->download(pw.w_h, pw.w, K * sizeof(double));
        } else {
            // the fold's block of the kernel, centred: k_ij - r_i - r_j + r, r_i the row means over the fold
            la->gather_block(a, Kall, N, rows, nf);
            la->row_means(r, a, nf, nf);
            la->download(r_h, r, nf * sizeof(double));
            double rr = 0;
            for (size_t i = 0; i < nf; i++) rr += r_h[i] / (double)nf;
            la->kernel_centre(a, nf, r, rr);
            from_kernel(a, xc, nf, P, K, &pw);
        }
        finish(&pca[f], pw.w_h, total, &pw);
    }
    work_free(&pw);
    la->free(xg), la->free(G), la->free(Kall), la->free(xo), la->free(r);
    free(n), free(rows), free(mean), free(mu), free(r_h), free(out_rows);
}

void pca_transform(const Pca *pca, const double *x, size_t N, double *out, const LinalgOps *la) {
    const size_t P = pca->P, K = pca->K;
    double *xc = la->alloc(base_mul(N, P) * sizeof(double), "pca rows");
    double *mean = la->alloc(P * sizeof(double), "pca mean"), *comp = la->alloc(base_mul(P, K) * sizeof(double), "pca");
    double *o = la->alloc(base_mul(N, K) * sizeof(double), "pca projection");
    la->upload(xc, x, base_mul(N, P) * sizeof(double));
    la->upload(mean, pca->mean, P * sizeof(double));
    la->upload(comp, pca->components, base_mul(P, K) * sizeof(double));
    la->sub_scale(xc, N, P, mean, NULL);
    la->dgemm(LINALG_N, LINALG_N, N, K, P, 1.0, xc, P, comp, K, 0.0, o, K);
    la->download(out, o, base_mul(N, K) * sizeof(double));
    la->free(xc), la->free(mean), la->free(comp), la->free(o);
}

void pca_free(Pca *pca) {
    free(pca->mean), free(pca->components), free(pca->explained);
    memset(pca, 0, sizeof *pca);
}
