#include "mpi/results.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/base.h"
#include "host/h5io.h"
#include "host/log.h"
#include "mpi/comm.h"

// ----------------------------------------------------------------------------
// writing helpers

static void attr_int(hid_t obj, const char *name, long value) {
    hid_t sp = CHECK_H5(H5Screate(H5S_SCALAR));
    hid_t a = CHECK_H5(H5Acreate2(obj, name, H5T_NATIVE_LONG, sp, H5P_DEFAULT, H5P_DEFAULT));
    CHECK_H5(H5Awrite(a, H5T_NATIVE_LONG, &value));
    H5Aclose(a);
    H5Sclose(sp);
}

// a float32 dataset filled with NaN, allocated at creation so MPI-IO ranks can write into it
static void create_nan_dataset(hid_t g, const char *name, int rank, const hsize_t *dims, const char *dim_names,
                               const char *description) {
    hid_t sp = CHECK_H5(H5Screate_simple(rank, dims, NULL));
    hid_t dcpl = CHECK_H5(H5Pcreate(H5P_DATASET_CREATE));
    float nan = NAN;
    CHECK_H5(H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan));
    CHECK_H5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
    CHECK_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC));
    hid_t d = CHECK_H5(H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    h5_describe(d, dim_names, description);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
}


// ----------------------------------------------------------------------------
// create (rank 0)

// /electrodes: what each target of an iEEG sweep is (one row per region-axis column)
static void write_electrodes(hid_t f, const ResultsMeta *m) {
    size_t R = m->R;
    hid_t g = h5_group(f, "/electrodes");
    h5_attr_string(g, "space", m->space);
    hsize_t three[1] = {3};
    h5_write_array(g, "pmhg_left", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->pmhg_left, 1, three, "xyz",
                "left posteromedial Heschl's gyrus, the reference of the distances (mm, in space)");
    h5_write_array(g, "pmhg_right", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->pmhg_right, 1, three, "xyz",
                "right posteromedial Heschl's gyrus");
    const char **s = base_malloc(3 * R * sizeof(char *), "electrodes");
    double *v = base_malloc(5 * R * sizeof(double), "electrodes");
    for (size_t e = 0; e < R; e++) {
        const IeegElectrode *x = &m->electrodes[e];
        s[e] = x->subject, s[R + e] = x->name, s[2 * R + e] = x->region;
        memcpy(v + 3 * e, x->xyz, 3 * sizeof(double));
        v[3 * R + e] = x->distance, v[4 * R + e] = x->q;
    }
    h5_write_strings(g, "subject", s, R, "the electrode's subject, per column of the region axis");
    h5_write_strings(g, "name", s + R, R, "the channel's name");
    h5_write_strings(g, "region", s + 2 * R, R, "region label");
    hsize_t d2[2] = {R, 3}, d1[1] = {R};
    h5_write_array(g, "xyz", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, 2, d2, "electrode, xyz", "position (mm, in space)");
    h5_write_array(g, "distance", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v + 3 * R, 1, d1, "electrode",
                "mm from posteromedial Heschl's gyrus of the electrode's hemisphere");
    h5_write_array(g, "responsive_q", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v + 4 * R, 1, d1, "electrode",
                "speech-responsiveness q-value (BH over the subject's electrodes)");
    free(s), free(v);
    H5Gclose(g);
}

void results_create(const char *path, const ResultsMeta *m) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  // CHECK_H5 prints the stack itself
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) DIE("check that the output folder exists and is writable (output.path)", "cannot create %s", path);

    h5_attr_string(f, "schema", RESULTS_SCHEMA);
    attr_int(f, "schema_version", RESULTS_SCHEMA_VERSION);
    attr_int(f, "complete", 0);
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    h5_attr_string(f, "created", when);
    h5_attr_string(f, "config", m->config_text);
    h5_attr_string(f, "config_resolved", m->config_resolved);
    h5_attr_string(f, "identity", m->identity);

    hid_t g = h5_group(f, "/models");
    h5_write_strings(g, "name", m->model_name, m->M, "model names from the config");
    h5_write_strings(g, "path", m->model_path, m->M, "model files as given in the config");
    h5_write_strings(g, "architecture", m->model_arch, m->M, "architecture from the model file");
    hsize_t dm[1] = {m->M};
    h5_write_array(g, "n_layers", H5T_STD_I32LE, H5T_NATIVE_INT, m->n_layers, 1, dm, "model",
                "decoder layers L; the model's hidden states are layers 0..L of /scores");
    h5_write_array(g, "d_model", H5T_STD_I32LE, H5T_NATIVE_INT, m->d_model, 1, dm, "model", "hidden size");
    h5_write_array(g, "n_tokens", H5T_STD_I64LE, H5T_NATIVE_INT64, m->n_tokens, 1, dm, "model",
                "tokens of the stimulus text, BOS excluded");
    hsize_t dmc[2] = {m->M, m->C};
    h5_write_array(g, "context_window", H5T_STD_I32LE, H5T_NATIVE_INT, m->context_window, 2, dmc, "model,context",
                "tokens per forward pass (BOS included)");
    h5_write_array(g, "n_sequences", H5T_STD_I32LE, H5T_NATIVE_INT, m->n_sequences, 2, dmc, "model,context",
                "sequences (chunks or per-word windows) run; -1 where the features came from an earlier run or "
                "the features cache");
    h5_write_array(g, "tokenize_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->tokenize_seconds, 2, dmc,
                "model,context", "wall time of tokenisation and word-to-token alignment (s); NaN as above");
    h5_write_array(g, "forward_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->forward_seconds, 2, dmc,
                "model,context", "wall time of the forward passes and hidden-state capture, summed over the "
                "ranks that shared them (s); NaN as above");
    H5Gclose(g);

    g = h5_group(f, "/contexts");
    h5_write_strings(g, "name", m->context_name, m->C, "context policies, as configured (context.policy)");
    H5Gclose(g);

    g = h5_group(f, "/subjects");
    h5_write_strings(g, "name", m->subject_name, m->S, "subject ids (file name up to its first - _ or .)");
    h5_write_strings(g, "file", m->subject_file, m->S, "recording file of each subject");
    H5Gclose(g);
    g = h5_group(f, "/regions");
    h5_write_strings(g, "name", m->region_name, m->R, "regions, one per column of the recordings");
    H5Gclose(g);
    if (m->electrodes) write_electrodes(f, m);
    g = h5_group(f, "/stimulus");
    h5_write_strings(g, "word", m->word, m->W, "words in order (pauses dropped)");
    hsize_t dw[1] = {m->W};
    h5_write_array(g, "onset", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->word_onset, 1, dw, "word", "onset (s)");
    h5_write_array(g, "offset", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->word_offset, 1, dw, "word", "offset (s)");
    H5Gclose(g);

    g = h5_group(f, "/scores");
    hsize_t d5[5] = {m->M, m->C, m->H, m->S, m->R};
    const char *dims5 = "model,context,layer,subject,region";
    create_nan_dataset(g, "r", 5, d5, dims5,
                       "Pearson r between held-out recordings and the cross-validated ridge prediction from that "
                       "layer's features, averaged over outer folds; layer 0 = embeddings, layer L = final-normed "
                       "output; NaN past a model's L, for constant targets and for failed units (/units)");
    create_nan_dataset(g, "r2", 5, d5, dims5, "held-out coefficient of determination R^2, averaged over outer folds");
    create_nan_dataset(g, "alpha", 5, d5, dims5,
                       "ridge penalty chosen on training data (ridge.select), geometric mean over outer folds");
    create_nan_dataset(g, "p", 5, d5, dims5,
                       "one-sided p-value of r against circular shifts of the target (NaN without ridge.permutations)");
    create_nan_dataset(g, "q", 5, d5, dims5,
                       "Benjamini-Hochberg q-value of p over the fit's subjects x regions (NaN without permutations)");
    H5Gclose(g);

    if (m->P) {
        g = h5_group(f, "/weights");
        hsize_t d6[6] = {m->M, m->C, m->H, m->P, m->S, m->R};
        create_nan_dataset(g, "beta", 6, d6, "model,context,layer,feature,subject,region",
                           "ridge weights refitted on all samples with each target's chosen penalty, on the z-scored "
                           "design (features delay-major: delay d of column c is feature d*C + c; extra bands after "
                           "the layer); NaN past /design/width");
        create_nan_dataset(g, "intercept", 5, d5, dims5, "intercept of that refit");
        H5Gclose(g);
    }

    g = h5_group(f, "/design");
    hsize_t da[1] = {m->A}, dv[1] = {m->V}, dmh[2] = {m->M, m->H};
    h5_write_array(g, "alphas", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, m->alphas, 1, da, "alpha", "the ridge penalty grid");
    h5_write_array(g, "sample_block", H5T_STD_I32LE, H5T_NATIVE_INT, m->sample_block, 1, dv, "sample",
                "outer fold (or group) that holds each sample out");
    h5_write_array(g, "width", H5T_STD_I32LE, H5T_NATIVE_INT32, m->width, 2, dmh, "model,layer",
                "features of each fit's design (0 past a model's L)");
    h5_write_array(g, "components", H5T_STD_I32LE, H5T_NATIVE_INT32, m->components, 2, dmh, "model,layer",
                "PCA components of each layer (0: no PCA)");
    H5Gclose(g);

    g = h5_group(f, "/meta");
    h5_attr_string(g, "brainsweep_version", m->code_version);
    h5_attr_string(g, "git_revision", m->code_git);
    h5_attr_string(g, "build_flags", m->code_flags);
    h5_attr_string(g, "mpi_library", m->mpi_version);
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    char h5v[32];
    snprintf(h5v, sizeof h5v, "%u.%u.%u", maj, min, rel);
    h5_attr_string(g, "hdf5_library", h5v);
    attr_int(g, "n_ranks", m->n_ranks);
    H5Gclose(g);
    CHECK_H5(H5Fclose(f));
}

// ----------------------------------------------------------------------------
// collective score writing

// Bytes one rank writes in one collective call at most: ROMIO counts an MPI-IO access in an int, so
// one of 2 GiB or more fails (SWIFT caps its writes below it the same way). A test lowers the cap with
// BRAINSWEEP_TEST_MAX_WRITE_BYTES to make small files go out in several rounds; nothing else should.
static size_t max_write_bytes(void) {
    const char *s = getenv("BRAINSWEEP_TEST_MAX_WRITE_BYTES");
    long long v = s ? atoll(s) : 0;
    return v > 0 ? (size_t)v : ((size_t)1 << 31) - ((size_t)1 << 20);
}

// Layers are sorted by (m, c, h) and each covers a whole [m, c, h, ...] block of the dataset. A rank's
// layers are a sequence of rows (of the dataset's 4th axis, layer by layer, in the packed buffer's
// order) sent in rounds of at most max_write_bytes; every rank joins every round (an empty selection
// when it has nothing left), since each round is one collective call. Each round's file selection is
// a union of row ranges in (m, c, h, row) order, so its row-major order is the buffer's.
static void write_layers(hid_t f, const char *name, int rank, const ResultsLayers *u, const float *data, hid_t dxpl) {
    hid_t d = CHECK_H5(H5Dopen2(f, name, H5P_DEFAULT));
    hid_t fs = CHECK_H5(H5Dget_space(d));
    hsize_t dims[6];
    ASSERT(H5Sget_simple_extent_ndims(fs) == rank && rank >= 4 && rank <= 6);
    CHECK_H5(H5Sget_simple_extent_dims(fs, dims, NULL));
    size_t row_len = 1, rows_per_layer = (size_t)dims[3];
    for (int i = 4; i < rank; i++) row_len *= (size_t)dims[i];
    size_t cap = max_write_bytes() / (row_len * sizeof(float));
    if (cap == 0)
        DIE("this is a bug in brainsweep", "%s: one row of %zu floats exceeds the %zu bytes of one write", name,
            row_len, max_write_bytes());
    size_t rows = u->n * rows_per_layer;
    long mine = (long)((rows + cap - 1) / cap), rounds;
    CHECK_MPI(MPI_Allreduce(&mine, &rounds, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD));
    for (long k = 0; k < rounds; k++) {
        size_t r0 = (size_t)k * cap < rows ? (size_t)k * cap : rows, r1 = r0 + cap < rows ? r0 + cap : rows;
        hsize_t n = (hsize_t)((r1 - r0) * row_len), one = 1;
        hid_t ms = CHECK_H5(H5Screate_simple(1, n ? &n : &one, NULL));
        if (n == 0) {
            CHECK_H5(H5Sselect_none(fs));
            CHECK_H5(H5Sselect_none(ms));
        }
        for (size_t j = r0 / rows_per_layer, first = 1; n && j < u->n && j * rows_per_layer < r1; j++, first = 0) {
            size_t lo = j * rows_per_layer > r0 ? 0 : r0 - j * rows_per_layer;
            size_t hi = (j + 1) * rows_per_layer < r1 ? rows_per_layer : r1 - j * rows_per_layer;
            hsize_t start[6] = {u->m[j], u->c[j], u->h[j], lo, 0, 0}, count[6] = {1, 1, 1, hi - lo, 1, 1};
            for (int i = 4; i < rank; i++) count[i] = dims[i];
            CHECK_H5(H5Sselect_hyperslab(fs, first ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, count, NULL));
        }
        CHECK_H5(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, dxpl, data + r0 * row_len));
        H5Sclose(ms);
    }
    if (comm_rank() == 0) log_debug("results: %s in %ld collective write(s)", name, rounds);
    H5Sclose(fs);
    H5Dclose(d);
}

void results_write_layers(const char *path, const ResultsMeta *meta, const ResultsLayers *u) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    size_t T = meta->S * meta->R, per = (6 + meta->P) * T;
    for (size_t j = 0; j < u->n; j++) {
        ASSERT(u->m[j] < meta->M && u->c[j] < meta->C && u->h[j] < meta->H);
        ASSERT(j == 0 || (u->m[j] * meta->C + u->c[j]) * meta->H + u->h[j] >
                             (u->m[j - 1] * meta->C + u->c[j - 1]) * meta->H + u->h[j - 1]);
    }
    hid_t fapl = CHECK_H5(H5Pcreate(H5P_FILE_ACCESS));
    CHECK_H5(H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL));
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    if (f < 0) DIE("every rank must see the output folder (a shared file system)", "cannot open %s with MPI-IO", path);
    hid_t dxpl = CHECK_H5(H5Pcreate(H5P_DATASET_XFER));
    CHECK_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
    // the record's rows in the store's order: r, r2, alpha, p, q, intercept, beta
    const char *name[7] = {"/scores/r", "/scores/r2", "/scores/alpha", "/scores/p", "/scores/q", "/weights/intercept",
                           "/weights/beta"};
    size_t rows[7] = {1, 1, 1, 1, 1, 1, meta->P}, first = 0;
    float *packed = base_malloc((u->n ? u->n : 1) * (meta->P > 1 ? meta->P : 1) * T * sizeof(float), "results");
    for (int k = 0; k < 7; k++) {
        if (k >= 5 && !meta->P) break;
        size_t width = rows[k] * T;
        for (size_t j = 0; j < u->n; j++) memcpy(packed + j * width, u->values + j * per + first, width * sizeof(float));
        write_layers(f, name[k], k == 6 ? 6 : 5, u, packed, dxpl);
        first += width;
    }
    free(packed);
    H5Pclose(dxpl);
    H5Pclose(fapl);
    CHECK_H5(H5Fclose(f));
}

// ----------------------------------------------------------------------------
// finish (rank 0)

static void fsync_path(const char *path, int directory) {
    int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

void results_finish(const char *path, const char *final_path, const ResultsMeta *m, const ResultsRun *run,
                    float *layer_region) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = CHECK_H5(H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT));
    size_t MC = m->M * m->C, H = m->H, S = m->S, R = m->R;
    float *r = base_malloc(base_mul(MC * H, S * R) * sizeof(float), "scores");
    hid_t d = CHECK_H5(H5Dopen2(f, "/scores/r", H5P_DEFAULT));
    CHECK_H5(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, r));
    H5Dclose(d);

    float *sem = base_malloc(MC * H * R * sizeof(float), "summary");
    int32_t *best = base_malloc(MC * R * sizeof(int32_t), "summary");
    int32_t *n_subj = base_malloc(MC * H * R * sizeof(int32_t), "summary");
    for (size_t mc = 0; mc < MC; mc++)
        for (size_t h = 0; h < H; h++)
            for (size_t k = 0; k < R; k++) {
                double s = 0, ss = 0;
                int n = 0;
                for (size_t si = 0; si < S; si++) {
                    float v = r[((mc * H + h) * S + si) * R + k];
                    if (!isfinite(v)) continue;
                    s += v;
                    ss += (double)v * v;
                    n++;
                }
                size_t o = (mc * H + h) * R + k;
                double mean = n ? s / n : NAN;
                layer_region[o] = (float)mean;
                sem[o] = n > 1 ? (float)sqrt(fmax(ss / n - mean * mean, 0) * n / (n - 1) / n) : NAN;
                n_subj[o] = n;
            }
    for (size_t mc = 0; mc < MC; mc++)
        for (size_t k = 0; k < R; k++) {
            int32_t b = -1;
            for (size_t h = 0; h < H; h++) {
                float v = layer_region[(mc * H + h) * R + k];
                if (isfinite(v) && (b < 0 || v > layer_region[(mc * H + (size_t)b) * R + k])) b = (int32_t)h;
            }
            best[mc * R + k] = b;
        }
    hid_t g = h5_group(f, "/summary");
    hsize_t d4[4] = {m->M, m->C, H, R}, d3[3] = {m->M, m->C, R};
    h5_write_array(g, "layer_region", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, layer_region, 4, d4, "model,context,layer,region",
                "mean over subjects of /scores/r: the layer x region alignment matrix of each model and context");
    h5_write_array(g, "layer_region_sem", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sem, 4, d4, "model,context,layer,region",
                "standard error of that mean over subjects");
    h5_write_array(g, "n_subjects", H5T_STD_I32LE, H5T_NATIVE_INT32, n_subj, 4, d4, "model,context,layer,region",
                "subjects with a finite r behind each mean");
    h5_write_array(g, "best_layer", H5T_STD_I32LE, H5T_NATIVE_INT32, best, 3, d3, "model,context,region",
                "layer with the highest mean r per region (-1 if none is finite)");
    H5Gclose(g);

    g = h5_group(f, "/units");
    hsize_t du[3] = {m->M, m->C, H};
    h5_write_array(g, "status", H5T_STD_I8LE, H5T_NATIVE_INT8, run->status, 3, du, "model,context,layer",
                "1: fitted; -1: failed (see error); 0: no such layer (past the model's L)");
    h5_write_strings(g, "error", run->error, MC * H, "why a failed (model, context, layer) failed; empty otherwise; "
                                                  "index model*contexts*layers + context*layers + layer");
    H5Gclose(g);

    hid_t meta = CHECK_H5(H5Gopen2(f, "/meta", H5P_DEFAULT));
    hsize_t dn[1] = {run->n_stages}, drs[2] = {(hsize_t)m->n_ranks, run->n_shares};
    h5_write_strings(meta, "stage", run->stage, run->n_stages, "stages of the sweep, in order");
    h5_write_array(meta, "stage_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, run->stage_seconds, 1, dn, "stage",
                "wall time per stage on rank 0 in this run (s)");
    h5_write_strings(meta, "share", run->share, run->n_shares, "what each rank's time went to");
    h5_write_array(meta, "rank_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, run->rank_seconds, 2, drs, "rank,share",
                "seconds each rank of this run spent on each share (computing, communicating, writing, waiting)");
    H5Gclose(meta);

    // complete is the last thing written: a reader that sees 1 sees everything else
    long one = 1;
    hid_t a = CHECK_H5(H5Aopen(f, "complete", H5P_DEFAULT));
    CHECK_H5(H5Awrite(a, H5T_NATIVE_LONG, &one));
    H5Aclose(a);
    CHECK_H5(H5Fflush(f, H5F_SCOPE_GLOBAL));
    CHECK_H5(H5Fclose(f));
    fsync_path(path, 0);
    if (rename(path, final_path) != 0)
        DIE("check permissions of the output folder", "cannot rename %s to %s: %s", path, final_path, strerror(errno));
    char *dir = base_strdup(final_path);
    fsync_path(dirname(dir), 1);
    free(dir);
    free(r);
    free(sem);
    free(best);
    free(n_subj);
}

// ----------------------------------------------------------------------------
// reading

void results_print_matrix(FILE *out, const char *model, const char *context, int n_layers, const float *lr,
                          const char *const *regions, size_t R) {
    fprintf(out, "\n%s, context %s: mean Pearson r over subjects, held-out (rows: hidden state; 0 = embeddings, %d = "
                 "final norm; * = best layer of the region)\n",
            model, context, n_layers);
    fprintf(out, "%6s", "layer");
    for (size_t k = 0; k < R; k++) fprintf(out, " %8.8s", regions[k]);
    fprintf(out, "\n");
    for (int h = 0; h <= n_layers; h++) {
        fprintf(out, "%6d", h);
        for (size_t k = 0; k < R; k++) {
            int is_best = 1;
            for (int h2 = 0; h2 <= n_layers; h2++)
                if (lr[(size_t)h2 * R + k] > lr[(size_t)h * R + k]) is_best = 0;
            fprintf(out, " %7.3f%s", lr[(size_t)h * R + k], is_best && isfinite(lr[(size_t)h * R + k]) ? "*" : " ");
        }
        fprintf(out, "\n");
    }
}

void results_print_grouped(FILE *out, const char *model, const char *context, int n_layers, const float *layer_col,
                           const char *const *label, size_t R, size_t H) {
    const char **name = base_malloc(R * sizeof(char *), "labels");
    size_t *of = base_malloc(R * sizeof(size_t), "labels"), G = 0;
    for (size_t e = 0; e < R; e++) {
        size_t g = 0;
        while (g < G && strcmp(name[g], label[e]) != 0) g++;
        if (g == G) name[G++] = label[e];
        of[e] = g;
    }
    float *by = base_calloc(H * G, sizeof(float), "labels");
    size_t *count = base_malloc(G * sizeof(size_t), "labels");
    for (size_t h = 0; h < H; h++) {
        memset(count, 0, G * sizeof(size_t));
        for (size_t e = 0; e < R; e++)
            if (isfinite(layer_col[h * R + e])) by[h * G + of[e]] += layer_col[h * R + e], count[of[e]]++;
        for (size_t g = 0; g < G; g++) by[h * G + g] = count[g] ? by[h * G + g] / (float)count[g] : NAN;
    }
    results_print_matrix(out, model, context, n_layers, by, name, G);
    fprintf(out, "(mean r of the electrodes of each region label; per electrode in /scores and /summary/layer_region)\n");
    free(name), free(of), free(by), free(count);
}

hid_t results_open(const char *path, const char *reader, char *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!base_file_exists(path)) return base_errf(err, "%s: no such file", path);
    if (H5Fis_hdf5(path) <= 0) return base_errf(err, "%s: not a brainsweep results file (not HDF5)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return base_errf(err, "%s: cannot open as HDF5", path);
    char schema[64] = "";
    long version = h5_read_attr_long(f, "schema_version");
    if (h5_read_attr_string(f, "schema", schema, sizeof schema) != 0 || strcmp(schema, RESULTS_SCHEMA) != 0)
        base_errf(err, "%s: not a brainsweep results file (no '%s' schema attribute)", path, RESULTS_SCHEMA);
    else if (version != RESULTS_SCHEMA_VERSION)
        base_errf(err, "%s: schema version %ld; %s reads version %d (rerun the sweep with this brainsweep)", path,
                  version, reader, RESULTS_SCHEMA_VERSION);
    else if (h5_read_attr_long(f, "complete") != 1)
        base_errf(err, "%s: incomplete results (the sweep did not finish)", path);
    else
        return f;
    H5Fclose(f);
    return -1;
}

int results_inspect(const char *path, FILE *out, char *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0) return base_errf(err, "%s: cannot read: %s", path, strerror(errno));
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) return base_errf(err, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return base_errf(err, "%s: cannot open as HDF5", path);
    int rc = -1;
    char schema[64] = "", created[64] = "", version[64] = "", git[64] = "";
    long schema_version = 0, complete = 0;
    char **models = NULL, **regions = NULL, **contexts = NULL;
    size_t M = 0, R = 0, S = 0, W = 0, C = 1;
    int *n_layers = NULL;
    int8_t *status = NULL;
    float *lr = NULL;
    if (h5_read_attr_string(f, "schema", schema, sizeof schema) != 0 || strcmp(schema, RESULTS_SCHEMA) != 0) {
        base_errf(err, "%s: not a brainsweep results file (no '%s' schema attribute)", path, RESULTS_SCHEMA);
        goto done;
    }
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    if (h5_attr_one(a)) H5Aread(a, H5T_NATIVE_LONG, &schema_version);
    H5Aclose(a);
    a = H5Aopen(f, "complete", H5P_DEFAULT);
    if (h5_attr_one(a)) H5Aread(a, H5T_NATIVE_LONG, &complete);
    H5Aclose(a);
    if (schema_version < 1 || schema_version > RESULTS_SCHEMA_VERSION) {  // what inspect prints is in every version
        base_errf(err, "%s: schema version %ld, this brainsweep reads versions 1 to %d", path, schema_version,
                  RESULTS_SCHEMA_VERSION);
        goto done;
    }
    if (!complete) {
        base_errf(err, "%s: incomplete results (the sweep did not finish)", path);
        goto done;
    }
    h5_read_attr_string(f, "created", created, sizeof created);
    hid_t meta = H5Gopen2(f, "/meta", H5P_DEFAULT);
    h5_read_attr_string(meta, "brainsweep_version", version, sizeof version);
    h5_read_attr_string(meta, "git_revision", git, sizeof git);
    H5Gclose(meta);
    models = h5_read_strings(f, "/models/name", &M);
    regions = h5_read_strings(f, "/regions/name", &R);
    char **subjects = h5_read_strings(f, "/subjects/name", &S);
    h5_free_strings(subjects, S);
    char **words = h5_read_strings(f, "/stimulus/word", &W);
    h5_free_strings(words, W);
    if (!models || !regions) {
        base_errf(err, "%s: results file lacks /models/name or /regions/name", path);
        goto done;
    }
    if (schema_version >= 3 && !(contexts = h5_read_strings(f, "/contexts/name", &C))) {
        base_errf(err, "%s: results file lacks /contexts/name", path);
        goto done;
    }
    // every shape below comes from the file: check each against the name tables before reading into
    // buffers sized by them, and each model's layer count against the rows stored
    hsize_t dims[H5IO_MAX_RANK];
    int nd = 0, want_nd = schema_version >= 3 ? 4 : 3;  // (M, H, R) before version 3, (M, C, H, R) since
    if (h5_dims(f, "/summary/layer_region", dims, &nd) || nd != want_nd || dims[0] != M || dims[nd - 1] != R ||
        (nd == 4 && dims[1] != C) || dims[nd - 2] == 0 || dims[nd - 2] > (1u << 20)) {
        base_errf(err, "%s: /summary/layer_region is missing or not (models, contexts, hidden states, regions) = "
                       "(%zu, %zu, H, %zu)", path, M, C, R);
        goto done;
    }
    size_t H = (size_t)dims[nd - 2];
    if (!(n_layers = h5_read_new(f, "/models/n_layers", H5T_NATIVE_INT, M))) {
        base_errf(err, "%s: /models/n_layers is missing or does not hold one count per model (%zu)", path, M);
        goto done;
    }
    for (size_t mi = 0; mi < M; mi++)
        if (n_layers[mi] < 0 || (size_t)n_layers[mi] >= H) {
            base_errf(err, "%s: model %zu has %d layers, but /summary/layer_region holds %zu hidden states", path, mi,
                      n_layers[mi], H);
            goto done;
        }
    size_t MCH = base_mul(base_mul(M, C), H);
    if (!(lr = h5_read_new(f, "/summary/layer_region", H5T_NATIVE_FLOAT, base_mul(MCH, R)))) {
        base_errf(err, "%s: /summary/layer_region cannot be read as numbers", path);
        goto done;
    }
    size_t failed = 0;
    if (schema_version >= 3 && (status = h5_read_new(f, "/units/status", H5T_NATIVE_INT8, MCH)))
        for (size_t i = 0; i < MCH; i++) failed += status[i] == UNIT_FAILED;

    fprintf(out, "%s: %s schema v%ld, complete, created %s by brainsweep %s (%s)\n", path, schema, schema_version,
            created, version, git);
    fprintf(out, "%zu model(s), %zu context(s), %zu subject(s), %zu region(s), %zu words; %zu failed layer fit(s)\n", M,
            C, S, R, W, failed);
    size_t n_labels = 0;
    char **labels = h5_read_strings(f, "/electrodes/region", &n_labels);  // iEEG sweeps: one column per electrode
    for (size_t mi = 0; mi < M; mi++)
        for (size_t ci = 0; ci < C; ci++) {
            const char *ctx = contexts ? contexts[ci] : "as configured";
            const float *x = lr + (mi * C + ci) * H * R;
            if (labels && n_labels == R)
                results_print_grouped(out, models[mi], ctx, n_layers[mi], x, (const char *const *)labels, R, H);
            else results_print_matrix(out, models[mi], ctx, n_layers[mi], x, (const char *const *)regions, R);
        }
    h5_free_strings(labels, n_labels);
    rc = 0;
done:
    free(lr);
    free(n_layers);
    free(status);
    h5_free_strings(contexts, C);
    h5_free_strings(models, M);
    h5_free_strings(regions, R);
    H5Fclose(f);
    return rc;
}
