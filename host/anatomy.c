#include "host/anatomy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/tsv.h"

// spaces whose millimetre coordinates are MNI-like (BIDS names, matched by prefix)
static const char *MNI_SPACES[] = {"MNI152", "MNI305", "fsaverage", "ICBM452", "IXI549Space", NULL};

// our approximation of Te1.1's centre on the posteromedial crown of Heschl's gyrus, MNI mm
static const double PMHG_LEFT[3] = {-38, -30, 11}, PMHG_RIGHT[3] = {40, -27, 11};

int anatomy_reference(const char *space, double left[3], double right[3]) {
    for (const char **s = MNI_SPACES; *s; s++)
        if (strncmp(space, *s, strlen(*s)) == 0) {
            memcpy(left, PMHG_LEFT, sizeof PMHG_LEFT);
            memcpy(right, PMHG_RIGHT, sizeof PMHG_RIGHT);
            return 0;
        }
    return -1;
}

double anatomy_distance(const double xyz[3], const double left[3], const double right[3]) {
    const double *ref = xyz[0] < 0 ? left : right;
    double dx = xyz[0] - ref[0], dy = xyz[1] - ref[1], dz = xyz[2] - ref[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

// Approximate left-hemisphere MNI centroids (mm); the right is the mirror image in x. Coarse by
// design: enough to name the lobe and gyrus of a perisylvian electrode, not a parcellation.
static const struct {
    const char *label;
    double x, y, z;
} DEFAULT_REGIONS[] = {
    {"HG", -42, -22, 8},         {"PT", -52, -32, 14},        {"STG", -58, -18, 2},   {"aSTG", -54, 4, -10},
    {"pSTG", -60, -40, 12},      {"MTG", -62, -30, -10},      {"aMTG", -58, -6, -22}, {"ITG", -54, -38, -22},
    {"TP", -40, 16, -34},        {"insula", -36, 0, 4},       {"SMG", -56, -44, 32},  {"AG", -46, -64, 36},
    {"precentral", -50, -6, 40}, {"postcentral", -50, -24, 44}, {"IFGop", -52, 12, 14}, {"IFGtri", -50, 28, 8},
    {"IFGorb", -44, 32, -10},    {"MFG", -40, 28, 36},        {"occipital", -36, -84, 6},
};

void anatomy_default_atlas(Atlas *out) {
    size_t half = sizeof DEFAULT_REGIONS / sizeof DEFAULT_REGIONS[0];
    out->n = 2 * half;
    out->label = base_malloc(out->n * sizeof *out->label, "atlas labels");
    out->xyz = base_malloc(out->n * 3 * sizeof(double), "atlas centroids");
    for (size_t i = 0; i < half; i++)
        for (size_t h = 0; h < 2; h++) {
            size_t j = h * half + i;
            snprintf(out->label[j], sizeof out->label[j], "%s %s", h ? "R" : "L", DEFAULT_REGIONS[i].label);
            out->xyz[3 * j] = h ? -DEFAULT_REGIONS[i].x : DEFAULT_REGIONS[i].x;
            out->xyz[3 * j + 1] = DEFAULT_REGIONS[i].y;
            out->xyz[3 * j + 2] = DEFAULT_REGIONS[i].z;
        }
}

int anatomy_load_atlas(const char *path, Atlas *out, char *err) {
    memset(out, 0, sizeof *out);
    Tsv t;
    if (tsv_load(path, &t, err)) return -1;
    int cl = tsv_column(&t, (const char *[]){"label", "region", "name", NULL});
    int cx = tsv_column(&t, (const char *[]){"x", NULL}), cy = tsv_column(&t, (const char *[]){"y", NULL}),
        cz = tsv_column(&t, (const char *[]){"z", NULL});
    int rc = -1;
    if (cl < 0 || cx < 0 || cy < 0 || cz < 0) {
        base_errf(err, "%s: an atlas table needs the columns label, x, y, z", path);
        goto done;
    }
    if (t.n_rows == 0) {
        base_errf(err, "%s: the atlas table has no rows", path);
        goto done;
    }
    out->n = t.n_rows;
    out->label = base_malloc(out->n * sizeof *out->label, "atlas labels");
    out->xyz = base_malloc(out->n * 3 * sizeof(double), "atlas centroids");
    for (size_t r = 0; r < t.n_rows; r++) {
        snprintf(out->label[r], sizeof out->label[r], "%s", tsv_get(&t, r, cl));
        const int col[3] = {cx, cy, cz};
        for (int k = 0; k < 3; k++) {
            if (tsv_num(&t, r, col[k], &out->xyz[3 * r + k], err)) goto done;
            if (isnan(out->xyz[3 * r + k])) {
                base_errf(err, "%s: row %zu (%s) has no %c coordinate", path, r + 2, out->label[r], "xyz"[k]);
                goto done;
            }
        }
    }
    rc = 0;
done:
    tsv_free(&t);
    if (rc) anatomy_free_atlas(out);
    return rc;
}

void anatomy_free_atlas(Atlas *a) {
    free(a->label);
    free(a->xyz);
    memset(a, 0, sizeof *a);
}

size_t anatomy_label(const Atlas *a, const double xyz[3]) {
    size_t best = 0, best_any = 0;
    double d_best = INFINITY, d_any = INFINITY;
    for (size_t i = 0; i < a->n; i++) {
        const double *c = a->xyz + 3 * i;
        double d = (xyz[0] - c[0]) * (xyz[0] - c[0]) + (xyz[1] - c[1]) * (xyz[1] - c[1]) +
                   (xyz[2] - c[2]) * (xyz[2] - c[2]);
        if (d < d_any) d_any = d, best_any = i;
        if ((xyz[0] < 0) == (c[0] < 0) && d < d_best) d_best = d, best = i;
    }
    return isinf(d_best) ? best_any : best;
}
