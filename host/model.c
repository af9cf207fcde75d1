#include "host/model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/base.h"
#include "host/log.h"
#include "host/safetensors.h"

typedef struct {
    const TensorRef *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    const TensorRef *q, *k, *v, *qkv, *q_b, *k_b, *v_b, *qkv_b;
    const TensorRef *o, *o_b;
    const TensorRef *gate, *up, *down, *up_b, *down_b;
} LayerRefs;

struct Model {
    ModelConfig cfg;
    char *path;
    GgufFile *gguf;
    StCheckpoint *st;
    TensorRef *gguf_refs;     // views of the GGUF tensors, in file order
    int conv1d;               // GPT-2: linear weights stored (in, out)
    int rope_interleaved;     // GGUF llama: q/k rows permuted for ggml's RoPE
    const TensorRef *embed, *pos_embed, *final_w, *final_b, *proj_in, *proj_out;
    LayerRefs *layers;
    size_t n_params;
    size_t stored_bytes;      // the bound tensors as stored (mapped, paged in as they are read)
    // widened weights
    ModelGlobals globals;
    float *small;             // one block behind the final norm and the projections
    size_t layer_floats;
    LayerF32 *widened;        // (L)
    float **blocks;           // (L) kept blocks, NULL where not kept
    float *transient;         // the block for layers that are not kept
    int transient_layer;
    size_t kept_bytes, max_weight_bytes;
    float *scratch;           // transposes and permutations while widening
};

const ModelConfig *model_config(const Model *m) { return &m->cfg; }
size_t model_n_params(const Model *m) { return m->n_params; }
size_t model_stored_bytes(const Model *m) { return m->stored_bytes; }
const GgufFile *model_gguf(const Model *m) { return m->gguf; }
const char *model_dir(const Model *m) { return m->st ? m->path : NULL; }
int model_final_dim(const Model *m) { return m->proj_out ? m->cfg.d_embed : m->cfg.d_model; }
DType model_weight_dtype(const Model *m) { return m->layers[0].o->dtype; }
const ModelGlobals *model_globals(const Model *m) { return &m->globals; }

// ----------------------------------------------------------------------------
// positions and permutations

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

void model_alibi_slopes(float *slopes, int n_heads, float max_bias) {
    // transformers MptModel build_mpt_alibi_tensor: slopes for the next power of two, then the odd
    // ones followed by the even ones when the head count is not a power of two
    int n2 = 1;
    while (n2 < n_heads) n2 *= 2;
    float *all = base_malloc((size_t)n2 * sizeof(float), "alibi");
    for (int i = 0; i < n2; i++) all[i] = 1.0f / powf(2.0f, (float)(i + 1) * (max_bias / (float)n2));
    if (n2 == n_heads) {
        memcpy(slopes, all, (size_t)n_heads * sizeof(float));
    } else {
        int k = 0;
        for (int i = 1; i < n2 && k < n_heads; i += 2) slopes[k++] = all[i];
        for (int i = 0; i < n2 && k < n_heads; i += 2) slopes[k++] = all[i];
    }
    free(all);
}

// ----------------------------------------------------------------------------
// config.json

static int jint(json_t *o, const char *key, int def) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : def;
}
static double jnum(json_t *o, const char *key, double def) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : def;
}
static int jbool(json_t *o, const char *key, int def) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}
static const char *jstr(json_t *o, const char *key, const char *def) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : def;
}
static int jint2(json_t *o, const char *a, const char *b, int def) { return jint(o, a, jint(o, b, def)); }

// Every integer in a config (sizes, counts, token ids) must stay below 2^28: far above any real model
// (hidden sizes of tens of thousands, vocabularies and contexts of millions), and low enough that jint's
// conversion to int is exact and products such as 4 * hidden_size cannot overflow. The name of the first
// integer outside that range goes into key, its value into val.
#define CONFIG_INT_MAX (1LL << 28)
static int find_huge_int(json_t *o, char *key, size_t n, long long *val) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (json_is_integer(v) && (json_integer_value(v) >= CONFIG_INT_MAX || json_integer_value(v) <= -CONFIG_INT_MAX)) {
            snprintf(key, n, "%s", k);
            *val = (long long)json_integer_value(v);
            return 1;
        }
        if (json_is_object(v) && find_huge_int(v, key, n, val)) return 1;
    }
    return 0;
}

static double rope_theta_of(json_t *j, const char *legacy_key, double def) {
    json_t *rp = json_object_get(j, "rope_parameters");  // newer transformers write it here
    if (json_is_object(rp)) return jnum(rp, "rope_theta", jnum(j, legacy_key, def));
    return jnum(j, legacy_key, def);
}

static int parse_act(const char *s, ActType *out) {
    if (strcmp(s, "silu") == 0 || strcmp(s, "swish") == 0) *out = ACT_SILU;
    else if (strcmp(s, "gelu") == 0) *out = ACT_GELU_ERF;
    else if (strcmp(s, "gelu_new") == 0 || strcmp(s, "gelu_pytorch_tanh") == 0 || strcmp(s, "gelu_fast") == 0)
        *out = ACT_GELU_TANH;
    else if (strcmp(s, "relu") == 0) *out = ACT_RELU;
    else return -1;
    return 0;
}

static int config_from_json(const char *dir, ModelConfig *c, char *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) {
        if (!base_file_exists(path)) return base_errf(err, "%s: no config.json (a Hugging Face checkpoint folder?)", dir);
        return base_errf(err, "%s: malformed JSON at line %d: %s", path, jerr.line, jerr.text);
    }
    memset(c, 0, sizeof *c);
    int rc = -1;
    char huge[128];
    long long huge_val;
    if (find_huge_int(j, huge, sizeof huge, &huge_val)) {
        char q[BASE_QUOTE_LEN];
        base_errf(err, "%s: '%s' is %lld, out of range (integers in a model config must be below %lld)", path,
                  base_escape(q, sizeof q, huge, strlen(huge)), huge_val, CONFIG_INT_MAX);
        goto done;
    }
    const char *type = jstr(j, "model_type", "");
    snprintf(c->arch, sizeof c->arch, "%s", type);
    const char *slash = strrchr(dir, '/');
    snprintf(c->name, sizeof c->name, "%s", slash && slash[1] ? slash + 1 : dir);
    c->norm_bias = 1;
    c->pre_ln = 1;
    c->final_norm = 1;
    c->bos = jint(j, "bos_token_id", -1);
    const char *act = "gelu";
    if (strcmp(type, "llama") == 0 || strcmp(type, "mistral") == 0) {
        c->family = type[0] == 'l' ? FAM_LLAMA : FAM_MISTRAL;
        c->d_model = jint(j, "hidden_size", 0);
        c->n_layers = jint(j, "num_hidden_layers", 0);
        c->n_heads = jint(j, "num_attention_heads", 0);
        c->n_kv_heads = jint(j, "num_key_value_heads", c->n_heads);
        c->head_dim = jint(j, "head_dim", 0);
        c->d_ff = jint(j, "intermediate_size", 0);
        c->max_ctx = jint(j, "max_position_embeddings", 2048);
        c->norm = NORM_RMS;
        c->norm_eps = (float)jnum(j, "rms_norm_eps", 1e-6);
        c->norm_bias = 0;
        c->pos = POS_ROPE;
        c->rope_theta = (float)rope_theta_of(j, "rope_theta", 10000.0);
        c->sliding_window = jint(j, "sliding_window", 0);
        c->gated_mlp = 1;
        c->attn_bias = jbool(j, "attention_bias", 0);
        c->mlp_bias = jbool(j, "mlp_bias", 0);
        act = jstr(j, "hidden_act", "silu");
        json_t *rs = json_object_get(j, "rope_scaling");
        if (json_is_object(rs) && strcmp(jstr(rs, "rope_type", jstr(rs, "type", "default")), "default") != 0) {
            const char *kind = jstr(rs, "rope_type", jstr(rs, "type", "?"));
            char q[BASE_QUOTE_LEN];
            base_errf(err, "%s: rope_scaling '%s' is not supported", path,
                      base_escape(q, sizeof q, kind, strlen(kind)));
            goto done;
        }
    } else if (strcmp(type, "falcon") == 0 || strcmp(type, "RefinedWeb") == 0 || strcmp(type, "RefinedWebModel") == 0) {
        c->family = FAM_FALCON;
        c->d_model = jint2(j, "hidden_size", "n_embed", 0);
        c->n_layers = jint2(j, "num_hidden_layers", "n_layer", 0);
        c->n_heads = jint2(j, "num_attention_heads", "n_head", 0);
        int new_arch = jbool(j, "new_decoder_architecture", 0);
        c->n_kv_heads = new_arch ? jint2(j, "num_kv_heads", "n_head_kv", c->n_heads)
                                 : (jbool(j, "multi_query", 1) ? 1 : c->n_heads);
        c->d_ff = jint(j, "ffn_hidden_size", 4 * c->d_model);
        c->max_ctx = jint(j, "max_position_embeddings", 2048);
        c->norm = NORM_LAYER;
        c->norm_eps = (float)jnum(j, "layer_norm_epsilon", 1e-5);
        c->pos = POS_ROPE;
        c->rope_theta = (float)rope_theta_of(j, "rope_theta", 10000.0);
        int two_norms = new_arch && jint(j, "num_ln_in_parallel_attn", 2) == 2;
        c->qkv_layout = new_arch ? QKV_GROUPED : c->n_kv_heads == 1 ? QKV_FUSED : QKV_PER_HEAD;
        c->residual = !jbool(j, "parallel_attn", 1) ? RES_SEQUENTIAL : two_norms ? RES_PARALLEL_TWO : RES_PARALLEL_SHARED;
        c->attn_bias = c->mlp_bias = jbool(j, "bias", 0);
        act = jstr(j, "activation", "gelu");
        if (jbool(j, "alibi", 0)) {
            base_errf(err, "%s: Falcon with ALiBi (\"alibi\": true, the falcon-rw models) is not supported: its bias "
                           "is not MPT's and is not checked against transformers (docs/models.md); the supported "
                           "Falcon models use rotary positions", path);
            goto done;
        }
    } else if (strcmp(type, "mpt") == 0) {
        c->family = FAM_MPT;
        c->qkv_layout = QKV_FUSED;
        c->d_model = jint(j, "d_model", 0);
        c->n_layers = jint(j, "n_layers", 0);
        c->n_heads = jint(j, "n_heads", 0);
        c->n_kv_heads = c->n_heads;
        c->d_ff = 4 * c->d_model;  // transformers' MptMLP is 4x wide whatever expansion_ratio says
        c->max_ctx = jint(j, "max_seq_len", 2048);
        c->norm = NORM_LAYER;
        c->norm_eps = (float)jnum(j, "layer_norm_epsilon", 1e-5);
        int no_bias = jbool(j, "no_bias", 1);
        c->norm_bias = c->attn_bias = c->mlp_bias = !no_bias;
        json_t *ac = json_object_get(j, "attn_config");
        if (!jbool(ac, "alibi", 1) || jbool(ac, "qk_ln", 0) || jint(ac, "kv_n_heads", c->n_heads) != c->n_heads) {
            base_errf(err, "%s: MPT without ALiBi, with qk_ln or with grouped key/value heads is not supported", path);
            goto done;
        }
        c->pos = POS_ALIBI;
        c->alibi_max_bias = (float)jnum(ac, "alibi_bias_max", 8.0);
        c->clip_qkv = (float)jnum(ac, "clip_qkv", 0.0);
        act = "gelu";
    } else if (strcmp(type, "gpt_neox") == 0) {
        c->family = FAM_GPT_NEOX;
        c->qkv_layout = QKV_PER_HEAD;
        c->d_model = jint(j, "hidden_size", 0);
        c->n_layers = jint(j, "num_hidden_layers", 0);
        c->n_heads = jint(j, "num_attention_heads", 0);
        c->n_kv_heads = c->n_heads;
        c->d_ff = jint(j, "intermediate_size", 4 * c->d_model);
        c->max_ctx = jint(j, "max_position_embeddings", 2048);
        c->norm = NORM_LAYER;
        c->norm_eps = (float)jnum(j, "layer_norm_eps", 1e-5);
        c->pos = POS_ROPE;
        c->rope_theta = (float)rope_theta_of(j, "rotary_emb_base", jnum(j, "rope_theta", 10000.0));
        json_t *rp = json_object_get(j, "rope_parameters");
        double pct = jnum(j, "rotary_pct", jnum(j, "partial_rotary_factor", jnum(rp, "partial_rotary_factor", 1.0)));
        c->residual = jbool(j, "use_parallel_residual", 1) ? RES_PARALLEL_TWO : RES_SEQUENTIAL;
        c->attn_bias = jbool(j, "attention_bias", 1);
        c->mlp_bias = 1;
        act = jstr(j, "hidden_act", "gelu");
        c->head_dim = c->n_heads ? c->d_model / c->n_heads : 0;
        c->rope_dims = (int)(c->head_dim * pct);
    } else if (strcmp(type, "opt") == 0) {
        c->family = FAM_OPT;
        c->d_model = jint(j, "hidden_size", 0);
        c->n_layers = jint(j, "num_hidden_layers", 0);
        c->n_heads = jint(j, "num_attention_heads", 0);
        c->n_kv_heads = c->n_heads;
        c->d_ff = jint(j, "ffn_dim", 4 * c->d_model);
        c->d_embed = jint(j, "word_embed_proj_dim", c->d_model);
        c->max_ctx = jint(j, "max_position_embeddings", 2048);
        c->norm = NORM_LAYER;
        c->norm_eps = 1e-5f;  // nn.LayerNorm's default; OPT's config has no key for it
        c->pre_ln = jbool(j, "do_layer_norm_before", 1);
        c->final_norm = c->pre_ln && !jbool(j, "_remove_final_layer_norm", 0);
        c->pos = POS_LEARNED;
        c->pos_offset = 2;
        c->attn_bias = c->mlp_bias = jbool(j, "enable_bias", 1);
        act = jstr(j, "activation_function", "relu");
        if (!jbool(j, "layer_norm_elementwise_affine", 1)) {
            base_errf(err, "%s: OPT without elementwise-affine layer norms is not supported", path);
            goto done;
        }
    } else if (strcmp(type, "gpt2") == 0) {
        c->family = FAM_GPT2;
        c->qkv_layout = QKV_FUSED;
        c->d_model = jint2(j, "n_embd", "hidden_size", 0);
        c->n_layers = jint2(j, "n_layer", "num_hidden_layers", 0);
        c->n_heads = jint2(j, "n_head", "num_attention_heads", 0);
        c->n_kv_heads = c->n_heads;
        json_t *inner = json_object_get(j, "n_inner");
        c->d_ff = json_is_integer(inner) ? (int)json_integer_value(inner) : 4 * c->d_model;
        c->max_ctx = jint(j, "n_positions", 1024);
        c->norm = NORM_LAYER;
        c->norm_eps = (float)jnum(j, "layer_norm_epsilon", 1e-5);
        c->pos = POS_LEARNED;
        c->attn_bias = c->mlp_bias = 1;
        act = jstr(j, "activation_function", "gelu_new");
        if (!jbool(j, "scale_attn_weights", 1) || jbool(j, "scale_attn_by_inverse_layer_idx", 0)) {
            base_errf(err, "%s: GPT-2 variants with other attention scaling are not supported", path);
            goto done;
        }
        c->bos = -1;  // GPT-2 declares <|endoftext|> as BOS but its tokenizer adds none
    } else {
        char q[BASE_QUOTE_LEN];
        base_errf(err, "%s: model_type '%s' is not supported; supported: %s", path,
                  base_escape(q, sizeof q, type, strlen(type)), MODEL_SUPPORTED);
        goto done;
    }
    c->vocab = jint(j, "vocab_size", 0);
    if (!c->d_embed) c->d_embed = c->d_model;
    if (!c->head_dim && c->n_heads) c->head_dim = c->d_model / c->n_heads;
    if (c->pos == POS_ROPE && !c->rope_dims) c->rope_dims = c->head_dim;
    char qa[BASE_QUOTE_LEN];  // the activation as the file names it, safe to print
    base_escape(qa, sizeof qa, act, strlen(act));
    if (parse_act(act, &c->act) != 0) {
        base_errf(err, "%s: activation '%s' is not supported (silu, gelu, gelu_new, relu)", path, qa);
        goto done;
    }
    if (c->gated_mlp && c->act != ACT_SILU) {
        base_errf(err, "%s: a gated MLP with activation '%s' is not supported", path, qa);
        goto done;
    }
    if (c->d_model <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads ||
        c->d_ff <= 0 || c->vocab <= 0 || c->head_dim <= 0 || c->rope_dims % 2 || c->rope_dims > c->head_dim) {
        base_errf(err, "%s: inconsistent sizes (hidden %d, layers %d, heads %d/%d, head size %d, ffn %d, vocab %d)",
                  path, c->d_model, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->d_ff, c->vocab);
        goto done;
    }
    rc = 0;
done:
    json_decref(j);
    return rc;
}

// ----------------------------------------------------------------------------
// GGUF metadata (llama architecture)

static int config_from_gguf(const GgufFile *f, ModelConfig *cfg, char *err) {
    memset(cfg, 0, sizeof *cfg);
    char *arch = gguf_get_str(f, "general.architecture");
    if (!arch) return base_errf(err, "%s: GGUF metadata lacks general.architecture", f->path);
    if (strcmp(arch, "llama") != 0) {
        char q[BASE_QUOTE_LEN];
        base_errf(err, "%s: GGUF architecture '%s' is not supported (GGUF files: llama; Hugging Face checkpoints: %s)",
                  f->path, base_escape(q, sizeof q, arch, strlen(arch)), MODEL_SUPPORTED);
        free(arch);
        return -1;
    }
    free(arch);
    snprintf(cfg->arch, sizeof cfg->arch, "llama");
    char *name = gguf_get_str(f, "general.name");
    snprintf(cfg->name, sizeof cfg->name, "%s", name ? name : "llama");
    free(name);
    uint32_t n_layers, d_model, n_heads, n_kv, d_ff, ctx = 2048, rope_dims = 0, bos;
    if (gguf_get_u32(f, "llama.block_count", &n_layers) || gguf_get_u32(f, "llama.embedding_length", &d_model) ||
        gguf_get_u32(f, "llama.attention.head_count", &n_heads) || gguf_get_u32(f, "llama.feed_forward_length", &d_ff))
        return base_errf(err, "%s: GGUF metadata lacks one of llama.block_count, embedding_length, "
                              "attention.head_count, feed_forward_length",
                         f->path);
    if (gguf_get_u32(f, "llama.attention.head_count_kv", &n_kv)) n_kv = n_heads;
    gguf_get_u32(f, "llama.context_length", &ctx);
    gguf_get_u32(f, "llama.rope.dimension_count", &rope_dims);
    float theta = 10000.0f, eps;  // llama.cpp's default theta when the key is absent
    gguf_get_f32(f, "llama.rope.freq_base", &theta);
    if (gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &eps))
        return base_errf(err, "%s: GGUF metadata lacks llama.attention.layer_norm_rms_epsilon", f->path);
    if (n_heads == 0 || n_kv == 0 || d_model % n_heads || n_heads % n_kv || n_layers == 0 || d_ff == 0)
        return base_errf(err, "%s: inconsistent hyperparameters: d_model %u, heads %u, kv heads %u, layers %u", f->path,
                         d_model, n_heads, n_kv, n_layers);
    // every layer binds its own 9 tensors (norms, q/k/v/o, gate/up/down) besides the embedding and final
    // norm: refuse a count the tensor table cannot hold before sizing anything by it
    if ((uint64_t)n_layers * 9 + 2 > f->n_tensors)
        return base_errf(err, "%s: llama.block_count %u exceeds what the file's %zu tensors hold (9 per layer)",
                         f->path, n_layers, (size_t)f->n_tensors);
    cfg->family = FAM_LLAMA;
    cfg->n_layers = (int)n_layers;
    cfg->d_model = cfg->d_embed = (int)d_model;
    cfg->n_heads = (int)n_heads;
    cfg->n_kv_heads = (int)n_kv;
    cfg->head_dim = (int)(d_model / n_heads);
    cfg->d_ff = (int)d_ff;
    cfg->max_ctx = (int)ctx;
    cfg->norm = NORM_RMS;
    cfg->norm_eps = eps;
    cfg->pre_ln = 1;
    cfg->final_norm = 1;
    cfg->pos = POS_ROPE;
    cfg->rope_theta = theta;
    cfg->rope_dims = rope_dims ? (int)rope_dims : cfg->head_dim;
    cfg->gated_mlp = 1;
    cfg->act = ACT_SILU;
    cfg->bos = gguf_get_u32(f, "tokenizer.ggml.bos_token_id", &bos) == 0 ? (int)bos : -1;
    if (cfg->rope_dims != cfg->head_dim || cfg->head_dim % 2)
        return base_errf(err, "%s: rope.dimension_count %d differs from the head size %d; partial rotary is not "
                              "supported for GGUF llama files",
                         f->path, cfg->rope_dims, cfg->head_dim);
    const GgufTensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb) return base_errf(err, "%s: GGUF file has no tensor 'token_embd.weight'", f->path);
    cfg->vocab = (int)emb->ne[1];
    return 0;
}

// ----------------------------------------------------------------------------
// binding tensors by name

static const TensorRef *find_raw(Model *m, const char *name) {
    if (m->st) return st_find(m->st, name);
    for (size_t i = 0; i < m->gguf->n_tensors; i++)
        if (strcmp(m->gguf->tensors[i].name, name) == 0) return &m->gguf_refs[i];
    return NULL;
}

// The names of a family's tensors: one table per family, read by bind_all. Each module name is bound as
// "<prefix><layer><module>.weight" and, where the configuration has biases of its kind, ".bias"; what a family
// lacks is NULL. Shapes come from the role, so a new family is a new table.
typedef struct {
    const char *const *prefixes;    // before every name, tried in order: the first under which an embedding exists
    const char *const *embeddings;  // names of the token embedding (V, E)
    const char *layer;              // before each layer's modules; "%d" the layer
    const char *ln1, *ln2;          // norms, biased when norm_bias (no ln2 in the shared-norm parallel residual)
    const char *q, *k, *v, *qkv;    // separate or fused projections, biased when attn_bias
    const char *o;
    const char *gate, *up, *down;   // gate: gated MLPs (never biased); up, down biased when mlp_bias
    const char *final_norm, *pos_embed, *proj_in, *proj_out;
} FamilyNames;

// a checkpoint's names start with the model class's prefix or with none
static const char *const PX_LLAMA[] = {"model.", "", NULL}, *const PX_TRANSFORMER[] = {"transformer.", "", NULL},
                         *const PX_NEOX[] = {"gpt_neox.", "", NULL},
                         *const PX_OPT[] = {"model.decoder.", "decoder.", "", NULL}, *const PX_NONE[] = {"", NULL};
static const char *const HF_EMBEDDINGS[] = {"embed_tokens.weight", "word_embeddings.weight", "wte.weight",
                                            "embed_in.weight", NULL},
                         *const GGUF_EMBEDDINGS[] = {"token_embd.weight", NULL};

static const FamilyNames LLAMA_NAMES = {
    .prefixes = PX_LLAMA, .embeddings = HF_EMBEDDINGS, .layer = "layers.%d.", .ln1 = "input_layernorm",
    .ln2 = "post_attention_layernorm", .q = "self_attn.q_proj", .k = "self_attn.k_proj", .v = "self_attn.v_proj",
    .o = "self_attn.o_proj", .gate = "mlp.gate_proj", .up = "mlp.up_proj", .down = "mlp.down_proj",
    .final_norm = "norm"};
static const FamilyNames FALCON_NAMES = {
    .prefixes = PX_TRANSFORMER, .embeddings = HF_EMBEDDINGS, .layer = "h.%d.", .ln1 = "input_layernorm",
    .ln2 = "post_attention_layernorm", .qkv = "self_attention.query_key_value", .o = "self_attention.dense",
    .up = "mlp.dense_h_to_4h", .down = "mlp.dense_4h_to_h", .final_norm = "ln_f"};
// Falcon's new decoder architecture: a norm per branch of the parallel residual
static const FamilyNames FALCON_TWO_NORMS_NAMES = {
    .prefixes = PX_TRANSFORMER, .embeddings = HF_EMBEDDINGS, .layer = "h.%d.", .ln1 = "ln_attn", .ln2 = "ln_mlp",
    .qkv = "self_attention.query_key_value", .o = "self_attention.dense", .up = "mlp.dense_h_to_4h",
    .down = "mlp.dense_4h_to_h", .final_norm = "ln_f"};
static const FamilyNames MPT_NAMES = {
    .prefixes = PX_TRANSFORMER, .embeddings = HF_EMBEDDINGS, .layer = "blocks.%d.", .ln1 = "norm_1", .ln2 = "norm_2",
    .qkv = "attn.Wqkv", .o = "attn.out_proj", .up = "ffn.up_proj", .down = "ffn.down_proj", .final_norm = "norm_f"};
static const FamilyNames NEOX_NAMES = {
    .prefixes = PX_NEOX, .embeddings = HF_EMBEDDINGS, .layer = "layers.%d.", .ln1 = "input_layernorm",
    .ln2 = "post_attention_layernorm", .qkv = "attention.query_key_value", .o = "attention.dense",
    .up = "mlp.dense_h_to_4h", .down = "mlp.dense_4h_to_h", .final_norm = "final_layer_norm"};
static const FamilyNames OPT_NAMES = {
    .prefixes = PX_OPT, .embeddings = HF_EMBEDDINGS, .layer = "layers.%d.", .ln1 = "self_attn_layer_norm",
    .ln2 = "final_layer_norm", .q = "self_attn.q_proj", .k = "self_attn.k_proj", .v = "self_attn.v_proj",
    .o = "self_attn.out_proj", .up = "fc1", .down = "fc2", .final_norm = "final_layer_norm",
    .pos_embed = "embed_positions", .proj_in = "project_in", .proj_out = "project_out"};
static const FamilyNames GPT2_NAMES = {  // Conv1D: matrices stored (in, out) (Binder.conv1d)
    .prefixes = PX_TRANSFORMER, .embeddings = HF_EMBEDDINGS, .layer = "h.%d.", .ln1 = "ln_1", .ln2 = "ln_2",
    .qkv = "attn.c_attn", .o = "attn.c_proj", .up = "mlp.c_fc", .down = "mlp.c_proj", .final_norm = "ln_f",
    .pos_embed = "wpe"};
// GGUF (llama architecture): llama.cpp's names
static const FamilyNames GGUF_NAMES = {
    .prefixes = PX_NONE, .embeddings = GGUF_EMBEDDINGS, .layer = "blk.%d.", .ln1 = "attn_norm", .ln2 = "ffn_norm",
    .q = "attn_q", .k = "attn_k", .v = "attn_v", .o = "attn_output", .gate = "ffn_gate", .up = "ffn_up",
    .down = "ffn_down", .final_norm = "output_norm"};

static const FamilyNames *family_names(const Model *m) {
    if (m->gguf) return &GGUF_NAMES;
    switch (m->cfg.family) {
    case FAM_LLAMA:
    case FAM_MISTRAL: return &LLAMA_NAMES;
    case FAM_FALCON: return m->cfg.residual == RES_PARALLEL_TWO ? &FALCON_TWO_NORMS_NAMES : &FALCON_NAMES;
    case FAM_MPT: return &MPT_NAMES;
    case FAM_GPT_NEOX: return &NEOX_NAMES;
    case FAM_OPT: return &OPT_NAMES;
    case FAM_GPT2: return &GPT2_NAMES;
    }
    return &LLAMA_NAMES;
}

typedef struct {
    Model *m;
    const char *prefix;  // the one that matched the embedding
    char *err;
    int failed;
    int conv1d;          // matrices stored (in, out): GPT-2's linear layers, not its embeddings
} Binder;

// the tensor `name` (after the checkpoint's prefix) with the given shape (d1 = 0: a vector of d0 values)
static const TensorRef *bind(Binder *b, const char *name, int64_t d0, int64_t d1) {
    if (b->failed) return NULL;
    char full[256];
    snprintf(full, sizeof full, "%s%s", b->prefix, name);
    const TensorRef *t = find_raw(b->m, full);
    const char *file = b->m->path;
    if (!t) {
        b->failed = 1;
        base_errf(b->err, "%s: tensor '%s' is missing", file, full);
        return NULL;
    }
    if (t->dtype == DT_UNSUPPORTED) {
        b->failed = 1;
        base_errf(b->err, "%s: tensor '%s' has a dtype brainsweep does not read (F32, F16, BF16 in safetensors)", file,
                  full);
        return NULL;
    }
    int64_t want0 = b->conv1d && d1 ? d1 : d0, want1 = b->conv1d && d1 ? d0 : d1;
    int ok = d1 ? (t->n_dims == 2 && t->shape[0] == want0 && t->shape[1] == want1) : (tensor_numel(t) == d0);
    if (!ok) {
        b->failed = 1;
        base_errf(b->err, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld] from the config", file, full,
                  (long long)t->shape[0], (long long)(t->n_dims > 1 ? t->shape[1] : 0), (long long)want0,
                  (long long)(d1 ? want1 : 0));
        return NULL;
    }
    if (d1 && dtype_row_bytes(t->dtype, t->shape[1]) == 0) {
        b->failed = 1;
        base_errf(b->err, "%s: tensor '%s': rows of %lld are not whole %s blocks", file, full, (long long)t->shape[1],
                  dtype_name(t->dtype));
        return NULL;
    }
    b->m->n_params += (size_t)tensor_numel(t);
    b->m->stored_bytes += d1 ? dtype_row_bytes(t->dtype, t->shape[1]) * (size_t)t->shape[0]
                             : dtype_row_bytes(t->dtype, t->shape[0]);
    return t;
}

// <layer><module>.weight, shape (d0, d1) or a vector of d0; with bias non-NULL also <layer><module>.bias (d0)
static const TensorRef *bind_module(Binder *b, const char *layer, const char *module, int64_t d0, int64_t d1,
                                    const TensorRef **bias) {
    char name[192];
    snprintf(name, sizeof name, "%s%s.weight", layer, module);
    const TensorRef *w = bind(b, name, d0, d1);
    if (bias) {
        snprintf(name, sizeof name, "%s%s.bias", layer, module);
        *bias = bind(b, name, d0, 0);
    }
    return w;
}

static void bind_layer(Binder *b, const FamilyNames *n, int l, LayerRefs *L) {
    const ModelConfig *c = &b->m->cfg;
    int64_t C = c->d_model, F = c->d_ff, QD = (int64_t)c->n_heads * c->head_dim,
            KD = (int64_t)c->n_kv_heads * c->head_dim;
    char layer[64];
    snprintf(layer, sizeof layer, n->layer, l);
    L->ln1_w = bind_module(b, layer, n->ln1, C, 0, c->norm_bias ? &L->ln1_b : NULL);
    if (c->residual != RES_PARALLEL_SHARED)
        L->ln2_w = bind_module(b, layer, n->ln2, C, 0, c->norm_bias ? &L->ln2_b : NULL);
    if (n->qkv) {
        L->qkv = bind_module(b, layer, n->qkv, QD + 2 * KD, C, c->attn_bias ? &L->qkv_b : NULL);
    } else {
        L->q = bind_module(b, layer, n->q, QD, C, c->attn_bias ? &L->q_b : NULL);
        L->k = bind_module(b, layer, n->k, KD, C, c->attn_bias ? &L->k_b : NULL);
        L->v = bind_module(b, layer, n->v, KD, C, c->attn_bias ? &L->v_b : NULL);
    }
    L->o = bind_module(b, layer, n->o, C, QD, c->attn_bias ? &L->o_b : NULL);
    if (n->gate) L->gate = bind_module(b, layer, n->gate, F, C, NULL);
    L->up = bind_module(b, layer, n->up, F, C, c->mlp_bias ? &L->up_b : NULL);
    L->down = bind_module(b, layer, n->down, C, F, c->mlp_bias ? &L->down_b : NULL);
}

static int bind_all(Model *m, char *err) {
    const ModelConfig *c = &m->cfg;
    const FamilyNames *n = family_names(m);
    int64_t C = c->d_model, E = c->d_embed;
    Binder b = {m, "", err, 0, 0};
    m->layers = base_calloc((size_t)c->n_layers, sizeof(LayerRefs), "layer tensors");
    m->conv1d = c->family == FAM_GPT2 && !m->gguf;
    m->rope_interleaved = m->gguf != NULL;  // GGUF llama: q/k rows permuted for ggml's RoPE

    // the checkpoint's prefix: the first under which the token embedding exists
    const char *embed_name = NULL;
    for (int i = 0; n->prefixes[i] && !embed_name; i++)
        for (int e = 0; n->embeddings[e] && !embed_name; e++) {
            char full[256];
            snprintf(full, sizeof full, "%s%s", n->prefixes[i], n->embeddings[e]);
            if (find_raw(m, full)) {
                b.prefix = n->prefixes[i];
                embed_name = n->embeddings[e];
            }
        }
    if (!embed_name) return base_errf(err, "%s: no token embedding found (tensor names of a %s checkpoint expected)",
                                      m->path, c->arch);
    m->embed = bind(&b, embed_name, c->vocab, E);
    if (n->pos_embed)  // learned positions, from row pos_offset
        m->pos_embed = bind_module(&b, "", n->pos_embed, (int64_t)c->max_ctx + c->pos_offset, C, NULL);
    if (c->final_norm) m->final_w = bind_module(&b, "", n->final_norm, C, 0, c->norm_bias ? &m->final_b : NULL);
    if (n->proj_in && E != C) {
        m->proj_in = bind_module(&b, "", n->proj_in, C, E, NULL);
        m->proj_out = bind_module(&b, "", n->proj_out, E, C, NULL);
    }
    b.conv1d = m->conv1d;
    for (int l = 0; l < c->n_layers && !b.failed; l++) bind_layer(&b, n, l, &m->layers[l]);
    // gate and up biases would be fused like their weights; bound above so a missing one is named first
    if (c->gated_mlp && c->mlp_bias) return base_errf(err, "%s: llama mlp_bias is not supported", m->path);
    return b.failed ? -1 : 0;
}

// ----------------------------------------------------------------------------
// widening

// dst (rows, cols) in float32 from a linear weight stored (rows, cols), or (cols, rows) for Conv1D
static void widen_matrix(Model *m, float *dst, const TensorRef *t, int64_t rows, int64_t cols) {
    if (!m->conv1d) {
        tensor_to_f32(dst, t);
        return;
    }
    tensor_to_f32(m->scratch, t);  // (cols, rows)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = m->scratch[c * rows + r];
}

// reorder the rows of a fused QKV block (weights: row_len = C; biases: row_len = 1) into [Q | K | V]
static void canonical_qkv_rows(Model *m, float *dst, const float *src, int64_t row_len) {
    const ModelConfig *c = &m->cfg;
    int64_t HS = c->head_dim, NH = c->n_heads, NKV = c->n_kv_heads, QD = NH * HS, KD = NKV * HS;
    size_t rb = (size_t)(HS * row_len) * sizeof(float);  // one head's rows
    if (m->cfg.qkv_layout == QKV_PER_HEAD) {  // (NH, 3, HS)
        for (int64_t h = 0; h < NH; h++)
            for (int j = 0; j < 3; j++)
                memcpy(dst + ((j == 0 ? 0 : j == 1 ? QD : QD + KD) + h * HS) * row_len,
                       src + (h * 3 + j) * HS * row_len, rb);
    } else if (m->cfg.qkv_layout == QKV_GROUPED) {  // (NKV, NH/NKV + 2, HS)
        int64_t qpk = NH / NKV;
        for (int64_t g = 0; g < NKV; g++) {
            const float *grp = src + g * (qpk + 2) * HS * row_len;
            for (int64_t i = 0; i < qpk; i++) memcpy(dst + (g * qpk + i) * HS * row_len, grp + i * HS * row_len, rb);
            memcpy(dst + (QD + g * HS) * row_len, grp + qpk * HS * row_len, rb);
            memcpy(dst + (QD + KD + g * HS) * row_len, grp + (qpk + 1) * HS * row_len, rb);
        }
    } else {
        memcpy(dst, src, (size_t)((QD + 2 * KD) * row_len) * sizeof(float));
    }
}

static void widen_layer(Model *m, int l, float *block, LayerF32 *L) {
    const ModelConfig *c = &m->cfg;
    const LayerRefs *R = &m->layers[l];
    int64_t C = c->d_model, F = c->d_ff, QD = (int64_t)c->n_heads * c->head_dim,
            KD = (int64_t)c->n_kv_heads * c->head_dim, QKV = QD + 2 * KD, UP = c->gated_mlp ? 2 * F : F;
    float *p = block;
#define CARVE(ptr, n) (ptr = p, p += (n))
    CARVE(L->ln1_w, C);
    CARVE(L->ln1_b, C);
    CARVE(L->ln2_w, C);
    CARVE(L->ln2_b, C);
    CARVE(L->wqkv, QKV * C);
    CARVE(L->bqkv, QKV);
    CARVE(L->wo, C * QD);
    CARVE(L->bo, C);
    CARVE(L->wup, UP * C);
    CARVE(L->bup, UP);
    CARVE(L->wdown, C * F);
    CARVE(L->bdown, C);
#undef CARVE
    ASSERT((size_t)(p - block) == m->layer_floats);

    // norms: a missing bias is zero; the shared-norm parallel residual has no second norm
#define VEC(dst, ref, n) do { if (ref) tensor_to_f32(dst, ref); else memset(dst, 0, (size_t)(n) * sizeof(float)); } while (0)
    VEC(L->ln1_w, R->ln1_w, C);
    VEC(L->ln1_b, R->ln1_b, C);
    VEC(L->ln2_w, R->ln2_w, C);
    VEC(L->ln2_b, R->ln2_b, C);
    if (!R->ln1_b) L->ln1_b = NULL;
    if (!R->ln2_b) L->ln2_b = NULL;

    if (m->cfg.qkv_layout == QKV_SEPARATE) {
        widen_matrix(m, L->wqkv, R->q, QD, C);
        widen_matrix(m, L->wqkv + QD * C, R->k, KD, C);
        widen_matrix(m, L->wqkv + (QD + KD) * C, R->v, KD, C);
        if (m->rope_interleaved) {
            model_unpermute_rope_rows(L->wqkv, c->n_heads, c->head_dim, (int)C);
            model_unpermute_rope_rows(L->wqkv + QD * C, c->n_kv_heads, c->head_dim, (int)C);
        }
        if (R->q_b) {
            tensor_to_f32(L->bqkv, R->q_b);
            tensor_to_f32(L->bqkv + QD, R->k_b);
            tensor_to_f32(L->bqkv + QD + KD, R->v_b);
        } else {
            L->bqkv = NULL;
        }
    } else {
        float *tmp = base_malloc((size_t)(QKV * C) * sizeof(float), "qkv reorder");
        widen_matrix(m, tmp, R->qkv, QKV, C);
        canonical_qkv_rows(m, L->wqkv, tmp, C);
        if (R->qkv_b) {
            tensor_to_f32(tmp, R->qkv_b);
            canonical_qkv_rows(m, L->bqkv, tmp, 1);
        } else {
            L->bqkv = NULL;
        }
        free(tmp);
    }
    widen_matrix(m, L->wo, R->o, C, QD);
    VEC(L->bo, R->o_b, C);
    if (!R->o_b) L->bo = NULL;
    if (c->gated_mlp) {
        widen_matrix(m, L->wup, R->gate, F, C);
        widen_matrix(m, L->wup + F * C, R->up, F, C);
        L->bup = NULL;
    } else {
        widen_matrix(m, L->wup, R->up, F, C);
        VEC(L->bup, R->up_b, F);
        if (!R->up_b) L->bup = NULL;
    }
    widen_matrix(m, L->wdown, R->down, C, F);
    VEC(L->bdown, R->down_b, C);
    if (!R->down_b) L->bdown = NULL;
#undef VEC
}

const LayerF32 *model_layer(Model *m, int l) {
    ASSERT(l >= 0 && l < m->cfg.n_layers);
    if (m->blocks[l]) return &m->widened[l];
    size_t bytes = m->layer_floats * sizeof(float);
    if (m->kept_bytes + bytes <= m->max_weight_bytes) {
        m->blocks[l] = base_malloc(bytes, "layer weights");
        m->kept_bytes += bytes;
        widen_layer(m, l, m->blocks[l], &m->widened[l]);
        return &m->widened[l];
    }
    if (m->transient_layer != l) {
        if (!m->transient) m->transient = base_malloc(bytes, "layer weights");
        widen_layer(m, l, m->transient, &m->widened[l]);
        m->transient_layer = l;
    }
    return &m->widened[l];
}

// ----------------------------------------------------------------------------
// embeddings

void model_embed_rows(const Model *m, float *out, const int32_t *ids, int T) {
    size_t E = (size_t)m->cfg.d_embed;
    for (int t = 0; t < T; t++) tensor_rows_to_f32(out + (size_t)t * E, m->embed, ids[t], 1);
}

// ----------------------------------------------------------------------------
// open and free

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

Model *model_open(const char *path, size_t memory_bytes, char *err) {
    Model *m = base_calloc(1, sizeof *m, "Model");
    m->path = base_strdup(path);
    m->transient_layer = -1;
    if (is_dir(path)) {
        if (config_from_json(path, &m->cfg, err)) goto fail;
        if (!(m->st = st_open_dir(path, err))) goto fail;
    } else {
        if (!(m->gguf = gguf_open(path, err))) goto fail;
        if (config_from_gguf(m->gguf, &m->cfg, err)) goto fail;
        m->gguf_refs = base_calloc(m->gguf->n_tensors, sizeof(TensorRef), "gguf tensors");
        for (size_t i = 0; i < m->gguf->n_tensors; i++) {
            char terr[BASE_ERR_LEN];
            if (gguf_tensor_ref(m->gguf, &m->gguf->tensors[i], &m->gguf_refs[i], terr) != 0)
                m->gguf_refs[i].dtype = DT_UNSUPPORTED;  // refused by name if the model needs it
            m->gguf_refs[i].name = m->gguf->tensors[i].name;
        }
    }
    if (bind_all(m, err)) goto fail;
    m->max_weight_bytes = memory_bytes > m->stored_bytes ? memory_bytes - m->stored_bytes : 0;

    const ModelConfig *c = &m->cfg;
    size_t C = (size_t)c->d_model, E = (size_t)c->d_embed, F = (size_t)c->d_ff;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim, UP = c->gated_mlp ? 2 * F : F;
    m->layer_floats = 4 * C + (QD + 2 * KD) * (C + 1) + C * QD + C + UP * (C + 1) + C * F + C;
    m->widened = base_calloc((size_t)c->n_layers, sizeof(LayerF32), "layers");
    m->blocks = base_calloc((size_t)c->n_layers, sizeof(float *), "layers");
    size_t largest = (QD + 2 * KD) * C;  // the biggest matrix a Conv1D transpose passes through
    if (UP * C > largest) largest = UP * C;
    if (C * F > largest) largest = C * F;
    m->scratch = m->conv1d ? base_malloc(largest * sizeof(float), "widening scratch") : NULL;

    size_t small = 2 * C + (m->proj_in ? 2 * C * E : 0);
    m->small = base_calloc(small ? small : 1, sizeof(float), "final weights");
    float *p = m->small;
    ModelGlobals *g = &m->globals;
    if (m->final_w) {
        g->final_w = p;
        tensor_to_f32(p, m->final_w);
    }
    p += C;
    if (m->final_b) {
        g->final_b = p;
        tensor_to_f32(p, m->final_b);
    }
    p += C;
    if (m->proj_in) {
        g->proj_in = p;
        widen_matrix(m, p, m->proj_in, (int64_t)C, (int64_t)E);
        p += C * E;
        g->proj_out = p;
        widen_matrix(m, p, m->proj_out, (int64_t)E, (int64_t)C);
    }
    if (m->pos_embed) {
        g->pos_table = base_malloc((size_t)tensor_numel(m->pos_embed) * sizeof(float), "position embeddings");
        tensor_to_f32(g->pos_table, m->pos_embed);
        g->pos_rows = (size_t)tensor_numel(m->pos_embed) / (size_t)C;
    }
    return m;
fail:
    model_free(m);
    return NULL;
}

void model_free(Model *m) {
    if (!m) return;
    for (int l = 0; m->blocks && l < m->cfg.n_layers; l++) free(m->blocks[l]);
    free(m->blocks);
    free(m->widened);
    free(m->transient);
    free(m->scratch);
    free(m->small);
    free(m->globals.pos_table);
    free(m->layers);
    free(m->gguf_refs);
    gguf_close(m->gguf);
    st_close(m->st);
    free(m->path);
    free(m);
}
