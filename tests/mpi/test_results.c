// mpi/results: a results file made through the public API as the sweep makes it (rank 0 creates it, every rank
// writes its layers collectively, rank 0 finishes it) and read back: every per-fit dataset holds the values its
// layer record held, in place; a failed layer stays NaN with its status and reason; the summaries equal the means
// and best layers worked by hand; the schema attributes; the final name only once complete; the readers refuse an
// incomplete file and a file that is not HDF5.
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host/base.h"
#include "host/h5io.h"
#include "mpi/results.h"
#include "tests/mpi/ranks.h"
#include "tests/test.h"

enum { M = 1, C = 2, H = 3, S = 2, R = 2, T = S * R, W = 3, V = 3, A = 2, P = 1, ROWS = 6 + P, L = M * C * H };
enum { FAILED_LAYER = 5 };  // (context 1, layer 2): left unwritten, status -1

// row k of layer l (l = c * H + h): r has a worked mean over subjects, the other rows distinct values
static float value(size_t l, int row, size_t t) {
    size_t c = l / H, h = l % H, s = t / R, k = t % R;
    if (row == 0) return (float)(0.1 * (double)(h + 1) * (double)(1 + 2 * s) + 0.01 * (double)k + 0.1 * (double)c);
    return (float)(10 * row + (int)t + 100 * (int)l);
}
// the mean of r over the two subjects: 0.1 (h + 1) (1 + 3) / 2 + 0.01 k + 0.1 c
static double worked_mean(size_t l, size_t k) {
    return 0.2 * (double)(l % H + 1) + 0.01 * (double)k + 0.1 * (double)(l / H);
}

// a dataset of L x T floats (P = 1: beta has the same size) against the records' row
static void check_rows(hid_t f, const char *name, int row) {
    float got[L * T];
    int ok = h5_read_array(f, name, H5T_NATIVE_FLOAT, got, L * T) == 0;
    size_t bad = 0;
    for (size_t l = 0; ok && l < L; l++)
        for (size_t t = 0; t < T; t++) {
            float g = got[l * T + t];
            bad += l == FAILED_LAYER ? !isnan(g) : g != value(l, row, t);
        }
    CHECK(ok && bad == 0, "read_back/%s_in_place (%zu wrong)", name, bad);
}

static void check_file(const char *final, const char *partial, const float *layer_region) {
    CHECK(access(final, F_OK) == 0 && access(partial, F_OK) != 0, "final_name_only_when_complete");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(final, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "opens_as_hdf5");
    if (f < 0) return;
    char schema[64] = "";
    h5_read_attr_string(f, "schema", schema, sizeof schema);
    CHECK(strcmp(schema, "brainsweep-results") == 0, "schema/name (%s)", schema);
    CHECK(h5_read_attr_long(f, "schema_version") == 3, "schema/version_3");
    CHECK(h5_read_attr_long(f, "complete") == 1, "schema/complete_is_1");
    hsize_t dims[H5IO_MAX_RANK];
    int rank = 0;
    CHECK(h5_dims(f, "/scores/r", dims, &rank) == 0 && rank == 5 && dims[0] == M && dims[1] == C && dims[2] == H &&
              dims[3] == S && dims[4] == R,
          "schema/scores_r_is_model_context_layer_subject_region");
    hid_t d = H5Dopen2(f, "/weights/beta", H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t bd[6] = {0};
    int brank = sp >= 0 ? H5Sget_simple_extent_dims(sp, bd, NULL) : -1;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    CHECK(brank == 6 && bd[0] == M && bd[1] == C && bd[2] == H && bd[3] == P && bd[4] == S && bd[5] == R,
          "schema/weights_beta_is_model_context_layer_feature_subject_region");
    const char *name[ROWS] = {"/scores/r", "/scores/r2", "/scores/alpha", "/scores/p", "/scores/q",
                              "/weights/intercept", "/weights/beta"};
    for (int k = 0; k < ROWS; k++) check_rows(f, name[k], k);

    float lr[L * R];
    int8_t status[L];
    int32_t n_subj[L * R], best[M * C * R];
    int ok = h5_read_array(f, "/summary/layer_region", H5T_NATIVE_FLOAT, lr, L * R) == 0 &&
             h5_read_array(f, "/units/status", H5T_NATIVE_INT8, status, L) == 0 &&
             h5_read_array(f, "/summary/n_subjects", H5T_NATIVE_INT32, n_subj, L * R) == 0 &&
             h5_read_array(f, "/summary/best_layer", H5T_NATIVE_INT32, best, M * C * R) == 0;
    CHECK(ok, "summary/datasets_read");
    size_t bad = 0, bad_n = 0;
    for (size_t l = 0; ok && l < L; l++)
        for (size_t k = 0; k < R; k++) {
            float v = lr[l * R + k];
            bad += l == FAILED_LAYER ? !isnan(v) : !(fabs(v - worked_mean(l, k)) <= 1e-6);
            bad += memcmp(&v, &layer_region[l * R + k], sizeof v) != 0;  // what finish hands back for printing
            bad_n += n_subj[l * R + k] != (l == FAILED_LAYER ? 0 : S);
        }
    CHECK(ok && bad == 0, "summary/layer_region_is_the_mean_over_subjects (%zu wrong)", bad);
    CHECK(ok && bad_n == 0, "summary/n_subjects (%zu wrong)", bad_n);
    // the highest mean is the last layer; in context 1 the last layer failed, so layer 1
    CHECK(ok && best[0] == 2 && best[1] == 2 && best[2] == 1 && best[3] == 1,
          "summary/best_layer_skips_the_failed_layer (%d %d %d %d)", best[0], best[1], best[2], best[3]);
    int status_ok = ok;
    for (size_t l = 0; l < L; l++) status_ok &= status[l] == (l == FAILED_LAYER ? UNIT_FAILED : UNIT_DONE);
    CHECK(status_ok, "units/status_done_and_failed");
    size_t n = 0;
    char **err = h5_read_strings(f, "/units/error", &n);
    CHECK(err && n == L && strcmp(err[FAILED_LAYER], "design is singular") == 0 && err[0][0] == '\0',
          "units/error_names_the_failed_layers_reason");
    if (err) h5_free_strings(err, n);
    char **models = h5_read_strings(f, "/models/name", &n);
    CHECK(models && n == M && strcmp(models[0], "tiny") == 0, "models/name");
    if (models) h5_free_strings(models, n);
    H5Fclose(f);
}

TEST_MAIN("test_results") {
    ranks_begin(&argc, &argv);
    int rank = comm_rank(), size = comm_size();
    char dir[256], final[400], partial[420], other[420], text[420];
    ranks_tmpdir(dir, sizeof dir, "bs-results");
    snprintf(final, sizeof final, "%s/results.h5", dir);
    snprintf(partial, sizeof partial, "%s.partial", final);

    const char *model_name[M] = {"tiny"}, *model_path[M] = {"tiny.gguf"}, *arch[M] = {"llama"};
    const char *ctx[C] = {"full", "tokens:8"}, *subj[S] = {"s1", "s2"}, *subj_file[S] = {"s1.txt", "s2.txt"};
    const char *region[R] = {"LATL", "RATL"}, *word[W] = {"a", "b", "c"};
    int n_layers[M] = {H - 1}, d_model[M] = {8}, window[M * C] = {16, 9}, n_seq[M * C] = {1, 3};
    int64_t n_tokens[M] = {5};
    double secs[M * C] = {0.1, 0.2}, onset[W] = {0, 1, 2}, offset[W] = {1, 2, 3}, alphas[A] = {1, 10};
    int block[V] = {0, 1, 2};
    int32_t width[M * H] = {8, 8, 8}, comps[M * H] = {0, 0, 0};
    ResultsMeta meta = {.M = M, .C = C, .H = H, .S = S, .R = R, .W = W,
                        .model_name = model_name, .model_path = model_path, .model_arch = arch,
                        .n_layers = n_layers, .d_model = d_model, .n_tokens = n_tokens,
                        .context_name = ctx, .context_window = window, .n_sequences = n_seq,
                        .tokenize_seconds = secs, .forward_seconds = secs,
                        .subject_name = subj, .subject_file = subj_file, .region_name = region, .word = word,
                        .word_onset = onset, .word_offset = offset,
                        .V = V, .sample_block = block, .alphas = alphas, .A = A, .width = width, .components = comps,
                        .P = P, .config_text = "models: []", .config_resolved = "models: []", .identity = "00ff",
                        .code_version = "test", .code_git = "test", .code_flags = "", .mpi_version = "test",
                        .n_ranks = size};
    if (rank == 0) results_create(partial, &meta);
    MPI_Barrier(MPI_COMM_WORLD);

    // layer l goes to rank l % size, in increasing order, as the sweep hands them in; the failed one to nobody
    size_t lm[L], lc[L], lh[L], n = 0;
    float values[L * ROWS * T];
    for (size_t l = 0; l < L; l++) {
        if (l == FAILED_LAYER || (int)(l % (size_t)size) != rank) continue;
        lm[n] = 0, lc[n] = l / H, lh[n] = l % H;
        for (int k = 0; k < ROWS; k++)
            for (size_t t = 0; t < T; t++) values[(n * ROWS + (size_t)k) * T + t] = value(l, k, t);
        n++;
    }
    ResultsLayers mine = {n, lm, lc, lh, values};
    results_write_layers(partial, &meta, &mine);
    MPI_Barrier(MPI_COMM_WORLD);

    if (rank == 0) {
        int8_t status[L];
        const char *error[L];
        for (size_t l = 0; l < L; l++) status[l] = l == FAILED_LAYER ? UNIT_FAILED : UNIT_DONE, error[l] = "";
        error[FAILED_LAYER] = "design is singular";
        const char *stage[2] = {"extract", "fit"}, *share[1] = {"compute"};
        double stage_s[2] = {1, 2}, rank_s[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        ResultsRun run = {status, error, stage, stage_s, 2, share, rank_s, 1};
        float layer_region[L * R];
        results_finish(partial, final, &meta, &run, layer_region);
        check_file(final, partial, layer_region);
        // with two ranks the read-back above covers layers written by each
        if (size < 2) SKIP_UNLESS_CI("two_ranks_wrote_layers", "one rank: run under mpirun -n 2 (tests/run.sh does)");

        char err[BASE_ERR_LEN] = "";
        hid_t f = results_open(final, "test", err);
        CHECK(f >= 0, "results_open/accepts_a_complete_file%s%s", f < 0 ? ": " : "", err);
        if (f >= 0) H5Fclose(f);
        char *out = NULL;
        size_t out_len = 0;
        FILE *mem = open_memstream(&out, &out_len);
        int rc = mem ? results_inspect(final, mem, err) : -1;
        if (mem) fclose(mem);
        CHECK(rc == 0 && out && strstr(out, "tiny") && strstr(out, "LATL") && strstr(out, "tokens:8"),
              "results_inspect/prints_the_matrices");
        free(out);

        // a file whose sweep did not finish, and a file that is not HDF5: refused by name
        snprintf(other, sizeof other, "%s/unfinished.h5", dir);
        results_create(other, &meta);
        f = results_open(other, "test", err);
        CHECK(f < 0 && strstr(err, other) && strstr(err, "incomplete results"), "results_open/refuses_incomplete: %s",
              err);
        snprintf(text, sizeof text, "%s/notes.txt", dir);
        FILE *t = fopen(text, "w");
        if (t) fputs("not a results file\n", t), fclose(t);
        f = results_open(text, "test", err);
        CHECK(f < 0 && strstr(err, text) && strstr(err, "not HDF5"), "results_open/refuses_non_hdf5: %s", err);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    }
    MPI_Finalize();
}
