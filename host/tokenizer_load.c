// Tokenizers from GGUF metadata, tokenizer.json, or vocab.json + merges.txt (tokenizer.h).
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "host/base.h"
#include "host/model.h"
#include "host/tokenizer_impl.h"

static const char META[] = "\xe2\x96\x81";  // U+2581, SentencePiece's space

static void add_token(Tokenizer *t, const char *content, size_t len, int32_t id) {
    t->added = base_realloc(t->added, (size_t)(t->n_added + 1) * sizeof(AddedToken), "added tokens");
    char *c = base_malloc(len + 1, "added token");
    memcpy(c, content, len);
    c[len] = '\0';
    t->added[t->n_added++] = (AddedToken){c, len, id};
}

static size_t count_chars(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        i += k > 0 ? (size_t)k : 1;
        count++;
    }
    return count;
}

// ----------------------------------------------------------------------------
// GGUF: merges recovered from SentencePiece scores, in transformers' generate_merges order

typedef struct {
    int32_t l, r, merged;
    float score;
    int32_t len_l, len_r;  // in characters
    size_t seq;            // insertion order, for a stable sort
} MergeCand;

static int merge_cand_cmp(const void *pa, const void *pb) {
    const MergeCand *a = pa, *b = pb;
    // (score, len_l, len_r) descending; insertion order ascending (Python's sort is stable)
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->len_l != b->len_l) return a->len_l > b->len_l ? -1 : 1;
    if (a->len_r != b->len_r) return a->len_r > b->len_r ? -1 : 1;
    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

static int local_cmp(const void *pa, const void *pb) {
    const MergeCand *a = pa, *b = pb;
    if (a->l != b->l) return a->l < b->l ? -1 : 1;
    return a->r < b->r ? -1 : (a->r > b->r);
}

static int spm_merges_from_scores(Tokenizer *t, const GgufKV *scores, char *err) {
    size_t V = (size_t)t->n_vocab;
    if (!scores || scores->type != GGUF_ARRAY || scores->arr_n != V)
        return base_errf(err, "%s: a sentencepiece ('llama') tokenizer needs tokenizer.ggml.scores with one score per "
                              "token",
                         t->source);
    float *score = base_malloc(V * sizeof(float), "scores");  // a piece's score is its last occurrence's
    for (size_t i = 0; i < V; i++) score[i] = (float)gguf_arr_num(scores, i);
    StrMap seen;  // iteration follows first occurrences, as a Python dict does
    strmap_init(&seen, V);
    size_t cap = 1024, n = 0;
    MergeCand *all = base_malloc(cap * sizeof(MergeCand), "merge candidates");
    for (size_t i = 0; i < V; i++) {
        size_t plen;
        const char *p = tok_piece(t, (int)i, &plen);
        int32_t id = strmap_get(&t->vocab, p, plen);
        if (strmap_get(&seen, p, plen) >= 0) continue;
        strmap_put(&seen, p, plen, (int32_t)i);
        size_t n_local_start = n;
        int32_t chars_l = 0, chars_total = (int32_t)count_chars(p, plen);
        for (size_t k = 0; k < plen;) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t cl = utf8proc_iterate((const utf8proc_uint8_t *)p + k, (utf8proc_ssize_t)(plen - k), &cp);
            k += cl > 0 ? (size_t)cl : 1;
            chars_l++;
            if (k >= plen) break;
            int32_t l = strmap_get(&t->vocab, p, k), r = strmap_get(&t->vocab, p + k, plen - k);
            if (l < 0 || r < 0) continue;
            if (n == cap) {
                cap *= 2;
                all = base_realloc(all, cap * sizeof(MergeCand), "merge candidates");
            }
            all[n++] = (MergeCand){l, r, id, score[id], chars_l, chars_total - chars_l, 0};
        }
        qsort(all + n_local_start, n - n_local_start, sizeof(MergeCand), local_cmp);
    }
    for (size_t i = 0; i < n; i++) all[i].seq = i;
    qsort(all, n, sizeof(MergeCand), merge_cand_cmp);
    pairmap_init(&t->merges, n);
    for (size_t i = 0; i < n; i++) pairmap_put(&t->merges, all[i].l, all[i].r, (int32_t)i, all[i].merged);
    free(all);
    free(score);
    strmap_free(&seen);
    return 0;
}

// merges written "left right"
static int add_merge(Tokenizer *t, const char *l, size_t ll, const char *r, size_t rl, int32_t rank, char *err) {
    char buf[2048];
    if (ll + rl > sizeof buf) return base_errf(err, "%s: merge %d is too long", t->source, rank);
    int32_t a = strmap_get(&t->vocab, l, ll), b = strmap_get(&t->vocab, r, rl);
    memcpy(buf, l, ll);
    memcpy(buf + ll, r, rl);
    int32_t m = strmap_get(&t->vocab, buf, ll + rl);
    if (a < 0 || b < 0 || m < 0) {
        char ql[BASE_QUOTE_LEN], qr[BASE_QUOTE_LEN];
        return base_errf(err, "%s: merge %d ('%s %s') names a token missing from the vocabulary", t->source, rank,
                         base_escape(ql, sizeof ql, l, ll), base_escape(qr, sizeof qr, r, rl));
    }
    pairmap_put(&t->merges, a, b, rank, m);
    return 0;
}

Tokenizer *tok_load_gguf(const GgufFile *f, char *err) {
    char *model = gguf_get_str(f, "tokenizer.ggml.model");
    if (!model) {
        base_errf(err, "%s: GGUF file carries no tokenizer (tokenizer.ggml.model missing)", f->path);
        return NULL;
    }
    int spm = strcmp(model, "llama") == 0;
    if (!spm && strcmp(model, "gpt2") != 0) {
        char q[BASE_QUOTE_LEN];
        base_errf(err, "%s: tokenizer '%s' is not supported (supported: llama, gpt2)", f->path,
                  base_escape(q, sizeof q, model, strlen(model)));
        free(model);
        return NULL;
    }
    free(model);
    const GgufKV *tokens = gguf_find(f, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->arr_type != GGUF_STRING || tokens->arr_n == 0 ||
        tokens->arr_n > INT32_MAX) {
        base_errf(err, "%s: tokenizer.ggml.tokens is missing or not an array of strings", f->path);
        return NULL;
    }
    Tokenizer *t = tok_alloc(f->path);
    size_t V = (size_t)tokens->arr_n;
    const char **pieces = base_malloc(V * sizeof(char *), "vocabulary");
    size_t *lens = base_malloc(V * sizeof(size_t), "vocabulary");
    for (size_t i = 0; i < V; i++) pieces[i] = gguf_arr_str(tokens, i, &lens[i]);
    tok_set_vocab(t, pieces, lens, V);
    free(pieces);
    free(lens);

    uint32_t id;
    t->unk = gguf_get_u32(f, "tokenizer.ggml.unknown_token_id", &id) == 0 && id < V ? (int)id : -1;
    int add_bos = spm;  // llama.cpp adds BOS to sentencepiece vocabularies by default
    gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &add_bos);
    t->bos = add_bos && gguf_get_u32(f, "tokenizer.ggml.bos_token_id", &id) == 0 && id < V ? (int)id : -1;
    t->byte_level = !spm;
    // control and user-defined tokens are matched whole in the text, as transformers adds them
    const GgufKV *types = gguf_find(f, "tokenizer.ggml.token_type");
    for (size_t i = 0; types && types->type == GGUF_ARRAY && i < types->arr_n && i < V; i++) {
        int ty = (int)gguf_arr_num(types, i);
        if (ty != 3 && ty != 4) continue;
        size_t len;
        const char *p = tok_piece(t, (int)i, &len);
        int plain = 1;  // byte-level: a control token outside the byte alphabet is a mislabel
        for (size_t k = 0; k < len && t->byte_level; k++) plain &= (uint8_t)p[k] >= 0x21 && (uint8_t)p[k] < 0x7F;
        if (len && plain) add_token(t, p, len, (int32_t)i);
    }

    int rc = 0;
    if (spm) {
        t->byte_fallback = 1;
        t->fuse_unk = 1;
        int prefix = 1;
        gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &prefix);
        // transformers: Metaspace(replacement "▁", prepend_scheme "first", split False)
        rc = tok_add_norm(t, NS_REPLACE, " ", META, 0, 0, err);
        if (!rc && prefix) rc = tok_add_norm(t, NS_PREPEND, META, NULL, 1, 1, err);
        if (!rc) rc = spm_merges_from_scores(t, gguf_find(f, "tokenizer.ggml.scores"), err);
    } else {
        const GgufKV *mk = gguf_find(f, "tokenizer.ggml.merges");
        if (!mk || mk->type != GGUF_ARRAY || mk->arr_type != GGUF_STRING) {
            rc = base_errf(err, "%s: a byte-level ('gpt2') tokenizer needs tokenizer.ggml.merges", f->path);
        } else {
            pairmap_init(&t->merges, (size_t)mk->arr_n);
            for (uint64_t i = 0; i < mk->arr_n && rc == 0; i++) {
                size_t len;
                const char *m = gguf_arr_str(mk, i, &len);
                const char *sp = memchr(m, ' ', len);
                rc = sp ? add_merge(t, m, (size_t)(sp - m), sp + 1, len - (size_t)(sp - m) - 1, (int32_t)i, err)
                        : base_errf(err, "%s: merge %llu is not two tokens separated by a space", f->path,
                                    (unsigned long long)i);
            }
        }
        // SmolLM's tokenizer.json isolates every digit before the GPT-2 split (llama.cpp pre "smollm")
        char *pre = gguf_get_str(f, "tokenizer.ggml.pre");
        if (!rc && pre && strcmp(pre, "smollm") == 0) rc = tok_add_pre(t, PS_DIGITS, NULL, SB_ISOLATED, err);
        free(pre);
        if (!rc) rc = tok_add_regex(t, TOK_GPT2_SPLIT, SB_ISOLATED, err);
    }
    if (rc) {
        tok_free(t);
        return NULL;
    }
    tok_finish(t);
    return t;
}

// ----------------------------------------------------------------------------
// tokenizer.json

typedef struct {
    Tokenizer *t;
    const char *path;
    char *err;
} Json;

static int jerr_unsupported(const Json *j, const char *what, const char *type) {
    char q[BASE_QUOTE_LEN];
    return base_errf(j->err, "%s: %s '%s' is not supported", j->path, what,
                     type ? base_escape(q, sizeof q, type, strlen(type)) : "?");
}

static const char *jtype(json_t *o) { return json_string_value(json_object_get(o, "type")); }

static int parse_normalizer(Json *j, json_t *n) {
    if (!n || json_is_null(n)) return 0;
    const char *type = jtype(n);
    if (!type) return base_errf(j->err, "%s: normalizer without a type", j->path);
    if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(n, "normalizers"), *it;
        size_t i;
        json_array_foreach(list, i, it) if (parse_normalizer(j, it)) return -1;
        return 0;
    }
    if (strcmp(type, "NFC") == 0) return tok_add_norm(j->t, NS_NFC, NULL, NULL, 0, 0, j->err);
    if (strcmp(type, "NFKC") == 0) return tok_add_norm(j->t, NS_NFKC, NULL, NULL, 0, 0, j->err);
    if (strcmp(type, "Lowercase") == 0) return tok_add_norm(j->t, NS_LOWERCASE, NULL, NULL, 0, 0, j->err);
    if (strcmp(type, "Prepend") == 0) {
        const char *pre = json_string_value(json_object_get(n, "prepend"));
        if (!pre) return base_errf(j->err, "%s: a Prepend normalizer needs a string \"prepend\"", j->path);
        return tok_add_norm(j->t, NS_PREPEND, pre, NULL, 0, 0, j->err);
    }
    if (strcmp(type, "Replace") == 0) {
        json_t *pat = json_object_get(n, "pattern");
        const char *s = json_string_value(json_object_get(pat, "String"));
        if (!s) return base_errf(j->err, "%s: Replace normalizers with a Regex pattern are not supported", j->path);
        const char *content = json_string_value(json_object_get(n, "content"));
        if (!content) return base_errf(j->err, "%s: a Replace normalizer needs a string \"content\"", j->path);
        return tok_add_norm(j->t, NS_REPLACE, s, content, 0, 0, j->err);
    }
    return jerr_unsupported(j, "normalizer", type);
}

static int parse_behavior(Json *j, json_t *o, SplitBehavior *out) {
    const char *b = json_string_value(json_object_get(o, "behavior"));
    if (!b || strcmp(b, "Isolated") == 0) *out = SB_ISOLATED;
    else if (strcmp(b, "Removed") == 0) *out = SB_REMOVED;
    else if (strcmp(b, "MergedWithPrevious") == 0) *out = SB_MERGED_PREV;
    else if (strcmp(b, "MergedWithNext") == 0) *out = SB_MERGED_NEXT;
    else if (strcmp(b, "Contiguous") == 0) *out = SB_CONTIGUOUS;
    else return jerr_unsupported(j, "split behavior", b);
    return 0;
}

static int parse_pre_tokenizer(Json *j, json_t *p, int first) {
    if (!p || json_is_null(p)) return 0;
    const char *type = jtype(p);
    if (!type) return base_errf(j->err, "%s: pre_tokenizer without a type", j->path);
    Tokenizer *t = j->t;
    if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(p, "pretokenizers"), *it;
        size_t i;
        json_array_foreach(list, i, it) if (parse_pre_tokenizer(j, it, first && i == 0)) return -1;
        return 0;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        t->byte_level = 1;
        json_t *aps = json_object_get(p, "add_prefix_space");
        if (json_is_true(aps) && tok_add_norm(t, NS_PREPEND, " ", NULL, 1, 0, j->err)) return -1;
        json_t *ur = json_object_get(p, "use_regex");
        if (!ur || json_is_true(ur)) return tok_add_regex(t, TOK_GPT2_SPLIT, SB_ISOLATED, j->err);
        return 0;
    }
    if (strcmp(type, "Split") == 0) {
        SplitBehavior bh;
        if (parse_behavior(j, p, &bh)) return -1;
        if (json_is_true(json_object_get(p, "invert"))) return base_errf(j->err, "%s: inverted Split is not supported", j->path);
        json_t *pat = json_object_get(p, "pattern");
        const char *re = json_string_value(json_object_get(pat, "Regex"));
        const char *lit = json_string_value(json_object_get(pat, "String"));
        if (re) return tok_add_regex(t, re, bh, j->err);
        if (lit) return tok_add_pre(t, PS_LITERAL, lit, bh, j->err);
        return base_errf(j->err, "%s: Split without a pattern", j->path);
    }
    if (strcmp(type, "Punctuation") == 0) {
        SplitBehavior bh;
        if (parse_behavior(j, p, &bh)) return -1;
        return tok_add_pre(t, PS_PUNCT, NULL, bh, j->err);
    }
    if (strcmp(type, "Digits") == 0)
        return tok_add_pre(t, PS_DIGITS, NULL, json_is_true(json_object_get(p, "individual_digits")) ? SB_ISOLATED
                                                                                                   : SB_CONTIGUOUS,
                           j->err);
    if (strcmp(type, "Metaspace") == 0) {
        // spaces become the replacement, which is prepended per prepend_scheme; with split, each
        // replacement starts a new piece. Only as the first step, where it equals a normalizer.
        if (!first) return base_errf(j->err, "%s: Metaspace after other pre-tokenizers is not supported", j->path);
        const char *rep = json_string_value(json_object_get(p, "replacement"));
        const char *scheme = json_string_value(json_object_get(p, "prepend_scheme"));
        json_t *aps = json_object_get(p, "add_prefix_space");  // older files
        if (!rep) rep = META;
        if (!scheme) scheme = aps && !json_is_true(aps) ? "never" : "always";
        if (tok_add_norm(t, NS_REPLACE, " ", rep, 0, 0, j->err)) return -1;
        if (strcmp(scheme, "never") != 0 &&
            tok_add_norm(t, NS_PREPEND, rep, NULL, 1, strcmp(scheme, "first") == 0, j->err))
            return -1;
        if (json_is_true(json_object_get(p, "split"))) return tok_add_pre(t, PS_LITERAL, rep, SB_MERGED_NEXT, j->err);
        return 0;
    }
    return jerr_unsupported(j, "pre_tokenizer", type);
}

// BOS from a post-processor: the special tokens a TemplateProcessing puts before the sequence
static int parse_post_processor(Json *j, json_t *p) {
    if (!p || json_is_null(p)) return 0;
    const char *type = jtype(p);
    if (!type) return 0;
    if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(p, "processors"), *it;
        size_t i;
        json_array_foreach(list, i, it) if (parse_post_processor(j, it)) return -1;
        return 0;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        j->t->trim_offsets = json_is_true(json_object_get(p, "trim_offsets"));
        return 0;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        json_t *single = json_object_get(p, "single"), *it;
        size_t i;
        json_array_foreach(single, i, it) {
            if (json_object_get(it, "Sequence")) break;
            const char *name = json_string_value(json_object_get(json_object_get(it, "SpecialToken"), "id"));
            json_t *ids = json_object_get(json_object_get(json_object_get(p, "special_tokens"), name ? name : ""), "ids");
            if (!name || json_array_size(ids) != 1)
                return base_errf(j->err, "%s: post_processor template token before the text is not one special token",
                                 j->path);
            if (j->t->bos >= 0)
                return base_errf(j->err, "%s: post_processor puts more than one token before the text", j->path);
            j->t->bos = (int)json_integer_value(json_array_get(ids, 0));
        }
        return 0;
    }
    if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0)
        return jerr_unsupported(j, "post_processor (an encoder's)", type);
    return jerr_unsupported(j, "post_processor", type);
}

// the vocabulary with added tokens folded in (ids beyond the vocabulary extend it)
static int build_vocab(Json *j, json_t *vocab, json_t *added) {
    size_t V = 0;
    const char *key;
    json_t *val, *it;
    size_t i;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) > INT32_MAX) {
            char q[BASE_QUOTE_LEN];
            return base_errf(j->err, "%s: vocabulary entry '%s' has no valid id", j->path,
                             base_escape(q, sizeof q, key, strlen(key)));
        }
        if ((size_t)json_integer_value(val) + 1 > V) V = (size_t)json_integer_value(val) + 1;
    }
    json_array_foreach(added, i, it) {
        json_int_t id = json_integer_value(json_object_get(it, "id"));
        if (!json_is_string(json_object_get(it, "content")) || id < 0 || id > INT32_MAX)
            return base_errf(j->err, "%s: added token %zu has no content or id", j->path, i);
        if ((size_t)id + 1 > V) V = (size_t)id + 1;
    }
    if (V == 0) return base_errf(j->err, "%s: empty vocabulary", j->path);
    // ids index an array of V pieces: real vocabularies are dense (a few reserved gaps at most), so ids far
    // beyond the number of tokens are a corrupt file, refused before allocating gigabytes for it
    size_t n_tokens = json_object_size(vocab) + json_array_size(added);
    if (V > 4 * n_tokens + 1024)
        return base_errf(j->err, "%s: token ids run to %zu for %zu tokens (a corrupt vocabulary)", j->path, V - 1,
                         n_tokens);
    const char **pieces = base_calloc(V, sizeof(char *), "vocabulary");
    size_t *lens = base_calloc(V, sizeof(size_t), "vocabulary");
    json_object_foreach(vocab, key, val) {
        pieces[json_integer_value(val)] = key;
        lens[json_integer_value(val)] = strlen(key);
    }
    json_array_foreach(added, i, it) {
        json_int_t id = json_integer_value(json_object_get(it, "id"));
        pieces[id] = json_string_value(json_object_get(it, "content"));
        lens[id] = strlen(pieces[id]);
    }
    tok_set_vocab(j->t, pieces, lens, V);
    free(pieces);
    free(lens);
    json_array_foreach(added, i, it) {
        const char *c = json_string_value(json_object_get(it, "content"));
        add_token(j->t, c, strlen(c), (int32_t)json_integer_value(json_object_get(it, "id")));
    }
    return 0;
}

static int parse_model(Json *j, json_t *m) {
    Tokenizer *t = j->t;
    const char *type = jtype(m);
    if (type && strcmp(type, "BPE") != 0) return jerr_unsupported(j, "tokenizer model", type);
    const char *cs = json_string_value(json_object_get(m, "continuing_subword_prefix"));
    const char *ew = json_string_value(json_object_get(m, "end_of_word_suffix"));
    if ((cs && cs[0]) || (ew && ew[0]))
        return base_errf(j->err, "%s: BPE with continuing_subword_prefix or end_of_word_suffix is not supported", j->path);
    t->byte_fallback = json_is_true(json_object_get(m, "byte_fallback"));
    t->fuse_unk = json_is_true(json_object_get(m, "fuse_unk"));
    t->ignore_merges = json_is_true(json_object_get(m, "ignore_merges"));
    const char *unk = json_string_value(json_object_get(m, "unk_token"));
    if (unk) t->unk = strmap_get(&t->vocab, unk, strlen(unk));
    json_t *merges = json_object_get(m, "merges"), *it;
    if (!json_is_array(merges)) return base_errf(j->err, "%s: model.merges is missing", j->path);
    pairmap_init(&t->merges, json_array_size(merges));
    size_t i;
    json_array_foreach(merges, i, it) {
        int rc;
        if (json_is_string(it)) {  // "left right"
            const char *s = json_string_value(it), *sp = strchr(s, ' ');
            rc = sp ? add_merge(t, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), (int32_t)i, j->err)
                    : base_errf(j->err, "%s: merge %zu is not two tokens separated by a space", j->path, i);
        } else if (json_is_array(it) && json_array_size(it) == 2) {  // ["left", "right"]
            const char *l = json_string_value(json_array_get(it, 0)), *r = json_string_value(json_array_get(it, 1));
            rc = l && r ? add_merge(t, l, strlen(l), r, strlen(r), (int32_t)i, j->err)
                        : base_errf(j->err, "%s: merge %zu is not two strings", j->path, i);
        } else {
            rc = base_errf(j->err, "%s: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", j->path, i);
        }
        if (rc) return -1;
    }
    return 0;
}

Tokenizer *tok_load_json(const char *path, char *err) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (!base_file_exists(path)) base_errf(err, "%s: cannot open", path);
        else base_errf(err, "%s: malformed JSON at line %d: %s", path, jerr.line, jerr.text);
        return NULL;
    }
    Tokenizer *t = tok_alloc(path);
    Json j = {t, path, err};
    json_t *model = json_object_get(root, "model");
    int rc = json_is_object(model) && json_is_object(json_object_get(model, "vocab"))
                 ? 0
                 : base_errf(err, "%s: no model.vocab object (not a tokenizer.json?)", path);
    if (!rc) rc = build_vocab(&j, json_object_get(model, "vocab"), json_object_get(root, "added_tokens"));
    if (!rc) rc = parse_model(&j, model);
    if (!rc) rc = parse_normalizer(&j, json_object_get(root, "normalizer"));
    if (!rc) rc = parse_pre_tokenizer(&j, json_object_get(root, "pre_tokenizer"), 1);
    if (!rc) rc = parse_post_processor(&j, json_object_get(root, "post_processor"));
    json_decref(root);
    if (rc) {
        tok_free(t);
        return NULL;
    }
    tok_finish(t);
    return t;
}

// ----------------------------------------------------------------------------
// vocab.json + merges.txt (GPT-2's two files), BOS from tokenizer_config.json

static Tokenizer *load_two_files(const char *dir, char *err) {
    char vpath[4096], mpath[4096], cpath[4096];
    snprintf(vpath, sizeof vpath, "%s/vocab.json", dir);
    snprintf(mpath, sizeof mpath, "%s/merges.txt", dir);
    snprintf(cpath, sizeof cpath, "%s/tokenizer_config.json", dir);
    json_error_t jerr;
    json_t *vocab = json_load_file(vpath, 0, &jerr);
    if (!vocab) {
        base_errf(err, "%s: %s", vpath, base_file_exists(vpath) ? jerr.text : "cannot open");
        return NULL;
    }
    size_t len;
    char *merges = base_read_file(mpath, &len, err);
    if (!merges) {
        json_decref(vocab);
        return NULL;
    }
    Tokenizer *t = tok_alloc(vpath);
    Json j = {t, vpath, err};
    json_t *added = json_array();
    int rc = build_vocab(&j, vocab, added);
    json_decref(added);
    snprintf(t->source, sizeof t->source, "%s", mpath);
    if (!rc) {
        pairmap_init(&t->merges, len / 8 + 16);
        int32_t rank = 0;
        for (char *line = merges, *next; line && *line && rc == 0; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = '\0';
            size_t ll = strlen(line);
            if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
            if (line[0] == '\0' || strncmp(line, "#version", 8) == 0) continue;
            char *sp = strchr(line, ' '), q[BASE_QUOTE_LEN];
            rc = sp ? add_merge(t, line, (size_t)(sp - line), sp + 1, strlen(sp + 1), rank++, err)
                    : base_errf(err, "%s: line '%s' is not two tokens separated by a space", mpath,
                                base_escape(q, sizeof q, line, ll));
        }
    }
    t->byte_level = 1;
    if (!rc) rc = tok_add_regex(t, TOK_GPT2_SPLIT, SB_ISOLATED, err);
    json_t *cfg = base_file_exists(cpath) ? json_load_file(cpath, 0, &jerr) : NULL;
    if (!rc && cfg && json_is_true(json_object_get(cfg, "add_bos_token"))) {
        json_t *b = json_object_get(cfg, "bos_token");
        const char *name = json_is_string(b) ? json_string_value(b) : json_string_value(json_object_get(b, "content"));
        t->bos = name ? strmap_get(&t->vocab, name, strlen(name)) : -1;
        if (t->bos < 0) rc = base_errf(err, "%s: add_bos_token is set but bos_token is not in the vocabulary", cpath);
    }
    json_decref(cfg);
    json_decref(vocab);
    free(merges);
    if (rc) {
        tok_free(t);
        return NULL;
    }
    tok_finish(t);
    return t;
}

Tokenizer *tok_load_dir(const char *dir, char *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (base_file_exists(path)) return tok_load_json(path, err);
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    if (base_file_exists(path)) return load_two_files(dir, err);
    base_errf(err, "%s: no tokenizer.json (or vocab.json + merges.txt)", dir);
    return NULL;
}

Tokenizer *tok_open_for_model(const Model *m, char *err) {
    if (model_gguf(m)) return tok_load_gguf(model_gguf(m), err);
    return tok_load_dir(model_dir(m), err);
}
