#include "mpi/sweep_state.h"

#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/log.h"
#include "mpi/comm.h"
#include "mpi/results.h"
#include "mpi/sweep_targets.h"

const char *const SWEEP_SHARE_NAMES[N_SHARES] = {"extract",         "gather features", "save features",
                                                 "load features",   "prepare targets", "fit",
                                                 "save layers",     "write results",   "wait"};
const char *const SWEEP_STAGE_NAMES[N_STAGES] = {"inputs", "extract", "fit", "write"};

int sweep_all_ok(int failed, const char *err) {
    int first = comm_min_int(MPI_COMM_WORLD, failed ? comm_rank() : comm_size());
    if (first == comm_size()) return 1;
    if (first == comm_rank()) {
        fflush(stdout);
        base_prefix(stderr);
        fprintf(stderr, "ERROR %s\n", err);
        fflush(stderr);
    }
    return 0;
}

int sweep_word_level(const SweepConfig *c) {
    return c->rec_format == REC_WORD_TEXT || (c->rec_format == REC_IEEG && !c->ieeg.continuous);
}

size_t sweep_layers(const Sweep *s, size_t m) { return (size_t)s->model[m].cfg.n_layers + 1; }

int8_t *sweep_status(Sweep *s, size_t m, size_t c, size_t h, size_t g) {
    return &s->status[((m * s->C + c) * s->H + h) * s->G + g];
}

int8_t sweep_layer_status(Sweep *s, size_t m, size_t c, size_t h) {
    int8_t out = UNIT_DONE;
    for (size_t g = 0; g < s->G; g++) {
        int8_t st = *sweep_status(s, m, c, h, g);
        if (st == UNIT_FAILED) return UNIT_FAILED;
        if (st != UNIT_DONE) out = UNIT_ABSENT;
    }
    return out;
}

int sweep_layer_todo(Sweep *s, size_t m, size_t c, size_t h, size_t g) {
    return h < sweep_layers(s, m) && *sweep_status(s, m, c, h, g) != UNIT_DONE;
}

int sweep_selected(const Sweep *s, size_t m, size_t c) {
    return (s->only_m < 0 || (size_t)s->only_m == m) && (s->only_c < 0 || (size_t)s->only_c == c);
}

int sweep_group_selected(const Sweep *s, size_t g) { return s->only_g < 0 || (size_t)s->only_g == g; }

void sweep_scan_store(Sweep *s, double *sums, char **errors) {
    size_t n = s->M * s->C * s->H * s->G;
    if (comm_rank() == 0) {
        if (sums) memset(sums, 0, FIT_N_COUNTERS * sizeof(double));
        LayerRecord rec;
        memset(&rec, 0, sizeof rec);
        for (size_t m = 0; m < s->M; m++)
            for (size_t ci = 0; ci < s->C; ci++)
                for (size_t h = 0; h < s->H; h++) {
                    char *error = NULL;
                    for (size_t g = 0; g < s->G; g++) {
                        int8_t *st = sweep_status(s, m, ci, h, g);
                        *st = UNIT_ABSENT;
                        if (h >= sweep_layers(s, m)) continue;
                        int got = store_load_layer(&s->store, m, ci, h, g, &rec);
                        *st = got == 1 ? UNIT_DONE : got == 2 ? UNIT_FAILED : UNIT_ABSENT;
                        if (got == 1 && sums)
                            for (int k = 0; k < FIT_N_COUNTERS; k++) sums[k] += rec.counters[k];
                        if (errors && got == 2 && !error) error = base_strdup(rec.error);
                    }
                    if (errors) errors[(m * s->C + ci) * s->H + h] = error ? error : base_strdup("");
                }
    }
    comm_bcast_bytes(MPI_COMM_WORLD, s->status, n, 0);
}

void sweep_feature_key(const Sweep *s, size_t m, size_t ci, FeatKey *k) {
    const SweepConfig *c = &s->cfg;
    memset(k, 0, sizeof *k);
    snprintf(k->model, sizeof k->model, "%s", c->models[m].path);
    k->model_id = s->model_id[m];
    k->tokens_id = s->tokens_id[m];
    k->stimulus_id = featcache_hash(s->stim.text, s->stim.text_len, 0);
    k->stimulus_id = featcache_hash(s->stim.onset, s->W * sizeof(double), k->stimulus_id);
    k->stimulus_id = featcache_hash(s->stim.offset, s->W * sizeof(double), k->stimulus_id);
    const ContextPolicy *p = &s->model[m].policy[ci];
    snprintf(k->policy, sizeof k->policy, "%s %s window %d overlap %d", c->contexts.items[ci],
             p->repr == WORD_MEAN ? "mean" : "last", p->kind == CTX_FULL ? p->window : 0,
             p->kind == CTX_FULL ? p->overlap : 0);
    k->float16 = c->cache_float16;
    k->n_layers = s->model[m].cfg.n_layers;
    k->n_words = s->W;
    for (int l = 0; l <= k->n_layers; l++) k->dims[l] = l < k->n_layers ? s->model[m].cfg.d_model : s->model[m].final_dim;
}

void sweep_feature_path(const Sweep *s, size_t m, const FeatKey *key, char *out, size_t n) {
    char dir[STORE_PATH];
    if (s->cfg.cache_dir[0]) snprintf(dir, sizeof dir, "%s", s->cfg.cache_dir);
    else store_features_dir(&s->store, dir, sizeof dir);
    featcache_path(out, n, dir, s->cfg.models[m].name, key);
}

int sweep_features_ready(const Sweep *s, size_t m, size_t ci, int verbose) {
    FeatKey key;
    char path[STORE_PATH + 300], why[BASE_ERR_LEN];
    sweep_feature_key(s, m, ci, &key);
    sweep_feature_path(s, m, &key, path, sizeof path);
    int ready = featcache_load(path, &key, 0, 0, NULL, NULL, why);
    const char *name = s->cfg.models[m].name, *ctx = s->cfg.contexts.items[ci];
    if (verbose && ready) log_rank("%s, context %s: features from %s", name, ctx, path);
    if (verbose && !ready && strstr(why, "stale")) log_rank("%s, context %s: %s; recomputing", name, ctx, why);
    return ready;
}

FILE *sweep_progress_tsv(const Sweep *s) {
    if (comm_rank() != 0) return NULL;
    char p[STORE_PATH + 32];
    snprintf(p, sizeof p, "%s/progress.tsv", s->store.dir);
    return fopen(p, "a");
}

void sweep_free(Sweep *s) {
    for (size_t m = 0; s->model && m < s->M; m++) planning_model_free(&s->model[m]);
    free(s->model);
    free(s->tokens_id);
    free(s->model_id);
    free(s->extracted);
    free(s->status);
    for (size_t i = 0; s->rec && i < s->S; i++) rec_free(&s->rec[i]);
    free(s->rec);
    for (size_t k = 0; s->target && k < s->R; k++) free((char *)s->target[k]);
    free(s->target);
    ieeg_free(&s->ieeg);
    fmri_voxels_free(&s->voxels);
    free(s->run_volumes);
    sweep_targets_release(s);
    free(s->subject_hash);
    free(s->fmri_runs);
    free(s->fmri_run0);
    cv_free(&s->cv);
    free(s->extra);
    free(s->word_time);
    stim_free(&s->stim);
    config_free(&s->cfg);
}
