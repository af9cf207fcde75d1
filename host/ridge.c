#include "host/ridge.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/linalg.h"
#include "host/threads.h"

void ridge_logspace(double *alphas, double lo, double hi, size_t n) {
    for (size_t i = 0; i < n; i++) alphas[i] = pow(10.0, n == 1 ? lo : lo + (hi - lo) * (double)i / (double)(n - 1));
}

// ----------------------------------------------------------------------------
// targets

int ridge_targets_init(RidgeTargets *rt, const float *Y, size_t N, size_t T, const CvPlan *cv, char *err) {
    memset(rt, 0, sizeof *rt);
    if (cv->n != N) return base_errf(err, "targets have %zu samples but the folds were planned for %zu", N, cv->n);
    if (T == 0) return base_errf(err, "no targets");
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++)
            if (!isfinite(Y[i * T + t]))
                return base_errf(err, "target %zu is %s at sample %zu", t + 1, isnan(Y[i * T + t]) ? "NaN" : "infinite",
                                 i + 1);
    rt->Y = Y, rt->N = N, rt->T = T, rt->cv = cv;
    rt->seg_sum = base_calloc(base_mul(cv->n_seg, T), sizeof(double), "target sums");
    rt->seg_sumsq = base_calloc(base_mul(cv->n_seg, T), sizeof(double), "target sums");
    rt->constant = base_malloc(T, "constant targets");
    memset(rt->constant, 1, T);
    for (size_t s = 0; s < cv->n_seg; s++)
        for (size_t i = cv->seg_start[s]; i < cv->seg_start[s + 1]; i++)
            for (size_t t = 0; t < T; t++) {
                double y = Y[i * T + t];
                rt->seg_sum[s * T + t] += y;
                rt->seg_sumsq[s * T + t] += y * y;
                if (Y[i * T + t] != Y[t]) rt->constant[t] = 0;
            }
    for (size_t t = 0; t < T; t++) rt->n_constant += rt->constant[t];
    return 0;
}

void ridge_targets_free(RidgeTargets *rt) {
    free(rt->seg_sum);
    free(rt->seg_sumsq);
    free(rt->constant);
    memset(rt, 0, sizeof *rt);
}

// ----------------------------------------------------------------------------
// per feature matrix: centred copies and per-segment statistics

typedef struct {
    size_t N, P, NB;
    float *Xc;      // (N, P) features minus their mean over all samples
    double *Xd;     // (N, P) the same in float64
    double *mean;   // (P) the mean removed
    double *seg_sx; // (n_seg, P) sums of centred features
    double *seg_H;  // (n_seg, P, P) X_s^T X_s, when a primal split needs them
    double *G;      // (NB, N, N) per-band kernels X_b X_b^T, when a dual split needs them
} XStats;

typedef struct {
    const RidgeConfig *cfg;
    const RidgeTargets *Y;
    const CvPlan *cv;
    size_t N, P, T, K, A, NB, NG;
    size_t *band_of;     // (P) band of each feature
    double *gamma;       // (NG, NB) candidates (all ones when none given)
    RidgeStats *stats;
} Ctx;

static double flops_eigh(size_t n) { return 9.0 * (double)n * (double)n * (double)n; }

static void xstats_init(XStats *xs, const Ctx *c, const float *X, int need_primal, int need_dual) {
    const size_t N = c->N, P = c->P;
    memset(xs, 0, sizeof *xs);
    xs->N = N, xs->P = P, xs->NB = c->NB;
    xs->mean = base_calloc(P, sizeof(double), "feature means");
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < P; p++) xs->mean[p] += X[i * P + p];
    for (size_t p = 0; p < P; p++) xs->mean[p] /= (double)N;
    xs->Xd = base_malloc(base_mul(N, P) * sizeof(double), "centred features");
    xs->Xc = base_malloc(base_mul(N, P) * sizeof(float), "centred features");
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < P; p++) {
            xs->Xd[i * P + p] = X[i * P + p] - xs->mean[p];
            xs->Xc[i * P + p] = (float)xs->Xd[i * P + p];
        }
    const CvPlan *cv = c->cv;
    xs->seg_sx = base_calloc(base_mul(cv->n_seg, P), sizeof(double), "segment sums");
    for (size_t s = 0; s < cv->n_seg; s++)
        for (size_t i = cv->seg_start[s]; i < cv->seg_start[s + 1]; i++)
            for (size_t p = 0; p < P; p++) xs->seg_sx[s * P + p] += xs->Xd[i * P + p];
    if (need_primal) {
        xs->seg_H = base_malloc(base_mul(cv->n_seg, base_mul(P, P)) * sizeof(double), "segment Grams");
        for (size_t s = 0; s < cv->n_seg; s++) {
            size_t a = cv->seg_start[s], len = cv->seg_start[s + 1] - a;
            linalg_gram(xs->seg_H + s * P * P, xs->Xd + a * P, len, P);
            c->stats->flops += (double)len * (double)P * (double)P;
        }
    }
    if (need_dual) {
        xs->G = base_malloc(base_mul(c->NB, base_mul(N, N)) * sizeof(double), "kernels");
        for (size_t b = 0, p0 = 0; b < c->NB; b++) {
            size_t w = c->cfg->n_bands > 1 ? c->cfg->band_size[b] : P;
            double *g = xs->G + b * N * N;
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)N, (int)w, 1.0, xs->Xd + p0, (int)P, 0.0, g, (int)N);
            for (size_t i = 0; i < N; i++)
                for (size_t j = 0; j < i; j++) g[i * N + j] = g[j * N + i];
            c->stats->flops += (double)N * (double)N * (double)w;
            p0 += w;
        }
    }
}

static void xstats_free(XStats *xs) {
    free(xs->Xc), free(xs->Xd), free(xs->mean), free(xs->seg_sx), free(xs->seg_H), free(xs->G);
    memset(xs, 0, sizeof *xs);
}

// D (n_seg, P, Tb) = X_s^T Y_s over targets [t0, t0 + Tb): the one pass over Y of a batch
static void segment_products(float *D, const XStats *xs, const Ctx *c, size_t t0, size_t Tb) {
    const CvPlan *cv = c->cv;
    const size_t P = c->P, T = c->T;
    for (size_t s = 0; s < cv->n_seg; s++) {
        size_t a = cv->seg_start[s], len = cv->seg_start[s + 1] - a;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)Tb, (int)len, 1.0f, xs->Xc + a * P, (int)P,
                    c->Y->Y + a * T + t0, (int)T, 0.0f, D + s * P * Tb, (int)Tb);
    }
    c->stats->flops += 2.0 * (double)c->N * (double)P * (double)Tb;
}

// ----------------------------------------------------------------------------
// one split, decomposed: held-out predictions for any alpha are A diag(1/(lam + alpha)) B + ybar

typedef struct {
    uint8_t *tr, *te;  // (n_seg) segment masks; NULL te: no held-out samples (the refit)
    size_t n_tr, n_te;
} Split;

typedef struct {
    int dual, expl;       // dual form; explicit predictions (else sufficient statistics)
    size_t R, n_te, Tb;
    double *lam;          // (R)
    double *V;            // primal (P, R) eigenvectors; dual (n_tr, R)
    double *mu;           // (P) training means of the centred features (primal)
    size_t *rows_tr;      // dual: training samples
    float *B;             // (R, Tb)
    float *A;             // expl: (n_te, R) held-out samples in the eigenbasis
    float *Yte;           // expl: (n_te, Tb) held-out targets
    float *Ht;            // suff: (R, R) V^T H_test V of train-centred held-out features
    double *Hd;           // suff: the same in float64
    double *mt;           // suff: (R) V^T (sum of train-centred held-out features)
    float *Pm;            // suff: (R, Tb) V^T X_test^T y_test, centred
    double *ybar, *sy, *syy;  // (Tb) training mean; held-out sum and sum of squares
} Basis;

static void basis_free(Basis *b) {
    free(b->lam), free(b->V), free(b->mu), free(b->rows_tr), free(b->B), free(b->A), free(b->Yte), free(b->Ht), free(b->Hd);
    free(b->mt), free(b->Pm), free(b->ybar), free(b->sy), free(b->syy);
    memset(b, 0, sizeof *b);
}

static size_t *split_rows(const CvPlan *cv, const uint8_t *mask, size_t n) {
    size_t *rows = base_malloc((n ? n : 1) * sizeof(size_t), "split rows"), k = 0;
    for (size_t s = 0; s < cv->n_seg; s++)
        if (mask[s])
            for (size_t i = cv->seg_start[s]; i < cv->seg_start[s + 1]; i++) rows[k++] = i;
    return rows;
}

static float *to_float(const double *x, size_t n) {
    float *f = base_malloc((n ? n : 1) * sizeof(float), "float copy");
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

// the targets' training mean and held-out sums over [t0, t0 + Tb)
static void basis_target_sums(Basis *b, const Ctx *c, const Split *sp, size_t t0, size_t Tb) {
    const size_t T = c->T;
    b->ybar = base_calloc(Tb, sizeof(double), "target means");
    b->sy = base_calloc(Tb, sizeof(double), "target sums");
    b->syy = base_calloc(Tb, sizeof(double), "target sums");
    for (size_t s = 0; s < c->cv->n_seg; s++) {
        const double *sum = c->Y->seg_sum + s * T + t0, *sq = c->Y->seg_sumsq + s * T + t0;
        for (size_t t = 0; t < Tb; t++) {
            if (sp->tr[s]) b->ybar[t] += sum[t];
            if (sp->te && sp->te[s]) b->sy[t] += sum[t], b->syy[t] += sq[t];
        }
    }
    for (size_t t = 0; t < Tb; t++) b->ybar[t] /= (double)sp->n_tr;
}

static float *gather_targets(const Ctx *c, const size_t *rows, size_t n, size_t t0, size_t Tb) {
    float *y = base_malloc(base_mul(n ? n : 1, Tb) * sizeof(float), "split targets");
    for (size_t i = 0; i < n; i++) memcpy(y + i * Tb, c->Y->Y + rows[i] * c->T + t0, Tb * sizeof(float));
    return y;
}

// out (P, Tb) = S (sum of the masked segments' D - mu ysum^T), ysum = y_scale * y: the split's products of
// centred features and targets, in one pass over D
static void sum_segments(float *out, const float *D, const uint8_t *mask, size_t NS, size_t P, size_t Tb,
                         const double *mu, const double *y, double y_scale, const double *s) {
#pragma omp parallel for if (P * Tb > 65536)
    for (size_t p = 0; p < P; p++) {
        double acc[256];
        for (size_t t0 = 0; t0 < Tb; t0 += 256) {
            size_t m = Tb - t0 < 256 ? Tb - t0 : 256;
            for (size_t j = 0; j < m; j++) acc[j] = 0;
            for (size_t g = 0; g < NS; g++)
                if (mask[g]) {
                    const float *d = D + (g * P + p) * Tb + t0;
                    for (size_t j = 0; j < m; j++) acc[j] += d[j];
                }
            for (size_t j = 0; j < m; j++) out[p * Tb + t0 + j] = (float)((acc[j] - mu[p] * y[t0 + j] * y_scale) * s[p]);
        }
    }
}

// primal: centred training Gram scaled by s, diagonalised; its products with the batch's targets
static void basis_primal(Basis *b, const Ctx *c, const XStats *xs, const Split *sp, const double *s, const float *D,
                         size_t t0, size_t Tb, int explicit_pred) {
    const CvPlan *cv = c->cv;
    const size_t P = c->P, NS = cv->n_seg;
    memset(b, 0, sizeof *b);
    b->R = P, b->n_te = sp->n_te, b->Tb = Tb;
    basis_target_sums(b, c, sp, t0, Tb);
    double *mu = b->mu = base_calloc(P, sizeof(double), "training means");
    double *G = b->V = base_calloc(base_mul(P, P), sizeof(double), "training Gram");
    for (size_t g = 0; g < NS; g++)
        if (sp->tr[g]) {
            const double *H = xs->seg_H + g * P * P, *sx = xs->seg_sx + g * P;
            for (size_t i = 0; i < P * P; i++) G[i] += H[i];
            for (size_t p = 0; p < P; p++) mu[p] += sx[p];
        }
    for (size_t p = 0; p < P; p++) mu[p] /= (double)sp->n_tr;
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++) G[i * P + j] = (G[i * P + j] - (double)sp->n_tr * mu[i] * mu[j]) * s[i] * s[j];
    b->lam = base_malloc(P * sizeof(double), "eigenvalues");
    linalg_eigh(G, b->lam, P);  // G now holds V
    c->stats->flops += flops_eigh(P);
    for (size_t i = 0; i < P; i++)
        if (b->lam[i] < 0) b->lam[i] = 0;  // rounding below zero on a positive semi-definite matrix
    float *Vf = to_float(b->V, P * P);

    // B = V^T (S (C_tr - mu sy_tr^T)), C_tr = sum of the training segments' D
    float *tmp = base_malloc(base_mul(P, Tb) * sizeof(float), "split products");
    sum_segments(tmp, D, sp->tr, NS, P, Tb, mu, b->ybar, (double)sp->n_tr, s);
    b->B = base_malloc(base_mul(P, Tb) * sizeof(float), "projected targets");
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)Tb, (int)P, 1.0f, Vf, (int)P, tmp, (int)Tb, 0.0f,
                b->B, (int)Tb);
    c->stats->flops += 2.0 * (double)P * (double)P * (double)Tb;

    if (sp->te && sp->n_te > 0 && (explicit_pred || sp->n_te < P)) {
        // explicit (the cheaper way when fewer samples are held out than there are features): A = (X_te - mu) S V
        b->expl = 1;
        size_t *rows = split_rows(cv, sp->te, sp->n_te);
        double *Z = base_malloc(base_mul(sp->n_te, P) * sizeof(double), "held-out features");
        for (size_t i = 0; i < sp->n_te; i++)
            for (size_t p = 0; p < P; p++) Z[i * P + p] = (xs->Xd[rows[i] * P + p] - mu[p]) * s[p];
        double *Ad = base_malloc(base_mul(sp->n_te, P) * sizeof(double), "held-out basis");
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)sp->n_te, (int)P, (int)P, 1.0, Z, (int)P, b->V,
                    (int)P, 0.0, Ad, (int)P);
        c->stats->flops += 2.0 * (double)sp->n_te * (double)P * (double)P;
        b->A = to_float(Ad, sp->n_te * P);
        b->Yte = gather_targets(c, rows, sp->n_te, t0, Tb);
        free(Ad), free(Z), free(rows);
    } else if (sp->te && sp->n_te > 0) {
        // sufficient statistics of the held-out samples, centred on the training means
        double *Hc = base_calloc(base_mul(P, P), sizeof(double), "held-out Gram"), *sx = base_calloc(P, sizeof(double), "sums");
        for (size_t g = 0; g < NS; g++)
            if (sp->te[g]) {
                const double *H = xs->seg_H + g * P * P, *sg = xs->seg_sx + g * P;
                for (size_t i = 0; i < P * P; i++) Hc[i] += H[i];
                for (size_t p = 0; p < P; p++) sx[p] += sg[p];
            }
        const double n = (double)sp->n_te;
        for (size_t i = 0; i < P; i++)
            for (size_t j = 0; j < P; j++)
                Hc[i * P + j] = (Hc[i * P + j] - mu[i] * sx[j] - sx[i] * mu[j] + n * mu[i] * mu[j]) * s[i] * s[j];
        double *m = base_malloc(P * sizeof(double), "held-out sums");
        for (size_t p = 0; p < P; p++) m[p] = (sx[p] - n * mu[p]) * s[p];
        sum_segments(tmp, D, sp->te, NS, P, Tb, mu, b->sy, 1.0, s);
        b->Pm = base_malloc(base_mul(P, Tb) * sizeof(float), "held-out products");
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)Tb, (int)P, 1.0f, Vf, (int)P, tmp, (int)Tb,
                    0.0f, b->Pm, (int)Tb);
        // Ht = V^T Hc V, mt = V^T m
        double *HV = base_malloc(base_mul(P, P) * sizeof(double), "held-out Gram");
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)P, (int)P, 1.0, Hc, (int)P, b->V, (int)P,
                    0.0, HV, (int)P);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)P, (int)P, 1.0, b->V, (int)P, HV, (int)P, 0.0,
                    Hc, (int)P);
        b->Ht = to_float(Hc, P * P);
        b->mt = base_malloc(P * sizeof(double), "held-out sums");
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)P, 1.0, b->V, (int)P, m, 1, 0.0, b->mt, 1);
        c->stats->flops += 2.0 * (double)P * (double)P * (double)Tb + 4.0 * (double)P * (double)P * (double)P;
        b->Hd = Hc;
        free(HV), free(m), free(sx);
    }
    free(tmp), free(Vf);
}

// dual: the centred training kernel sum_b gamma_b X_b X_b^T, diagonalised
static void basis_dual(Basis *b, const Ctx *c, const XStats *xs, const Split *sp, const double *gamma, size_t t0,
                       size_t Tb) {
    const size_t N = c->N, n_tr = sp->n_tr, n_te = sp->te ? sp->n_te : 0;
    memset(b, 0, sizeof *b);
    b->dual = 1, b->expl = 1, b->R = n_tr, b->n_te = n_te, b->Tb = Tb;
    basis_target_sums(b, c, sp, t0, Tb);
    size_t *tr = b->rows_tr = split_rows(c->cv, sp->tr, n_tr);
    size_t *te = sp->te ? split_rows(c->cv, sp->te, n_te) : NULL;
    // kernel rows of every sample against the training samples, then centring in feature space:
    // (x_i - mu)(x_j - mu)^T = k_ij - a_i - a_j + cc, a_i the mean of k_i. over training j
    double *Kr = base_calloc(base_mul(N, n_tr), sizeof(double), "kernel rows");
    for (size_t bd = 0; bd < c->NB; bd++) {
        const double *g = xs->G + bd * N * N;
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < n_tr; j++) Kr[i * n_tr + j] += gamma[bd] * g[i * N + tr[j]];
    }
    double *a = base_malloc(N * sizeof(double), "kernel means"), cc = 0;
    for (size_t i = 0; i < N; i++) {
        double sum = 0;
        for (size_t j = 0; j < n_tr; j++) sum += Kr[i * n_tr + j];
        a[i] = sum / (double)n_tr;
    }
    for (size_t j = 0; j < n_tr; j++) cc += a[tr[j]];
    cc /= (double)n_tr;
    double *U = b->V = base_malloc(base_mul(n_tr, n_tr) * sizeof(double), "training kernel");
    for (size_t i = 0; i < n_tr; i++)
        for (size_t j = 0; j < n_tr; j++) U[i * n_tr + j] = Kr[tr[i] * n_tr + j] - a[tr[i]] - a[tr[j]] + cc;
    b->lam = base_malloc(n_tr * sizeof(double), "eigenvalues");
    linalg_eigh(U, b->lam, n_tr);
    c->stats->flops += flops_eigh(n_tr);
    for (size_t i = 0; i < n_tr; i++)
        if (b->lam[i] < 0) b->lam[i] = 0;
    float *Uf = to_float(U, n_tr * n_tr);
    float *ytr = gather_targets(c, tr, n_tr, t0, Tb);
    for (size_t i = 0; i < n_tr; i++)
        for (size_t t = 0; t < Tb; t++) ytr[i * Tb + t] -= (float)b->ybar[t];
    b->B = base_malloc(base_mul(n_tr, Tb) * sizeof(float), "projected targets");
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_tr, (int)Tb, (int)n_tr, 1.0f, Uf, (int)n_tr, ytr, (int)Tb,
                0.0f, b->B, (int)Tb);
    c->stats->flops += 2.0 * (double)n_tr * (double)n_tr * (double)Tb;
    if (n_te) {
        double *Kte = base_malloc(base_mul(n_te, n_tr) * sizeof(double), "held-out kernel");
        for (size_t i = 0; i < n_te; i++)
            for (size_t j = 0; j < n_tr; j++) Kte[i * n_tr + j] = Kr[te[i] * n_tr + j] - a[te[i]] - a[tr[j]] + cc;
        double *Ad = base_malloc(base_mul(n_te, n_tr) * sizeof(double), "held-out basis");
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_te, (int)n_tr, (int)n_tr, 1.0, Kte, (int)n_tr, U,
                    (int)n_tr, 0.0, Ad, (int)n_tr);
        c->stats->flops += 2.0 * (double)n_te * (double)n_tr * (double)n_tr;
        b->A = to_float(Ad, n_te * n_tr);
        b->Yte = gather_targets(c, te, n_te, t0, Tb);
        free(Ad), free(Kte);
    }
    free(ytr), free(Uf), free(a), free(Kr), free(te);
}

// ----------------------------------------------------------------------------
// scores of columns (target, alpha) on a split's held-out samples

typedef struct {
    double *s1, *s2, *s3;  // (n_cols) sums of yhat', yhat'^2 and yhat' y over the held-out samples,
} ColSums;                 // yhat' the prediction without the training mean of y

// The sums of columns [j0, j0 + m) from their scaled targets Ba (R, m) = B[:, tcol] / (lam + acol): through the
// held-out samples' basis (explicit; predictions (n_te, m) into yh, row stride ld) or through the sufficient
// statistics (work (R, m) = Ht Ba). run: the chunk's targets are consecutive and share one alpha, so every
// loop reads contiguous memory. Cloned per instruction set: these loops are a sixth of a fit's time.
__attribute__((target_clones("default", "avx2", "avx512f"))) static void score_chunk(
    const Basis *b, const size_t *tcol, const double *acol, size_t j0, size_t m, int run, ColSums *cs, float *Ba,
    float *work, double *acc, float *yh, size_t ld) {
    const size_t R = b->R, Tb = b->Tb, tr0 = tcol[j0];
    const size_t *tc = tcol + j0;
    for (size_t r = 0; r < R; r++) {
        const float *Br = b->B + r * Tb;
        float *ba = Ba + r * m;
        if (run) {
            const float inv = (float)(1.0 / (b->lam[r] + acol[j0]));
            for (size_t j = 0; j < m; j++) ba[j] = Br[tr0 + j] * inv;
        } else {
            for (size_t j = 0; j < m; j++) ba[j] = (float)(Br[tc[j]] / (b->lam[r] + acol[j0 + j]));
        }
    }
    double *s1 = acc, *s2 = acc + m, *s3 = acc + 2 * m;
    memset(acc, 0, 3 * m * sizeof(double));
    if (b->expl) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b->n_te, (int)m, (int)R, 1.0f, b->A, (int)R, Ba,
                    (int)m, 0.0f, yh, (int)ld);
        for (size_t i = 0; i < b->n_te; i++) {
            const float *yi = yh + i * ld, *ti = b->Yte + i * Tb;
            if (run) {
                for (size_t j = 0; j < m; j++) {
                    double v = yi[j];
                    s1[j] += v, s2[j] += v * v, s3[j] += v * ti[tr0 + j];
                }
            } else {
                for (size_t j = 0; j < m; j++) {
                    double v = yi[j];
                    s1[j] += v, s2[j] += v * v, s3[j] += v * ti[tc[j]];
                }
            }
        }
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)m, (int)R, 1.0f, b->Ht, (int)R, Ba, (int)m,
                    0.0f, work, (int)m);
        for (size_t r = 0; r < R; r++) {
            const float *br = Ba + r * m, *wr = work + r * m, *pr = b->Pm + r * Tb;
            const double mt = b->mt[r];
            if (run) {
                for (size_t j = 0; j < m; j++) {
                    double v = br[j];
                    s1[j] += mt * v, s2[j] += v * wr[j], s3[j] += v * pr[tr0 + j];
                }
            } else {
                for (size_t j = 0; j < m; j++) {
                    double v = br[j];
                    s1[j] += mt * v, s2[j] += v * wr[j], s3[j] += v * pr[tc[j]];
                }
            }
        }
    }
    for (size_t j = 0; j < m; j++) cs->s1[j0 + j] = s1[j], cs->s2[j0 + j] = s2[j], cs->s3[j0 + j] = s3[j];
}

enum { SCORE_CHUNK = 256 };  // columns per chunk: Ba and work, (R, 256) floats each, stay in L2 for R ~ 500

// Columns (target tcol[j], alpha acol[j]), j < n, scored on the split's held-out samples: the sums, and with
// pred the predictions (n_te, n). block > 0: the columns come in blocks of `block` consecutive targets with
// one alpha each. Chunks of columns (never across blocks) run on OpenMP threads, each with single-threaded
// BLAS, so one pool of threads works and each chunk's buffers stay in cache.
static void score_columns(const Basis *b, const Ctx *c, const size_t *tcol, const double *acol, size_t n,
                          size_t block, ColSums *cs, float *pred) {
    const size_t R = b->R, CH = SCORE_CHUNK, rows = b->expl ? b->n_te : R;
    const size_t bl = block ? block : n, per_block = (bl + CH - 1) / CH, n_chunks = n / bl * per_block;
    int blas = threads_blas_narrow();
#pragma omp parallel if (n_chunks > 1)
    {
        float *Ba = base_malloc(R * CH * sizeof(float), "scaled targets");
        float *work = base_malloc(base_mul(rows, CH) * sizeof(float), "products");
        double *acc = base_malloc(3 * CH * sizeof(double), "sums");
#pragma omp for schedule(dynamic)
        for (size_t i = 0; i < n_chunks; i++) {
            size_t j0 = i / per_block * bl + i % per_block * CH, end = i / per_block * bl + bl;
            size_t m = end - j0 < CH ? end - j0 : CH;
            score_chunk(b, tcol, acol, j0, m, block > 0, cs, Ba, work, acc, pred ? pred + j0 : work, pred ? n : m);
        }
        free(Ba), free(work), free(acc);
    }
    threads_blas_restore(blas);
    c->stats->flops += 2.0 * (double)rows * (double)R * (double)n;
}

// held-out squared error, Pearson r and R^2 of one column from its sums
static void fold_scores(const Basis *b, size_t t, double s1, double s2, double s3, double *sse, double *r, double *r2) {
    double n = (double)b->n_te, mu = b->ybar[t], sy = b->sy[t], syy = b->syy[t];
    double vary = syy - sy * sy / n, varp = s2 - s1 * s1 / n, cov = s3 - s1 * sy / n;
    double e = syy - 2.0 * (s3 + mu * sy) + s2 + 2.0 * mu * s1 + n * mu * mu;
    int constant = !(vary > 1e-12 * (syy > 0 ? syy : 1.0));
    *sse = e > 0 ? e : 0;
    *r = constant || !(varp > 0) ? NAN : cov / sqrt(varp * vary);
    *r2 = constant ? NAN : 1.0 - *sse / vary;
}

// ----------------------------------------------------------------------------
// the protocol

static void split_init(Split *sp, const CvPlan *cv, int outer, int inner) {
    sp->tr = base_malloc(cv->n_seg * 2 + 1, "split masks");
    sp->te = sp->tr + cv->n_seg;
    if (outer < 0) {
        memset(sp->tr, 1, cv->n_seg);
        sp->te = NULL;
        sp->n_tr = cv->n, sp->n_te = 0;
    } else {
        cv_split(cv, outer, inner, sp->tr, sp->te, &sp->n_tr, &sp->n_te);
    }
}

// explicit_pred: the held-out samples in the eigenbasis even where sufficient statistics would be cheaper
static void basis_build(Basis *b, const Ctx *c, const XStats *xs, const Split *sp, size_t g, const float *D, size_t t0,
                        size_t Tb, int explicit_pred) {
    c->stats->n_splits++;
    const double *gamma = c->gamma + g * c->NB;
    if (c->P > sp->n_tr) {
        c->stats->n_dual++;
        basis_dual(b, c, xs, sp, gamma, t0, Tb);
        return;
    }
    double *s = base_malloc(c->P * sizeof(double), "band scales");
    for (size_t p = 0; p < c->P; p++) s[p] = sqrt(gamma[c->band_of[p]]);
    basis_primal(b, c, xs, sp, s, D, t0, Tb, explicit_pred);
    free(s);
}

// Every alpha of the grid at once from sufficient statistics (a primal basis without explicit
// predictions). With b_a = diag(d_a) b, d_a,i = 1/(lam_i + alpha_a), the held-out sums are
//   s1 = sum_i d_i mt_i b_i,   s3 = sum_i d_i b_i Pm_i,   s2 = b_a^T Ht b_a = sum_ij Ht_ij b_i b_j d_i d_j,
// and partial fractions, d_i d_j = (d_i - d_j) / (lam_j - lam_i) for lam_i != lam_j, turn s2 into
//   s2 = sum_i d_i^2 u_i + sum_i d_i v_i,  u_i = b_i sum_{j tied to i} Ht_ij b_j,  v_i = 2 b_i sum_{j not tied} Ht_ij b_j / (lam_j - lam_i)
// (eigenvalues within a relative 1e-10 of each other are tied and take d_i d_j = d_i^2). u and v do not
// depend on alpha: one (R, R) x (R, Tb) product per split replaces one per alpha, and each alpha costs
// O(R) per target. All in float64. The cancellation this form can suffer (large alphas, close
// eigenvalues) is measured per column: where sum_i |terms| exceeds 1e5 s2, the column is marked in
// redo (1) for the direct computation.
static void score_grid_sums(const Basis *b, const Ctx *c, size_t Tb, ColSums *cs, uint8_t *redo) {
    const size_t R = b->R, A = c->A, CH = 128;
    const double *lam = b->lam, *alphas = c->cfg->alphas;
    size_t *block = base_malloc(R * sizeof(size_t), "ties");  // first index of each eigenvalue's tie block
    size_t *block_end = base_malloc(R * sizeof(size_t), "ties");
    const double tie = 1e-10 * (lam[0] + alphas[0]);
    for (size_t i = 0; i < R; i++) block[i] = i > 0 && fabs(lam[i - 1] - lam[i]) <= tie ? block[i - 1] : i;
    for (size_t i = R; i-- > 0;) block_end[i] = i + 1 < R && block[i + 1] == block[i] ? block_end[i + 1] : i + 1;
    double *M = base_malloc(base_mul(R, R) * sizeof(double), "divided differences");
    // E (A, 2R) = [d | d^2] per alpha
    double *E = base_malloc(base_mul(A, 2 * R) * sizeof(double), "shrinkage");
    for (size_t a = 0; a < A; a++)
        for (size_t i = 0; i < R; i++) {
            double d = 1.0 / (lam[i] + alphas[a]);
            E[a * 2 * R + i] = d, E[a * 2 * R + R + i] = d * d;
        }
    int blas = threads_blas_narrow();
#pragma omp parallel
    {
#pragma omp for
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < R; j++)
                M[i * R + j] = block[i] == block[j] ? 0.0 : b->Hd[i * R + j] / (lam[j] - lam[i]);
        // per chunk of m targets: Bc (R, m) the projected targets, Q = M Bc; F (2R, 2m) = [[v |v|] [u |u|]],
        // G (R, 2m) = [mt b | b Pm]; then E F = [s2 | magnitude] and E[:, :R] G = [s1 | s3], (A, 2m) each
        double *Bc = base_malloc(R * CH * sizeof(double), "chunk"), *Q = base_malloc(R * CH * sizeof(double), "chunk");
        double *F = base_malloc(4 * R * CH * sizeof(double), "chunk"), *G = base_malloc(2 * R * CH * sizeof(double), "chunk");
        double *O = base_malloc(base_mul(A, 4 * CH) * sizeof(double), "chunk");
#pragma omp for schedule(dynamic)
        for (size_t t0 = 0; t0 < Tb; t0 += CH) {
            const size_t m = Tb - t0 < CH ? Tb - t0 : CH, m2 = 2 * m;
            for (size_t i = 0; i < R; i++)
                for (size_t t = 0; t < m; t++) Bc[i * m + t] = b->B[i * Tb + t0 + t];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)m, (int)R, 1.0, M, (int)R, Bc, (int)m,
                        0.0, Q, (int)m);
            for (size_t i = 0; i < R; i++) {
                const double *bi = Bc + i * m, *qi = Q + i * m, hii = b->Hd[i * R + i], mt = b->mt[i];
                const float *pi = b->Pm + i * Tb + t0;
                double *fv = F + i * m2, *fu = F + (R + i) * m2, *g = G + i * m2;
                for (size_t t = 0; t < m; t++) {
                    double v = 2.0 * bi[t] * qi[t], u = hii * bi[t] * bi[t];
                    fv[t] = v, fv[m + t] = fabs(v), fu[t] = u, fu[m + t] = fabs(u);
                    g[t] = mt * bi[t], g[m + t] = bi[t] * pi[t];
                }
                for (size_t j = block[i]; j < block_end[i]; j++)  // tied eigenvalues: d_i d_j = d_i^2
                    if (j != i)
                        for (size_t t = 0; t < m; t++) {
                            double u = bi[t] * b->Hd[i * R + j] * Bc[j * m + t];
                            fu[t] += u, fu[m + t] += fabs(u);
                        }
            }
            double *Os = O, *Og = O + A * m2;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)A, (int)m2, (int)(2 * R), 1.0, E, (int)(2 * R),
                        F, (int)m2, 0.0, Os, (int)m2);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)A, (int)m2, (int)R, 1.0, E, (int)(2 * R), G,
                        (int)m2, 0.0, Og, (int)m2);
            for (size_t a = 0; a < A; a++)
                for (size_t t = 0; t < m; t++) {
                    size_t j = a * Tb + t0 + t;
                    double s2 = Os[a * m2 + t], mag = Os[a * m2 + m + t];
                    cs->s1[j] = Og[a * m2 + t], cs->s3[j] = Og[a * m2 + m + t], cs->s2[j] = s2;
                    redo[j] = !(isfinite(s2) && mag <= 1e5 * s2);
                }
        }
        free(Bc), free(Q), free(F), free(G), free(O);
    }
    threads_blas_restore(blas);
    c->stats->flops += 2.0 * (double)R * (double)R * (double)Tb + 12.0 * (double)A * (double)R * (double)Tb;
    free(E), free(M), free(block), free(block_end);
}

// every (gamma, alpha) for every target of the batch on split sp: its squared error added to
// sse_nested (NG, A, Tb) and its r, R^2 and squared error to acc_* (NG, A, T) at column t0 (each may be NULL)
static void score_grid(const Ctx *c, const XStats *xs, const Split *sp, const float *D, size_t t0, size_t Tb,
                       double *sse_nested, double *acc_r, double *acc_r2, double *acc_sse) {
    const size_t A = c->A, T = c->T;
    size_t *tcol = base_malloc(base_mul(A, Tb) * sizeof(size_t), "columns");
    double *acol = base_malloc(base_mul(A, Tb) * sizeof(double), "columns");
    for (size_t a = 0; a < A; a++)
        for (size_t t = 0; t < Tb; t++) tcol[a * Tb + t] = t, acol[a * Tb + t] = c->cfg->alphas[a];
    size_t n = A * Tb;
    // each sum's second half holds the directly computed columns
    ColSums cs = {base_malloc(2 * n * sizeof(double), "sums"), base_malloc(2 * n * sizeof(double), "sums"),
                  base_malloc(2 * n * sizeof(double), "sums")};
    uint8_t *redo = base_malloc(n, "columns");
    size_t *rcol = base_malloc(n * sizeof(size_t), "columns"), *ridx = base_malloc(n * sizeof(size_t), "columns");
    double *racol = base_malloc(n * sizeof(double), "columns");
    for (size_t g = 0; g < c->NG; g++) {
        Basis b;
        basis_build(&b, c, xs, sp, g, D, t0, Tb, 0);
        if (b.expl) {
            score_columns(&b, c, tcol, acol, n, Tb, &cs, NULL);
        } else {
            score_grid_sums(&b, c, Tb, &cs, redo);
            size_t m = 0;  // the marked columns, computed directly
            for (size_t j = 0; j < n; j++)
                if (redo[j]) rcol[m] = tcol[j], racol[m] = acol[j], ridx[m++] = j;
            if (m) {
                ColSums rs = {cs.s1 + n, cs.s2 + n, cs.s3 + n};
                score_columns(&b, c, rcol, racol, m, 0, &rs, NULL);
                for (size_t k = 0; k < m; k++)
                    cs.s1[ridx[k]] = rs.s1[k], cs.s2[ridx[k]] = rs.s2[k], cs.s3[ridx[k]] = rs.s3[k];
                c->stats->n_direct += m;
            }
        }
        for (size_t a = 0; a < A; a++)
            for (size_t t = 0; t < Tb; t++) {
                size_t j = a * Tb + t;
                double e, r, r2;
                fold_scores(&b, t, cs.s1[j], cs.s2[j], cs.s3[j], &e, &r, &r2);
                if (sse_nested) sse_nested[(g * A + a) * Tb + t] += e;
                if (acc_r) {
                    size_t o = (g * A + a) * T + t0 + t;
                    acc_r[o] += r, acc_r2[o] += r2, acc_sse[o] += e;
                }
            }
        basis_free(&b);
    }
    free(redo), free(rcol), free(ridx), free(racol);
    free(cs.s1), free(cs.s2), free(cs.s3), free(acol), free(tcol);
}

// the outer split sp scored with each target's own (gamma, alpha) choice[t] = g * A + a; r and r2
// of the fold added to r_sum, r2_sum; predictions into out->pred
static void score_choice(const Ctx *c, const XStats *xs, const Split *sp, const float *D, size_t t0, size_t Tb,
                         const size_t *choice, double *r_sum, double *r2_sum, float *pred) {
    const size_t A = c->A;
    size_t *tcol = base_malloc(Tb * sizeof(size_t), "columns");
    double *acol = base_malloc(Tb * sizeof(double), "columns");
    ColSums cs = {base_malloc(Tb * sizeof(double), "sums"), base_malloc(Tb * sizeof(double), "sums"),
                  base_malloc(Tb * sizeof(double), "sums")};
    size_t *rows = pred ? split_rows(c->cv, sp->te, sp->n_te) : NULL;
    for (size_t g = 0; g < c->NG; g++) {
        size_t n = 0;
        for (size_t t = 0; t < Tb; t++)
            if (choice[t] / A == g) tcol[n] = t, acol[n] = c->cfg->alphas[choice[t] % A], n++;
        if (n == 0) continue;
        Basis b;
        basis_build(&b, c, xs, sp, g, D, t0, Tb, pred != NULL);
        float *yh = pred ? base_malloc(base_mul(sp->n_te, n) * sizeof(float), "predictions") : NULL;
        score_columns(&b, c, tcol, acol, n, 0, &cs, yh);
        for (size_t j = 0; j < n; j++) {
            double e, r, r2;
            fold_scores(&b, tcol[j], cs.s1[j], cs.s2[j], cs.s3[j], &e, &r, &r2);
            r_sum[t0 + tcol[j]] += r, r2_sum[t0 + tcol[j]] += r2;
            if (pred)
                for (size_t i = 0; i < sp->n_te; i++)
                    pred[rows[i] * c->T + t0 + tcol[j]] = yh[i * n + j] + (float)b.ybar[tcol[j]];
        }
        free(yh);
        basis_free(&b);
    }
    free(rows), free(cs.s1), free(cs.s2), free(cs.s3), free(acol), free(tcol);
}

// the best (gamma, alpha) of each target: least pooled squared error (least = 1) or greatest mean r
// (least = 0; NaN means never win), ties to the larger alpha; scores (NG, A, stride) at column t
static size_t choose(const Ctx *c, const double *score, size_t stride, size_t t, int least) {
    size_t best = (c->A - 1), found = 0;
    for (size_t a = 0; a < c->A; a++)
        for (size_t g = 0; g < c->NG; g++) {
            size_t i = g * c->A + a;
            double v = score[i * stride + t];
            if (isnan(v)) continue;
            double cur = found ? score[best * stride + t] : 0;
            if (!found || (least ? v <= cur : v >= cur)) best = i, found = 1;
        }
    return best;
}

static void count_choice(const Ctx *c, size_t choice, RidgeStats *st) {
    size_t a = choice % c->A;
    if (c->A >= 3) st->n_edge_low += a == 0, st->n_edge_high += a == c->A - 1;
    st->n_choices++;
}

// target batch size from the memory budget: what one target costs in the largest step, after what
// the batch-independent state takes
static size_t batch_targets(const Ctx *c, int need_primal, int need_dual, int acc_all) {
    const size_t N = c->N, P = c->P, S = c->cv->n_seg, A = c->A;
    size_t budget = c->cfg->memory_bytes ? c->cfg->memory_bytes : ((size_t)1 << 30);
    double fixed = 12.0 * (double)N * (double)P + (need_primal ? 8.0 * (double)S * P * P + 40.0 * (double)P * P : 0) +
                   (need_dual ? 8.0 * (double)c->NB * N * N + 40.0 * (double)N * N : 0) +
                   (acc_all ? 24.0 * (double)c->NG * A * c->T : 0) + 40.0 * (double)c->T;
    double R = need_dual ? (double)(N > P ? N : P) : (double)P, rows = R > (double)N ? R : (double)N;
    fixed += 4.0 * SCORE_CHUNK * (R + rows) * (double)omp_get_max_threads();  // score_columns' chunk buffers
    double per = (need_primal ? 4.0 * (double)S * P : 0) + 4.0 * R + 20.0 * (double)P + 8.0 * (double)N +
                 (double)A * 32.0 + 8.0 * (double)c->NG * A;
    double room = (double)budget - fixed;
    // a budget below the batch-independent state cannot be met; batches of one target would redo the
    // splits' work for every target (100x the time on the demo), so take a modest batch instead
    size_t Tb = room > per ? (size_t)(room / per) : 64;
    return Tb < c->T ? Tb : c->T;
}

static int check_finite(const float *X, size_t N, size_t P, int which, char *err) {
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < P; p++)
            if (!isfinite(X[i * P + p]))
                return base_errf(err, "feature %zu%s is %s at sample %zu", p + 1, which >= 0 ? " (fold-wise matrix)" : "",
                                 isnan(X[i * P + p]) ? "NaN" : "infinite", i + 1);
    return 0;
}

static int check_config(const RidgeConfig *cfg, size_t P, char *err) {
    if (!cfg->cv) return base_errf(err, "ridge: no cross-validation plan");
    if (cfg->n_alphas == 0) return base_errf(err, "ridge: the alpha grid is empty");
    for (size_t a = 0; a < cfg->n_alphas; a++)
        if (!(cfg->alphas[a] > 0) || !isfinite(cfg->alphas[a]) || (a > 0 && cfg->alphas[a] <= cfg->alphas[a - 1]))
            return base_errf(err, "ridge: alphas must be positive, finite and ascending (alpha %zu is %g)", a + 1,
                             cfg->alphas[a]);
    if (P == 0) return base_errf(err, "ridge: no features");
    if (cfg->n_bands > 1) {
        size_t sum = 0;
        for (size_t b = 0; b < cfg->n_bands; b++) {
            if (cfg->band_size[b] == 0) return base_errf(err, "ridge: feature band %zu is empty", b + 1);
            sum += cfg->band_size[b];
        }
        if (sum != P) return base_errf(err, "ridge: feature bands cover %zu features, the design has %zu", sum, P);
    }
    size_t NB = cfg->n_bands > 1 ? cfg->n_bands : 1;
    for (size_t i = 0; i < cfg->n_gammas * NB; i++)
        if (!(cfg->gammas[i] > 0) || !isfinite(cfg->gammas[i]))
            return base_errf(err, "ridge: band scaling %zu of candidate %zu is %g (must be positive)", i % NB + 1,
                             i / NB + 1, cfg->gammas[i]);
    return 0;
}

// the all-samples fit of each target's (gamma, alpha) choice[t]: weights (P, T) and intercepts (T)
static void refit(const Ctx *c, const XStats *xs, const float *D, size_t t0, size_t Tb, const size_t *choice,
                  float *weights, float *intercept) {
    const size_t A = c->A, P = c->P, T = c->T;
    Split all;
    split_init(&all, c->cv, -1, -1);
    size_t *tcol = base_malloc(Tb * sizeof(size_t), "columns");
    double *acol = base_malloc(Tb * sizeof(double), "columns");
    for (size_t g = 0; g < c->NG; g++) {
        size_t n = 0;
        for (size_t t = 0; t < Tb; t++)
            if (choice[t0 + t] / A == g) tcol[n] = t, acol[n] = c->cfg->alphas[choice[t0 + t] % A], n++;
        if (n == 0) continue;
        Basis b;
        basis_build(&b, c, xs, &all, g, D, t0, Tb, 0);
        const size_t R = b.R;
        double *Ba = base_malloc(base_mul(R, n) * sizeof(double), "scaled targets");
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < n; j++) Ba[r * n + j] = b.B[r * Tb + tcol[j]] / (b.lam[r] + acol[j]);
        double *W = base_malloc(base_mul(P, n) * sizeof(double), "weights");
        const double *gamma = c->gamma + g * c->NB;
        if (!b.dual) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)n, (int)R, 1.0, b.V, (int)R, Ba, (int)n,
                        0.0, W, (int)n);
            for (size_t p = 0; p < P; p++)
                for (size_t j = 0; j < n; j++) W[p * n + j] *= sqrt(gamma[c->band_of[p]]);
        } else {
            // dual coefficients U Ba, then W = S^2 X_c^T coefficients
            double *coef = base_malloc(base_mul(R, n) * sizeof(double), "dual coefficients");
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)R, 1.0, b.V, (int)R, Ba, (int)n,
                        0.0, coef, (int)n);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)n, (int)R, 1.0, xs->Xd, (int)P, coef,
                        (int)n, 0.0, W, (int)n);
            for (size_t p = 0; p < P; p++)
                for (size_t j = 0; j < n; j++) W[p * n + j] *= gamma[c->band_of[p]];
            free(coef);
        }
        for (size_t j = 0; j < n; j++) {
            double b0 = b.ybar[tcol[j]];
            for (size_t p = 0; p < P; p++) {
                double w = W[p * n + j];
                weights[p * T + t0 + tcol[j]] = (float)w;
                b0 -= (xs->mean[p] + (b.dual ? 0.0 : b.mu[p])) * w;
            }
            intercept[t0 + tcol[j]] = (float)b0;
        }
        free(W), free(Ba);
        basis_free(&b);
    }
    free(acol), free(tcol), free(all.tr);
}

int ridge_cv(const float *const *X, int x_per_fold, size_t P, const RidgeTargets *Y, const RidgeConfig *cfg,
             RidgeOut *out, RidgeStats *stats, char *err) {
    memset(stats, 0, sizeof *stats);
    if (check_config(cfg, P, err)) return -1;
    const CvPlan *cv = cfg->cv;
    if (Y->cv != cv) return base_errf(err, "ridge: the targets were prepared for other folds");
    const int K = cv->n_blocks, nested = cfg->select == RIDGE_SELECT_INNER;
    const size_t N = Y->N, T = Y->T;
    if (x_per_fold && out->weights)
        return base_errf(err, "ridge: weights need one feature matrix for every fold (fold-wise features differ)");
    if (cv_check(cv, nested, 2, 2, err)) return -1;
    for (int x = 0; x < (x_per_fold ? K : 1); x++)
        if (check_finite(X[x], N, P, x_per_fold ? x : -1, err)) return -1;

    Ctx c = {cfg, Y, cv, N, P, T, (size_t)K, cfg->n_alphas, cfg->n_bands > 1 ? cfg->n_bands : 1,
             cfg->n_gammas ? cfg->n_gammas : 1, NULL, NULL, stats};
    c.band_of = base_malloc(P * sizeof(size_t), "bands");
    for (size_t b = 0, p = 0; b < c.NB; b++)
        for (size_t w = 0; w < (cfg->n_bands > 1 ? cfg->band_size[b] : P); w++) c.band_of[p++] = b;
    c.gamma = base_malloc(c.NG * c.NB * sizeof(double), "band scalings");
    for (size_t i = 0; i < c.NG * c.NB; i++) c.gamma[i] = cfg->n_gammas ? cfg->gammas[i] : 1.0;

    // which forms the splits need
    int need_primal = 0, need_dual = 0;
    uint8_t *m = base_malloc(2 * cv->n_seg, "masks");
    for (int k = 0; k < K; k++)
        for (int j = -1; j < (nested ? K : 0); j++) {
            if (j == k) continue;
            size_t ntr, nte;
            cv_split(cv, k, j, m, m + cv->n_seg, &ntr, &nte);
            if (P > ntr) need_dual = 1;
            else need_primal = 1;
        }
    free(m);
    if (out->weights) {
        if (P > N) need_dual = 1;
        else need_primal = 1;
    }

    int blas_threads = threads_blas_widen();
    const size_t A = c.A, NG = c.NG, NB = c.NB;
    const int acc_all = !nested || out->weights;
    const size_t Tb_max = batch_targets(&c, need_primal, need_dual, acc_all);
    stats->batch_targets = Tb_max;
    double *r_sum = base_calloc(T, sizeof(double), "scores"), *r2_sum = base_calloc(T, sizeof(double), "scores");
    double *log_alpha = base_calloc(T, sizeof(double), "alphas");
    double *gamma_sum = base_calloc(base_mul(T, NB), sizeof(double), "band scalings");
    double *acc_r = NULL, *acc_r2 = NULL, *acc_sse = NULL;
    if (acc_all) {
        acc_r = base_calloc(base_mul(NG * A, T), sizeof(double), "scores");
        acc_r2 = base_calloc(base_mul(NG * A, T), sizeof(double), "scores");
        acc_sse = base_calloc(base_mul(NG * A, T), sizeof(double), "scores");
    }
    double *sse_in = nested ? base_malloc(base_mul(NG * A, Tb_max) * sizeof(double), "nested errors") : NULL;
    size_t *choice = base_malloc(T * sizeof(size_t), "choices");

    // pass 1: every fold scored; nested choices made and scored fold by fold
    int stopped = 0;
    for (int x = 0; x < (x_per_fold ? K : 1) && !stopped; x++) {
        XStats xs;
        xstats_init(&xs, &c, X[x], need_primal, need_dual);
        for (size_t t0 = 0; t0 < T; t0 += Tb_max) {
            if (base_stop_signal) {
                stopped = 1;
                break;
            }
            size_t Tb = T - t0 < Tb_max ? T - t0 : Tb_max;
            stats->n_batches++;
            float *D = need_primal ? base_malloc(base_mul(cv->n_seg, base_mul(P, Tb)) * sizeof(float), "segment products")
                                   : NULL;
            if (D) segment_products(D, &xs, &c, t0, Tb);
            for (int k = x_per_fold ? x : 0; k < (x_per_fold ? x + 1 : K); k++) {
                Split outer;
                split_init(&outer, cv, k, -1);
                if (nested) {
                    memset(sse_in, 0, NG * A * Tb * sizeof(double));
                    for (int j = 0; j < K; j++) {
                        if (j == k) continue;
                        Split in;
                        split_init(&in, cv, k, j);
                        score_grid(&c, &xs, &in, D, t0, Tb, sse_in, NULL, NULL, NULL);
                        free(in.tr);
                    }
                    for (size_t t = 0; t < Tb; t++) {
                        size_t ch = choice[t0 + t] = choose(&c, sse_in, Tb, t, 1);
                        count_choice(&c, ch, stats);
                        log_alpha[t0 + t] += log(cfg->alphas[ch % A]);
                        for (size_t b = 0; b < NB; b++) gamma_sum[(t0 + t) * NB + b] += c.gamma[(ch / A) * NB + b];
                    }
                    score_choice(&c, &xs, &outer, D, t0, Tb, choice + t0, r_sum, r2_sum, out->pred);
                }
                if (acc_all) score_grid(&c, &xs, &outer, D, t0, Tb, NULL, acc_r, acc_r2, acc_sse);
                free(outer.tr);
            }
            free(D);
        }
        xstats_free(&xs);
    }

    if (!stopped && nested) {
        for (size_t t = 0; t < T; t++) {
            out->r[t] = r_sum[t] / K;
            if (out->r2) out->r2[t] = r2_sum[t] / K;
            out->alpha[t] = exp(log_alpha[t] / K);
            for (size_t b = 0; out->gamma && b < NB; b++) out->gamma[t * NB + b] = gamma_sum[t * NB + b] / K;
        }
    } else if (!stopped) {
        for (size_t t = 0; t < T; t++) {
            size_t ch = choice[t] = choose(&c, acc_r, T, t, 0);
            count_choice(&c, ch, stats);
            out->r[t] = acc_r[ch * T + t] / K;
            if (out->r2) out->r2[t] = acc_r2[ch * T + t] / K;
            out->alpha[t] = cfg->alphas[ch % A];
            for (size_t b = 0; out->gamma && b < NB; b++) out->gamma[t * NB + b] = c.gamma[(ch / A) * NB + b];
        }
    }

    // pass 2, where needed: predictions of the outer-mean choices; the all-samples refit
    int pred_pass = !nested && out->pred;
    if (!stopped && (pred_pass || out->weights)) {
        if (out->weights && nested)
            for (size_t t = 0; t < T; t++) choice[t] = choose(&c, acc_sse, T, t, 1);
        for (int x = 0; x < (x_per_fold ? K : 1); x++) {
            XStats xs;
            xstats_init(&xs, &c, X[x], need_primal, need_dual);
            for (size_t t0 = 0; t0 < T; t0 += Tb_max) {
                size_t Tb = T - t0 < Tb_max ? T - t0 : Tb_max;
                float *D = need_primal
                               ? base_malloc(base_mul(cv->n_seg, base_mul(P, Tb)) * sizeof(float), "segment products")
                               : NULL;
                if (D) segment_products(D, &xs, &c, t0, Tb);
                for (int k = x_per_fold ? x : 0; pred_pass && k < (x_per_fold ? x + 1 : K); k++) {
                    Split outer;
                    split_init(&outer, cv, k, -1);
                    double *unused = base_calloc(2 * T, sizeof(double), "scores");
                    score_choice(&c, &xs, &outer, D, t0, Tb, choice + t0, unused, unused + T, out->pred);
                    free(unused);
                    free(outer.tr);
                }
                if (out->weights) refit(&c, &xs, D, t0, Tb, choice, out->weights, out->intercept);
                free(D);
            }
            xstats_free(&xs);
        }
    }

    free(choice), free(sse_in), free(acc_r), free(acc_r2), free(acc_sse), free(gamma_sum), free(log_alpha), free(r2_sum);
    free(r_sum), free(c.gamma), free(c.band_of);
    threads_blas_restore(blas_threads);
    return stopped;
}
