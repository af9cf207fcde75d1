#include "host/encoding.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/signif.h"
#include "host/threads.h"

static size_t n_samples(const EncodingSpec *e) { return e->grid ? e->grid->n_volumes : e->W; }

size_t encoding_components(const EncodingSpec *e, size_t C) {
    if (e->pca_components == 0 || e->pca_components >= C) return 0;
    size_t fit = n_samples(e);  // samples the smallest PCA is fitted on
    if (!e->pca_fit_all) {
        uint8_t *m = base_malloc(2 * e->cv->n_seg, "masks");
        for (int k = 0; k < e->cv->n_blocks; k++) {
            size_t ntr, nte;
            cv_split(e->cv, k, -1, m, m + e->cv->n_seg, &ntr, &nte);
            if (ntr < fit) fit = ntr;
        }
        free(m);
    }
    size_t K = e->pca_components < fit - 1 ? e->pca_components : fit - 1;
    return K > 0 ? K : 1;
}

size_t encoding_width(const EncodingSpec *e, size_t C) {
    size_t k = encoding_components(e, C);
    return ((k ? k : C) + e->n_extra) * e->D;
}

// Centre columns [c0, c1) of x (N, C) and divide them by one common scale, the root of their mean variance:
// unit variance on average, yet principal components keep their relative variances (z-scoring each would
// whiten them, and with as many components as samples a whitened design carries nothing but the sample index).
static void centre_scale(double *x, size_t N, size_t C, size_t c0, size_t c1) {
    const size_t w = c1 - c0;
    double *mean = base_calloc(w, sizeof(double), "column means"), ss = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < w; j++) mean[j] += x[i * C + c0 + j];
    for (size_t j = 0; j < w; j++) mean[j] /= (double)N;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < w; j++) {
            double v = x[i * C + c0 + j] -= mean[j];
            ss += v * v;
        }
    double scale = ss > 0 ? sqrt(ss / (double)N / (double)w) : 1.0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = c0; j < c1; j++) x[i * C + j] /= scale;
    free(mean);
}

// X (V, P) float32: delays of the layer's columns (V, c), then of the extra bands; high-passed
// (sampled designs); the layer's columns scaled together (centre_scale), each extra band's likewise
static float *design(const EncodingSpec *e, const double *feat, size_t c, size_t V) {
    const size_t D = e->D, P = (c + e->n_extra) * D;
    double *X = base_malloc(base_mul(V, P) * sizeof(double), "design");
    double *lag = base_malloc(base_mul(V, D * c) * sizeof(double), "delayed features");
    feat_delay(lag, feat, V, c, e->delays, D);
    for (size_t j = 0; j < V; j++) memcpy(X + j * P, lag + j * D * c, D * c * sizeof(double));
    double *col = base_malloc(V * sizeof(double), "band"), *lx = base_malloc(base_mul(V, D) * sizeof(double), "band");
    for (size_t b = 0; b < e->n_extra; b++) {  // band-major: band b is columns D*c + b*D + d
        for (size_t j = 0; j < V; j++) col[j] = e->extra[j * e->n_extra + b];
        feat_delay(lx, col, V, 1, e->delays, D);
        for (size_t j = 0; j < V; j++) memcpy(X + j * P + D * c + b * D, lx + j * D, D * sizeof(double));
    }
    free(col), free(lx);
    if (e->grid) feat_highpass(X, V, P, e->grid->tr, e->highpass_seconds);  // as the recordings were
    centre_scale(X, V, P, 0, D * c);
    for (size_t b = 0; b < e->n_extra; b++) centre_scale(X, V, P, D * c + b * D, D * c + (b + 1) * D);
    float *Xf = base_malloc(base_mul(V, P) * sizeof(float), "design");
    for (size_t i = 0; i < V * P; i++) Xf[i] = (float)X[i];
    free(lag), free(X);
    return Xf;
}

// band scalings: the layer 1, each extra band log-spaced 1e-2..1e2 (one band) or log-uniform draws
static double *band_gammas(const EncodingSpec *e, size_t *n_gammas) {
    size_t NB = 1 + e->n_extra, NG = e->band_scalings ? e->band_scalings : 1;
    double *g = base_malloc(NG * NB * sizeof(double), "band scalings");
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < NG; i++) {
        g[i * NB] = 1.0;
        for (size_t b = 1; b < NB; b++) {
            double u;
            if (e->n_extra == 1) {
                u = NG > 1 ? (double)i / (double)(NG - 1) : 0.5;
            } else {
                s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
                u = (double)((s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
            }
            g[i * NB + b] = pow(10.0, -2.0 + 4.0 * u);
        }
    }
    *n_gammas = NG;
    return g;
}

int encoding_design(const EncodingSpec *e, const float *x, size_t C, EncodingDesign *d, char *err) {
    memset(d, 0, sizeof *d);
    if (e->n_extra > 64) return base_errf(err, "at most 64 extra bands (got %zu)", e->n_extra);
    const size_t V = n_samples(e);
    const int K = e->cv->n_blocks;
    const LinalgOps *la = e->linalg ? e->linalg : &linalg_ops_cpu;
    double *feat = base_malloc(base_mul(V, C) * sizeof(double), "layer samples");
    if (e->grid) {
        feat_words_to_volumes(feat, x, e->word_time, e->W, C, e->grid, e->resample, e->lanczos_a);
    } else {
        for (size_t i = 0; i < V * C; i++) feat[i] = x[i];
    }
    feat_zscore(feat, V, C);

    // one design, or one per outer fold from that fold's PCA (large LAPACK work: every thread when alone)
    int blas = threads_blas_widen();
    size_t k = d->components = encoding_components(e, C), c = k ? k : C;
    int per_fold = k && !e->pca_fit_all;
    float **X = d->X = base_calloc((size_t)K, sizeof(float *), "designs");
    d->F = per_fold ? (size_t)K : 1, d->V = V, d->P = (c + e->n_extra) * e->D;
    if (!k) {
        X[0] = design(e, feat, C, V);
    } else {
        // the fits: one on all samples, or one per outer fold on its training samples (sharing their work)
        const size_t F = per_fold ? (size_t)K : 1;
        uint8_t *in = base_malloc(F * V, "fold rows"), *m = base_malloc(2 * e->cv->n_seg, "masks");
        memset(in, 1, F * V);
        for (size_t f = 0; per_fold && f < F; f++) {
            size_t ntr, nte;
            cv_split(e->cv, (int)f, -1, m, m + e->cv->n_seg, &ntr, &nte);
            for (size_t sg = 0; sg < e->cv->n_seg; sg++)
                memset(in + f * V + e->cv->seg_start[sg], m[sg], e->cv->seg_start[sg + 1] - e->cv->seg_start[sg]);
        }
        Pca *pca = base_malloc(F * sizeof(Pca), "pca");
        pca_fit_folds(pca, feat, V, C, in, F, k, (PcaMethod)e->pca_method, 1, la);
        double *red = base_malloc(base_mul(V, k) * sizeof(double), "components");
        for (size_t f = 0; f < F; f++) {
            pca_transform(&pca[f], feat, V, red, la);
            pca_free(&pca[f]);
            X[f] = design(e, red, k, V);
        }
        free(red), free(pca), free(in), free(m);
    }
    free(feat);
    threads_blas_restore(blas);
    return 0;
}

void encoding_design_free(EncodingDesign *d) {
    for (size_t f = 0; d->X && f < d->F; f++) free(d->X[f]);
    free(d->X);
    ridge_designs_free(d->splits);
    memset(d, 0, sizeof *d);
}

int encoding_fit_design(const EncodingSpec *e, const EncodingDesign *d, EncodingOut *out, EncodingStats *stats,
                        char *err) {
    memset(stats, 0, sizeof *stats);
    const size_t V = n_samples(e), T = e->targets->T, P = stats->width = d->P;
    const LinalgOps *la = e->linalg ? e->linalg : &linalg_ops_cpu;
    stats->components = d->components;
    size_t c = P / e->D - e->n_extra;
    int per_fold = d->F > 1;
    if (d->V != V || (d->F != 1 && d->F != (size_t)e->cv->n_blocks) || P != (c + e->n_extra) * e->D)
        return base_errf(err, "a design of %zu x %zu in %zu fold(s) does not fit %zu samples, %d folds and %zu delays",
                         d->V, d->P, d->F, V, e->cv->n_blocks, e->D);
    float *const *X = d->X;

    size_t bands[1 + 64], NG = 0;
    bands[0] = c * e->D;
    for (size_t b = 0; b < e->n_extra; b++) bands[1 + b] = e->D;
    double *gammas = e->n_extra ? band_gammas(e, &NG) : NULL;
    RidgeConfig rc = {.cv = e->cv,
                      .alphas = e->alphas,
                      .n_alphas = e->n_alphas,
                      .select = e->select,
                      .n_bands = e->n_extra ? 1 + e->n_extra : 0,
                      .band_size = bands,
                      .n_gammas = NG,
                      .gammas = gammas,
                      .memory_bytes = e->memory_bytes,
                      .linalg = la,
                      .designs = d->splits};
    double *r = base_malloc(T * sizeof(double), "r"), *r2 = base_malloc(T * sizeof(double), "r2");
    double *alpha = base_malloc(T * sizeof(double), "alpha");
    float *pred = e->permutations ? base_malloc(base_mul(V, T) * sizeof(float), "predictions") : NULL;
    // weights (P, T) are the first P rows of out->weights (weights_rows, T)
    RidgeOut ro = {r, r2, alpha, NULL, pred, out->weights, out->weights ? out->intercept : NULL};
    // a stop request is honoured between the steps, and inside the ridge between target batches
    int rc_fit = base_stop_signal ? 1
                                  : ridge_cv((const float *const *)X, per_fold, P, e->targets, &rc, &ro, &stats->ridge, err);
    for (size_t t = 0; rc_fit == 0 && t < T; t++) {
        out->r[t] = (float)r[t], out->r2[t] = (float)r2[t], out->alpha[t] = (float)alpha[t];
        out->p[t] = out->q[t] = NAN;
    }
    for (size_t i = P * T; rc_fit == 0 && out->weights && i < out->weights_rows * T; i++) out->weights[i] = NAN;
    if (rc_fit == 0 && pred && base_stop_signal) rc_fit = 1;
    if (rc_fit == 0 && pred) {
        double *p = base_malloc(T * sizeof(double), "p"), *q = base_malloc(T * sizeof(double), "q");
        size_t min_shift = e->null_min_shift ? e->null_min_shift : V / 10;
        rc_fit = signif_shift_null(p, NULL, pred, e->targets->Y, V, T, e->cv, r, e->permutations, min_shift, la, err);
        if (rc_fit == 0) {
            stats->n_shifts = signif_shifts(NULL, V, e->permutations, min_shift);
            signif_fdr_bh(q, p, T);
            for (size_t t = 0; t < T; t++) out->p[t] = (float)p[t], out->q[t] = (float)q[t];
        }
        free(p), free(q);
    }
    free(gammas), free(r), free(r2), free(alpha), free(pred);
    return rc_fit;
}

int encoding_fit(const EncodingSpec *e, const float *x, size_t C, EncodingOut *out, EncodingStats *stats, char *err) {
    EncodingDesign d;
    memset(stats, 0, sizeof *stats);
    if (encoding_design(e, x, C, &d, err)) return -1;
    int rc = encoding_fit_design(e, &d, out, stats, err);
    encoding_design_free(&d);
    return rc;
}
