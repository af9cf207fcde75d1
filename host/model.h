/*
 * model: decoder-only language models of seven families as one generic configuration, with their
 * weights left where they are stored.
 *
 * ModelConfig holds the knobs that tell the families apart (inference.md section 5): norm type and
 * bias, pre- or post-LN, sequential or parallel residual (one or two norms), positions (RoPE over
 * all or part of each head, ALiBi, learned absolute with an offset), heads and key/value heads,
 * sliding window, MLP kind and activation, biases, input/output projections. It is read from a
 * Hugging Face config.json (Llama 1/2 and derivatives, Mistral, Falcon, MPT, GPT-NeoX/Pythia,
 * OPT/Galactica, GPT-2) or from GGUF metadata (llama architecture). Anything else is refused with
 * the list of supported architectures.
 *
 * Weights stay memory-mapped in their stored dtype (F32/F16/BF16 safetensors, or GGUF including
 * Q8_0/Q4_0/Q4_1). model_layer widens one layer to float32 in a canonical layout — fused [Q|K|V]
 * rows in head order, GPT-2's transposed Conv1D weights turned, GGUF's RoPE row permutation
 * undone, [gate; up] fused for gated MLPs — and keeps widened layers while they fit the memory
 * budget beside the mapped checkpoint, otherwise it reuses one buffer. Embedding rows are widened per token.
 * The forward pass itself is host/decoder.h's, which reads the weights through these accessors.
 *
 * Shapes: V vocab, C d_model, E embedding width (OPT's word_embed_proj_dim, else C), L layers,
 * NH/NKV heads, HS head size, QD = NH*HS, KD = NKV*HS, F d_ff.
 * Ownership: Model owns its files' mappings and its buffers; pointers from model_layer stay valid
 * until the next model_layer call for another layer when the model is not fully cached.
 * Errors: model_open returns NULL with err (file and problem). Not thread-safe.
 */
#ifndef HOST_MODEL_H
#define HOST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "host/gguf.h"
#include "host/tensor.h"

#define MODEL_SUPPORTED \
    "llama (Llama 1/2, Vicuna, OpenLLaMA, SmolLM), mistral, falcon, mpt, gpt_neox (Pythia), opt (Galactica), gpt2"

typedef enum { FAM_LLAMA = 0, FAM_MISTRAL, FAM_FALCON, FAM_MPT, FAM_GPT_NEOX, FAM_OPT, FAM_GPT2 } ModelFamily;
typedef enum { NORM_RMS = 0, NORM_LAYER } NormType;
typedef enum { RES_SEQUENTIAL = 0, RES_PARALLEL_SHARED, RES_PARALLEL_TWO } ResidualType;
typedef enum { POS_ROPE = 0, POS_ALIBI, POS_LEARNED } PosType;
typedef enum { ACT_SILU = 0, ACT_GELU_ERF, ACT_GELU_TANH, ACT_RELU } ActType;
// how a checkpoint stores its attention projections (widened to [Q | K | V] either way)
typedef enum {
    QKV_SEPARATE = 0,   // q, k, v matrices (Llama, Mistral, OPT, GGUF)
    QKV_FUSED,          // one [Q | K | V] matrix (MPT Wqkv, Falcon multi-query, GPT-2 c_attn)
    QKV_PER_HEAD,       // rows (NH, 3, HS): GPT-NeoX, Falcon without multi-query
    QKV_GROUPED,        // rows (NKV, NH/NKV + 2, HS): Falcon's new decoder architecture
} QkvLayout;

typedef struct {
    char arch[32];          // config.json model_type or GGUF general.architecture
    char name[128];
    ModelFamily family;
    int n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab, max_ctx;
    int d_embed;            // E: width of the token embedding (OPT project_in/out), else d_model
    NormType norm;
    float norm_eps;
    int norm_bias;          // LayerNorm with a bias (all but MPT)
    int pre_ln;             // 0: OPT's post-LN (norm after each residual add)
    ResidualType residual;
    PosType pos;
    float rope_theta;
    int rope_dims;          // rotated dims per head, from the front (GPT-NeoX: rotary_pct * HS)
    int pos_offset;         // learned positions: OPT starts at row 2
    float alibi_max_bias;
    int sliding_window;     // 0: none; else key j is visible from query i when i - j < window
    QkvLayout qkv_layout;
    int gated_mlp;          // down(act(gate x) * up x) vs down(act(up x))
    ActType act;
    int attn_bias, mlp_bias;  // biases on q/k/v/o and on the MLP projections
    int final_norm;         // hidden_states[L] = final norm (and OPT's project_out) of the last layer
    float clip_qkv;         // MPT: clamp q, k, v; 0 = none
    int bos;                // the BOS id the checkpoint declares (-1: none); the tokenizer decides use
} ModelConfig;

// one layer in float32, canonical layout
typedef struct {
    float *ln1_w, *ln1_b;   // (C) attention-input norm; post-LN: after the attention add
    float *ln2_w, *ln2_b;   // (C) MLP-input norm (unused for RES_PARALLEL_SHARED)
    float *wqkv, *bqkv;     // (QD + 2 KD, C), (QD + 2 KD): [Q | K | V], heads in order
    float *wo, *bo;         // (C, QD), (C)
    float *wup, *bup;       // (2F, C) = [gate; up] when gated, else (F, C); (F) bias
    float *wdown, *bdown;   // (C, F), (C)
} LayerF32;

typedef struct Model Model;

// path: a checkpoint folder (config.json + safetensors) or a .gguf file.
// memory_bytes: what the model may hold. The mapped checkpoint counts first (its pages are read in as
// layers run); widened layers are kept with what remains, beyond that one buffer is reused (0: none kept).
Model *model_open(const char *path, size_t memory_bytes, char *err);
void model_free(Model *m);

const ModelConfig *model_config(const Model *m);
size_t model_n_params(const Model *m);
size_t model_stored_bytes(const Model *m);  // bytes of its tensors as stored
// the stored type of the layers' matrices: layer 0's attention output projection (a checkpoint stores its layers'
// matrices in one type; a GGUF file's quantised ones are Q8_0/Q4_0/Q4_1)
DType model_weight_dtype(const Model *m);
// the GGUF file when the model came from one (its tokenizer lives there), else NULL
const GgufFile *model_gguf(const Model *m);
// the checkpoint folder when the model came from one (tokenizer.json lives there), else NULL
const char *model_dir(const Model *m);

// the weights outside the layers in float32, widened once at model_open; NULL where the model has none
typedef struct {
    float *final_w, *final_b;  // (C) final norm (final_b: LayerNorm with a bias)
    float *proj_in;            // (C, E) OPT's project_in, embedding -> model width
    float *proj_out;           // (E, C) OPT's project_out, applied after the final norm
    float *pos_table;          // (pos_rows, C) learned positions; token at position p takes row p + pos_offset
    size_t pos_rows;           // rows of pos_table (0 without one)
} ModelGlobals;
const ModelGlobals *model_globals(const Model *m);

// out (T, E): rows ids of the token embedding widened to float32 from its stored dtype (the embedding
// table is never widened whole)
void model_embed_rows(const Model *m, float *out, const int32_t *ids, int T);
// layer l in float32 (widened now or kept from before)
const LayerF32 *model_layer(Model *m, int l);
// width of hidden_states[L]: E when OPT projects out, else C
int model_final_dim(const Model *m);

// Undo ggml's interleaved-RoPE row permutation of a (heads*HS, C) projection, in place.
// Row h*HS + 2i + j (j in {0,1}) of the file becomes row h*HS + j*HS/2 + i.
void model_unpermute_rope_rows(float *w, int heads, int head_dim, int cols);

// ALiBi slopes as MPT computes them (power-of-two head counts and the interleaved rest), (NH)
void model_alibi_slopes(float *slopes, int n_heads, float max_bias);

#endif  // HOST_MODEL_H
