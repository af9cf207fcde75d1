#include "host/highgamma.h"

#include <complex.h>
#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "host/base.h"  // defines: base_malloc, base_errf, DIE, ASSERT

// Gaussian tails beyond HG_TAIL sd are dropped from the fast path: exp(-0.5 * 36) = 1.5e-8 of the peak
#define HG_TAIL 6.0
// The bands' |z| are computed at a rate >= out_rate/2 + HG_GUARD sd_max (sd_max: the widest band's SD), so only
// the envelope's content above HG_GUARD sd_max aliases into the kept band (|z|^2 is band-limited to a few sd;
// |z| has slowly decaying tails from its near-zeros). High gamma: >= 300 Hz at out_rate 100. Measured at
// 921,600 samples, 512 Hz, out_rate 100: mid rates of 250 / 300 / 400 Hz give max errors 1.2e-3 / 8.3e-4 /
// 5.7e-4 of the envelope's max; 300 Hz keeps the inverse transforms at 540,000 points, which FFTW's estimate
// planner handles fast.
#define HG_GUARD 37.5
#define HG_MAX_BANDS 128

struct HgPlan {
    size_t N, F, M, L;  // signal length, N/2 + 1 bins, output length, mid length
    double fs;
    HgOptions o;
    size_t nb;
    double cf[HG_MAX_BANDS], sd[HG_MAX_BANDS];
    size_t k0[HG_MAX_BANDS], width[HG_MAX_BANDS], woff[HG_MAX_BANDS];  // per band: first bin, bins, offset in w
    float *w;  // (sum of width): H(f) h[k] / N / nb with the notch folded in, per band's bins
    fftwf_plan fwd, band_inv, mid_fwd, out_inv;  // r2c N, c2c backward L (out of place), r2c L, c2r M
    fftw_plan ref_fwd, ref_inv;                  // r2c N, c2c backward N (double: the reference)
};

// naplib's centres: linear steps of sigma below 4 Hz, 1/7 octave above, from 0.018 Hz until past hi + 1
static size_t bank(double lo, double hi, double *cf, double *sd) {
    const double a0 = log10(0.39), a1 = 0.5, f0 = 0.018, oct = 1.0 / 7;
    double maxfo = log2((hi + 1) / f0), c = f0, sigma = pow(10, a0 + a1 * log10(c));
    size_t n = 0;
    for (;;) {
        if (c >= lo && c <= hi) {
            if (n == HG_MAX_BANDS) return 0;
            cf[n] = c;
            sd[n] = sqrt(2) * pow(10, a0 + a1 * log10(c));
            n++;
        }
        if (!(log2(c / f0) < maxfo)) break;
        c = c < 4 ? c + sigma : f0 * pow(2, log2(c / f0) + oct);
        sigma = pow(10, a0 + a1 * log10(c));
    }
    return n;
}

// smallest n' >= n whose only prime factors are 2, 3 and 5 (FFTW's fastest lengths)
static size_t smooth_len(size_t n) {
    for (;; n++) {
        size_t m = n;
        while (m % 2 == 0) m /= 2;
        while (m % 3 == 0) m /= 3;
        while (m % 5 == 0) m /= 5;
        if (m == 1) return n;
    }
}

static size_t align64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

HgPlan *hg_plan(size_t N, double fs, const HgOptions *o, char *err) {
    if (!(fs > 0) || !(o->band_lo > 0) || !(o->band_hi > o->band_lo)) {
        base_errf(err, "high-gamma: need 0 < band_lo < band_hi and fs > 0 (got band [%g, %g] Hz, fs %g Hz)",
                  o->band_lo, o->band_hi, fs);
        return NULL;
    }
    if (fs < 2 * o->band_hi) {
        base_errf(err, "high-gamma: sampling rate %g Hz is below twice the band's top (%g Hz)", fs, o->band_hi);
        return NULL;
    }
    if (!(o->out_rate > 0) || o->out_rate > fs || o->notch_width < 0 || o->line_freq < 0) {
        base_errf(err, "high-gamma: need 0 < out_rate <= fs, line_freq >= 0, notch_width >= 0 (got %g, %g, %g Hz)",
                  o->out_rate, o->line_freq, o->notch_width);
        return NULL;
    }
    double cf[HG_MAX_BANDS], sd[HG_MAX_BANDS];
    size_t nb = bank(o->band_lo, o->band_hi, cf, sd);
    if (nb == 0) {
        base_errf(err, "high-gamma: no filter-bank centre lies in [%g, %g] Hz (or more than %d do)", o->band_lo,
                  o->band_hi, HG_MAX_BANDS);
        return NULL;
    }
    size_t M = (size_t)floor(N * o->out_rate / fs + 0.5);
    if (M < 4 || N < 16 || N > INT_MAX) {
        base_errf(err, "high-gamma: %zu samples at %g Hz give %zu output samples at %g Hz (need 4 to INT_MAX)", N, fs,
                  M, o->out_rate);
        return NULL;
    }

    HgPlan *p = base_calloc(1, sizeof *p, "high-gamma plan");
    p->N = N, p->F = N / 2 + 1, p->M = M, p->fs = fs, p->o = *o, p->nb = nb;
    memcpy(p->cf, cf, nb * sizeof *cf);
    memcpy(p->sd, sd, nb * sizeof *sd);
    size_t wmax = 0, wsum = 0;
    for (size_t b = 0; b < nb; b++) {
        double lo = ceil((cf[b] - HG_TAIL * sd[b]) * N / fs), hi = floor((cf[b] + HG_TAIL * sd[b]) * N / fs);
        size_t k0 = lo < 1 ? 1 : (size_t)lo, k1 = hi > (double)(N / 2) ? N / 2 : (size_t)hi;
        p->k0[b] = k0, p->width[b] = k1 >= k0 ? k1 - k0 + 1 : 0, p->woff[b] = wsum;
        wsum += p->width[b];
        if (p->width[b] > wmax) wmax = p->width[b];
    }
    double sd_max = sd[nb - 1], mid_rate = 0.5 * o->out_rate + HG_GUARD * sd_max;  // sd grows with cf
    size_t Lmin = (size_t)ceil(mid_rate * N / fs), L = smooth_len(wmax > Lmin ? wmax : Lmin);
    if (L < M) L = smooth_len(M);
    p->L = L >= N || o->full_rate ? N : L;  // at full length the fast path is the definition up to the tail cut

    p->w = base_malloc(wsum * sizeof *p->w, "high-gamma band weights");
    for (size_t b = 0; b < nb; b++)
        for (size_t i = 0; i < p->width[b]; i++) {
            size_t k = p->k0[b] + i;
            double f = k * fs / N, u = (f - cf[b]) / sd[b], h = (N % 2 == 0 && k == N / 2) ? 1 : 2;
            // 120 Hz lies inside the band, so each notch is narrow: zero within notch_width/4 of the harmonic, a
            // raised cosine up to 1 at notch_width/2. The taper makes the time-domain residual of line noise that
            // is not periodic over the recording (its wrap-around jump) decay fast instead of as 1/t.
            if (o->line_freq > 0 && o->notch_width > 0) {
                double harm = floor(f / o->line_freq + 0.5), d = fabs(f - harm * o->line_freq);
                double q = 0.25 * o->notch_width;
                if (harm >= 1 && d < 2 * q) h *= d <= q ? 0 : 0.5 - 0.5 * cos(M_PI * (d - q) / q);
            }
            p->w[p->woff[b] + i] = (float)(exp(-0.5 * u * u) * h / N / nb);
        }

    // plans are made on scratch arrays of the layout hg_envelope allocates (fftw_malloc alignment)
    float *xr = fftwf_alloc_real(N > L ? N : L), *yr = fftwf_alloc_real(M);
    fftwf_complex *X = fftwf_alloc_complex(p->F), *z = fftwf_alloc_complex(p->L), *zt = fftwf_alloc_complex(p->L);
    double *xd = fftw_alloc_real(N);
    fftw_complex *Xd = fftw_alloc_complex(p->F), *zd = fftw_alloc_complex(N);
#pragma omp critical(fftw_planner)  // FFTW's planners are not thread-safe (the fits plan theirs in host/linalg.c)
    {
        p->fwd = fftwf_plan_dft_r2c_1d((int)N, xr, X, FFTW_ESTIMATE);
        p->band_inv = fftwf_plan_dft_1d((int)p->L, z, zt, FFTW_BACKWARD, FFTW_ESTIMATE);
        p->mid_fwd = fftwf_plan_dft_r2c_1d((int)p->L, xr, X, FFTW_ESTIMATE);
        p->out_inv = fftwf_plan_dft_c2r_1d((int)M, X, yr, FFTW_ESTIMATE);
        p->ref_fwd = fftw_plan_dft_r2c_1d((int)N, xd, Xd, FFTW_ESTIMATE);
        p->ref_inv = fftw_plan_dft_1d((int)N, zd, zd, FFTW_BACKWARD, FFTW_ESTIMATE);
    }
    fftwf_free(xr), fftwf_free(yr), fftwf_free(X), fftwf_free(z), fftwf_free(zt);
    fftw_free(xd), fftw_free(Xd), fftw_free(zd);
    if (!p->fwd || !p->band_inv || !p->mid_fwd || !p->out_inv || !p->ref_fwd || !p->ref_inv)
        DIE("FFTW failed to plan; this is a bug in brainsweep", "high-gamma: FFTW planning failed for N=%zu", N);
    return p;
}

void hg_plan_free(HgPlan *p) {
    if (!p) return;
#pragma omp critical(fftw_planner)
    {
        fftwf_destroy_plan(p->fwd), fftwf_destroy_plan(p->band_inv), fftwf_destroy_plan(p->mid_fwd);
        fftwf_destroy_plan(p->out_inv);
        fftw_destroy_plan(p->ref_fwd), fftw_destroy_plan(p->ref_inv);
    }
    base_free(&p->w);
    base_free(&p);
}

size_t hg_bands(const HgPlan *p, double *cf, double *sd) {
    if (cf) memcpy(cf, p->cf, p->nb * sizeof *cf);
    if (sd) memcpy(sd, p->sd, p->nb * sizeof *sd);
    return p->nb;
}

size_t hg_out_len(const HgPlan *p) { return p->M; }
double hg_out_rate(const HgPlan *p) { return p->M * p->fs / p->N; }
size_t hg_mid_len(const HgPlan *p) { return p->L; }

void hg_envelope(const HgPlan *p, const float *x, float *env) {
    size_t N = p->N, L = p->L, M = p->M;
    // one workspace, carved at 64-byte offsets so every piece keeps fftw_malloc's alignment
    size_t o_x = 0, o_X = o_x + align64(N * sizeof(float)), o_z = o_X + align64(p->F * sizeof(fftwf_complex));
    size_t o_zt = o_z + align64(L * sizeof(fftwf_complex)), o_e = o_zt + align64(L * sizeof(fftwf_complex));
    size_t o_E = o_e + align64(L * sizeof(float));
    size_t o_y = o_E + align64((L / 2 + 1) * sizeof(fftwf_complex)), bytes = o_y + align64(M * sizeof(float));
    char *ws = fftwf_malloc(bytes);
    if (!ws) DIE("not enough memory for one channel's FFTs", "high-gamma: fftwf_malloc(%zu) failed", bytes);
    float *xin = (float *)(ws + o_x), *e = (float *)(ws + o_e), *y = (float *)(ws + o_y);
    fftwf_complex *X = (fftwf_complex *)(ws + o_X), *zf = (fftwf_complex *)(ws + o_z);
    fftwf_complex *z = (fftwf_complex *)(ws + o_zt);
    fftwf_complex *E = (fftwf_complex *)(ws + o_E);

    memcpy(xin, x, N * sizeof *xin);
    fftwf_execute_dft_r2c(p->fwd, xin, X);  // (F)
    memset(e, 0, L * sizeof *e);
    // zf (L) holds one band's bins at 0 .. width - 1 and zeros above; the transform is out of place, so the zeros
    // stay and each band only writes its own bins (widths grow with cf; a narrower band re-zeroes the rest)
    memset(zf, 0, L * sizeof *zf);
    size_t written = 0;
    for (size_t b = 0; b < p->nb; b++) {
        // bins k0 .. k0 + width - 1 move to 0 .. width - 1: z sampled at j N / L, times a phase |z| ignores
        const float *w = p->w + p->woff[b];
        const fftwf_complex *Xb = X + p->k0[b];
        size_t nw = p->width[b];
        for (size_t i = 0; i < nw; i++) zf[i] = Xb[i] * w[i];
        if (written > nw) memset(zf + nw, 0, (written - nw) * sizeof *zf);
        written = nw;
        fftwf_execute_dft(p->band_inv, zf, z);  // (L)
        // sqrtf of the squared modulus; cabsf's overflow-safe hypot is a library call per sample
        for (size_t j = 0; j < L; j++) e[j] += sqrtf(crealf(z[j]) * crealf(z[j]) + cimagf(z[j]) * cimagf(z[j]));
    }
    // DFT truncation L -> M, as hg_resample
    fftwf_execute_dft_r2c(p->mid_fwd, e, E);  // (L/2 + 1)
    if (M < L && M % 2 == 0) E[M / 2] *= 2;
    fftwf_execute_dft_c2r(p->out_inv, E, y);  // reads E[0 .. M/2]
    float s = 1.0f / (float)L;
    for (size_t j = 0; j < M; j++) env[j] = y[j] * s;
    fftwf_free(ws);
}

void hg_envelope_full(const HgPlan *p, const double *x, double *env) {
    size_t N = p->N, F = p->F;
    double *xd = fftw_alloc_real(N);
    fftw_complex *X = fftw_alloc_complex(F), *z = fftw_alloc_complex(N);
    if (!xd || !X || !z) DIE("not enough memory for the reference envelope", "high-gamma: fftw_malloc failed");
    memcpy(xd, x, N * sizeof *xd);
    fftw_execute_dft_r2c(p->ref_fwd, xd, X);
    memset(env, 0, N * sizeof *env);
    for (size_t b = 0; b < p->nb; b++) {
        z[0] = 0;
        for (size_t k = 1; k < F; k++) {
            double f = k * p->fs / N, u = (f - p->cf[b]) / p->sd[b], h = (N % 2 == 0 && k == N / 2) ? 1 : 2;
            z[k] = X[k] * (exp(-0.5 * u * u) * h);
        }
        memset(z + F, 0, (N - F) * sizeof *z);
        fftw_execute_dft(p->ref_inv, z, z);
        for (size_t n = 0; n < N; n++) env[n] += cabs(z[n]);
    }
    double s = 1.0 / ((double)N * p->nb);
    for (size_t n = 0; n < N; n++) env[n] *= s;
    fftw_free(xd), fftw_free(X), fftw_free(z);
}

void hg_resample(const double *x, size_t n, double *y, size_t m) {
    ASSERT(m >= 1 && m <= n);
    if (m == n) {
        memcpy(y, x, n * sizeof *y);
        return;
    }
    double *xd = fftw_alloc_real(n), *yd = fftw_alloc_real(m);
    fftw_complex *X = fftw_alloc_complex(n / 2 + 1);
    fftw_plan fwd, inv;
#pragma omp critical(fftw_planner)
    {
        fwd = fftw_plan_dft_r2c_1d((int)n, xd, X, FFTW_ESTIMATE);
        inv = fftw_plan_dft_c2r_1d((int)m, X, yd, FFTW_ESTIMATE);
    }
    memcpy(xd, x, n * sizeof *xd);
    fftw_execute(fwd);
    // the signal's +m/2 and -m/2 bins both land on an even m's Nyquist bin
    if (m % 2 == 0) X[m / 2] *= 2;
    fftw_execute(inv);
    for (size_t j = 0; j < m; j++) y[j] = yd[j] / n;
#pragma omp critical(fftw_planner)
    fftw_destroy_plan(fwd), fftw_destroy_plan(inv);
    fftw_free(xd), fftw_free(yd), fftw_free(X);
}

void hg_car(float *x, const unsigned char *good, size_t C, size_t N) {
    size_t ng = 0;
    for (size_t c = 0; c < C; c++) ng += good[c] != 0;
    if (ng == 0) return;
    // blocks of samples across all channels: each thread owns a block, its mean stays in cache
    enum { BLK = 2048 };
    size_t nblk = (N + BLK - 1) / BLK;
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblk; blk++) {
        double mean[BLK] = {0};
        size_t n0 = blk * BLK, len = N - n0 < BLK ? N - n0 : BLK;
        for (size_t c = 0; c < C; c++)
            if (good[c])
                for (size_t i = 0; i < len; i++) mean[i] += x[c * N + n0 + i];
        for (size_t i = 0; i < len; i++) mean[i] /= (double)ng;
        for (size_t c = 0; c < C; c++)
            for (size_t i = 0; i < len; i++) x[c * N + n0 + i] = (float)(x[c * N + n0 + i] - mean[i]);
    }
}

// integral of the linear interpolant of f over [i + s, i + e], 0 <= s <= e <= 1, in sample units
static double seg_int(const float *f, size_t i, double s, double e) {
    return (e - s) * f[i] + 0.5 * (e * e - s * s) * ((double)f[i + 1] - f[i]);
}

void hg_window_means(float *out, const float *env, size_t n, double rate, const double *centre, size_t W,
                     double width) {
    for (size_t w = 0; w < W; w++) {
        double u = (centre[w] - 0.5 * width) * rate, v = (centre[w] + 0.5 * width) * rate;
        if (!(u >= 0) || !(v <= (double)(n - 1)) || !(v > u) || n < 2) {
            out[w] = NAN;
            continue;
        }
        size_t i0 = (size_t)u, i1 = (size_t)v;
        if (i1 == n - 1) i1 = n - 2;  // v on the last sample: its segment is the one before
        double sum;
        if (i0 == i1)
            sum = seg_int(env, i0, u - i0, v - i0);
        else {
            sum = seg_int(env, i0, u - i0, 1);
            for (size_t i = i0 + 1; i < i1; i++) sum += 0.5 * ((double)env[i] + env[i + 1]);
            sum += seg_int(env, i1, 0, v - i1);
        }
        out[w] = (float)(sum / (v - u));
    }
}
