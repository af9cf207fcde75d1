#include "host/decoder_cpu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/ops_cpu.h"

struct DecoderScratch {
    int NT_max, T_max, threads;
    float *x;       // (NT, C)     residual stream
    float *xn;      // (NT, C)     normed input of the attention (and of a shared-norm MLP)
    float *xn2;     // (NT, C)     normed input of the MLP in a two-norm parallel block
    float *qkv;     // (NT, QD + 2 KD) the fused projection, then the attention output (NT, QD)
    float *q;       // (NT, QD)
    float *k, *v;   // (NT, KD) each
    float *aout;    // (NT, C)     attention output after its projection
    float *up;      // (NT, UP)    [gate | up] or up
    float *act;     // (NT, F)
    float *mout;    // (NT, C)     MLP output
    float *rows;    // (NT, C)     captured rows of the last layer, before the final norm
    float *final;   // (NT, E)
    float *scores;  // (threads, ATTN_QUERY_BLOCK, T_max)
    float *alibi;   // (NH) or unused
    int *pos;       // (NT) position of each token in its sequence
    float *memory;
};

#define N_BUFFERS 15

static void buffer_sizes(const ModelConfig *c, int NT_max, int T_max, int threads, size_t sizes[N_BUFFERS]) {
    size_t T = (size_t)NT_max, C = (size_t)c->d_model, F = (size_t)c->d_ff, E = (size_t)c->d_embed;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t UP = c->gated_mlp ? 2 * F : F;
    size_t s[N_BUFFERS] = {T * C,  T * C,  c->residual == RES_PARALLEL_TWO ? T * C : 0,
                           T * (QD + 2 * KD), T * QD, T * KD, T * KD, T * C, T * UP, c->gated_mlp ? T * F : 0, T * C,
                           T * C, T * (E > C ? E : C), attention_scratch_floats(T_max, threads), (size_t)c->n_heads};
    memcpy(sizes, s, sizeof s);
}

size_t decoder_cpu_scratch_bytes(const ModelConfig *cfg, int NT_max, int T_max) {
    size_t sizes[N_BUFFERS], total = 0;
    buffer_sizes(cfg, NT_max, T_max, omp_get_max_threads(), sizes);
    for (int i = 0; i < N_BUFFERS; i++) total += sizes[i];
    return total * sizeof(float) + (size_t)NT_max * sizeof(int);
}

DecoderScratch *decoder_cpu_scratch_create(const ModelConfig *cfg, int NT_max, int T_max) {
    DecoderScratch *s = base_calloc(1, sizeof *s, "DecoderScratch");
    s->NT_max = NT_max;
    s->T_max = T_max;
    s->threads = omp_get_max_threads();
    size_t sizes[N_BUFFERS], total = 0;
    buffer_sizes(cfg, NT_max, T_max, s->threads, sizes);
    for (int i = 0; i < N_BUFFERS; i++) total += sizes[i];
    s->memory = base_malloc(base_mul(total, sizeof(float)), "decoder activations");
    float **ptrs[N_BUFFERS] = {&s->x,  &s->xn,   &s->xn2,  &s->qkv,  &s->q,     &s->k,      &s->v,    &s->aout,
                               &s->up, &s->act, &s->mout, &s->rows, &s->final, &s->scores, &s->alibi};
    float *p = s->memory;
    for (int i = 0; i < N_BUFFERS; i++) {
        *ptrs[i] = sizes[i] ? p : NULL;
        p += sizes[i];
    }
    if (cfg->pos == POS_ALIBI) model_alibi_slopes(s->alibi, cfg->n_heads, cfg->alibi_max_bias);
    s->pos = base_malloc((size_t)NT_max * sizeof(int), "positions");
    return s;
}

void decoder_cpu_scratch_free(DecoderScratch *s) {
    if (!s) return;
    free(s->memory);
    free(s->pos);
    free(s);
}

// ----------------------------------------------------------------------------
// the blocks of a layer

static void norm(const ModelConfig *c, float *out, const float *in, const float *w, const float *b, int T) {
    if (c->norm == NORM_RMS) rmsnorm_forward_cpu(out, in, w, T, c->d_model, c->norm_eps);
    else layernorm_forward_cpu(out, in, w, b, T, c->d_model, c->norm_eps);
}

// aout = attention block of `in` (already normed where the family norms first)
static void attention_block(const ModelConfig *c, const LayerF32 *L, DecoderScratch *s, const float *in,
                            const TokenBatch *b, int NT) {
    const int C = c->d_model, NH = c->n_heads, NKV = c->n_kv_heads, HS = c->head_dim;
    const int QD = NH * HS, KD = NKV * HS, QKV = QD + 2 * KD;
    matmul_forward_cpu(s->qkv, in, L->wqkv, L->bqkv, NT, C, QKV);
    if (c->clip_qkv > 0) {
        size_t n = (size_t)NT * QKV;
        for (size_t i = 0; i < n; i++)
            s->qkv[i] = s->qkv[i] > c->clip_qkv ? c->clip_qkv : s->qkv[i] < -c->clip_qkv ? -c->clip_qkv : s->qkv[i];
    }
    // q, k, v are column blocks of the fused rows; copied out so every head has a plain stride
    float *q = s->q, *k = s->k, *v = s->v;
    for (int t = 0; t < NT; t++) {
        const float *row = s->qkv + (size_t)t * QKV;
        memcpy(q + (size_t)t * QD, row, (size_t)QD * sizeof(float));
        memcpy(k + (size_t)t * KD, row + QD, (size_t)KD * sizeof(float));
        memcpy(v + (size_t)t * KD, row + QD + KD, (size_t)KD * sizeof(float));
    }
    if (c->pos == POS_ROPE) {
        rope_forward_cpu(q, s->pos, NT, NH, HS, c->rope_dims, c->rope_theta);
        rope_forward_cpu(k, s->pos, NT, NKV, HS, c->rope_dims, c->rope_theta);
    }
    // the attention output reuses the fused buffer, free once q, k, v are out
    attention_forward_cpu(s->qkv, s->scores, s->threads, q, k, v, b->seq_start, b->n_seq, NH, NKV, HS,
                          c->pos == POS_ALIBI ? s->alibi : NULL, c->sliding_window);
    matmul_forward_cpu(s->aout, s->qkv, L->wo, L->bo, NT, QD, C);
}

// mout = MLP block of `in`
static void mlp_block(const ModelConfig *c, const LayerF32 *L, DecoderScratch *s, const float *in, int NT) {
    const int C = c->d_model, F = c->d_ff;
    if (c->gated_mlp) {
        matmul_forward_cpu(s->up, in, L->wup, NULL, NT, C, 2 * F);
        swiglu_rows_cpu(s->act, s->up, NT, F);
        matmul_forward_cpu(s->mout, s->act, L->wdown, L->bdown, NT, F, C);
    } else {
        matmul_forward_cpu(s->up, in, L->wup, L->bup, NT, C, F);
        if (c->act == ACT_RELU) relu_forward_cpu(s->up, (size_t)NT * F);
        else gelu_forward_cpu(s->up, (size_t)NT * F, c->act == ACT_GELU_TANH);
        matmul_forward_cpu(s->mout, s->up, L->wdown, L->bdown, NT, F, C);
    }
}

static void layer_forward(const ModelConfig *c, const LayerF32 *L, DecoderScratch *s, const TokenBatch *b, int NT) {
    size_t N = (size_t)NT * c->d_model;
    if (!c->pre_ln) {  // OPT-350m: x = ln1(x + attn(x)); x = ln2(x + mlp(x))
        attention_block(c, L, s, s->x, b, NT);
        residual_forward_cpu(s->x, s->x, s->aout, N);
        norm(c, s->x, s->x, L->ln1_w, L->ln1_b, NT);
        mlp_block(c, L, s, s->x, NT);
        residual_forward_cpu(s->x, s->x, s->mout, N);
        norm(c, s->x, s->x, L->ln2_w, L->ln2_b, NT);
        return;
    }
    norm(c, s->xn, s->x, L->ln1_w, L->ln1_b, NT);
    switch (c->residual) {
    case RES_SEQUENTIAL:  // x += attn(n1(x)); x += mlp(n2(x))
        attention_block(c, L, s, s->xn, b, NT);
        residual_forward_cpu(s->x, s->x, s->aout, N);
        norm(c, s->xn, s->x, L->ln2_w, L->ln2_b, NT);
        mlp_block(c, L, s, s->xn, NT);
        residual_forward_cpu(s->x, s->x, s->mout, N);
        break;
    case RES_PARALLEL_SHARED:  // x += attn(n(x)) + mlp(n(x)), Falcon-7B
        attention_block(c, L, s, s->xn, b, NT);
        mlp_block(c, L, s, s->xn, NT);
        residual_forward_cpu(s->x, s->x, s->aout, N);
        residual_forward_cpu(s->x, s->x, s->mout, N);
        break;
    case RES_PARALLEL_TWO:  // x += attn(n1(x)) + mlp(n2(x)), GPT-NeoX, Falcon's new architecture
        norm(c, s->xn2, s->x, L->ln2_w, L->ln2_b, NT);
        attention_block(c, L, s, s->xn, b, NT);
        mlp_block(c, L, s, s->xn2, NT);
        residual_forward_cpu(s->x, s->x, s->aout, N);
        residual_forward_cpu(s->x, s->x, s->mout, N);
        break;
    }
}

// ----------------------------------------------------------------------------
// captures

static void capture_rows(float *out, size_t width, const float *x, const Capture *cap, size_t n, int row_stride) {
    for (size_t i = 0; i < n; i++) {
        const float *src = x + (size_t)cap[i].row * row_stride;
        float *dst = out + cap[i].out * width, w = cap[i].weight;
        for (size_t j = 0; j < width; j++) dst[j] += w * src[j];
    }
}

double decoder_flops(const ModelConfig *c, const TokenBatch *b) {
    double C = c->d_model, E = c->d_embed, F = c->d_ff, QD = (double)c->n_heads * c->head_dim;
    double KD = (double)c->n_kv_heads * c->head_dim, UP = c->gated_mlp ? 2 * F : F;
    double per_token = 2.0 * c->n_layers * (C * (QD + 2 * KD) + QD * C + C * UP + F * C);
    if (E != C) per_token += 2.0 * 2.0 * E * C;  // OPT's project_in and project_out
    double keys = 0;  // (query, visible key) pairs
    for (int s = 0; s < b->n_seq; s++) {
        double T = b->seq_start[s + 1] - b->seq_start[s], W = c->sliding_window > 0 ? c->sliding_window : T;
        if (W > T) W = T;
        keys += W * (W + 1) / 2 + (T - W) * W;  // the first W queries see 1..W keys, the rest W each
    }
    return per_token * (b->seq_start[b->n_seq]) + 4.0 * QD * c->n_layers * keys;  // QK^T and PV per head
}

void decoder_cpu_forward(Model *m, DecoderScratch *s, const TokenBatch *b, const Capture *cap, size_t n_cap, float *out,
                         const size_t *layer_offset) {
    const ModelConfig *c = model_config(m);
    const int NT = b->seq_start[b->n_seq], C = c->d_model;
    ASSERT(NT > 0 && NT <= s->NT_max);
    for (int sq = 0; sq < b->n_seq; sq++) {
        ASSERT(b->seq_start[sq + 1] - b->seq_start[sq] <= s->T_max);
        for (int t = b->seq_start[sq]; t < b->seq_start[sq + 1]; t++) s->pos[t] = t - b->seq_start[sq];
    }
    model_embed(m, s->x, b->ids, s->pos, NT);
    capture_rows(out + layer_offset[0], (size_t)C, s->x, cap, n_cap, C);
    for (int l = 0; l < c->n_layers; l++) {
        layer_forward(c, model_layer(m, l), s, b, NT);
        if (l + 1 < c->n_layers) capture_rows(out + layer_offset[l + 1], (size_t)C, s->x, cap, n_cap, C);
    }
    // the last entry: final norm (and projection) of the captured rows only
    int E = model_final_dim(m);
    for (size_t i = 0; i < n_cap; i++)
        memcpy(s->rows + i * C, s->x + (size_t)cap[i].row * C, (size_t)C * sizeof(float));
    model_final(m, s->final, s->rows, (int)n_cap);
    for (size_t i = 0; i < n_cap; i++) {
        float *dst = out + layer_offset[c->n_layers] + cap[i].out * (size_t)E, w = cap[i].weight;
        for (int j = 0; j < E; j++) dst[j] += w * s->final[i * (size_t)E + j];
    }
}
