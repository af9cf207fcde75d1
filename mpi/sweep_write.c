#include "mpi/sweep_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/log.h"
#include "host/record.h"
#include "host/signif.h"
#include "mpi/comm.h"
#include "mpi/results.h"

// a layer fitted in several subject groups had each group's q-values over that group's targets alone: the
// Benjamini-Hochberg step-up again over every target of the layer, from the p-values
static void fdr_over_layer(const float *p, float *q, size_t T) {
    double *pd = base_malloc(2 * (T ? T : 1) * sizeof(double), "q-values"), *qd = pd + (T ? T : 1);
    for (size_t t = 0; t < T; t++) pd[t] = p[t];
    signif_fdr_bh(qd, pd, T);
    for (size_t t = 0; t < T; t++) q[t] = (float)qd[t];
    free(pd);
}

// rank 0 creates <output>.partial, every rank writes a contiguous share of the finished layers,
// rank 0 summarises, renames and prints. Returns the failed layers' count.
size_t sweep_write_run(Sweep *s, double *stage, double t0) {
    size_t M = s->M, C = s->C, H = s->H, MCH = M * C * H;
    char **errors = comm_rank() == 0 ? base_calloc(MCH, sizeof(char *), "errors") : NULL;
    double sums[FIT_N_COUNTERS] = {0};
    sweep_scan_store(s, sums, errors);
    int8_t *status = base_malloc(MCH ? MCH : 1, "status");  // each layer's over its subject groups
    for (size_t i = 0; i < MCH; i++) status[i] = sweep_layer_status(s, i / (C * H), i / H % C, i % H);

    comm_allreduce_sum((double *)s->extracted, M * C * sizeof(ResultsExtraction) / sizeof(double));
    ResultsSource src = {.cfg = &s->cfg,
                         .model = s->model,
                         .extracted = s->extracted,
                         .rec = s->rec,
                         .S = s->S,
                         .target = s->target,
                         .R = s->R,
                         .stim = &s->stim,
                         .V = s->V,
                         .sample_block = s->cv.block,
                         .spec = &s->spec,
                         .P = s->cfg.save_weights ? s->P_max : 0,
                         .identity = s->identity,
                         .ieeg = s->cfg.rec_format == REC_IEEG ? &s->ieeg : NULL,
                         .voxels = s->cfg.rec_format == REC_BIDS_FMRI ? &s->voxels : NULL};
    ResultsMeta *meta = results_meta_build(&src);
    char partial[CFG_STR + 16];
    snprintf(partial, sizeof partial, "%s.partial", s->cfg.output);
    double t = base_wall();
    if (comm_rank() == 0) results_create(partial, meta);
    comm_barrier();

    // this rank's contiguous share of the finished layers, in (m, c, h) order, each put together from its groups'
    // records
    size_t n_done = 0, failed = 0;
    for (size_t i = 0; i < MCH; i++) n_done += status[i] == UNIT_DONE, failed += status[i] == UNIT_FAILED;
    size_t N = (size_t)comm_size(), r = (size_t)comm_rank(), lo = n_done * r / N, hi = n_done * (r + 1) / N;
    size_t T = s->S * s->R, rows = RECORD_SCORE_ROWS + s->store.P, per = base_mul(rows, T), k = 0, n = hi - lo;
    size_t *lm = base_malloc((n ? n : 1) * 3 * sizeof(size_t), "layers"), *lc = lm + (n ? n : 1), *lh = lc + (n ? n : 1);
    float *values = base_malloc(base_mul(n ? n : 1, per) * sizeof(float), "layers");
    float *group = s->G > 1 ? base_malloc(store_record_floats(&s->store, 0) * sizeof(float), "layers") : NULL;
    for (size_t i = 0, j = 0; i < MCH; i++) {
        if (status[i] != UNIT_DONE) continue;
        if (j >= lo && j < hi) {
            lm[k] = i / (C * H), lc[k] = i / H % C, lh[k] = i % H;
            float *layer = values + k * per;
            for (size_t g = 0; g < s->G; g++) {
                LayerRecord rec;
                memset(&rec, 0, sizeof rec);
                rec.values = group ? group : layer;
                if (store_load_layer(&s->store, lm[k], lc[k], lh[k], g, &rec) != 1)
                    DIE("delete that record and rerun the same command (or check that no other run writes the same "
                        "output.path)",
                        "%s: layer record m%zu-c%zu-h%zu of subject group %zu is missing or fails its checksum",
                        s->store.dir, lm[k], lc[k], lh[k], g);
                size_t first, ns;
                store_group_subjects(&s->store, g, &first, &ns);
                for (size_t q = 0; group && q < rows; q++)
                    memcpy(layer + q * T + first * s->R, group + q * ns * s->R, ns * s->R * sizeof(float));
            }
            if (group && s->cfg.ridge.permutations) fdr_over_layer(layer + REC_P * T, layer + REC_Q * T, T);
            k++;
        }
        j++;
    }
    free(group);
    ResultsLayers mine = {.n = n, .m = lm, .c = lc, .h = lh, .values = values};
    results_write_layers(partial, meta, &mine);
    free(lm), free(values);
    s->share[SHARE_WRITE] += base_wall() - t;

    // every rank's time shares, gathered for /meta/rank_seconds (the write is counted up to here)
    double total = base_wall() - t0, used = 0;
    for (int i = 0; i < SHARE_WAIT; i++) used += s->share[i];
    s->share[SHARE_WAIT] = fmax(total - used, 0);
    double *shares = comm_rank() == 0 ? base_malloc(N * N_SHARES * sizeof(double), "shares") : NULL;
    comm_gather_doubles(MPI_COMM_WORLD, s->share, N_SHARES, shares, 0);

    if (comm_rank() == 0) {
        float *lr = base_malloc(base_mul(M * C * H, s->R) * sizeof(float), "summary");
        stage[STAGE_WRITE] = base_wall() - t;
        ResultsRun run = {.status = status,
                          .error = (const char *const *)errors,
                          .stage = SWEEP_STAGE_NAMES,
                          .stage_seconds = stage,
                          .n_stages = N_STAGES,
                          .share = SWEEP_SHARE_NAMES,
                          .rank_seconds = shares,
                          .n_shares = N_SHARES};
        results_finish(partial, s->cfg.output, meta, &run, lr);
        const SweepConfig *c = &s->cfg;
        log0("fits: %.0f splits (%.0f in the dual form: more features than training samples), %.1f GFLOP, %.1f s of "
             "fitting in all",
             sums[FIT_SPLITS], sums[FIT_DUAL], sums[FIT_GFLOP], sums[FIT_SECONDS]);
        if (sums[FIT_EDGE_LOW] + sums[FIT_EDGE_HIGH] > 0)
            log0("note: of %.0f alpha choices (target x outer fold), %.0f took the smallest alpha of the grid (%.3g) and "
                 "%.0f the largest (%.3g); the largest means the layer predicts that target no better than its mean, the "
                 "smallest that the fit wants less penalty (ridge.alpha_log10_min)",
                 sums[FIT_CHOICES], sums[FIT_EDGE_LOW], c->ridge.alphas[0], sums[FIT_EDGE_HIGH], c->ridge.alphas[c->ridge.n_alphas - 1]);
        const char **label = NULL;  // iEEG: each electrode's region, to print one column per region
        if (c->rec_format == REC_IEEG) {
            label = base_malloc(s->R * sizeof(char *), "labels");
            for (size_t e = 0; e < s->R; e++) label[e] = s->ieeg.el[e].region;
        } else if (c->rec_format == REC_BIDS_FMRI) {  // thousands of voxels: their mean (maps draws them all)
            label = base_malloc(s->R * sizeof(char *), "labels");
            for (size_t e = 0; e < s->R; e++) label[e] = "voxels";
        }
        for (size_t m = 0; m < M; m++)
            for (size_t ci = 0; ci < C; ci++) {
                const float *x = lr + (m * C + ci) * H * s->R;
                if (label)
                    results_print_grouped(stdout, c->models[m].name, c->contexts.items[ci], s->model[m].cfg.n_layers, x, label, s->R, H);
                else results_print_matrix(stdout, c->models[m].name, c->contexts.items[ci], s->model[m].cfg.n_layers, x, s->target, s->R);
            }
        free(label);
        printf("\nstage timings (s):");
        for (int i = 0; i < N_STAGES; i++) printf("  %s %.2f", SWEEP_STAGE_NAMES[i], stage[i]);
        printf("\ntime per rank (s):");
        for (int i = 0; i < N_SHARES; i++) {
            double lo_s = shares[i], hi_s = shares[i];
            for (size_t q = 1; q < N; q++) lo_s = fmin(lo_s, shares[q * N_SHARES + i]), hi_s = fmax(hi_s, shares[q * N_SHARES + i]);
            printf("  %s %.2f", SWEEP_SHARE_NAMES[i], lo_s);
            if (N > 1) printf("-%.2f", hi_s);  // the least and the most over ranks
        }
        printf("\nresults: %s\n", s->cfg.output);
        if (failed) {
            printf("\n%zu layer fit(s) failed (NaN in the results, status -1 in /units/status):\n", failed);
            size_t shown = 0;
            for (size_t i = 0; i < MCH; i++)
                if (status[i] == UNIT_FAILED && shown++ < 20)
                    printf("  %s, context %s, layer %zu: %s\n", c->models[i / (C * H)].name, c->contexts.items[i / H % C], i % H,
                           errors[i]);
            if (shown > 20) printf("  ... and %zu more (see /units/error)\n", shown - 20);
            printf("their features and the finished layers stay in %s: rerun the same command to retry only the "
                   "failed ones\n",
                   s->store.dir);
        }
        fflush(stdout);
        free(lr);
        for (size_t i = 0; i < MCH; i++) free(errors[i]);
        free(errors);
        free(shares);
    }
    comm_barrier();
    results_meta_free(meta);
    free(status);
    return failed;
}
