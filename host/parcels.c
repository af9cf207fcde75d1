#include "host/parcels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/surface.h"
#include "host/tsv.h"

void parcels_free(Parcels *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->name[i]);
    free(p->name), free(p->of);
    memset(p, 0, sizeof *p);
}

static int by_int32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

// the distinct labels other than 0 of key[0, n), sorted (*k of them; caller frees)
static int32_t *distinct(const int32_t *key, size_t n, size_t *k) {
    int32_t *v = base_malloc((n ? n : 1) * sizeof(int32_t), "labels");
    memcpy(v, key, n * sizeof(int32_t));
    qsort(v, n, sizeof(int32_t), by_int32);
    *k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0 && (*k == 0 || v[i] != v[*k - 1])) v[(*k)++] = v[i];
    return v;
}

// position of label in the sorted set[0, n)
static size_t find(const int32_t *set, size_t n, int32_t label) {
    const int32_t *at = bsearch(&label, set, n, sizeof(int32_t), by_int32);
    return at ? (size_t)(at - set) : n;
}

// the names of the labels from the table (index, name); -1 naming the table when one is missing
static int names_from_table(const char *path, const char *atlas, const int32_t *set, size_t n, char **name,
                            char *err) {
    Tsv t;
    if (tsv_load(path, &t, err)) return -1;
    static const char *const INDEX[] = {"index", NULL}, *const NAME[] = {"name", NULL};
    int ci = tsv_column(&t, INDEX), cn = tsv_column(&t, NAME), rc = 0;
    if (ci < 0 || cn < 0) rc = base_errf(err, "%s: no column %s (an atlas's label table has columns index and name)",
                                         path, ci < 0 ? "index" : "name");
    for (size_t r = 0; r < t.n_rows && rc == 0; r++) {
        double v;
        if (tsv_num(&t, r, ci, &v, err)) {
            rc = -1;
        } else if (!(v >= 0 && v <= INT32_MAX && v == (double)(int32_t)v)) {
            rc = base_errf(err, "%s: row %zu: index %s is not a label (a whole number from 0)", path, r + 1,
                           tsv_get(&t, r, ci));
        } else {
            size_t k = find(set, n, (int32_t)v);
            if (k < n && !name[k]) name[k] = base_strdup(tsv_get(&t, r, cn));
        }
    }
    for (size_t k = 0; k < n && rc == 0; k++)
        if (!name[k]) rc = base_errf(err, "%s: no row names label %d, which %s holds", path, set[k], atlas);
    tsv_free(&t);
    return rc;
}

static int load_volume(const char *path, const char *labels, const FmriGrid *grid, Parcels *out, char *err) {
    int32_t *label;
    if (fmri_read_labels(path, grid, &label, err)) return -1;
    size_t k;
    int32_t *set = distinct(label, out->n_points, &k);
    out->n = k;
    out->name = base_calloc(k ? k : 1, sizeof(char *), "parcel names");
    int rc = 0;
    if (labels[0]) {
        rc = names_from_table(labels, path, set, k, out->name, err);
    } else {
        for (size_t i = 0; i < k; i++) {
            char name[32];
            snprintf(name, sizeof name, "label %d", set[i]);
            out->name[i] = base_strdup(name);
        }
    }
    for (size_t i = 0; i < out->n_points && rc == 0; i++) out->of[i] = label[i] ? (int32_t)find(set, k, label[i]) : -1;
    free(set);
    free(label);
    return rc;
}

static int load_surface(const char *atlas, const char *labels, const char *subject, const FmriGrid *grid,
                        Parcels *out, char *err) {
    if (!strstr(atlas, "{hemi}"))
        return base_errf(err, "%s (fmri.atlas): surface runs take one GIfTI label file per hemisphere: put {hemi} in "
                              "the path where the file names say L or R", atlas);
    static const char *const HEMI[2] = {"L", "R"}, *const SIDE[2] = {"left", "right"};
    int rc = 0;
    for (int h = 0; h < 2 && rc == 0; h++) {
        char path[FMRI_PATH];
        if (fmri_expand_path(atlas, subject, HEMI[h], path, sizeof path))
            return base_errf(err, "%s (fmri.atlas): the path is too long", atlas);
        SurfaceLabels sl;
        if (surface_read_labels(path, &sl, err)) return -1;
        size_t first = h ? (size_t)grid->dim[0] : 0;
        if (sl.n_vertices != (size_t)grid->dim[h]) {
            rc = base_errf(err, "%s: %zu vertices, but the runs' %s hemisphere has %lld", path, sl.n_vertices, SIDE[h],
                           (long long)grid->dim[h]);
        } else {
            size_t k;
            int32_t *set = distinct(sl.key, sl.n_vertices, &k);
            char **name = base_calloc(k ? k : 1, sizeof(char *), "parcel names");
            if (labels[0]) {
                rc = names_from_table(labels, path, set, k, name, err);
            } else {
                for (size_t i = 0; i < sl.n_labels; i++) {
                    size_t at = find(set, k, sl.label_key[i]);
                    if (at < k && !name[at]) name[at] = base_strdup(sl.label_name[i]);
                }
                for (size_t i = 0; i < k && rc == 0; i++)
                    if (!name[i]) rc = base_errf(err, "%s: key %d is on vertices but not in the label table", path, set[i]);
            }
            size_t base = out->n;
            out->name = base_realloc(out->name, (base + k + 1) * sizeof(char *), "parcel names");
            for (size_t i = 0; i < k; i++) {
                char full[300];
                snprintf(full, sizeof full, "%s %s", SIDE[h], name[i] ? name[i] : "");
                out->name[base + i] = base_strdup(full);
                free(name[i]);
            }
            out->n += k;
            for (size_t v = 0; v < sl.n_vertices; v++)
                out->of[first + v] = sl.key[v] ? (int32_t)(base + find(set, k, sl.key[v])) : -1;
            free(name);
            free(set);
        }
        surface_labels_free(&sl);
    }
    return rc;
}

int parcels_load(const char *atlas, const char *labels, const char *subject, const FmriGrid *grid, Parcels *out,
                 char *err) {
    memset(out, 0, sizeof *out);
    out->n_points = fmri_grid_points(grid);
    out->of = base_malloc((out->n_points ? out->n_points : 1) * sizeof(int32_t), "parcels");
    int rc;
    if (grid->surface) {
        rc = load_surface(atlas, labels, subject, grid, out, err);
    } else {
        char path[FMRI_PATH];
        rc = fmri_expand_path(atlas, subject, NULL, path, sizeof path) ? base_errf(err, "%s (fmri.atlas): the path is too long", atlas)
                                                             : load_volume(path, labels, grid, out, err);
    }
    if (rc == 0 && out->n == 0) rc = base_errf(err, "%s (fmri.atlas): no parcel (every label is 0)", atlas);
    if (rc) parcels_free(out);
    return rc;
}
