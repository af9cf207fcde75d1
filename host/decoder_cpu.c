#include "host/decoder_cpu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/ops_cpu.h"

typedef struct {
    int threads;        // the OpenMP threads the scores are sized for
    float *scores;      // (threads, ATTN_QUERY_BLOCK, T_max)
    float *embed_rows;  // (NT_max, E) embedding rows before OPT's project_in, or NULL
} CpuState;

// ----------------------------------------------------------------------------
// memory and state

static void *cpu_alloc(size_t bytes, const char *label) { return base_malloc(bytes, label); }
static void cpu_release(void *p) { free(p); }
static void cpu_upload(void *dst, const void *src, size_t bytes, Decoder *d) { memcpy(dst, src, bytes); }
static const float *cpu_download(const float *src, size_t n, Decoder *d) { return src; }

static size_t embed_rows_floats(const ModelConfig *c, int NT_max) {
    return c->d_embed != c->d_model ? (size_t)NT_max * (size_t)c->d_embed : 0;
}

static size_t cpu_state_bytes(const ModelConfig *c, int NT_max, int T_max) {
    return (attention_scratch_floats(T_max, omp_get_max_threads()) + embed_rows_floats(c, NT_max)) * sizeof(float);
}

static void *cpu_open(Decoder *d) {
    const ModelConfig *c = model_config(d->m);
    CpuState *s = base_calloc(1, sizeof *s, "CPU decoder state");
    s->threads = omp_get_max_threads();
    s->scores = base_malloc(attention_scratch_floats(d->T_max, s->threads) * sizeof(float), "attention scores");
    size_t rows = embed_rows_floats(c, d->NT_max);
    s->embed_rows = rows ? base_malloc(rows * sizeof(float), "embedding rows") : NULL;
    return s;
}

static void cpu_close(void *be) {
    CpuState *s = be;
    if (!s) return;
    free(s->scores);
    free(s->embed_rows);
    free(s);
}

static const LayerF32 *cpu_layer(int l, Decoder *d) { return model_layer(d->m, l); }

// ----------------------------------------------------------------------------
// the batch's ends: embedding, captures, final norm

static void cpu_embed(float *out, const int32_t *ids, const int *pos, int T, Decoder *d) {
    const ModelConfig *c = model_config(d->m);
    const ModelGlobals *g = model_globals(d->m);
    const int C = c->d_model;
    float *rows = g->proj_in ? ((CpuState *)d->be)->embed_rows : out;
    model_embed_rows(d->m, rows, ids, T);
    if (g->proj_in) matmul_forward_cpu(out, rows, g->proj_in, NULL, T, c->d_embed, C);
    if (g->pos_table) positions_add_cpu(out, g->pos_table, pos, c->pos_offset, T, C);
}

static void cpu_capture(float *rows, const float *x, const int *row_ids, int n, int C, Decoder *d) {
    for (int i = 0; i < n; i++)
        memcpy(rows + (size_t)i * C, x + (size_t)row_ids[i] * C, (size_t)C * sizeof(float));
}

static void cpu_final(float *out, float *in, int T, Decoder *d) {
    const ModelConfig *c = model_config(d->m);
    const ModelGlobals *g = model_globals(d->m);
    const int C = c->d_model;
    float *normed = g->proj_out ? in : out;  // in place when the projection follows
    if (c->final_norm) {
        if (c->norm == NORM_RMS) rmsnorm_forward_cpu(normed, in, g->final_w, T, C, c->norm_eps);
        else layernorm_forward_cpu(normed, in, g->final_w, g->final_b, T, C, c->norm_eps);
    } else if (!g->proj_out) {
        memcpy(out, in, (size_t)T * C * sizeof(float));
    }
    if (g->proj_out) matmul_forward_cpu(out, normed, g->proj_out, NULL, T, C, c->d_embed);
}

// ----------------------------------------------------------------------------
// per layer: the twins, with the Decoder (unused but for attention's scratch) last

static void cpu_matmul(float *out, const float *inp, const float *w, const float *b, int T, int C, int OC,
                       Decoder *d) {
    matmul_forward_cpu(out, inp, w, b, T, C, OC);
}
static void cpu_rmsnorm(float *out, const float *inp, const float *w, int T, int C, float eps, Decoder *d) {
    rmsnorm_forward_cpu(out, inp, w, T, C, eps);
}
static void cpu_layernorm(float *out, const float *inp, const float *w, const float *b, int T, int C, float eps,
                          Decoder *d) {
    layernorm_forward_cpu(out, inp, w, b, T, C, eps);
}

static void cpu_qkv_split(float *q, float *k, float *v, const float *qkv, int T, int QD, int KD, float clip,
                          Decoder *d) {
    qkv_split_cpu(q, k, v, qkv, T, QD, KD, clip);
}

static void cpu_rope(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta, Decoder *d) {
    rope_forward_cpu(x, pos, T, NH, HS, rot_dims, theta);
}

static void cpu_attention(float *out, const float *q, const float *k, const float *v, const int *seq_start, int n_seq,
                          int NT, int NH, int NKV, int HS, const float *alibi, int window, Decoder *d) {
    const CpuState *s = d->be;
    attention_forward_cpu(out, s->scores, s->threads, q, k, v, seq_start, n_seq, NH, NKV, HS, alibi, window);
}

static void cpu_swiglu(float *out, const float *gu, int T, int F, Decoder *d) { swiglu_rows_cpu(out, gu, T, F); }
static void cpu_gelu(float *x, size_t N, int tanh_approx, Decoder *d) { gelu_forward_cpu(x, N, tanh_approx); }
static void cpu_relu(float *x, size_t N, Decoder *d) { relu_forward_cpu(x, N); }
static void cpu_residual(float *out, const float *a, const float *b, size_t N, Decoder *d) {
    residual_forward_cpu(out, a, b, N);
}

const DecoderOps decoder_ops_cpu = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_upload,
    .download = cpu_download,
    .open = cpu_open,
    .close = cpu_close,
    .state_bytes = cpu_state_bytes,
    .layer = cpu_layer,
    .embed = cpu_embed,
    .capture = cpu_capture,
    .final = cpu_final,
    .matmul = cpu_matmul,
    .rmsnorm = cpu_rmsnorm,
    .layernorm = cpu_layernorm,
    .qkv_split = cpu_qkv_split,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .swiglu = cpu_swiglu,
    .gelu = cpu_gelu,
    .relu = cpu_relu,
    .residual = cpu_residual,
};
