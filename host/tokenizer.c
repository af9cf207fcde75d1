// The tokenizer pipeline: added tokens, normalizers, pre-tokenizers, BPE, offsets (tokenizer.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "host/base.h"
#include "host/tokenizer_impl.h"

// GPT-2's pre-tokenizer (ByteLevel use_regex), as Hugging Face tokenizers applies it
const char *const TOK_GPT2_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

#define CACHE_MAX_PIECE 256  // longer pieces (SentencePiece's whole segments) are not cached

// ----------------------------------------------------------------------------
// maps

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

void strmap_init(StrMap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t cap = 64;
    while (cap < 2 * expected) cap *= 2;
    strmap_alloc(m, cap);
}

void strmap_free(StrMap *m) {
    free(m->off);
    free(m->len);
    free(m->val);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static size_t strmap_slot(const StrMap *m, const char *key, size_t n) {
    size_t i = (size_t)hash_bytes(key, n) & (m->cap - 1);
    while (m->off[i] != SIZE_MAX && !(m->len[i] == n && (n == 0 || memcmp(m->arena + m->off[i], key, n) == 0)))
        i = (i + 1) & (m->cap - 1);
    return i;
}

int32_t strmap_get(const StrMap *m, const char *key, size_t n) {
    size_t i = strmap_slot(m, key, n);
    return m->off[i] == SIZE_MAX ? -1 : m->val[i];
}

void strmap_put(StrMap *m, const char *key, size_t n, int32_t val) {
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
    if (n) memcpy(m->arena + m->arena_len, key, n);  // an empty key ("" in a vocabulary) may meet an unallocated arena
    m->off[i] = m->arena_len;
    m->len[i] = n;
    m->val[i] = val;
    m->arena_len += n;
    m->n++;
}

static uint64_t pair_key(int32_t l, int32_t r) { return ((uint64_t)(uint32_t)l << 32) | (uint32_t)r; }

void pairmap_init(PairMap *m, size_t expected) {
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

void pairmap_put(PairMap *m, int32_t l, int32_t r, int32_t rank, int32_t merged) {
    size_t i = pairmap_slot(m, pair_key(l, r));
    m->key[i] = pair_key(l, r);
    m->rank[i] = rank;
    m->merged[i] = merged;
}

static int pairmap_get(const PairMap *m, int32_t l, int32_t r, int32_t *rank, int32_t *merged) {
    if (!m->cap) return 0;
    size_t i = pairmap_slot(m, pair_key(l, r));
    if (m->key[i] == UINT64_MAX) return 0;
    *rank = m->rank[i];
    *merged = m->merged[i];
    return 1;
}

void pairmap_free(PairMap *m) {
    free(m->key);
    free(m->rank);
    free(m->merged);
    memset(m, 0, sizeof *m);
}

// ----------------------------------------------------------------------------
// BPE over a linked list of symbols with a heap of candidate merges

typedef struct {
    int32_t id;
    int32_t prev, next;  // -1 at the ends
    size_t start, end;   // range in the piece (normalized bytes)
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
// text with a map back to the original: normalized byte i came from original [o0[i], o1[i])

typedef struct {
    char *s;
    size_t *o0, *o1;
    size_t n, cap;
} NText;

static void nt_reserve(NText *t, size_t n) {
    if (n <= t->cap) return;
    t->cap = n + n / 2 + 64;
    t->s = base_realloc(t->s, t->cap, "normalized text");
    t->o0 = base_realloc(t->o0, t->cap * sizeof(size_t), "normalized text");
    t->o1 = base_realloc(t->o1, t->cap * sizeof(size_t), "normalized text");
}

static void nt_push(NText *t, const char *bytes, size_t n, size_t o0, size_t o1) {
    nt_reserve(t, t->n + n);
    for (size_t i = 0; i < n; i++) {
        t->s[t->n] = bytes[i];
        t->o0[t->n] = o0;
        t->o1[t->n] = o1;
        t->n++;
    }
}

static void nt_free(NText *t) {
    free(t->s);
    free(t->o0);
    free(t->o1);
    memset(t, 0, sizeof *t);
}

static size_t char_len(const char *s, size_t n) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &cp);
    return k > 0 ? (size_t)k : 0;
}

// NFC / NFKC / lowercase, one starter-led group of characters at a time: the k-th output character
// keeps the span of the k-th input character of its group (extra output ones, the last), so a
// composed character keeps its base's span and a removed combining mark is covered by nothing
static void nt_unicode(NText *out, const NText *in, NormKind kind) {
    out->n = 0;
    for (size_t i = 0; i < in->n;) {
        size_t j = i + char_len(in->s + i, in->n - i);
        if (kind != NS_LOWERCASE) {  // extend over following non-starters
            while (j < in->n) {
                utf8proc_int32_t cp;
                size_t k = char_len(in->s + j, in->n - j);
                utf8proc_iterate((const utf8proc_uint8_t *)in->s + j, (utf8proc_ssize_t)k, &cp);
                if (utf8proc_get_property(cp)->combining_class == 0) break;
                j += k;
            }
        }
        utf8proc_uint8_t *res = NULL;
        utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | (kind == NS_NFKC ? UTF8PROC_COMPAT : 0);
        char tmp[16];
        const char *src = in->s + i;
        size_t src_n = j - i;
        if (kind == NS_LOWERCASE) {
            utf8proc_int32_t cp;
            utf8proc_iterate((const utf8proc_uint8_t *)src, (utf8proc_ssize_t)src_n, &cp);
            utf8proc_ssize_t k = utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)tmp);
            nt_push(out, tmp, (size_t)k, in->o0[i], in->o1[i]);
            i = j;
            continue;
        }
        utf8proc_ssize_t rn = utf8proc_map((const utf8proc_uint8_t *)src, (utf8proc_ssize_t)src_n, &res, opt);
        if (rn < 0) {  // cannot happen on validated UTF-8; keep the bytes
            nt_push(out, src, src_n, in->o0[i], in->o1[i]);
        } else {
            size_t ip = i;  // input character walked alongside the output
            for (utf8proc_ssize_t p = 0; p < rn;) {
                size_t ol = char_len((const char *)res + p, (size_t)(rn - p));
                nt_push(out, (const char *)res + p, ol, in->o0[ip], in->o1[ip]);
                p += (utf8proc_ssize_t)ol;
                size_t il = char_len(in->s + ip, in->n - ip);
                if (ip + il < j) ip += il;
            }
            free(res);
        }
        i = j;
    }
}

static void nt_apply(Tokenizer *t, NText *text, NText *tmp, int at_text_start) {
    for (int k = 0; k < t->n_norm; k++) {
        const NormStep *st = &t->norm[k];
        switch (st->kind) {
        case NS_NFC:
        case NS_NFKC:
        case NS_LOWERCASE:
            nt_unicode(tmp, text, st->kind);
            break;
        case NS_PREPEND: {
            size_t al = strlen(st->a);
            int skip = text->n == 0 || (st->first_only && !at_text_start) ||
                       (st->if_missing && text->n >= al && memcmp(text->s, st->a, al) == 0);
            tmp->n = 0;
            if (!skip) {  // the prefix shares the span of the first character (as tokenizers does)
                size_t fl = char_len(text->s, text->n);
                nt_push(tmp, st->a, al, text->o0[0], text->o1[fl ? fl - 1 : 0]);
            }
            for (size_t i = 0; i < text->n; i++) nt_push(tmp, text->s + i, 1, text->o0[i], text->o1[i]);
            break;
        }
        case NS_REPLACE: {
            size_t pl = strlen(st->a), cl = strlen(st->b);
            tmp->n = 0;
            for (size_t i = 0; i < text->n;) {
                if (pl && i + pl <= text->n && memcmp(text->s + i, st->a, pl) == 0) {
                    nt_push(tmp, st->b, cl, text->o0[i], text->o1[i + pl - 1]);
                    i += pl;
                } else {
                    nt_push(tmp, text->s + i, 1, text->o0[i], text->o1[i]);
                    i++;
                }
            }
            break;
        }
        }
        NText swap = *text;
        *text = *tmp;
        *tmp = swap;
    }
}

// ----------------------------------------------------------------------------
// pre-tokenizers: split pieces (ranges of the normalized text) by delimiter matches

typedef struct {
    size_t a, b;
} Span;

typedef struct {
    Span *v;
    size_t n, cap;
} Spans;

static void spans_push(Spans *s, size_t a, size_t b) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = base_realloc(s->v, s->cap * sizeof(Span), "pre-tokens");
    }
    s->v[s->n++] = (Span){a, b};
}

static int is_punct(utf8proc_int32_t cp) {
    if (cp < 128) return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
                         (cp >= 0x7B && cp <= 0x7E);
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

static int is_numeric(utf8proc_int32_t cp) {
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

// the delimiter matches of one step inside [a, b)
static int find_matches(Tokenizer *t, const PreStep *st, const char *s, size_t a, size_t b, Spans *m, char *err) {
    m->n = 0;
    if (st->kind == PS_REGEX) {
        size_t pos = a;
        while (pos < b) {
            int rc = pcre2_match(st->re, (PCRE2_SPTR)(s + a), b - a, pos - a, 0, t->match, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return base_errf(err, "pre-tokenizer regex failed: %s", (char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->match);
            size_t ms = a + ov[0], me = a + ov[1];
            if (me == ms) {  // an empty match cannot advance: step over one character
                size_t cl = char_len(s + me, b - me);
                pos = me + (cl ? cl : 1);
                continue;
            }
            spans_push(m, ms, me);
            pos = me;
        }
    } else if (st->kind == PS_LITERAL) {
        size_t ll = strlen(st->lit);
        for (size_t i = a; ll && i + ll <= b;) {
            if (memcmp(s + i, st->lit, ll) == 0) {
                spans_push(m, i, i + ll);
                i += ll;
            } else {
                i++;
            }
        }
    } else {  // one match per punctuation or numeric character; contiguous runs join later
        for (size_t i = a; i < b;) {
            utf8proc_int32_t cp;
            size_t cl = char_len(s + i, b - i);
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)cl, &cp);
            if (st->kind == PS_PUNCT ? is_punct(cp) : is_numeric(cp)) spans_push(m, i, i + cl);
            i += cl;
        }
    }
    return 0;
}

static void split_piece(const PreStep *st, Span piece, Spans *m, Spans *out) {
    SplitBehavior bh = st->behavior;
    if (bh == SB_CONTIGUOUS && m->n > 1) {  // adjacent matches form one delimiter
        size_t k = 0;
        for (size_t i = 1; i < m->n; i++) {
            if (m->v[i].a == m->v[k].b) m->v[k].b = m->v[i].b;
            else m->v[++k] = m->v[i];
        }
        m->n = k + 1;
    }
    size_t pos = piece.a, pending = SIZE_MAX;  // pending: start of a match merged with the next piece
    for (size_t i = 0; i < m->n; i++) {
        Span d = m->v[i];
        switch (bh) {
        case SB_ISOLATED:
        case SB_CONTIGUOUS:
            if (d.a > pos) spans_push(out, pos, d.a);
            spans_push(out, d.a, d.b);
            break;
        case SB_REMOVED:
            if (d.a > pos) spans_push(out, pos, d.a);
            break;
        case SB_MERGED_PREV:
            spans_push(out, pos, d.b);
            break;
        case SB_MERGED_NEXT:
            if (d.a > pos) spans_push(out, pending != SIZE_MAX ? pending : pos, d.a);
            else if (pending != SIZE_MAX && d.a > pending) spans_push(out, pending, d.a);
            pending = d.a;
            break;
        }
        pos = d.b;
    }
    if (bh == SB_MERGED_NEXT && pending != SIZE_MAX) spans_push(out, pending, piece.b);
    else if (piece.b > pos) spans_push(out, pos, piece.b);
}

// ----------------------------------------------------------------------------
// BPE of one piece, cached

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

// tokens of piece p (n bytes) as (id, length) pairs appended to the cache pool; returns the entry
static int64_t bpe_piece(Tokenizer *t, const char *p, size_t n, char *err) {
    if (n <= CACHE_MAX_PIECE) {
        int32_t e = strmap_get(&t->cache, p, n);
        if (e >= 0) return e;
    }
    Sym *s = syms_reserve(t, t->byte_level ? n : 4 * n + 4);
    int32_t ns = 0;
    int direct = -1;
    if (t->byte_level) {
        if (t->ignore_merges) {  // the whole piece, spelled in the byte alphabet, may be a token
            char spelled[4 * CACHE_MAX_PIECE];
            size_t sl = 0;
            for (size_t i = 0; i < n && n <= CACHE_MAX_PIECE; i++)
                sl += (size_t)utf8proc_encode_char((utf8proc_int32_t)tok_byte_to_codepoint((uint8_t)p[i]),
                                                   (utf8proc_uint8_t *)spelled + sl);
            if (n <= CACHE_MAX_PIECE) direct = strmap_get(&t->vocab, spelled, sl);
        }
        for (size_t i = 0; i < n && direct < 0; i++) {
            int32_t id = t->byte_sym[(uint8_t)p[i]];
            if (id < 0) id = t->unk;
            if (id < 0) return base_errf(err, "byte 0x%02X has no token in this vocabulary", (uint8_t)p[i]);
            sym_append(s, &ns, id, i, i + 1);
        }
    } else {
        if (t->ignore_merges) direct = strmap_get(&t->vocab, p, n);
        for (size_t i = 0; i < n && direct < 0;) {
            size_t cl = char_len(p + i, n - i);
            int32_t id = strmap_get(&t->vocab, p + i, cl);
            if (id >= 0) {
                sym_append(s, &ns, id, i, i + cl);
            } else {
                int ok = t->byte_fallback;
                for (size_t k = 0; k < cl && ok; k++) ok = t->byte_sym[(uint8_t)p[i + k]] >= 0;
                if (ok) {
                    for (size_t k = 0; k < cl; k++) sym_append(s, &ns, t->byte_sym[(uint8_t)p[i + k]], i + k, i + k + 1);
                } else if (t->unk >= 0) {
                    if (t->fuse_unk && ns > 0 && s[ns - 1].id == t->unk) s[ns - 1].end = i + cl;
                    else sym_append(s, &ns, t->unk, i, i + cl);
                } else {
                    return base_errf(err, "character at byte %zu of a piece is not in the vocabulary and has no byte "
                                          "fallback or unknown token",
                                     i);
                }
            }
            i += cl;
        }
    }
    if (direct >= 0) {
        ns = 0;
        sym_append(s, &ns, direct, 0, n);
    } else {
        bpe(&t->merges, s, ns, t->heap);
    }
    // store in the pool; merges keep the left symbol, so symbol 0 heads the list
    size_t entry = t->cache_entries;
    if (t->cache_entries + 1 >= t->cache_entries_cap) {
        t->cache_entries_cap = t->cache_entries_cap ? 2 * t->cache_entries_cap : 4096;
        t->cache_first = base_realloc(t->cache_first, (t->cache_entries_cap + 1) * sizeof(size_t), "token cache");
        if (entry == 0) t->cache_first[0] = 0;
    }
    for (int32_t i = 0; ns > 0 && i >= 0; i = s[i].next) {
        if (t->cache_n == t->cache_cap) {
            t->cache_cap = t->cache_cap ? 2 * t->cache_cap : 8192;
            t->cache_ids = base_realloc(t->cache_ids, t->cache_cap * sizeof(int32_t), "token cache");
            t->cache_len = base_realloc(t->cache_len, t->cache_cap * sizeof(uint32_t), "token cache");
        }
        t->cache_ids[t->cache_n] = s[i].id;
        t->cache_len[t->cache_n] = (uint32_t)(s[i].end - s[i].start);
        t->cache_n++;
    }
    t->cache_entries++;
    t->cache_first[t->cache_entries] = t->cache_n;
    if (n <= CACHE_MAX_PIECE) strmap_put(&t->cache, p, n, (int32_t)entry);
    return (int64_t)entry;
}

// the original span of normalized bytes [a, b), with ByteLevel's trimming of spaces when asked
static void token_span(const Tokenizer *t, const NText *nt, size_t a, size_t b, size_t *start, size_t *end) {
    if (t->trim_offsets) {
        size_t aa = a, bb = b;
        while (aa < bb && nt->s[aa] == ' ') aa++;
        while (bb > aa && nt->s[bb - 1] == ' ') bb--;
        if (aa == bb) {  // only spaces: an empty span at the end
            *start = *end = nt->o1[b - 1];
            return;
        }
        a = aa;
        b = bb;
    }
    size_t s = nt->o0[a], e = nt->o1[a];
    for (size_t i = a + 1; i < b; i++) {
        if (nt->o0[i] < s) s = nt->o0[i];
        if (nt->o1[i] > e) e = nt->o1[i];
    }
    *start = s;
    *end = e;
}

// ----------------------------------------------------------------------------
// encode

// tokenise original text [a, b) (no added tokens inside)
static int encode_segment(Tokenizer *t, const char *text, size_t a, size_t b, NText *nt, NText *tmp, Spans *pieces,
                          Spans *next, Spans *matches, TokenSeq *out, char *err) {
    nt->n = 0;
    for (size_t i = a; i < b;) {  // each byte maps to its whole character, as tokenizers' offsets do
        size_t cl = char_len(text + i, b - i);
        if (cl == 0) return base_errf(err, "text is not valid UTF-8 at byte %zu", i);
        nt_push(nt, text + i, cl, i, i + cl);
        i += cl;
    }
    nt_apply(t, nt, tmp, a == 0);
    pieces->n = 0;
    if (nt->n) spans_push(pieces, 0, nt->n);
    for (int k = 0; k < t->n_pre; k++) {
        next->n = 0;
        for (size_t i = 0; i < pieces->n; i++) {
            if (find_matches(t, &t->pre[k], nt->s, pieces->v[i].a, pieces->v[i].b, matches, err)) return -1;
            split_piece(&t->pre[k], pieces->v[i], matches, next);
        }
        Spans swap = *pieces;
        *pieces = *next;
        *next = swap;
    }
    for (size_t i = 0; i < pieces->n; i++) {
        size_t pa = pieces->v[i].a;
        int64_t e = bpe_piece(t, nt->s + pa, pieces->v[i].b - pa, err);
        if (e < 0) return -1;
        size_t at = pa;
        for (size_t k = t->cache_first[e]; k < t->cache_first[e + 1]; k++) {
            size_t s0, s1;
            token_span(t, nt, at, at + t->cache_len[k], &s0, &s1);
            seq_push(out, t->cache_ids[k], s0, s1);
            at += t->cache_len[k];
        }
    }
    return 0;
}

int tok_encode(Tokenizer *t, const char *text, size_t len, TokenSeq *out, char *err) {
    out->n = 0;
    if (t->bos >= 0) seq_push(out, t->bos, 0, 0);
    NText nt = {0}, tmp = {0};
    Spans pieces = {0}, next = {0}, matches = {0};
    int rc = 0;
    size_t seg = 0;
    for (size_t i = 0; i <= len && rc == 0;) {
        // the longest added token starting here
        int best = -1;
        for (int k = 0; k < t->n_added && i < len; k++)
            if (t->added[k].len <= len - i && memcmp(text + i, t->added[k].content, t->added[k].len) == 0 &&
                (best < 0 || t->added[k].len > t->added[best].len))
                best = k;
        if (best < 0 && i < len) {
            i++;
            continue;
        }
        if (i > seg) rc = encode_segment(t, text, seg, i, &nt, &tmp, &pieces, &next, &matches, out, err);
        if (best >= 0 && rc == 0) {
            seq_push(out, t->added[best].id, i, i + t->added[best].len);
            i += t->added[best].len;
            seg = i;
            continue;
        }
        break;  // i == len
    }
    nt_free(&nt);
    nt_free(&tmp);
    free(pieces.v);
    free(next.v);
    free(matches.v);
    return rc;
}

void tok_word_token_span(const TokenSeq *seq, const size_t *word_start, const size_t *word_end, size_t n_words,
                         int64_t *first_token, int64_t *last_token) {
    size_t j = 0;  // tokens [0, j) start before the current word's end
    for (size_t w = 0; w < n_words; w++) {
        while (j < seq->n && seq->start[j] < word_end[w]) j++;
        // tokens tile the text in order, so the last token starting before the word's end is the
        // last one overlapping it, if any token does
        int64_t k = (int64_t)j - 1;
        while (k >= 0 && seq->end[k] == seq->start[k]) k--;
        if (k < 0 || seq->end[k] <= word_start[w]) {
            first_token[w] = last_token[w] = -1;
            continue;
        }
        last_token[w] = k;
        while (k > 0 && seq->end[k - 1] > word_start[w] && seq->end[k - 1] > seq->start[k - 1]) k--;
        first_token[w] = k;
    }
}

size_t tok_long_words(const TokenSeq *seq, const char *text, const size_t *word_start, const size_t *word_end,
                      size_t n_words, size_t max_tokens, char *err) {
    int64_t *first = base_malloc((n_words + 1) * sizeof(int64_t), "word tokens");
    int64_t *last = base_malloc((n_words + 1) * sizeof(int64_t), "word tokens");
    tok_word_token_span(seq, word_start, word_end, n_words, first, last);
    size_t n_long = 0, longest = 0, longest_n = 0;
    for (size_t w = 0; w < n_words; w++) {
        size_t n = last[w] < 0 ? 0 : (size_t)(last[w] - first[w] + 1);
        if (n > max_tokens) n_long++;
        if (n > longest_n) longest = w, longest_n = n;
    }
    if (n_long) {
        char q[BASE_QUOTE_LEN];
        base_errf(err, "%zu word(s) of more than %zu tokens; the longest, word %zu ('%s', %zu bytes), is %zu tokens",
                  n_long, max_tokens, longest + 1,
                  base_escape(q, sizeof q, text + word_start[longest], word_end[longest] - word_start[longest]),
                  word_end[longest] - word_start[longest], longest_n);
    }
    free(first);
    free(last);
    return n_long;
}

// ----------------------------------------------------------------------------
// shared with the loaders

uint32_t tok_byte_to_codepoint(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return (uint32_t)b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256u + (uint32_t)n;
}

Tokenizer *tok_alloc(const char *source) {
    Tokenizer *t = base_calloc(1, sizeof *t, "Tokenizer");
    snprintf(t->source, sizeof t->source, "%s", source);
    t->bos = t->unk = -1;
    t->heap = base_calloc(1, sizeof(Heap), "bpe heap");
    return t;
}

void tok_set_vocab(Tokenizer *t, const char *const *pieces, const size_t *lens, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += lens[i];
    t->n_vocab = (int)n;
    t->pieces = base_malloc(total + 1, "vocabulary");
    t->piece_off = base_malloc((n + 1) * sizeof(size_t), "vocabulary");
    strmap_init(&t->vocab, n);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (pieces[i]) memcpy(t->pieces + pos, pieces[i], lens[i]);
        t->piece_off[i] = pos;
        if (pieces[i]) strmap_put(&t->vocab, pieces[i], lens[i], (int32_t)i);
        pos += lens[i];
    }
    t->piece_off[n] = pos;
}

int tok_add_norm(Tokenizer *t, NormKind kind, const char *a, const char *b, int if_missing, int first_only, char *err) {
    if (t->n_norm == TOK_MAX_STEPS) return base_errf(err, "%s: more than %d normalizer steps", t->source, TOK_MAX_STEPS);
    t->norm[t->n_norm++] = (NormStep){kind, a ? base_strdup(a) : NULL, b ? base_strdup(b) : NULL, if_missing, first_only};
    return 0;
}

int tok_add_regex(Tokenizer *t, const char *pattern, SplitBehavior behavior, char *err) {
    if (t->n_pre == TOK_MAX_STEPS) return base_errf(err, "%s: more than %d pre-tokenizer steps", t->source, TOK_MAX_STEPS);
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return base_errf(err, "%s: pre-tokenizer regex does not compile at %zu: %s", t->source, (size_t)off,
                         (char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter is the fallback
    t->pre[t->n_pre++] = (PreStep){PS_REGEX, re, NULL, behavior};
    return 0;
}

int tok_add_pre(Tokenizer *t, PreKind kind, const char *literal, SplitBehavior behavior, char *err) {
    if (t->n_pre == TOK_MAX_STEPS) return base_errf(err, "%s: more than %d pre-tokenizer steps", t->source, TOK_MAX_STEPS);
    t->pre[t->n_pre++] = (PreStep){kind, NULL, literal ? base_strdup(literal) : NULL, behavior};
    return 0;
}

void tok_finish(Tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char name[8];
        size_t n;
        if (t->byte_level) {  // some vocabularies lack rare bytes (control characters, bytes never in UTF-8)
            n = (size_t)utf8proc_encode_char((utf8proc_int32_t)tok_byte_to_codepoint(b), (utf8proc_uint8_t *)name);
        } else {
            snprintf(name, sizeof name, "<0x%02X>", b);
            n = 6;
        }
        t->byte_sym[b] = strmap_get(&t->vocab, name, n);
    }
    t->match = pcre2_match_data_create(4, NULL);
    strmap_init(&t->cache, 4096);
}

int tok_vocab_size(const Tokenizer *t) { return t->n_vocab; }
int tok_bos_id(const Tokenizer *t) { return t->bos; }

const char *tok_piece(const Tokenizer *t, int id, size_t *len) {
    ASSERT(id >= 0 && id < t->n_vocab);
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->pieces + t->piece_off[id];
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    free(t->pieces);
    free(t->piece_off);
    strmap_free(&t->vocab);
    pairmap_free(&t->merges);
    for (int i = 0; i < t->n_norm; i++) {
        free(t->norm[i].a);
        free(t->norm[i].b);
    }
    for (int i = 0; i < t->n_pre; i++) {
        if (t->pre[i].re) pcre2_code_free(t->pre[i].re);
        free(t->pre[i].lit);
    }
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    if (t->match) pcre2_match_data_free(t->match);
    strmap_free(&t->cache);
    free(t->cache_ids);
    free(t->cache_len);
    free(t->cache_first);
    free(t->syms);
    if (t->heap) free(((Heap *)t->heap)->a);
    free(t->heap);
    free(t);
}

void tokseq_free(TokenSeq *s) {
    free(s->ids);
    free(s->start);
    free(s->end);
    memset(s, 0, sizeof *s);
}
