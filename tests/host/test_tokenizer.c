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

    // a word of 300 letters without a space: counted by its tokens (those starting at or after byte 10 here)
    char text[311] = "Alice was ", want_msg[256];
    memset(text + 10, 'x', 300);
    text[310] = '\0';
    const size_t ws[3] = {0, 6, 10}, we[3] = {5, 9, 310};
    tok_encode(spm, text, 310, &seq, err);
    size_t n_x = 0;
    for (size_t i = 0; i < seq.n; i++) n_x += seq.start[i] >= 10;
    snprintf(want_msg, sizeof want_msg,
             "1 word(s) of more than 64 tokens; the longest, word 3 ('%.*s...', 300 bytes), is %zu tokens",
             BASE_QUOTE_LEN - 4, text + 10, n_x);
    CHECK(n_x > 64 && tok_long_words(&seq, text, ws, we, 3, 64, err) == 1 && strcmp(err, want_msg) == 0,
          "long_words/longest_quoted_with_its_tokens: %s", err);
    CHECK(tok_long_words(&seq, text, ws, we, 3, n_x, err) == 0, "long_words/none_at_the_limit (%zu tokens)", n_x);
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

// ----------------------------------------------------------------------------
// tokenizer.json: byte-level variants of GPT-2's vocabulary and the Llama 2 tokenizer
// (fixtures: tests/golden/make_tokenizer_fixtures.py)

static uint64_t fnv1a64(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static char tmpdir[] = "/tmp/bs-tok-XXXXXX";

// the base tokenizer.json (the skeleton with GPT-2's vocabulary and merges) with an overlay's
// top-level keys replaced, written to a file: as compose() in the fixture script
static const char *compose_variant(const char *name) {
    static char path[512];
    json_error_t e;
    json_t *base = json_load_file("tests/fixtures/tokenizers/gpt2-base-skeleton.json", 0, &e);
    json_t *vocab = json_load_file("data/tokenizers/gpt2/vocab.json", 0, &e), *merges = json_array();
    char err[BASE_ERR_LEN], opath[512];
    size_t len;
    char *txt = base_read_file("data/tokenizers/gpt2/merges.txt", &len, err);
    for (char *line = txt, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (line[0] && strncmp(line, "#version", 8) != 0) json_array_append_new(merges, json_string(line));
    }
    free(txt);
    json_t *model = json_object_get(base, "model");
    json_object_set_new(model, "vocab", vocab);
    json_object_set_new(model, "merges", merges);
    snprintf(opath, sizeof opath, "tests/fixtures/tokenizers/overlays/%s.json", name);
    json_t *overlay = json_load_file(opath, 0, &e);
    json_object_update(base, overlay);
    snprintf(path, sizeof path, "%s/%s.json", tmpdir, name);
    json_dump_file(base, path, JSON_COMPACT);
    json_decref(base);
    json_decref(overlay);
    return path;
}

// LPP's nine sections each start again at 0 s, which the stimulus reader refuses (one clock per
// stimulus). These tests need only its text: they read a copy whose sections follow one another.
static const char *lpp_on_one_clock(char *err) {
    static char path[600];
    snprintf(path, sizeof path, "%s/lpp.csv", tmpdir);
    size_t len;
    char *csv = base_read_file("data/lpp/lppEN_word_information.csv", &len, err);
    FILE *f = csv ? fopen(path, "w") : NULL;
    if (!f) {
        if (csv) base_errf(err, "%s: cannot write", path);
        free(csv);
        return NULL;
    }
    double shift = 0, prev_onset = 0, last_offset = 0;
    char *line = csv, *eol = strchr(line, '\n');
    fprintf(f, "%.*s\n", (int)(eol - line), line);  // the header: index,word,lemma,onset,offset,...
    for (line = eol + 1; *line; line = *eol ? eol + 1 : eol) {
        eol = line + strcspn(line, "\n");
        char *onset = line;
        for (int comma = 0; comma < 3; comma++) onset = strchr(onset, ',') + 1;
        char *end;
        double on = strtod(onset, &end), off = strtod(end + 1, &end);
        if (on < prev_onset) shift = last_offset;
        prev_onset = on, last_offset = off + shift;
        fprintf(f, "%.*s%.3f,%.3f%.*s\n", (int)(onset - line), line, on + shift, off + shift, (int)(eol - end), end);
    }
    fclose(f);
    free(csv);
    return path;
}

static void texts_of_stimuli(Stimulus st[3]) {
    char err[BASE_ERR_LEN];
    StimOptions table = {0};
    const char *lpp = NULL;
    if (stim_load_textgrid(TEXTGRID, "word", NULL, 0, &st[0], err) || stim_load("data/podcast/transcript.tsv", &table, &st[1], err) ||
        !(lpp = lpp_on_one_clock(err)) || stim_load(lpp, &table, &st[2], err))
        CHECK(0, "texts: %s", err);
}

static void check_json_tokenizer(const char *variant, const char *tokenizer_path, const Stimulus st[3]) {
    char err[BASE_ERR_LEN], path[512];
    snprintf(path, sizeof path, "tests/fixtures/tokenizers/%s-reference.json", variant);
    json_error_t e;
    json_t *ref = json_load_file(path, 0, &e);
    Tokenizer *t = tok_load_json(tokenizer_path, err);
    CHECK(ref && t, "%s: loads%s%s", variant, t ? "" : ": ", t ? "" : err);
    if (!ref || !t) {
        json_decref(ref);
        tok_free(t);
        return;
    }
    TokenSeq seq = {0};
    json_t *strings = json_object_get(ref, "strings"), *it;
    size_t i, bad_ids = 0, bad_offsets = 0;
    json_array_foreach(strings, i, it) {
        const char *text = json_string_value(json_object_get(it, "text"));
        json_t *ids = json_object_get(it, "ids"), *offs = json_object_get(it, "byte_offsets");
        if (tok_encode(t, text, strlen(text), &seq, err) || seq.n != json_array_size(ids)) {
            bad_ids++;
            printf("  %s: '%s': %zu tokens, reference %zu\n", variant, text, seq.n, json_array_size(ids));
            continue;
        }
        for (size_t k = 0; k < seq.n; k++) {
            json_t *o = json_array_get(offs, k);
            if (json_integer_value(json_array_get(ids, k)) != seq.ids[k]) {
                printf("  %s: '%s': token %zu is %d, reference %lld\n", variant, text, k, seq.ids[k],
                       (long long)json_integer_value(json_array_get(ids, k)));
                bad_ids++;
                break;
            }
            if ((size_t)json_integer_value(json_array_get(o, 0)) != seq.start[k] ||
                (size_t)json_integer_value(json_array_get(o, 1)) != seq.end[k]) {
                printf("  %s: '%s': token %zu at [%zu, %zu), reference [%lld, %lld)\n", variant, text, k, seq.start[k],
                       seq.end[k], (long long)json_integer_value(json_array_get(o, 0)),
                       (long long)json_integer_value(json_array_get(o, 1)));
                bad_offsets++;
                break;
            }
        }
    }
    CHECK(bad_ids == 0, "%s/ids_of_%zu_test_strings_equal_tokenizers", variant, json_array_size(strings));
    CHECK(bad_offsets == 0, "%s/byte_offsets_of_test_strings_equal_tokenizers", variant);
    static const char *names[3] = {"alice", "podcast", "lpp"};
    for (int k = 0; k < 3; k++) {
        json_t *tx = json_object_get(json_object_get(ref, "texts"), names[k]);
        char want_text[32], got[32];
        snprintf(got, sizeof got, "%016llx", (unsigned long long)fnv1a64(st[k].text, st[k].text_len));
        snprintf(want_text, sizeof want_text, "%s", json_string_value(json_object_get(tx, "fnv1a64_text")));
        CHECK(strcmp(got, want_text) == 0, "%s/%s_text_equals_reference_text", variant, names[k]);
        int rc = tok_encode(t, st[k].text, st[k].text_len, &seq, err);
        int64_t *pairs = base_malloc(2 * (seq.n + 1) * sizeof(int64_t), "offsets");
        for (size_t j = 0; j < seq.n; j++) pairs[2 * j] = (int64_t)seq.start[j], pairs[2 * j + 1] = (int64_t)seq.end[j];
        char gi[32], go[32];
        snprintf(gi, sizeof gi, "%016llx", (unsigned long long)fnv1a64(seq.ids, seq.n * sizeof(int32_t)));
        snprintf(go, sizeof go, "%016llx", (unsigned long long)fnv1a64(pairs, 2 * seq.n * sizeof(int64_t)));
        free(pairs);
        size_t n_ref = (size_t)json_integer_value(json_object_get(tx, "n_ids"));
        CHECK(rc == 0 && seq.n == n_ref && strcmp(gi, json_string_value(json_object_get(tx, "fnv1a64_ids"))) == 0,
              "%s/%s_ids_equal_tokenizers (%zu tokens, reference %zu)", variant, names[k], seq.n, n_ref);
        CHECK(rc == 0 && strcmp(go, json_string_value(json_object_get(tx, "fnv1a64_offsets"))) == 0,
              "%s/%s_byte_offsets_equal_tokenizers", variant, names[k]);
    }
    tokseq_free(&seq);
    tok_free(t);
    json_decref(ref);
}

// GPT-2 (vocab.json + merges.txt) reproduces the Podcast dataset's own GPT-2 token table
static void check_podcast_gpt2(void) {
    char err[BASE_ERR_LEN];
    size_t len;
    char *tsv = base_read_file("data/podcast/transcript-gpt2-xl-tokens.tsv", &len, err);
    Tokenizer *t = tok_load_dir("data/tokenizers/gpt2", err);
    CHECK(tsv && t, "podcast_gpt2: loads");
    if (!tsv || !t) return;
    // columns: (index), word_idx, word, start, end, hftoken, token_id, ...
    int32_t *ids = base_malloc(len / 8 * sizeof(int32_t), "ids"), *widx = base_malloc(len / 8 * sizeof(int32_t), "ids");
    char *text = base_malloc(len + 2, "text");
    size_t n = 0, tl = 0, n_words = 0, *ws = base_malloc(len / 8 * sizeof(size_t), "w"), *we = base_malloc(len / 8 * sizeof(size_t), "w");
    char *line = strchr(tsv, '\n') + 1;
    while (line && *line) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *f[8] = {0};
        int k = 0;
        for (char *p = line; k < 8; k++) {
            f[k] = p;
            p = strchr(p, '\t');
            if (!p) break;
            *p++ = '\0';
        }
        int w = atoi(f[1]);
        if ((size_t)w == n_words) {  // a new word: " " + word
            text[tl++] = ' ';
            ws[n_words] = tl;
            memcpy(text + tl, f[2], strlen(f[2]));
            tl += strlen(f[2]);
            we[n_words++] = tl;
        }
        widx[n] = w;
        ids[n++] = atoi(f[6]);
        line = next;
    }
    TokenSeq seq = {0};
    tok_encode(t, text, tl, &seq, err);
    int same = seq.n == n;
    for (size_t i = 0; same && i < n; i++) same = seq.ids[i] == ids[i];
    CHECK(same, "podcast_gpt2/ids_equal_the_dataset_table (%zu tokens, table %zu, %zu words)", seq.n, n, n_words);
    int64_t *first = base_malloc(n_words * sizeof(int64_t), "f"), *last = base_malloc(n_words * sizeof(int64_t), "l");
    tok_word_token_span(&seq, ws, we, n_words, first, last);
    size_t bad = 0;
    for (size_t w = 0; w < n_words && same; w++)
        for (int64_t k = first[w]; k <= last[w]; k++) bad += widx[k] != (int32_t)w;
    CHECK(same && bad == 0, "podcast_gpt2/word_grouping_equals_the_dataset_table (%zu tokens misplaced)", bad);
    free(first), free(last), free(ids), free(widx), free(text), free(ws), free(we), free(tsv);
    tokseq_free(&seq);
    tok_free(t);
}

static void check_bad_tokenizer_json(void) {
    char err[BASE_ERR_LEN], path[512];
    snprintf(path, sizeof path, "%s/bad.json", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0", f);
    fclose(f);
    CHECK(tok_load_json(path, err) == NULL && strstr(err, "malformed JSON at line") && strstr(err, path),
          "bad/malformed_tokenizer_json: %s", err);
    f = fopen(path, "w");
    fputs("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", f);
    fclose(f);
    CHECK(tok_load_json(path, err) == NULL && strstr(err, "tokenizer model 'WordPiece' is not supported"),
          "bad/unsupported_model: %s", err);
    f = fopen(path, "w");
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a c\"]}}", f);
    fclose(f);
    CHECK(tok_load_json(path, err) == NULL && strstr(err, "merge 0 ('a c') names a token missing"),
          "bad/merge_outside_vocabulary: %s", err);
    // normalizers missing their string used to reach the encoder as NULL and crash it
    static const char *const normalizers[][2] = {
        {"{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}}", "Replace normalizer needs a string \"content\""},
        {"{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": 7}", "Replace normalizer needs a string \"content\""},
        {"{\"type\": \"Prepend\"}", "Prepend normalizer needs a string \"prepend\""}};
    for (size_t i = 0; i < sizeof normalizers / sizeof *normalizers; i++) {
        f = fopen(path, "w");
        fprintf(f, "{\"normalizer\": %s, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                normalizers[i][0]);
        fclose(f);
        err[0] = '\0';
        Tokenizer *t = tok_load_json(path, err);
        CHECK(t == NULL && strstr(err, normalizers[i][1]) && strstr(err, path), "bad/normalizer_without_string_%zu: %s",
              i, err);
        tok_free(t);
    }
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

    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    Stimulus texts[3];
    texts_of_stimuli(texts);
    static const char *variants[] = {"gpt2", "opt", "neox", "falcon", "digits", "trim"};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        check_json_tokenizer(variants[i], compose_variant(variants[i]), texts);
    check_json_tokenizer("llama2", "data/tokenizers/llama2/tokenizer.json", texts);
    {  // the Metaspace form of the same Llama 2 vocabulary
        json_error_t e;
        json_t *base = json_load_file("data/tokenizers/llama2/tokenizer.json", 0, &e);
        json_t *overlay = json_load_file("tests/fixtures/tokenizers/overlays/llama2-metaspace.json", 0, &e);
        json_object_update(base, overlay);
        char path[512];
        snprintf(path, sizeof path, "%s/llama2-metaspace.json", tmpdir);
        json_dump_file(base, path, JSON_COMPACT);
        json_decref(base);
        json_decref(overlay);
        check_json_tokenizer("llama2-metaspace", path, texts);
    }
    check_podcast_gpt2();
    check_bad_tokenizer_json();
    for (int k = 0; k < 3; k++) stim_free(&texts[k]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
}
