#include "host/signif.h"

#include <complex.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"

static double fold_r(double n, double sp, double spp, double a, double b, double c) {
    double cov = a - sp * b / n, vp = spp - sp * sp / n, vy = c - b * b / n;
    return vp > 0 && vy > 1e-12 * (c > 0 ? c : 1.0) ? cov / sqrt(vp * vy) : NAN;
}

double signif_shifted_r(const float *pred, const float *Y, size_t N, size_t T, const CvPlan *cv, size_t t, size_t s) {
    double sum = 0;
    for (int k = 0; k < cv->n_blocks; k++) {
        double n = 0, sp = 0, spp = 0, a = 0, b = 0, c = 0;
        for (size_t i = 0; i < N; i++)
            if (cv->block[i] == k) {
                double p = pred[i * T + t], y = Y[((i + s) % N) * T + t];
                n += 1, sp += p, spp += p * p, a += p * y, b += y, c += y * y;
            }
        sum += fold_r(n, sp, spp, a, b, c);
    }
    return sum / cv->n_blocks;
}

size_t signif_shifts(size_t *shift, size_t N, size_t n_null, size_t min_shift) {
    if (min_shift == 0) min_shift = 1;
    if (N < 2 * min_shift + 1 || n_null == 0) return 0;
    size_t admissible = N - 2 * min_shift + 1, n = n_null < admissible ? n_null : admissible;
    for (size_t j = 0; shift && j < n; j++)
        shift[j] = min_shift + (n > 1 ? j * (admissible - 1) / (n - 1) : admissible / 2);
    return n;
}

int signif_shift_null(double *p, double *null, const float *pred, const float *Y, size_t N, size_t T,
                      const CvPlan *cv, const double *r_obs, size_t n_null, size_t min_shift, const LinalgOps *la,
                      char *err) {
    size_t n = signif_shifts(NULL, N, n_null, min_shift);
    if (n == 0)
        return base_errf(err, "a null of circular shifts needs shifts of at least %zu among %zu samples", min_shift, N);
    size_t *shift = base_malloc(n * sizeof(size_t), "shifts");
    signif_shifts(shift, N, n_null, min_shift);
    const int K = cv->n_blocks;
    // complex bins of a real FFT; spectra Fs apart keep every one 64-byte aligned, as the plans' arrays are
    const size_t F = N / 2 + 1, Fs = (F + 3) / 4 * 4;
    LinalgFft *plan = la->fft_plan(N);
    // the folds' indicators, transformed once
    double complex *mask_spec = la->alloc(base_mul((size_t)K, Fs) * sizeof(double complex), "fold spectra");
    double *buf = la->alloc(N * sizeof(double), "fold indicator"), *hbuf = base_malloc(N * sizeof(double), "fold");
    double *count = base_calloc((size_t)K, sizeof(double), "fold sizes");
    for (int k = 0; k < K; k++) {
        for (size_t i = 0; i < N; i++) hbuf[i] = cv->block[i] == k, count[k] += cv->block[i] == k;
        la->upload(buf, hbuf, N * sizeof(double));
        la->fft_forward(plan, buf, mask_spec + (size_t)k * Fs);
    }
#pragma omp parallel
    {
        // each thread's transforms, one block: four signals (N) and four spectra (F)
        const size_t Ns = (N + 7) / 8 * 8;
        double *x = la->alloc(4 * Ns * sizeof(double) + 4 * Fs * sizeof(double complex), "null transforms");
        double *ca = x + Ns, *cb = ca + Ns, *cc = cb + Ns;
        double complex *fy = (double complex *)(cc + Ns), *fy2 = fy + Fs, *fu = fy2 + Fs, *tmp = fu + Fs;
        double *null_sum = base_malloc(n * sizeof(double), "null");
        // host: the signal to upload, then the three correlations downloaded
        double *hx = base_malloc(4 * N * sizeof(double), "null signals"), *hca = hx + N, *hcb = hca + N, *hcc = hcb + N;
#pragma omp for schedule(dynamic)
        for (size_t t = 0; t < T; t++) {
            if (isnan(r_obs[t])) {
                p[t] = NAN;
                for (size_t j = 0; null && j < n; j++) null[t * n + j] = NAN;
                continue;
            }
            for (size_t i = 0; i < N; i++) hx[i] = Y[i * T + t];
            la->upload(x, hx, N * sizeof(double));
            la->fft_forward(plan, x, fy);
            for (size_t i = 0; i < N; i++) hx[i] = (double)Y[i * T + t] * Y[i * T + t];
            la->upload(x, hx, N * sizeof(double));
            la->fft_forward(plan, x, fy2);
            memset(null_sum, 0, n * sizeof(double));
            for (int k = 0; k < K; k++) {
                double sp = 0, spp = 0;
                for (size_t i = 0; i < N; i++) {
                    double v = cv->block[i] == k ? pred[i * T + t] : 0.0;
                    hx[i] = v, sp += v, spp += v * v;
                }
                la->upload(x, hx, N * sizeof(double));
                la->fft_forward(plan, x, fu);
                // cross-correlation sum_i u_i v_{i+s} = IFFT(conj(U) V)(s) / N
                const double complex *m = mask_spec + (size_t)k * Fs;
                la->conj_mul(tmp, fu, fy, F);
                la->fft_inverse(plan, tmp, ca);
                la->conj_mul(tmp, m, fy, F);
                la->fft_inverse(plan, tmp, cb);
                la->conj_mul(tmp, m, fy2, F);
                la->fft_inverse(plan, tmp, cc);
                la->download(hca, ca, N * sizeof(double));
                la->download(hcb, cb, N * sizeof(double));
                la->download(hcc, cc, N * sizeof(double));
                for (size_t j = 0; j < n; j++) {
                    size_t s = shift[j];
                    null_sum[j] += fold_r(count[k], sp, spp, hca[s] / N, hcb[s] / N, hcc[s] / N);
                }
            }
            size_t exceed = 0;
            for (size_t j = 0; j < n; j++) {
                exceed += !(null_sum[j] / K < r_obs[t]);  // NaN null counts against
                if (null) null[t * n + j] = null_sum[j] / K;
            }
            p[t] = (1.0 + (double)exceed) / (1.0 + (double)n);
        }
        free(null_sum), free(hx);
        la->free(x);
    }
    la->fft_free(plan);
    la->free(mask_spec), la->free(buf), free(hbuf);
    free(count), free(shift);
    return 0;
}

typedef struct {
    double p;
    size_t t;
} Ranked;

static int by_p(const void *a, const void *b) {
    double x = ((const Ranked *)a)->p, y = ((const Ranked *)b)->p;
    return (x > y) - (x < y);
}

void signif_fdr_bh(double *q, const double *p, size_t T) {
    Ranked *r = base_malloc((T ? T : 1) * sizeof(Ranked), "ranks");
    size_t m = 0;
    for (size_t t = 0; t < T; t++) {
        q[t] = NAN;
        if (!isnan(p[t])) r[m++] = (Ranked){p[t], t};
    }
    qsort(r, m, sizeof *r, by_p);
    double running = 1.0;  // q_(i) = min over j >= i of p_(j) m / j
    for (size_t i = m; i-- > 0;) {
        double v = r[i].p * (double)m / (double)(i + 1);
        if (v < running) running = v;
        q[r[i].t] = running;
    }
    free(r);
}
