/*
 * tokenizer_impl: the parts of the tokenizer module shared by its pipeline (tokenizer.c) and its
 * loaders (tokenizer_load.c). Private to those two files.
 */
#ifndef HOST_TOKENIZER_IMPL_H
#define HOST_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "host/tokenizer.h"

// string -> int, keys copied into the map's own arena
typedef struct {
    size_t *off, *len;  // (cap) key offset in arena (SIZE_MAX: empty) and length
    int32_t *val;
    size_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
} StrMap;

void strmap_init(StrMap *m, size_t expected);
void strmap_free(StrMap *m);
int32_t strmap_get(const StrMap *m, const char *key, size_t n);  // -1 if absent
void strmap_put(StrMap *m, const char *key, size_t n, int32_t val);

// (left id, right id) -> (rank, merged id)
typedef struct {
    uint64_t *key;
    int32_t *rank, *merged;
    size_t cap;
} PairMap;

void pairmap_init(PairMap *m, size_t expected);
void pairmap_free(PairMap *m);
void pairmap_put(PairMap *m, int32_t l, int32_t r, int32_t rank, int32_t merged);  // later entries win

typedef enum { NS_NFC, NS_NFKC, NS_LOWERCASE, NS_PREPEND, NS_REPLACE } NormKind;
typedef struct {
    NormKind kind;
    char *a, *b;     // Prepend: a; Replace: pattern a, content b
    int if_missing;  // Prepend: only when the text does not already start with a (Metaspace)
    int first_only;  // Prepend: only at the start of the whole text (Metaspace prepend_scheme "first")
} NormStep;

typedef enum { PS_REGEX, PS_LITERAL, PS_PUNCT, PS_DIGITS } PreKind;
typedef enum { SB_ISOLATED, SB_REMOVED, SB_MERGED_PREV, SB_MERGED_NEXT, SB_CONTIGUOUS } SplitBehavior;
typedef struct {
    PreKind kind;
    pcre2_code *re;   // PS_REGEX
    char *lit;        // PS_LITERAL
    SplitBehavior behavior;
} PreStep;

typedef struct {
    char *content;
    size_t len;
    int32_t id;
} AddedToken;

#define TOK_MAX_STEPS 16

struct Tokenizer {
    char source[4096];      // file it came from, for messages
    int n_vocab;
    char *pieces;           // vocabulary strings back to back
    size_t *piece_off;      // (V + 1)
    StrMap vocab;           // piece -> id (the last id wins for duplicates, like a Python dict)
    PairMap merges;
    int byte_level;         // symbols are bytes in GPT-2's alphabet; else characters
    int byte_fallback;      // characters outside the vocabulary become <0xXX> tokens
    int unk, fuse_unk, ignore_merges;
    int bos;                // -1: none
    int trim_offsets;       // ByteLevel post-processor: offsets exclude leading/trailing spaces
    int32_t byte_sym[256];  // byte-level: each byte's symbol; else the <0xXX> token (-1 if absent)
    NormStep norm[TOK_MAX_STEPS];
    int n_norm;
    PreStep pre[TOK_MAX_STEPS];
    int n_pre;
    AddedToken *added;
    int n_added;
    // scratch and the piece cache
    pcre2_match_data *match;
    StrMap cache;
    int32_t *cache_ids;
    uint32_t *cache_len;
    size_t cache_n, cache_cap;
    size_t *cache_first;
    size_t cache_entries, cache_entries_cap;
    void *syms;
    size_t syms_cap;
    void *heap;
};

// shared by the loaders
Tokenizer *tok_alloc(const char *source);
void tok_set_vocab(Tokenizer *t, const char *const *pieces, const size_t *lens, size_t n);
int tok_add_norm(Tokenizer *t, NormKind kind, const char *a, const char *b, int if_missing, int first_only, char *err);
int tok_add_regex(Tokenizer *t, const char *pattern, SplitBehavior behavior, char *err);
int tok_add_pre(Tokenizer *t, PreKind kind, const char *literal, SplitBehavior behavior, char *err);
void tok_finish(Tokenizer *t);  // byte symbols, match data, cache: after vocabulary and steps are set
uint32_t tok_byte_to_codepoint(int b);  // GPT-2's bytes_to_unicode
extern const char *const TOK_GPT2_SPLIT;

#endif  // HOST_TOKENIZER_IMPL_H
