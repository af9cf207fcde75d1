/*
 * highgamma: the high-gamma envelope of iEEG channels as naplib-python computes it
 * (phase_amplitude_extract(x, fs, Wn=[[lo, hi]]), Edwards et al. 2009), the common average reference,
 * and window means of an envelope around word centres.
 *
 * The filter bank (naplib 2.6.0, filter_hilbert): centre frequencies start at f0 = 0.018 Hz, step by
 * sigma(cf) = 10^(log10(0.39) + 0.5 log10(cf)) below 4 Hz and by 1/7 octave above, until log2(cf/f0) reaches
 * log2((hi + 1)/f0); the bands are those with lo <= cf <= hi, each a Gaussian of SD sd = sqrt(2) sigma(cf).
 * For [70, 150]: 8 bands, cf 71.985 ... 143.971 Hz, sd 4.680 ... 6.618 Hz.
 *
 * Full-rate envelope (hg_envelope_full, the reference; naplib's definition, no notch): X = DFT of the whole
 * signal (length N, no padding); per band, Z[k] = X[k] H(k fs/N) h[k] with H(f) = exp(-0.5 ((f - cf)/sd)^2),
 * h = 0 at DC and negative frequencies, 2 for 0 < k < N/2, 1 at the Nyquist bin of an even N; z = inverse DFT
 * of length N; env[n] = mean over bands of |z[n]|.
 *
 * Output envelope (hg_envelope, the pipeline's fast path): M = round(N out_rate / fs) samples, sample j at time
 * j N / (M fs) seconds (= j / out_rate when N out_rate / fs is an integer; hg_out_rate gives the exact rate).
 * Definition: hg_resample(full-rate envelope, N -> M), i.e. the full-rate envelope low-passed by DFT truncation
 * to the bins |k| <= M/2 (an even M's Nyquist bin counted twice, as scipy.signal.resample does) and sampled
 * on that grid — exactly what naplib returns with fs_out = out_rate.
 * Computation: one forward r2c FFT of length N (single precision, no padding, so the filters sit on naplib's
 * grid); per band only the bins within +-6 sd of cf (Gaussian tail cut < 2e-8) are weighted, shifted to
 * baseband and inverse-transformed at length L, a 2,3,5-smooth length for the rate L fs / N >= out_rate/2 +
 * 37.5 sd_max (300 Hz for high gamma at out_rate 100; L = 540,000 for 921,600 samples at 512 Hz) and >= the
 * band's width: that samples the same complex signal z at L points (|z| does not see the shift). The bands' |z|
 * are averaged at that rate, then DFT-truncated from L to M as above. Departures from the definition: the tail
 * cut, the envelope's content above 37.5 sd_max Hz aliasing into the kept band, and single precision;
 * measured (tests/host/test_highgamma.c): max |diff| <= 8.7e-4 of the envelope's max, rms 6e-5 of its rms.
 * Notch (line_freq > 0, fast path only): on the bands' bins, zero within notch_width/4 of every harmonic of
 * line_freq, a raised cosine up to 1 at notch_width/2. It matters only where a band's Gaussian reaches (for
 * [70, 150]: 120 Hz fully, 60 Hz at 4% of the lowest band's peak, 180 Hz below 1e-6). Line noise that is not
 * periodic over the recording leaves a transient in the first and last few seconds (the circular transform's
 * wrap-around jump), which no spectral notch removes: measured 8% of the envelope's max at 2-4 s from an end
 * for line noise 20x the signal, 0.8% at 4-6 s, < 0.1% beyond 10 s.
 *
 * Shapes: N samples of one channel; x (N); env (hg_out_len) or (N) for the full-rate reference.
 * Ownership: hg_plan returns a plan the caller frees with hg_plan_free; outputs are caller-allocated.
 * Errors: hg_plan returns NULL and writes one sentence into err (BASE_ERR_LEN) for impossible options or
 * lengths; the rest cannot fail (allocation failures DIE).
 * Threads: a plan is read-only after creation; hg_envelope and hg_envelope_full may run concurrently on the
 * same plan from many threads (new-array FFTW execution, per-call workspace). hg_plan, hg_plan_free and
 * hg_resample plan FFTs: FFTW's planner is not thread-safe, so call them outside parallel regions.
 */
#ifndef HOST_HIGHGAMMA_H
#define HOST_HIGHGAMMA_H

#include <stddef.h>

typedef struct {
    double band_lo, band_hi;  // Hz: the bank's centre frequencies lie in [band_lo, band_hi] (70, 150)
    double line_freq;         // Hz: notch at it and every harmonic; 0 = no notch (fast path only)
    double notch_width;       // Hz: full width of each notch, taper included (e.g. 2)
    double out_rate;          // Hz: the envelope's output rate (100)
    int full_rate;            // 1: the bands' |z| at the full rate (L = N): naplib's own fs_out output to float
                              // precision, about 3x slower; 0: at the reduced rate below
} HgOptions;

typedef struct HgPlan HgPlan;  // FFTW plans and filter tables for one signal length and rate

// NULL + err when fs < 2 band_hi, band_lo >= band_hi, no centre in the band (or > 128), out_rate outside
// (0, fs], line_freq or notch_width < 0, N < 16, fewer than 4 output samples, or N > INT_MAX (FFTW's lengths).
HgPlan *hg_plan(size_t N, double fs, const HgOptions *o, char *err);
void hg_plan_free(HgPlan *p);

size_t hg_bands(const HgPlan *p, double *cf, double *sd);  // the bank size; fills cf, sd (each may be NULL)
size_t hg_out_len(const HgPlan *p);                        // M = round(N out_rate / fs)
double hg_out_rate(const HgPlan *p);                       // M fs / N: the output's exact sampling rate
size_t hg_mid_len(const HgPlan *p);                        // L: the length the bands' |z| are computed at

// The fast path: notch, filter bank and envelope at the output rate. x (N), env (hg_out_len).
void hg_envelope(const HgPlan *p, const float *x, float *env);
// The reference: the full-rate envelope exactly as naplib defines it (no notch), double precision. x (N), env (N).
void hg_envelope_full(const HgPlan *p, const double *x, double *env);

// DFT-truncation resampling as scipy.signal.resample(x, m) for m <= n: bins |k| <= m/2 kept, an even m's
// Nyquist bin doubled when m < n; y[j] samples the result at time j n / m (in x's samples). x (n), y (m).
void hg_resample(const double *x, size_t n, double *y, size_t m);

// Common average reference, in place: the mean over the good channels, per sample, subtracted from every
// channel (the bad ones too, so any later use sees one reference). x (C, N) channel-major, good (C) 1/0.
// No good channel: x unchanged. Runs on the OpenMP threads.
void hg_car(float *x, const unsigned char *good, size_t C, size_t N);

// Mean of a series sampled at `rate` (first sample at time 0) over [centre - width/2, centre + width/2]:
// the exact integral of the linearly interpolated series divided by the width, so the value does not depend
// on the sampling phase. Windows reaching before time 0 or after (n - 1)/rate: NaN. env (n), centre (W), out (W).
void hg_window_means(float *out, const float *env, size_t n, double rate, const double *centre, size_t W,
                     double width);

#endif  // HOST_HIGHGAMMA_H
