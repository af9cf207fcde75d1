#include "host/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "host/base.h"

// GPT-2's pre-tokenizer (ByteLevel use_regex), as Hugging Face tokenizers applies it
static const char *GPT2_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
// SmolLM's tokenizer.json isolates every digit before the GPT-2 split (llama.cpp pre type "smollm")
static const char *DIGIT_SPLIT = "\\p{N}";
#define MAX_SPLITS 2

// ----------------------------------------------------------------------------
// string -> int map (open addressing); keys are copied into the map's own arena

typedef struct {
    size_t *off;      // (cap) key offset in arena, SIZE_MAX when empty
    size_t *len;      // (cap)
    int32_t *val;     // (cap)
    size_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
} StrMap;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static void strmap_alloc(StrMap *m, size_t cap) {
    m->cap = cap;
    m->off = base_malloc(cap * sizeof(size_t), "string map");
    m->len = base_malloc(cap * sizeof(size_t), "string map");
    m->val = base_malloc(cap * sizeof(int32_t), "string map");
    for (size_t i = 0; i < cap; i++) m->off[i] = SIZE_MAX;
}

static void strmap_init(StrMap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t cap = 64;
    while (cap < 2 * expected) cap *= 2;
    strmap_alloc(m, cap);
}

static void strmap_free(StrMap *m) {
    free(m->off);
    free(m->len);
    free(m->val);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static size_t strmap_slot(const StrMap *m, const char *key, size_t n) {
    size_t i = (size_t)hash_bytes(key, n) & (m->cap - 1);
    while (m->off[i] != SIZE_MAX && !(m->len[i] == n && memcmp(m->arena + m->off[i], key, n) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int32_t strmap_get(const StrMap *m, const char *key, size_t n) {
    size_t i = strmap_slot(m, key, n);
    return m->off[i] == SIZE_MAX ? -1 : m->val[i];
}

static void strmap_put(StrMap *m, const char *key, size_t n, int32_t val) {
    if (2 * (m->n + 1) > m->cap) {  // grow, keeping the arena
        StrMap old = *m;
        strmap_alloc(m, old.cap * 2);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++) {
            if (old.off[i] == SIZE_MAX) continue;
            size_t j = strmap_slot(m, old.arena + old.off[i], old.len[i]);
            m->off[j] = old.off[i];
            m->len[j] = old.len[i];
            m->val[j] = old.val[i];
            m->n++;
        }
        free(old.off);
        free(old.len);
        free(old.val);
    }
    size_t i = strmap_slot(m, key, n);
    if (m->off[i] != SIZE_MAX) {
        m->val[i] = val;
        return;
    }
    if (m->arena_len + n > m->arena_cap) {
        m->arena_cap = 2 * (m->arena_len + n) + 4096;
        m->arena = base_realloc(m->arena, m->arena_cap, "string map keys");
    }
    memcpy(m->arena + m->arena_len, key, n);
    m->off[i] = m->arena_len;
    m->len[i] = n;
    m->val[i] = val;
    m->arena_len += n;
    m->n++;
}

// ----------------------------------------------------------------------------
// (left id, right id) -> (rank, merged id)

typedef struct {
    uint64_t *key;  // (cap) UINT64_MAX when empty
    int32_t *rank;
    int32_t *merged;
    size_t cap;
} PairMap;

static uint64_t pair_key(int32_t l, int32_t r) { return ((uint64_t)(uint32_t)l << 32) | (uint32_t)r; }

static void pairmap_init(PairMap *m, size_t expected) {
    size_t cap = 64;
    while (cap < 2 * expected) cap *= 2;
    m->cap = cap;
    m->key = base_malloc(cap * sizeof(uint64_t), "merge map");
    m->rank = base_malloc(cap * sizeof(int32_t), "merge map");
    m->merged = base_malloc(cap * sizeof(int32_t), "merge map");
    for (size_t i = 0; i < cap; i++) m->key[i] = UINT64_MAX;
}

static size_t pairmap_slot(const PairMap *m, uint64_t k) {
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->key[i] != UINT64_MAX && m->key[i] != k) i = (i + 1) & (m->cap - 1);
    return i;
}

// later entries overwrite earlier ones, as a Rust HashMap collected from the merge list does
static void pairmap_put(PairMap *m, int32_t l, int32_t r, int32_t rank, int32_t merged) {
    size_t i = pairmap_slot(m, pair_key(l, r));
    m->key[i] = pair_key(l, r);
    m->rank[i] = rank;
    m->merged[i] = merged;
}

static int pairmap_get(const PairMap *m, int32_t l, int32_t r, int32_t *rank, int32_t *merged) {
    size_t i = pairmap_slot(m, pair_key(l, r));
    if (m->key[i] == UINT64_MAX) return 0;
    *rank = m->rank[i];
    *merged = m->merged[i];
    return 1;
}

static void pairmap_free(PairMap *m) {
    free(m->key);
    free(m->rank);
    free(m->merged);
}

// ----------------------------------------------------------------------------
// BPE over a linked list of symbols with a heap of candidate merges

typedef struct {
    int32_t id;
    int32_t prev, next;  // -1 at the ends
    size_t start, end;   // byte range in the caller's text
    int alive;
} Sym;

typedef struct {
    int32_t rank, pos, merged;
} Cand;

typedef struct {
    Cand *a;
    size_t n, cap;
} Heap;

static int cand_less(Cand x, Cand y) { return x.rank < y.rank || (x.rank == y.rank && x.pos < y.pos); }

static void heap_push(Heap *h, Cand c) {
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 256;
        h->a = base_realloc(h->a, h->cap * sizeof(Cand), "bpe heap");
    }
    size_t i = h->n++;
    while (i > 0 && cand_less(c, h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = c;
}

static Cand heap_pop(Heap *h) {
    Cand top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && cand_less(h->a[c + 1], h->a[c])) c++;
        if (!cand_less(h->a[c], last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0) h->a[i] = last;
    return top;
}

static void push_pair(const PairMap *pm, Heap *h, const Sym *s, int32_t pos) {
    if (pos < 0 || s[pos].next < 0) return;
    Cand c;
    if (pairmap_get(pm, s[pos].id, s[s[pos].next].id, &c.rank, &c.merged)) {
        c.pos = pos;
        heap_push(h, c);
    }
}

// Merge lowest rank first, leftmost among equals (Hugging Face tokenizers' Word::merge_all).
static void bpe(const PairMap *pm, Sym *s, int32_t n, Heap *h) {
    h->n = 0;
    for (int32_t i = 0; i + 1 < n; i++) push_pair(pm, h, s, i);
    while (h->n > 0) {
        Cand c = heap_pop(h);
        Sym *a = &s[c.pos];
        if (!a->alive || a->next < 0) continue;
        Sym *b = &s[a->next];
        int32_t rank, merged;
        if (!pairmap_get(pm, a->id, b->id, &rank, &merged) || merged != c.merged) continue;  // stale
        a->id = merged;
        a->end = b->end;
        b->alive = 0;
        a->next = b->next;
        if (b->next >= 0) s[b->next].prev = c.pos;
        push_pair(pm, h, s, a->prev);
        push_pair(pm, h, s, c.pos);
    }
}

// ----------------------------------------------------------------------------
// the tokenizer

struct Tokenizer {
    TokKind kind;
    int n_vocab;
    int bos;                // -1 when no BOS is added
    int unk;                // -1 when unknown
    int add_space_prefix;   // SPM only
    char *pieces;           // all vocabulary strings back to back
    size_t *piece_off;      // (V + 1)
    StrMap vocab;           // piece -> id (the last id wins for duplicates, like a Python dict)
    PairMap merges;
    int32_t byte_sym[256];  // byte-level: id of each byte's GPT-2 alphabet symbol; SPM: <0xXX> token or -1
    pcre2_code *split[MAX_SPLITS];
    int n_split;
    pcre2_match_data *match;
    // byte-level piece cache: piece bytes -> index into cache_first; tokens as (id, byte length)
    StrMap cache;
    int32_t *cache_ids;
    uint32_t *cache_len;
    size_t cache_n, cache_cap;
    size_t *cache_first;    // (entries + 1)
    size_t cache_entries, cache_entries_cap;
    Sym *syms;              // scratch
    size_t syms_cap;
    Heap heap;
};

TokKind tok_kind(const Tokenizer *t) { return t->kind; }
int tok_vocab_size(const Tokenizer *t) { return t->n_vocab; }
int tok_bos_id(const Tokenizer *t) { return t->bos; }

const char *tok_piece(const Tokenizer *t, int id, size_t *len) {
    ASSERT(id >= 0 && id < t->n_vocab);
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->pieces + t->piece_off[id];
}

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100 onwards
static uint32_t byte_to_codepoint(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return (uint32_t)b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256u + (uint32_t)n;
}

static size_t utf8_len_of_char(const char *s, size_t n) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &cp);
    return k > 0 ? (size_t)k : 0;
}

static size_t utf8_count_chars(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len_of_char(s + i, n - i);
        i += k ? k : 1;
        count++;
    }
    return count;
}

// ---- SentencePiece merges, in the order of transformers' generate_merges (tokenization_utils_base.py)

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

static int build_spm_merges(Tokenizer *t, const GgufFile *f, char *err) {
    const GgufKV *scores = gguf_find(f, "tokenizer.ggml.scores");
    if (!scores || scores->type != GGUF_ARRAY || scores->arr_n != (uint64_t)t->n_vocab)
        return base_errf(err, "%s: a sentencepiece ('llama') tokenizer needs tokenizer.ggml.scores with one score "
                              "per token",
                         f->path);
    size_t V = (size_t)t->n_vocab;
    // the score of a piece is that of its last occurrence; iteration follows first occurrences
    float *score = base_malloc(V * sizeof(float), "scores");
    for (size_t i = 0; i < V; i++) score[i] = (float)gguf_arr_num(scores, i);
    StrMap seen;
    strmap_init(&seen, V);
    size_t cap = 1024, n = 0;
    MergeCand *all = base_malloc(cap * sizeof(MergeCand), "merge candidates");
    for (size_t i = 0; i < V; i++) {
        size_t plen;
        const char *p = tok_piece(t, (int)i, &plen);
        int32_t id = strmap_get(&t->vocab, p, plen);
        if (strmap_get(&seen, p, plen) >= 0) continue;  // not the piece's first occurrence
        strmap_put(&seen, p, plen, (int32_t)i);
        size_t n_local_start = n;
        int32_t chars_l = 0, chars_total = (int32_t)utf8_count_chars(p, plen);
        for (size_t k = 0; k < plen;) {
            size_t cl = utf8_len_of_char(p + k, plen - k);
            k += cl ? cl : 1;
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

static int build_bpe_merges(Tokenizer *t, const GgufFile *f, char *err) {
    const GgufKV *mk = gguf_find(f, "tokenizer.ggml.merges");
    if (!mk || mk->type != GGUF_ARRAY || mk->arr_type != GGUF_STRING)
        return base_errf(err, "%s: a byte-level ('gpt2') tokenizer needs tokenizer.ggml.merges", f->path);
    pairmap_init(&t->merges, (size_t)mk->arr_n);
    char buf[1024];
    for (uint64_t i = 0; i < mk->arr_n; i++) {
        size_t len;
        const char *m = gguf_arr_str(mk, i, &len);
        const char *sp = memchr(m, ' ', len);
        if (!sp || len + 1 > sizeof buf)
            return base_errf(err, "%s: merge %llu is not two tokens separated by a space", f->path,
                             (unsigned long long)i);
        size_t ll = (size_t)(sp - m), rl = len - ll - 1;
        int32_t l = strmap_get(&t->vocab, m, ll), r = strmap_get(&t->vocab, sp + 1, rl);
        memcpy(buf, m, ll);
        memcpy(buf + ll, sp + 1, rl);
        int32_t merged = strmap_get(&t->vocab, buf, ll + rl);
        if (l < 0 || r < 0 || merged < 0)
            return base_errf(err, "%s: merge %llu ('%.*s') names a token missing from the vocabulary", f->path,
                             (unsigned long long)i, (int)len, m);
        pairmap_put(&t->merges, l, r, (int32_t)i, merged);
    }
    return 0;
}

static int compile_split(Tokenizer *t, const char *pattern, const char *path, char *err) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return base_errf(err, "%s: pre-tokenizer regex does not compile at %zu: %s", path, (size_t)off, (char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter is the fallback
    t->split[t->n_split++] = re;
    return 0;
}

Tokenizer *tok_load_gguf(const GgufFile *f, char *err) {
    char *model = gguf_get_str(f, "tokenizer.ggml.model");
    if (!model) {
        base_errf(err, "%s: GGUF file carries no tokenizer (tokenizer.ggml.model missing)", f->path);
        return NULL;
    }
    Tokenizer *t = base_calloc(1, sizeof *t, "Tokenizer");
    if (strcmp(model, "llama") == 0) {
        t->kind = TOK_SPM;
    } else if (strcmp(model, "gpt2") == 0) {
        t->kind = TOK_BYTE_BPE;
    } else {
        base_errf(err, "%s: tokenizer '%s' is not supported (supported: llama, gpt2)", f->path, model);
        free(model);
        free(t);
        return NULL;
    }
    free(model);

    const GgufKV *tokens = gguf_find(f, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->arr_type != GGUF_STRING || tokens->arr_n == 0 ||
        tokens->arr_n > INT32_MAX) {
        base_errf(err, "%s: tokenizer.ggml.tokens is missing or not an array of strings", f->path);
        free(t);
        return NULL;
    }
    size_t V = (size_t)tokens->arr_n, total = 0;
    t->n_vocab = (int)V;
    for (size_t i = 0; i < V; i++) {
        size_t len;
        gguf_arr_str(tokens, i, &len);
        total += len;
    }
    t->pieces = base_malloc(total + 1, "vocabulary");
    t->piece_off = base_malloc((V + 1) * sizeof(size_t), "vocabulary");
    strmap_init(&t->vocab, V);
    size_t pos = 0;
    for (size_t i = 0; i < V; i++) {
        size_t len;
        const char *s = gguf_arr_str(tokens, i, &len);
        memcpy(t->pieces + pos, s, len);
        t->piece_off[i] = pos;
        strmap_put(&t->vocab, s, len, (int32_t)i);
        pos += len;
    }
    t->piece_off[V] = pos;

    uint32_t id;
    t->unk = gguf_get_u32(f, "tokenizer.ggml.unknown_token_id", &id) == 0 && id < V ? (int)id : -1;
    int add_bos = t->kind == TOK_SPM;  // llama.cpp adds BOS to sentencepiece vocabularies by default
    gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &add_bos);
    t->bos = add_bos && gguf_get_u32(f, "tokenizer.ggml.bos_token_id", &id) == 0 && id < V ? (int)id : -1;
    t->add_space_prefix = 1;
    gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);

    if (t->kind == TOK_SPM) {
        for (int b = 0; b < 256; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            t->byte_sym[b] = strmap_get(&t->vocab, name, 6);
        }
        if (build_spm_merges(t, f, err)) goto fail;
    } else {
        for (int b = 0; b < 256; b++) {
            utf8proc_uint8_t buf[4];
            utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)byte_to_codepoint(b), buf);
            // some vocabularies lack rare bytes (control characters, bytes never valid in UTF-8)
            t->byte_sym[b] = strmap_get(&t->vocab, (const char *)buf, (size_t)k);
        }
        if (build_bpe_merges(t, f, err)) goto fail;
        char *pre = gguf_get_str(f, "tokenizer.ggml.pre");
        int digits = pre && strcmp(pre, "smollm") == 0;
        free(pre);
        if (digits && compile_split(t, DIGIT_SPLIT, f->path, err)) goto fail;
        if (compile_split(t, GPT2_SPLIT, f->path, err)) goto fail;
        t->match = pcre2_match_data_create(4, NULL);
        strmap_init(&t->cache, 4096);
        t->cache_entries_cap = 4096;
        t->cache_first = base_malloc((t->cache_entries_cap + 1) * sizeof(size_t), "token cache");
        t->cache_first[0] = 0;
    }
    return t;

fail:
    tok_free(t);
    return NULL;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    free(t->pieces);
    free(t->piece_off);
    strmap_free(&t->vocab);
    if (t->merges.key) pairmap_free(&t->merges);
    for (int i = 0; i < t->n_split; i++) pcre2_code_free(t->split[i]);
    if (t->match) pcre2_match_data_free(t->match);
    if (t->cache.off) strmap_free(&t->cache);
    free(t->cache_ids);
    free(t->cache_len);
    free(t->cache_first);
    free(t->syms);
    free(t->heap.a);
    free(t);
}

void tokseq_free(TokenSeq *s) {
    free(s->ids);
    free(s->start);
    free(s->end);
    memset(s, 0, sizeof *s);
}

static void seq_push(TokenSeq *s, int32_t id, size_t start, size_t end) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->ids = base_realloc(s->ids, s->cap * sizeof(int32_t), "tokens");
        s->start = base_realloc(s->start, s->cap * sizeof(size_t), "tokens");
        s->end = base_realloc(s->end, s->cap * sizeof(size_t), "tokens");
    }
    s->ids[s->n] = id;
    s->start[s->n] = start;
    s->end[s->n] = end;
    s->n++;
}

static Sym *syms_reserve(Tokenizer *t, size_t n) {
    if (n > t->syms_cap) {
        t->syms_cap = n + n / 2 + 64;
        t->syms = base_realloc(t->syms, t->syms_cap * sizeof(Sym), "bpe symbols");
    }
    return t->syms;
}

static void sym_append(Sym *s, int32_t *n, int32_t id, size_t start, size_t end) {
    s[*n] = (Sym){id, *n - 1, -1, start, end, 1};
    if (*n > 0) s[*n - 1].next = *n;
    (*n)++;
}

// ---- SentencePiece-style: the whole text is one BPE problem (merges may span U+2581)

static int encode_spm(Tokenizer *t, const char *text, size_t len, TokenSeq *out, char *err) {
    static const char META[] = "\xe2\x96\x81";  // U+2581, what spaces become
    // at most three symbols per byte (a space falling back to the bytes of U+2581), plus the prefix
    Sym *s = syms_reserve(t, 3 * len + 3);
    int32_t n = 0;
    if (t->add_space_prefix && len > 0) {
        int32_t id = strmap_get(&t->vocab, META, 3);
        if (id >= 0) {
            sym_append(s, &n, id, 0, 0);
        } else {
            for (int k = 0; k < 3; k++) sym_append(s, &n, t->byte_sym[(uint8_t)META[k]], 0, 0);
        }
    }
    for (size_t i = 0; i < len;) {
        size_t cl = utf8_len_of_char(text + i, len - i);
        if (cl == 0) return base_errf(err, "text is not valid UTF-8 at byte %zu", i);
        const char *c = text[i] == ' ' ? META : text + i;
        size_t clen = text[i] == ' ' ? 3 : cl;
        int32_t id = strmap_get(&t->vocab, c, clen);
        if (id >= 0) {
            sym_append(s, &n, id, i, i + cl);
        } else {
            int ok = 1;
            for (size_t k = 0; k < clen; k++) ok &= t->byte_sym[(uint8_t)c[k]] >= 0;
            if (ok) {
                for (size_t k = 0; k < clen; k++) {
                    size_t b0 = text[i] == ' ' ? i : i + k, b1 = text[i] == ' ' ? i + 1 : i + k + 1;
                    sym_append(s, &n, t->byte_sym[(uint8_t)c[k]], b0, b1);
                }
            } else if (t->unk >= 0) {
                // fuse_unk: consecutive unknowns become one <unk>
                if (n > 0 && s[n - 1].id == t->unk) s[n - 1].end = i + cl;
                else sym_append(s, &n, t->unk, i, i + cl);
            } else {
                return base_errf(err, "character at byte %zu is not in the vocabulary and has no byte fallback", i);
            }
        }
        i += cl;
    }
    bpe(&t->merges, s, n, &t->heap);
    // merges keep the left symbol, so symbol 0 heads the list
    for (int32_t i = 0; n > 0 && i >= 0; i = s[i].next) seq_push(out, s[i].id, s[i].start, s[i].end);
    return 0;
}

// ---- byte-level: pre-tokenize with the split regexes, BPE each piece (cached)

typedef struct {
    size_t start, end;
} Span;

static void cache_store(Tokenizer *t, const char *piece, size_t len, const Sym *s, int32_t n) {
    for (int32_t i = 0; i >= 0 && n > 0; i = s[i].next) {
        if (t->cache_n == t->cache_cap) {
            t->cache_cap = t->cache_cap ? 2 * t->cache_cap : 8192;
            t->cache_ids = base_realloc(t->cache_ids, t->cache_cap * sizeof(int32_t), "token cache");
            t->cache_len = base_realloc(t->cache_len, t->cache_cap * sizeof(uint32_t), "token cache");
        }
        t->cache_ids[t->cache_n] = s[i].id;
        t->cache_len[t->cache_n] = (uint32_t)(s[i].end - s[i].start);
        t->cache_n++;
    }
    if (t->cache_entries + 1 >= t->cache_entries_cap) {
        t->cache_entries_cap *= 2;
        t->cache_first = base_realloc(t->cache_first, (t->cache_entries_cap + 1) * sizeof(size_t), "token cache");
    }
    strmap_put(&t->cache, piece, len, (int32_t)t->cache_entries);
    t->cache_entries++;
    t->cache_first[t->cache_entries] = t->cache_n;
}

static int encode_piece(Tokenizer *t, const char *text, size_t start, size_t end, TokenSeq *out, char *err) {
    size_t len = end - start;
    int32_t e = strmap_get(&t->cache, text + start, len);
    if (e < 0) {
        Sym *s = syms_reserve(t, len);
        int32_t n = 0;
        for (size_t i = 0; i < len; i++) {
            int32_t id = t->byte_sym[(uint8_t)text[start + i]];
            if (id < 0) id = t->unk;
            if (id < 0)
                return base_errf(err, "byte 0x%02X at offset %zu has no token in this vocabulary",
                                 (uint8_t)text[start + i], start + i);
            sym_append(s, &n, id, i, i + 1);
        }
        bpe(&t->merges, s, n, &t->heap);
        cache_store(t, text + start, len, s, n);
        e = (int32_t)t->cache_entries - 1;
    }
    size_t at = start;
    for (size_t k = t->cache_first[e]; k < t->cache_first[e + 1]; k++) {
        seq_push(out, t->cache_ids[k], at, at + t->cache_len[k]);
        at += t->cache_len[k];
    }
    return 0;
}

// Split [start, end) by regex re into matches and the gaps between them (behaviour "isolated").
static int split_span(Tokenizer *t, pcre2_code *re, const char *text, Span in, Span **out, size_t *n, size_t *cap,
                      char *err) {
    size_t pos = in.start;
    const PCRE2_SPTR subj = (PCRE2_SPTR)(text + in.start);
    size_t slen = in.end - in.start;
#define EMIT(a, b)                                                          \
    do {                                                                    \
        if (*n == *cap) {                                                   \
            *cap = *cap ? 2 * *cap : 1024;                                  \
            *out = base_realloc(*out, *cap * sizeof(Span), "pre-tokens");   \
        }                                                                   \
        (*out)[(*n)++] = (Span){(a), (b)};                                  \
    } while (0)
    while (pos < in.end) {
        int rc = pcre2_match(re, subj, slen, pos - in.start, 0, t->match, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return base_errf(err, "pre-tokenizer regex failed at byte %zu: %s", pos, (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->match);
        size_t ms = in.start + ov[0], me = in.start + ov[1];
        if (ms > pos) EMIT(pos, ms);
        if (me == ms) {  // an empty match cannot advance: step over one character
            size_t cl = utf8_len_of_char(text + me, in.end - me);
            me += cl ? cl : 1;
        }
        EMIT(ms, me);
        pos = me;
    }
    if (pos < in.end) EMIT(pos, in.end);
#undef EMIT
    return 0;
}

static int encode_byte_bpe(Tokenizer *t, const char *text, size_t len, TokenSeq *out, char *err) {
    for (size_t i = 0; i < len;) {
        size_t cl = utf8_len_of_char(text + i, len - i);
        if (cl == 0) return base_errf(err, "text is not valid UTF-8 at byte %zu", i);
        i += cl;
    }
    Span *cur = base_malloc(sizeof(Span), "pre-tokens");
    size_t n_cur = 1;
    cur[0] = (Span){0, len};
    for (int r = 0; r < t->n_split; r++) {
        Span *next = NULL;
        size_t n_next = 0, cap_next = 0;
        for (size_t i = 0; i < n_cur; i++) {
            if (split_span(t, t->split[r], text, cur[i], &next, &n_next, &cap_next, err)) {
                free(cur);
                free(next);
                return -1;
            }
        }
        free(cur);
        cur = next;
        n_cur = n_next;
    }
    int rc = 0;
    for (size_t i = 0; i < n_cur && rc == 0; i++) rc = encode_piece(t, text, cur[i].start, cur[i].end, out, err);
    free(cur);
    return rc;
}

int tok_encode(Tokenizer *t, const char *text, size_t len, TokenSeq *out, char *err) {
    out->n = 0;
    if (t->bos >= 0) seq_push(out, t->bos, 0, 0);
    return t->kind == TOK_SPM ? encode_spm(t, text, len, out, err) : encode_byte_bpe(t, text, len, out, err);
}

void tok_word_last_tokens(const TokenSeq *seq, const size_t *word_start, const size_t *word_end, size_t n_words,
                          int64_t *last_token) {
    size_t j = 0;  // tokens [0, j) start before the current word's end
    for (size_t w = 0; w < n_words; w++) {
        while (j < seq->n && seq->start[j] < word_end[w]) j++;
        // tokens tile the text in order, so the last token starting before the word's end is the
        // last one overlapping it, if any token does; zero-width tokens (BOS) overlap nothing
        int64_t k = (int64_t)j - 1;
        while (k >= 0 && seq->end[k] == seq->start[k]) k--;
        last_token[w] = (k >= 0 && seq->end[k] > word_start[w]) ? k : -1;
    }
}
