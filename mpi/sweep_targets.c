#include "mpi/sweep_targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/featcache.h"
#include "host/features.h"
#include "host/linalg.h"
#include "host/log.h"
#include "host/planning.h"

void sweep_group_subjects(const Sweep *s, size_t g, size_t *first, size_t *n) {
    ASSERT(g < s->G);
    *first = g * s->group;
    *n = s->S - *first < s->group ? s->S - *first : s->group;
}

// bids_fmri: subject si's runs read into its recording (V, R) in float64, each run's own mean removed, on the
// voxel axis the inputs stage made (padding stays 0: constant, r NaN)
static int fmri_subject_data(Sweep *s, size_t si, char *err) {
    const FmriRun *runs = s->fmri_runs + s->fmri_run0[si];
    size_t n_runs = s->fmri_run0[si + 1] - s->fmri_run0[si], R = s->R;
    FmriQuery q = planning_fmri_query(&s->cfg);
    FmriSubject sub;
    if (fmri_load_subject(runs, n_runs, &sub, err)) return -1;
    int rc = fmri_regress_confounds(&sub, runs, n_runs, q.confounds, q.n_confounds, err);
    Recording *r = &s->rec[si];
    if (rc == 0 && (sub.V != r->n_rows || (int32_t)sub.n_vox != s->voxels.n_voxels[si]))
        rc = base_errf(err, "%s: %zu volumes and %zu voxels now, but %zu and %d when the sweep began: the dataset "
                            "changed during the sweep",
                       sub.file, sub.V, sub.n_vox, r->n_rows, s->voxels.n_voxels[si]);
    if (rc == 0) {
        r->data = base_calloc(base_mul(sub.V, R), sizeof(double), "recording");
        // the subject's voxels fill its non-padding columns in order: both are in storage order
        for (size_t j = 0, k = 0; j < R; j++) {
            if (s->voxels.ijk[3 * (si * R + j)] < 0) continue;
            // each run's own mean removed: scanner baselines differ between runs, and a step at every run
            // boundary would dominate the concatenation (the high-pass after this removes slow drifts only)
            for (size_t run = 0, v0 = 0; run < sub.n_runs; v0 += sub.run_volumes[run++]) {
                double mean = 0;
                for (size_t v = v0; v < v0 + sub.run_volumes[run]; v++) mean += sub.data[v * sub.n_vox + k];
                mean /= (double)sub.run_volumes[run];
                for (size_t v = v0; v < v0 + sub.run_volumes[run]; v++) r->data[v * R + j] = sub.data[v * sub.n_vox + k] - mean;
            }
            k++;
        }
    }
    fmri_subject_free(&sub);
    return rc;
}

// One warning per recording with constant targets (a file of zeros from a failed export, a dead
// channel), naming the file, the subject and the regions: their r will be NaN. Y is z-scored, where
// a constant column is all 0 and no other column is.
static void warn_constant_targets(const Sweep *s, const GroupTargets *p) {
    size_t T = p->n * s->R, V = s->V;
    for (size_t si = p->first; si < p->first + p->n; si++) {
        const Recording *r = &s->rec[si];
        char names[320] = "";
        size_t n = 0, zeros = 0, used = 0;
        for (size_t k = 0; k < s->R; k++) {
            if (s->voxels.ijk && s->voxels.ijk[3 * (si * s->R + k)] < 0) continue;  // padding: no voxel here
            size_t v = 0, z = 0, col = (si - p->first) * s->R + k;
            while (v < V && p->Y[v * T + col] == 0.0) v++;
            if (v < V) continue;
            while (z < V && r->data[z * s->R + k] == 0.0) z++;
            zeros += z == V;
            if (used < sizeof names)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", n ? ", " : "", s->target[k]);
            n++;
        }
        if (n == 0) continue;
        if (used >= sizeof names) memcpy(names + sizeof names - 4, "...", 4);
        log_warn("%s (subject %s): %zu of %zu region(s) %s: %s; their r will be NaN", r->path, r->subject, n, s->R,
                 zeros == n ? "are all zeros" : "are constant", names);
    }
}

// columns of the targets prepared at once: each column's high-pass and z-scoring are its own, so blocks give the
// values the whole matrix would, in a (V, block) float64 buffer per thread that stays in cache
enum { TARGET_COLUMNS = 64 };

// the held group's targets into the fits' backend memory, once, where the sweep keeps them there
static void targets_resident(Sweep *s) {
    GroupTargets *p = &s->prepared;
    if (!s->resident_targets || p->targets.resident) return;
    ridge_targets_resident(&p->targets, s->backend->linalg);
    if (s->backend->linalg != &linalg_ops_cpu)
        log_rank_file("subject group %ld: targets resident in %s memory (%.1f MiB) for every layer's fit", p->g,
                      s->backend->linalg->name,
                      (double)base_mul(p->targets.N, p->targets.T) * sizeof(float) / 1048576.0);
}

int sweep_targets_prepare(Sweep *s, size_t g, int check, char *err) {
    if (s->prepared.g == (long)g) {
        if (!check) targets_resident(s);
        return 0;
    }
    sweep_targets_release(s);
    const SweepConfig *c = &s->cfg;
    GroupTargets *p = &s->prepared;
    sweep_group_subjects(s, g, &p->first, &p->n);
    const size_t V = s->V, R = s->R, T = p->n * R, first = p->first;
    const int fmri = s->fmri_runs != NULL, sampled = !sweep_word_level(c);
    const double tr = c->rec_format == REC_BIDS_FMRI ? s->grid.tr : c->tr;
    int rc = 0;
    for (size_t si = first; fmri && si < first + p->n && rc == 0; si++) rc = fmri_subject_data(s, si, err);
    if (rc == 0) {
        p->Y = base_malloc(base_mul(V, T) * sizeof(float), "targets");
        size_t constant = 0;
#pragma omp parallel reduction(+ : constant)
        {
            double *col = base_malloc(base_mul(V, TARGET_COLUMNS) * sizeof(double), "targets");
#pragma omp for schedule(dynamic)
            for (size_t j0 = 0; j0 < T; j0 += TARGET_COLUMNS) {
                const size_t n = T - j0 < TARGET_COLUMNS ? T - j0 : TARGET_COLUMNS;
                for (size_t v = 0; v < V; v++)
                    for (size_t j = 0; j < n; j++) col[v * n + j] = s->rec[first + (j0 + j) / R].data[v * R + (j0 + j) % R];
                if (sampled) feat_highpass(col, V, n, tr, c->highpass_seconds);
                constant += feat_zscore(col, V, n);
                for (size_t v = 0; v < V; v++)
                    for (size_t j = 0; j < n; j++) p->Y[v * T + j0 + j] = (float)col[v * n + j];
            }
            free(col);
        }
        if (check && constant) warn_constant_targets(s, p);
        for (size_t si = first; check && si < first + p->n; si++) {  // row by row: a subject's columns are not adjacent
            uint64_t h = 0;
            for (size_t v = 0; v < V; v++) h = featcache_hash(p->Y + v * T + (si - first) * R, R * sizeof(float), h);
            s->subject_hash[si] = h;
        }
        char why[BASE_ERR_LEN];
        if (ridge_targets_init(&p->targets, p->Y, V, T, &s->cv, why)) rc = base_errf(err, "%s", why);
    }
    for (size_t si = first; fmri && si < first + p->n; si++) {  // the files' values are in Y now
        free(s->rec[si].data);
        s->rec[si].data = NULL;
    }
    if (rc) {
        sweep_targets_release(s);
        return -1;
    }
    p->g = (long)g;
    log_rank_file("subject group %zu (%s to %s): targets prepared for %s", g, s->rec[first].subject,
                  s->rec[first + p->n - 1].subject, check ? "the inputs' checks" : "its fits");
    if (!check) targets_resident(s);
    return 0;
}

void sweep_targets_release(Sweep *s) {
    GroupTargets *p = &s->prepared;
    if (p->Y) ridge_targets_free(&p->targets);
    free(p->Y);
    memset(p, 0, sizeof *p);
    p->g = -1;
}
