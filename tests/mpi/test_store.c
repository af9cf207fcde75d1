// host/store: layer records written and read back bit for bit, a status scan, failed records, and the damage a
// crash or a bad disk leaves (a truncated record, a flipped byte) counted as absent; another sweep's store emptied;
// a record written by one rank read by another.
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/base.h"
#include "host/store.h"
#include "tests/mpi/ranks.h"
#include "tests/test.h"

enum { T = 3, P = 2, N = (6 + P) * T };

static void fill(float *v, float base) {
    for (int i = 0; i < N; i++) v[i] = base + 0.25f * (float)i - 3.0f;
}

static int same_floats(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

// flip one byte of a file at offset (from the end when negative)
static int flip_byte(const char *path, long offset) {
    FILE *f = fopen(path, "r+b");
    if (!f) return -1;
    int ok = fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET) == 0;
    int c = ok ? fgetc(f) : EOF;
    ok = c != EOF && fseek(f, -1, SEEK_CUR) == 0 && fputc(c ^ 0x10, f) != EOF;
    return fclose(f) == 0 && ok ? 0 : -1;
}

// entries of a folder other than . and ..; -1 when it cannot be read
static int entries(const char *dir) {
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

static void rank0_cases(const char *output) {
    Store st;
    store_init(&st, output, 0x1234abcdull, T, 1, P, T);
    CHECK(store_record_floats(&st, 0) == N, "record_floats_is_(6+P)xT (%zu)", store_record_floats(&st, 0));
    CHECK(store_prepare(&st, "the identity text\n") == 0, "prepare/new_store_is_not_a_reset");
    char path[1400], line[64] = "";
    snprintf(path, sizeof path, "%s/identity", st.dir);
    FILE *f = fopen(path, "r");
    if (f && !fgets(line, sizeof line, f)) line[0] = '\0';
    if (f) fclose(f);
    line[strcspn(line, "\n")] = '\0';
    CHECK(strcmp(line, "000000001234abcd") == 0, "prepare/identity_file_first_line_is_the_hash (%s)", line);
    CHECK(store_prepare(&st, "the identity text\n") == 0, "prepare/same_identity_again_keeps_the_store");

    // a finished layer: values and counters back bit for bit, under its final name only
    float v[N], got[N];
    fill(v, 0.5f);
    LayerRecord rec = {0};
    for (int k = 0; k < FIT_N_COUNTERS; k++) rec.counters[k] = 1.5 * (k + 1);
    rec.values = v;
    store_save_layer(&st, 1, 0, 2, 0, &rec);
    LayerRecord back = {0};
    back.values = got;
    int s = store_load_layer(&st, 1, 0, 2, 0, &back);
    CHECK(s == 1 && !back.failed && same_floats(v, got, N), "save_load/values_bit_for_bit (status %d)", s);
    CHECK(memcmp(rec.counters, back.counters, sizeof rec.counters) == 0, "save_load/counters");
    char rec_path[1400];
    snprintf(rec_path, sizeof rec_path, "%s/layers/m1-c0-h2-s0.layer", st.dir);
    char partial[1500];
    snprintf(partial, sizeof partial, "%s.partial", rec_path);
    CHECK(access(rec_path, F_OK) == 0 && access(partial, F_OK) != 0, "save/final_name_and_no_partial_left");
    LayerRecord scan = {0};
    CHECK(store_load_layer(&st, 1, 0, 2, 0, &scan) == 1, "status_scan/finished_layer");
    CHECK(store_load_layer(&st, 1, 0, 3, 0, &scan) == 0 && store_load_layer(&st, 0, 0, 2, 0, &scan) == 0,
          "status_scan/absent_layers");

    // a failed layer: no values, its reason kept
    LayerRecord bad = {0};
    bad.failed = 1;
    snprintf(bad.error, sizeof bad.error, "design is singular");
    store_save_layer(&st, 0, 1, 0, 0, &bad);
    LayerRecord bad_back = {0};
    bad_back.values = got;
    s = store_load_layer(&st, 0, 1, 0, 0, &bad_back);
    CHECK(s == 2 && bad_back.failed && strcmp(bad_back.error, "design is singular") == 0,
          "failed_layer/status_2_with_its_reason (%d, '%s')", s, bad_back.error);

    // damage: a record cut short (a crash mid-copy, a full disk) is absent for both kinds of reading
    char cut[1400];
    snprintf(cut, sizeof cut, "%s/layers/m2-c0-h0-s0.layer", st.dir);
    store_save_layer(&st, 2, 0, 0, 0, &rec);
    long size = file_size(cut);
    CHECK(size > 0 && truncate(cut, size - 4) == 0, "damage/truncate_a_record (%ld bytes)", size);
    CHECK(store_load_layer(&st, 2, 0, 0, 0, &scan) == 0, "damage/truncated_record_absent_in_status_scan");
    back.values = got;
    CHECK(store_load_layer(&st, 2, 0, 0, 0, &back) == 0, "damage/truncated_record_absent_when_read");

    // a flipped byte among the values keeps the length: a status scan reads no values (store.h) and still sees the
    // layer; reading it checks the checksum and finds it absent
    store_save_layer(&st, 2, 0, 1, 0, &rec);
    snprintf(cut, sizeof cut, "%s/layers/m2-c0-h1-s0.layer", st.dir);
    CHECK(flip_byte(cut, -5) == 0, "damage/flip_a_value_byte");
    CHECK(store_load_layer(&st, 2, 0, 1, 0, &scan) == 1, "damage/flipped_value_seen_by_status_scan_as_documented");
    CHECK(store_load_layer(&st, 2, 0, 1, 0, &back) == 0, "damage/flipped_value_fails_the_checksum");
    // a flipped byte in the header's counters: the checksum covers the header too
    store_save_layer(&st, 2, 0, 2, 0, &rec);
    snprintf(cut, sizeof cut, "%s/layers/m2-c0-h2-s0.layer", st.dir);
    // the header: magic, identity, m, c, h, T, P and failed (8 bytes each), then the counters
    CHECK(flip_byte(cut, 8 * 8 + 8 * 3) == 0, "damage/flip_a_counter_byte");
    CHECK(store_load_layer(&st, 2, 0, 2, 0, &back) == 0, "damage/flipped_header_fails_the_checksum");
    // rewriting a damaged record repairs it
    store_save_layer(&st, 2, 0, 1, 0, &rec);
    CHECK(store_load_layer(&st, 2, 0, 1, 0, &back) == 1 && same_floats(v, got, N), "damage/rewritten_record_whole");

    // records of another shape (another T or P) are not this sweep's
    Store other_shape;
    store_init(&other_shape, output, st.identity, T + 1, 1, P, T + 1);
    CHECK(store_load_layer(&other_shape, 1, 0, 2, 0, &scan) == 0, "identity/other_shape_absent");

    // subject groups: T subjects of one column in groups of 2 give two records per layer, of 2 subjects and 1; a
    // record of one grouping reads as absent under another (run.group_gib is run-only)
    Store grouped;
    store_init(&grouped, output, st.identity, T, 1, P, 2);
    size_t first = 9, ns = 9;
    store_group_subjects(&grouped, 1, &first, &ns);
    CHECK(store_groups(&grouped) == 2 && first == 2 && ns == 1, "groups/two_groups (%zu, second from %zu, %zu subject)",
          store_groups(&grouped), first, ns);
    CHECK(store_record_floats(&grouped, 0) == (6 + P) * 2 && store_record_floats(&grouped, 1) == (6 + P) * 1,
          "groups/record_floats_per_group");
    float gv[N], gb[N];
    fill(gv, 3.0f);
    LayerRecord grec = {0}, gback = {0};
    grec.values = gv, gback.values = gb;
    store_save_layer(&grouped, 1, 0, 2, 1, &grec);
    CHECK(store_load_layer(&grouped, 1, 0, 2, 1, &gback) == 1 && same_floats(gv, gb, (6 + P) * 1),
          "groups/second_group_bit_for_bit");
    CHECK(store_load_layer(&grouped, 1, 0, 2, 0, &scan) == 0, "groups/one_group_record_absent_under_two_groups");
    CHECK(store_load_layer(&st, 1, 0, 2, 0, &scan) == 1, "groups/one_group_record_still_read_by_its_grouping");

    // a layer's designs, shared by subject groups: read back bit for bit, damage and other sweeps read as absent
    float x0[2 * 3], x1[2 * 3];
    for (int i = 0; i < 6; i++) x0[i] = 0.5f * (float)i - 1.0f, x1[i] = -0.125f * (float)i;
    EncodingDesign d = {.X = (float *[]){x0, x1}, .F = 2, .V = 2, .P = 3, .components = 1}, db;
    char why[BASE_ERR_LEN] = "", dpath[1400];
    snprintf(dpath, sizeof dpath, "%s/designs/m1-c0-h4.design", st.dir);
    CHECK(store_load_design(&st, 1, 0, 4, &db) == 0, "design/absent_before_saved");
    CHECK(store_save_design(&st, 1, 0, 4, &d, why) == 0, "design/saved (%s)", why);
    int got_design = store_load_design(&st, 1, 0, 4, &db);
    CHECK(got_design == 1 && db.F == 2 && db.V == 2 && db.P == 3 && db.components == 1 && same_floats(db.X[0], x0, 6) &&
              same_floats(db.X[1], x1, 6),
          "design/read_back_bit_for_bit");
    if (got_design == 1) encoding_design_free(&db);
    CHECK(store_load_design(&st, 1, 0, 3, &db) == 0 && store_load_design(&grouped, 1, 1, 4, &db) == 0,
          "design/other_layer_absent");
    Store other_sweep;
    store_init(&other_sweep, output, 0x9999ull, T, 1, P, T);
    CHECK(store_load_design(&other_sweep, 1, 0, 4, &db) == 0, "design/other_sweeps_absent");
    CHECK(flip_byte(dpath, -3) == 0 && store_load_design(&st, 1, 0, 4, &db) == 0, "design/flipped_byte_absent");
    CHECK(store_save_design(&st, 1, 0, 4, &d, why) == 0 && truncate(dpath, file_size(dpath) - 4) == 0 &&
              store_load_design(&st, 1, 0, 4, &db) == 0,
          "design/truncated_absent");
    CHECK(store_save_design(&st, 1, 0, 4, &d, why) == 0 && store_load_design(&st, 1, 0, 4, &db) == 1,
          "design/rewritten_whole");
    encoding_design_free(&db);

    // the layer's split designs beside it: a small fit records them; read back byte for byte, damage and other
    // sweeps read as absent, removed with the design
    enum { SN = 40, SP = 3, ST = 2 };
    float sx[SN * SP], sy[SN * ST];
    for (int i = 0; i < SN * SP; i++) sx[i] = (float)((i * 37) % 11) - 5.0f;
    for (int i = 0; i < SN * ST; i++) sy[i] = (float)((i * 13) % 7) + 0.25f * sx[(i / ST) * SP];
    CvPlan cv;
    cv_plan_folds(&cv, SN, 4, 0, why);
    RidgeTargets rt;
    ridge_targets_init(&rt, sy, SN, ST, &cv, why);
    double alphas[3] = {0.1, 1, 10}, r[ST], r2[ST], al[ST];
    RidgeDesigns *splits = ridge_designs_create(SIZE_MAX);
    RidgeConfig rc = {.cv = &cv, .alphas = alphas, .n_alphas = 3, .designs = splits};
    RidgeOut ro = {.r = r, .r2 = r2, .alpha = al};
    RidgeStats rs;
    const float *sxs = sx;
    int fitted = ridge_cv(&sxs, 0, SP, &rt, &rc, &ro, &rs, why) == 0;
    CHECK(fitted && ridge_designs_count(splits) > 0,
          "splits/recorded_by_a_fit (%zu designs)", ridge_designs_count(splits));
    char spath[1400];
    snprintf(spath, sizeof spath, "%s/designs/m1-c0-h4.splits", st.dir);
    CHECK(store_load_splits(&st, 1, 0, 4) == NULL, "splits/absent_before_saved");
    CHECK(store_save_splits(&st, 1, 0, 4, splits, why) == 0, "splits/saved (%s)", why);
    RidgeDesigns *sback = store_load_splits(&st, 1, 0, 4);
    size_t n_a, n_b = 0;
    const void *a = ridge_designs_bytes(splits, &n_a), *b = sback ? ridge_designs_bytes(sback, &n_b) : NULL;
    CHECK(sback && n_a == n_b && memcmp(a, b, n_a) == 0 && ridge_designs_count(sback) == ridge_designs_count(splits),
          "splits/read_back_byte_for_byte (%zu bytes)", n_a);
    ridge_designs_free(sback);
    CHECK(store_load_splits(&st, 1, 0, 3) == NULL && store_load_splits(&other_sweep, 1, 0, 4) == NULL,
          "splits/other_layers_and_sweeps_absent");
    CHECK(flip_byte(spath, -3) == 0 && store_load_splits(&st, 1, 0, 4) == NULL, "splits/flipped_byte_absent");
    CHECK(store_save_splits(&st, 1, 0, 4, splits, why) == 0 && truncate(spath, file_size(spath) - 4) == 0 &&
              store_load_splits(&st, 1, 0, 4) == NULL,
          "splits/truncated_absent");
    CHECK(store_save_splits(&st, 1, 0, 4, splits, why) == 0 && store_save_design(&st, 1, 0, 4, &d, why) == 0,
          "splits/saved_again_beside_the_design");
    ridge_designs_free(splits);
    ridge_targets_free(&rt);
    cv_free(&cv);

    store_remove_design(&st, 1, 0, 4);
    CHECK(access(dpath, F_OK) != 0 && store_load_design(&st, 1, 0, 4, &db) == 0, "design/removed");
    CHECK(access(spath, F_OK) != 0 && store_load_splits(&st, 1, 0, 4) == NULL, "splits/removed_with_the_design");
    CHECK(store_save_design(&st, 1, 0, 5, &d, why) == 0, "design/saved_again_for_the_reset");

    // another sweep (another identity) on the same output: nothing of the first counts, and prepare empties it
    Store next;
    store_init(&next, output, 0x5555ull, T, 1, P, T);
    CHECK(store_load_layer(&next, 1, 0, 2, 0, &scan) == 0, "identity/other_sweeps_record_absent");
    char layers[1400];
    snprintf(layers, sizeof layers, "%s/layers", st.dir);
    CHECK(entries(layers) == 6, "identity/six_records_before_reset (%d)", entries(layers));
    CHECK(store_prepare(&next, "another sweep\n") == 1, "identity/prepare_reports_the_reset");
    CHECK(entries(layers) == 0, "identity/reset_emptied_the_layers (%d left)", entries(layers));
    CHECK(access(dpath, F_OK) != 0 && store_load_design(&st, 1, 0, 5, &db) == 0, "identity/reset_removed_the_designs");
    CHECK(store_load_layer(&st, 1, 0, 2, 0, &scan) == 0, "identity/first_sweeps_record_gone");
}

TEST_MAIN("test_store") {
    ranks_begin(&argc, &argv);
    char dir[256], output[400];
    ranks_tmpdir(dir, sizeof dir, "bs-store");
    snprintf(output, sizeof output, "%s/results.h5", dir);
    if (comm_rank() == 0) rank0_cases(output);

    // any rank writes records, any rank reads them: rank 1 writes, rank 0 reads it back
    Store st;
    store_init(&st, output, 0x77ull, T, 1, P, T);
    if (comm_rank() == 0) store_prepare(&st, "two ranks\n");
    MPI_Barrier(MPI_COMM_WORLD);
    float v[N], got[N];
    fill(v, 7.0f);
    if (comm_size() > 1 && comm_rank() == 1) {
        LayerRecord rec = {0};
        rec.values = v;
        store_save_layer(&st, 0, 0, 4, 0, &rec);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (comm_rank() == 0) {
        if (comm_size() > 1) {
            LayerRecord back = {0};
            back.values = got;
            CHECK(store_load_layer(&st, 0, 0, 4, 0, &back) == 1 && same_floats(v, got, N),
                  "two_ranks/rank_1_writes_rank_0_reads");
        } else {
            SKIP_UNLESS_CI("two_ranks/rank_1_writes_rank_0_reads",
                           "one rank: run under mpirun -n 2 (tests/run.sh does)");
        }
        store_remove(&st);
        CHECK(access(st.dir, F_OK) != 0, "remove/store_folder_gone");
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    }
    MPI_Finalize();
}
