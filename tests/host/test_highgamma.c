// The high-gamma envelope against naplib and against its own definition, the notch, CAR, window means, and the
// responsive t-test against naplib. Fixtures: tests/golden/make_highgamma_fixture.py (naplib 2.6.0).
#include <jansson.h>
#include <math.h>
#include <omp.h>

#include "host/base.h"
#include "host/highgamma.h"
#include "host/responsive.h"
#include "tests/test.h"

#define FIX "tests/fixtures/highgamma/"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double nrand(void) { return test_nrand(&rng); }
static double urand(void) { return test_urand(&rng); }

static float *read_f32(const char *name, size_t n) {
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *x = malloc(n * sizeof *x);
    size_t got = fread(x, sizeof *x, n, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != n || extra) {
        free(x);
        return NULL;
    }
    return x;
}

// max |a - b| / max |b|
static double rel_err(const double *a, const double *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i])), m = fmax(m, fabs(b[i]));
    return d / m;
}

static double pearson(const double *a, const double *b, size_t n) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= n, mb /= n;
    for (size_t i = 0; i < n; i++)
        sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
    return sab / sqrt(saa * sbb);
}

static const HgOptions HG_DEFAULT = {.band_lo = 70, .band_hi = 150, .line_freq = 0, .notch_width = 2, .out_rate = 100};

// background of a recording: 1/f amplitude (amp / f over 0.5..250 Hz, random phases: far above the carrier below
// 10 Hz, a few percent of it in the band) plus white noise
static void background(double *x, size_t N, double fs, double amp) {
    enum { NS = 300 };
    double f[NS], a[NS], ph[NS];
    for (int s = 0; s < NS; s++) f[s] = 0.5 + 249.5 * urand(), a[s] = amp / f[s], ph[s] = 2 * M_PI * urand();
    for (size_t i = 0; i < N; i++) {
        double v = 0.2 * nrand();
        for (int s = 0; s < NS; s++) v += a[s] * sin(2 * M_PI * f[s] * i / fs + ph[s]);
        x[i] = v;
    }
}

// the AM signal of cases 2 and 5: carrier (a 100 Hz sine, or noise in 75-140 Hz) times 1 + 0.5 sin(2 pi 1.3 t),
// amplitude 2, over the background above (amp 3: in-band background power about 2% of the carrier's)
static void am_signal(double *x, size_t N, double fs, int noise_carrier) {
    enum { NC = 400 };
    double f[NC], ph[NC];
    for (int s = 0; s < NC; s++) f[s] = 75 + 65 * urand(), ph[s] = 2 * M_PI * urand();
    background(x, N, fs, 3.0);
    for (size_t i = 0; i < N; i++) {
        double t = i / fs, c = 0;
        if (noise_carrier)
            for (int s = 0; s < NC; s++) c += sin(2 * M_PI * f[s] * t + ph[s]) / sqrt(NC / 2.0);
        else
            c = sin(2 * M_PI * 100 * t);
        x[i] += 2 * c * (1 + 0.5 * sin(2 * M_PI * 1.3 * t));
    }
}

// centred moving average over w samples (circular): the 1.3 Hz modulation passes, Rayleigh fluctuations of a
// noise carrier's envelope (bandwidth tens of Hz) do not
static void smooth(double *y, const double *x, size_t n, size_t w) {
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < w; k++) s += x[(i + n + k - w / 2) % n];
        y[i] = s / w;
    }
}

static void to_f32(float *y, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
}
static void to_f64(double *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i];
}

// fast path vs its definition (full-rate reference, DFT truncation) on one signal: max |diff| / max |ref|, and in
// rms[0] the rms of the difference over the rms of the reference
static double fast_vs_definition(const HgPlan *p, const double *x, size_t N, double *rms) {
    size_t M = hg_out_len(p);
    double *full = malloc(N * 8), *def = malloc(M * 8), *got = malloc(M * 8);
    float *xf = malloc(N * 4), *env = malloc(M * 4);
    to_f32(xf, x, N);
    to_f64(full, xf, N);  // both sides see the same float input
    hg_envelope_full(p, full, full);
    hg_resample(full, N, def, M);
    hg_envelope(p, xf, env);
    to_f64(got, env, M);
    double e = rel_err(got, def, M), d2 = 0, r2 = 0;
    for (size_t j = 0; j < M; j++) d2 += (got[j] - def[j]) * (got[j] - def[j]), r2 += def[j] * def[j];
    *rms = sqrt(d2 / r2);
    free(full), free(def), free(got), free(xf), free(env);
    return e;
}

static void test_bank(void) {
    static const double cf_notes[8] = {71.985, 79.478, 87.751, 96.885, 106.970, 118.104, 130.398, 143.971};
    static const double sd_notes[8] = {4.680, 4.917, 5.167, 5.429, 5.704, 5.994, 6.298, 6.618};
    char err[BASE_ERR_LEN];
    HgPlan *p = hg_plan(5120, 512, &HG_DEFAULT, err);
    double cf[64], sd[64];
    size_t nb = p ? hg_bands(p, cf, sd) : 0;
    double dc = 0, ds = 0;
    for (size_t b = 0; b < nb && b < 8; b++)
        dc = fmax(dc, fabs(cf[b] - cf_notes[b])), ds = fmax(ds, fabs(sd[b] - sd_notes[b]));
    CHECK(nb == 8 && dc < 1e-3 && ds < 1e-3, "bank/notes_8_bands (n=%zu, max |dcf| %.1e, |dsd| %.1e)", nb, dc, ds);

    json_error_t jerr;
    json_t *ref = json_load_file(FIX "reference.json", 0, &jerr);
    json_t *jcf = json_object_get(ref, "cf"), *jsd = json_object_get(ref, "sd");
    double worst = json_array_size(jcf) == nb ? 0 : INFINITY;
    for (size_t b = 0; b < nb && isfinite(worst); b++)
        worst = fmax(worst, fmax(fabs(cf[b] - json_real_value(json_array_get(jcf, b))),
                                 fabs(sd[b] - json_real_value(json_array_get(jsd, b)))));
    CHECK(worst < 1e-9, "bank/equals_naplib_filter_hilbert (max diff %.1e)", worst);
    hg_plan_free(p);

    // another band follows the same rule (theta, [4, 8] Hz: 7 bands 1/7 octave apart)
    HgOptions theta = HG_DEFAULT;
    theta.band_lo = 4, theta.band_hi = 8, theta.out_rate = 20;
    p = hg_plan(5120, 512, &theta, err);
    nb = p ? hg_bands(p, cf, NULL) : 0;
    json_t *j48 = json_object_get(ref, "cf_4_8");
    worst = json_array_size(j48) == nb && nb > 0 ? 0 : INFINITY;
    for (size_t b = 0; b < nb && isfinite(worst); b++)
        worst = fmax(worst, fabs(cf[b] - json_real_value(json_array_get(j48, b))));
    CHECK(worst < 1e-9, "bank/theta_4_8_equals_naplib (n=%zu, %.3f..%.3f Hz, max diff %.1e)", nb, nb ? cf[0] : 0,
          nb ? cf[nb - 1] : 0, worst);
    hg_plan_free(p);
    json_decref(ref);

    HgOptions bad = HG_DEFAULT;
    CHECK(!hg_plan(5120, 250, &bad, err) && strstr(err, "twice"), "bank/rejects_fs_below_2_band_hi (%s)", err);
    bad.band_lo = 150, bad.band_hi = 151;
    CHECK(!hg_plan(5120, 512, &bad, err) && strstr(err, "no filter-bank centre"), "bank/rejects_empty_band (%s)", err);
    CHECK(!hg_plan(10, 512, &HG_DEFAULT, err), "bank/rejects_short_signal (%s)", err);
}

static void test_am(void) {
    size_t N = 60 * 512;
    double fs = 512;
    char err[BASE_ERR_LEN];
    HgPlan *p = hg_plan(N, fs, &HG_DEFAULT, err);
    size_t M = hg_out_len(p);
    double rate = hg_out_rate(p), *x = malloc(N * 8), *mod = malloc(M * 8), *got = malloc(M * 8);
    float *xf = malloc(N * 4), *env = malloc(M * 4);
    for (size_t j = 0; j < M; j++) mod[j] = 1 + 0.5 * sin(2 * M_PI * 1.3 * j / rate);
    for (int noise = 0; noise < 2; noise++) {
        am_signal(x, N, fs, noise);
        to_f32(xf, x, N);
        hg_envelope(p, xf, env);
        to_f64(got, env, M);
        double r = pearson(got, mod, M);
        if (!noise) {
            CHECK(M == 6000 && r >= 0.95, "am/sine_100Hz_carrier_envelope_tracks_modulation (r=%.4f at 100 Hz)", r);
            continue;
        }
        // a noise carrier's own envelope fluctuates (Rayleigh, CV ~0.5, correlation time ~15 ms) at every sample, so
        // even a perfect envelope correlates ~0.8 with the modulation at 100 Hz and ~0.92 after the 250 ms average
        // that suits a 1.3 Hz modulation best (longer averages lose more of the modulation than of the noise)
        double *gs = malloc(M * 8), *ms = malloc(M * 8);
        smooth(gs, got, M, 25), smooth(ms, mod, M, 25);
        double rs = pearson(gs, ms, M);
        CHECK(rs >= 0.9 && r > 0.75, "am/noise_75_140Hz_carrier_envelope_tracks_modulation (r=%.4f at 100 Hz, %.4f "
              "after 250 ms averaging)", r, rs);
        free(gs), free(ms);
    }
    free(x), free(mod), free(got), free(xf), free(env);
    hg_plan_free(p);
}

static void test_naplib(void) {
    json_error_t jerr;
    json_t *ref = json_load_file(FIX "reference.json", 0, &jerr);
    CHECK(ref != NULL, "naplib/fixture_readable (naplib %s)",
          ref ? json_string_value(json_object_get(ref, "naplib")) : jerr.text);
    if (!ref) return;
    const char *tags[2] = {"even", "odd"};
    for (int k = 0; k < 2; k++) {
        json_t *c = json_object_get(ref, tags[k]);
        size_t C = (size_t)json_integer_value(json_object_get(c, "channels"));
        size_t N = (size_t)json_integer_value(json_object_get(c, "samples"));
        size_t M = (size_t)json_integer_value(json_object_get(c, "out_len"));
        double fs = json_number_value(json_object_get(c, "fs"));
        char name[64];
        snprintf(name, sizeof name, "%s-x.f32", tags[k]);
        float *x = read_f32(name, C * N);
        snprintf(name, sizeof name, "%s-env.f32", tags[k]);
        float *env = read_f32(name, C * N);
        snprintf(name, sizeof name, "%s-env100.f32", tags[k]);
        float *env100 = read_f32(name, C * M);
        CHECK(x && env && env100, "naplib/%s_fixture_files (%zu x %zu, out %zu)", tags[k], C, N, M);
        if (!x || !env || !env100) continue;
        char err[BASE_ERR_LEN];
        HgPlan *p = hg_plan(N, fs, &HG_DEFAULT, err);
        HgOptions exact_o = HG_DEFAULT;
        exact_o.full_rate = 1;
        HgPlan *px = hg_plan(N, fs, &exact_o, err);
        double *xd = malloc(N * 8), *got = malloc(N * 8), *want = malloc(N * 8);
        float *fast = malloc(M * 4);
        double e_full = 0, e_fast = 0, e_exact = 0;
        for (size_t ch = 0; ch < C; ch++) {
            to_f64(xd, x + ch * N, N);
            hg_envelope_full(p, xd, got);
            to_f64(want, env + ch * N, N);
            e_full = fmax(e_full, rel_err(got, want, N));
            hg_envelope(p, x + ch * N, fast);
            to_f64(got, fast, M);
            to_f64(want, env100 + ch * M, M);
            e_fast = fmax(e_fast, rel_err(got, want, M));
            hg_envelope(px, x + ch * N, fast);
            to_f64(got, fast, M);
            e_exact = fmax(e_exact, rel_err(got, want, M));
        }
        CHECK(hg_mid_len(px) == N && e_exact <= 1e-4,
              "naplib/%s_full_rate_option_vs_fs_out_100 (the pipeline's ieeg.envelope: exact; max|diff|/max|ref| = "
              "%.2e <= 1e-4)",
              tags[k], e_exact);
        hg_plan_free(px);
        CHECK(hg_out_len(p) == M && e_full <= 1e-4,
              "naplib/%s_full_rate_envelope (N=%zu, max|diff|/max|ref| = %.2e <= 1e-4)", tags[k], N, e_full);
        CHECK(e_fast <= 1e-3, "naplib/%s_fast_path_vs_fs_out_100 (M=%zu, max|diff|/max|ref| = %.2e <= 1e-3)", tags[k],
              M, e_fast);
        hg_plan_free(p);
        free(xd), free(got), free(want), free(fast), free(x), free(env), free(env100);
    }
    json_decref(ref);
}

// bound: max |diff| <= 1.5e-3 of the max, rms <= 1e-4 (aliasing of the envelope's tails, see highgamma.c)
static void test_fast_vs_definition(void) {
    static const size_t lens[] = {5120, 4999, 7919, 100003, 921600};
    char err[BASE_ERR_LEN];
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        size_t N = lens[k];
        double *x = malloc(N * 8), rw, ra = 0;
        for (size_t i = 0; i < N; i++) x[i] = nrand();
        HgPlan *p = hg_plan(N, 512, &HG_DEFAULT, err);
        double e_white = fast_vs_definition(p, x, N, &rw);
        if (N <= 100003) {  // the 1/f background costs O(N * 300) to synthesise
            am_signal(x, N, 512, 1);
            double e_am = fast_vs_definition(p, x, N, &ra);
            CHECK(e_am <= 1.5e-3 && ra <= 1e-4, "fast/matches_definition am+1/f N=%zu (max %.2e, rms %.2e)", N, e_am,
                  ra);
        }
        CHECK(e_white <= 1.5e-3 && rw <= 1e-4,
              "fast/matches_definition white N=%zu (M=%zu, L=%zu; max %.2e <= 1.5e-3, rms %.2e <= 1e-4)", N,
              hg_out_len(p), hg_mid_len(p), e_white, rw);
        hg_plan_free(p);
        free(x);
    }
    // another rate and output rate: 1000 Hz in, 50 Hz out
    size_t N = 30011;
    HgOptions o = HG_DEFAULT;
    o.out_rate = 50;
    HgPlan *p = hg_plan(N, 1000, &o, err);
    double *x = malloc(N * 8), rms;
    for (size_t i = 0; i < N; i++) x[i] = nrand();
    double e = fast_vs_definition(p, x, N, &rms);
    CHECK(e <= 1.5e-3 && rms <= 1e-4, "fast/matches_definition fs=1000 out=50 N=%zu (M=%zu, L=%zu; max %.2e, rms %.2e)",
          N, hg_out_len(p), hg_mid_len(p), e, rms);
    hg_plan_free(p);
    free(x);
}

static void test_notch(void) {
    size_t N = 60 * 512;
    double fs = 512;
    char err[BASE_ERR_LEN];
    HgOptions o = HG_DEFAULT;
    o.line_freq = 60, o.notch_width = 2;
    HgPlan *pn = hg_plan(N, fs, &o, err), *p0 = hg_plan(N, fs, &HG_DEFAULT, err);
    size_t M = hg_out_len(pn);
    double *x = malloc(N * 8), *clean = malloc(M * 8), *noisy = malloc(M * 8), *raw = malloc(M * 8);
    float *xf = malloc(N * 4), *env = malloc(M * 4);
    am_signal(x, N, fs, 0);
    to_f32(xf, x, N);
    hg_envelope(pn, xf, env);
    to_f64(clean, env, M);
    // line noise 20x the carrier, slightly off 60 Hz (mains drift), with harmonics
    for (size_t i = 0; i < N; i++) {
        double t = i / fs;
        x[i] += 40 * sin(2 * M_PI * 60.013 * t) + 15 * sin(2 * M_PI * 120.026 * t + 1) +
                8 * sin(2 * M_PI * 180.039 * t);
    }
    to_f32(xf, x, N);
    hg_envelope(pn, xf, env);
    to_f64(noisy, env, M);
    hg_envelope(p0, xf, env);
    to_f64(raw, env, M);
    // the interior, 4 s from either end: line noise that is not periodic over the recording leaves a transient
    // at the ends (the circular transform's wrap-around), which no notch of the spectrum removes; measured: 7.7e-2
    // of the max at 2-4 s, 7.6e-3 at 4-6 s, 6e-4 at 10-12 s
    size_t edge = (size_t)(4 * hg_out_rate(pn));
    double e_notch = rel_err(noisy + edge, clean + edge, M - 2 * edge);
    double e_raw = rel_err(raw + edge, clean + edge, M - 2 * edge);
    double e_edge = rel_err(noisy, clean, M);
    CHECK(e_notch < 0.01 && e_raw > 1, "notch/line_noise_removed (interior: with notch %.2e, without %.2e of max; "
          "with the ends %.2e)", e_notch, e_raw, e_edge);
    free(x), free(clean), free(noisy), free(raw), free(xf), free(env);
    hg_plan_free(pn), hg_plan_free(p0);
}

static void test_car_windows(void) {
    size_t C = 7, N = 5003;
    float *x = malloc(C * N * 4), *ref = malloc(C * N * 4);
    unsigned char good[7] = {1, 0, 1, 1, 0, 1, 1};
    for (size_t i = 0; i < C * N; i++) x[i] = (float)(10 * nrand() + 3);
    for (size_t n = 0; n < N; n++) {
        double m = 0;
        for (size_t c = 0; c < C; c++) m += good[c] ? x[c * N + n] : 0;
        m /= 5;
        for (size_t c = 0; c < C; c++) ref[c * N + n] = (float)(x[c * N + n] - m);
    }
    hg_car(x, good, C, N);
    double d = 0, s = 0;
    for (size_t i = 0; i < C * N; i++) d = fmax(d, fabs(x[i] - ref[i]));
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++) s += good[c] ? x[c * N + n] : 0;
    CHECK(d < 1e-5 && fabs(s) / N < 1e-4, "car/matches_direct_mean_of_good_channels (max diff %.1e)", d);
    free(x), free(ref);

    // a ramp env[i] = 2 + 0.5 i at 100 Hz: the mean over any window is the ramp at its centre
    size_t n = 200;
    float env[200];
    for (size_t i = 0; i < n; i++) env[i] = (float)(2 + 0.5 * i);
    double centre[6] = {0.05, 0.5, 0.5037, 1.2345, 1.94, 1.99}, want[4];
    float out[6];
    hg_window_means(out, env, n, 100, centre, 6, 0.1);
    double worst = 0;
    for (int w = 0; w < 4; w++) want[w] = 2 + 0.5 * centre[w] * 100, worst = fmax(worst, fabs(out[w] - want[w]));
    CHECK(worst < 1e-4 && isnan(out[5]) && !isnan(out[4]),
          "windows/ramp_mean_is_centre_value_and_nan_outside (max diff %.1e; 1.94 s ok, 1.99 s NaN)", worst);
    // a square 0/1 pattern: the exact integral of the interpolant, by hand
    float sq[6] = {0, 1, 0, 1, 0, 1};
    double c1[2] = {0.015, 0.025}, c0 = -0.001;
    hg_window_means(out, sq, 6, 100, c1, 2, 0.01);  // [1, 2] in samples: mean of 1 -> 0 linear = 0.5
    hg_window_means(out + 2, sq, 6, 100, &c0, 1, 0.01);
    CHECK(fabs(out[0] - 0.5) < 1e-6 && fabs(out[1] - 0.5) < 1e-6 && isnan(out[2]),
          "windows/piecewise_linear_by_hand (%.6f, %.6f; before start NaN)", out[0], out[1]);
}

static void test_ttest(void) {
    CHECK(fabs(resp_t_pvalue(2.0, 10) / 0.07338803 - 1) < 1e-6, "t/p(2.0, df 10) = %.8f", resp_t_pvalue(2.0, 10));
    CHECK(fabs(resp_t_pvalue(1.96, 1e6) - 0.04999) < 2e-5, "t/p(1.96, df 1e6) = %.6f", resp_t_pvalue(1.96, 1e6));
    CHECK(resp_t_pvalue(0, 7) == 1 && resp_t_pvalue(-2.0, 10) == resp_t_pvalue(2.0, 10) && isnan(resp_t_pvalue(NAN, 3)),
          "t/p(0)=1, symmetric, NaN in NaN out");
    double tiny = resp_t_pvalue(50, 100);
    CHECK(tiny > 0 && tiny < 1e-60, "t/large_t_tiny_p (t 50, df 100: %.3e)", tiny);

    json_error_t jerr;
    json_t *ref = json_load_file(FIX "reference.json", 0, &jerr), *tab = json_object_get(ref, "t_pvalues");
    double worst = json_array_size(tab) > 10 ? 0 : INFINITY;
    for (size_t i = 0; i < json_array_size(tab); i++) {
        json_t *row = json_array_get(tab, i);
        double t = json_number_value(json_array_get(row, 0)), df = json_number_value(json_array_get(row, 1));
        double want = json_number_value(json_array_get(row, 2)), got = resp_t_pvalue(t, df);
        worst = fmax(worst, fabs(got / want - 1));
    }
    CHECK(worst < 1e-10, "t/mpmath_table_df_1_to_1e7 (%zu values, max rel err %.1e)", json_array_size(tab), worst);
    json_decref(ref);

    // naplib's responsive_ttest on the fixture's trials
    json_t *r = json_load_file(FIX "resp.json", 0, &jerr);
    size_t C = (size_t)json_integer_value(json_object_get(r, "channels"));
    size_t n = (size_t)json_integer_value(json_object_get(r, "samples"));
    json_t *jon = json_object_get(r, "onsets");
    size_t K = json_array_size(jon);
    double *on = malloc(K * 8), t[8], p[8], q[8];
    for (size_t k = 0; k < K; k++) on[k] = json_number_value(json_array_get(jon, k));
    float *env = read_f32("resp-env.f32", C * n);
    CHECK(env && C <= 8, "resp/fixture_files (%zu x %zu, %zu onsets)", C, n, K);
    if (!env || C > 8) return;
    double rate = json_number_value(json_object_get(r, "rate")), pre = json_number_value(json_object_get(r, "pre"));
    double post = json_number_value(json_object_get(r, "post"));
    size_t used = resp_ttest(env, C, n, rate, on, K, pre, post, t, p, q);
    double et = 0, ep = 0, eq = 0;
    for (size_t c = 0; c < C; c++) {
        double wt = -json_number_value(json_array_get(json_object_get(r, "stat_pre_minus_post"), c));
        double wp = json_number_value(json_array_get(json_object_get(r, "p"), c));
        double wq = json_number_value(json_array_get(json_object_get(r, "q"), c));
        et = fmax(et, fabs(t[c] - wt) / fabs(wt)), ep = fmax(ep, fabs(p[c] / wp - 1));
        eq = fmax(eq, fabs(q[c] / wq - 1));
    }
    CHECK(used == (size_t)json_integer_value(json_object_get(r, "used")) && et < 1e-9 && ep < 1e-8 && eq < 1e-8,
          "resp/equals_naplib_responsive_ttest (%zu of %zu onsets; rel err t %.1e, p %.1e, q %.1e)", used, K, et, ep,
          eq);
    free(env), free(on);
    json_decref(r);

    // calibration: 10 channels step up for 0.6 s after each onset, 90 are noise
    C = 100, n = 60000, K = 60;
    env = malloc(C * n * 4);
    on = malloc(K * 8);
    double *tt = malloc(C * 8), *pp = malloc(C * 8), *qq = malloc(C * 8);
    for (size_t k = 0; k < K; k++) on[k] = 5 + 9.8 * k + urand();
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < n; i++) env[c * n + i] = (float)nrand();
    for (size_t c = 0; c < 10; c++)
        for (size_t k = 0; k < K; k++)
            for (size_t i = (size_t)(on[k] * 100); i < (size_t)(on[k] * 100) + 60; i++) env[c * n + i] += 0.3f;
    resp_ttest(env, C, n, 100, on, K, 0.5, 0.5, tt, pp, qq);
    size_t hit = 0, false_pos = 0;
    for (size_t c = 0; c < C; c++) c < 10 ? (hit += qq[c] < 0.05 && tt[c] > 0) : (false_pos += qq[c] < 0.05);
    CHECK(hit == 10 && false_pos <= 2, "resp/calibration (responsive %zu of 10 at q < 0.05, noise %zu of 90)", hit,
          false_pos);
    free(env), free(on), free(tt), free(pp), free(qq);
}

static void test_speed(void) {
    size_t N = 921600;
    char err[BASE_ERR_LEN];
    double t0 = base_wall();
    HgPlan *p = hg_plan(N, 512, &HG_DEFAULT, err);
    double t_plan = base_wall() - t0;
    size_t M = hg_out_len(p);
    enum { CH = 8 };
    float *x = malloc(CH * N * 4), *env = malloc(CH * M * 4);
    for (size_t i = 0; i < CH * N; i++) x[i] = (float)nrand();
    double best = INFINITY;
    for (int r = 0; r < 3; r++) {
        t0 = base_wall();
        hg_envelope(p, x, env);
        best = fmin(best, base_wall() - t0);
    }
    int nt = omp_get_max_threads();
    t0 = base_wall();
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < CH; c++) hg_envelope(p, x + c * N, env + c * M);
    double par = (base_wall() - t0) / CH;
    double load[1] = {NAN};
    getloadavg(load, 1);  // other processes on the machine slow both figures; the load says how much
    printf("  speed: plan %.0f ms; hg_envelope on %zu samples: %.1f ms/channel on 1 thread, %.1f ms/channel with %d "
           "threads -> 1330 channels: %.1f s (load average %.1f)\n", 1e3 * t_plan, N, 1e3 * best, 1e3 * par, nt,
           1330 * par, load[0]);
    int finite = 1;
    for (size_t i = 0; i < CH * M; i++) finite &= isfinite(env[i]) && env[i] > 0;
    CHECK(finite, "speed/outputs_finite_positive (%.1f ms/channel, 1 thread)", 1e3 * best);
    free(x), free(env);
    hg_plan_free(p);
}

TEST_MAIN("test_highgamma") {
    test_bank();
    test_am();
    test_naplib();
    test_fast_vs_definition();
    test_notch();
    test_car_windows();
    test_ttest();
    test_speed();
}
