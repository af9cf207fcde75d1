// The CPU decoder against transformers' hidden states (fp32, same GGUF), and the chunked extraction.
#include <jansson.h>
#include <math.h>

#include "host/base.h"
#include "host/decoder_cpu.h"
#include "host/extract.h"
#include "host/gguf.h"
#include "host/model.h"
#include "host/stimulus.h"
#include "host/tokenizer.h"
#include "tests/test.h"

static const char *SMOLLM2 = ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";

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
    CHECK(ref && bytes == L1 * T * C * sizeof(float), "%s: reference (%zu, %zu, %zu) read", name, L1, T, C);
    GgufFile *f = gguf_open(model_path, err);
    Model *m = f ? model_load_gguf(f, err) : NULL;
    CHECK(m != NULL, "%s: model loads%s%s", name, m ? "" : ": ", m ? "" : err);
    if (!ref || !m || bytes != L1 * T * C * sizeof(float)) goto done;
    CHECK((size_t)m->cfg.n_layers + 1 == L1 && (size_t)m->cfg.d_model == C, "%s: L=%d C=%d", name, m->cfg.n_layers,
          m->cfg.d_model);

    int32_t *ids = base_malloc(T * sizeof(int32_t), "ids");
    int *rows = base_malloc(T * sizeof(int), "rows");
    size_t *orows = base_malloc(T * sizeof(size_t), "rows");
    for (size_t t = 0; t < T; t++) {
        ids[t] = (int32_t)json_integer_value(json_array_get(jids, t));
        rows[t] = (int)t;
        orows[t] = t;
    }
    float *got = base_malloc(L1 * T * C * sizeof(float), "hidden");
    for (size_t i = 0; i < L1 * T * C; i++) got[i] = NAN;  // poison: every element must be written
    DecoderScratch *s = decoder_cpu_scratch_create(&m->cfg, (int)T);
    decoder_cpu_forward(m, s, ids, (int)T, rows, orows, T, got, T);
    for (size_t l = 0; l < L1; l++) {
        double maxref = 0, maxerr = 0;
        for (size_t i = 0; i < T * C; i++) {
            double r = ref[l * T * C + i], g = got[l * T * C + i];
            maxref = fmax(maxref, fabs(r));
            maxerr = isfinite(g) ? fmax(maxerr, fabs(g - r)) : INFINITY;
        }
        CHECK(maxerr <= 1e-4 * maxref, "%s/hidden_state_%zu max|err|/max|ref| = %.2e (max|ref| %.4g)", name, l,
              maxerr / maxref, maxref);
    }
    decoder_cpu_scratch_free(s);
    free(got);
    free(ids);
    free(rows);
    free(orows);
done:
    model_free(m);
    gguf_close(f);
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
    // every token reported exactly once, and with at least `overlap` tokens of context after chunk 0
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

// Chunked extraction: a word reported from a later chunk equals a plain forward over that chunk
static void check_chunked_extraction(void) {
    char err[BASE_ERR_LEN];
    GgufFile *f = gguf_open("data/models/stories260K.gguf", err);
    Model *m = model_load_gguf(f, err);
    Tokenizer *tok = tok_load_gguf(f, err);
    Stimulus st;
    int rc = stim_load_textgrid("data/alice/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid", "word", NULL, 0, &st, err);
    CHECK(rc == 0 && m && tok, "extract/setup");
    if (rc || !m || !tok) return;
    // the first 60 words, so the test stays small
    size_t all_words = st.n_words;
    st.n_words = 60;
    st.text_len = st.end[59];
    st.text[st.text_len] = '\0';
    size_t L1 = (size_t)m->cfg.n_layers + 1, C = (size_t)m->cfg.d_model, W = st.n_words;
    float *full = base_malloc(L1 * W * C * sizeof(float), "full"), *chunked = base_malloc(L1 * W * C * sizeof(float), "ch");
    ExtractStats a, b;
    ContextPolicy whole = {CTX_FULL, 0, -1}, small = {CTX_FULL, 48, 16};
    rc = extract_word_states(m, tok, &st, &whole, full, &a, err);
    CHECK(rc == 0 && a.n_chunks == 1, "extract/whole_text_one_chunk (%zu tokens)", a.n_tokens);
    rc = extract_word_states(m, tok, &st, &small, chunked, &b, err);
    CHECK(rc == 0 && b.n_chunks > 2, "extract/window_48_overlap_16 gives %zu chunks", b.n_chunks);

    // words of the first chunk see the same context in both runs
    TokenSeq seq = {0};
    tok_encode(tok, st.text, st.text_len, &seq, err);
    int64_t *last = malloc(W * sizeof(int64_t));
    tok_word_last_tokens(&seq, st.start, st.end, W, last);
    size_t first_chunk_words = 0;
    double maxdiff = 0;
    for (size_t w = 0; w < W; w++) {
        if (last[w] >= 48) continue;
        first_chunk_words++;
        for (size_t l = 0; l < L1; l++)
            for (size_t c = 0; c < C; c++)
                maxdiff = fmax(maxdiff, fabs(full[(l * W + w) * C + c] - chunked[(l * W + w) * C + c]));
    }
    CHECK(first_chunk_words > 0 && maxdiff < 1e-5, "extract/first_chunk_words_match_full_run (%zu words, maxdiff %.1e)",
          first_chunk_words, maxdiff);

    // the last word, from the last chunk, equals a direct forward of [BOS] + that chunk's tokens
    size_t n_body = seq.n - 1;
    Chunk ch[64];
    size_t nc = extract_plan_chunks(n_body, 47, 16, ch);
    const Chunk *lc = &ch[nc - 1];
    int T = (int)(lc->end - lc->start) + 1;
    int32_t *ids = malloc((size_t)T * sizeof(int32_t));
    ids[0] = seq.ids[0];
    for (size_t i = lc->start; i < lc->end; i++) ids[i - lc->start + 1] = seq.ids[i + 1];
    int row = (int)(last[W - 1] - 1 - (int64_t)lc->start) + 1;
    size_t orow = 0;
    float *direct = malloc(L1 * C * sizeof(float));
    DecoderScratch *s = decoder_cpu_scratch_create(&m->cfg, T);
    decoder_cpu_forward(m, s, ids, T, &row, &orow, 1, direct, 1);
    maxdiff = 0;
    for (size_t l = 0; l < L1; l++)
        for (size_t c = 0; c < C; c++) maxdiff = fmax(maxdiff, fabs(direct[l * C + c] - chunked[(l * W + W - 1) * C + c]));
    CHECK(maxdiff < 1e-5, "extract/last_word_equals_forward_of_its_chunk (maxdiff %.1e)", maxdiff);
    decoder_cpu_scratch_free(s);
    free(direct);
    free(ids);
    free(last);
    tokseq_free(&seq);
    free(full);
    free(chunked);
    st.n_words = all_words;
    stim_free(&st);
    tok_free(tok);
    model_free(m);
    gguf_close(f);
}

TEST_MAIN("test_decoder") {
    check_hidden("stories260K", "data/models/stories260K.gguf", "hidden-stories260K");
    if (base_file_exists(SMOLLM2))
        check_hidden("smollm2", SMOLLM2, "hidden-smollm2");
    else
        SKIP("smollm2/hidden_states", "model file absent (.cache/models; `make fetch-model` brings it)");
    check_chunk_plan();
    check_chunked_extraction();
}
