/*
 * extract: every layer's hidden state for every word of a stimulus, under a context policy.
 *
 * Context policies (how much of the story each word's representation has seen):
 *  - CTX_FULL: the whole story as one causal sequence. Past the model's window it runs in chunks,
 *    each starting with BOS (when the model uses one) and overlapping the previous chunk by
 *    `overlap` tokens; each word is reported from exactly one chunk, so a word after the first
 *    chunk sees at least `overlap` tokens of context.
 *  - CTX_TOKENS (tokens:N): each word is computed on a fresh sequence of the N tokens that end with
 *    its last token (fewer at the story's start), plus BOS; positions start at 0.
 *  - CTX_WORDS (words:N): the same with the tokens of the N words that end with the word.
 * Word representation: the word's last token (default) or the mean over its tokens; BOS is context,
 * never part of a word. Sequences are packed into batches of about batch_tokens tokens and run
 * through decoder_forward together, so per-word windows make large matrix products. The forward pass runs
 * on the backend whose op table the caller passes (host/decoder.h; decoder_ops_cpu on the CPU), chosen
 * once per rank; one Decoder is made per call, sized for its longest batch.
 *
 * Output: (L+1) blocks, block l of (W, dim_l) floats at extract_layer_offsets(...)[l] (dim_l is
 * d_model except the last entry's model_final_dim). Ownership: the caller provides out.
 * Errors: -1 with err (a word without tokens, a policy the model cannot run). Stops: 1 when
 * base_stop_signal is set before a batch (base.h); out is then incomplete and must be discarded.
 */
#ifndef HOST_EXTRACT_H
#define HOST_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "host/decoder.h"
#include "host/model.h"
#include "host/stimulus.h"
#include "host/tokenizer.h"

typedef enum { CTX_FULL = 0, CTX_TOKENS, CTX_WORDS } ContextKind;
typedef enum { WORD_LAST = 0, WORD_MEAN } WordRepr;

typedef struct {
    ContextKind kind;
    int n;             // tokens:N and words:N
    int window;        // full: tokens per forward pass including BOS; 0 = the model's context length
    int overlap;       // full: tokens shared by consecutive chunks; -1 = half the window
    WordRepr repr;
    int batch_tokens;  // tokens per batch of sequences; 0 = 4096
} ContextPolicy;

// a chunk runs [BOS] + body[start, end) and reports body tokens [report, end)
typedef struct {
    size_t start, end, report;
} Chunk;

// The activations between the stages of a model split by layer ranges: send n floats to the next stage, or
// receive n from the one before, blocking and in order; send and recv in host memory (the go-or-stop flag, and the
// residual stream where the others are NULL), send_stream and recv_stream in the decoder backend's memory
// (decoder_stage_stream: host memory for the CPU decoder, the GPU's for the CUDA one), so the stream needs no host
// copies. MPI and NCCL between ranks (mpi/link.h); any transport that delivers in order fills the same functions.
typedef struct {
    void (*send)(const float *x, size_t n, void *ctx);
    void (*recv)(float *x, size_t n, void *ctx);
    void (*send_stream)(const float *x, size_t n, void *ctx);
    void (*recv_stream)(float *x, size_t n, void *ctx);
    void *ctx;
} StageLink;

// One rank's share of the work. Sequences: part `index` of `count` contiguous runs of sequences with about
// equal tokens; only the words reported by its sequences are computed (stats word_lo..word_hi), every other
// word's rows stay zero. Layers: stage `stage` of n_stages (0 or 1: the whole model) runs the layers of
// decoder_stage_layers over the part's batches, taking each batch's residual stream from the stage before
// and passing its own to the next through link, and fills only the hidden states it makes
// (decoder_stage_owns); the other entries' rows stay zero. Stage 0 decides a stop (base_stop_signal) before
// each batch and the later stages follow it, so all stages of a part stop after the same batch. The stages
// of one part together give exactly the unsplit run's states. NULL: everything.
typedef struct {
    size_t index, count;
    int stage, n_stages;
    const StageLink *link;
} ExtractPart;

typedef struct {
    size_t n_tokens;       // tokens of the story, BOS excluded
    size_t word_lo, word_hi;  // the words computed: [word_lo, word_hi)
    size_t n_sequences;    // chunks or windows run
    size_t n_batches;
    size_t tokens_run;     // tokens through the model, BOS and overlaps included
    double flops;          // decoder_flops of every batch, times the share of the layers this stage runs
    double seconds_tokenize, seconds_forward;
} ExtractStats;

// Plan chunks over n_body tokens with `body_window` tokens per chunk (the window minus BOS) and the
// given overlap (0 <= overlap < body_window). Returns the chunk count; fills out when non-NULL.
size_t extract_plan_chunks(size_t n_body, size_t body_window, size_t overlap, Chunk *out);

// Resolve window 0 / overlap -1 / batch 0 against the model. -1 with err if the policy cannot work.
int extract_resolve_policy(const ModelConfig *cfg, int has_bos, const ContextPolicy *in, ContextPolicy *out, char *err);

// layout of the output: offset (L+1) in floats of each layer's (W, dim_l) block; returns the total
size_t extract_layer_offsets(const Model *m, size_t W, size_t *offset);

// Tokenise the stimulus text, map words to tokens, run the policy on the backend of ops. out as above
// (cleared first).
int extract_word_states(Model *m, const DecoderOps *ops, Tokenizer *tok, const Stimulus *st,
                        const ContextPolicy *policy, const ExtractPart *part, float *out, ExtractStats *stats,
                        char *err);

// Each word's first and last token (first, last: W + 1 each, the caller's) in the story's tokens, counted from
// the first token after BOS (has_bos: the story starts with one), as extract_from_tokens takes them. -1 with
// why (BASE_ERR_LEN) naming the first word that tokenizes to nothing: no layer can be taken for it.
int extract_word_spans(const TokenSeq *story, int has_bos, const Stimulus *st, int64_t *first, int64_t *last,
                       char *why);

// The same from tokens: body (n_body) without BOS, bos (-1: none), and for each of W words the
// index in body of its first and last token (ordered, non-decreasing).
int extract_from_tokens(Model *m, const DecoderOps *ops, const int32_t *body, size_t n_body, int bos,
                        const int64_t *first, const int64_t *last, size_t W, const ContextPolicy *policy,
                        const ExtractPart *part, float *out, ExtractStats *stats, char *err);

#endif  // HOST_EXTRACT_H
