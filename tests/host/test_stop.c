// Stop requests (base_stop_signal, set by the sweep's SIGTERM/SIGUSR1 handler): extraction checks it
// before every batch and the ridge before every target batch, and both return 1 with nothing run;
// cleared, the same calls give the results of a run that never saw a stop, bit for bit. (Stops inside
// a running unit: tests/e2e/test_faults.sh.)
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "host/base.h"
#include "host/cv.h"
#include "host/decoder_cpu.h"
#include "host/extract.h"
#include "host/model.h"
#include "host/ridge.h"
#include "tests/test.h"

enum { T = 48 };

static void check_ridge(void) {
    enum { N = 80, P = 6, NT = 5 };
    float X[N * P], Y[N * NT];
    uint64_t rng = 12345;
    for (size_t i = 0; i < N * P; i++) X[i] = (float)test_nrand(&rng);
    for (size_t i = 0; i < N * NT; i++) Y[i] = X[i / NT * P + i % P] + (float)test_nrand(&rng);
    char err[BASE_ERR_LEN];
    CvPlan cv;
    RidgeTargets rt;
    if (cv_plan_folds(&cv, N, 5, 0, err) || ridge_targets_init(&rt, Y, N, NT, &cv, err)) {
        CHECK(0, "ridge/setup %s", err);
        return;
    }
    const double alphas[3] = {1, 10, 100};
    RidgeConfig cfg = {&cv, alphas, 3, RIDGE_SELECT_INNER, 0, NULL, 0, NULL, 0};
    double r[2][NT], r2[2][NT], alpha[2][NT];
    const float *xs[1] = {X};
    RidgeStats st;
    RidgeOut o0 = {r[0], r2[0], alpha[0], NULL, NULL, NULL, NULL}, o1 = {r[1], r2[1], alpha[1], NULL, NULL, NULL, NULL};
    int rc = ridge_cv(xs, 0, P, &rt, &cfg, &o0, &st, err);
    CHECK(rc == 0 && st.n_batches > 0, "ridge/unstopped_fit (%zu target batches)", st.n_batches);
    base_stop_signal = SIGUSR1;
    rc = ridge_cv(xs, 0, P, &rt, &cfg, &o1, &st, err);
    CHECK(rc == 1 && st.n_batches == 0, "ridge/stop_requested_returns_1_before_any_target_batch (rc %d)", rc);
    base_stop_signal = 0;
    rc = ridge_cv(xs, 0, P, &rt, &cfg, &o1, &st, err);
    CHECK(rc == 0 && memcmp(r[0], r[1], sizeof r[0]) == 0 && memcmp(alpha[0], alpha[1], sizeof alpha[0]) == 0,
          "ridge/after_the_stop_is_cleared_the_same_scores_bit_for_bit");
    ridge_targets_free(&rt);
    cv_free(&cv);
}

TEST_MAIN("test_stop") {
    check_ridge();
    char err[BASE_ERR_LEN];
    Model *m = model_open("data/models/stories260K.gguf", SIZE_MAX, err);
    if (!m) {
        CHECK(0, "open_stories260K %s", err);
        return;
    }
    // every token a word, a window of 8 tokens each, 16 tokens a batch: several batches
    int32_t ids[T];
    int64_t pos[T];
    for (size_t t = 0; t < T; t++) ids[t] = (int32_t)(1 + t * 7 % 500), pos[t] = (int64_t)t;
    ContextPolicy p = {CTX_TOKENS, 8, 0, -1, WORD_LAST, 16};
    size_t offset[64], total = extract_layer_offsets(m, T, offset);
    float *before = base_malloc(total * sizeof(float), "states"), *after = base_malloc(total * sizeof(float), "states");
    ExtractStats st;
    int rc = extract_from_tokens(m, &decoder_ops_cpu, ids, T, 1, pos, pos, T, &p, NULL, before, &st, err);
    CHECK(rc == 0 && st.n_batches > 1, "extract/unstopped_run_takes_several_batches (%zu)", st.n_batches);

    base_stop_signal = SIGTERM;
    rc = extract_from_tokens(m, &decoder_ops_cpu, ids, T, 1, pos, pos, T, &p, NULL, after, &st, err);
    CHECK(rc == 1 && st.n_batches == 0 && st.tokens_run == 0,
          "extract/stop_requested_returns_1_before_any_batch (rc %d, %zu batches)", rc, st.n_batches);

    base_stop_signal = 0;
    rc = extract_from_tokens(m, &decoder_ops_cpu, ids, T, 1, pos, pos, T, &p, NULL, after, &st, err);
    CHECK(rc == 0 && memcmp(before, after, total * sizeof(float)) == 0,
          "extract/after_the_stop_is_cleared_the_same_states_bit_for_bit");
    free(before), free(after);
    model_free(m);
}
