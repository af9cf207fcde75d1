#include "host/results_read.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/base.h"
#include "host/h5io.h"

// names come from a results file, which anyone may have written: printed escaped (no control codes reach the
// terminal)
#define quoted(buf, s) base_escape(buf, sizeof buf, s, strlen(s))

void results_print_matrix(FILE *out, const char *model, const char *context, int n_layers, const float *lr,
                          const char *const *regions, size_t R) {
    char qm[BASE_QUOTE_LEN], qc[BASE_QUOTE_LEN], qr[BASE_QUOTE_LEN];
    fprintf(out, "\n%s, context %s: mean Pearson r over subjects, held-out (rows: hidden state; 0 = embeddings, %d = "
                 "final norm; * = best layer of the region)\n",
            quoted(qm, model), quoted(qc, context), n_layers);
    fprintf(out, "%6s", "layer");
    for (size_t k = 0; k < R; k++) fprintf(out, " %8.8s", quoted(qr, regions[k]));
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
    if (G == 1 && strcmp(name[0], "voxels") == 0)  // a bids_fmri sweep: every voxel column as one
        fprintf(out, "(mean r over the voxels; per voxel in /scores and /summary/layer_region, as images: brainsweep "
                     "maps)\n");
    else
        fprintf(out, "(mean r of the electrodes of each region label; per electrode in /scores and /summary/layer_region)\n");
    free(name), free(of), free(by), free(count);
}

int results_args_file_dir(const char *cmd, int argc, char **argv, const char **path, const char **dir) {
    *path = *dir = NULL;
    const char *problem = NULL;
    char unexpected[BASE_QUOTE_LEN + 32];
    for (int i = 0; i < argc && !problem; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && !*dir) {
            *dir = argv[++i];
        } else if (argv[i][0] != '-' && !*path) {
            *path = argv[i];
        } else {
            char q[BASE_QUOTE_LEN];
            snprintf(unexpected, sizeof unexpected, "unexpected argument '%s'",
                     base_escape(q, sizeof q, argv[i], strlen(argv[i])));
            problem = unexpected;
        }
    }
    if (!problem && !*path) problem = "a results file is required";
    if (!problem && !*dir) problem = "an output folder (-o DIR) is required";
    if (!problem) return 0;
    fprintf(stderr, "brainsweep %s: %s\nusage: brainsweep %s RESULTS.h5 -o DIR\n", cmd, problem, cmd);
    return 2;
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

    char qt[BASE_QUOTE_LEN], qv[BASE_QUOTE_LEN], qg[BASE_QUOTE_LEN];
    fprintf(out, "%s: %s schema v%ld, complete, created %s by brainsweep %s (%s)\n", path, schema,
            schema_version, quoted(qt, created), quoted(qv, version), quoted(qg, git));
    fprintf(out, "%zu model(s), %zu context(s), %zu subject(s), %zu region(s), %zu words; %zu failed layer fit(s)\n", M,
            C, S, R, W, failed);
    size_t n_labels = 0;
    char **labels = h5_read_strings(f, "/electrodes/region", &n_labels);  // iEEG sweeps: one column per electrode
    const char **voxel_label = NULL;  // bids_fmri sweeps: thousands of voxel columns, printed as their mean
    if (!labels && H5Lexists(f, "/voxels", H5P_DEFAULT) > 0) {
        voxel_label = base_malloc((R ? R : 1) * sizeof(char *), "labels");
        for (size_t e = 0; e < R; e++) voxel_label[e] = "voxels";
    }
    for (size_t mi = 0; mi < M; mi++)
        for (size_t ci = 0; ci < C; ci++) {
            const char *ctx = contexts ? contexts[ci] : "as configured";
            const float *x = lr + (mi * C + ci) * H * R;
            if (labels && n_labels == R)
                results_print_grouped(out, models[mi], ctx, n_layers[mi], x, (const char *const *)labels, R, H);
            else if (voxel_label)
                results_print_grouped(out, models[mi], ctx, n_layers[mi], x, voxel_label, R, H);
            else results_print_matrix(out, models[mi], ctx, n_layers[mi], x, (const char *const *)regions, R);
        }
    h5_free_strings(labels, n_labels);
    free(voxel_label);
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
