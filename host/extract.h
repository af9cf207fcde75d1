/*
 * extract: every layer's hidden state for the last token of every word of a stimulus.
 *
 * A context policy says which tokens each word sees. This release has CTX_FULL: the whole story as
 * one causal sequence; past the model's window it runs in chunks, each starting with BOS (when the
 * model uses one) and overlapping the previous chunk by `overlap` tokens, so a word reported from a
 * later chunk always sees at least `overlap` tokens of context. Each word is reported from exactly
 * one chunk: the first chunk reports its tokens from the start, later ones only their non-overlap.
 * The interface takes the policy so per-word windows can join without changing callers.
 *
 * Ownership: the caller provides out, (L+1, W, C) float32. Errors: extract_word_states returns -1
 * and fills err (tokenizer failure, bad policy). Chunk planning is a pure function, tested alone.
 */
#ifndef HOST_EXTRACT_H
#define HOST_EXTRACT_H

#include <stddef.h>

#include "host/model.h"
#include "host/stimulus.h"
#include "host/tokenizer.h"

typedef enum { CTX_FULL = 0 } ContextKind;

typedef struct {
    ContextKind kind;
    int window;   // tokens per forward pass including BOS; 0 = the model's context length
    int overlap;  // tokens shared by consecutive chunks; -1 = half the window
} ContextPolicy;

// a chunk runs [BOS] + body[start, end) and reports body tokens [report, end)
typedef struct {
    size_t start, end, report;
} Chunk;

typedef struct {
    size_t n_tokens;       // tokens of the story, BOS excluded
    size_t n_chunks;
    size_t tokens_run;     // tokens through the model, BOS and overlaps included
    double seconds_tokenize, seconds_forward;
} ExtractStats;

// Plan chunks over n_body tokens with `body_window` tokens per chunk (the window minus BOS) and the
// given overlap (0 <= overlap < body_window). Returns the chunk count; fills out when non-NULL.
size_t extract_plan_chunks(size_t n_body, size_t body_window, size_t overlap, Chunk *out);

// Resolve window 0 / overlap -1 against the model. -1 with err if the policy cannot work.
int extract_resolve_policy(const ModelConfig *cfg, const ContextPolicy *in, ContextPolicy *out, char *err);

// out (L+1, W, C): hidden states of each word's last token, with Hugging Face's layer meaning.
int extract_word_states(const Model *m, Tokenizer *tok, const Stimulus *st, const ContextPolicy *policy, float *out,
                        ExtractStats *stats, char *err);

#endif  // HOST_EXTRACT_H
