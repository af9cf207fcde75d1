#include "host/decoder.h"

#include <stdlib.h>
#include <string.h>

#include "host/base.h"

// every buffer of the block starts on this boundary: what a device allocator returns, and whole cache lines
#define DECODER_ALIGN 256

#define N_BUFFERS 18

// bytes of each buffer, in the order decoder_create carves them
static void buffer_bytes(const ModelConfig *c, int NT_max, size_t bytes[N_BUFFERS]) {
    size_t T = (size_t)NT_max, C = (size_t)c->d_model, F = (size_t)c->d_ff, E = (size_t)c->d_embed;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t UP = c->gated_mlp ? 2 * F : F, f = sizeof(float);
    // x, xn, xn2, qkv, q, k, v, aout, up, act, mout, rows, final, alibi; ids; pos, seq_start, cap_rows
    size_t b[N_BUFFERS] = {T * C * f, T * C * f, c->residual == RES_PARALLEL_TWO ? T * C * f : 0,
                           T * (QD + 2 * KD) * f, T * QD * f, T * KD * f, T * KD * f, T * C * f, T * UP * f,
                           c->gated_mlp ? T * F * f : 0, T * C * f, T * C * f, T * (E > C ? E : C) * f,
                           c->pos == POS_ALIBI ? (size_t)c->n_heads * f : 0, T * sizeof(int32_t),
                           T * sizeof(int), (T + 1) * sizeof(int), T * sizeof(int)};
    for (int i = 0; i < N_BUFFERS; i++) bytes[i] = (b[i] + DECODER_ALIGN - 1) / DECODER_ALIGN * DECODER_ALIGN;
}

size_t decoder_bytes(const DecoderOps *ops, const ModelConfig *cfg, int NT_max, int T_max) {
    size_t bytes[N_BUFFERS], total = 0;
    buffer_bytes(cfg, NT_max, bytes);
    for (int i = 0; i < N_BUFFERS; i++) total += bytes[i];
    return total + 2 * (size_t)NT_max * sizeof(int) + ops->state_bytes(cfg, NT_max, T_max);
}

// the activations and the least backend state of a Decoder of NT_max tokens
static size_t least_bytes(const DecoderOps *ops, const ModelConfig *cfg, int NT_max, int T_max) {
    return decoder_bytes(ops, cfg, NT_max, T_max) - ops->state_bytes(cfg, NT_max, T_max) +
           ops->state_min_bytes(cfg, NT_max, T_max);
}

int decoder_fit_batch(const DecoderOps *ops, const ModelConfig *cfg, int longest, int want, int *NT_max, char *why) {
    ASSERT(longest >= 1 && longest <= want);
    *NT_max = want;
    if (!ops->free_bytes) return 0;
    size_t room = ops->free_bytes();
    if (least_bytes(ops, cfg, want, longest) <= room) return 0;
    size_t need = least_bytes(ops, cfg, longest, longest);
    if (need > room)
        return base_errf(why, "a batch of its longest sequence (%d tokens) needs %.1f MiB of %s memory (the model's "
                              "constants, one layer's weights and the activations) but %.1f MiB are free: a smaller "
                              "context window, or a GPU with more memory",
                         longest, (double)need / 1048576.0, ops->name, (double)room / 1048576.0);
    // the bytes grow with the tokens: the largest batch that fits
    int lo = longest, hi = want;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (least_bytes(ops, cfg, mid, longest) <= room) lo = mid;
        else hi = mid;
    }
    *NT_max = lo;
    return 0;
}

// the next `bytes` of the block, or NULL for a buffer the model does not use
static void *carve(char **p, size_t bytes) {
    void *at = bytes ? *p : NULL;
    *p += bytes;
    return at;
}

Decoder *decoder_create(const DecoderOps *ops, Model *m, int NT_max, int T_max) {
    const ModelConfig *c = model_config(m);
    ASSERT(NT_max > 0 && T_max > 0);
    Decoder *d = base_calloc(1, sizeof *d, "Decoder");
    d->ops = ops;
    d->m = m;
    d->NT_max = NT_max;
    d->T_max = T_max;
    size_t bytes[N_BUFFERS], total = 0;
    buffer_bytes(c, NT_max, bytes);
    for (int i = 0; i < N_BUFFERS; i++) total += bytes[i];
    d->memory = ops->alloc(total, "decoder activations");
    // the pointer table in buffer_bytes' order: the float buffers, the token ids, then the int buffers
    float **floats[] = {&d->x,  &d->xn,  &d->xn2,  &d->qkv,  &d->q,     &d->k,     &d->v,
                        &d->aout, &d->up, &d->act, &d->mout, &d->rows, &d->final, &d->alibi};
    int **ints[] = {&d->pos, &d->seq_start, &d->cap_rows};
    enum { N_FLOATS = sizeof floats / sizeof *floats, N_INTS = sizeof ints / sizeof *ints };
    _Static_assert(N_FLOATS + 1 + N_INTS == N_BUFFERS, "a pointer for every buffer");
    char *p = d->memory;
    for (int i = 0; i < N_FLOATS; i++) *floats[i] = carve(&p, bytes[i]);
    d->ids = carve(&p, bytes[N_FLOATS]);
    for (int i = 0; i < N_INTS; i++) *ints[i] = carve(&p, bytes[N_FLOATS + 1 + i]);
    d->host_pos = base_malloc((size_t)NT_max * sizeof(int), "positions");
    d->host_rows = base_malloc((size_t)NT_max * sizeof(int), "capture rows");
    if (d->alibi) {
        float *slopes = base_malloc((size_t)c->n_heads * sizeof(float), "alibi slopes");
        model_alibi_slopes(slopes, c->n_heads, c->alibi_max_bias);
        ops->upload(d->alibi, slopes, (size_t)c->n_heads * sizeof(float), d);
        free(slopes);
    }
    d->be = ops->open(d);
    return d;
}

void decoder_free(Decoder *d) {
    if (!d) return;
    d->ops->close(d->be);
    d->ops->release(d->memory);
    free(d->host_pos);
    free(d->host_rows);
    free(d);
}

// ----------------------------------------------------------------------------
// the blocks of a layer

static void norm(Decoder *d, float *out, const float *in, const float *w, const float *b, int T) {
    const ModelConfig *c = model_config(d->m);
    if (c->norm == NORM_RMS) d->ops->rmsnorm(out, in, w, T, c->d_model, c->norm_eps, d);
    else d->ops->layernorm(out, in, w, b, T, c->d_model, c->norm_eps, d);
}

// aout = attention block of `in` (already normed where the family norms first)
static void attention_block(Decoder *d, const LayerF32 *L, const float *in, int n_seq, int NT) {
    const ModelConfig *c = model_config(d->m);
    const DecoderOps *ops = d->ops;
    const int C = c->d_model, NH = c->n_heads, NKV = c->n_kv_heads, HS = c->head_dim;
    const int QD = NH * HS, KD = NKV * HS;
    ops->matmul(d->qkv, in, L->wqkv, L->bqkv, NT, C, QD + 2 * KD, d);
    // q, k, v are column blocks of the fused rows; split out so every head has a plain stride
    ops->qkv_split(d->q, d->k, d->v, d->qkv, NT, QD, KD, c->clip_qkv, d);
    if (c->pos == POS_ROPE) {
        ops->rope(d->q, d->pos, NT, NH, HS, c->rope_dims, c->rope_theta, d);
        ops->rope(d->k, d->pos, NT, NKV, HS, c->rope_dims, c->rope_theta, d);
    }
    // the attention output reuses the fused buffer, free once q, k, v are out
    ops->attention(d->qkv, d->q, d->k, d->v, d->seq_start, n_seq, NT, NH, NKV, HS, d->alibi, c->sliding_window, d);
    ops->matmul(d->aout, d->qkv, L->wo, L->bo, NT, QD, C, d);
}

// mout = MLP block of `in`
static void mlp_block(Decoder *d, const LayerF32 *L, const float *in, int NT) {
    const ModelConfig *c = model_config(d->m);
    const DecoderOps *ops = d->ops;
    const int C = c->d_model, F = c->d_ff;
    if (c->gated_mlp) {
        ops->matmul(d->up, in, L->wup, NULL, NT, C, 2 * F, d);
        ops->swiglu(d->act, d->up, NT, F, d);
        ops->matmul(d->mout, d->act, L->wdown, L->bdown, NT, F, C, d);
    } else {
        ops->matmul(d->up, in, L->wup, L->bup, NT, C, F, d);
        if (c->act == ACT_RELU) ops->relu(d->up, (size_t)NT * F, d);
        else ops->gelu(d->up, (size_t)NT * F, c->act == ACT_GELU_TANH, d);
        ops->matmul(d->mout, d->up, L->wdown, L->bdown, NT, F, C, d);
    }
}

static void layer_forward(Decoder *d, const LayerF32 *L, int n_seq, int NT) {
    const ModelConfig *c = model_config(d->m);
    const DecoderOps *ops = d->ops;
    size_t N = (size_t)NT * c->d_model;
    if (!c->pre_ln) {  // OPT-350m: x = ln1(x + attn(x)); x = ln2(x + mlp(x))
        attention_block(d, L, d->x, n_seq, NT);
        ops->residual(d->x, d->x, d->aout, N, d);
        norm(d, d->x, d->x, L->ln1_w, L->ln1_b, NT);
        mlp_block(d, L, d->x, NT);
        ops->residual(d->x, d->x, d->mout, N, d);
        norm(d, d->x, d->x, L->ln2_w, L->ln2_b, NT);
        return;
    }
    norm(d, d->xn, d->x, L->ln1_w, L->ln1_b, NT);
    switch (c->residual) {
    case RES_SEQUENTIAL:  // x += attn(n1(x)); x += mlp(n2(x))
        attention_block(d, L, d->xn, n_seq, NT);
        ops->residual(d->x, d->x, d->aout, N, d);
        norm(d, d->xn, d->x, L->ln2_w, L->ln2_b, NT);
        mlp_block(d, L, d->xn, NT);
        ops->residual(d->x, d->x, d->mout, N, d);
        break;
    case RES_PARALLEL_SHARED:  // x += attn(n(x)) + mlp(n(x)), Falcon-7B
        attention_block(d, L, d->xn, n_seq, NT);
        mlp_block(d, L, d->xn, NT);
        ops->residual(d->x, d->x, d->aout, N, d);
        ops->residual(d->x, d->x, d->mout, N, d);
        break;
    case RES_PARALLEL_TWO:  // x += attn(n1(x)) + mlp(n2(x)), GPT-NeoX, Falcon's new architecture
        norm(d, d->xn2, d->x, L->ln2_w, L->ln2_b, NT);
        attention_block(d, L, d->xn, n_seq, NT);
        mlp_block(d, L, d->xn2, NT);
        ops->residual(d->x, d->x, d->aout, N, d);
        ops->residual(d->x, d->x, d->mout, N, d);
        break;
    }
}

// ----------------------------------------------------------------------------
// captures

// the captured rows (n, width), on the host, each added times its weight into its output row
static void add_captured(float *out, size_t width, const float *rows, const Capture *cap, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float *src = rows + i * width;
        float *dst = out + cap[i].out * width, w = cap[i].weight;
        for (size_t j = 0; j < width; j++) dst[j] += w * src[j];
    }
}

// the state whose rows are on their way to the host (a backend that downloads in two steps), added on arrival
typedef struct {
    float *out;  // its output block, or NULL: none in flight
    int slot;    // the host slot it travels to
} InFlight;

static void capture_finish(Decoder *d, InFlight *q, const Capture *cap, size_t n) {
    if (!q->out) return;
    add_captured(q->out, (size_t)model_config(d->m)->d_model, d->ops->download_wait(q->slot, d), cap, n);
    q->out = NULL;
}

// rows of hidden state x gathered and added into out: at once, or (two-step downloads) started now and added after
// the next state's rows have been started, so the host adds while the device runs the layer enqueued before them
static void capture_state(Decoder *d, float *out, const float *x, const Capture *cap, size_t n, InFlight *q) {
    size_t C = (size_t)model_config(d->m)->d_model;
    d->ops->capture(d->rows, x, d->cap_rows, (int)n, (int)C, d);
    if (!d->ops->download_start) {
        add_captured(out, C, d->ops->download(d->rows, n * C, d), cap, n);
        return;
    }
    int slot = q->out ? 1 - q->slot : 0;
    d->ops->download_start(d->rows, n * C, slot, d);
    capture_finish(d, q, cap, n);
    q->out = out, q->slot = slot;
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

void decoder_stage_layers(int n_layers, int n_stages, int k, int *first, int *end) {
    ASSERT(n_stages >= 1 && n_stages <= n_layers && k >= 0 && k < n_stages);
    *first = (int)((long)n_layers * k / n_stages);
    *end = (int)((long)n_layers * (k + 1) / n_stages);
}

int decoder_stage_owns(const DecoderStage *st, int e) {
    return (e == 0 && st->first == 0) || (e > st->first && e <= st->end);
}

void decoder_forward(Decoder *d, const TokenBatch *b, const Capture *cap, size_t n_cap, float *out,
                     const size_t *layer_offset) {
    DecoderStage whole = {.first = 0, .end = model_config(d->m)->n_layers};
    decoder_forward_stage(d, b, cap, n_cap, out, layer_offset, &whole);
}

float *decoder_stage_stream(Decoder *d) { return d->x; }

void decoder_forward_stage(Decoder *d, const TokenBatch *b, const Capture *cap, size_t n_cap, float *out,
                           const size_t *layer_offset, const DecoderStage *st) {
    const DecoderOps *ops = d->ops;
    const ModelConfig *c = model_config(d->m);
    const int NT = b->seq_start[b->n_seq];
    ASSERT(NT > 0 && NT <= d->NT_max && n_cap <= (size_t)d->NT_max);
    ASSERT(0 <= st->first && st->first < st->end && st->end <= c->n_layers);
    ASSERT(st->in_place || ((st->first == 0 || st->x_in) && (st->end == c->n_layers || st->x_out)));
    for (int sq = 0; sq < b->n_seq; sq++) {
        ASSERT(b->seq_start[sq + 1] - b->seq_start[sq] <= d->T_max);
        for (int t = b->seq_start[sq]; t < b->seq_start[sq + 1]; t++) d->host_pos[t] = t - b->seq_start[sq];
    }
    for (size_t i = 0; i < n_cap; i++) d->host_rows[i] = cap[i].row;
    ops->upload(d->ids, b->ids, (size_t)NT * sizeof(int32_t), d);
    ops->upload(d->pos, d->host_pos, (size_t)NT * sizeof(int), d);
    ops->upload(d->seq_start, b->seq_start, ((size_t)b->n_seq + 1) * sizeof(int), d);
    ops->upload(d->cap_rows, d->host_rows, n_cap * sizeof(int), d);

    size_t N = (size_t)NT * c->d_model;
    InFlight q = {NULL, 0};
    if (st->first == 0) {
        ops->embed(d->x, d->ids, d->pos, NT, d);
        capture_state(d, out + layer_offset[0], d->x, cap, n_cap, &q);
    } else if (!st->in_place) {
        ops->upload(d->x, st->x_in, N * sizeof(float), d);
    }
    for (int l = st->first; l < st->end; l++) {
        layer_forward(d, ops->layer(l, d), b->n_seq, NT);
        if (l + 1 < c->n_layers) capture_state(d, out + layer_offset[l + 1], d->x, cap, n_cap, &q);
    }
    capture_finish(d, &q, cap, n_cap);  // before download's slot 0 is reused
    if (st->end < c->n_layers) {
        if (!st->in_place) memcpy(st->x_out, ops->download(d->x, N, d), N * sizeof(float));
        return;
    }
    // the last entry: final norm (and projection) of the captured rows only
    size_t E = (size_t)model_final_dim(d->m);
    ops->capture(d->rows, d->x, d->cap_rows, (int)n_cap, c->d_model, d);
    ops->final(d->final, d->rows, (int)n_cap, d);
    add_captured(out + layer_offset[c->n_layers], E, ops->download(d->final, n_cap * E, d), cap, n_cap);
}
