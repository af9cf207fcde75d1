#include "host/analysis.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"    // defines: base_malloc, base_free
#include "host/signif.h"  // defines: signif_fdr_bh

// ----------------------------------------------------------------------------
// randomness

uint64_t analysis_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t analysis_rng_below(uint64_t *state, size_t n) { return (size_t)(analysis_rng_next(state) % (uint64_t)n); }

void analysis_shuffle(double *a, size_t n, uint64_t *state) {
    for (size_t i = n; i-- > 1;) {
        size_t j = analysis_rng_below(state, i + 1);
        double t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

// ----------------------------------------------------------------------------
// statistics

// the finite pairs of (x, y), packed into xs, ys; returns how many
static size_t finite_pairs(const double *x, const double *y, size_t n, double *xs, double *ys) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            xs[k] = x[i];
            ys[k++] = y[i];
        }
    return k;
}

double analysis_pearson(const double *x, const double *y, size_t n) {
    double mx = 0, my = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            mx += x[i];
            my += y[i];
            k++;
        }
    if (k < 3) return NAN;
    mx /= (double)k;
    my /= (double)k;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            double a = x[i] - mx, b = y[i] - my;
            sxy += a * b;
            sxx += a * a;
            syy += b * b;
        }
    if (sxx <= 0 || syy <= 0) return NAN;
    return sxy / sqrt(sxx * syy);
}

double analysis_permutation_p(const double *x, const double *y, size_t n, size_t n_perm, uint64_t seed, double *r) {
    double *xs = base_malloc(2 * (n ? n : 1) * sizeof(double), "permutation pairs"), *ys = xs + n;
    size_t k = finite_pairs(x, y, n, xs, ys);
    double r_obs = analysis_pearson(xs, ys, k), p = NAN;
    if (r) *r = r_obs;
    if (isfinite(r_obs) && n_perm > 0) {
        uint64_t state = seed;
        size_t count = 0;
        for (size_t i = 0; i < n_perm; i++) {
            analysis_shuffle(ys, k, &state);
            count += fabs(analysis_pearson(xs, ys, k)) >= fabs(r_obs) - 1e-12;
        }
        p = (double)(count + 1) / (double)(n_perm + 1);
    }
    free(xs);
    return p;
}

void analysis_best_layer_q(const double *r, const double *p, size_t L, size_t E, double *q) {
    int *peak = base_malloc((E ? E : 1) * sizeof(int), "peaks");
    double *pb = base_malloc((E ? E : 1) * sizeof(double), "best-layer p");
    analysis_peaks(r, L, E, peak, NULL, NULL);
    for (size_t e = 0; e < E; e++) {
        double v = peak[e] < 0 ? NAN : p[(size_t)peak[e] * E + e] * (double)L;
        pb[e] = v > 1 ? 1 : v;  // NaN stays NaN
    }
    signif_fdr_bh(q, pb, E);
    free(pb);
    free(peak);
}

// ----------------------------------------------------------------------------
// layer curves and brain scores

void analysis_layer_curve(const double *r, size_t L, size_t E, double *mean) {
    for (size_t l = 0; l < L; l++) {
        double s = 0;
        size_t k = 0;
        for (size_t e = 0; e < E; e++)
            if (isfinite(r[l * E + e])) {
                s += r[l * E + e];
                k++;
            }
        mean[l] = k ? s / (double)k : NAN;
    }
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// the q-quantile of v[0..n) (sorted in place), linear between order statistics; NaN for n = 0
static double quantile_sorted(double *v, size_t n, double q) {
    if (n == 0) return NAN;
    qsort(v, n, sizeof(double), by_value);
    double at = q * (double)(n - 1);
    size_t i = (size_t)floor(at);
    if (i + 1 >= n) return v[n - 1];
    return v[i] + (at - (double)i) * (v[i + 1] - v[i]);
}

void analysis_bootstrap_curve(const double *r, size_t L, size_t E, size_t B, uint64_t seed, double level, double *lo,
                              double *hi) {
    if (B == 0 || E == 0) {
        for (size_t l = 0; l < L; l++) lo[l] = hi[l] = NAN;
        return;
    }
    double *means = base_malloc(base_mul(B, L) * sizeof(double), "bootstrap means");  // (L, B)
    double *sum = base_malloc(L * sizeof(double), "bootstrap sums");
    size_t *count = base_malloc(L * sizeof(size_t), "bootstrap counts");
    uint64_t state = seed;
    for (size_t b = 0; b < B; b++) {
        memset(sum, 0, L * sizeof(double));
        memset(count, 0, L * sizeof(size_t));
        for (size_t j = 0; j < E; j++) {
            size_t e = analysis_rng_below(&state, E);
            for (size_t l = 0; l < L; l++)
                if (isfinite(r[l * E + e])) {
                    sum[l] += r[l * E + e];
                    count[l]++;
                }
        }
        for (size_t l = 0; l < L; l++) means[l * B + b] = count[l] ? sum[l] / (double)count[l] : NAN;
    }
    for (size_t l = 0; l < L; l++) {
        double *v = means + l * B;
        size_t k = 0;
        for (size_t b = 0; b < B; b++)
            if (isfinite(v[b])) v[k++] = v[b];
        lo[l] = quantile_sorted(v, k, (1 - level) / 2);
        hi[l] = quantile_sorted(v, k, (1 + level) / 2);
    }
    free(count);
    free(sum);
    free(means);
}

// index of the first highest finite x[i * stride], i < n; -1 if none is finite
static int argmax_strided(const double *x, size_t n, size_t stride) {
    int best = -1;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i * stride]) && (best < 0 || x[i * stride] > x[(size_t)best * stride])) best = (int)i;
    return best;
}

void analysis_peaks(const double *r, size_t L, size_t E, int *peak, double *best, double *com) {
    for (size_t e = 0; e < E; e++) {
        const double *col = r + e;
        int pk = argmax_strided(col, L, E);
        double lo = INFINITY, hi = -INFINITY;
        size_t finite = 0;
        for (size_t l = 0; l < L; l++)
            if (isfinite(col[l * E])) {
                lo = fmin(lo, col[l * E]);
                hi = fmax(hi, col[l * E]);
                finite++;
            }
        double c = NAN;
        if (finite >= 2 && hi > lo) {
            double num = 0, den = 0;
            for (size_t l = 0; l < L; l++)
                if (isfinite(col[l * E])) {
                    double w = (col[l * E] - lo) / (hi - lo);
                    num += (double)l * w;
                    den += w;
                }
            c = num / den;  // den >= 1: the maximum's weight is 1
        }
        if (peak) peak[e] = pk;
        if (best) best[e] = pk < 0 ? NAN : col[(size_t)pk * E];
        if (com) com[e] = c;
    }
}

void analysis_brain_scores(const double *r, size_t L, size_t E, double *mean_of_best, double *best_of_mean,
                           int *best_layer) {
    double *best = base_malloc((E ? E : 1) * sizeof(double), "best r");
    double *curve = base_malloc((L ? L : 1) * sizeof(double), "curve");
    analysis_peaks(r, L, E, NULL, best, NULL);
    analysis_layer_curve(best, 1, E, mean_of_best);
    analysis_layer_curve(r, L, E, curve);
    *best_layer = argmax_strided(curve, L, 1);
    *best_of_mean = *best_layer < 0 ? NAN : curve[*best_layer];
    free(curve);
    free(best);
}

int analysis_first_reaching(const double *curve, size_t L, double frac) {
    int top = argmax_strided(curve, L, 1);
    if (top < 0 || !(curve[top] > 0)) return -1;
    for (size_t l = 0; l < L; l++)
        if (isfinite(curve[l]) && curve[l] >= frac * curve[top]) return (int)l;
    return -1;  // unreachable: the maximum itself qualifies
}

void analysis_group_curves(const double *r, size_t L, size_t E, const int *group, size_t G, double *out) {
    size_t *count = base_malloc((G ? G : 1) * sizeof(size_t), "group counts");
    for (size_t l = 0; l < L; l++) {
        double *o = out + l * G;
        memset(count, 0, G * sizeof(size_t));
        for (size_t g = 0; g < G; g++) o[g] = 0;
        for (size_t e = 0; e < E; e++)
            if (group[e] >= 0 && (size_t)group[e] < G && isfinite(r[l * E + e])) {
                o[group[e]] += r[l * E + e];
                count[group[e]]++;
            }
        for (size_t g = 0; g < G; g++) o[g] = count[g] ? o[g] / (double)count[g] : NAN;
    }
    free(count);
}

// ----------------------------------------------------------------------------
// hierarchy alignment

typedef struct {
    double v;
    size_t i;
} Ranked;

static int by_value_then_index(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

void analysis_quantile_bins(const double *x, size_t n, size_t nb, int *bin) {
    Ranked *order = base_malloc((n ? n : 1) * sizeof(Ranked), "bin order");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bin[i] = -1;
        if (isfinite(x[i])) order[k++] = (Ranked){x[i], i};
    }
    qsort(order, k, sizeof(Ranked), by_value_then_index);
    for (size_t rank = 0; rank < k; rank++) bin[order[rank].i] = (int)(rank * nb / k);
    free(order);
}

void analysis_hierarchy(const double *dist, const double *layer, size_t n, size_t nb, size_t n_perm, uint64_t seed,
                        double *bin_dist, double *bin_layer, AnalysisHierarchy *h) {
    double *d = base_malloc((n ? n : 1) * sizeof(double), "hierarchy distances");
    int *bin = base_malloc((n ? n : 1) * sizeof(int), "hierarchy bins");
    h->n = 0;
    for (size_t i = 0; i < n; i++) {  // an electrode without a layer takes no part in the binning either
        d[i] = isfinite(layer[i]) ? dist[i] : NAN;
        h->n += isfinite(d[i]);
    }
    analysis_quantile_bins(d, n, nb, bin);
    analysis_group_curves(d, 1, n, bin, nb, bin_dist);
    analysis_group_curves(layer, 1, n, bin, nb, bin_layer);
    h->p_electrodes = analysis_permutation_p(d, layer, n, n_perm, seed, &h->r_electrodes);
    h->p_bins = analysis_permutation_p(bin_dist, bin_layer, nb, n_perm, seed + 1, &h->r_bins);
    free(bin);
    free(d);
}

// ----------------------------------------------------------------------------
// model-to-model pathways

void analysis_centre_columns(const float *X, size_t W, size_t d, float *Xc) {
    double *mean = base_calloc(d ? d : 1, sizeof(double), "column means");
    for (size_t w = 0; w < W; w++)
        for (size_t j = 0; j < d; j++) mean[j] += X[w * d + j];
    for (size_t j = 0; j < d; j++) mean[j] /= (double)(W ? W : 1);
    for (size_t w = 0; w < W; w++)
        for (size_t j = 0; j < d; j++) Xc[w * d + j] = (float)((double)X[w * d + j] - mean[j]);
    free(mean);
}

double analysis_cross_norm2(const float *A, const float *B, size_t W, size_t da, size_t db) {
    float *G = base_malloc(base_mul(da, db) * sizeof(float), "cross-product");
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)da, (int)db, (int)W, 1.0f, A, (int)da, B, (int)db,
                0.0f, G, (int)db);
    double s = 0;
    for (size_t i = 0; i < da * db; i++) s += (double)G[i] * G[i];
    free(G);
    return s;
}

double analysis_cka(const float *X, const float *Y, size_t W, size_t da, size_t db) {
    float *Xc = base_malloc(base_mul(W, da) * sizeof(float), "centred X");
    float *Yc = base_malloc(base_mul(W, db) * sizeof(float), "centred Y");
    analysis_centre_columns(X, W, da, Xc);
    analysis_centre_columns(Y, W, db, Yc);
    double xx = sqrt(analysis_cross_norm2(Xc, Xc, W, da, da)), yy = sqrt(analysis_cross_norm2(Yc, Yc, W, db, db));
    double cka = xx > 0 && yy > 0 ? analysis_cross_norm2(Xc, Yc, W, da, db) / (xx * yy) : NAN;
    free(Yc);
    free(Xc);
    return cka;
}

void analysis_profile_similarity(const double *rA, size_t LA, const double *rB, size_t LB, size_t E, double *out) {
    for (size_t a = 0; a < LA; a++)
        for (size_t b = 0; b < LB; b++) out[a * LB + b] = analysis_pearson(rA + a * E, rB + b * E, E);
}

void analysis_best_match(const double *S, size_t LA, size_t LB, int *best) {
    for (size_t a = 0; a < LA; a++) best[a] = argmax_strided(S + a * LB, LB, 1);
}
