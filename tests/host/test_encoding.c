// One encoding-model fit end to end: words to samples, PCA per fold or on all samples, delays,
// an extra band, ridge and the shift null, on targets planted from known features.
#include <math.h>
#include <string.h>

#include "host/base.h"
#include "host/cv.h"
#include "host/encoding.h"
#include "tests/test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double nrand(void) { return test_nrand(&rng); }

static double mean(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s / (double)n;
}

typedef struct {
    float r[8], r2[8], alpha[8], p[8], q[8], intercept[8];
    float *weights;
} Out;

static int fit(EncodingSpec *e, const float *x, size_t C, Out *o, size_t weights_rows, EncodingStats *st, char *err) {
    EncodingOut eo = {o->r, o->r2, o->alpha, o->p, o->q, o->weights, o->weights ? o->intercept : NULL, weights_rows};
    return encoding_fit(e, x, C, &eo, st, err);
}

TEST_MAIN("test_encoding") {
    char err[BASE_ERR_LEN];
    // word-level: W words, C features of which the targets see a low-rank part
    const size_t W = 800, C = 60, T = 8;
    float *x = malloc(W * C * sizeof(float)), *Y = malloc(W * T * sizeof(float));
    double latent[W][3];
    for (size_t w = 0; w < W; w++) {
        for (int k = 0; k < 3; k++) latent[w][k] = nrand();
        for (size_t c = 0; c < C; c++)  // features: 3 strong latent directions plus weak noise
            x[w * C + c] = (float)(latent[w][0] * sin(c + 1.0) + latent[w][1] * cos(2.0 * c) +
                                   latent[w][2] * sin(0.5 * c + 0.3) + 0.3 * nrand());
        for (size_t t = 0; t < T; t++)  // targets 0-5: signal of decreasing strength; 6-7: noise
            Y[w * T + t] = (float)(t < 6 ? (latent[w][t % 3] + (double)t * 0.4 * nrand()) : nrand());
    }
    // targets z-scored as the sweep does
    for (size_t t = 0; t < T; t++) {
        double s = 0, ss = 0;
        for (size_t w = 0; w < W; w++) s += Y[w * T + t], ss += (double)Y[w * T + t] * Y[w * T + t];
        double m = s / W, sd = sqrt(ss / W - m * m);
        for (size_t w = 0; w < W; w++) Y[w * T + t] = (float)((Y[w * T + t] - m) / sd);
    }
    CvPlan cv;
    cv_plan_folds(&cv, W, 5, 0, err);
    RidgeTargets rt;
    CHECK(ridge_targets_init(&rt, Y, W, T, &cv, err) == 0, "targets/init");
    double alphas[13];
    base_logspace(alphas, -2, 4, 13);
    int delays0[1] = {0};
    EncodingSpec e = {NULL, RESAMPLE_SUM, 3, NULL, W, delays0, 1, 0, 10, 0, PCA_EIGH, NULL, 0, &cv, &rt,
                      alphas, 13, RIDGE_SELECT_INNER, 0, 1 << 26, 0, 0};
    Out o = {0};
    EncodingStats st;

    CHECK(encoding_components(&e, C) == 10 && encoding_width(&e, C) == 10, "width/pca_10 (%zu)", encoding_width(&e, C));
    e.pca_components = 500;
    CHECK(encoding_components(&e, C) == 0 && encoding_width(&e, C) == C, "width/more_components_than_features_is_no_pca");
    e.pca_components = 10;

    // fold-wise PCA, PCA on all words, no PCA: the planted signal is found by each, noise is not
    int modes[3][2] = {{10, 0}, {10, 1}, {0, 0}};
    const char *mode_name[3] = {"pca_per_fold", "pca_all", "no_pca"};
    float r_mode[3][T];
    for (int mi = 0; mi < 3; mi++) {
        e.pca_components = (size_t)modes[mi][0], e.pca_fit_all = modes[mi][1];
        int rc = fit(&e, x, C, &o, 0, &st, err);
        CHECK(rc == 0, "%s/fits %s", mode_name[mi], rc ? err : "");
        memcpy(r_mode[mi], o.r, sizeof o.r);
        // noise sd 0, 0.4, 0.8: the best possible r is 1, 0.93, 0.78
        CHECK(o.r[0] > 0.95 && o.r[1] > 0.88 && o.r[2] > 0.72, "%s/strong_targets_found (r %.3f %.3f %.3f)", mode_name[mi],
              o.r[0], o.r[1], o.r[2]);
        CHECK(o.r[0] > o.r[3] && o.r[3] > o.r[5] && o.r[5] > 0.2, "%s/weaker_signal_lower_r (%.3f %.3f %.3f)",
              mode_name[mi], o.r[0], o.r[3], o.r[5]);
        CHECK(fabs(o.r[6]) < 0.15 && fabs(o.r[7]) < 0.15, "%s/noise_targets_near_0 (%.3f %.3f)", mode_name[mi], o.r[6],
              o.r[7]);
        CHECK(st.components == (size_t)modes[mi][0] && st.width == (modes[mi][0] ? 10 : C), "%s/stats (%zu, %zu)",
              mode_name[mi], st.components, st.width);
        CHECK(isnan(o.p[0]) && isnan(o.q[0]), "%s/no_p_without_permutations", mode_name[mi]);
    }
    // 10 components keep the 3 latent directions: all three agree closely
    double d = 0;
    for (size_t t = 0; t < 6; t++) d = fmax(d, fmax(fabs(r_mode[0][t] - r_mode[2][t]), fabs(r_mode[1][t] - r_mode[2][t])));
    CHECK(d < 0.03, "pca/agrees_with_no_pca_on_low_rank_signal (max |dr| %.4f)", d);

    // one design (fold-wise PCA) fitted twice, as two subject groups share it: each fit equals a fresh encoding_fit
    {
        e.pca_components = 10, e.pca_fit_all = 0;
        EncodingDesign dsg;
        int rc = encoding_design(&e, x, C, &dsg, err);
        CHECK(rc == 0 && dsg.F == (size_t)e.cv->n_blocks && dsg.P == 10 && dsg.components == 10,
              "design/one_per_outer_fold (%zu x %zu x %zu)", dsg.F, dsg.V, dsg.P);
        Out o2 = {0};
        EncodingOut eo = {o2.r, o2.r2, o2.alpha, o2.p, o2.q, NULL, NULL, 0};
        int same = rc == 0 && fit(&e, x, C, &o, 0, &st, err) == 0;
        for (int k = 0; same && k < 2; k++)
            same = encoding_fit_design(&e, &dsg, &eo, &st, err) == 0 && memcmp(o2.r, o.r, sizeof o.r) == 0 &&
                   memcmp(o2.alpha, o.alpha, sizeof o.alpha) == 0 && st.components == 10 && st.width == 10;
        CHECK(same, "design/shared_fits_equal_a_fresh_fit_bit_for_bit");
        if (rc == 0) {
            dsg.V--;  // a design of another sampling is refused, not read past its end
            CHECK(encoding_fit_design(&e, &dsg, &eo, &st, err) != 0 && strstr(err, "does not fit"),
                  "design/of_another_sampling_refused (%s)", err);
            dsg.V++;
        }
        encoding_design_free(&dsg);
    }

    // permutations: signal targets significant after FDR, noise targets not
    e.pca_components = 10, e.pca_fit_all = 0, e.permutations = 400;
    CHECK(fit(&e, x, C, &o, 0, &st, err) == 0, "signif/fits");
    CHECK(o.q[0] < 0.05 && o.q[1] < 0.05 && o.q[2] < 0.05, "signif/signal_q_below_0.05 (%.4f %.4f %.4f)", o.q[0],
          o.q[1], o.q[2]);
    CHECK(o.p[6] > 0.01 && o.p[7] > 0.01, "signif/noise_p_not_small (%.3f %.3f)", o.p[6], o.p[7]);
    CHECK(st.n_shifts == 400, "signif/shifts (%zu)", st.n_shifts);
    e.permutations = 0;

    // weights: PCA on all words, rows past the width are NaN
    e.pca_fit_all = 1;
    o.weights = malloc(12 * T * sizeof(float));
    CHECK(fit(&e, x, C, &o, 12, &st, err) == 0, "weights/fits");
    int finite = 1, nan_tail = 1;
    for (size_t i = 0; i < 10 * T; i++) finite &= isfinite(o.weights[i]);
    for (size_t i = 10 * T; i < 12 * T; i++) nan_tail &= isnan(o.weights[i]);
    CHECK(finite && nan_tail, "weights/finite_rows_then_nan_padding");
    free(o.weights);
    o.weights = NULL;

    // sampled design: words summed into 2 s volumes, delays, a word-rate band with its own penalty
    {
        const size_t V = 400;
        VolumeGrid g = {0, 2.0, V};
        double *wt = malloc(W * sizeof(double));
        for (size_t w = 0; w < W; w++) wt[w] = 800.0 * (double)w / (double)W + 0.3;  // 2 words per volume
        double *rate = malloc(V * sizeof(double));
        float *Yv = calloc(V * T, sizeof(float));
        for (size_t v = 0; v < V; v++) rate[v] = 0;
        for (size_t w = 0; w < W; w++) rate[(size_t)(wt[w] / 2.0)] += 1;
        // target t: the volume sum of latent 0 two volumes earlier, plus noise
        for (size_t w = 0; w < W; w++) {
            size_t v = (size_t)(wt[w] / 2.0) + 2;
            if (v < V)
                for (size_t t = 0; t < T; t++) Yv[v * T + t] += (float)latent[w][0];
        }
        for (size_t v = 0; v < V; v++)
            for (size_t t = 0; t < T; t++) Yv[v * T + t] += (float)(0.5 * nrand());
        CvPlan cvv;
        cv_plan_folds(&cvv, V, 4, 2, err);
        RidgeTargets rtv;
        ridge_targets_init(&rtv, Yv, V, T, &cvv, err);
        int delays[3] = {1, 2, 3};
        EncodingSpec ev = {&g, RESAMPLE_SUM, 3, wt, W, delays, 3, 0, 10, 0, PCA_EIGH, rate, 1, &cvv, &rtv,
                           alphas, 13, RIDGE_SELECT_INNER, 5, 1 << 26, 0, 0};
        CHECK(encoding_width(&ev, C) == 33, "sampled/width_with_band (%zu)", encoding_width(&ev, C));
        int rc = fit(&ev, x, C, &o, 0, &st, err);
        CHECK(rc == 0 && st.width == 33, "sampled/fits %s", rc ? err : "");
        CHECK(mean(o.r, T) > 0.8, "sampled/delayed_signal_found (mean r %.3f)", mean(o.r, T));
        // control: delays on both sides of the planted lag of 2 but not 2 itself. The words' latents are
        // independent, so no other delay carries the signal and the fit must find nothing (held-out r of
        // unpredictable targets runs slightly negative, as in test_ridge's noise targets: the bound is one-sided).
        int around[4] = {0, 1, 3, 4};
        ev.delays = around, ev.D = 4;
        rc = fit(&ev, x, C, &o, 0, &st, err);
        CHECK(rc == 0 && mean(o.r, T) < 0.2, "sampled/delays_without_the_lag_find_nothing (mean r %.3f) %s",
              mean(o.r, T), rc ? err : "");
        ridge_targets_free(&rtv);
        cv_free(&cvv);
        free(wt), free(rate), free(Yv);
    }
    ridge_targets_free(&rt);
    cv_free(&cv);
    free(x), free(Y);
}
