// Tokenizers against Hugging Face transformers' GGUF tokenizers (fixtures from tests/golden/make_fixtures.py).
#include <jansson.h>

#include "host/base.h"
#include "host/gguf.h"
#include "host/stimulus.h"
#include "host/tokenizer.h"
#include "tests/test.h"

static const char *TEXTGRID = "data/alice/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid";

static Tokenizer *open_tok(const char *path) {
    char err[BASE_ERR_LEN];
    GgufFile *f = gguf_open(path, err);
    if (!f) {
        CHECK(0, "open %s: %s", path, err);
        return NULL;
    }
    Tokenizer *t = tok_load_gguf(f, err);
    CHECK(t != NULL, "load tokenizer %s%s%s", path, t ? "" : ": ", t ? "" : err);
    gguf_close(f);  // the tokenizer keeps its own copy of the vocabulary
    return t;
}

// ids (and, for tokens with a non-empty reference range, byte offsets) equal the reference's
static void check_against_fixture(const char *name, const char *model, const char *fixture, const Stimulus *st) {
    json_error_t jerr;
    json_t *fx = json_load_file(fixture, 0, &jerr);
    if (!fx) {
        CHECK(0, "%s: read %s: %s", name, fixture, jerr.text);
        return;
    }
    const char *ref_text = json_string_value(json_object_get(fx, "text"));
    CHECK(ref_text && strcmp(ref_text, st->text) == 0, "%s/alice_text_equals_reference (%zu bytes)", name,
          st->text_len);
    Tokenizer *t = open_tok(model);
    if (!t) {
        json_decref(fx);
        return;
    }
    TokenSeq seq = {0};
    char err[BASE_ERR_LEN];
    int rc = tok_encode(t, st->text, st->text_len, &seq, err);
    CHECK(rc == 0, "%s/encode_alice", name);
    json_t *ids = json_object_get(fx, "ids"), *offs = json_object_get(fx, "byte_offsets");
    size_t n_ref = json_array_size(ids), first_bad = SIZE_MAX, bad_offsets = 0, compared = 0;
    for (size_t i = 0; i < n_ref && i < seq.n; i++) {
        if (first_bad == SIZE_MAX && json_integer_value(json_array_get(ids, i)) != seq.ids[i]) first_bad = i;
        json_t *o = json_array_get(offs, i);
        size_t a = (size_t)json_integer_value(json_array_get(o, 0)), b = (size_t)json_integer_value(json_array_get(o, 1));
        // HF gives the prepended U+2581 the offsets of the first character; ours is empty at 0
        if (a == b || (seq.start[i] == seq.end[i])) continue;
        compared++;
        if (a != seq.start[i] || b != seq.end[i]) bad_offsets++;
    }
    CHECK(seq.n == n_ref && first_bad == SIZE_MAX, "%s/ids_equal_transformers %zu tokens (reference %zu)%s", name,
          seq.n, n_ref, first_bad == SIZE_MAX ? "" : ", first difference below");
    if (first_bad != SIZE_MAX) {
        size_t len;
        const char *p = tok_piece(t, seq.ids[first_bad], &len);
        printf("  token %zu: got %d '%.*s' want %lld\n", first_bad, seq.ids[first_bad], (int)len, p,
               (long long)json_integer_value(json_array_get(ids, first_bad)));
    }
    CHECK(bad_offsets == 0, "%s/byte_offsets_equal_transformers %zu compared, %zu differ", name, compared,
          bad_offsets);

    // every word maps to a token that overlaps it, in order, ending on the word's last byte or after
    int64_t *last = base_malloc(st->n_words * sizeof(int64_t), "last tokens");
    int64_t *first = base_malloc(st->n_words * sizeof(int64_t), "first tokens");
    tok_word_token_span(&seq, st->start, st->end, st->n_words, first, last);
    size_t bad = 0, bad_first = 0;
    for (size_t w = 0; w < st->n_words; w++) {
        int64_t k = last[w], f = first[w];
        if (k < 0 || seq.start[k] >= st->end[w] || seq.end[k] < st->end[w] || (w > 0 && k < last[w - 1])) bad++;
        if (f < 0 || f > k || seq.start[f] > st->start[w] || seq.end[f] <= st->start[w]) bad_first++;
    }
    CHECK(bad == 0, "%s/every_word_has_a_last_token %zu words, %zu bad", name, st->n_words, bad);
    CHECK(bad_first == 0, "%s/every_word_has_a_first_token_covering_its_start (%zu bad)", name, bad_first);
    free(last);
    free(first);
    tokseq_free(&seq);
    tok_free(t);
    json_decref(fx);
}

static void check_small_cases(void) {
    Tokenizer *spm = open_tok("data/models/stories260K.gguf");
    if (!spm) return;
    TokenSeq seq = {0};
    char err[BASE_ERR_LEN];
    // reference ids from transformers 5 for "Alice was beginning to get very tired what's  the use 123 café"
    const char *s = "Alice was beginning to get very tired what's  the use 123 caf\xc3\xa9";
    const int want[] = {1,   410, 447, 421, 417, 331, 286, 329, 428, 271, 416, 299, 267, 298, 316, 399, 259, 315,
                        266, 263, 415, 294, 439, 419, 410, 265, 318, 372, 410, 475, 479, 472, 280, 412, 431, 485};
    tok_encode(spm, s, strlen(s), &seq, err);
    int ok = seq.n == sizeof want / sizeof want[0];
    for (size_t i = 0; ok && i < seq.n; i++) ok = seq.ids[i] == want[i];
    CHECK(ok, "spm/double_space_digits_accent (%zu tokens)", seq.n);
    CHECK(seq.ids[0] == tok_bos_id(spm) && seq.start[0] == 0 && seq.end[0] == 0, "spm/bos_first_covers_nothing");
    CHECK(tok_encode(spm, "ab\xff", 3, &seq, err) == -1 && strstr(err, "UTF-8"), "spm/invalid_utf8_refused: %s", err);
    tokseq_free(&seq);
    tok_free(spm);

    Tokenizer *bpe = open_tok("data/models/smollm2-135m-tokenizer.gguf");
    if (!bpe) return;
    const int want2[] = {7356, 436, 3616, 288, 820, 1035, 12364, 732, 506, 216, 260, 722, 216, 33, 34, 35, 37366};
    tok_encode(bpe, s, strlen(s), &seq, err);
    ok = seq.n == sizeof want2 / sizeof want2[0];
    for (size_t i = 0; ok && i < seq.n; i++) ok = seq.ids[i] == want2[i];
    CHECK(ok, "bytebpe/double_space_digits_accent (%zu tokens)", seq.n);
    CHECK(tok_bos_id(bpe) == -1 && seq.start[0] == 0, "bytebpe/no_bos_for_smollm2");
    CHECK(seq.start[16] == 57 && seq.end[16] == 63, "bytebpe/offsets_are_bytes (caf\xc3\xa9 = [57,63))");
    tokseq_free(&seq);
    tok_free(bpe);
}

TEST_MAIN("test_tokenizer") {
    char err[BASE_ERR_LEN];
    Stimulus st;
    if (stim_load_textgrid(TEXTGRID, "word", NULL, 0, &st, err) != 0) {
        CHECK(0, "load %s: %s", TEXTGRID, err);
        return;
    }
    check_against_fixture("stories260K", "data/models/stories260K.gguf", "tests/fixtures/tokens-stories260K-alice.json",
                          &st);
    check_against_fixture("smollm2", "data/models/smollm2-135m-tokenizer.gguf",
                          "tests/fixtures/tokens-smollm2-alice.json", &st);
    check_small_cases();
    stim_free(&st);
}
