// The circular-shift null against direct computation, its calibration on noise, and BH q-values.
#include <math.h>

#include "host/base.h"
#include "host/cv.h"
#include "host/signif.h"
#include "tests/test.h"

static uint64_t rng = 0x853c49e6748fea9bull;
static double nrand(void) { return test_nrand(&rng); }

// an autocorrelated series (AR(1), phi 0.6), as recordings are
static void ar1(float *y, size_t N, size_t T, size_t t) {
    double v = nrand();
    for (size_t i = 0; i < N; i++) y[i * T + t] = (float)(v = 0.6 * v + 0.8 * nrand());
}

static double mean_fold_r(const float *pred, const float *Y, size_t N, size_t T, const CvPlan *cv, size_t t) {
    return signif_shifted_r(pred, Y, N, T, cv, t, 0);
}

TEST_MAIN("test_signif") {
    size_t N = 500, T = 400;
    float *Y = malloc(N * T * 4), *pred = malloc(N * T * 4);
    for (size_t t = 0; t < T; t++) ar1(Y, N, T, t), ar1(pred, N, T, t);
    for (size_t t = 0; t < 20; t++)  // the first 20 targets: predictions that carry the signal
        for (size_t i = 0; i < N; i++) pred[i * T + t] = Y[i * T + t] + (float)(1.5 * nrand());
    CvPlan cv;
    char err[BASE_ERR_LEN];
    cv_plan_folds(&cv, N, 5, 0, err);
    double *r = malloc(T * 8), *p = malloc(T * 8), *q = malloc(T * 8);
    for (size_t t = 0; t < T; t++) r[t] = mean_fold_r(pred, Y, N, T, &cv, t);
    // asked for more shifts than there are: all 451 admissible ones (p down to 1/452, fine enough
    // for BH to keep 20 of 400 at q < 0.05)
    size_t n = signif_shifts(NULL, N, 1000, 25);
    double *null = malloc(T * n * 8);
    int rc = signif_shift_null(p, null, pred, Y, N, T, &cv, r, 1000, 25, &linalg_ops_cpu, err);
    CHECK(rc == 0 && n == 451, "null/runs (%zu shifts)", n);

    // the FFT null equals the direct computation at every shift
    size_t *shift = malloc(n * sizeof(size_t));
    signif_shifts(shift, N, 1000, 25);
    double worst = 0;
    for (size_t t = 0; t < T; t += 37)
        for (size_t j = 0; j < n; j++)
            worst = fmax(worst, fabs(null[t * n + j] - signif_shifted_r(pred, Y, N, T, &cv, t, shift[j])));
    CHECK(worst < 1e-9, "null/fft_equals_direct_shifts (max %.1e)", worst);
    CHECK(shift[0] == 25 && shift[n - 1] == N - 25, "null/shifts_span_the_admissible_range (%zu..%zu)", shift[0],
          shift[n - 1]);

    // calibration: noise targets reject at the nominal rate; signal targets all at the smallest p
    size_t below = 0, signal_min = 0;
    for (size_t t = 20; t < T; t++) below += p[t] < 0.05;
    for (size_t t = 0; t < 20; t++) signal_min += p[t] <= 1.0 / (1.0 + (double)n) + 1e-12;
    double rate = (double)below / (double)(T - 20);
    CHECK(rate > 0.02 && rate < 0.09, "null/noise_rejects_at_nominal_rate (%.3f of %zu at p < 0.05)", rate, T - 20);
    CHECK(signal_min == 20, "null/signal_targets_at_smallest_p (%zu of 20)", signal_min);
    signif_fdr_bh(q, p, T);
    size_t fdr_noise = 0, fdr_signal = 0;
    for (size_t t = 0; t < T; t++) {
        if (t < 20) fdr_signal += q[t] < 0.05;
        else fdr_noise += q[t] < 0.05;
    }
    CHECK(fdr_signal == 20 && fdr_noise <= 2, "fdr/keeps_signal_rejects_noise (%zu of 20 signal, %zu of %zu noise)",
          fdr_signal, fdr_noise, T - 20);

    // Benjamini-Hochberg by hand: p = (0.01, 0.04, 0.03, NaN, 0.5) over m = 4 tests
    double hp[5] = {0.01, 0.04, 0.03, NAN, 0.5}, hq[5];
    signif_fdr_bh(hq, hp, 5);
    CHECK(fabs(hq[0] - 0.04) < 1e-12 && fabs(hq[1] - 0.16 / 3) < 1e-12 && fabs(hq[2] - 0.16 / 3) < 1e-12 &&
              isnan(hq[3]) && fabs(hq[4] - 0.5) < 1e-12,
          "fdr/bh_by_hand (%.4f %.4f %.4f %.4f)", hq[0], hq[1], hq[2], hq[4]);
    CHECK(signif_shift_null(p, NULL, pred, Y, 40, T, &cv, r, 10, 25, &linalg_ops_cpu, err) == -1 && strstr(err, "shifts"),
          "null/too_few_samples_refused: %s", err);
    cv_free(&cv);
    free(Y), free(pred), free(r), free(p), free(q), free(null), free(shift);
}
