#include "host/planning.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// ----------------------------------------------------------------------------
// a model before anything runs

int planning_model(const SweepConfig *c, size_t m, const Stimulus *st, PlannedModel *pm, char *err) {
    memset(pm, 0, sizeof *pm);
    const char *path = c->models[m].path;
    Model *model = model_open(path, 0, err);  // headers and mappings only: nothing is widened
    if (!model) return -1;
    pm->cfg = *model_config(model);
    pm->final_dim = model_final_dim(model);
    pm->stored_bytes = (double)model_stored_bytes(model);
    pm->weight_dtype = model_weight_dtype(model);
    pm->offset = base_malloc(((size_t)pm->cfg.n_layers + 1) * sizeof(size_t), "layer offsets");
    pm->states_floats = extract_layer_offsets(model, st->n_words, pm->offset);
    pm->tok = tok_open_for_model(model, err);
    model_free(model);
    if (!pm->tok) return -1;
    if (tok_vocab_size(pm->tok) > pm->cfg.vocab)
        return base_errf(err, "%s: the tokenizer has %d tokens but the embedding only %d rows", path,
                         tok_vocab_size(pm->tok), pm->cfg.vocab);
    double t0 = base_wall();
    if (tok_encode(pm->tok, st->text, st->text_len, &pm->story, err)) return -1;
    pm->bos = tok_bos_id(pm->tok) >= 0;
    pm->n_tokens = pm->story.n - (size_t)pm->bos;
    size_t W = st->n_words;
    pm->first = base_malloc((W + 1) * sizeof(int64_t), "word tokens");
    pm->last = base_malloc((W + 1) * sizeof(int64_t), "word tokens");
    // a word without tokens is its extraction units' failure (the store records it), not an input error
    if (extract_word_spans(&pm->story, pm->bos, st, pm->first, pm->last, pm->empty_word) == 0) pm->empty_word[0] = '\0';
    pm->tokenize_seconds = base_wall() - t0;
    if (!tok_long_words(&pm->story, st->text, st->start, st->end, st->n_words, c->max_word_tokens, pm->long_word))
        pm->long_word[0] = '\0';
    double params = planning_matrix_params(&pm->cfg);
    for (size_t ci = 0; ci < c->contexts.n; ci++) {
        char why[BASE_ERR_LEN];
        if (extract_resolve_policy(&pm->cfg, pm->bos, &c->context[ci], &pm->policy[ci], why))
            return base_errf(err, "%s: %s, context %s: %s", c->source, c->models[m].name, c->contexts.items[ci], why);
        pm->tokens_run[ci] = planning_tokens_run(&pm->policy[ci], pm->n_tokens, st->n_words, pm->bos);
        pm->extract_flops[ci] = 2.0 * params * pm->tokens_run[ci];
    }
    return 0;
}

void planning_model_free(PlannedModel *pm) {
    tokseq_free(&pm->story);
    tok_free(pm->tok);
    free(pm->offset), free(pm->first), free(pm->last);
    pm->tok = NULL, pm->offset = NULL, pm->first = pm->last = NULL;
}

// ----------------------------------------------------------------------------
// costs

double planning_matrix_params(const ModelConfig *c) {
    double d = c->d_model, qd = (double)c->n_heads * c->head_dim, kd = (double)c->n_kv_heads * c->head_dim;
    double mlp = (c->gated_mlp ? 3.0 : 2.0) * d * c->d_ff;
    return (double)c->n_layers * ((qd + 2 * kd) * d + d * qd + mlp);
}

double planning_tokens_run(const ContextPolicy *p, size_t n_tokens, size_t W, int bos) {
    if (p->kind == CTX_FULL) {
        size_t body = (size_t)p->window - (size_t)bos, overlap = (size_t)p->overlap;
        size_t n = extract_plan_chunks(n_tokens, body, overlap, NULL);
        Chunk *ch = base_malloc((n ? n : 1) * sizeof(Chunk), "chunks");
        extract_plan_chunks(n_tokens, body, overlap, ch);
        double run = 0;
        for (size_t i = 0; i < n; i++) run += (double)(ch[i].end - ch[i].start) + bos;
        free(ch);
        return run;
    }
    double per_word = (double)n_tokens / (double)(W ? W : 1);
    double each = p->kind == CTX_TOKENS ? fmin((double)p->n, (double)n_tokens) : fmin(p->n * per_word, p->window);
    return (double)W * (each + bos);
}

int planning_stages(int configured, double stored_bytes, double budget_bytes, int n_layers) {
    double want = configured > 0 ? configured : budget_bytes > 0 ? ceil(stored_bytes / budget_bytes) : 1;
    if (want > n_layers) want = n_layers;
    return want < 1 ? 1 : (int)want;
}

double planning_fit_cost(double V, double d, double width, double T, int pca) {
    return (pca ? V * d * d : 0) + V * width * (width + T);
}

// ----------------------------------------------------------------------------
// hand-out order

typedef struct {
    double cost;
    size_t index;
} Ranked;

static int by_cost(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

size_t *planning_order(const double *cost, size_t n, double *sorted_cost) {
    Ranked *r = base_malloc((n ? n : 1) * sizeof(Ranked), "units");
    for (size_t i = 0; i < n; i++) r[i] = (Ranked){cost[i], i};
    qsort(r, n, sizeof(Ranked), by_cost);
    size_t *order = base_malloc((n ? n : 1) * sizeof(size_t), "units");
    for (size_t i = 0; i < n; i++) order[i] = r[i].index, sorted_cost[i] = r[i].cost;
    free(r);
    return order;
}

// ----------------------------------------------------------------------------
// outputs

int planning_writable(const char *what, const char *path, int is_dir, char *err) {
    char dir[CFG_STR];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!is_dir && !slash) snprintf(dir, sizeof dir, ".");
    else if (!is_dir) *slash = '\0';
    struct stat st;
    while (dir[0] && stat(dir, &st) != 0) {  // climb to the nearest existing ancestor
        slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, sizeof dir, ".");
    }
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return base_errf(err, "%s %s: '%s' is not a folder", what, path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return base_errf(err, "%s %s: cannot write into '%s': %s", what, path, dir, strerror(errno));
    return 0;
}

FmriQuery planning_fmri_query(const SweepConfig *c) {
    return (FmriQuery){.root = c->fmri_bids,
                       .space = c->fmri_space,
                       .task = c->fmri_task,
                       .runs = (const char *const *)c->fmri_runs.items,
                       .n_runs = c->fmri_runs.n,
                       .subjects = (const char *const *)c->fmri_subjects.items,
                       .n_subjects = c->fmri_subjects.n,
                       .confounds = (const char *const *)c->fmri_confounds.items,
                       .n_confounds = c->fmri_confounds.n};
}

size_t planning_group_size(size_t V, size_t S, size_t R, double gib) {
    double per_subject = (double)V * (double)R * sizeof(float);
    if (gib <= 0 || per_subject <= 0) return S ? S : 1;
    double fit = floor(gib * 1073741824.0 / per_subject);
    return fit < 1 ? 1 : fit >= (double)S ? (S ? S : 1) : (size_t)fit;
}
