#include "mpi/sweep_fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/log.h"
#include "host/planning.h"
#include "host/record.h"
#include "host/threads.h"
#include "mpi/comm.h"
#include "mpi/dispatch.h"
#include "mpi/results.h"
#include "mpi/sweep_targets.h"

// estimated cost of fitting one layer of model m for T targets: its PCA and the ridge over them
static double fit_cost(const Sweep *s, size_t m, size_t T) {
    size_t d = (size_t)s->model[m].cfg.d_model;
    return planning_fit_cost((double)s->V, (double)d, (double)encoding_width(&s->spec, d), (double)T,
                             encoding_components(&s->spec, d) != 0);
}

typedef struct {
    size_t m, c, g, n;
    size_t h[64];  // the block's layers (run.layer_block is capped to fit)
} FitUnit;

// loads the block's layers, fits them on the rank's threads, saves each layer's record; returns the
// DISPATCH_* outcome. A stop request leaves the layers not yet fitted out of the store.
static int fit_unit(Sweep *s, const FitUnit *u) {
    size_t per = store_record_floats(&s->store, u->g), m = u->m;
    const char *name = s->cfg.models[m].name, *ctx = s->cfg.contexts.items[u->c];
    double t = base_wall();
    FeatKey key;
    char path[STORE_PATH + 300], why[BASE_ERR_LEN];
    sweep_feature_key(s, m, u->c, &key);
    sweep_feature_path(s, m, &key, path, sizeof path);
    // subject groups share each layer's designs (its PCA) through the store: a layer whose design another group
    // saved needs no features
    int share = s->G > 1;
    EncodingDesign *design = base_calloc(u->n, sizeof(EncodingDesign), "designs");
    int *reused = base_calloc(u->n, sizeof(int), "designs");
    size_t *shared_splits = base_calloc(u->n, sizeof(size_t), "designs");
    size_t *off = base_malloc(u->n * sizeof(size_t), "layers"), total = 0;
    for (size_t j = 0; j < u->n; j++) {
        reused[j] = share && store_load_design(&s->store, m, u->c, u->h[j], &design[j]);
        if (reused[j]) design[j].splits = store_load_splits(&s->store, m, u->c, u->h[j]);
        off[j] = total;
        if (!reused[j]) total += s->W * (size_t)key.dims[u->h[j]];
    }
    float *x = base_malloc((total ? total : 1) * sizeof(float), "layer features");
    int loaded = 1;
    for (size_t j = 0; j < u->n && loaded; j++)
        if (!reused[j]) loaded = featcache_load(path, &key, (int)u->h[j], 1, x + off[j], (size_t[]){0}, why);
    s->share[SHARE_LOAD_FEATURES] += base_wall() - t;
    t = base_wall();
    char group_why[BASE_ERR_LEN];  // the group's targets, unless this rank holds them already
    int prepared = sweep_targets_prepare(s, u->g, 0, group_why) == 0;
    s->share[SHARE_PREPARE_TARGETS] += base_wall() - t;
    EncodingSpec spec = s->spec;
    spec.targets = prepared ? &s->prepared.targets : NULL;
    size_t T = prepared ? spec.targets->T : 0;
    t = base_wall();
    LayerRecord *rec = base_calloc(u->n, sizeof(LayerRecord), "layer records");
    int *stopped = base_calloc(u->n, sizeof(int), "layer records");
    float *values = base_malloc(base_mul(u->n, per) * sizeof(float), "layer records");
#pragma omp parallel for schedule(dynamic) if (u->n > 1)
    for (size_t j = 0; j < u->n; j++) {
        LayerRecord *r = &rec[j];
        r->values = values + j * per;
        if ((!loaded && !reused[j]) || !prepared) {
            r->failed = 1;
            if (!loaded && !reused[j]) snprintf(r->error, sizeof r->error, "cannot read the layer's features: %s", why);
            else snprintf(r->error, sizeof r->error, "cannot prepare the targets of subject group %zu: %s", u->g, group_why);
            continue;
        }
        if (base_stop_signal) {
            stopped[j] = 1;
            continue;
        }
        double t0 = base_wall();
        float *v = r->values;
        size_t P = s->store.P;
        EncodingOut o = {.r = v + REC_R * T,
                         .r2 = v + REC_R2 * T,
                         .alpha = v + REC_ALPHA * T,
                         .p = v + REC_P * T,
                         .q = v + REC_Q * T,
                         .weights = P ? v + REC_BETA * T : NULL,
                         .intercept = P ? v + REC_INTERCEPT * T : NULL,
                         .weights_rows = P};
        if (!P)
            for (size_t i = 0; i < T; i++) v[REC_INTERCEPT * T + i] = NAN;
        EncodingStats st;
        memset(&st, 0, sizeof st);
        char e[BASE_ERR_LEN];
        size_t C = (size_t)key.dims[u->h[j]];
        int rc = reused[j] ? 0 : encoding_design(&spec, x + off[j], C, &design[j], e);
        char kept[BASE_ERR_LEN];
        if (rc == 0 && share && !reused[j] && store_save_design(&s->store, m, u->c, u->h[j], &design[j], kept))
            log_warn("%s, context %s, layer %zu: its design is not kept for the other subject groups, which will "
                     "compute it again: %s",
                     name, ctx, u->h[j], kept);
        // and its split designs: the first group to fit the layer records them (host memory, up to the fit's budget)
        // and saves them after its fit; the later groups take them instead of decomposing every split again
        int record = rc == 0 && share && !design[j].splits;
        if (record) design[j].splits = ridge_designs_create(spec.memory_bytes ? spec.memory_bytes : (size_t)1 << 30);
        if (rc == 0) rc = encoding_fit_design(&spec, &design[j], &o, &st, e);
        if (rc == 0 && record && ridge_designs_count(design[j].splits) &&
            store_save_splits(&s->store, m, u->c, u->h[j], design[j].splits, kept))
            log_warn("%s, context %s, layer %zu: its split designs are not kept for the other subject groups, which "
                     "will decompose them again: %s",
                     name, ctx, u->h[j], kept);
        encoding_design_free(&design[j]);
        if (rc == 1) {
            stopped[j] = 1;
            continue;
        }
        if (rc != 0) {
            r->failed = 1;
            snprintf(r->error, sizeof r->error, "%.*s", STORE_ERROR - 1, e);
            continue;
        }
        const RidgeStats *q = &st.ridge;
        r->counters[FIT_EDGE_LOW] = (double)q->n_edge_low;
        r->counters[FIT_EDGE_HIGH] = (double)q->n_edge_high;
        r->counters[FIT_CHOICES] = (double)q->n_choices;
        r->counters[FIT_DUAL] = (double)q->n_dual;
        r->counters[FIT_SPLITS] = (double)q->n_splits;
        r->counters[FIT_GFLOP] = q->flops * 1e-9;
        r->counters[FIT_SECONDS] = base_wall() - t0;
        shared_splits[j] = q->n_shared;
    }
    s->share[SHARE_FIT] += base_wall() - t;

    t = base_wall();
    int failed = 0, any_stopped = 0;
    for (size_t j = 0; j < u->n; j++) {
        any_stopped |= stopped[j];
        if (stopped[j]) continue;
        store_save_layer(&s->store, m, u->c, u->h[j], u->g, &rec[j]);
        char group[48] = "";
        if (s->G > 1) snprintf(group, sizeof group, ", subject group %zu", u->g);
        if (rec[j].failed) {
            failed = 1;
            log_warn("%s, context %s, layer %zu%s: fit failed: %s", name, ctx, u->h[j], group, rec[j].error);
        } else {
            char from[96] = "";
            if (reused[j])
                snprintf(from, sizeof from, ", its design%s read from the store",
                         shared_splits[j] ? " and split designs" : "");
            log_rank_file("%s, context %s, layer %zu%s: fitted in %.2f s (%.1f GFLOP)%s", name, ctx, u->h[j], group,
                          rec[j].counters[FIT_SECONDS], rec[j].counters[FIT_GFLOP], from);
        }
    }
    s->share[SHARE_SAVE_LAYERS] += base_wall() - t;
    for (size_t j = 0; j < u->n; j++) encoding_design_free(&design[j]);  // the layers not fitted (a stop, a failure)
    free(values), free(stopped), free(rec), free(x), free(off), free(design), free(reused);
    free(shared_splits);
    return any_stopped ? DISPATCH_STOPPED : failed ? DISPATCH_FAILED : DISPATCH_OK;
}

// every group has fitted the selected layers: their designs have served
static void remove_designs(const Sweep *s) {
    for (size_t m = 0; m < s->M; m++)
        for (size_t c = 0; c < s->C; c++)
            for (size_t h = 0; sweep_selected(s, m, c) && h < sweep_layers(s, m); h++)
                store_remove_design(&s->store, m, c, h);
}

int sweep_fit_run(Sweep *s) {
    size_t B = s->cfg.layer_block ? s->cfg.layer_block : (size_t)threads_count();
    if (B > 64) B = 64;
    if (B < 1) B = 1;
    size_t cap = 0;
    for (size_t m = 0; m < s->M; m++) cap += s->G * (s->C * (sweep_layers(s, m) + B - 1) / B + s->C);
    FitUnit *units = base_malloc((cap ? cap : 1) * sizeof(FitUnit), "units");
    double *cost = base_malloc((cap ? cap : 1) * sizeof(double), "units");
    int *ready = base_calloc(s->M * s->C, sizeof(int), "units");
    if (comm_rank() == 0)
        for (size_t mc = 0; mc < s->M * s->C; mc++) ready[mc] = sweep_features_ready(s, mc / s->C, mc % s->C, 0);
    comm_bcast_bytes(MPI_COMM_WORLD, ready, s->M * s->C * sizeof(int), 0);
    size_t n = 0, todo = 0, all = 0, done = 0;
    // group-major: the dispatcher keeps a rank on the group whose targets it holds (its affinity) and spreads the
    // ranks over the groups
    for (size_t g = 0; g < s->G; g++) {
        size_t first, ns;
        sweep_group_subjects(s, g, &first, &ns);
        for (size_t m = 0; m < s->M; m++)
            for (size_t ci = 0; ci < s->C; ci++) {
                all += sweep_layers(s, m);
                for (size_t h = 0; h < sweep_layers(s, m); h++) done += !sweep_layer_todo(s, m, ci, h, g);
                // failed extraction: the store says why
                if (!ready[m * s->C + ci] || !sweep_selected(s, m, ci) || !sweep_group_selected(s, g)) continue;
                FitUnit *u = NULL;
                for (size_t h = 0; h < sweep_layers(s, m); h++) {
                    if (!sweep_layer_todo(s, m, ci, h, g)) continue;
                    if (!u || u->n == B) {
                        u = &units[n];
                        *u = (FitUnit){.m = m, .c = ci, .g = g};
                        cost[n++] = 0;
                    }
                    u->h[u->n++] = h;
                    cost[n - 1] += fit_cost(s, m, ns * s->R);
                    todo++;
                }
            }
    }
    free(ready);
    if (done) log0("fit: %zu of %zu layer fits already in %s", done, all, s->store.dir);
    int stopped = 0;
    if (n) {
        log0("fit: %zu layer fit(s) in %zu unit(s) of up to %zu layers%s, handed out to %d rank(s)", todo, n, B,
             s->G > 1 ? " and one subject group" : "", comm_size());
        // costliest first within each group, the groups in order
        double *sorted = base_malloc(n * sizeof(double), "units");
        size_t *order = base_malloc(n * sizeof(size_t), "units");
        for (size_t i0 = 0, i1; i0 < n; i0 = i1) {
            for (i1 = i0; i1 < n && units[i1].g == units[i0].g;) i1++;
            size_t *part = planning_order(cost + i0, i1 - i0, sorted + i0);
            for (size_t i = i0; i < i1; i++) order[i] = i0 + part[i - i0];
            free(part);
        }
        FILE *tsv = sweep_progress_tsv(s);
        long *group = base_malloc(n * sizeof(long), "units");  // affinity: a rank stays on the group it holds
        for (size_t i = 0; i < n; i++) group[i] = (long)units[order[i]].g;
        DispatchPlan plan = {.stage = "fit",
                             .cost = sorted,
                             .n = n,
                             .progress_seconds = s->cfg.progress_seconds,
                             .progress_tsv = tsv,
                             .affinity = s->G > 1 ? group : NULL};
        Dispatch *d = dispatch_begin(MPI_COMM_WORLD, &plan, 1, &base_stop_signal);
        int prev = DISPATCH_OK;
        long u;
        for (;;) {
            dispatch_prefer(d, s->prepared.g);
            if ((u = dispatch_next(d, prev, base_stop_signal != 0)) < 0) break;
            prev = fit_unit(s, &units[order[u]]);
        }
        double t = base_wall();
        DispatchTotals tot = dispatch_end(d);
        s->share[SHARE_WAIT] += base_wall() - t;
        stopped = tot.stopped;
        // kept after a stop, a failure or a share by subject, for the rerun or the other subjects' jobs
        if (s->G > 1 && s->only_g < 0 && comm_rank() == 0 && !tot.stopped && !tot.failed) remove_designs(s);
        if (tsv) fclose(tsv);
        free(group), free(order), free(sorted);
    }
    free(units), free(cost);
    return stopped;
}
