// Stop requests (base_stop_signal, set by the sweep's SIGTERM/SIGUSR1 handler): extraction checks it
// before every batch and the ridge before every target batch, and both return 1 with nothing more run;
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

// the CPU table, except that its first held-out score sets the stop flag: a signal that arrives while the
// first target batch runs
static LinalgOps signalling_ops;
static int signal_sent;
static void col_sums_then_signal(double *s, const float *u, size_t ldu, const float *w, size_t ldw, const double *c,
                                 const float *z, size_t ldz, const size_t *col, size_t R, size_t m, int run) {
    if (!signal_sent) base_stop_signal = SIGTERM, signal_sent = 1;
    linalg_ops_cpu.col_sums(s, u, ldu, w, ldw, c, z, ldz, col, R, m, run);
}

static void check_ridge(void) {
    enum { N = 80, P = 6, NT = 300 };
    static float X[N * P], Y[N * NT];
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
    // a small working memory: the targets run in several batches
    RidgeConfig cfg = {.cv = &cv, .alphas = alphas, .n_alphas = 3, .select = RIDGE_SELECT_INNER,
                       .memory_bytes = 64 << 10};
    static double r[2][NT], r2[2][NT], alpha[2][NT];
    const float *xs[1] = {X};
    RidgeStats st;
    RidgeOut o0 = {.r = r[0], .r2 = r2[0], .alpha = alpha[0]}, o1 = {.r = r[1], .r2 = r2[1], .alpha = alpha[1]};
    int rc = ridge_cv(xs, 0, P, &rt, &cfg, &o0, &st, err);
    size_t batches = st.n_batches;
    CHECK(rc == 0 && batches > 2, "ridge/unstopped_fit_takes_several_target_batches (%zu)", batches);
    base_stop_signal = SIGUSR1;
    rc = ridge_cv(xs, 0, P, &rt, &cfg, &o1, &st, err);
    CHECK(rc == 1 && st.n_batches == 0, "ridge/stop_requested_returns_1_before_any_target_batch (rc %d)", rc);

    signalling_ops = linalg_ops_cpu;
    signalling_ops.col_sums = col_sums_then_signal;
    RidgeConfig signalled = cfg;
    signalled.linalg = &signalling_ops;
    base_stop_signal = 0;
    rc = ridge_cv(xs, 0, P, &rt, &signalled, &o1, &st, err);
    CHECK(signal_sent && rc == 1 && st.n_batches == 1,
          "ridge/signal_during_a_target_batch_stops_before_the_next (rc %d, %zu of %zu batches)", rc, st.n_batches,
          batches);

    base_stop_signal = 0;
    rc = ridge_cv(xs, 0, P, &rt, &cfg, &o1, &st, err);
    CHECK(rc == 0 && memcmp(r[0], r[1], sizeof r[0]) == 0 && memcmp(alpha[0], alpha[1], sizeof alpha[0]) == 0,
          "ridge/after_the_stop_is_cleared_the_same_scores_bit_for_bit");
    ridge_targets_free(&rt);
    cv_free(&cv);
}

// the CPU decoder, except that its first embedding sets the stop flag: a signal during the first batch
static int embed_signalled;
static void embed_then_signal(float *out, const int32_t *ids, const int *pos, int T_batch, Decoder *d) {
    if (!embed_signalled) base_stop_signal = SIGTERM, embed_signalled = 1;
    decoder_ops_cpu.embed(out, ids, pos, T_batch, d);
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
    DecoderOps signalling = decoder_ops_cpu;
    signalling.embed = embed_then_signal;
    rc = extract_from_tokens(m, &signalling, ids, T, 1, pos, pos, T, &p, NULL, after, &st, err);
    CHECK(embed_signalled && rc == 1 && st.n_batches == 1,
          "extract/signal_during_a_batch_stops_before_the_next (rc %d, %zu batches)", rc, st.n_batches);

    base_stop_signal = 0;
    rc = extract_from_tokens(m, &decoder_ops_cpu, ids, T, 1, pos, pos, T, &p, NULL, after, &st, err);
    CHECK(rc == 0 && memcmp(before, after, total * sizeof(float)) == 0,
          "extract/after_the_stop_is_cleared_the_same_states_bit_for_bit");
    free(before), free(after);
    model_free(m);
}
