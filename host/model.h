/*
 * model: a decoder-only language model as one generic configuration plus float32 weights.
 *
 * ModelConfig holds the knobs that describe the decoder families brainsweep supports (norm type,
 * position scheme, attention heads, MLP kind); this release reads the Llama family from GGUF files
 * (llama.cpp's `llama` architecture: Llama 1/2, SmolLM, TinyStories models), and refuses any other
 * architecture with the list of supported ones. Weights are dequantised once at load into one
 * float32 block, carved by a pointer table, in PyTorch's (out, in) row-major layout.
 *
 * RoPE convention: Hugging Face's rotate_half (pairs i, i+HS/2). GGUF files of the llama
 * architecture store attn_q/attn_k rows permuted for ggml's interleaved RoPE; the loader undoes that
 * permutation exactly as transformers does when it loads a GGUF, so hidden states match HF.
 *
 * Shapes: V vocab, C d_model, L layers, NH query heads, NKV key/value heads, HS head size, F d_ff.
 * Ownership: Model owns its weights; model_free releases them. Errors: model_load_gguf returns NULL
 * and fills err (missing tensors, wrong shapes, unsupported architecture or tensor types).
 */
#ifndef HOST_MODEL_H
#define HOST_MODEL_H

#include <stddef.h>

#include "host/gguf.h"

typedef enum { NORM_RMS = 0, NORM_LAYER = 1 } NormType;
typedef enum { POS_ROPE = 0 } PosType;
typedef enum { MLP_SWIGLU = 0 } MlpType;

typedef struct {
    char arch[32];          // "llama"
    char name[128];         // general.name, or the file stem
    int n_layers;           // L
    int d_model;            // C
    int n_heads;            // NH
    int n_kv_heads;         // NKV (GQA when < NH)
    int head_dim;           // HS
    int d_ff;               // F
    int vocab;              // V
    int max_ctx;            // context length the model was trained with
    NormType norm;
    float norm_eps;
    PosType pos;
    float rope_theta;
    int rope_dims;          // rotated dimensions per head (== HS for Llama)
    MlpType mlp;
} ModelConfig;

typedef struct {
    float *tok_embd;   // (V, C)
    float *attn_norm;  // (L, C)
    float *wq;         // (L, NH*HS, C)
    float *wk;         // (L, NKV*HS, C)
    float *wv;         // (L, NKV*HS, C)
    float *wo;         // (L, C, NH*HS)
    float *ffn_norm;   // (L, C)
    float *w_gate;     // (L, F, C)
    float *w_up;       // (L, F, C)
    float *w_down;     // (L, C, F)
    float *out_norm;   // (C)
} ModelWeights;

typedef struct {
    ModelConfig cfg;
    ModelWeights w;
    float *memory;       // the one allocation behind every weight pointer
    size_t n_params;
} Model;

Model *model_load_gguf(const GgufFile *f, char *err);
void model_free(Model *m);

// Llama-family hyperparameters from GGUF metadata (no weights read). 0 or -1 with err.
int model_config_from_gguf(const GgufFile *f, ModelConfig *cfg, char *err);

// Undo ggml's interleaved-RoPE row permutation of a (heads*HS, C) projection, in place.
// Row h*HS + 2i + j (j in {0,1}) of the file becomes row h*HS + j*HS/2 + i.
void model_unpermute_rope_rows(float *w, int heads, int head_dim, int cols);

#endif  // HOST_MODEL_H
