/*
 * decoder: the forward pass of the generic decoder over a batch of sequences, written once over a table of
 * backend ops (DecoderOps), capturing hidden states. One algorithm, several backends: the table is chosen
 * once per rank and passed down; the CPU's is decoder_ops_cpu (host/decoder_cpu.h), and a device backend
 * fills the same table with functions that take device pointers.
 *
 * A batch is several causal sequences laid end to end (chunks of a story, or one context window per word).
 * Every position-wise step — norms, the fused QKV projection, the output projection, the MLP — is one
 * matrix product over all tokens of the batch; only attention runs per sequence. Layers run in order over
 * the whole batch (all tokens pass layer l before layer l+1), so a model that does not fit in memory as
 * float32 is widened one layer at a time (the table's `layer` op).
 *
 * Captures select what comes out: for each (token row, output row, weight), every hidden state with Hugging
 * Face's meaning (entry 0 the embedding output, entry l the residual stream after layer l-1, entry L the
 * final-normed — and for OPT projected — output) is added, times the weight, to that output row: weight 1
 * for a word's last token, 1/n over its n tokens for a mean. The backend gathers the captured rows; the
 * weighted sums are made here, on the host, in capture order, the same arithmetic for every backend.
 *
 * What a backend supplies (DecoderOps): memory (alloc/release of one block, upload from the host, and a
 * host view of backend memory for the captured rows), its own state per decoder (open/close: the CPU keeps
 * its attention scratch and thread count there), the weights of a layer in float32 in the canonical layout
 * (model.h's LayerF32, widened or dequantised by the backend, in its memory), and the ops. Every op takes
 * outputs first, then inputs, weights and sizes, and the Decoder last (its backend state: scratch,
 * stream); all pointers are backend memory. Where the backend downloads in two steps, a hidden state's rows travel to
 * the host while the next layer runs, and are added when the layer after it has been enqueued: one state in flight,
 * the same additions in the same order. The nine per-layer ops have the semantics of their twins in
 * host/ops_cpu.h; the others are described at their fields.
 *
 * Ownership: decoder_create allocates the activations of up to NT_max tokens (sequences of at most T_max)
 * in one block from ops->alloc, plus small host staging; decoder_free returns them. The Model is borrowed
 * and must outlive the Decoder. The caller owns `out`. Not thread-safe per Decoder.
 * Errors: none are returned. Sizes beyond what the Decoder was made for are bugs (ASSERT); a backend that
 * cannot allocate or run an op stops the program with DIE (host/base.h) and a hint. Token ids are the
 * caller's to check against the vocabulary (extract.c does), as the ops check nothing.
 * Shapes: NT tokens in the batch, C d_model, E model_final_dim, L layers, QD = NH*HS, KD = NKV*HS, F d_ff,
 * UP = 2F for gated MLPs else F; out holds (L+1) blocks, block l at out + layer_offset[l], (rows, dim_l)
 * with dim_l = C except dim_L = E.
 */
#ifndef HOST_DECODER_H
#define HOST_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "host/model.h"

typedef struct {
    const int32_t *ids;    // (NT) the sequences end to end
    const int *seq_start;  // (n_seq + 1) row where each sequence starts; seq_start[n_seq] = NT
    int n_seq;
} TokenBatch;

typedef struct {
    int row;       // token row in the batch
    size_t out;    // output row
    float weight;  // 1 for the last token of a word; 1/n over n tokens for a mean
} Capture;

typedef struct Decoder Decoder;

typedef struct DecoderOps {
    const char *name;  // for logs

    // memory: bytes of backend memory (device memory on a device backend), never NULL (DIE on failure)
    void *(*alloc)(size_t bytes, const char *label);
    void (*release)(void *p);
    void (*upload)(void *dst, const void *src, size_t bytes, Decoder *d);  // host src -> backend dst
    // n floats of backend memory src, readable on the host until the next call (the CPU returns src)
    const float *(*download)(const float *src, size_t n, Decoder *d);
    // the same in two steps, for a device: start copying n floats of src into host slot 0 or 1 and return at once
    // (src may be overwritten by the ops enqueued after: the copy is ordered before them), then wait for the slot and
    // read it until the slot's next start. download may reuse slot 0: the decoder waits for it first. NULL both
    // where download costs nothing (the CPU)
    void (*download_start)(const float *src, size_t n, int slot, Decoder *d);
    const float *(*download_wait)(int slot, Decoder *d);
    // the backend's own state for d, made once d's buffers exist (d->be), and its bytes for a budget
    void *(*open)(Decoder *d);
    void (*close)(void *be);
    size_t (*state_bytes)(const ModelConfig *c, int NT_max, int T_max);
    // a device's memory (decoder_fit_batch): the least the backend's state needs (the model's constants, one layer's
    // weights, the buffers that grow with NT_max: open keeps every layer only where they fit beside it), and the
    // bytes free for a Decoder now, less the backend's own reserve. NULL both where the memory is the host's (the
    // CPU's budget is run.max_weight_gib's business)
    size_t (*state_min_bytes)(const ModelConfig *c, int NT_max, int T_max);
    size_t (*free_bytes)(void);

    // weights: layer l in float32, canonical layout (model.h), in backend memory; valid until the next call
    const LayerF32 *(*layer)(int l, Decoder *d);

    // out (T, C) = hidden_states[0] of tokens ids at positions pos: the embedding gather (rows dequantised
    // from the stored dtype), OPT's project_in, learned positions
    void (*embed)(float *out, const int32_t *ids, const int *pos, int T, Decoder *d);
    // rows (n, C) = x[row_ids[i]]: the captured rows of one hidden state
    void (*capture)(float *rows, const float *x, const int *row_ids, int n, int C, Decoder *d);
    // out (T, E) = hidden_states[L] of the last layer's rows in (T, C): final norm and OPT's project_out;
    // in is scratch and may be overwritten
    void (*final)(float *out, float *in, int T, Decoder *d);

    // per layer: the twins of host/ops_cpu.h, with the same arguments and the Decoder last
    void (*matmul)(float *out, const float *inp, const float *weight, const float *bias, int T, int C, int OC,
                   Decoder *d);
    void (*rmsnorm)(float *out, const float *inp, const float *weight, int T, int C, float eps, Decoder *d);
    void (*layernorm)(float *out, const float *inp, const float *weight, const float *bias, int T, int C, float eps,
                      Decoder *d);
    // q (T, QD), k, v (T, KD) = the column blocks of the fused projection qkv (T, QD + 2 KD), each value clamped
    // to [-clip, clip] when clip > 0 (MPT's clip_qkv)
    void (*qkv_split)(float *q, float *k, float *v, const float *qkv, int T, int QD, int KD, float clip, Decoder *d);
    void (*rope)(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta, Decoder *d);
    // attention_forward_cpu's semantics; NT = seq_start[n_seq], given because seq_start is backend memory;
    // the scratch is the backend's own
    void (*attention)(float *out, const float *q, const float *k, const float *v, const int *seq_start, int n_seq,
                      int NT, int NH, int NKV, int HS, const float *alibi, int window, Decoder *d);
    void (*swiglu)(float *out, const float *gu, int T, int F, Decoder *d);
    void (*gelu)(float *x, size_t N, int tanh_approx, Decoder *d);
    void (*relu)(float *x, size_t N, Decoder *d);
    void (*residual)(float *out, const float *a, const float *b, size_t N, Decoder *d);
} DecoderOps;

// The state of one forward pass; read by backends, written only by decoder_create.
struct Decoder {
    const DecoderOps *ops;
    Model *m;
    int NT_max, T_max;
    // backend memory, carved from one ops->alloc block (NT = NT_max); NULL where the model needs none
    float *x;          // (NT, C)     residual stream
    float *xn;         // (NT, C)     normed input of the attention (and of a shared-norm MLP)
    float *xn2;        // (NT, C)     normed input of the MLP in a two-norm parallel block
    float *qkv;        // (NT, QD + 2 KD) the fused projection, then the attention output (NT, QD)
    float *q;          // (NT, QD)
    float *k, *v;      // (NT, KD) each
    float *aout;       // (NT, C)     attention output after its projection
    float *up;         // (NT, UP)    [gate | up] or up
    float *act;        // (NT, F)     gated MLPs
    float *mout;       // (NT, C)     MLP output
    float *rows;       // (NT, C)     captured rows
    float *final;      // (NT, max(E, C)) hidden_states[L] of the captured rows
    float *alibi;      // (NH)        ALiBi slopes
    int32_t *ids;      // (NT)
    int *pos;          // (NT)        position of each token in its sequence
    int *seq_start;    // (NT + 1)
    int *cap_rows;     // (NT)        token row of each capture
    void *memory;      // the block
    int *host_pos, *host_rows;  // (NT) each: staging on the host for pos and cap_rows
    void *be;          // the backend's own state (ops->open)
};

Decoder *decoder_create(const DecoderOps *ops, Model *m, int NT_max, int T_max);
// The largest batch, in tokens, from `longest` (the longest sequence, which runs whole) up to `want`, whose
// activations and the backend's least state (state_min_bytes) fit what the backend has free (free_bytes); `want`
// where the backend sets no limit. -1 with why (BASE_ERR_LEN) naming the bytes needed and free when not even
// `longest` fits.
int decoder_fit_batch(const DecoderOps *ops, const ModelConfig *cfg, int longest, int want, int *NT_max, char *why);
void decoder_free(Decoder *d);
// what decoder_create allocates: the block and the backend's state
size_t decoder_bytes(const DecoderOps *ops, const ModelConfig *cfg, int NT_max, int T_max);

// Floating-point operations the batch needs (multiply-adds count 2): every matrix product of the
// layers and OPT's projections, and attention over the keys each query sees (causal, within the
// sliding window), not the masked work a blocked kernel also does. The yardstick of GFLOP/s figures.
double decoder_flops(const ModelConfig *cfg, const TokenBatch *b);

// Run the batch (at most NT_max tokens, sequences of at most T_max, at most NT_max captures); add every
// captured hidden state into out (see above). Rows of out are not cleared.
void decoder_forward(Decoder *d, const TokenBatch *b, const Capture *cap, size_t n_cap, float *out,
                     const size_t *layer_offset);

// One stage of a model split by layer ranges (a pipeline over ranks): layers [first, end) of the model. The
// first stage (first 0) starts from the embedding; a later one from x_in, the (NT, C) residual stream the
// stage before it left (host memory). The last stage (end L) ends with the final norm; an earlier one leaves
// its residual stream in x_out (host, NT x C). A stage captures the hidden states it makes: entry 0 when
// first is 0, then entries first+1 .. end (decoder_stage_owns); the rows of other entries are not touched.
// Run over the same batches in order, the stages add into out exactly what decoder_forward adds, bit for bit.
// in_place: the caller moves the residual stream itself, in the backend's memory (decoder_stage_stream): it puts
// the stream there before a later stage's call and takes it from there after an earlier stage's, so a transport
// that reaches that memory (MPI for the CPU's, NCCL between GPUs) passes it without host copies; x_in and x_out
// are then unused.
typedef struct {
    int first, end;
    const float *x_in;
    float *x_out;
    int in_place;
} DecoderStage;

// the residual stream, (NT, C) of the batch at the start of the buffer, in the backend's memory
float *decoder_stage_stream(Decoder *d);

// layers of stage k of n: contiguous ranges in order, their sizes differing by at most one
void decoder_stage_layers(int n_layers, int n_stages, int k, int *first, int *end);
// whether the stage makes hidden state entry e (0..L)
int decoder_stage_owns(const DecoderStage *st, int e);
void decoder_forward_stage(Decoder *d, const TokenBatch *b, const Capture *cap, size_t n_cap, float *out,
                           const size_t *layer_offset, const DecoderStage *st);

#endif  // HOST_DECODER_H
