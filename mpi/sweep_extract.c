#include "mpi/sweep_extract.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/base.h"
#include "host/decoder_cpu.h"
#include "host/extract.h"
#include "host/log.h"
#include "mpi/comm.h"
#include "mpi/dispatch.h"
#include "mpi/link.h"
#include "host/planning.h"
#include "mpi/results.h"

static size_t weight_budget_bytes = 0;

void sweep_extract_budget(double gib) {
    if (gib > 0) {
        weight_budget_bytes = (size_t)(gib * 1073741824.0);
        return;
    }
    double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    weight_budget_bytes = (size_t)(ram / 2 / comm_node_ranks());
}

// model m's stages: run.pipeline_stages, or as many as let a rank's share of the checkpoint fit its budget
static int stages_wanted(const Sweep *s, size_t m) {
    return planning_stages(s->cfg.pipeline_stages, s->model[m].stored_bytes, (double)weight_budget_bytes,
                           s->model[m].cfg.n_layers);
}

// A group of gn ranks extracting a model of S stages: P = gn / S parts of the sequences, rank gr running stage
// gr / P of part gr % P; ranks past S * P have nothing to do for this unit.
typedef struct {
    int stages, parts;
} GroupLayout;

static int layout_stage(const GroupLayout *g, int gr) { return gr < g->stages * g->parts ? gr / g->parts : -1; }

static void save_failed_layers(Sweep *s, size_t m, size_t ci, const char *why) {
    LayerRecord rec;
    memset(&rec, 0, sizeof rec);
    rec.failed = 1;
    snprintf(rec.error, sizeof rec.error, "%.*s", STORE_ERROR - 1, why);
    for (size_t h = 0; h < sweep_layers(s, m); h++)
        for (size_t g = 0; g < s->G; g++)
            if (sweep_layer_todo(s, m, ci, h, g)) store_save_layer(&s->store, m, ci, h, g, &rec);
}

static int finite_rows(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

// every rank of group computes its share of the sequences; the leader gathers the words and saves
// the features file. Returns its DISPATCH_* outcome (a failure is recorded in the store by the leader).
static int extract_unit(Sweep *s, size_t m, size_t ci, MPI_Comm group) {
    int gr = comm_rank_in(group), gn = comm_size_in(group);
    const char *name = s->cfg.models[m].name, *ctx = s->cfg.contexts.items[ci];
    double t = base_wall();
    float *states = base_calloc(s->model[m].states_floats, sizeof(float), "hidden states");
    char err[BASE_ERR_LEN] = "";
    ExtractStats x;
    memset(&x, 0, sizeof x);
    const PlannedModel *pm = &s->model[m];
    int wanted = stages_wanted(s, m);
    GroupLayout g = {.stages = wanted < gn ? wanted : gn};
    g.parts = gn / g.stages;
    int stage = layout_stage(&g, gr);
    if (gr == 0 && wanted > gn)
        log_warn("%s: its checkpoint (%.1f GiB) wants %d stages to fit run.max_weight_gib on each rank, but the "
                 "group has %d rank(s): each stage holds more than its budget (run more ranks, or raise "
                 "run.max_weight_gib)",
                 name, pm->stored_bytes / 1073741824.0, wanted, gn);
    Model *model = NULL;
    // a stage pages in only its layers' share of the mapped checkpoint: the rest of the budget may keep widened layers
    size_t unmapped = (size_t)(pm->stored_bytes * (1.0 - 1.0 / g.stages));
    if (stage >= 0 && !pm->empty_word[0])
        model = model_open(s->cfg.models[m].path, weight_budget_bytes + unmapped, err);
    int failed = stage >= 0 && model == NULL, stopped = 0;
    // run.gpu_weights against the checkpoint's stored type: a GPU rank's 16-bit table where it applies
    const DecoderOps *decoder =
        model ? backend_decoder(s->backend, s->cfg.gpu_weights, model_weight_dtype(model)) : s->backend->decoder;
    // the residual stream between the stages of one part, over the group: rank gr's stage passes to gr + parts
    Link link;
    if (g.stages > 1) {
        const int on_host = s->backend->decoder == &decoder_ops_cpu;
        LinkChoice choice = {.decoder_on_host = on_host,
                             .nccl_wanted = !on_host && s->gpu_own && s->cfg.transport == TRANSPORT_AUTO};
        link_open(&link, group, gr - g.parts, gr + g.parts, &choice);
    }
    if (stage >= 0 && pm->empty_word[0]) snprintf(err, sizeof err, "%.200s: %.300s", s->cfg.models[m].path, pm->empty_word);
    if (model) {
        ExtractPart part = {.index = (size_t)(gr % g.parts), .count = (size_t)g.parts, .stage = stage,
                            .n_stages = g.stages, .link = g.stages > 1 ? &link.stage : NULL};
        char why[BASE_ERR_LEN];
        int rc = extract_from_tokens(model, decoder, pm->story.ids + pm->bos, pm->n_tokens,
                                     tok_bos_id(pm->tok), pm->first, pm->last, s->W, &pm->policy[ci], &part, states,
                                     &x, why);
        x.seconds_tokenize = pm->tokenize_seconds;
        stopped = rc == 1, failed = rc < 0;
        if (failed) snprintf(err, sizeof err, "%.200s: %.300s", s->cfg.models[m].path, why);
        model_free(model);
    }
    if (g.stages > 1) link_close(&link);
    for (size_t l = 0; !failed && !stopped && l < sweep_layers(s, m); l++) {
        size_t dim = l < (size_t)s->model[m].cfg.n_layers ? (size_t)s->model[m].cfg.d_model : (size_t)s->model[m].final_dim;
        if (!finite_rows(states + s->model[m].offset[l] + x.word_lo * dim, (x.word_hi - x.word_lo) * dim)) {
            failed = 1;
            snprintf(err, sizeof err, "%.300s: hidden state %zu has NaN or Inf values (corrupt weights?)",
                     s->cfg.models[m].path, l);
        }
    }
    s->share[SHARE_EXTRACT] += base_wall() - t;

    // a stop on any rank of the group drops the unit on all: its features are not saved, the rerun redoes it
    t = base_wall();
    if (comm_max_int(group, stopped)) {
        if (gr == 0) log_rank("%s, context %s: extraction stopped by a signal; the rerun redoes it", name, ctx);
        free(states);
        return DISPATCH_STOPPED;
    }
    // the lowest failing rank's reason, on every rank of the group
    int first = comm_min_int(group, failed ? gr : gn);
    if (first < gn) {
        comm_bcast_bytes(group, err, BASE_ERR_LEN, first);
        s->share[SHARE_GATHER] += base_wall() - t;
        if (gr == 0) {
            log_warn("%s, context %s: feature extraction failed: %s", name, ctx, err);
            char why[BASE_ERR_LEN + 40];
            snprintf(why, sizeof why, "feature extraction failed: %s", err);
            save_failed_layers(s, m, ci, why);
        }
        free(states);
        return DISPATCH_FAILED;
    }
    // each hidden state's words, gathered in place on the leader, layer by layer (rows as one MPI type), from the
    // ranks whose stage makes that state
    unsigned long range[2] = {x.word_lo, x.word_hi}, *ranges = base_malloc(2 * (size_t)gn * sizeof(unsigned long), "ranges");
    comm_allgather_ulongs(group, range, 2, ranges);
    if (gn > 1) {
        int *counts = base_malloc((size_t)gn * sizeof(int), "gather"), *displs = base_malloc((size_t)gn * sizeof(int), "gather");
        DecoderStage *st = base_malloc((size_t)gn * sizeof(DecoderStage), "gather");
        for (int r = 0; r < gn; r++)
            if (layout_stage(&g, r) >= 0)
                decoder_stage_layers(s->model[m].cfg.n_layers, g.stages, layout_stage(&g, r), &st[r].first, &st[r].end);
        for (size_t l = 0; l < sweep_layers(s, m); l++) {
            size_t dim = l < (size_t)s->model[m].cfg.n_layers ? (size_t)s->model[m].cfg.d_model : (size_t)s->model[m].final_dim;
            for (int r = 0; r < gn; r++) {
                int makes = layout_stage(&g, r) >= 0 && decoder_stage_owns(&st[r], (int)l);
                counts[r] = makes ? (int)(ranges[2 * r + 1] - ranges[2 * r]) : 0, displs[r] = (int)ranges[2 * r];
            }
            comm_gather_rows(group, states + s->model[m].offset[l], dim, counts, displs, 0);
        }
        free(counts), free(displs), free(st);
    }
    // the extraction's counters: sequences (each counted by its first stage) and forward time summed over the group,
    // tokenisation as the leader saw it
    double mine[2] = {stage == 0 ? (double)x.n_sequences : 0.0, x.seconds_forward}, sum[2];
    comm_reduce_sum(group, mine, sum, 2, 0);
    s->share[SHARE_GATHER] += base_wall() - t;
    free(ranges);
    if (gr == 0) {
        s->extracted[m * s->C + ci] = (ResultsExtraction){
            .ran = 1, .sequences = sum[0], .tokenize_seconds = x.seconds_tokenize, .forward_seconds = sum[1]};
        t = base_wall();
        FeatKey key;
        char path[STORE_PATH + 300];
        sweep_feature_key(s, m, ci, &key);
        sweep_feature_path(s, m, &key, path, sizeof path);
        char dir[STORE_PATH + 300];
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = '\0';
        int unsaved = base_mkdirs(dir) != 0;
        if (unsaved) snprintf(err, sizeof err, "cannot create %.300s: %s", dir, strerror(errno));
        else unsaved = featcache_save(path, &key, states, s->model[m].offset, err) != 0;
        if (unsaved)
            DIE("free disk space (or point output.path / features.cache_dir elsewhere) and rerun the same command: "
                "finished units are kept",
                "%s", err);
        s->share[SHARE_SAVE_FEATURES] += base_wall() - t;
        char split[200] = "";
        if (g.stages > 1)
            snprintf(split, sizeof split, " (%d stages by layer ranges x %d part(s); activations by %s)", g.stages,
                     g.parts, link.transport);
        log_rank("%s, context %s: %zu tokens, %.0f sequence(s) on %d rank(s)%s, %.1f s forward (%s, %.1f GFLOP/s on "
                 "this rank); features in %s",
                 name, ctx, s->model[m].n_tokens, sum[0], g.stages * g.parts, split, sum[1], decoder->name,
                 x.seconds_forward > 0 ? x.flops / x.seconds_forward * 1e-9 : 0.0, path);
    }
    free(states);
    return DISPATCH_OK;
}


// 1 when stopped by a signal, -1 on an error (printed), else 0
int sweep_extract_run(Sweep *s) {
    size_t MC = s->M * s->C, n = 0;
    size_t *unit = base_malloc((MC ? MC : 1) * sizeof(size_t), "units");
    double *cost = base_malloc((MC ? MC : 1) * sizeof(double), "units");
    int *need = base_calloc(MC ? MC : 1, sizeof(int), "units");
    if (comm_rank() == 0)
        for (size_t m = 0; m < s->M; m++)
            for (size_t ci = 0; ci < s->C; ci++) {
                int todo = 0;
                for (size_t h = 0; h < sweep_layers(s, m); h++)
                    for (size_t g = 0; g < s->G; g++) todo |= sweep_group_selected(s, g) && sweep_layer_todo(s, m, ci, h, g);
                need[m * s->C + ci] = todo && sweep_selected(s, m, ci) && !sweep_features_ready(s, m, ci, 1);
            }
    comm_bcast_bytes(MPI_COMM_WORLD, need, MC * sizeof(int), 0);
    for (size_t mc = 0; mc < MC; mc++)
        if (need[mc]) cost[n] = s->model[mc / s->C].extract_flops[mc % s->C], unit[n++] = mc;
    free(need);
    // a shared cache may be read-only while it holds every feature set; one that must take new ones
    // has to be writable, which is better learnt before the extraction than after it
    char err[BASE_ERR_LEN];
    int bad = comm_rank() == 0 && n && s->cfg.cache_dir[0] &&
              planning_writable("features.cache_dir", s->cfg.cache_dir, 1, err);
    if (!sweep_all_ok(bad, err)) {
        if (s->store_made) store_remove(&s->store);  // made by this run and still empty: leave nothing behind
        free(unit), free(cost);
        return -1;
    }
    if (n < MC) log0("extract: %zu of %zu (model, context) feature sets already on disk", MC - n, MC);
    int stopped = 0;
    if (n) {
        double *sorted = base_malloc(n * sizeof(double), "units");
        size_t *order = planning_order(cost, n, sorted);
        // groups of ranks: as many as units (at most one per rank), each large enough for the most stages a model
        // wants where ranks allow; a group shares each unit's sequences, and splits a model by layer ranges
        int most = 1;
        for (size_t u = 0; u < n; u++) {
            int w = stages_wanted(s, unit[u] / s->C);
            most = w > most ? w : most;
        }
        int G = (int)(n < (size_t)comm_size() ? n : (size_t)comm_size());
        if (G > comm_size() / most) G = comm_size() / most > 0 ? comm_size() / most : 1;
        MPI_Comm group = comm_split(comm_rank() % G);
        int gr = comm_rank_in(group);
        log0("extract: %zu (model, context) unit(s) over %d group(s) of ranks", n, G);
        FILE *tsv = sweep_progress_tsv(s);
        DispatchPlan plan = {.stage = "extract", .cost = sorted, .n = n, .progress_seconds = s->cfg.progress_seconds, .progress_tsv = tsv};
        Dispatch *d = dispatch_begin(MPI_COMM_WORLD, &plan, gr == 0, &base_stop_signal);
        int prev = DISPATCH_OK;
        for (;;) {
            int any = comm_max_int(group, base_stop_signal != 0);
            long u = gr == 0 ? dispatch_next(d, prev, any) : -1;
            comm_bcast_bytes(group, &u, sizeof u, 0);
            if (u < 0) break;
            size_t mc = unit[order[u]];
            prev = extract_unit(s, mc / s->C, mc % s->C, group);
        }
        double t = base_wall();
        DispatchTotals tot = dispatch_end(d);
        s->share[SHARE_WAIT] += base_wall() - t;
        stopped = tot.stopped;
        if (tsv) fclose(tsv);
        comm_free(&group);
        free(order), free(sorted);
    }
    free(unit), free(cost);
    return stopped;
}
