// The BIDS derivatives fMRI reader (host/fmri.h) on hand-made datasets written with nifticlib (volumes) and
// libgiftiio (surfaces, host/surface.h): which runs are found and in what order, the values, voxels or vertices, TR
// and affine read back, files nibabel wrote read as nibabel reads them, and every bad input refused with one
// message naming the file. Confound regression against the least-squares fit of the normal equations solved here
// by Cramer's rule (not the QR the reader uses), and its bad tables.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <nifti2_io.h>

#include "host/base.h"
#include "host/fmri.h"
#include "host/geometry.h"
#include "host/parcels.h"
#include "host/niftiout.h"
#include "host/surface.h"
#include "tests/test.h"

#define NX 3
#define NY 2
#define NZ 2
#define NV (NX * NY * NZ)

static const double AFFINE[16] = {-2, 0, 0, 10, 0, 2, 0, -5, 0, 0, 2.5, 1, 0, 0, 0, 1};

static void run(const char *cmd) {
    if (system(cmd) != 0) DIE("", "test setup failed: %s", cmd);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) DIE("", "test setup failed: %s", path);
}

// a run of nt volumes whose voxel at storage index i has value 100 * run + 10 * t + i, but element `at` (t NV + i;
// -1: none) holds `value`
static void bold_with(const char *path, int run_no, int nt, double tr, const double *affine, int at, float value) {
    float *x = base_malloc((size_t)NV * (size_t)nt * sizeof(float), "test");
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < NV; i++) x[t * NV + i] = (float)(100 * run_no + 10 * t + i);
    if (at >= 0) x[at] = value;
    NiftiOut o = {.ndim = nt > 1 ? 4 : 3, .dim = {NX, NY, NZ, nt}, .datatype = NIFTI_TYPE_FLOAT32, .data = x,
                  .affine = affine, .xform_code = NIFTI_XFORM_MNI_152, .tr = tr, .descrip = "test"};
    char err[BASE_ERR_LEN];
    if (niftiout_write(path, &o, err)) DIE("", "%s", err);
    free(x);
}

static void bold(const char *path, int run_no, int nt, double tr, const double *affine) {
    bold_with(path, run_no, nt, tr, affine, -1, 0);
}

// a mask holding the voxels whose storage index is set in `bits`
static void mask(const char *path, unsigned bits, int nx, const double *affine) {
    uint8_t m[64] = {0};
    for (int i = 0; i < nx * NY * NZ; i++) m[i] = (uint8_t)((bits >> i) & 1);
    NiftiOut o = {.ndim = 3, .dim = {nx, NY, NZ, 1}, .datatype = NIFTI_TYPE_UINT8, .data = m, .affine = affine,
                  .xform_code = NIFTI_XFORM_MNI_152, .descrip = "test mask"};
    char err[BASE_ERR_LEN];
    if (niftiout_write(path, &o, err)) DIE("", "%s", err);
}

// sub-NN/func/sub-NN_task-t_run-R_space-S: bold, mask, sidecar
static void make_run(const char *root, const char *sub, int run_no, const char *space, int nt) {
    char p[1024];
    snprintf(p, sizeof p, "mkdir -p %s/%s/func", root, sub);
    run(p);
    snprintf(p, sizeof p, "%s/%s/func/%s_task-t_run-%d_space-%s_desc-preproc_bold.nii.gz", root, sub, sub, run_no, space);
    bold(p, run_no, nt, 1.5, AFFINE);
    snprintf(p, sizeof p, "%s/%s/func/%s_task-t_run-%d_space-%s_desc-brain_mask.nii.gz", root, sub, sub, run_no, space);
    mask(p, run_no == 2 ? 0x0FEu : 0xFFEu, NX, AFFINE);  // voxel 0 out everywhere, 8..11 out of run 2
    snprintf(p, sizeof p, "%s/%s/func/%s_task-t_run-%d_space-%s_desc-preproc_bold.json", root, sub, sub, run_no, space);
    write_file(p, "{\"RepetitionTime\": 1.5}\n");
}

// the volumetric test datasets' space; the surface ones' is SURFACE_SPACE
static const char *space = "MNI";

static int find(const char *root, const char *const *runs, size_t n_runs, FmriRun **out, size_t *n, char *err) {
    FmriQuery q = {.root = root, .space = space, .task = "t", .runs = runs, .n_runs = n_runs};
    return fmri_find_runs(&q, out, n, err);
}

// the runs of the first subject loaded; -1 with err
static int load_first(const char *root, FmriSubject *s, char *err) {
    FmriRun *r;
    size_t n, k = 0;
    if (find(root, NULL, 0, &r, &n, err)) return -1;
    while (k < n && strcmp(r[k].subject, r[0].subject) == 0) k++;
    int rc = fmri_load_subject(r, k, s, err);
    free(r);
    return rc;
}

// a copy of the good dataset at dst
static void copy(const char *src, const char *dst) {
    char cmd[3400];
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s", dst, src, dst);
    run(cmd);
}

// one bad-input case: the first subject fails to load, or the runs are not found, with a message holding `want`
static void expect_error(const char *name, const char *root, const char *want) {
    FmriSubject s;
    char err[BASE_ERR_LEN] = "";
    int rc = load_first(root, &s, err);
    CHECK(rc == -1 && strstr(err, want), "bad/%s: %s", name, err[0] ? err : "(no error)");
    if (rc == 0) fmri_subject_free(&s);
}

// tests/fixtures/fmri-nibabel (tests/golden/make_fmri_fixture.py): files nibabel wrote (NIfTI-1 int16 with scaling, a
// qform only and the TR in ms; NIfTI-2 gzip with an sform that differs from its qform) read as nibabel reads them
static void nibabel_fixture(void) {
    const char *root = "tests/fixtures/fmri-nibabel";
    json_error_t je;
    json_t *ref = json_load_file("tests/fixtures/fmri-nibabel/expected.json", 0, &je);
    if (!ref) {
        CHECK(0, "nibabel/expected.json: %s", je.text);
        return;
    }
    FmriQuery q = {.root = root, .space = "T1w", .task = ""};
    FmriRun *r;
    size_t n;
    char err[BASE_ERR_LEN] = "";
    int rc = fmri_find_runs(&q, &r, &n, err);
    CHECK(rc == 0 && n == 2, "nibabel/two_runs_found %s", err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *sub = r[i].subject;
        json_t *e = json_object_get(ref, sub);
        FmriSubject s;
        if (!e || fmri_load_subject(&r[i], 1, &s, err)) {
            CHECK(0, "nibabel/%s_loads: %s", sub, err);
            continue;
        }
        json_t *ijk = json_object_get(e, "ijk"), *val = json_object_get(e, "values"), *aff = json_object_get(e, "affine");
        int same_vox = json_array_size(ijk) == s.n_vox;
        for (size_t k = 0; same_vox && k < s.n_vox; k++)
            for (size_t d = 0; d < 3; d++)
                same_vox &= json_integer_value(json_array_get(json_array_get(ijk, k), d)) == s.ijk[3 * k + d];
        CHECK(same_vox, "nibabel/%s_mask_voxels (%zu)", sub, s.n_vox);
        double worst = 0;
        int shape = s.V == json_array_size(val);
        for (size_t v = 0; shape && v < s.V; v++)
            for (size_t k = 0; k < s.n_vox && same_vox; k++)
                worst = fmax(worst, fabs(s.data[v * s.n_vox + k] -
                                         json_real_value(json_array_get(json_array_get(val, v), k))));
        // float32 values against nibabel's float64: a relative 1e-7 of values up to ~1000
        CHECK(shape && same_vox && worst < 1e-4, "nibabel/%s_values_scaled (max |diff| %g)", sub, worst);
        double wa = 0;
        for (int a = 0; a < 16; a++)
            wa = fmax(wa, fabs(s.grid.affine[a] - json_real_value(json_array_get(json_array_get(aff, (size_t)a / 4),
                                                                                 (size_t)a % 4))));
        // the sform is stored in float32: 1e-5 of coordinates of a few mm
        CHECK(wa < 1e-5 && s.grid.affine_code == json_integer_value(json_object_get(e, "affine_code")),
              "nibabel/%s_affine_and_code (max |diff| %g, code %d)", sub, wa, s.grid.affine_code);
        CHECK(fabs(s.tr - json_real_value(json_object_get(e, "tr"))) < 1e-9, "nibabel/%s_tr_in_seconds (%g)", sub, s.tr);
        fmri_subject_free(&s);
    }
    if (rc == 0) free(r);
    json_decref(ref);
}

// the confounds table of sub-01's run R: columns "a" (t^2 / 10), "b" (sin t, n/a in the first row), "flat" (5)
static void confounds_table(const char *root, int run_no, int nt, const char *extra_header, const char *extra_cell) {
    char p[1200], *text = base_malloc(64 * (size_t)(nt + 1) + 256, "test"), *w = text;
    snprintf(p, sizeof p, "%s/sub-01/func/sub-01_task-t_run-%d_desc-confounds_timeseries.tsv", root, run_no);
    w += sprintf(w, "a\tb\tflat%s\n", extra_header);
    for (int t = 0; t < nt; t++) {
        if (t == 0) w += sprintf(w, "%.6f\tn/a\t5%s\n", t * t / 10.0, extra_cell);
        else w += sprintf(w, "%.6f\t%.6f\t5%s\n", t * t / 10.0, sin((double)t), extra_cell);
    }
    write_file(p, text);
    free(text);
}

// sub-01 loaded with confound columns cols regressed out; -1 with err
static int load_regressed(const char *root, const char *const *cols, size_t m, FmriSubject *s, char *err) {
    FmriQuery q = {.root = root, .space = "MNI", .task = "t", .confounds = cols, .n_confounds = m};
    FmriRun *r;
    size_t n, k = 0;
    if (fmri_find_runs(&q, &r, &n, err)) return -1;
    while (k < n && strcmp(r[k].subject, r[0].subject) == 0) k++;
    int rc = fmri_load_subject(r, k, s, err);
    if (rc == 0 && (rc = fmri_regress_confounds(s, r, k, cols, m, err)) != 0) fmri_subject_free(s);
    free(r);
    return rc;
}

static double six_decimals(double x) {  // as the table holds it
    char cell[32];
    snprintf(cell, sizeof cell, "%.6f", x);
    return strtod(cell, NULL);
}

static double det3(const double m[9]) {
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
}

static void confounds(const char *root) {
    char conf[1100], p[1400], q[1600], err[BASE_ERR_LEN] = "";
    snprintf(conf, sizeof conf, "%s/conf", root);
    make_run(conf, "sub-01", 1, "MNI", 8);
    make_run(conf, "sub-01", 2, "MNI", 9);
    confounds_table(conf, 1, 8, "", "");
    confounds_table(conf, 2, 9, "", "");
    const char *ab[] = {"a", "b"};
    FmriSubject s;
    int rc = load_regressed(conf, ab, 2, &s, err);
    CHECK(rc == 0, "confounds/regressed %s", rc ? err : "");
    if (rc == 0) {
        // each run: y = 100 run + 10 t + i against X = [1, t^2/10, sin t (n/a: the mean of the others)]; the
        // residual y - X beta with beta from X^T X beta = X^T y, solved by Cramer's rule
        double worst = 0;
        for (size_t run = 0, v0 = 0; run < 2; v0 += s.run_volumes[run++]) {
            size_t T = s.run_volumes[run];
            double X[9][3], mean_b = 0;
            for (size_t t = 0; t < T; t++) {
                X[t][0] = 1, X[t][1] = six_decimals((double)(t * t) / 10.0);
                X[t][2] = t ? six_decimals(sin((double)t)) : 0;
                mean_b += X[t][2] / (double)(T - 1);
            }
            X[0][2] = mean_b;
            for (size_t k = 0; k < s.n_vox; k++) {
                double A[9] = {0}, b[3] = {0}, y[9];
                for (size_t t = 0; t < T; t++) {
                    y[t] = 100.0 * (run ? 2 : 1) + 10.0 * (double)t + (double)(k + 1);
                    for (int i = 0; i < 3; i++) {
                        b[i] += X[t][i] * y[t];
                        for (int j = 0; j < 3; j++) A[3 * i + j] += X[t][i] * X[t][j];
                    }
                }
                double d = det3(A), beta[3];
                for (int c = 0; c < 3; c++) {
                    double Ac[9];
                    memcpy(Ac, A, sizeof Ac);
                    for (int i = 0; i < 3; i++) Ac[3 * i + c] = b[i];
                    beta[c] = det3(Ac) / d;
                }
                for (size_t t = 0; t < T; t++) {
                    double want = y[t] - beta[0] * X[t][0] - beta[1] * X[t][1] - beta[2] * X[t][2];
                    worst = fmax(worst, fabs(s.data[(v0 + t) * s.n_vox + k] - want));
                }
            }
        }
        CHECK(worst < 1e-3, "confounds/residuals_equal_the_normal_equations (max |diff| %g over 2 runs x %zu voxels)",
              worst, s.n_vox);
        fmri_subject_free(&s);
    }

    // bad tables
    const char *flat[] = {"a", "flat"}, *nope[] = {"a", "csf"};
    snprintf(p, sizeof p, "%s/sub-01/func/sub-01_task-t_run-1_desc-confounds_timeseries.tsv", conf);
    rc = load_regressed(conf, flat, 2, &s, err);
    snprintf(q, sizeof q, "%s: column flat is constant or a combination", p);
    CHECK(rc == -1 && strstr(err, q), "confounds/constant_column: %s", err);
    rc = load_regressed(conf, nope, 2, &s, err);
    snprintf(q, sizeof q, "%s: no column csf (fmri.confounds names it)", p);
    CHECK(rc == -1 && strstr(err, q), "confounds/missing_column: %s", err);
    confounds_table(conf, 1, 7, "", "");
    rc = load_regressed(conf, ab, 2, &s, err);
    snprintf(q, sizeof q, "%s: 7 rows, but its run has 8 volumes", p);
    CHECK(rc == -1 && strstr(err, q), "confounds/rows_not_volumes: %s", err);
    confounds_table(conf, 1, 8, "\tgone", "\tn/a");
    const char *gone[] = {"gone"};
    rc = load_regressed(conf, gone, 1, &s, err);
    snprintf(q, sizeof q, "%s: column gone holds no number", p);
    CHECK(rc == -1 && strstr(err, q), "confounds/all_na_column: %s", err);
    snprintf(q, sizeof q, "rm %s", p);
    run(q);
    rc = load_regressed(conf, ab, 2, &s, err);
    snprintf(q, sizeof q, "%s: no such file: the confounds table of", p);
    CHECK(rc == -1 && strstr(err, q), "confounds/missing_table_found_before_loading: %s", err);
}

// ----------------------------------------------------------------------------
// surfaces

#define NL 3  // vertices of the test surfaces' left hemisphere
#define NR 4  // and of the right

// one hemisphere's series: vertex k in volume t holds 100 * run + 10 * t + k + 50 * hemi
static void surface_series(const char *path, int run_no, int hemi, int nt, double step_ms, const char *structure) {
    size_t n = hemi ? NR : NL;
    float *x = base_malloc(n * (size_t)nt * sizeof(float), "test");
    for (int t = 0; t < nt; t++)
        for (size_t k = 0; k < n; k++) x[(size_t)t * n + k] = (float)(100 * run_no + 10 * t + (int)k + 50 * hemi);
    SurfaceOut o = {.n_vertices = n, .n_arrays = (size_t)nt, .data = x, .intent = NIFTI_INTENT_TIME_SERIES,
                    .structure = structure, .time_step_ms = step_ms};
    char err[BASE_ERR_LEN];
    if (surface_write(path, &o, err)) DIE("", "%s", err);
    free(x);
}

// sub-NN/func/sub-NN_task-t_run-R_hemi-{L,R}_space-fsavg_bold.func.gii and the left's sidecar
static void make_surface_run(const char *root, const char *sub, int run_no, int nt) {
    char p[1024];
    snprintf(p, sizeof p, "mkdir -p %s/%s/func", root, sub);
    run(p);
    for (int h = 0; h < 2; h++) {
        snprintf(p, sizeof p, "%s/%s/func/%s_task-t_run-%d_hemi-%c_space-fsavg_bold.func.gii", root, sub, sub, run_no,
                 h ? 'R' : 'L');
        surface_series(p, run_no, h, nt, 1500, h ? "CortexRight" : "CortexLeft");
    }
    snprintf(p, sizeof p, "%s/%s/func/%s_task-t_run-%d_hemi-L_space-fsavg_bold.json", root, sub, sub, run_no);
    write_file(p, "{\"RepetitionTime\": 1.5}\n");
}

// tests/fixtures/fmri-nibabel-surface (tests/golden/make_fmri_fixture.py): GIfTI series nibabel wrote (one float32
// array per volume, gzip base64, TimeStep; one vertices x volumes int32 array, plain base64) read as nibabel reads them
static void nibabel_surface_fixture(void) {
    json_error_t je;
    json_t *ref = json_load_file("tests/fixtures/fmri-nibabel-surface/expected.json", 0, &je);
    if (!ref) {
        CHECK(0, "nibabel_surface/expected.json: %s", je.text);
        return;
    }
    space = "fsaverage5";
    FmriSubject s;
    char err[BASE_ERR_LEN] = "";
    int rc = load_first("tests/fixtures/fmri-nibabel-surface", &s, err);
    space = "MNI";
    CHECK(rc == 0, "nibabel_surface/loads %s", rc ? err : "");
    if (rc == 0) {
        json_t *v = json_object_get(ref, "vertices");
        size_t nl = (size_t)json_integer_value(json_array_get(v, 0)), nr = (size_t)json_integer_value(json_array_get(v, 1));
        CHECK(s.grid.surface && (size_t)s.grid.dim[0] == nl && (size_t)s.grid.dim[1] == nr && s.n_vox == nl + nr,
              "nibabel_surface/vertices_%zu_and_%zu (%lld %lld)", nl, nr, (long long)s.grid.dim[0],
              (long long)s.grid.dim[1]);
        CHECK(fabs(s.tr - json_real_value(json_object_get(ref, "tr"))) < 1e-9, "nibabel_surface/tr (%g)", s.tr);
        json_t *values = json_object_get(ref, "values");
        int same = s.V == json_array_size(values);
        for (size_t t = 0; same && t < s.V; t++) {
            json_t *row = json_array_get(values, t);
            same = json_array_size(row) == s.n_vox;
            for (size_t k = 0; same && k < s.n_vox; k++) same = s.data[t * s.n_vox + k] == (float)json_number_value(json_array_get(row, k));
        }
        CHECK(same, "nibabel_surface/values_equal_nibabels (%zu volumes)", s.V);
        fmri_subject_free(&s);
    }
    json_decref(ref);
}

static void surfaces(const char *root) {
    char good[1100], bad[1100], p[1400], q[1600], err[BASE_ERR_LEN] = "";
    space = "fsavg";
    snprintf(good, sizeof good, "%s/surf", root);
    make_surface_run(good, "sub-01", 2, 3);
    make_surface_run(good, "sub-01", 10, 4);
    FmriRun *r;
    size_t n;
    int rc = find(good, NULL, 0, &r, &n, err);
    CHECK(rc == 0 && n == 2, "surface/find_two_runs (%zu) %s", rc ? 0 : n, err);
    if (rc == 0) {
        CHECK(r[0].surface && strcmp(r[0].key, "task-t_run-2") == 0 && strstr(r[0].bold, "_hemi-L_") &&
                  strstr(r[0].bold_right, "run-2_hemi-R_space-fsavg_bold.func.gii") && strstr(r[0].json, "_hemi-L_"),
              "surface/run_is_both_hemispheres_and_the_sidecar (%s)", r[0].bold_right);
        free(r);
    }
    FmriSubject s;
    rc = load_first(good, &s, err);
    CHECK(rc == 0, "surface/load %s", rc ? err : "");
    if (rc == 0) {
        CHECK(s.grid.surface && s.grid.dim[0] == NL && s.grid.dim[1] == NR && s.n_vox == NL + NR && s.V == 7,
              "surface/left_then_right_vertices_7_volumes");
        CHECK(s.ijk[0] == 0 && s.ijk[1] == 0 && s.ijk[3 * NL] == 0 && s.ijk[3 * NL + 1] == 1 && s.ijk[3 * (NL + NR - 1)] == NR - 1,
              "surface/ijk_is_vertex_and_hemisphere");
        int ok = 1;
        for (size_t v = 0; v < 7; v++)
            for (size_t k = 0; k < NL + NR; k++) {
                int hemi = k >= NL;
                double want = (v < 3 ? 200 + 10 * (double)v : 1000 + 10 * (double)(v - 3)) + (double)(k - (hemi ? NL : 0)) + 50 * hemi;
                ok &= s.data[v * (NL + NR) + k] == (float)want;
            }
        CHECK(ok, "surface/values_of_both_runs_and_hemispheres");
        CHECK(fabs(s.tr - 1.5) < 1e-9, "surface/tr (%g)", s.tr);
        int32_t right2[3] = {2, 1, 0};
        CHECK(fmri_grid_points(&s.grid) == NL + NR && fmri_grid_index(&s.grid, right2) == NL + 2,
              "surface/grid_index_of_right_vertex_2");
        fmri_subject_free(&s);
    }

    // round trip of the writer: names, structure, time step and values
    float x[6] = {1.5f, -2, NAN, 4, 5e-8f, 6};
    const char *names[2] = {"a", "b"};
    snprintf(p, sizeof p, "%s/rt.func.gii", root);
    SurfaceOut o = {.n_vertices = 3, .n_arrays = 2, .data = x, .intent = NIFTI_INTENT_TIME_SERIES, .names = names,
                    .structure = "CortexLeft", .time_step_ms = 720};
    SurfaceSeries back;
    rc = surface_write(p, &o, err) || surface_read_series(p, 1, &back, err);
    CHECK(rc == 0, "surface/round_trip %s", rc ? err : "");
    if (rc == 0) {
        CHECK(back.n_vertices == 3 && back.n_volumes == 2 && back.time_step_ms == 720 &&
                  strcmp(back.structure, "CortexLeft") == 0 && memcmp(back.data, x, sizeof x) == 0,
              "surface/round_trip_bit_for_bit");
        surface_series_free(&back);
    }

    // bad input
    snprintf(bad, sizeof bad, "%s/surf-bad", root);
    const char *run2 = "sub-01/func/sub-01_task-t_run-2";

    copy(good, bad);
    snprintf(p, sizeof p, "rm %s/%s_hemi-R_space-fsavg_bold.func.gii", bad, run2);
    run(p);
    snprintf(q, sizeof q, "%s/%s_hemi-R_space-fsavg_bold.func.gii: no such file: the right hemisphere of", bad, run2);
    expect_error("surface/missing_right_hemisphere", bad, q);

    // the right hemisphere of run 2 rewritten, one property off (the good one: 3 volumes, 1500 ms, CortexRight)
    const struct {
        const char *name;
        int nt;
        double step_ms;
        const char *structure, *want;
    } right[] = {
        {"hemispheres_differ_in_volumes", 2, 1500, "CortexRight", "2 volumes, but the left hemisphere"},
        {"single_volume", 1, 1500, "CortexRight", "a single-volume series"},
        {"structure_contradicts_name", 3, 1500, "CortexLeft",
         "its AnatomicalStructurePrimary is CortexLeft, but its name says hemi-R"},
        {"timestep_between_hemispheres", 3, 2000, "CortexRight", "TimeStep 2000 ms, but the left hemisphere"},
    };
    snprintf(p, sizeof p, "%s/%s_hemi-R_space-fsavg_bold.func.gii", bad, run2);
    for (size_t c = 0; c < sizeof right / sizeof right[0]; c++) {
        char name[96];
        copy(good, bad);
        surface_series(p, 2, 1, right[c].nt, right[c].step_ms, right[c].structure);
        snprintf(q, sizeof q, "%s: %s", p, right[c].want);
        snprintf(name, sizeof name, "surface/%s", right[c].name);
        expect_error(name, bad, q);
    }

    copy(good, bad);
    write_file(p, "<?xml version=\"1.0\"?><GIFTI Version=\"1.0\" NumberOfDataArrays=\"1\"><DataArr");
    snprintf(q, sizeof q, "%s: not a readable GIfTI file", p);
    expect_error("surface/damaged", bad, q);

    // well-formed XML, elements out of place: libgiftiio 1.0.9 dereferences NULL on this one (found by fuzzing)
    copy(good, bad);
    write_file(p, "<?xml version=\"1.0\"?>\n<GIFTI Version=\"1.0\" NumberOfDataArrays=\"1\"><DataArray Dim0=\"1\">"
                  "<CoordinateSystemTransformMatrix><MatrixData><DataArray Dim0=\"1\"></DataArray></MatrixData>"
                  "</CoordinateSystemTransformMatrix></DataArray></GIFTI>\n");
    snprintf(q, sizeof q, "%s: not a GIfTI file: element <DataArray> inside <MatrixData> at line 2", p);
    expect_error("surface/elements_out_of_place", bad, q);

    // text after a CDATA section in a Name, and two sections in one Value: libgiftiio 1.0.9 appends the second part
    // through a pointer the end of the first cleared (found by fuzzing, as was the next)
    static const struct {
        const char *name, *md, *want;
    } strings[] = {
        {"text_after_cdata", "<Name><![CDATA[Description]]>\n</Name><Value>v</Value>",
         "text after a CDATA section in one string element at line 2"},
        {"two_cdata_sections", "<Name>N</Name><Value><![CDATA[a]]><![CDATA[b]]></Value>",
         "a second CDATA section in one string element at line 2"},
        // libgiftiio keeps the second Name and leaks the first
        {"two_names_in_md", "<Name>a</Name><Name>b</Name><Value>v</Value>", "a second <Name> inside one <MD> at line 2"},
    };
    for (size_t c = 0; c < sizeof strings / sizeof strings[0]; c++) {
        char xml[512], name[96];
        copy(good, bad);
        snprintf(xml, sizeof xml, "<?xml version=\"1.0\"?>\n<GIFTI Version=\"1.0\" NumberOfDataArrays=\"1\"><MetaData>"
                 "<MD>%s</MD></MetaData><DataArray Dim0=\"1\"></DataArray></GIFTI>\n", strings[c].md);
        write_file(p, xml);
        snprintf(q, sizeof q, "%s: not a GIfTI file: %s", p, strings[c].want);
        snprintf(name, sizeof name, "surface/%s", strings[c].name);
        expect_error(name, bad, q);
    }

    copy(good, bad);
    {
        float geometry[9] = {0};
        SurfaceOut g = {.n_vertices = 9, .n_arrays = 1, .data = geometry, .intent = NIFTI_INTENT_POINTSET};
        if (surface_write(p, &g, err)) DIE("", "%s", err);
    }
    snprintf(q, sizeof q, "%s: a surface geometry", p);
    expect_error("surface/geometry_given_as_series", bad, q);

    copy(good, bad);
    snprintf(p, sizeof p, "%s/%s_hemi-L_space-fsavg_bold.json", bad, run2);
    write_file(p, "{\"RepetitionTime\": 2.5}\n");
    snprintf(q, sizeof q, "%s: RepetitionTime 2.5 s disagrees with the TR of", p);
    expect_error("surface/sidecar_vs_timestep", bad, q);

    copy(good, bad);
    snprintf(p, sizeof p, "rm %s/%s_hemi-L_space-fsavg_bold.json", bad, run2);
    run(p);
    for (int h = 0; h < 2; h++) {
        snprintf(p, sizeof p, "%s/%s_hemi-%c_space-fsavg_bold.func.gii", bad, run2, h ? 'R' : 'L');
        surface_series(p, 2, h, 3, 0, NULL);
    }
    snprintf(q, sizeof q, "%s/%s_hemi-L_space-fsavg_bold.func.gii: no TR", bad, run2);
    expect_error("surface/no_tr", bad, q);

    copy(good, bad);
    snprintf(p, sizeof p, "%s/sub-01/func/sub-01_task-t_run-10_hemi-L_space-fsavg_bold.func.gii", bad);
    {
        float five[5 * 4];
        for (int i = 0; i < 20; i++) five[i] = (float)i;
        SurfaceOut w = {.n_vertices = 5, .n_arrays = 4, .data = five, .intent = NIFTI_INTENT_TIME_SERIES, .time_step_ms = 1500};
        if (surface_write(p, &w, err)) DIE("", "%s", err);
    }
    snprintf(q, sizeof q, "%s: grid a surface of 5 + 4 vertices differs from the subject's first run", p);
    expect_error("surface/vertices_differ_between_runs", bad, q);

    copy(good, bad);
    snprintf(p, sizeof p, "%s/%s_hemi-R_space-fsavg_bold.func.gii", bad, run2);
    {
        float y[NR * 3];
        for (int i = 0; i < NR * 3; i++) y[i] = (float)i;
        y[1] = NAN;
        SurfaceOut w = {.n_vertices = NR, .n_arrays = 3, .data = y, .intent = NIFTI_INTENT_TIME_SERIES, .time_step_ms = 1500};
        if (surface_write(p, &w, err)) DIE("", "%s", err);
    }
    snprintf(q, sizeof q, "%s: vertex 1 is NaN in volume 0", p);
    expect_error("surface/nan_vertex", bad, q);

    // one space, both kinds of run
    copy(good, bad);
    make_run(bad, "sub-01", 2, "fsavg", 3);
    snprintf(q, sizeof q, "%s: space fsavg has volumetric runs", bad);
    expect_error("surface/volumes_and_surfaces_in_one_space", bad, q);
    space = "MNI";
}

// a GIfTI label file of n vertices (ASCII data): keys[v], the table naming keys 1..named (key 0 "???")
static void label_file(const char *path, int n, const int *keys, int named) {
    char text[4096];
    int w = snprintf(text, sizeof text,
                     "<?xml version=\"1.0\"?>\n<GIFTI Version=\"1.0\" NumberOfDataArrays=\"1\"><LabelTable>"
                     "<Label Key=\"0\" Red=\"0\" Green=\"0\" Blue=\"0\" Alpha=\"0\">?\?\?</Label>");
    for (int k = 1; k <= named; k++)
        w += snprintf(text + w, sizeof text - (size_t)w,
                      "<Label Key=\"%d\" Red=\"1\" Green=\"0\" Blue=\"0\" Alpha=\"1\">area %d</Label>", k, k);
    w += snprintf(text + w, sizeof text - (size_t)w,
                  "</LabelTable><DataArray Intent=\"NIFTI_INTENT_LABEL\" DataType=\"NIFTI_TYPE_INT32\" "
                  "ArrayIndexingOrder=\"RowMajorOrder\" Dimensionality=\"1\" Dim0=\"%d\" Encoding=\"ASCII\" "
                  "Endian=\"LittleEndian\" ExternalFileName=\"\" ExternalFileOffset=\"\"><Data>", n);
    for (int v = 0; v < n; v++) w += snprintf(text + w, sizeof text - (size_t)w, "%d ", keys[v]);
    snprintf(text + w, sizeof text - (size_t)w, "</Data></DataArray></GIFTI>\n");
    write_file(path, text);
}

// fmri.atlas on a surface (host/parcels.h): one label file per hemisphere, parcels named after their hemisphere
// and numbered in key order, key 0 outside every parcel; and the ways such an atlas is refused
static void surface_atlas(const char *root) {
    FmriGrid g = {.surface = 1, .dim = {4, 3, 1}};
    char pattern[1100], path[1200], err[BASE_ERR_LEN] = "";
    snprintf(pattern, sizeof pattern, "%s/atlas_hemi-{hemi}.label.gii", root);
    const int left[4] = {2, 0, 1, 2}, right[3] = {1, 1, 3};
    snprintf(path, sizeof path, "%s/atlas_hemi-L.label.gii", root);
    label_file(path, 4, left, 2);
    snprintf(path, sizeof path, "%s/atlas_hemi-R.label.gii", root);
    label_file(path, 3, right, 3);
    Parcels p;
    int rc = parcels_load(pattern, "", "sub-01", &g, &p, err);
    CHECK(rc == 0, "atlas/surface_loads %s", rc ? err : "");
    if (rc == 0) {
        const int32_t want[7] = {1, -1, 0, 1, 2, 2, 3};
        int same = p.n_points == 7;
        for (size_t i = 0; same && i < 7; i++) same = p.of[i] == want[i];
        CHECK(p.n == 4 && strcmp(p.name[0], "left area 1") == 0 && strcmp(p.name[1], "left area 2") == 0 &&
                  strcmp(p.name[2], "right area 1") == 0 && strcmp(p.name[3], "right area 3") == 0,
              "atlas/surface_names_by_hemisphere (%zu: %s ... %s)", p.n, p.n ? p.name[0] : "", p.n ? p.name[p.n - 1] : "");
        CHECK(same, "atlas/surface_parcel_of_each_vertex");
        parcels_free(&p);
    }
    snprintf(path, sizeof path, "%s/atlas_hemi-L.label.gii", root);
    CHECK(parcels_load(path, "", "sub-01", &g, &p, err) == -1 && strstr(err, "put {hemi} in the path"),
          "atlas/surface_needs_hemi: %s", err);
    const int unnamed[3] = {1, 4, 1};
    snprintf(path, sizeof path, "%s/atlas_hemi-R.label.gii", root);
    label_file(path, 3, unnamed, 3);
    CHECK(parcels_load(pattern, "", "sub-01", &g, &p, err) == -1 && strstr(err, path) &&
              strstr(err, "key 4 is on vertices but not in the label table"),
          "atlas/surface_key_not_in_table: %s", err);
    label_file(path, 2, right, 3);
    CHECK(parcels_load(pattern, "", "sub-01", &g, &p, err) == -1 && strstr(err, path) &&
              strstr(err, "2 vertices, but the runs' right hemisphere has 3"),
          "atlas/surface_vertex_count: %s", err);
    snprintf(path, sizeof path, "%s/atlas_hemi-R.label.gii", root);
    write_file(path, "<?xml version=\"1.0\"?>\n<GIFTI Version=\"1.0\" NumberOfDataArrays=\"1\"><DataArray "
                     "Intent=\"NIFTI_INTENT_TIME_SERIES\" DataType=\"NIFTI_TYPE_FLOAT32\" Dimensionality=\"1\" "
                     "Dim0=\"3\" Encoding=\"ASCII\"><Data>1 2 3</Data></DataArray></GIFTI>\n");
    CHECK(parcels_load(pattern, "", "sub-01", &g, &p, err) == -1 && strstr(err, path) &&
              strstr(err, "not a GIfTI label file"),
          "atlas/surface_series_given_as_labels: %s", err);
}

// fmri.surface_geometry (host/geometry.h): nibabel's geometry files (a float32 row-major pointset with triangles, a
// float32 column-major base64 pointset) read as nibabel reads them; our own writer's round trip; and the ways a
// geometry is refused
static void surface_geometry(const char *root) {
    json_error_t je;
    json_t *ref = json_load_file("tests/fixtures/fmri-nibabel-surface/expected.json", 0, &je);
    json_t *want = ref ? json_object_get(ref, "coordinates") : NULL;
    FmriGrid g = {.surface = 1, .dim = {5, 6, 1}};
    char err[BASE_ERR_LEN] = "", path[1200], pattern[1100];
    double *xyz;
    int rc = geometry_load("tests/fixtures/fmri-nibabel-surface/tpl-fsaverage5_hemi-{hemi}_midthickness.surf.gii",
                           "sub-01", &g, &xyz, err);
    CHECK(rc == 0 && want, "geometry/nibabel_files_load %s", rc ? err : "");
    if (rc == 0 && want) {
        int same = json_array_size(want) == 11;
        for (size_t v = 0; same && v < 11; v++)
            for (size_t d = 0; d < 3; d++) same &= xyz[3 * v + d] == json_real_value(json_array_get(json_array_get(want, v), d));
        CHECK(same, "geometry/coordinates_equal_nibabels (11 vertices, both orders)");
        free(xyz);
    }
    json_decref(ref);

    g = (FmriGrid){.surface = 1, .dim = {3, 2, 1}};
    const float left[9] = {-40, -30, 10, -41.5f, -20, 12, -60, 0.25f, 1}, right[6] = {40, -27, 11, 1e-3f, 2, -3};
    snprintf(pattern, sizeof pattern, "%s/geo_hemi-{hemi}.surf.gii", root);
    snprintf(path, sizeof path, "%s/geo_hemi-L.surf.gii", root);
    CHECK(surface_write_geometry(path, left, 3, "CortexLeft", err) == 0, "geometry/write_left %s", err);
    snprintf(path, sizeof path, "%s/geo_hemi-R.surf.gii", root);
    CHECK(surface_write_geometry(path, right, 2, "CortexRight", err) == 0, "geometry/write_right %s", err);
    rc = geometry_load(pattern, "sub-01", &g, &xyz, err);
    CHECK(rc == 0, "geometry/round_trip_loads %s", rc ? err : "");
    if (rc == 0) {
        int same = 1;
        for (size_t i = 0; i < 9; i++) same &= xyz[i] == left[i];
        for (size_t i = 0; i < 6; i++) same &= xyz[9 + i] == right[i];
        CHECK(same, "geometry/round_trip_left_then_right_bit_for_bit");
        free(xyz);
    }
    FmriGrid volume = {.dim = {3, 2, 1}};
    CHECK(geometry_load(pattern, "sub-01", &volume, &xyz, err) == -1 && strstr(err, "the runs are volumes"),
          "geometry/volumes_refused: %s", err);
    snprintf(path, sizeof path, "%s/geo_hemi-L.surf.gii", root);
    CHECK(geometry_load(path, "sub-01", &g, &xyz, err) == -1 && strstr(err, "put {hemi} in the path"),
          "geometry/needs_hemi: %s", err);
    g.dim[1] = 3;
    snprintf(path, sizeof path, "%s/geo_hemi-R.surf.gii", root);
    CHECK(geometry_load(pattern, "sub-01", &g, &xyz, err) == -1 && strstr(err, path) &&
              strstr(err, "2 vertices, but the runs' right hemisphere has 3"),
          "geometry/vertex_count: %s", err);
    g.dim[1] = 2;
    CHECK(surface_write_geometry(path, right, 2, "CortexLeft", err) == 0, "geometry/write_mislabelled %s", err);
    CHECK(geometry_load(pattern, "sub-01", &g, &xyz, err) == -1 && strstr(err, path) &&
              strstr(err, "the geometry of CortexLeft, given for the right hemisphere"),
          "geometry/structure_of_the_other_hemisphere: %s", err);
    write_file(path, "<?xml version=\"1.0\"?>\n<GIFTI Version=\"1.0\" NumberOfDataArrays=\"1\"><DataArray "
                     "Intent=\"NIFTI_INTENT_TIME_SERIES\" DataType=\"NIFTI_TYPE_FLOAT32\" Dimensionality=\"1\" "
                     "Dim0=\"2\" Encoding=\"ASCII\"><Data>1 2</Data></DataArray></GIFTI>\n");
    CHECK(geometry_load(pattern, "sub-01", &g, &xyz, err) == -1 && strstr(err, path) &&
              strstr(err, "not a GIfTI geometry file"),
          "geometry/series_given_as_geometry: %s", err);
    write_file(path, "<?xml version=\"1.0\"?>\n<GIFTI Version=\"1.0\" NumberOfDataArrays=\"1\"><DataArray "
                     "Intent=\"NIFTI_INTENT_POINTSET\" DataType=\"NIFTI_TYPE_FLOAT32\" ArrayIndexingOrder=\"RowMajorOrder\" "
                     "Dimensionality=\"2\" Dim0=\"2\" Dim1=\"3\" Encoding=\"ASCII\"><Data>1 2 3 4 nan 6</Data>"
                     "</DataArray></GIFTI>\n");
    CHECK(geometry_load(pattern, "sub-01", &g, &xyz, err) == -1 && strstr(err, path) &&
              strstr(err, "vertex 1 has a coordinate that is not a number"),
          "geometry/nan_coordinate: %s", err);
    write_file(path, "<?xml version=\"1.0\"?>\n<GIFTI Version=\"1.0\" NumberOfDataArrays=\"1\"><DataArray "
                     "Intent=\"NIFTI_INTENT_POINTSET\" DataType=\"NIFTI_TYPE_FLOAT32\" ArrayIndexingOrder=\"RowMajorOrder\" "
                     "Dimensionality=\"2\" Dim0=\"3\" Dim1=\"2\" Encoding=\"ASCII\"><Data>1 2 3 4 5 6</Data>"
                     "</DataArray></GIFTI>\n");
    CHECK(geometry_load(pattern, "sub-01", &g, &xyz, err) == -1 && strstr(err, path) &&
              strstr(err, "not three coordinates per vertex"),
          "geometry/two_coordinates_per_vertex: %s", err);
}

// the project's brain mask (data/brain/, simulate --brain) through fmri_read_mask: its grid and voxel count as its
// script made them, MNI points known to be in (the origin, both Heschl's gyri) and out (above the vertex, below the
// cerebellum)
static void brain_mask(void) {
    FmriGrid g;
    uint8_t *m;
    char err[BASE_ERR_LEN] = "";
    int rc = fmri_read_mask("data/brain/space-MNI152NLin2009aSym_res-3mm_desc-brain_mask.nii.gz", &g, &m, err);
    CHECK(rc == 0, "brain_mask/reads %s", rc ? err : "");
    if (rc) return;
    size_t inside = 0, nv = fmri_grid_points(&g);
    for (size_t i = 0; i < nv; i++) inside += m[i];
    CHECK(g.dim[0] == 65 && g.dim[1] == 77 && g.dim[2] == 63 && g.affine[0] == 3 && g.affine[3] == -97 &&
              g.affine[7] == -133 && g.affine[11] == -71 && g.affine_code == 4,
          "brain_mask/grid_65x77x63_3mm_mni (%lldx%lldx%lld, origin %g %g %g)", (long long)g.dim[0],
          (long long)g.dim[1], (long long)g.dim[2], g.affine[3], g.affine[7], g.affine[11]);
    CHECK(inside == 75986, "brain_mask/75986_voxels (%zu)", inside);
    static const struct {
        double x, y, z;
        int in;
    } points[] = {{0, 0, 0, 1}, {-42, -22, 8, 1}, {42, -22, 8, 1}, {0, 0, 90, 0}, {0, -100, -60, 0}};
    int ok = 1;
    for (size_t p = 0; p < sizeof points / sizeof *points; p++) {
        int32_t ijk[3] = {(int32_t)lround((points[p].x + 97) / 3), (int32_t)lround((points[p].y + 133) / 3),
                          (int32_t)lround((points[p].z + 71) / 3)};
        ok &= m[fmri_grid_index(&g, ijk)] == points[p].in;
    }
    CHECK(ok, "brain_mask/known_points_in_and_out");
    free(m);
}

TEST_MAIN("test_fmri") {
    nibabel_fixture();
    nibabel_surface_fixture();
    char root[] = "/tmp/bs-fmri-XXXXXX";
    if (!mkdtemp(root)) DIE("", "mkdtemp failed");
    surface_atlas(root);
    surface_geometry(root);
    brain_mask();
    char good[1100], p[1400], q[1600], bad[1100];
    snprintf(good, sizeof good, "%s/good", root);
    make_run(good, "sub-01", 2, "MNI", 3);
    make_run(good, "sub-01", 10, "MNI", 4);
    make_run(good, "sub-02", 2, "MNI", 3);
    make_run(good, "sub-02", 10, "MNI", 4);
    make_run(good, "sub-01", 2, "T1w", 3);  // another space: not taken
    make_run(good, "sub-01", 2, "MNIx", 3);  // a space that starts the same: not taken

    // found: two subjects, run-2 before run-10 (natural order), masks and sidecars beside them
    FmriRun *r;
    size_t n;
    char err[BASE_ERR_LEN] = "";
    int rc = find(good, NULL, 0, &r, &n, err);
    CHECK(rc == 0 && n == 4, "find/four_runs_of_space_MNI (%zu) %s", rc ? 0 : n, err);
    if (rc == 0 && n == 4) {
        CHECK(strcmp(r[0].subject, "sub-01") == 0 && strcmp(r[0].key, "task-t_run-2") == 0 &&
                  strcmp(r[1].key, "task-t_run-10") == 0 && strcmp(r[2].subject, "sub-02") == 0,
              "find/sorted_by_subject_then_natural_run (%s %s, %s)", r[0].subject, r[0].key, r[1].key);
        CHECK(strstr(r[0].mask, "_space-MNI_desc-brain_mask.nii.gz") && strstr(r[0].json, "_desc-preproc_bold.json"),
              "find/mask_and_sidecar (%s)", r[0].mask);
        free(r);
    }
    const char *only10[] = {"010"};
    rc = find(good, only10, 1, &r, &n, err);
    CHECK(rc == 0 && n == 2 && strstr(r[0].key, "run-10"), "find/runs_select_by_number ('010' is run-10)");
    if (rc == 0) free(r);
    const char *nine[] = {"9"};
    CHECK(find(good, nine, 1, &r, &n, err) == -1 && strstr(err, "no runs") && strstr(err, "fmri.runs"),
          "find/unknown_run: %s", err);

    // loaded: 3 + 4 volumes, the voxels inside both runs' masks (1..7), values and grid as written
    FmriSubject s;
    rc = load_first(good, &s, err);
    CHECK(rc == 0, "load/sub-01 %s", rc ? err : "");
    if (rc == 0) {
        CHECK(s.V == 7 && s.n_runs == 2 && s.run_volumes[0] == 3 && s.run_volumes[1] == 4, "load/volumes_3_plus_4");
        CHECK(s.n_vox == 7 && s.ijk[0] == 1 && s.ijk[1] == 0 && s.ijk[2] == 0 && s.ijk[3 * 6] == 1 &&
                  s.ijk[3 * 6 + 1] == 0 && s.ijk[3 * 6 + 2] == 1,
              "load/voxels_1_to_7_in_storage_order (%zu)", s.n_vox);
        // voxel k is storage index k + 1; run 2's volume t then run 10's
        int ok = 1;
        for (size_t v = 0; v < 7; v++)
            for (size_t k = 0; k < 7; k++) {
                double want = v < 3 ? 200 + 10 * (double)v + (double)(k + 1) : 1000 + 10 * (double)(v - 3) + (double)(k + 1);
                ok &= s.data[v * 7 + k] == (float)want;
            }
        CHECK(ok, "load/values_of_both_runs_in_order");
        CHECK(fabs(s.tr - 1.5) < 1e-9, "load/tr_from_header (%g)", s.tr);
        double worst = 0;
        for (int i = 0; i < 16; i++) worst = fmax(worst, fabs(s.grid.affine[i] - AFFINE[i]));
        CHECK(worst < 1e-5 && s.grid.affine_code == NIFTI_XFORM_MNI_152 && s.grid.dim[0] == NX,
              "load/affine_from_sform (max diff %g, code %d)", worst, s.grid.affine_code);
        fmri_subject_free(&s);
    }

    // bad input, one file at a time
    snprintf(bad, sizeof bad, "%s/bad", root);
    const char *run2 = "sub-01/func/sub-01_task-t_run-2_space-MNI";

    copy(good, bad);
    snprintf(p, sizeof p, "%s/%s_desc-preproc_bold.nii.gz", bad, run2);
    bold(p, 2, 1, 1.5, AFFINE);
    snprintf(q, sizeof q, "%s: a 3D image (3x2x2); a BOLD run must be 4D", p);
    expect_error("3d_bold", bad, q);

    // nifticlib reads a NaN float as 0: such zeros are checked in the file's bytes (gzip and plain), while a true 0
    // inside the mask and a NaN outside it (voxel 0) load
    copy(good, bad);
    snprintf(p, sizeof p, "%s/%s_desc-preproc_bold.nii.gz", bad, run2);
    bold_with(p, 2, 3, 1.5, AFFINE, NV + 5, NAN);
    snprintf(q, sizeof q, "%s: voxel (2, 1, 0) inside the mask is NaN in volume 1; recordings must be finite", p);
    expect_error("nan_in_mask_gzip", bad, q);
    snprintf(q, sizeof q, "rm %s && true", p);
    run(q);
    snprintf(p, sizeof p, "%s/%s_desc-preproc_bold.nii", bad, run2);
    bold_with(p, 2, 3, 1.5, AFFINE, 2 * NV + 7, -INFINITY);
    snprintf(q, sizeof q, "%s: voxel (1, 0, 1) inside the mask is infinite in volume 2; recordings must be finite", p);
    expect_error("infinite_in_mask_plain", bad, q);
    for (int c = 0; c < 2; c++) {
        copy(good, bad);
        snprintf(p, sizeof p, "%s/%s_desc-preproc_bold.nii.gz", bad, run2);
        bold_with(p, 2, 3, 1.5, AFFINE, c ? NV + 0 : NV + 5, c ? NAN : 0.0f);
        FmriSubject z;
        int zrc = load_first(bad, &z, err);
        CHECK(zrc == 0, "bad/%s_loads %s", c ? "nan_outside_the_mask" : "zero_inside_the_mask", zrc ? err : "");
        if (zrc == 0) fmri_subject_free(&z);
    }

    copy(good, bad);
    snprintf(p, sizeof p, "%s/%s_desc-brain_mask.nii.gz", bad, run2);
    mask(p, 0xFu, NX - 1, AFFINE);
    snprintf(q, sizeof q, "%s: the mask's grid (2x2x2 voxels", p);
    expect_error("mask_grid", bad, q);

    copy(good, bad);
    double shifted[16];
    memcpy(shifted, AFFINE, sizeof shifted);
    shifted[3] += 2;
    mask(p, 0xFFEu, NX, shifted);
    snprintf(q, sizeof q, "%s: the mask's grid (3x2x2 voxels, affine [[-2 0 0 12]", p);
    expect_error("mask_affine", bad, q);

    copy(good, bad);
    mask(p, 0, NX, AFFINE);
    snprintf(q, sizeof q, "%s: the brain mask is empty", p);
    expect_error("empty_mask", bad, q);

    {  // a header that declares 2.4 GB of voxels in a file of a few bytes: refused before nifticlib allocates them
       // (found by tests/fuzz/fuzz_fmri.c: nifticlib callocs the declared size first)
        copy(good, bad);
        nifti_1_header h;
        memset(&h, 0, sizeof h);
        h.sizeof_hdr = 348;
        h.dim[0] = 3, h.dim[1] = 2000, h.dim[2] = 2000, h.dim[3] = 600;
        h.datatype = NIFTI_TYPE_UINT8, h.bitpix = 8;
        h.pixdim[1] = h.pixdim[2] = h.pixdim[3] = 1;
        h.vox_offset = 352;
        memcpy(h.magic, "n+1", 4);
        char plain[2048];
        snprintf(plain, sizeof plain, "%s/%s_desc-brain_mask.nii", bad, run2);
        FILE *f = fopen(plain, "wb");
        const char extension[4] = {0}, few[16] = {1};
        int ok = f && fwrite(&h, sizeof h, 1, f) == 1 && fwrite(extension, 4, 1, f) == 1 && fwrite(few, 16, 1, f) == 1;
        if (!f || fclose(f) != 0 || !ok) DIE("", "test setup failed: %s", plain);
        char gz[2100];
        snprintf(gz, sizeof gz, "gzip -f %s", plain);
        run(gz);
        snprintf(q, sizeof q, "%.900s: the header declares 2400000000 bytes of voxel data, but ", p);
        expect_error("mask_declares_more_data_than_its_file_holds", bad, q);
    }

    copy(good, bad);
    snprintf(p, sizeof p, "rm %s/%s_desc-brain_mask.nii.gz", bad, run2);
    run(p);
    snprintf(q, sizeof q, "%s/%s_desc-brain_mask.nii.gz: no such file", bad, run2);
    expect_error("missing_mask", bad, q);

    copy(good, bad);
    snprintf(p, sizeof p, "%s/%s_desc-preproc_bold.json", bad, run2);
    write_file(p, "{\"RepetitionTime\": 2.0}\n");
    snprintf(q, sizeof q, "%s: RepetitionTime 2 s disagrees with the TR of", p);
    expect_error("tr_vs_sidecar", bad, q);

    copy(good, bad);
    write_file(p, "{\"RepetitionTime\": ");
    snprintf(q, sizeof q, "%s: line", p);
    expect_error("sidecar_not_json", bad, q);

    copy(good, bad);
    snprintf(p, sizeof p, "%s/%s_desc-preproc_bold.nii.gz", bad, run2);
    write_file(p, "not a nifti file");
    snprintf(q, sizeof q, "%s: not a readable NIfTI-1/2 image", p);
    expect_error("not_nifti", bad, q);

    copy(good, bad);
    snprintf(p, sizeof p, "rm %s/sub-02/func/sub-02_task-t_run-10_space-MNI_desc-preproc_bold.nii.gz", bad);
    run(p);
    snprintf(q, sizeof q, "%s/sub-02/func/sub-02_task-t_run-10_space-MNI_desc-preproc_bold.nii.gz: missing: subject "
                          "sub-02 has no run task-t_run-10", bad);
    expect_error("missing_run", bad, q);

    copy(good, bad);
    snprintf(p, sizeof p, "%s/sub-01/func/sub-01_task-t_run-10_space-MNI_desc-preproc_bold.nii.gz", bad);
    bold(p, 10, 4, 2.0, AFFINE);
    snprintf(p, sizeof p, "rm %s/sub-01/func/sub-01_task-t_run-10_space-MNI_desc-preproc_bold.json", bad);
    run(p);
    snprintf(q, sizeof q, "%s/sub-01/func/sub-01_task-t_run-10_space-MNI_desc-preproc_bold.nii.gz: TR 2 s differs from "
                          "the subject's first run", bad);
    expect_error("tr_between_runs", bad, q);

    confounds(root);
    surfaces(root);

    snprintf(bad, sizeof bad, "%s/nothing", root);
    snprintf(q, sizeof q, "%s: no runs sub-*/[ses-*/]func/*_space-MNI_desc-preproc_bold.nii[.gz] or "
                          "*_hemi-L_space-MNI_bold.func.gii of task t", bad);
    expect_error("no_runs", bad, q);

    snprintf(p, sizeof p, "rm -rf %s", root);
    run(p);
}
