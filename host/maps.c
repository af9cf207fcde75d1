#include "host/maps.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nifti2_io.h>

#include "host/base.h"
#include "host/fmri.h"
#include "host/h5io.h"
#include "host/niftiout.h"
#include "host/results_read.h"
#include "host/surface.h"


// what the images need from the file, read whole before anything is written
typedef struct {
    size_t M, C, H, S, R;
    char **model, **context, **subject;
    size_t n_model, n_context, n_subject;  // strings read (freed by these counts)
    int *n_layers;   // (M)
    float *r;        // (M, C, H, S, R)
    int32_t *ijk;    // (S, R, 3)
    int32_t *dims;   // (S, 3)
    double *affine;  // (S, 16)
    int32_t *code;   // (S)
    char space[128];
    int surface;     // /voxels' geometry is "surface": dims are the hemispheres' vertex counts
} Maps;

static void maps_free(Maps *x) {
    h5_free_strings(x->model, x->n_model), h5_free_strings(x->context, x->n_context);
    h5_free_strings(x->subject, x->n_subject);
    free(x->n_layers), free(x->r), free(x->ijk), free(x->dims), free(x->affine), free(x->code);
}

static int maps_read(const char *path, Maps *x, char *err) {
    memset(x, 0, sizeof *x);
    hid_t f = results_open(path, "maps", err);
    if (f < 0) return -1;
    int rc = -1, nd;
    hsize_t d[H5IO_MAX_RANK];
    if (H5Lexists(f, "/voxels", H5P_DEFAULT) <= 0) {
        base_errf(err, "%s: no /voxels group: not a sweep of recordings.format: bids_fmri (maps draws voxelwise "
                       "scores)", path);
        goto done;
    }
    if (h5_dims(f, "/scores/r", d, &nd) || nd != 5) {
        base_errf(err, "%s: /scores/r is missing or not 5-dimensional", path);
        goto done;
    }
    x->M = d[0], x->C = d[1], x->H = d[2], x->S = d[3], x->R = d[4];
    x->model = h5_read_strings(f, "/models/name", &x->n_model);
    x->context = h5_read_strings(f, "/contexts/name", &x->n_context);
    x->subject = h5_read_strings(f, "/subjects/name", &x->n_subject);
    if (!x->model || !x->context || !x->subject || x->n_model != x->M || x->n_context != x->C ||
        x->n_subject != x->S) {
        base_errf(err, "%s: /models/name, /contexts/name or /subjects/name is missing or disagrees with /scores/r",
                  path);
        goto done;
    }
    size_t S = x->S, R = x->R, n = base_mul(base_mul(x->M * x->C, x->H), base_mul(S, R));
    if (!(x->n_layers = h5_read_new(f, "/models/n_layers", H5T_NATIVE_INT, x->M)) ||
        !(x->r = h5_read_new(f, "/scores/r", H5T_NATIVE_FLOAT, n)) ||
        !(x->ijk = h5_read_new(f, "/voxels/ijk", H5T_NATIVE_INT32, base_mul(S * R, 3))) ||
        !(x->dims = h5_read_new(f, "/voxels/dims", H5T_NATIVE_INT32, S * 3)) ||
        !(x->affine = h5_read_new(f, "/voxels/affine", H5T_NATIVE_DOUBLE, S * 16)) ||
        !(x->code = h5_read_new(f, "/voxels/affine_code", H5T_NATIVE_INT32, S))) {
        base_errf(err, "%s: /models/n_layers, /scores/r or a dataset of /voxels is missing or of the wrong size", path);
        goto done;
    }
    hid_t g = H5Gopen2(f, "/voxels", H5P_DEFAULT);
    if (g < 0 || h5_read_attr_string(g, "space", x->space, sizeof x->space) != 0) snprintf(x->space, sizeof x->space, "?");
    char geometry[32] = "volume";  // files written before surfaces have no such attribute
    if (g >= 0 && H5Aexists(g, "geometry") > 0 && h5_read_attr_string(g, "geometry", geometry, sizeof geometry) != 0)
        snprintf(geometry, sizeof geometry, "?");
    if (g >= 0) H5Gclose(g);
    x->surface = strcmp(geometry, "surface") == 0;
    if (!x->surface && strcmp(geometry, "volume") != 0) {
        base_errf(err, "%s: /voxels has geometry \"%s\" (volume or surface)", path, geometry);
        goto done;
    }
    for (size_t m = 0; m < x->M; m++)
        if (x->n_layers[m] < 0 || (size_t)x->n_layers[m] >= x->H) {
            base_errf(err, "%s: model %zu has %d layers, but /scores/r holds %zu hidden states", path, m,
                      x->n_layers[m], x->H);
            goto done;
        }
    for (size_t s = 0; s < S; s++) {
        const int32_t *dm = &x->dims[3 * s];
        if (dm[0] < 1 || dm[1] < 1 || dm[2] < 1 || (double)dm[0] * dm[1] * dm[2] > 1e9 || (x->surface && dm[2] != 1)) {
            base_errf(err, "%s: /voxels/dims of subject %zu is %dx%dx%d", path, s, dm[0], dm[1], dm[2]);
            goto done;
        }
        for (size_t k = 0; k < R; k++) {
            const int32_t *v = &x->ijk[3 * (s * R + k)];
            if (v[0] < 0) continue;
            int outside = x->surface ? v[1] < 0 || v[1] > 1 || v[0] >= dm[v[1]] || v[2] != 0
                                     : v[0] >= dm[0] || v[1] < 0 || v[1] >= dm[1] || v[2] < 0 || v[2] >= dm[2];
            if (outside) {
                base_errf(err, "%s: /voxels/ijk of subject %zu, column %zu is (%d, %d, %d), outside its %dx%dx%d %s",
                          path, s, k, v[0], v[1], v[2], dm[0], dm[1], dm[2], x->surface ? "surface" : "grid");
                goto done;
            }
        }
    }
    rc = 0;
done:
    H5Fclose(f);
    if (rc) maps_free(x);
    return rc;
}

// a context's name as a folder name
static void folder_name(const char *s, char *out, size_t n) {
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) {
        char c = s[i];
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        out[i] = keep ? c : '_';
    }
    out[i] = '\0';
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0 || !out[0]) snprintf(out, n, "context");
}

static int write_maps(const Maps *x, const char *dir, size_t *written, char *err) {
    size_t S = x->S, R = x->R, H = x->H;
    *written = 0;
    for (size_t m = 0; m < x->M; m++)
        for (size_t c = 0; c < x->C; c++) {
            char ctx[128], folder[1024];
            folder_name(x->context[c], ctx, sizeof ctx);
            snprintf(folder, sizeof folder, "%.700s/%.150s/%s", dir, x->model[m], ctx);
            if (base_mkdirs(folder) != 0) return base_errf(err, "%s: cannot create: %s", folder, strerror(errno));
            size_t L = (size_t)x->n_layers[m];
            int width = L >= 100 ? 3 : 2;
            for (size_t s = 0; s < S; s++) {
                const int32_t *dm = &x->dims[3 * s];
                FmriGrid grid = {.surface = x->surface, .dim = {dm[0], dm[1], dm[2]}};
                size_t nv = fmri_grid_points(&grid);
                float *vol = base_malloc(nv * sizeof(float), "map");
                const float *r = x->r + ((m * x->C + c) * H) * S * R;  // [h][s][k] from here
                char path[1200], what[128];
                int rc = 0;
                for (size_t h = 0; h <= L + 1 && rc == 0; h++) {  // h = L + 1: the best-layer map
                    for (size_t i = 0; i < nv; i++) vol[i] = NAN;
                    for (size_t k = 0; k < R; k++) {
                        const int32_t *v = &x->ijk[3 * (s * R + k)];
                        if (v[0] < 0) continue;
                        size_t at = fmri_grid_index(&grid, v);
                        if (h <= L) {
                            vol[at] = r[(h * S + s) * R + k];
                            continue;
                        }
                        float best = -INFINITY;
                        for (size_t l = 0; l <= L; l++) {
                            float y = r[(l * S + s) * R + k];
                            if (isfinite(y) && y > best) best = y, vol[at] = (float)l;
                        }
                    }
                    char map[64];
                    if (h <= L) {
                        snprintf(map, sizeof map, "layer-%0*zu_r", width, h);
                        snprintf(what, sizeof what, "brainsweep r %s %s layer %zu", x->model[m], x->context[c], h);
                    } else {
                        snprintf(map, sizeof map, "bestlayer");
                        snprintf(what, sizeof what, "brainsweep best layer %s %s", x->model[m], x->context[c]);
                    }
                    if (x->surface) {  // one GIfTI per hemisphere, the left's vertices first in vol
                        const char *structure[2] = {"CortexLeft", "CortexRight"};
                        for (int hemi = 0; hemi < 2 && rc == 0; hemi++) {
                            snprintf(path, sizeof path, "%s/%.64s_hemi-%c_%s.func.gii", folder, x->subject[s],
                                     hemi ? 'R' : 'L', map);
                            const char *names[1] = {what};
                            SurfaceOut img = {.n_vertices = (size_t)dm[hemi],
                                              .n_arrays = 1,
                                              .data = vol + (hemi ? (size_t)dm[0] : 0),
                                              .intent = NIFTI_INTENT_NONE,
                                              .names = names,
                                              .structure = structure[hemi],
                                              .description = what};
                            rc = surface_write(path, &img, err);
                            *written += rc == 0;
                        }
                        continue;
                    }
                    snprintf(path, sizeof path, "%s/%.64s_%s.nii.gz", folder, x->subject[s], map);
                    NiftiOut img = {.ndim = 3,
                                    .dim = {dm[0], dm[1], dm[2], 1},
                                    .datatype = NIFTI_TYPE_FLOAT32,
                                    .data = vol,
                                    .affine = x->affine + 16 * s,
                                    .xform_code = x->code[s],
                                    .descrip = what};
                    rc = niftiout_write(path, &img, err);
                    *written += rc == 0;
                }
                free(vol);
                if (rc) return -1;
            }
        }
    return 0;
}

int maps_run(int argc, char **argv) {
    const char *path, *dir;
    int bad = results_args_file_dir("maps", argc, argv, &path, &dir);
    if (bad) return bad;
    char err[BASE_ERR_LEN];
    Maps x;
    if (maps_read(path, &x, err) != 0) {
        fprintf(stderr, "brainsweep maps: %s\n", err);
        return 1;
    }
    size_t written;
    int rc = write_maps(&x, dir, &written, err);
    if (rc) fprintf(stderr, "brainsweep maps: %s\n", err);
    else
        printf("maps: %zu %s of %zu model(s) x %zu context(s) x %zu subject(s) in %s (space %s)\n", written,
               x.surface ? "GIfTI surface map(s)" : "NIfTI image(s)", x.M, x.C, x.S, dir, x.space);
    maps_free(&x);
    return rc ? 1 : 0;
}
