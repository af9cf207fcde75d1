#include "host/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double feat_lanczos(double u, int a) {
    if (u == 0.0) return 1.0;
    if (fabs(u) >= a) return 0.0;
    double pu = M_PI * u;
    return a * sin(pu) * sin(pu / a) / (pu * pu);
}

void feat_words_to_volumes(double *out, const float *x, const double *word_time, size_t W, size_t C,
                           const VolumeGrid *g, ResampleKind kind, int lanczos_a) {
    memset(out, 0, g->n_volumes * C * sizeof(double));
    for (size_t w = 0; w < W; w++) {
        const float *xw = x + w * C;
        double u = (word_time[w] - g->t0) / g->tr;  // position in volumes
        if (kind != RESAMPLE_LANCZOS) {
            if (u < 0) continue;
            size_t j = (size_t)floor(u);
            if (j >= g->n_volumes) continue;
            double *o = out + j * C;
            for (size_t c = 0; c < C; c++) o[c] += xw[c];
        } else {
            // volumes whose centre lies within a lobes of the word
            double lo = ceil(u - 0.5 - lanczos_a), hi = floor(u - 0.5 + lanczos_a);
            for (double jj = lo < 0 ? 0 : lo; jj <= hi && jj < (double)g->n_volumes; jj++) {
                double k = feat_lanczos(jj + 0.5 - u, lanczos_a);
                if (k == 0.0) continue;
                double *o = out + (size_t)jj * C;
                for (size_t c = 0; c < C; c++) o[c] += k * xw[c];
            }
        }
    }
}

void feat_delay(double *out, const double *in, size_t V, size_t C, const int *delays, size_t D) {
    size_t width = D * C;
    for (size_t j = 0; j < V; j++) {
        for (size_t d = 0; d < D; d++) {
            double *o = out + j * width + d * C;
            long src = (long)j - delays[d];
            if (src < 0 || src >= (long)V) memset(o, 0, C * sizeof(double));
            else memcpy(o, in + (size_t)src * C, C * sizeof(double));
        }
    }
}

size_t feat_highpass(double *x, size_t N, size_t C, double tr, double cutoff) {
    // DCT-II basis b_k[n] = sqrt(2/N) cos(pi k (2n+1) / 2N), b_0 = 1/sqrt(N): orthonormal, so the
    // projection is a sum of rank-one removals. K = floor(2 N tr / cutoff) + 1 as in spm_filter.
    size_t K = cutoff > 0 ? (size_t)floor(2.0 * (double)N * tr / cutoff) + 1 : 1;
    if (K > N) K = N;
    double *b = malloc(N * sizeof(double)), *dot = malloc(C * sizeof(double));
    for (size_t k = 0; k < K; k++) {
        for (size_t n = 0; n < N; n++)
            b[n] = k == 0 ? 1.0 / sqrt((double)N) : sqrt(2.0 / (double)N) * cos(M_PI * (double)k * (2.0 * (double)n + 1) / (2.0 * (double)N));
        memset(dot, 0, C * sizeof(double));
        for (size_t n = 0; n < N; n++)
            for (size_t c = 0; c < C; c++) dot[c] += b[n] * x[n * C + c];
        for (size_t n = 0; n < N; n++)
            for (size_t c = 0; c < C; c++) x[n * C + c] -= b[n] * dot[c];
    }
    free(b);
    free(dot);
    return K;
}

size_t feat_zscore(double *x, size_t N, size_t C) {
    size_t constant = 0;
    for (size_t c = 0; c < C; c++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < N; i++) mean += x[i * C + c];
        mean /= (double)N;
        for (size_t i = 0; i < N; i++) {
            double d = x[i * C + c] - mean;
            ss += d * d;
        }
        double sd = sqrt(ss / (double)N);
        // relative threshold: a column that only carries rounding noise is constant
        if (sd == 0.0 || sd <= 1e-12 * fabs(mean)) {
            for (size_t i = 0; i < N; i++) x[i * C + c] = 0.0;
            constant++;
            continue;
        }
        for (size_t i = 0; i < N; i++) x[i * C + c] = (x[i * C + c] - mean) / sd;
    }
    return constant;
}
