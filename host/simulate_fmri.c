#include "host/simulate_fmri.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nifti2_io.h>

#include "host/base.h"
#include "host/features.h"
#include "host/fmri.h"
#include "host/niftiout.h"
#include "host/simulate.h"
#include "host/surface.h"

// SPM's canonical HRF at t seconds: a gamma density of shape 6 minus one of shape 16 over 6
static double hrf(double t) {
    if (t <= 0) return 0;
    return exp(5 * log(t) - t - lgamma(6)) - exp(15 * log(t) - t - lgamma(16)) / 6;
}

static int write_json(const char *path, const char *text, char *err) {
    FILE *f = fopen(path, "w");
    if (!f) return base_errf(err, "%s: cannot create: %s", path, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? base_errf(err, "%s: cannot write: %s", path, strerror(errno)) : 0;
}

// inside subject s's ellipsoid mask
static int in_mask(const SimFmriOptions *o, size_t s, int i, int j, int k) {
    double c[3] = {0.5 * (o->dim[0] - 1) + (double)(s % 2), 0.5 * (o->dim[1] - 1), 0.5 * (o->dim[2] - 1)};
    double x = (i - c[0]) / (0.45 * o->dim[0]), y = (j - c[1]) / (0.45 * o->dim[1]), z = (k - c[2]) / (0.45 * o->dim[2]);
    return x * x + y * y + z * z <= 1.0;
}

// one run's confounds table (volumes v0 .. v0 + nt of the series csf, white_matter, trans_x, each of V)
static int write_confounds(const char *path, const double *x, size_t V, size_t v0, size_t nt, char *err) {
    FILE *f = fopen(path, "w");
    if (!f) return base_errf(err, "%s: cannot write: %s", path, strerror(errno));
    fputs("csf\twhite_matter\ttrans_x\tframewise_displacement\n", f);
    for (size_t v = v0; v < v0 + nt; v++) {
        fprintf(f, "%.6f\t%.6f\t%.6f\t", x[v], x[V + v], x[2 * V + v]);
        if (v == v0) fputs("n/a\n", f);
        else fprintf(f, "%.6f\n", fabs(x[2 * V + v] - x[2 * V + v - 1]));
    }
    if (fclose(f) != 0) return base_errf(err, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

// one surface run of a subject: volumes (nt, nv) of the grid, whose first half of voxels is the left hemisphere's
// vertices and the rest the right's, as two GIfTI series, and the sidecar beside the left
static int write_surface_run(const SimFmriOptions *o, const char *dir, const char *sub, size_t run, const float *vols,
                             size_t nt, size_t nv, char *err) {
    char path[1400];
    float *series = base_malloc(base_mul(nt, nv - nv / 2) * sizeof(float), "surface series");
    int rc = 0;
    for (int hemi = 0; hemi < 2 && rc == 0; hemi++) {
        size_t first = hemi ? nv / 2 : 0, n = hemi ? nv - nv / 2 : nv / 2;
        for (size_t t = 0; t < nt; t++) memcpy(series + t * n, vols + t * nv + first, n * sizeof(float));
        snprintf(path, sizeof path, "%s/%s_task-%s_run-%zu_hemi-%c_space-%s_bold.func.gii", dir, sub, o->task, run + 1,
                 hemi ? 'R' : 'L', o->space);
        SurfaceOut img = {.n_vertices = n,
                          .n_arrays = nt,
                          .data = series,
                          .intent = NIFTI_INTENT_TIME_SERIES,
                          .structure = hemi ? "CortexRight" : "CortexLeft",
                          .time_step_ms = o->tr * 1e3,
                          .description = "brainsweep simulate --fmri --surface"};
        rc = surface_write(path, &img, err);
    }
    free(series);
    if (rc) return -1;
    char text[256];
    snprintf(path, sizeof path, "%s/%s_task-%s_run-%zu_hemi-L_space-%s_bold.json", dir, sub, o->task, run + 1, o->space);
    snprintf(text, sizeof text, "{\"RepetitionTime\": %g, \"TaskName\": \"%s\"}\n", o->tr, o->task);
    return write_json(path, text, err);
}

// the planted hidden state of a voxel, -1 for a noise voxel
static int planted(const SimFmriOptions *o, size_t H, int i, int j) {
    if (j >= o->dim[1] / 2) return -1;
    int h = (int)((size_t)i * H / (size_t)o->dim[0]);
    return h < (int)H ? h : (int)H - 1;
}

// atlas/: a parcel per slab of constant i in each half of the grid (j < ny / 2: the signal voxels, whose planted
// layer is one per slab), labels 1..nx and nx+1..2nx, and its dseg.tsv
static int write_atlas(const SimFmriOptions *o, const double affine[16], int code, char *err) {
    size_t nx = (size_t)o->dim[0], ny = (size_t)o->dim[1], nz = (size_t)o->dim[2], nv = nx * ny * nz;
    char path[1400];
    snprintf(path, sizeof path, "%.1000s/atlas", o->out_dir);
    if (base_mkdirs(path) != 0) return base_errf(err, "%s: cannot create: %s", path, strerror(errno));
    int16_t *label = base_malloc(nv * sizeof(int16_t), "atlas");
    for (size_t at = 0; at < nv; at++) {
        size_t i = at % nx, j = at / nx % ny;
        label[at] = (int16_t)(1 + i + (j < ny / 2 ? 0 : nx));
    }
    snprintf(path, sizeof path, "%.1000s/atlas/space-%s_desc-slabs_dseg.nii.gz", o->out_dir, o->space);
    NiftiOut a = {.ndim = 3,
                  .dim = {(int64_t)nx, (int64_t)ny, (int64_t)nz, 1},
                  .datatype = NIFTI_TYPE_INT16,
                  .data = label,
                  .affine = affine,
                  .xform_code = code,
                  .descrip = "brainsweep simulate --fmri slabs"};
    int rc = niftiout_write(path, &a, err);
    free(label);
    snprintf(path, sizeof path, "%.1000s/atlas/desc-slabs_dseg.tsv", o->out_dir);
    FILE *f = rc ? NULL : fopen(path, "w");
    if (!rc && !f) return base_errf(err, "%s: cannot create: %s", path, strerror(errno));
    if (f) {
        fprintf(f, "index\tname\n");
        for (size_t half = 0; half < 2; half++)
            for (size_t i = 0; i < nx; i++) fprintf(f, "%zu\t%s i=%zu\n", 1 + i + half * nx, half ? "noise" : "signal", i);
        if (fclose(f) != 0) rc = base_errf(err, "%s: cannot write: %s", path, strerror(errno));
    }
    return rc;
}

// the story's signals on the grid and in the runs of every subject; brain: the mask's grid, or NULL
static int make(const SimFmriOptions *o, const FmriGrid *brain, const uint8_t *brain_mask, char *err) {
    if (o->runs < 1 || o->subjects < 1 || !(o->tr > 0) || o->dim[0] < 2 || o->dim[1] < 2 || o->dim[2] < 1)
        return base_errf(err, "simulate --fmri: needs subjects, runs, a TR and a grid of at least 2x2x1");
    char path[1400], dir[1200];
    snprintf(dir, sizeof dir, "%.1000s/stimuli", o->out_dir);
    if (base_mkdirs(dir) != 0) return base_errf(err, "%s: cannot create: %s", dir, strerror(errno));
    snprintf(dir, sizeof dir, "%.1000s/groundtruth", o->out_dir);
    if (base_mkdirs(dir) != 0) return base_errf(err, "%s: cannot create: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%.1000s/dataset_description.json", o->out_dir);
    if (write_json(path,
                   "{\"Name\": \"brainsweep simulated fMRI\", \"BIDSVersion\": \"1.8.0\", \"DatasetType\": "
                   "\"derivative\", \"GeneratedBy\": [{\"Name\": \"brainsweep simulate --fmri\"}]}\n",
                   err))
        return -1;

    Stimulus st;
    snprintf(path, sizeof path, "%.1000s/stimuli/words.tsv", o->out_dir);
    if (sim_story(o->stimulus, o->seconds, path, &st, err)) return -1;
    double *sig = NULL;
    float *beta = NULL;
    size_t H = 0, dmax = 0, W = st.n_words;
    if (sim_word_signals(o->model_path, o->seed, &st, &sig, &beta, &H, &dmax, err)) {
        stim_free(&st);
        return -1;
    }
    // each hidden state's word signal on the volumes, through the HRF, z-scored: y (H, V)
    VolumeGrid g = {.t0 = 0, .tr = o->tr, .n_volumes = (size_t)ceil(st.t_max / o->tr - 1e-9)};
    size_t V = g.n_volumes, nx = (size_t)o->dim[0], ny = (size_t)o->dim[1], nz = (size_t)o->dim[2];
    size_t nv = nx * ny * nz;
    float *xw = base_malloc(base_mul(W, H) * sizeof(float), "word signals");
    double *word_time = base_malloc(W * sizeof(double), "word times");
    for (size_t w = 0; w < W; w++) {
        word_time[w] = 0.5 * (st.onset[w] + st.offset[w]);
        for (size_t h = 0; h < H; h++) xw[w * H + h] = (float)sig[h * W + w];
    }
    double *xv = base_malloc(base_mul(V, H) * sizeof(double), "volume signals");
    feat_words_to_volumes(xv, xw, word_time, W, H, &g, RESAMPLE_SUM, 0);
    size_t nk = (size_t)ceil(32.0 / o->tr);
    double *y = base_calloc(base_mul(H, V), sizeof(double), "responses");
    for (size_t h = 0; h < H; h++) {
        double *yh = y + h * V;
        for (size_t v = 0; v < V; v++)
            for (size_t d = 0; d < nk && d <= v; d++) yh[v] += hrf((double)d * o->tr) * xv[(v - d) * H + h];
        feat_zscore(yh, V, 1);
    }
    free(xw), free(word_time), free(xv), free(sig), free(beta);

    // the affine: 3 mm voxels, x flipped, the grid centred near the origin; MNI's xform code
    double affine[16] = {-3, 0, 0, 1.5 * (double)nx, 0, 3, 0, -1.5 * (double)ny, 0, 0, 3, -1.5 * (double)nz, 0, 0, 0, 1};
    if (brain) memcpy(affine, brain->affine, sizeof affine);
    const int code = brain ? brain->affine_code : NIFTI_XFORM_MNI_152;
    float *truth = base_malloc(nv * sizeof(float), "truth");
    for (size_t i = 0; i < nv; i++) truth[i] = NAN;
    int rc = 0;
    size_t per_run = V / o->runs;
    double *nuisance = base_malloc(base_mul(3, V) * sizeof(double), "confounds");  // csf, white_matter, trans_x
    float *bold = base_malloc(base_mul(nv, V) * sizeof(float), "bold");
    uint8_t *mask = base_malloc(nv, "mask");
    for (size_t s = 0; s < o->subjects && rc == 0; s++) {
        char sub[32];
        snprintf(sub, sizeof sub, "sub-%02zu", s + 1);
        snprintf(dir, sizeof dir, "%.1000s/%s/func", o->out_dir, sub);
        if (base_mkdirs(dir) != 0) {
            rc = base_errf(err, "%s: cannot create: %s", dir, strerror(errno));
            break;
        }
        for (size_t i = 0; i < nx; i++)
            for (size_t j = 0; j < ny; j++)
                for (size_t k = 0; k < nz; k++) {
                    size_t at = i + nx * (j + ny * k);
                    mask[at] = brain_mask ? brain_mask[at] : (uint8_t)(o->surface || in_mask(o, s, (int)i, (int)j, (int)k));
                    if (mask[at]) truth[at] = (float)planted(o, H, (int)i, (int)j);
                }
        // the subject's nuisance series, and their weights in each voxel, from a stream of their own
        SimRng nr = sim_rng(o->seed, 0xc0f0, s);
        for (size_t c = 0; c < 3; c++) {
            double *x = nuisance + c * V;
            for (size_t v = 0; v < V; v++) x[v] = (v ? 0.9 * x[v - 1] : 0) + sim_rng_norm(&nr);
            feat_zscore(x, V, 1);
        }
        // every voxel's whole series, then cut into runs
        SimRng r = sim_rng(o->seed, 0xf4a1, s);
        for (size_t at = 0; at < nv; at++) {
            int h = planted(o, H, (int)(at % nx), (int)(at / nx % ny));
            double drift = 2 * sim_rng_norm(&r);
            double w_csf = o->confounds * sim_rng_norm(&nr), w_wm = o->confounds * sim_rng_norm(&nr);
            for (size_t v = 0; v < V; v++) {
                size_t run = v / per_run < o->runs ? v / per_run : o->runs - 1;
                double base = 1000 + 20 * (double)run + drift * cos(M_PI * (double)v / (double)V);
                double x = sim_rng_norm(&r) + (h >= 0 ? o->snr * y[(size_t)h * V + v] : 0);
                if (o->confounds > 0) x += w_csf * nuisance[v] + w_wm * nuisance[V + v];
                bold[v * nv + at] = mask[at] ? (float)(base + 10 * x) : 0.0f;
            }
        }
        for (size_t run = 0; run < o->runs && rc == 0; run++) {
            size_t v0 = run * per_run, nt = run + 1 < o->runs ? per_run : V - v0;
            char stem[1300], text[256];
            if (o->surface) {
                rc = write_surface_run(o, dir, sub, run, bold + v0 * nv, nt, nv, err);
                snprintf(stem, sizeof stem, "%s/%s_task-%s_run-%zu", dir, sub, o->task, run + 1);
                snprintf(path, sizeof path, "%s_desc-confounds_timeseries.tsv", stem);
                if (rc == 0) rc = write_confounds(path, nuisance, V, v0, nt, err);
                continue;
            }
            snprintf(stem, sizeof stem, "%s/%s_task-%s_run-%zu_space-%s", dir, sub, o->task, run + 1, o->space);
            snprintf(path, sizeof path, "%s_desc-preproc_bold.nii.gz", stem);
            NiftiOut b = {.ndim = 4,
                          .dim = {(int64_t)nx, (int64_t)ny, (int64_t)nz, (int64_t)nt},
                          .datatype = NIFTI_TYPE_FLOAT32,
                          .data = bold + v0 * nv,
                          .affine = affine,
                          .xform_code = code,
                          .tr = o->tr,
                          .descrip = "brainsweep simulate --fmri"};
            rc = niftiout_write(path, &b, err);
            snprintf(path, sizeof path, "%s_desc-brain_mask.nii.gz", stem);
            NiftiOut m = {.ndim = 3,
                          .dim = {(int64_t)nx, (int64_t)ny, (int64_t)nz, 1},
                          .datatype = NIFTI_TYPE_UINT8,
                          .data = mask,
                          .affine = affine,
                          .xform_code = code,
                          .descrip = "brainsweep simulate --fmri mask"};
            if (rc == 0) rc = niftiout_write(path, &m, err);
            snprintf(path, sizeof path, "%s_desc-preproc_bold.json", stem);
            snprintf(text, sizeof text, "{\"RepetitionTime\": %g, \"TaskName\": \"%s\", \"SkullStripped\": false}\n",
                     o->tr, o->task);
            if (rc == 0) rc = write_json(path, text, err);
            snprintf(stem, sizeof stem, "%s/%s_task-%s_run-%zu", dir, sub, o->task, run + 1);
            snprintf(path, sizeof path, "%s_desc-confounds_timeseries.tsv", stem);
            if (rc == 0) rc = write_confounds(path, nuisance, V, v0, nt, err);
        }
    }
    for (int hemi = 0; hemi < 2 && o->surface && rc == 0; hemi++) {
        size_t first = hemi ? nv / 2 : 0;
        snprintf(path, sizeof path, "%.1000s/groundtruth/planted_layer_hemi-%c.func.gii", o->out_dir, hemi ? 'R' : 'L');
        SurfaceOut t = {.n_vertices = hemi ? nv - nv / 2 : nv / 2,
                        .n_arrays = 1,
                        .data = truth + first,
                        .intent = NIFTI_INTENT_NONE,
                        .structure = hemi ? "CortexRight" : "CortexLeft",
                        .description = "planted hidden state; -1 noise vertex"};
        rc = surface_write(path, &t, err);
    }
    // the surfaces' geometry: each vertex at its grid voxel's centre (MNI mm), for the distances (fmri.surface_geometry)
    float *xyz = o->surface ? base_malloc(base_mul(nv, 3) * sizeof(float), "vertices") : NULL;
    for (size_t at = 0; xyz && at < nv; at++) {
        const double ijk[3] = {(double)(at % nx), (double)(at / nx % ny), (double)(at / (nx * ny))};
        for (int d = 0; d < 3; d++)
            xyz[3 * at + d] = (float)(affine[4 * d] * ijk[0] + affine[4 * d + 1] * ijk[1] + affine[4 * d + 2] * ijk[2] +
                                      affine[4 * d + 3]);
    }
    snprintf(path, sizeof path, "%.1000s/atlas", o->out_dir);
    if (xyz && rc == 0 && base_mkdirs(path) != 0) rc = base_errf(err, "%s: cannot create: %s", path, strerror(errno));
    for (int hemi = 0; hemi < 2 && xyz && rc == 0; hemi++) {
        snprintf(path, sizeof path, "%.1000s/atlas/space-%s_hemi-%c_midthickness.surf.gii", o->out_dir, o->space,
                 hemi ? 'R' : 'L');
        rc = surface_write_geometry(path, xyz + 3 * (hemi ? nv / 2 : 0), hemi ? nv - nv / 2 : nv / 2,
                                    hemi ? "CortexRight" : "CortexLeft", err);
    }
    free(xyz);
    if (rc == 0 && !o->surface) rc = write_atlas(o, affine, code, err);
    if (rc == 0 && !o->surface) {
        snprintf(path, sizeof path, "%.1000s/groundtruth/planted_layer.nii.gz", o->out_dir);
        NiftiOut t = {.ndim = 3,
                      .dim = {(int64_t)nx, (int64_t)ny, (int64_t)nz, 1},
                      .datatype = NIFTI_TYPE_FLOAT32,
                      .data = truth,
                      .affine = affine,
                      .xform_code = code,
                      .descrip = "planted hidden state; -1 noise voxel"};
        rc = niftiout_write(path, &t, err);
    }
    if (rc == 0) {
        char text[2048];
        snprintf(path, sizeof path, "%.1000s/groundtruth/truth.json", o->out_dir);
        snprintf(text, sizeof text,
                 "{\"model\": \"%s\", \"stimulus\": \"%s\", \"seed\": %llu, \"hidden_states\": %zu, \"snr\": %g, "
                 "\"tr\": %g, \"volumes\": %zu, \"runs\": %zu, \"subjects\": %zu, \"grid\": [%d, %d, %d], "
                 "\"surface\": %s, \"signal\": \"voxels with j < ny/2 carry hidden state floor(i * H / nx)\"}\n",
                 o->model_path, o->stimulus, (unsigned long long)o->seed, H, o->snr, o->tr, V, o->runs, o->subjects,
                 o->dim[0], o->dim[1], o->dim[2], o->surface ? "true" : "false");
        rc = write_json(path, text, err);
    }
    free(bold), free(mask), free(truth), free(y), free(nuisance);
    stim_free(&st);
    return rc;
}

int sim_fmri_make(const SimFmriOptions *o, char *err) {
    if (!o->brain_mask) return make(o, NULL, NULL, err);
    if (o->surface)
        return base_errf(err, "simulate --fmri: --brain places the voxels in a brain; surface runs (--surface) are the "
                              "grid's voxels");
    FmriGrid brain;
    uint8_t *mask;
    if (fmri_read_mask(o->brain_mask, &brain, &mask, err)) return -1;
    SimFmriOptions in_brain = *o;
    for (int d = 0; d < 3; d++) in_brain.dim[d] = (int)brain.dim[d];
    int rc = make(&in_brain, &brain, mask, err);
    free(mask);
    return rc;
}
