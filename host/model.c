#include "host/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/log.h"

#define SUPPORTED_ARCHS "llama (Llama 1/2, SmolLM/SmolLM2, TinyStories)"

// ----------------------------------------------------------------------------
// hyperparameters

static int get_u32_key(const GgufFile *f, const char *arch, const char *suffix, uint32_t *out, int required,
                       char *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (gguf_get_u32(f, key, out) == 0) return 0;
    if (required) return base_errf(err, "%s: GGUF metadata lacks the integer key '%s'", f->path, key);
    return 1;
}

int model_config_from_gguf(const GgufFile *f, ModelConfig *cfg, char *err) {
    memset(cfg, 0, sizeof *cfg);
    char *arch = gguf_get_str(f, "general.architecture");
    if (!arch) return base_errf(err, "%s: GGUF metadata lacks general.architecture", f->path);
    if (strcmp(arch, "llama") != 0) {
        base_errf(err, "%s: model architecture '%s' is not supported; supported: %s", f->path, arch,
                  SUPPORTED_ARCHS);
        free(arch);
        return -1;
    }
    snprintf(cfg->arch, sizeof cfg->arch, "%s", arch);
    char *name = gguf_get_str(f, "general.name");
    snprintf(cfg->name, sizeof cfg->name, "%s", name ? name : arch);
    free(name);

    uint32_t n_layers, d_model, n_heads, n_kv, d_ff, ctx = 2048, rope_dims = 0;
    if (get_u32_key(f, arch, "block_count", &n_layers, 1, err) ||
        get_u32_key(f, arch, "embedding_length", &d_model, 1, err) ||
        get_u32_key(f, arch, "attention.head_count", &n_heads, 1, err) ||
        get_u32_key(f, arch, "feed_forward_length", &d_ff, 1, err)) {
        free(arch);
        return -1;
    }
    if (get_u32_key(f, arch, "attention.head_count_kv", &n_kv, 0, err) != 0) n_kv = n_heads;
    get_u32_key(f, arch, "context_length", &ctx, 0, err);
    char key[128];
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    float theta = 10000.0f;  // llama.cpp's default when the key is absent
    gguf_get_f32(f, key, &theta);
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    float eps = 1e-5f;
    if (gguf_get_f32(f, key, &eps) != 0) {
        free(arch);
        return base_errf(err, "%s: GGUF metadata lacks %s", f->path, key);
    }
    get_u32_key(f, arch, "rope.dimension_count", &rope_dims, 0, err);
    free(arch);

    if (n_heads == 0 || n_kv == 0 || d_model % n_heads != 0 || n_heads % n_kv != 0 || n_layers == 0 || d_ff == 0)
        return base_errf(err, "%s: inconsistent hyperparameters: d_model %u, heads %u, kv heads %u, layers %u", f->path,
                         d_model, n_heads, n_kv, n_layers);
    cfg->n_layers = (int)n_layers;
    cfg->d_model = (int)d_model;
    cfg->n_heads = (int)n_heads;
    cfg->n_kv_heads = (int)n_kv;
    cfg->head_dim = (int)(d_model / n_heads);
    cfg->d_ff = (int)d_ff;
    cfg->max_ctx = (int)ctx;
    cfg->norm = NORM_RMS;
    cfg->norm_eps = eps;
    cfg->pos = POS_ROPE;
    cfg->rope_theta = theta;
    cfg->rope_dims = rope_dims ? (int)rope_dims : cfg->head_dim;
    cfg->mlp = MLP_SWIGLU;
    if (cfg->rope_dims != cfg->head_dim || cfg->head_dim % 2 != 0)
        return base_errf(err, "%s: rope.dimension_count %d differs from the head size %d; partial rotary is not "
                              "supported for the llama architecture",
                         f->path, cfg->rope_dims, cfg->head_dim);

    const GgufTensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return base_errf(err, "%s: GGUF file has no tensor 'token_embd.weight'", f->path);
    cfg->vocab = (int)emb->ne[1];
    return 0;
}

// ----------------------------------------------------------------------------
// weights

void model_unpermute_rope_rows(float *w, int heads, int head_dim, int cols) {
    size_t block = (size_t)head_dim * (size_t)cols;
    float *tmp = base_malloc(block * sizeof(float), "rope unpermute");
    int half = head_dim / 2;
    for (int h = 0; h < heads; h++) {
        float *W = w + (size_t)h * block;
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(tmp + ((size_t)j * half + i) * cols, W + ((size_t)2 * i + j) * cols, (size_t)cols * sizeof(float));
        memcpy(W, tmp, block * sizeof(float));
    }
    free(tmp);
}

// read tensor `name` (expected ggml dims ne0 x ne1, i.e. PyTorch (ne1, ne0)) into dst
static int load_tensor(const GgufFile *f, const char *name, float *dst, uint64_t ne0, uint64_t ne1, char *err) {
    const GgufTensor *t = gguf_find_tensor(f, name);
    if (!t) return base_errf(err, "%s: GGUF file has no tensor '%s'", f->path, name);
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return base_errf(err, "%s: tensor '%s' has shape [%llu, %llu], expected [%llu, %llu] from the metadata",
                         f->path, name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                         (unsigned long long)ne0, (unsigned long long)ne1);
    return gguf_tensor_to_f32(f, t, dst, err);
}

Model *model_load_gguf(const GgufFile *f, char *err) {
    ModelConfig cfg;
    if (model_config_from_gguf(f, &cfg, err) != 0) return NULL;
    size_t L = (size_t)cfg.n_layers, C = (size_t)cfg.d_model, V = (size_t)cfg.vocab, F = (size_t)cfg.d_ff;
    size_t QD = (size_t)cfg.n_heads * (size_t)cfg.head_dim;     // query width
    size_t KD = (size_t)cfg.n_kv_heads * (size_t)cfg.head_dim;  // key/value width

    // pointer table: carving order and sizes in one place
    size_t sizes[11] = {V * C, L * C, L * QD * C, L * KD * C, L * KD * C, L * C * QD,
                        L * C, L * F * C,  L * F * C,  L * C * F,  C};
    size_t total = 0;
    for (int i = 0; i < 11; i++) total += sizes[i];

    Model *m = base_calloc(1, sizeof *m, "Model");
    m->cfg = cfg;
    m->n_params = total;
    log_debug("allocating %.1f MiB for %s weights (float32)", (double)total * 4 / 1048576.0, cfg.name);
    m->memory = base_malloc(base_mul(total, sizeof(float)), "model weights");
    float **ptrs[11] = {&m->w.tok_embd, &m->w.attn_norm, &m->w.wq,     &m->w.wk,    &m->w.wv,      &m->w.wo,
                        &m->w.ffn_norm, &m->w.w_gate,    &m->w.w_up,   &m->w.w_down, &m->w.out_norm};
    float *p = m->memory;
    for (int i = 0; i < 11; i++) {
        *ptrs[i] = p;
        p += sizes[i];
    }

    if (load_tensor(f, "token_embd.weight", m->w.tok_embd, C, V, err)) goto fail;
    if (load_tensor(f, "output_norm.weight", m->w.out_norm, C, 1, err)) goto fail;
    char name[96];
    for (size_t l = 0; l < L; l++) {
#define LOAD(suffix, dst, ne0, ne1)                                           \
    snprintf(name, sizeof name, "blk.%zu." suffix ".weight", l);             \
    if (load_tensor(f, name, (dst), (ne0), (ne1), err)) goto fail;
        LOAD("attn_norm", m->w.attn_norm + l * C, C, 1);
        LOAD("attn_q", m->w.wq + l * QD * C, C, QD);
        LOAD("attn_k", m->w.wk + l * KD * C, C, KD);
        LOAD("attn_v", m->w.wv + l * KD * C, C, KD);
        LOAD("attn_output", m->w.wo + l * C * QD, QD, C);
        LOAD("ffn_norm", m->w.ffn_norm + l * C, C, 1);
        LOAD("ffn_gate", m->w.w_gate + l * F * C, C, F);
        LOAD("ffn_up", m->w.w_up + l * F * C, C, F);
        LOAD("ffn_down", m->w.w_down + l * C * F, F, C);
#undef LOAD
        model_unpermute_rope_rows(m->w.wq + l * QD * C, cfg.n_heads, cfg.head_dim, (int)C);
        model_unpermute_rope_rows(m->w.wk + l * KD * C, cfg.n_kv_heads, cfg.head_dim, (int)C);
    }
    return m;

fail:
    model_free(m);
    return NULL;
}

void model_free(Model *m) {
    if (!m) return;
    free(m->memory);
    free(m);
}
