#include "host/decoder_cpu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/ops_cpu.h"

struct DecoderScratch {
    int T_max;
    int threads;    // OpenMP threads the attention scratch is sized for
    float *x;       // (T, C)    residual stream
    float *xn;      // (T, C)    normed input of a sub-block, then its output
    float *q;       // (T, NH*HS)
    float *k;       // (T, NKV*HS)
    float *v;       // (T, NKV*HS)
    float *att;     // (T, NH*HS)
    float *gate;    // (T, F)
    float *up;      // (T, F)
    float *scores;  // (threads, ATTN_QUERY_BLOCK, T)
    int *pos;       // (T)
    float *memory;
};

#define N_BUFFERS 9

static void buffer_sizes(const ModelConfig *c, int T_max, int threads, size_t sizes[N_BUFFERS]) {
    size_t T = (size_t)T_max, C = (size_t)c->d_model, F = (size_t)c->d_ff;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t s[N_BUFFERS] = {T * C, T * C, T * QD, T * KD, T * KD, T * QD, T * F, T * F, attention_scratch_floats(T_max, threads)};
    memcpy(sizes, s, sizeof s);
}

size_t decoder_cpu_scratch_bytes(const ModelConfig *cfg, int T_max) {
    size_t sizes[N_BUFFERS], total = 0;
    buffer_sizes(cfg, T_max, omp_get_max_threads(), sizes);
    for (int i = 0; i < N_BUFFERS; i++) total += sizes[i];
    return total * sizeof(float) + (size_t)T_max * sizeof(int);
}

DecoderScratch *decoder_cpu_scratch_create(const ModelConfig *cfg, int T_max) {
    DecoderScratch *s = base_calloc(1, sizeof *s, "DecoderScratch");
    s->T_max = T_max;
    s->threads = omp_get_max_threads();
    size_t sizes[N_BUFFERS], total = 0;
    buffer_sizes(cfg, T_max, s->threads, sizes);
    for (int i = 0; i < N_BUFFERS; i++) total += sizes[i];
    s->memory = base_malloc(base_mul(total, sizeof(float)), "decoder activations");
    float **ptrs[N_BUFFERS] = {&s->x, &s->xn, &s->q, &s->k, &s->v, &s->att, &s->gate, &s->up, &s->scores};
    float *p = s->memory;
    for (int i = 0; i < N_BUFFERS; i++) {
        *ptrs[i] = p;
        p += sizes[i];
    }
    s->pos = base_malloc((size_t)T_max * sizeof(int), "positions");
    for (int t = 0; t < T_max; t++) s->pos[t] = t;
    return s;
}

void decoder_cpu_scratch_free(DecoderScratch *s) {
    if (!s) return;
    free(s->memory);
    free(s->pos);
    free(s);
}

static void capture(float *out, size_t out_stride, int layer, const float *x, const int *tok_rows,
                    const size_t *out_rows, size_t n, int C) {
    float *dst = out + (size_t)layer * out_stride * C;
    for (size_t i = 0; i < n; i++)
        memcpy(dst + out_rows[i] * C, x + (size_t)tok_rows[i] * C, (size_t)C * sizeof(float));
}

void decoder_cpu_forward(const Model *m, DecoderScratch *s, const int32_t *ids, int T, const int *tok_rows,
                         const size_t *out_rows, size_t n_capture, float *out, size_t out_stride) {
    const ModelConfig *c = &m->cfg;
    const ModelWeights *w = &m->w;
    ASSERT(T > 0 && T <= s->T_max);
    const int C = c->d_model, F = c->d_ff, NH = c->n_heads, NKV = c->n_kv_heads, HS = c->head_dim;
    const int QD = NH * HS, KD = NKV * HS;
    const size_t TC = (size_t)T * C;

    embedding_forward_cpu(s->x, ids, w->tok_embd, T, C);
    capture(out, out_stride, 0, s->x, tok_rows, out_rows, n_capture, C);
    for (int l = 0; l < c->n_layers; l++) {
        size_t L = (size_t)l;
        // attention block: x += Wo attn(rope(Wq n(x)), rope(Wk n(x)), Wv n(x))
        rmsnorm_forward_cpu(s->xn, s->x, w->attn_norm + L * C, T, C, c->norm_eps);
        matmul_forward_cpu(s->q, s->xn, w->wq + L * QD * C, NULL, T, C, QD);
        matmul_forward_cpu(s->k, s->xn, w->wk + L * KD * C, NULL, T, C, KD);
        matmul_forward_cpu(s->v, s->xn, w->wv + L * KD * C, NULL, T, C, KD);
        rope_forward_cpu(s->q, s->pos, T, NH, HS, c->rope_dims, c->rope_theta);
        rope_forward_cpu(s->k, s->pos, T, NKV, HS, c->rope_dims, c->rope_theta);
        attention_forward_cpu(s->att, s->scores, s->threads, s->q, s->k, s->v, T, NH, NKV, HS);
        matmul_forward_cpu(s->xn, s->att, w->wo + L * C * QD, NULL, T, QD, C);
        residual_forward_cpu(s->x, s->x, s->xn, TC);
        // MLP block: x += W_down (silu(W_gate n(x)) * W_up n(x))
        rmsnorm_forward_cpu(s->xn, s->x, w->ffn_norm + L * C, T, C, c->norm_eps);
        matmul_forward_cpu(s->gate, s->xn, w->w_gate + L * F * C, NULL, T, C, F);
        matmul_forward_cpu(s->up, s->xn, w->w_up + L * F * C, NULL, T, C, F);
        swiglu_forward_cpu(s->gate, s->gate, s->up, (size_t)T * F);
        matmul_forward_cpu(s->xn, s->gate, w->w_down + L * C * F, NULL, T, F, C);
        residual_forward_cpu(s->x, s->x, s->xn, TC);
        if (l + 1 < c->n_layers) capture(out, out_stride, l + 1, s->x, tok_rows, out_rows, n_capture, C);
    }
    // the last entry is the final-normed output, as in transformers' hidden_states tuple
    rmsnorm_forward_cpu(s->xn, s->x, w->out_norm, T, C, c->norm_eps);
    capture(out, out_stride, c->n_layers, s->xn, tok_rows, out_rows, n_capture, C);
}
