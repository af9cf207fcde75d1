// The CPU decoder against transformers' hidden states (fp32, same GGUF), context policies and batching.
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/decoder_cpu.h"
#include "host/extract.h"
#include "host/model.h"
#include "host/stimulus.h"
#include "host/threads.h"
#include "host/tokenizer.h"
#include "tests/test.h"

static const char *SMOLLM2 = ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
static const char *STORIES = "data/models/stories260K.gguf";

// every position of ids as a one-token "word", on one sequence without an extra BOS
static float *states_of_ids(Model *m, const int32_t *ids, size_t T, size_t *offset, char *err) {
    int64_t *pos = base_malloc(T * sizeof(int64_t), "positions");
    for (size_t t = 0; t < T; t++) pos[t] = (int64_t)t;
    size_t total = extract_layer_offsets(m, T, offset);
    float *out = base_malloc(total * sizeof(float), "states");
    ContextPolicy full = {CTX_FULL, 0, 0, -1, WORD_LAST, 0};
    ExtractStats st;
    int rc = extract_from_tokens(m, &decoder_ops_cpu, ids, T, -1, pos, pos, T, &full, NULL, out, &st, err);
    free(pos);
    if (rc) {
        free(out);
        return NULL;
    }
    return out;
}

// every layer: max |ours - HF| / max |HF| <= 1e-4 (the bound; fp32 summation order differs)
static void check_hidden(const char *name, const char *model_path, const char *fixture) {
    char err[BASE_ERR_LEN], path[512];
    snprintf(path, sizeof path, "tests/fixtures/%s.json", fixture);
    json_error_t jerr;
    json_t *fx = json_load_file(path, 0, &jerr);
    if (!fx) {
        CHECK(0, "%s: read %s: %s", name, path, jerr.text);
        return;
    }
    json_t *shape = json_object_get(fx, "shape"), *jids = json_object_get(fx, "ids");
    size_t L1 = (size_t)json_integer_value(json_array_get(shape, 0)), T = (size_t)json_integer_value(json_array_get(shape, 1)),
           C = (size_t)json_integer_value(json_array_get(shape, 2));
    snprintf(path, sizeof path, "tests/fixtures/%s.f32", fixture);
    size_t bytes;
    float *ref = (float *)base_read_file(path, &bytes, err);
    Model *m = model_open(model_path, SIZE_MAX, err);
    CHECK(m != NULL, "%s: model opens%s%s", name, m ? "" : ": ", m ? "" : err);
    if (!ref || !m || bytes != L1 * T * C * sizeof(float)) goto done;
    CHECK((size_t)model_config(m)->n_layers + 1 == L1 && (size_t)model_config(m)->d_model == C, "%s: L=%d C=%d", name,
          model_config(m)->n_layers, model_config(m)->d_model);
    int32_t *ids = base_malloc(T * sizeof(int32_t), "ids");
    for (size_t t = 0; t < T; t++) ids[t] = (int32_t)json_integer_value(json_array_get(jids, t));
    size_t offset[64];
    float *got = states_of_ids(m, ids, T, offset, err);
    CHECK(got != NULL, "%s: forward runs", name);
    for (size_t l = 0; got && l < L1; l++) {
        double maxref = 0, maxerr = 0;
        for (size_t i = 0; i < T * C; i++) {
            double r = ref[l * T * C + i], g = got[offset[l] + i];
            maxref = fmax(maxref, fabs(r));
            maxerr = isfinite(g) ? fmax(maxerr, fabs(g - r)) : INFINITY;
        }
        CHECK(maxerr <= 1e-4 * maxref, "%s/hidden_state_%zu max|err|/max|ref| = %.2e (max|ref| %.4g)", name, l,
              maxerr / maxref, maxref);
    }
    free(got);
    free(ids);
done:
    model_free(m);
    free(ref);
    json_decref(fx);
}

static void check_chunk_plan(void) {
    Chunk c[16];
    size_t n = extract_plan_chunks(10, 4, 2, c);
    // [0,4) reports 0..4; [2,6) reports 4..6; [4,8) reports 6..8; [6,10) reports 8..10
    int ok = n == 4 && c[0].start == 0 && c[0].end == 4 && c[0].report == 0 && c[1].start == 2 && c[1].end == 6 &&
             c[1].report == 4 && c[3].start == 6 && c[3].end == 10 && c[3].report == 8;
    CHECK(ok, "chunks/plan_10_tokens_window_4_overlap_2 (%zu chunks)", n);
    n = extract_plan_chunks(3, 8, 4, c);
    CHECK(n == 1 && c[0].start == 0 && c[0].end == 3, "chunks/short_text_is_one_chunk");
    int once = 1;
    size_t covered = 0;
    n = extract_plan_chunks(1000, 97, 31, NULL);
    Chunk *cc = malloc(n * sizeof(Chunk));
    extract_plan_chunks(1000, 97, 31, cc);
    for (size_t i = 0; i < n; i++) {
        once &= cc[i].report == covered && cc[i].end > cc[i].report && cc[i].end - cc[i].start <= 97;
        once &= i == 0 || cc[i].report - cc[i].start >= 31;
        covered = cc[i].end;
    }
    CHECK(once && covered == 1000, "chunks/each_token_reported_once_with_context (%zu chunks)", n);
    free(cc);
}

// Two runs of the same words whose batches differ in shape (one sequence or many, another packing, another share
// of the sequences) go through OpenBLAS kernels that block and sum differently, and which kernels run depends on
// the CPU and the thread count. So states agree to float32 rounding grown over the layers, not bit for bit: we
// bound max|a - b| relative to the largest |state| of that layer (states reach ~15 in stories260K). Measured: up
// to 1.9e-6 across the Cooperlake, SkylakeX, Haswell and Sandybridge kernels at 1 and 2 threads; 2e-5 (~170
// float32 ulps) leaves room for other kernels, while a wrong window or a misplaced row moves states by 1e-2 or more.
#define STATE_RTOL 2e-5

// max |a - b| / max |b| over n values (0 when b is all zeros and a equals it)
static double reldiff(const float *a, const float *b, size_t n) {
    double d = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, isfinite(a[i]) ? fabs((double)a[i] - b[i]) : INFINITY);
        scale = fmax(scale, fabs((double)b[i]));
    }
    return scale > 0 ? d / scale : d;
}

// one word's (L+1) states from a direct forward of [BOS] + body[a, b), capturing body row `row`
static void direct_states(Model *m, const int32_t *body, int bos, size_t a, size_t b, const int *rows, const float *w,
                          int n_rows, float *out, size_t *offset) {
    int T = (int)(b - a) + (bos >= 0);
    int32_t *ids = base_malloc((size_t)T * sizeof(int32_t), "ids");
    int k = 0;
    if (bos >= 0) ids[k++] = bos;
    for (size_t i = a; i < b; i++) ids[k++] = body[i];
    int seq[2] = {0, T};
    TokenBatch batch = {ids, seq, 1};
    Capture cap[16];
    for (int i = 0; i < n_rows; i++) cap[i] = (Capture){rows[i] - (int)a + (bos >= 0), 0, w[i]};
    memset(out, 0, extract_layer_offsets(m, 1, offset) * sizeof(float));  // captures add
    Decoder *d = decoder_create(&decoder_ops_cpu, m, T, T);
    decoder_forward(d, &batch, cap, (size_t)n_rows, out, offset);
    decoder_free(d);
    free(ids);
}

// stories260K, its tokenizer, and the first 60 words of the Alice chapter (all_words: the chapter's count, to restore
// before stim_free); 0 after a failed set-up, which fails the check named `what`/setup
static int open_story60(const char *what, Model **m, Tokenizer **tok, Stimulus *st, size_t *all_words) {
    char err[BASE_ERR_LEN];
    *m = model_open(STORIES, SIZE_MAX, err);
    *tok = *m ? tok_open_for_model(*m, err) : NULL;
    int rc = stim_load_textgrid("data/alice/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid", "word", NULL, 0, st, err);
    CHECK(rc == 0 && *m && *tok, "%s/setup", what);
    if (rc || !*m || !*tok) return 0;
    *all_words = st->n_words;
    st->n_words = 60;
    st->text_len = st->end[59];
    st->text[st->text_len] = '\0';
    return 1;
}

// policies on real text: chunks, per-word windows, mean representation, batching
static void check_policies(void) {
    char err[BASE_ERR_LEN];
    Model *m;
    Tokenizer *tok;
    Stimulus st;
    size_t all_words;
    if (!open_story60("policies", &m, &tok, &st, &all_words)) return;
    int rc;
    const ModelConfig *c = model_config(m);
    size_t L1 = (size_t)c->n_layers + 1, C = (size_t)c->d_model, W = st.n_words, off[16], one[16];
    size_t total = extract_layer_offsets(m, W, off);
    float *full = base_malloc(total * sizeof(float), "full"), *other = base_malloc(total * sizeof(float), "other");
    float *direct = base_malloc(L1 * C * sizeof(float), "direct");
    ExtractStats a, b;
    ContextPolicy whole = {CTX_FULL, 0, 0, -1, WORD_LAST, 0}, small = {CTX_FULL, 0, 48, 16, WORD_LAST, 0};
    rc = extract_word_states(m, &decoder_ops_cpu, tok, &st, &whole, NULL, full, &a, err);
    CHECK(rc == 0 && a.n_sequences == 1, "full/whole_text_one_sequence (%zu tokens)", a.n_tokens);
    rc = extract_word_states(m, &decoder_ops_cpu, tok, &st, &small, NULL, other, &b, err);
    CHECK(rc == 0 && b.n_sequences > 2, "full/window_48_overlap_16 gives %zu chunks", b.n_sequences);

    TokenSeq seq = {0};
    tok_encode(tok, st.text, st.text_len, &seq, err);
    int bos = seq.ids[0];
    const int32_t *body = seq.ids + 1;
    size_t n_body = seq.n - 1;
    int64_t first[64], last[64];
    tok_word_token_span(&seq, st.start, st.end, W, first, last);
    for (size_t w = 0; w < W; w++) first[w]--, last[w]--;  // indices into the body

    // words of the first chunk see the same context either way; the last word equals a direct
    // forward of [BOS] + its chunk
    size_t n_first = 0;
    double d_first = 0;
    for (size_t w = 0; w < W; w++) {
        if (last[w] >= 47) continue;
        n_first++;
        for (size_t l = 0; l < L1; l++) d_first = fmax(d_first, reldiff(other + off[l] + w * C, full + off[l] + w * C, C));
    }
    CHECK(n_first > 0 && d_first < STATE_RTOL, "full/first_chunk_words_match_whole_run (%zu words, reldiff %.1e)",
          n_first, d_first);
    Chunk ch[64];
    size_t nc = extract_plan_chunks(n_body, 47, 16, ch);
    int row = (int)last[W - 1];
    float wt = 1.0f;
    direct_states(m, body, bos, ch[nc - 1].start, ch[nc - 1].end, &row, &wt, 1, direct, one);
    double d = 0;
    for (size_t l = 0; l < L1; l++) d = fmax(d, reldiff(other + off[l] + (W - 1) * C, direct + one[l], C));
    CHECK(d < STATE_RTOL, "full/last_word_equals_forward_of_its_chunk (reldiff %.1e)", d);

    // tokens:N and words:N: every word equals a direct forward of its window, whatever the batch
    for (int kind = 0; kind < 2; kind++) {
        for (int batch = 0; batch < 2; batch++) {
            ContextPolicy p = {kind ? CTX_WORDS : CTX_TOKENS, kind ? 3 : 7, 0, 0, WORD_LAST, batch ? 32 : 100000};
            rc = extract_word_states(m, &decoder_ops_cpu, tok, &st, &p, NULL, other, &b, err);
            double worst = 0;
            for (size_t w = 0; w < W && rc == 0; w++) {
                size_t end = (size_t)last[w] + 1;
                size_t start = kind ? (size_t)first[w >= 2 ? w - 2 : 0] : (end > 7 ? end - 7 : 0);
                int r = (int)last[w];
                direct_states(m, body, bos, start, end, &r, &wt, 1, direct, one);
                for (size_t l = 0; l < L1; l++) worst = fmax(worst, reldiff(other + off[l] + w * C, direct + one[l], C));
            }
            CHECK(rc == 0 && worst < STATE_RTOL,
                  "%s/each_word_equals_its_own_window batch_tokens=%d (%zu batches, reldiff %.1e)",
                  kind ? "words:3" : "tokens:7", p.batch_tokens, b.n_batches, worst);
        }
    }

    // parts (one rank's share of the sequences): the parts' word ranges tile the words in order, and
    // each part's rows equal the undivided run's (chunked full context and per-word windows)
    ContextPolicy split[2] = {small, {CTX_TOKENS, 7, 0, 0, WORD_LAST, 64}};
    float *part_out = base_malloc(total * sizeof(float), "part");
    for (int k = 0; k < 2; k++) {
        rc = extract_word_states(m, &decoder_ops_cpu, tok, &st, &split[k], NULL, other, &b, err);
        for (size_t count = 1; count <= 5 && rc == 0; count += 2) {
            size_t next = 0, empty = 0;
            double diff = 0;
            int tiled = 1, zero_elsewhere = 1;
            for (size_t i = 0; i < count && rc == 0; i++) {
                ExtractPart part = {.index = i, .count = count};
                rc = extract_word_states(m, &decoder_ops_cpu, tok, &st, &split[k], &part, part_out, &a, err);
                if (a.word_hi == a.word_lo) {
                    empty++;
                    continue;
                }
                tiled &= a.word_lo == next;
                next = a.word_hi;
                for (size_t l = 0; l < L1; l++) {
                    diff = fmax(diff, reldiff(part_out + off[l] + a.word_lo * C, other + off[l] + a.word_lo * C,
                                              (a.word_hi - a.word_lo) * C));
                    for (size_t x = 0; x < a.word_lo * C; x++) zero_elsewhere &= part_out[off[l] + x] == 0.0f;
                }
            }
            CHECK(rc == 0 && tiled && next == W && zero_elsewhere && diff < STATE_RTOL && (k == 1 ? empty == 0 : 1),
                  "%s/%zu_parts_tile_the_words_and_equal_the_whole_run (reldiff %.1e, %zu empty part(s))",
                  k ? "tokens:7" : "full_window_48", count, diff, empty);
        }
    }
    free(part_out);

    // mean representation: the mean of the word's token states (whole-text run)
    ContextPolicy mean = {CTX_FULL, 0, 0, -1, WORD_MEAN, 0};
    rc = extract_word_states(m, &decoder_ops_cpu, tok, &st, &mean, NULL, other, &b, err);
    double worst = 0;
    size_t multi = 0;
    for (size_t w = 0; w < W && rc == 0; w++) {
        int rows[16];
        float wts[16];
        int n = (int)(last[w] - first[w] + 1);
        multi += n > 1;
        for (int i = 0; i < n; i++) rows[i] = (int)first[w] + i, wts[i] = 1.0f / (float)n;
        direct_states(m, body, bos, 0, n_body, rows, wts, n, direct, one);
        for (size_t l = 0; l < L1; l++) worst = fmax(worst, reldiff(other + off[l] + w * C, direct + one[l], C));
    }
    CHECK(rc == 0 && multi > 10 && worst < STATE_RTOL,
          "mean/equals_mean_of_token_states (%zu multi-token words, reldiff %.1e)",
          multi, worst);

    tokseq_free(&seq);
    free(full);
    free(other);
    free(direct);
    st.n_words = all_words;
    stim_free(&st);
    tok_free(tok);
    model_free(m);
}

// a model that is not kept widened (budget 0) gives the same states as one that is: the same batch through the same
// kernels in the same order, so bit for bit
static void check_layer_streaming(void) {
    char err[BASE_ERR_LEN];
    Model *kept = model_open(STORIES, SIZE_MAX, err), *streamed = model_open(STORIES, 0, err);
    int32_t ids[40];
    for (int i = 0; i < 40; i++) ids[i] = 3 + (i * 37) % 500;
    size_t o1[16], o2[16];
    float *a = states_of_ids(kept, ids, 40, o1, err), *b = states_of_ids(streamed, ids, 40, o2, err);
    size_t total = extract_layer_offsets(kept, 40, o1);
    CHECK(a && b && reldiff(a, b, total) == 0, "streaming/one_layer_at_a_time_equals_kept");
    free(a);
    free(b);
    model_free(kept);
    model_free(streamed);
}

// ---- a model split by layer ranges: the stages in one process, linked by queues of floats. Stage k runs to its
// end before stage k+1 starts (each reads what the one before it left, in order), so the messages of a whole run
// wait in the queue: the in-order delivery a rank-to-rank transport gives.
typedef struct {
    float *data;
    size_t n, read, cap;
} Queue;
typedef struct {
    Queue *in, *out;
} StagePipes;

static void queue_send(const float *x, size_t n, void *ctx) {
    Queue *q = ((StagePipes *)ctx)->out;
    if (q->n + n > q->cap) {
        q->cap = 2 * (q->n + n);
        q->data = realloc(q->data, q->cap * sizeof(float));
        ASSERT(q->data);
    }
    memcpy(q->data + q->n, x, n * sizeof(float));
    q->n += n;
}

static void queue_recv(float *x, size_t n, void *ctx) {
    Queue *q = ((StagePipes *)ctx)->in;
    ASSERT(q->read + n <= q->n);  // a stage that takes more than the one before it gave
    memcpy(x, q->data + q->read, n * sizeof(float));
    q->read += n;
}

// Every stage's states summed, for stages x parts; 0 when a stage touched an entry it does not make, or a queue
// was left with unread messages. *stopped: stages that returned 1.
// in_place: the link moves the stream in the decoder's memory (host memory for the CPU decoder) instead of copies
static int run_stages(Model *m, Tokenizer *tok, const Stimulus *st, const ContextPolicy *p, int n_stages,
                      size_t n_parts, int in_place, float *sum, size_t total, const size_t *off, int *stopped,
                      char *err) {
    const ModelConfig *c = model_config(m);
    float *one = base_malloc(total * sizeof(float), "stage");
    Queue q[8];
    ASSERT(n_stages <= 8);
    memset(sum, 0, total * sizeof(float));
    int clean = 1;
    *stopped = 0;
    for (size_t i = 0; i < n_parts; i++) {
        memset(q, 0, sizeof q);
        for (int k = 0; k < n_stages; k++) {
            StagePipes pipes = {.in = k > 0 ? &q[k - 1] : NULL, .out = &q[k]};
            StageLink link = {.send = queue_send, .recv = queue_recv, .ctx = &pipes};
            if (in_place) link.send_stream = queue_send, link.recv_stream = queue_recv;
            ExtractPart part = {.index = i, .count = n_parts, .stage = k, .n_stages = n_stages, .link = &link};
            ExtractStats x;
            int rc = extract_word_states(m, &decoder_ops_cpu, tok, st, p, &part, one, &x, err);
            if (rc < 0) clean = 0;
            *stopped += rc == 1;
            DecoderStage ds;
            decoder_stage_layers(c->n_layers, n_stages, k, &ds.first, &ds.end);
            for (int e = 0; e <= c->n_layers; e++) {
                size_t n = (e < c->n_layers ? (size_t)c->d_model : (size_t)model_final_dim(m)) * st->n_words;
                for (size_t j = 0; j < n; j++) {
                    if (!decoder_stage_owns(&ds, e)) clean &= one[off[e] + j] == 0.0f;
                    sum[off[e] + j] += one[off[e] + j];
                }
            }
        }
        for (int k = 0; k + 1 < n_stages; k++) clean &= q[k].read == q[k].n;
        for (int k = 0; k < n_stages; k++) free(q[k].data);
    }
    free(one);
    return clean;
}

// the stages together give the unsplit run's states bit for bit (the same batches through the same kernels in the
// same order; each entry made by exactly one stage), with 2, 3 and one layer per stage, for the whole run and for
// parts of the sequences (against the same parts unsplit); a stop signal before the first batch stops every stage of the part
static void check_stages(void) {
    char err[BASE_ERR_LEN];
    Model *m;
    Tokenizer *tok;
    Stimulus st;
    size_t all_words;
    if (!open_story60("stages", &m, &tok, &st, &all_words)) return;
    const ModelConfig *c = model_config(m);
    size_t off[16];
    size_t total = extract_layer_offsets(m, st.n_words, off);
    float *whole = base_malloc(total * sizeof(float), "whole"), *sum = base_malloc(total * sizeof(float), "sum");
    ContextPolicy policies[2] = {{.kind = CTX_FULL, .window = 48, .overlap = 16, .repr = WORD_MEAN},
                                 {.kind = CTX_TOKENS, .n = 7, .repr = WORD_LAST, .batch_tokens = 64}};
    const char *names[2] = {"full_window_48_mean", "tokens:7_batches_of_64"};
    int stage_counts[3] = {2, 3, c->n_layers};
    for (int k = 0; k < 2; k++)
        for (size_t parts = 1; parts <= 3; parts += 2) {
            // the reference: the same parts unsplit (parts make other batches than one run, so other kernel paths)
            int stopped;
            run_stages(m, tok, &st, &policies[k], 1, parts, 0, whole, total, off, &stopped, err);
            for (int si = 0; si < 3; si++)
                for (int in_place = 0; in_place < 2; in_place++) {
                    int clean = run_stages(m, tok, &st, &policies[k], stage_counts[si], parts, in_place, sum, total,
                                           off, &stopped, err);
                    CHECK(clean && stopped == 0 && memcmp(sum, whole, total * sizeof(float)) == 0,
                          "stages/%s_%d_stages_%zu_part(s)%s_equal_the_unsplit_run_bit_for_bit", names[k],
                          stage_counts[si], parts, in_place ? "_stream_in_place" : "");
                }
        }
    base_stop_signal = SIGTERM;
    int stopped;
    int clean = run_stages(m, tok, &st, &policies[1], 3, 1, 1, sum, total, off, &stopped, err);
    base_stop_signal = 0;
    CHECK(clean && stopped == 3, "stages/a_stop_before_a_batch_stops_all_3_stages (%d stopped)", stopped);
    int first, end, covered = 0, ordered = 1;
    for (int k = 0; k < 7; k++) {
        decoder_stage_layers(32, 7, k, &first, &end);
        ordered &= first == covered && end - first >= 4 && end - first <= 5;
        covered = end;
    }
    CHECK(ordered && covered == 32, "stages/32_layers_in_7_stages_tile_in_runs_of_4_or_5");
    free(whole);
    free(sum);
    st.n_words = all_words;
    stim_free(&st);
    tok_free(tok);
    model_free(m);
}

// A device's batch from its free memory (decoder_fit_batch), through the CPU's table given a pretend device: the least
// state is the whole state, and the free bytes are set per case. The largest batch that fits is taken; a smaller one
// gives the states of context.batch_tokens' in more batches (to float32 rounding: batches of other sizes take other
// kernel paths); not even the longest sequence fitting fails the extraction with the bytes named.
static size_t pretend_free;
static size_t pretend_free_bytes(void) { return pretend_free; }

static void check_fit_batch(void) {
    char err[BASE_ERR_LEN];
    Model *m;
    Tokenizer *tok;
    Stimulus st;
    size_t all_words;
    if (!open_story60("fit_batch", &m, &tok, &st, &all_words)) return;
    const ModelConfig *c = model_config(m);
    DecoderOps device = decoder_ops_cpu;
    device.state_min_bytes = decoder_ops_cpu.state_bytes;
    device.free_bytes = pretend_free_bytes;
    int NT = 0;
    pretend_free = SIZE_MAX;
    CHECK(decoder_fit_batch(&decoder_ops_cpu, c, 9, 4096, &NT, err) == 0 && NT == 4096 &&
              decoder_fit_batch(&device, c, 9, 4096, &NT, err) == 0 && NT == 4096,
          "fit_batch/no_limit_keeps_the_batch");
    pretend_free = decoder_bytes(&device, c, 100, 9) + 10;
    int rc = decoder_fit_batch(&device, c, 9, 4096, &NT, err);
    CHECK(rc == 0 && NT >= 100 && NT < 4096 && decoder_bytes(&device, c, NT, 9) <= pretend_free &&
              decoder_bytes(&device, c, NT + 1, 9) > pretend_free,
          "fit_batch/the_largest_batch_that_fits (%d tokens in %zu bytes)", NT, pretend_free);
    pretend_free = decoder_bytes(&device, c, 9, 9) - 1;
    rc = decoder_fit_batch(&device, c, 9, 4096, &NT, err);
    CHECK(rc == -1 && strstr(err, "longest sequence (9 tokens)") && strstr(err, "MiB are free"),
          "fit_batch/too_little_memory_says_how_much (%s)", err);

    // windows of 7 tokens in batches of 64: squeezed to a third, the same states in more batches
    ContextPolicy windows = {.kind = CTX_TOKENS, .n = 7, .repr = WORD_LAST, .batch_tokens = 64};
    size_t off[16], total = extract_layer_offsets(m, st.n_words, off);
    float *want = base_malloc(total * sizeof(float), "states"), *got = base_malloc(total * sizeof(float), "states");
    ExtractStats a, b;
    rc = extract_word_states(m, &decoder_ops_cpu, tok, &st, &windows, NULL, want, &a, err);
    pretend_free = decoder_bytes(&device, c, 24, 8);
    rc |= extract_word_states(m, &device, tok, &st, &windows, NULL, got, &b, err);
    double dd = 0, rr = 0;
    for (size_t i = 0; i < total; i++) {
        double e = (double)got[i] - want[i];
        dd += e * e, rr += (double)want[i] * want[i];
    }
    CHECK(rc == 0 && b.n_batches > 2 * a.n_batches && sqrt(dd / rr) <= 1e-5,
          "fit_batch/squeezed_batches_give_the_same_states (%zu batches instead of %zu, rel %.2g)", b.n_batches,
          a.n_batches, sqrt(dd / (rr > 0 ? rr : 1)));
    pretend_free = decoder_bytes(&device, c, 4, 4);
    rc = extract_word_states(m, &device, tok, &st, &windows, NULL, got, &b, err);
    CHECK(rc == -1 && strstr(err, "needs") && strstr(err, "free"), "fit_batch/extraction_that_cannot_fit_fails (%s)",
          err);
    free(want), free(got);
    st.n_words = all_words;
    stim_free(&st);
    tok_free(tok);
    model_free(m);
}

// a word that a tokenizer removes (here: a Split that drops '#') is refused by name
static void check_word_without_tokens(void) {
    char err[BASE_ERR_LEN], dir[] = "/tmp/bs-dec-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "empty_word/temporary_folder: mkdtemp %s", dir);
        return;
    }
    char tj[600], tsv[600];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    snprintf(tsv, sizeof tsv, "%s/words.tsv", dir);
    FILE *f = fopen(tj, "w");
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 3, \"b\": 4, \" \": 5, \"#\": 6}, \"merges\": []},"
          " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"#\"}, \"behavior\": \"Removed\"}}",
          f);
    fclose(f);
    f = fopen(tsv, "w");
    fputs("word\tonset\toffset\na\t0\t1\n#\t1\t2\nb\t2\t3\n", f);
    fclose(f);
    Model *m = model_open(STORIES, 0, err);
    Tokenizer *t = tok_load_json(tj, err);
    Stimulus st;
    int rc = stim_load(tsv, NULL, &st, err);
    CHECK(m && t && rc == 0, "empty_word/setup");
    if (m && t && rc == 0) {
        size_t off[16];
        float *out = base_malloc(extract_layer_offsets(m, st.n_words, off) * sizeof(float), "out");
        ContextPolicy full = {CTX_FULL, 0, 0, -1, WORD_LAST, 0};
        ExtractStats xs;
        rc = extract_word_states(m, &decoder_ops_cpu, t, &st, &full, NULL, out, &xs, err);
        CHECK(rc == -1 && strstr(err, "word 2 ('#') tokenizes to nothing"), "empty_word/refused_by_name: %s", err);
        free(out);
        stim_free(&st);
    }
    tok_free(t);
    model_free(m);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
}

// decoder_flops against a count by hand: two sequences (3 and 5 tokens) through a small Llama-shaped and an
// OPT-shaped configuration, with and without a sliding window
static void check_flops(void) {
    ModelConfig c = {0};
    c.n_layers = 5, c.d_model = 64, c.d_embed = 64, c.n_heads = 8, c.n_kv_heads = 4, c.head_dim = 8, c.d_ff = 172;
    c.gated_mlp = 1;
    int32_t ids[8] = {0};
    int starts[3] = {0, 3, 8};
    TokenBatch b = {ids, starts, 2};
    // per token and layer: QKV 64 x (64 + 2 x 32), output 64 x 64, gate+up 64 x 344, down 172 x 64 multiply-adds
    double linear = 2.0 * 5 * (64 * 128 + 64 * 64 + 64 * 344 + 172 * 64) * 8;
    double attention = 4.0 * 64 * 5 * (6 + 15);  // (query, key) pairs: 1+2+3 and 1+..+5
    double got = decoder_flops(&c, &b);
    CHECK(got == linear + attention, "flops/llama_shape (%.0f, by hand %.0f)", got, linear + attention);
    c.sliding_window = 2;  // keys per query: 1,2,2 and 1,2,2,2,2
    got = decoder_flops(&c, &b);
    CHECK(got == linear + 4.0 * 64 * 5 * (5 + 9), "flops/sliding_window (%.0f)", got);
    c.sliding_window = 0, c.gated_mlp = 0, c.d_embed = 32, c.n_kv_heads = 8;  // OPT: plain MLP, projections 32 <-> 64
    linear = 2.0 * 5 * (64 * 192 + 64 * 64 + 64 * 172 + 172 * 64) * 8 + 2.0 * 2 * 32 * 64 * 8;
    got = decoder_flops(&c, &b);
    CHECK(got == linear + attention, "flops/opt_shape_with_projections (%.0f, by hand %.0f)", got, linear + attention);
}

// The loop reaches its backend only through the table. A table that counts the calls it hands on to the CPU's, and
// whose download copies out of backend memory into a staging buffer of its own as a device backend's does, gives
// the CPU table's states bit for bit, with each op called as often as the layers and batches need; every family's
// path (pre- and post-LN, parallel residuals, ALiBi, learned positions, OPT's projections) goes through it. The
// same table downloading in two steps (a device's slots) gives the same bits too, every state started once and
// waited for once, no slot started again before its wait, and download never while slot 0 is in flight.
static struct {
    int embed, layer, attention, residual, capture, final;
    int started, waited, misuse;  // two-step downloads, and calls out of order
} op_calls;
static float *staged, *slot_rows[2];
static size_t staged_n, slot_n[2];
static int slot_busy[2];

static void counted_embed(float *out, const int32_t *ids, const int *pos, int T, Decoder *d) {
    op_calls.embed++;
    decoder_ops_cpu.embed(out, ids, pos, T, d);
}
static const LayerF32 *counted_layer(int l, Decoder *d) {
    op_calls.layer++;
    return decoder_ops_cpu.layer(l, d);
}
static void counted_attention(float *out, const float *q, const float *k, const float *v, const int *seq_start,
                              int n_seq, int NT, int NH, int NKV, int HS, const float *alibi, int window, Decoder *d) {
    op_calls.attention++;
    decoder_ops_cpu.attention(out, q, k, v, seq_start, n_seq, NT, NH, NKV, HS, alibi, window, d);
}
static void counted_residual(float *out, const float *a, const float *b, size_t N, Decoder *d) {
    op_calls.residual++;
    decoder_ops_cpu.residual(out, a, b, N, d);
}
static void counted_capture(float *rows, const float *x, const int *row_ids, int n, int C, Decoder *d) {
    op_calls.capture++;
    decoder_ops_cpu.capture(rows, x, row_ids, n, C, d);
}
static void counted_final(float *out, float *in, int T, Decoder *d) {
    op_calls.final++;
    decoder_ops_cpu.final(out, in, T, d);
}
static const float *staged_download(const float *src, size_t n, Decoder *d) {
    op_calls.misuse += slot_busy[0];
    if (n > staged_n) {
        free(staged);
        staged = base_malloc(n * sizeof(float), "staging");
        staged_n = n;
    }
    memcpy(staged, src, n * sizeof(float));
    return staged;
}
static void slot_download_start(const float *src, size_t n, int slot, Decoder *d) {
    op_calls.started++;
    op_calls.misuse += slot_busy[slot];
    slot_busy[slot] = 1;
    if (n > slot_n[slot]) {
        free(slot_rows[slot]);
        slot_rows[slot] = base_malloc(n * sizeof(float), "slot");
        slot_n[slot] = n;
    }
    memcpy(slot_rows[slot], src, n * sizeof(float));
}
static const float *slot_download_wait(int slot, Decoder *d) {
    op_calls.waited++;
    op_calls.misuse += !slot_busy[slot];
    slot_busy[slot] = 0;
    return slot_rows[slot];
}

static void check_op_table(void) {
    static const char *const models[] = {
        "data/models/stories260K.gguf",           "tests/fixtures/families/opt/fp32",
        "tests/fixtures/families/opt-postln/fp32", "tests/fixtures/families/mpt/fp32",
        "tests/fixtures/families/falcon/fp32",     "tests/fixtures/families/falcon-newarch/fp32",
        "tests/fixtures/families/gpt2/fp32",       "tests/fixtures/families/mistral/fp32"};
    DecoderOps counted = decoder_ops_cpu;
    counted.embed = counted_embed;
    counted.layer = counted_layer;
    counted.attention = counted_attention;
    counted.residual = counted_residual;
    counted.capture = counted_capture;
    counted.final = counted_final;
    counted.download = staged_download;
    enum { T = 40, W = 20 };
    int64_t first[W], last[W];
    for (int w = 0; w < W; w++) first[w] = 2 * w, last[w] = 2 * w + 1;  // two tokens a word, taken as their mean
    ContextPolicy windows = {CTX_TOKENS, 7, 0, 0, WORD_MEAN, 32};   // several batches
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char err[BASE_ERR_LEN];
        Model *m = model_open(models[i], SIZE_MAX, err);
        CHECK(m != NULL, "op_table/%s opens", models[i]);
        if (!m) continue;
        const int L = model_config(m)->n_layers;
        int32_t ids[T];
        for (int t = 0; t < T; t++) ids[t] = (3 + t * 37) % model_config(m)->vocab;
        size_t off[64], total = extract_layer_offsets(m, W, off);
        float *plain = base_malloc(total * sizeof(float), "plain"), *through = base_malloc(total * sizeof(float), "t");
        ExtractStats a, b;
        memset(&op_calls, 0, sizeof op_calls);
        int rc = extract_from_tokens(m, &decoder_ops_cpu, ids, T, -1, first, last, W, &windows, NULL, plain, &a, err);
        rc |= extract_from_tokens(m, &counted, ids, T, -1, first, last, W, &windows, NULL, through, &b, err);
        int B = (int)b.n_batches;
        CHECK(rc == 0 && memcmp(plain, through, total * sizeof(float)) == 0, "op_table/%s/same_bits (%d batches)",
              models[i], B);
        CHECK(B > 1 && op_calls.embed == B && op_calls.layer == L * B && op_calls.attention == L * B &&
                  op_calls.residual == 2 * L * B && op_calls.capture == (L + 1) * B && op_calls.final == B,
              "op_table/%s/every_op_through_the_table (embed %d, layer %d, attention %d, residual %d, capture %d, "
              "final %d for %d layers)",
              models[i], op_calls.embed, op_calls.layer, op_calls.attention, op_calls.residual, op_calls.capture,
              op_calls.final, L);
        DecoderOps two_step = counted;
        two_step.download_start = slot_download_start;
        two_step.download_wait = slot_download_wait;
        memset(&op_calls, 0, sizeof op_calls);
        rc = extract_from_tokens(m, &two_step, ids, T, -1, first, last, W, &windows, NULL, through, &b, err);
        CHECK(rc == 0 && memcmp(plain, through, total * sizeof(float)) == 0 && op_calls.started == L * B &&
                  op_calls.waited == L * B && op_calls.misuse == 0 && !slot_busy[0] && !slot_busy[1],
              "op_table/%s/two_step_downloads_same_bits (%d started, %d waited, %d out of order)", models[i],
              op_calls.started, op_calls.waited, op_calls.misuse);
        free(plain);
        free(through);
        model_free(m);
    }
    free(staged), free(slot_rows[0]), free(slot_rows[1]);
    staged = slot_rows[0] = slot_rows[1] = NULL, staged_n = slot_n[0] = slot_n[1] = 0;

    // MPT's clip_qkv (no fixture sets it): the split clamps every value of q, k and v, nothing else
    float qkv[2 * 4] = {-2.0f, 0.25f, 3.0f, -0.5f, 0.5f, -0.75f, 1.0f, 0.0f}, q[4], k[2], v[2];
    decoder_ops_cpu.qkv_split(q, k, v, qkv, 2, 2, 1, 0.6f, NULL);
    CHECK(q[0] == -0.6f && q[1] == 0.25f && k[0] == 0.6f && v[0] == -0.5f && q[2] == 0.5f && q[3] == -0.6f &&
              k[1] == 0.6f && v[1] == 0.0f,
          "op_table/qkv_split_clips_and_splits");
}

TEST_MAIN("test_decoder") {
    threads_init(0);
    check_hidden("stories260K", STORIES, "hidden-stories260K");
    if (base_file_exists(SMOLLM2))
        check_hidden("smollm2", SMOLLM2, "hidden-smollm2");
    else
        SKIP_UNLESS_CI("smollm2/hidden_states", "model file absent (.cache/models; `make fetch-model` brings it)");
    check_chunk_plan();
    check_policies();
    check_layer_streaming();
    check_stages();
    check_fit_batch();
    check_op_table();
    check_word_without_tokens();
    check_flops();
}
