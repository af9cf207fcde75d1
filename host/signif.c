#include "host/signif.h"

#include <complex.h>
#include <fftw3.h>
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
                      const CvPlan *cv, const double *r_obs, size_t n_null, size_t min_shift, char *err) {
    size_t n = signif_shifts(NULL, N, n_null, min_shift);
    if (n == 0)
        return base_errf(err, "a null of circular shifts needs shifts of at least %zu among %zu samples", min_shift, N);
    size_t *shift = base_malloc(n * sizeof(size_t), "shifts");
    signif_shifts(shift, N, n_null, min_shift);
    const int K = cv->n_blocks;
    const size_t F = N / 2 + 1;  // complex bins of a real FFT
    double *buf = fftw_alloc_real(N);
    fftw_complex *spec = fftw_alloc_complex(F);
    fftw_plan fwd, inv;
    // FFTW's planner is not thread-safe, and layers' fits run on several threads at once: one planner at a time,
    // in every module (the critical section's name is global)
#pragma omp critical(fftw_planner)
    {
        fwd = fftw_plan_dft_r2c_1d((int)N, buf, spec, FFTW_ESTIMATE);
        inv = fftw_plan_dft_c2r_1d((int)N, spec, buf, FFTW_ESTIMATE);
    }
    // the folds' indicators, transformed once (each its own aligned array, as FFTW's new-array execute needs)
    fftw_complex **mask_spec = base_malloc((size_t)K * sizeof(fftw_complex *), "fold spectra");
    double *count = base_calloc((size_t)K, sizeof(double), "fold sizes");
    for (int k = 0; k < K; k++) {
        for (size_t i = 0; i < N; i++) buf[i] = cv->block[i] == k, count[k] += cv->block[i] == k;
        mask_spec[k] = fftw_alloc_complex(F);
        fftw_execute_dft_r2c(fwd, buf, mask_spec[k]);
    }
#pragma omp parallel
    {
        double *x = fftw_alloc_real(N), *ca = fftw_alloc_real(N), *cb = fftw_alloc_real(N), *cc = fftw_alloc_real(N);
        fftw_complex *fy = fftw_alloc_complex(F), *fy2 = fftw_alloc_complex(F), *fu = fftw_alloc_complex(F);
        fftw_complex *tmp = fftw_alloc_complex(F);
        double *null_sum = base_malloc(n * sizeof(double), "null");
#pragma omp for schedule(dynamic)
        for (size_t t = 0; t < T; t++) {
            if (isnan(r_obs[t])) {
                p[t] = NAN;
                for (size_t j = 0; null && j < n; j++) null[t * n + j] = NAN;
                continue;
            }
            for (size_t i = 0; i < N; i++) x[i] = Y[i * T + t];
            fftw_execute_dft_r2c(fwd, x, fy);
            for (size_t i = 0; i < N; i++) x[i] = (double)Y[i * T + t] * Y[i * T + t];
            fftw_execute_dft_r2c(fwd, x, fy2);
            memset(null_sum, 0, n * sizeof(double));
            for (int k = 0; k < K; k++) {
                double sp = 0, spp = 0;
                for (size_t i = 0; i < N; i++) {
                    double v = cv->block[i] == k ? pred[i * T + t] : 0.0;
                    x[i] = v, sp += v, spp += v * v;
                }
                fftw_execute_dft_r2c(fwd, x, fu);
                // cross-correlation sum_i u_i v_{i+s} = IFFT(conj(U) V)(s) / N
                const fftw_complex *m = mask_spec[k];
                for (size_t f = 0; f < F; f++) tmp[f] = conj(fu[f]) * fy[f];
                fftw_execute_dft_c2r(inv, tmp, ca);
                for (size_t f = 0; f < F; f++) tmp[f] = conj(m[f]) * fy[f];
                fftw_execute_dft_c2r(inv, tmp, cb);
                for (size_t f = 0; f < F; f++) tmp[f] = conj(m[f]) * fy2[f];
                fftw_execute_dft_c2r(inv, tmp, cc);
                for (size_t j = 0; j < n; j++) {
                    size_t s = shift[j];
                    null_sum[j] += fold_r(count[k], sp, spp, ca[s] / N, cb[s] / N, cc[s] / N);
                }
            }
            size_t exceed = 0;
            for (size_t j = 0; j < n; j++) {
                exceed += !(null_sum[j] / K < r_obs[t]);  // NaN null counts against
                if (null) null[t * n + j] = null_sum[j] / K;
            }
            p[t] = (1.0 + (double)exceed) / (1.0 + (double)n);
        }
        free(null_sum);
        fftw_free(x), fftw_free(ca), fftw_free(cb), fftw_free(cc), fftw_free(fy), fftw_free(fy2), fftw_free(fu);
        fftw_free(tmp);
    }
#pragma omp critical(fftw_planner)
    fftw_destroy_plan(fwd), fftw_destroy_plan(inv);
    for (int k = 0; k < K; k++) fftw_free(mask_spec[k]);
    fftw_free(buf), fftw_free(spec), free(mask_spec);
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
