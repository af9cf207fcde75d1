#include "host/fmri.h"

#include <ctype.h>
#include <glob.h>
#include <cblas.h>
#include <jansson.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nifti2_io.h>

#include "host/base.h"
#include "host/surface.h"
#include "host/tsv.h"

// ----------------------------------------------------------------------------
// finding the runs

static const char BOLD_SUFFIX[] = "_desc-preproc_bold.nii";
static const char SURFACE_SUFFIX[] = "_bold.func.gii";

// the value of entity key in a file name ("" when absent)
static void entity(const char *name, const char *key, char *out, size_t n) {
    out[0] = '\0';
    size_t kl = strlen(key);
    for (const char *p = name; (p = strstr(p, key)); p++)
        if ((p == name || p[-1] == '_') && p[kl] == '-') {
            p += kl + 1;
            snprintf(out, n, "%.*s", (int)strcspn(p, "_."), p);
            return;
        }
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

// run labels compare as numbers when both are ("1" is "01")
static int same_label(const char *a, const char *b) {
    if (all_digits(a) && all_digits(b)) return strtol(a, NULL, 10) == strtol(b, NULL, 10);
    return strcmp(a, b) == 0;
}

static int by_subject_key(const void *a, const void *b) {
    const FmriRun *x = a, *y = b;
    int c = strverscmp(x->subject, y->subject);
    return c ? c : strverscmp(x->key, y->key);
}

static int subject_wanted(const FmriQuery *q, const char *sub) {
    if (!q->n_subjects) return 1;
    for (size_t i = 0; i < q->n_subjects; i++) {
        const char *w = q->subjects[i];
        if (strcmp(w, sub) == 0 || (strncmp(sub, "sub-", 4) == 0 && strcmp(w, sub + 4) == 0)) return 1;
    }
    return 0;
}

// where a subject's run of this key would be
static void expected_path(const FmriQuery *q, int surface, const char *sub, const char *key, char *out, size_t n) {
    char ses[64];
    entity(key, "ses", ses, sizeof ses);
    snprintf(out, n, "%s/%s/%s%s%sfunc/%s_%s_%sspace-%s%s%s", q->root, sub, ses[0] ? "ses-" : "", ses, ses[0] ? "/" : "",
             sub, key, surface ? "hemi-L_" : "", q->space, surface ? SURFACE_SUFFIX : BOLD_SUFFIX, surface ? "" : ".gz");
}

// whether a file's entities fit the query (space, task, run, subject); fills r's subject
static int query_wants(const FmriQuery *q, const char *name, FmriRun *r) {
    char v[128];
    entity(name, "space", v, sizeof v);
    if (strcmp(v, q->space) != 0) return 0;
    entity(name, "task", v, sizeof v);
    if (q->task && q->task[0] && strcmp(v, q->task) != 0) return 0;
    if (q->n_runs) {
        entity(name, "run", v, sizeof v);
        size_t i = 0;
        while (i < q->n_runs && !same_label(q->runs[i], v)) i++;
        if (i == q->n_runs) return 0;
    }
    memset(r, 0, sizeof *r);
    snprintf(r->subject, sizeof r->subject, "%.*s", (int)strcspn(name, "_"), name);
    return subject_wanted(q, r->subject);
}

// the run's key: the entities between the subject and `before` ("_space-", "_hemi-")
static void run_key(const char *name, const char *before, FmriRun *r) {
    const char *k = name + strcspn(name, "_");
    k += *k == '_';
    const char *sp = strstr(name, before);
    snprintf(r->key, sizeof r->key, "%.*s", sp > k ? (int)(sp - k) : 0, k);
}

// fMRIPrep's confounds table is one per run, named by the run's entities before `before`
static void confounds_path(const FmriQuery *q, const char *path, const char *before, FmriRun *r) {
    const char *at = strstr(path, before);
    if (q->n_confounds && at)
        snprintf(r->confounds, sizeof r->confounds, "%.*s_desc-confounds_timeseries.tsv", (int)(at - path), path);
}

// one matched volumetric file into a run, or 0 when the name does not fit the query
static int parse_run(const FmriQuery *q, const char *path, FmriRun *r) {
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    const char *end = strstr(name, BOLD_SUFFIX);
    if (!end || (strcmp(end + strlen(BOLD_SUFFIX), "") != 0 && strcmp(end + strlen(BOLD_SUFFIX), ".gz") != 0))
        return 0;
    if (!query_wants(q, name, r)) return 0;
    run_key(name, "_space-", r);
    snprintf(r->bold, sizeof r->bold, "%s", path);
    // the mask and the sidecar share the run's entities up to the desc
    size_t stem = (size_t)(end - path);
    const char *ext[] = {".nii.gz", ".nii"};
    for (int e = 0; e < 2 && !r->mask[0]; e++) {
        snprintf(r->mask, sizeof r->mask, "%.*s_desc-brain_mask%s", (int)stem, path, ext[e]);
        if (!base_file_exists(r->mask)) r->mask[0] = '\0';
    }
    snprintf(r->json, sizeof r->json, "%.*s_desc-preproc_bold.json", (int)stem, path);
    if (!base_file_exists(r->json)) r->json[0] = '\0';
    confounds_path(q, path, "_space-", r);
    return 1;
}

// one matched left-hemisphere series into a surface run (its right twin's name beside it), or 0
static int parse_surface_run(const FmriQuery *q, const char *path, FmriRun *r) {
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    size_t nl = strlen(name), sl = strlen(SURFACE_SUFFIX);
    char hemi[8];
    entity(name, "hemi", hemi, sizeof hemi);
    if (nl <= sl || strcmp(name + nl - sl, SURFACE_SUFFIX) != 0 || strcmp(hemi, "L") != 0) return 0;
    if (!query_wants(q, name, r)) return 0;
    r->surface = 1;
    run_key(name, "_hemi-", r);
    snprintf(r->bold, sizeof r->bold, "%s", path);
    size_t at = (size_t)(strstr(name, "_hemi-L") - path);
    snprintf(r->bold_right, sizeof r->bold_right, "%.*s_hemi-R%s", (int)at, path, path + at + 7);
    // the sidecar of either hemisphere
    size_t stem = strlen(path) - sl;
    for (int h = 0; h < 2 && !r->json[0]; h++) {
        const char *p = h ? r->bold_right : path;
        snprintf(r->json, sizeof r->json, "%.*s_bold.json", (int)stem, p);
        if (!base_file_exists(r->json)) r->json[0] = '\0';
    }
    confounds_path(q, path, "_hemi-", r);
    return 1;
}

int fmri_find_runs(const FmriQuery *q, FmriRun **runs, size_t *n, char *err) {
    *runs = NULL;
    *n = 0;
    glob_t g;
    memset(&g, 0, sizeof g);
    char pat[FMRI_PATH + 128];
    const char *dirs[] = {"sub-*/func", "sub-*/ses-*/func"};
    int rc = 0;
    size_t n_volumetric = 0;
    for (int kind = 0; kind < 2; kind++)  // volumetric runs, then the left hemispheres of surface runs
        for (int d = 0; d < 2; d++) {
            if (kind == 0) snprintf(pat, sizeof pat, "%s/%s/sub-*_space-%s*%s*", q->root, dirs[d], q->space, BOLD_SUFFIX);
            else snprintf(pat, sizeof pat, "%s/%s/sub-*_hemi-L_space-%s*%s", q->root, dirs[d], q->space, SURFACE_SUFFIX);
            rc = glob(pat, g.gl_pathc ? GLOB_APPEND : 0, NULL, &g);
            if (rc != 0 && rc != GLOB_NOMATCH) {
                globfree(&g);
                return base_errf(err, "%s: cannot list the dataset's func folders", q->root);
            }
            if (kind == 0) n_volumetric = g.gl_pathc;
        }
    FmriRun *out = base_calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof(FmriRun), "fMRI runs");
    size_t k = 0, k_volumetric = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        int took = i < n_volumetric ? parse_run(q, g.gl_pathv[i], &out[k]) : parse_surface_run(q, g.gl_pathv[i], &out[k]);
        k += (size_t)took;
        k_volumetric += (size_t)(took && i < n_volumetric);
    }
    globfree(&g);
    if (k == 0) {
        free(out);
        return base_errf(err, "%s: no runs sub-*/[ses-*/]func/*_space-%s_desc-preproc_bold.nii[.gz] or "
                              "*_hemi-L_space-%s_bold.func.gii%s%s%s", q->root, q->space, q->space,
                         q->task && q->task[0] ? " of task " : "", q->task ? q->task : "",
                         q->n_runs || q->n_subjects ? " among the selected subjects and runs (fmri.subjects, fmri.runs)" : "");
    }
    if (k_volumetric && k_volumetric < k) {
        int bad = base_errf(err, "%s: space %s has volumetric runs (%s) and surface runs (%s); one space is one kind "
                                 "(fmri.space)", q->root, q->space, out[0].bold, out[k - 1].bold);
        free(out);
        return bad;
    }
    qsort(out, k, sizeof *out, by_subject_key);
    int bad = 0;
    for (size_t i = 1; i < k && !bad; i++)
        if (strcmp(out[i].subject, out[i - 1].subject) == 0 && strcmp(out[i].key, out[i - 1].key) == 0)
            bad = base_errf(err, "%s and %s: two runs with the same entities (keep one, or select with fmri.space)",
                            out[i - 1].bold, out[i].bold);
    // a selected subject without any run
    for (size_t s = 0; s < q->n_subjects && !bad; s++) {
        size_t i = 0;
        char want[72];
        snprintf(want, sizeof want, "%s%s", strncmp(q->subjects[s], "sub-", 4) == 0 ? "" : "sub-", q->subjects[s]);
        while (i < k && strcmp(out[i].subject, want) != 0) i++;
        if (i == k) bad = base_errf(err, "%s/%s: no runs of space %s (fmri.subjects names it)", q->root, want, q->space);
    }
    // a selected run label that no file has
    for (size_t r = 0; r < q->n_runs && !bad; r++) {
        size_t i = 0;
        for (; i < k; i++) {
            char v[64];
            entity(out[i].key, "run", v, sizeof v);
            if (same_label(v, q->runs[r])) break;
        }
        if (i == k) bad = base_errf(err, "%s: no subject has a run-%s of space %s (fmri.runs names it)", q->root,
                                    q->runs[r], q->space);
    }
    for (size_t i = 0; i < k && !bad; i++)
        if (out[i].surface && !base_file_exists(out[i].bold_right))
            bad = base_errf(err, "%s: no such file: the right hemisphere of %s (a surface run is both hemispheres)",
                            out[i].bold_right, out[i].bold);
    for (size_t i = 0; i < k && !bad; i++)
        if (out[i].confounds[0] && !base_file_exists(out[i].confounds))
            bad = base_errf(err, "%s: no such file: the confounds table of %s (fmri.confounds names columns of it)",
                            out[i].confounds, out[i].bold);
    // every subject has every key any subject has
    for (size_t i = 0; i < k && !bad; i++) {
        for (size_t a = 0; a < k && !bad; a++) {
            if (a && strcmp(out[a].subject, out[a - 1].subject) == 0) continue;  // the first run of each subject
            size_t b = a;
            while (b < k && strcmp(out[b].subject, out[a].subject) == 0 && strcmp(out[b].key, out[i].key) != 0) b++;
            if (b < k && strcmp(out[b].subject, out[a].subject) == 0) continue;
            char path[FMRI_PATH + 256];
            expected_path(q, out[0].surface, out[a].subject, out[i].key, path, sizeof path);
            bad = base_errf(err, "%s: missing: subject %s has no run %s, which %s has (every subject needs the same "
                                 "runs; fmri.runs or fmri.subjects select them)",
                            path, out[a].subject, out[i].key, out[i].subject);
        }
    }
    if (bad) {
        free(out);
        return -1;
    }
    *runs = out;
    *n = k;
    return 0;
}

// ----------------------------------------------------------------------------
// reading a run

void fmri_subject_free(FmriSubject *s) {
    if (!s) return;
    free(s->ijk), free(s->run_volumes), free(s->data);
    memset(s, 0, sizeof *s);
}

void fmri_voxels_free(FmriVoxels *v) {
    if (!v) return;
    free(v->ijk), free(v->dims), free(v->affine), free(v->affine_code), free(v->n_voxels);
    for (size_t i = 0; i < v->n_parcels; i++) free(v->parcel_name[i]);
    free(v->parcel_name), free(v->parcel), free(v->distance);
    memset(v, 0, sizeof *v);
}

size_t fmri_grid_points(const FmriGrid *g) {
    if (g->surface) return (size_t)(g->dim[0] + g->dim[1]);
    return (size_t)g->dim[0] * (size_t)g->dim[1] * (size_t)g->dim[2];
}

size_t fmri_grid_index(const FmriGrid *g, const int32_t x[3]) {
    if (g->surface) return (size_t)x[0] + (x[1] ? (size_t)g->dim[0] : 0);
    return (size_t)x[0] + (size_t)g->dim[0] * ((size_t)x[1] + (size_t)g->dim[1] * (size_t)x[2]);
}

int fmri_expand_path(const char *pattern, const char *subject, const char *hemi, char *out, size_t n) {
    const char *label = strncmp(subject, "sub-", 4) == 0 ? subject + 4 : subject;
    size_t w = 0;
    for (const char *p = pattern; *p;) {
        const char *with = NULL;
        size_t skip = 1;
        if (strncmp(p, "{subject}", 9) == 0) with = label, skip = 9;
        else if (strncmp(p, "{hemi}", 6) == 0 && hemi) with = hemi, skip = 6;
        size_t len = with ? strlen(with) : 1;
        if (w + len >= n) return -1;
        memcpy(out + w, with ? with : p, len);
        w += len, p += skip;
    }
    out[w] = '\0';
    return 0;
}

int fmri_same_grid(const FmriGrid *a, const FmriGrid *b) {
    if (a->surface != b->surface) return 0;
    for (int d = 0; d < 3; d++)
        if (a->dim[d] != b->dim[d]) return 0;
    for (int i = 0; i < 16; i++)
        if (fabs(a->affine[i] - b->affine[i]) > 1e-4) return 0;
    return 1;
}

void fmri_describe_grid(const FmriGrid *g, char *out, size_t n) {
    if (g->surface) {
        snprintf(out, n, "a surface of %lld + %lld vertices", (long long)g->dim[0], (long long)g->dim[1]);
        return;
    }
    int w = snprintf(out, n, "%lldx%lldx%lld voxels, affine [", (long long)g->dim[0], (long long)g->dim[1],
                     (long long)g->dim[2]);
    for (int r = 0; r < 3 && w > 0 && (size_t)w < n; r++)
        w += snprintf(out + w, n - (size_t)w, "%s[%g %g %g %g]", r ? " " : "", g->affine[4 * r], g->affine[4 * r + 1],
                      g->affine[4 * r + 2], g->affine[4 * r + 3]);
    if (w > 0 && (size_t)w < n) snprintf(out + w, n - (size_t)w, "]");
}

static void grid_of(const nifti_image *nim, FmriGrid *g) {
    memset(g, 0, sizeof *g);
    g->dim[0] = nim->nx, g->dim[1] = nim->ny, g->dim[2] = nim->nz;
    const nifti_dmat44 *m = nim->sform_code > 0 ? &nim->sto_xyz : &nim->qto_xyz;
    g->affine_code = nim->sform_code > 0 ? nim->sform_code : nim->qform_code;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) g->affine[4 * r + c] = m->m[r][c];
    if (nim->sform_code <= 0 && nim->qform_code <= 0) {  // neither: the voxel sizes alone (Analyze's convention)
        memset(g->affine, 0, sizeof g->affine);
        g->affine[0] = nim->dx, g->affine[5] = nim->dy, g->affine[10] = nim->dz, g->affine[15] = 1;
    }
}

// element i of the image's data as a double, with the header's scaling; NaN for a type we do not read
static double value_at(const nifti_image *nim, size_t i) {
    double v;
    switch (nim->datatype) {
    case NIFTI_TYPE_UINT8: v = ((const uint8_t *)nim->data)[i]; break;
    case NIFTI_TYPE_INT8: v = ((const int8_t *)nim->data)[i]; break;
    case NIFTI_TYPE_INT16: v = ((const int16_t *)nim->data)[i]; break;
    case NIFTI_TYPE_UINT16: v = ((const uint16_t *)nim->data)[i]; break;
    case NIFTI_TYPE_INT32: v = ((const int32_t *)nim->data)[i]; break;
    case NIFTI_TYPE_UINT32: v = ((const uint32_t *)nim->data)[i]; break;
    case NIFTI_TYPE_INT64: v = (double)((const int64_t *)nim->data)[i]; break;
    case NIFTI_TYPE_UINT64: v = (double)((const uint64_t *)nim->data)[i]; break;
    case NIFTI_TYPE_FLOAT32: v = ((const float *)nim->data)[i]; break;
    case NIFTI_TYPE_FLOAT64: v = ((const double *)nim->data)[i]; break;
    default: return NAN;
    }
    if (nim->scl_slope != 0 && isfinite(nim->scl_slope)) v = v * nim->scl_slope + nim->scl_inter;
    return v;
}

static int type_known(int t) {
    return t == NIFTI_TYPE_UINT8 || t == NIFTI_TYPE_INT8 || t == NIFTI_TYPE_INT16 || t == NIFTI_TYPE_UINT16 ||
           t == NIFTI_TYPE_INT32 || t == NIFTI_TYPE_UINT32 || t == NIFTI_TYPE_INT64 || t == NIFTI_TYPE_UINT64 ||
           t == NIFTI_TYPE_FLOAT32 || t == NIFTI_TYPE_FLOAT64;
}

// the 3D images a file holds: the product of its dimensions past the third (nifticlib leaves unused ones 0 or 1)
static size_t images_in(const nifti_image *nim) {
    const int64_t d[4] = {nim->nt, nim->nu, nim->nv, nim->nw};
    size_t n = 1;
    for (int i = 0; i < 4 && 3 + i < nim->ndim; i++) n *= d[i] > 1 ? (size_t)d[i] : 1;
    return n;
}

// 1 (with err) when the header declares more voxel data than its data file can hold: nifticlib allocates the
// declared size before it reads (2.5 GB for a 714-byte file, found by tests/fuzz/fuzz_fmri.c). A plain file must
// hold it after the header; a gzip file at most 1,032 times its own size (deflate's largest ratio).
static int data_exceeds_file(const char *path, char *err) {
    nifti_image *h = nifti_image_read(path, 0);
    if (!h) return 0;  // the full read below names the problem
    size_t per = h->nbyper > 0 ? (size_t)h->nbyper : 1, nvox = h->nvox > 0 ? (size_t)h->nvox : 0;
    size_t offset = h->iname_offset > 0 ? (size_t)h->iname_offset : 0;
    char data_file[4096];
    snprintf(data_file, sizeof data_file, "%s", h->iname ? h->iname : path);
    nifti_image_free(h);
    struct stat sb;
    unsigned char magic[2] = {0, 0};
    FILE *f = fopen(data_file, "rb");
    int gz = f && fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (f) fclose(f);
    if (stat(data_file, &sb) != 0) return 0;
    double declared = (double)nvox * (double)per, room = gz ? 1032.0 * (double)sb.st_size
                                                                : (double)sb.st_size - (double)offset;
    if (declared <= room) return 0;
    base_errf(err, "%s: the header declares %.0f bytes of voxel data, but %s can hold at most %.0f (truncated or "
                   "damaged)",
              path, declared, data_file, room > 0 ? room : 0);
    return 1;
}

// a NIfTI file (header only unless with_data), with nifticlib's own messages silenced: ours name the file
static nifti_image *read_image(const char *path, int with_data, char *err) {
    nifti_set_debug_level(0);
    if (!base_file_exists(path)) {
        base_errf(err, "%s: no such file", path);
        return NULL;
    }
    // the header alone first (nifticlib reads and byte-swaps it), its dimensions checked here: nifticlib's full
    // reader trusts dim[0] of a NIfTI-2 header and overflows its stack on a damaged one (found by
    // tests/fuzz/fuzz_fmri.c), and its own check prints to stderr whatever the debug level
    int version = 0, ok = 0;
    void *hdr = nifti_read_header(path, &version, 0);
    if (hdr && version == 1) {
        const nifti_1_header *h = hdr;
        ok = h->dim[0] >= 1 && h->dim[0] <= 7;
        for (int d = 1; ok && d <= h->dim[0]; d++) ok = h->dim[d] >= 1;
    } else if (hdr && version == 2) {
        const nifti_2_header *h = hdr;
        ok = h->dim[0] >= 1 && h->dim[0] <= 7;
        for (int d = 1; ok && d <= h->dim[0]; d++) ok = h->dim[d] >= 1 && h->dim[d] <= ((int64_t)1 << 40);
    }
    free(hdr);
    if (!ok) {
        base_errf(err, "%s: not a readable NIfTI-1/2 image (no valid header: truncated, damaged, or not NIfTI)", path);
        return NULL;
    }
    if (with_data && data_exceeds_file(path, err)) return NULL;
    nifti_image *nim = nifti_image_read(path, with_data);
    if (!nim || (with_data && !nim->data)) {
        if (nim) nifti_image_free(nim);
        base_errf(err, "%s: not a readable NIfTI-1/2 image (truncated, or not NIfTI)", path);
        return NULL;
    }
    if (!type_known(nim->datatype)) {
        base_errf(err, "%s: NIfTI datatype %s is not read here (integers, float32, float64)", path,
                  nifti_datatype_string(nim->datatype));
        nifti_image_free(nim);
        return NULL;
    }
    return nim;
}

// the sidecar's RepetitionTime, where there is one: the TR when the file gave none (*tr 0), else checked against it
static int sidecar_tr(const FmriRun *r, const char *from, double *tr, char *err) {
    if (!r->json[0]) return 0;
    json_error_t je;
    json_t *j = json_load_file(r->json, 0, &je);
    if (!j) return base_errf(err, "%s: line %d: not valid JSON: %s", r->json, je.line, je.text);
    json_t *t = json_object_get(j, "RepetitionTime");
    double side = t && json_is_number(t) ? json_number_value(t) : NAN;
    json_decref(j);
    if (t && !isfinite(side)) return base_errf(err, "%s: RepetitionTime is not a number", r->json);
    if (isfinite(side) && !(*tr > 0)) *tr = side;
    else if (isfinite(side) && fabs(side - *tr) > 1e-3)
        return base_errf(err, "%s: RepetitionTime %g s disagrees with the TR of %s (%g s, %s)", r->json, side, r->bold,
                         *tr, from);
    return 0;
}

// the run's header as a BOLD run: 4D, its TR in seconds (checked against the sidecar)
static int bold_header(const FmriRun *r, FmriGrid *g, size_t *nt, double *tr, char *err) {
    nifti_image *nim = read_image(r->bold, 0, err);
    if (!nim) return -1;
    int rc = 0;
    if (nim->ndim < 4 || nim->nt < 2) {
        rc = base_errf(err, "%s: a %s image (%lldx%lldx%lld%s); a BOLD run must be 4D (x, y, z, time)", r->bold,
                       nim->ndim < 4 ? "3D" : "single-volume", (long long)nim->nx, (long long)nim->ny,
                       (long long)nim->nz, nim->ndim < 4 ? "" : "x1");
    } else if (nim->nu > 1 || nim->nv > 1 || nim->nw > 1) {
        rc = base_errf(err, "%s: a %dD image; a BOLD run must be 4D (x, y, z, time)", r->bold, (int)nim->ndim);
    }
    // a damaged header can claim any size; the grid is allocated from it before the data are read
    if (rc == 0 && (nim->nx < 1 || nim->ny < 1 || nim->nz < 1 || (double)nim->nx * (double)nim->ny * (double)nim->nz > 1e9))
        rc = base_errf(err, "%s: implausible grid %lldx%lldx%lld in the header", r->bold, (long long)nim->nx,
                       (long long)nim->ny, (long long)nim->nz);
    if (rc == 0) {
        grid_of(nim, g);
        *nt = (size_t)nim->nt;
        double dt = nim->dt;
        if (nim->time_units == NIFTI_UNITS_MSEC) dt /= 1e3;
        else if (nim->time_units == NIFTI_UNITS_USEC) dt /= 1e6;
        *tr = dt;
    }
    nifti_image_free(nim);
    if (rc) return -1;
    if (sidecar_tr(r, "pixdim[4] of its header", tr, err)) return -1;
    if (!(*tr > 0))
        return base_errf(err, "%s: no TR (pixdim[4] is %g and no sidecar RepetitionTime)", r->bold, *tr);
    return 0;
}

// a surface run's two series: the grid of their vertex counts, the volumes (the same in both), the TR
static int surface_header(const FmriRun *r, FmriGrid *g, size_t *nt, double *tr, char *err) {
    SurfaceSeries h[2];
    const char *path[2] = {r->bold, r->bold_right}, *structure[2] = {"CortexLeft", "CortexRight"};
    for (int i = 0; i < 2; i++) {
        if (surface_read_series(path[i], 0, &h[i], err)) return -1;
        if (h[i].n_volumes < 2)
            return base_errf(err, "%s: a single-volume series; a BOLD run has one data array per volume", path[i]);
        if (h[i].structure[0] && strcmp(h[i].structure, structure[i]) != 0)
            return base_errf(err, "%s: its AnatomicalStructurePrimary is %s, but its name says hemi-%c (%s)", path[i],
                             h[i].structure, i ? 'R' : 'L', structure[i]);
    }
    if (h[1].n_volumes != h[0].n_volumes)
        return base_errf(err, "%s: %zu volumes, but the left hemisphere %s has %zu", r->bold_right, h[1].n_volumes,
                         r->bold, h[0].n_volumes);
    if (isfinite(h[0].time_step_ms) && isfinite(h[1].time_step_ms) && fabs(h[0].time_step_ms - h[1].time_step_ms) > 1)
        return base_errf(err, "%s: TimeStep %g ms, but the left hemisphere %s has %g ms", r->bold_right,
                         h[1].time_step_ms, r->bold, h[0].time_step_ms);
    memset(g, 0, sizeof *g);
    g->surface = 1;
    g->dim[0] = (int64_t)h[0].n_vertices, g->dim[1] = (int64_t)h[1].n_vertices, g->dim[2] = 1;
    g->affine[0] = g->affine[5] = g->affine[10] = g->affine[15] = 1;
    *nt = h[0].n_volumes;
    double ms = isfinite(h[0].time_step_ms) ? h[0].time_step_ms : h[1].time_step_ms;
    *tr = isfinite(ms) ? ms / 1e3 : 0;
    if (sidecar_tr(r, "the TimeStep of its data arrays", tr, err)) return -1;
    if (!(*tr > 0))
        return base_errf(err, "%s: no TR (no TimeStep metadata in its data arrays and no sidecar RepetitionTime)",
                         r->bold);
    return 0;
}

int fmri_read_mask(const char *path, FmriGrid *g, uint8_t **mask, char *err) {
    *mask = NULL;
    nifti_image *nim = read_image(path, 1, err);
    if (!nim) return -1;
    grid_of(nim, g);
    int rc = 0;
    if (images_in(nim) > 1) {
        rc = base_errf(err, "%s: a %dD image; a brain mask must be 3D", path, (int)nim->ndim);
    } else {
        size_t nv = fmri_grid_points(g), inside = 0;
        *mask = base_malloc(nv ? nv : 1, "mask");
        for (size_t i = 0; i < nv; i++) {
            double v = value_at(nim, i);
            (*mask)[i] = (uint8_t)(isfinite(v) && v > 0);
            inside += (*mask)[i];
        }
        if (inside == 0) rc = base_errf(err, "%s: the brain mask is empty (no voxel above 0)", path);
    }
    nifti_image_free(nim);
    if (rc) {
        free(*mask);
        *mask = NULL;
    }
    return rc;
}

// the run's mask, checked against its BOLD grid, ANDed into keep (the grid's voxels)
static int and_mask(const FmriRun *r, const FmriGrid *g, uint8_t *keep, char *err) {
    if (!r->mask[0]) {
        char want[FMRI_PATH + 32];
        snprintf(want, sizeof want, "%.*s_desc-brain_mask.nii.gz", (int)(strstr(r->bold, BOLD_SUFFIX) - r->bold),
                 r->bold);
        return base_errf(err, "%s: no such file: the brain mask of %s", want, r->bold);
    }
    FmriGrid mg;
    uint8_t *m;
    if (fmri_read_mask(r->mask, &mg, &m, err)) return -1;
    int rc = 0;
    if (!fmri_same_grid(&mg, g)) {
        char a[256], b[256];
        fmri_describe_grid(&mg, a, sizeof a);
        fmri_describe_grid(g, b, sizeof b);
        rc = base_errf(err, "%s: the mask's grid (%s) differs from its BOLD run's (%s)", r->mask, a, b);
    } else {
        for (size_t i = 0, nv = fmri_grid_points(g); i < nv; i++) keep[i] &= m[i];
    }
    free(m);
    return rc;
}

int fmri_read_labels(const char *path, const FmriGrid *g, int32_t **labels, char *err) {
    *labels = NULL;
    if (g->surface) return base_errf(err, "%s: a NIfTI atlas, but the runs are on a surface", path);
    nifti_image *nim = read_image(path, 1, err);
    if (!nim) return -1;
    FmriGrid ag;
    grid_of(nim, &ag);
    int rc = 0;
    if (images_in(nim) > 1) {
        rc = base_errf(err, "%s: a %dD image; an atlas of labels must be 3D", path, (int)nim->ndim);
    } else if (!fmri_same_grid(&ag, g)) {
        char a[256], b[256];
        fmri_describe_grid(&ag, a, sizeof a);
        fmri_describe_grid(g, b, sizeof b);
        rc = base_errf(err, "%s: the atlas's grid (%s) differs from the runs' (%s): resample it to the runs' grid", path,
                       a, b);
    } else {
        size_t nv = fmri_grid_points(g);
        *labels = base_malloc(nv * sizeof(int32_t), "atlas labels");
        for (size_t i = 0; i < nv && rc == 0; i++) {
            double v = value_at(nim, i);
            if (!isfinite(v) || v < 0 || v > INT32_MAX || v != floor(v))
                rc = base_errf(err, "%s: not an atlas of labels: voxel (%zu, %zu, %zu) holds %g (labels are whole "
                                    "numbers from 0, 0 outside every parcel)",
                               path, i % (size_t)g->dim[0], i / (size_t)g->dim[0] % (size_t)g->dim[1],
                               i / (size_t)(g->dim[0] * g->dim[1]), v);
            else
                (*labels)[i] = (int32_t)v;
        }
        if (rc) base_free(labels);
    }
    nifti_image_free(nim);
    return rc;
}

// every header and mask of a subject's runs, before any large read: out's grid, TR, run volumes and V, and
// keep (the grid's voxels inside every mask; caller frees); out->n_vox counts them
static int check_runs(const FmriRun *runs, size_t n, FmriSubject *out, uint8_t **keep_out, char *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->subject, sizeof out->subject, "%s", runs[0].subject);
    snprintf(out->file, sizeof out->file, "%s", runs[0].bold);
    out->n_runs = n;
    out->run_volumes = base_calloc(n, sizeof(size_t), "run volumes");
    uint8_t *keep = NULL;
    size_t nv = 0;
    for (size_t r = 0; r < n; r++) {
        FmriGrid g;
        double tr;
        if ((runs[r].surface ? surface_header : bold_header)(&runs[r], &g, &out->run_volumes[r], &tr, err)) goto fail;
        if (r == 0) {
            out->grid = g, out->tr = tr;
            nv = fmri_grid_points(&g);
            keep = base_malloc(nv, "mask");
            memset(keep, 1, nv);
        } else if (!fmri_same_grid(&g, &out->grid)) {
            char a[256], b[256];
            fmri_describe_grid(&g, a, sizeof a);
            fmri_describe_grid(&out->grid, b, sizeof b);
            base_errf(err, "%s: grid %s differs from the subject's first run %s (%s)", runs[r].bold, a, runs[0].bold, b);
            goto fail;
        } else if (fabs(tr - out->tr) > 1e-3) {
            base_errf(err, "%s: TR %g s differs from the subject's first run %s (%g s)", runs[r].bold, tr, runs[0].bold,
                      out->tr);
            goto fail;
        }
        if (!runs[r].surface && and_mask(&runs[r], &out->grid, keep, err)) goto fail;  // a surface has no mask
        out->V += out->run_volumes[r];
    }
    for (size_t i = 0; i < nv; i++) out->n_vox += keep[i];
    if (out->n_vox == 0) {
        base_errf(err, "%s: the brain masks of subject %s's %zu runs share no voxel", runs[0].mask, out->subject, n);
        goto fail;
    }
    *keep_out = keep;
    return 0;
fail:
    free(keep);
    fmri_subject_free(out);
    return -1;
}

// out's voxels (ijk) from keep, and at (may be NULL) their storage indices (caller frees)
static void voxels_of(FmriSubject *out, const uint8_t *keep, size_t **at) {
    size_t nv = fmri_grid_points(&out->grid);
    out->ijk = base_malloc(base_mul(out->n_vox, 3) * sizeof(int32_t), "voxels");
    if (at) *at = base_malloc(out->n_vox * sizeof(size_t), "voxels");
    for (size_t i = 0, k = 0; i < nv; i++) {
        if (!keep[i]) continue;
        int32_t *x = &out->ijk[3 * k];
        if (out->grid.surface) {
            int right = i >= (size_t)out->grid.dim[0];
            x[0] = (int32_t)(right ? i - (size_t)out->grid.dim[0] : i), x[1] = right, x[2] = 0;
        } else {
            size_t nx = (size_t)out->grid.dim[0], ny = (size_t)out->grid.dim[1];
            x[0] = (int32_t)(i % nx), x[1] = (int32_t)(i / nx % ny), x[2] = (int32_t)(i / (nx * ny));
        }
        if (at) (*at)[k] = i;
        k++;
    }
}

int fmri_peek_subject(const FmriRun *runs, size_t n, FmriSubject *out, char *err) {
    uint8_t *keep;
    if (check_runs(runs, n, out, &keep, err)) return -1;
    voxels_of(out, keep, NULL);
    free(keep);
    return 0;
}

// a surface run's volumes into out's data from volume v0: the left hemisphere's vertices, then the right's
// nifticlib sets every NaN or infinite float it reads to 0 (its FIXED_FLOAT), so a float run's in-mask voxels that
// read as 0 in data (nt, n) (voxel k at grid index at[k]) are looked up again in the file's own bytes, through
// nifticlib's znzlib. 1 with *t, *k, *value at the first that is not finite there; 0 when none is (or the run has
// no such zero, or is not of floats); -1 with err when the file cannot be read again.
static int zeros_not_finite(const char *path, const nifti_image *nim, const size_t *at, size_t n, size_t nt,
                            const float *data, size_t *t_bad, size_t *k_bad, double *value, char *err) {
    const int f32 = nim->datatype == NIFTI_TYPE_FLOAT32, f64 = nim->datatype == NIFTI_TYPE_FLOAT64;
    if (!f32 && !f64) return 0;
    size_t zero = 0;
    for (size_t i = 0; i < nt * n && !zero; i++) zero = data[i] == 0.0f;
    if (!zero) return 0;
    const size_t size = f32 ? 4 : 8, nv = (size_t)(nim->nx * nim->ny * nim->nz), bytes = base_mul(nv, size);
    const int swap = nim->byteorder != nifti_short_order();
    znzFile f = znzopen(nim->iname, "rb", nifti_is_gzfile(nim->iname));
    if (znz_isnull(f)) return base_errf(err, "%s: cannot open it again to check its zeros", path);
    unsigned char *vol = base_malloc(bytes ? bytes : 1, "volume");
    int rc = znzseek(f, (znz_off_t)nim->iname_offset, SEEK_SET) < 0 ? -1 : 0;  // gzseek: the new offset
    for (size_t t = 0; t < nt && rc == 0; t++) {
        if (znzread(vol, 1, bytes, f) != bytes) {
            rc = -1;
            break;
        }
        for (size_t k = 0; k < n && rc == 0; k++) {
            if (data[t * n + k] != 0.0f) continue;
            unsigned char *x = vol + at[k] * size;
            if (swap) (f32 ? nifti_swap_4bytes : nifti_swap_8bytes)(1, x);
            float xf;
            double xd;
            if (f32) memcpy(&xf, x, 4), xd = xf;
            else memcpy(&xd, x, 8);
            if (!isfinite(xd)) *t_bad = t, *k_bad = k, *value = xd, rc = 1;
        }
    }
    free(vol);
    znzclose(f);
    return rc < 0 ? base_errf(err, "%s: cannot read it again to check its zeros (truncated?)", path) : rc;
}

static int load_surface_run(const FmriRun *r, FmriSubject *out, size_t v0, char *err) {
    const char *path[2] = {r->bold, r->bold_right};
    for (int h = 0; h < 2; h++) {
        SurfaceSeries x;
        if (surface_read_series(path[h], 1, &x, err)) return -1;
        size_t first = h ? (size_t)out->grid.dim[0] : 0, T = x.n_volumes;
        int rc = 0;
        if (x.n_vertices != (size_t)out->grid.dim[h] || first + x.n_vertices > out->n_vox)
            rc = base_errf(err, "%s: %zu vertices, but the subject's first run has %lld", path[h], x.n_vertices,
                           (long long)out->grid.dim[h]);
        for (size_t t = 0; t < T && rc == 0; t++)
            for (size_t k = 0; k < x.n_vertices; k++) {
                float v = x.data[t * x.n_vertices + k];
                if (!isfinite(v)) {
                    rc = base_errf(err, "%s: vertex %zu is %s in volume %zu; recordings must be finite", path[h], k,
                                   isnan(v) ? "NaN" : "infinite", t);
                    break;
                }
                out->data[(v0 + t) * out->n_vox + first + k] = v;
            }
        surface_series_free(&x);
        if (rc) return -1;
    }
    return 0;
}

int fmri_load_subject(const FmriRun *runs, size_t n, FmriSubject *out, char *err) {
    uint8_t *keep;
    if (check_runs(runs, n, out, &keep, err)) return -1;
    size_t nv = fmri_grid_points(&out->grid), *at;
    voxels_of(out, keep, &at);
    out->data = base_malloc(base_mul(out->V, out->n_vox) * sizeof(float), "fMRI data");
    for (size_t r = 0, v0 = 0; r < n; v0 += out->run_volumes[r++]) {
        if (runs[r].surface) {
            if (load_surface_run(&runs[r], out, v0, err)) {
                free(at);
                goto fail;
            }
            continue;
        }
        nifti_image *nim = read_image(runs[r].bold, 1, err);
        if (!nim) {
            free(at);
            goto fail;
        }
        size_t bad_t = 0, bad_k = 0;
        double bad = 0;
        for (size_t t = 0; t < out->run_volumes[r] && isfinite(bad); t++)
            for (size_t k = 0; k < out->n_vox; k++) {
                double v = value_at(nim, t * nv + at[k]);
                if (!isfinite(v)) {
                    bad = v, bad_t = t, bad_k = k;
                    break;
                }
                out->data[(v0 + t) * out->n_vox + k] = (float)v;
            }
        // a value nifticlib read as 0 may be a NaN it replaced: checked in the file's own bytes
        int found = isfinite(bad) ? zeros_not_finite(runs[r].bold, nim, at, out->n_vox, out->run_volumes[r],
                                                     out->data + v0 * out->n_vox, &bad_t, &bad_k, &bad, err)
                                  : 1;
        nifti_image_free(nim);
        if (found != 0) {
            if (found > 0)
                base_errf(err, "%s: voxel (%d, %d, %d) inside the mask is %s in volume %zu; recordings must be finite",
                          runs[r].bold, out->ijk[3 * bad_k], out->ijk[3 * bad_k + 1], out->ijk[3 * bad_k + 2],
                          isnan(bad) ? "NaN" : "infinite", bad_t);
            free(at);
            goto fail;
        }
    }
    free(at);
    free(keep);
    return 0;
fail:
    free(keep);
    fmri_subject_free(out);
    return -1;
}

// ----------------------------------------------------------------------------
// confounds

// the design of one run: column 0 the intercept, then the named columns (n/a cells filled with the column's mean);
// X is (T, k) row-major, k = 1 + m
static int confound_design(const char *path, size_t T, const char *const *columns, size_t m, double *X, char *err) {
    Tsv t;
    if (tsv_load(path, &t, err)) return -1;
    int rc = 0;
    size_t k = m + 1;
    if (t.n_rows != T)
        rc = base_errf(err, "%s: %zu rows, but its run has %zu volumes (one row per volume)", path, t.n_rows, T);
    for (size_t v = 0; v < T && rc == 0; v++) X[v * k] = 1.0;
    for (size_t c = 0; c < m && rc == 0; c++) {
        const char *names[] = {columns[c], NULL};
        int col = tsv_column(&t, names);
        if (col < 0) {
            rc = base_errf(err, "%s: no column %s (fmri.confounds names it)", path, columns[c]);
            break;
        }
        double sum = 0;
        size_t have = 0;
        for (size_t v = 0; v < T && rc == 0; v++) {
            double x;
            rc = tsv_num(&t, v, col, &x, err);
            if (rc == 0 && isinf(x))
                rc = base_errf(err, "%s: row %zu, column %s: not finite", path, v + 1, columns[c]);
            X[v * k + c + 1] = x;
            if (rc == 0 && !isnan(x)) sum += x, have++;
        }
        if (rc == 0 && have == 0) rc = base_errf(err, "%s: column %s holds no number (every cell n/a)", path, columns[c]);
        for (size_t v = 0; v < T && rc == 0; v++)
            if (isnan(X[v * k + c + 1])) X[v * k + c + 1] = sum / (double)have;
    }
    tsv_free(&t);
    return rc;
}

int fmri_regress_confounds(FmriSubject *s, const FmriRun *runs, size_t n, const char *const *columns, size_t m,
                           char *err) {
    if (m == 0) return 0;
    size_t k = m + 1, P = s->n_vox, chunk = 4096;
    for (size_t r = 0, v0 = 0; r < n; v0 += s->run_volumes[r++]) {
        size_t T = s->run_volumes[r];
        const char *path = runs[r].confounds;
        if (T <= k)
            return base_errf(err, "%s: %zu confound column(s) and an intercept need more than %zu volumes (the run has %zu)",
                             path, m, k, T);
        double *X = base_malloc(base_mul(T, k) * sizeof(double), "confounds"), *tau = base_malloc(k * sizeof(double), "QR");
        double *norm = base_calloc(k, sizeof(double), "confounds");
        int rc = confound_design(path, T, columns, m, X, err);
        for (size_t v = 0; v < T && rc == 0; v++)
            for (size_t c = 0; c < k; c++) norm[c] += X[v * k + c] * X[v * k + c];
        if (rc == 0 && LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)T, (lapack_int)k, X, (lapack_int)k, tau) != 0)
            DIE("", "LAPACKE_dgeqrf failed on the confounds of %s", path);
        // a column that adds nothing to the ones before it (constant: the intercept's; or a combination)
        for (size_t c = 1; c < k && rc == 0; c++)
            if (fabs(X[c * k + c]) <= 1e-9 * sqrt(norm[c]))
                rc = base_errf(err, "%s: column %s is constant or a combination of the columns before it in this run "
                                    "(drop it from fmri.confounds)",
                               path, columns[c - 1]);
        if (rc == 0 && LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)T, (lapack_int)k, (lapack_int)k, X, (lapack_int)k, tau) != 0)
            DIE("", "LAPACKE_dorgqr failed on the confounds of %s", path);
        if (rc == 0) {
            // Y -= Q (Q^T Y), voxels in chunks, in double
            double *Y = base_malloc(base_mul(T, chunk) * sizeof(double), "confound regression");
            double *B = base_malloc(base_mul(k, chunk) * sizeof(double), "confound regression");
            for (size_t p0 = 0; p0 < P; p0 += chunk) {
                size_t w = P - p0 < chunk ? P - p0 : chunk;
                for (size_t v = 0; v < T; v++)
                    for (size_t j = 0; j < w; j++) Y[v * w + j] = s->data[(v0 + v) * P + p0 + j];
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)w, (int)T, 1.0, X, (int)k, Y, (int)w,
                            0.0, B, (int)w);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)w, (int)k, -1.0, X, (int)k, B, (int)w,
                            1.0, Y, (int)w);
                for (size_t v = 0; v < T; v++)
                    for (size_t j = 0; j < w; j++) s->data[(v0 + v) * P + p0 + j] = (float)Y[v * w + j];
            }
            free(Y), free(B);
        }
        free(X), free(tau), free(norm);
        if (rc) return -1;
    }
    return 0;
}
