#include "host/surface.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <expat.h>
#include <gifti_io.h>

#include "host/base.h"

// value i of a DataArray as a double; NaN for a type not read here
static double da_value(const giiDataArray *da, size_t i) {
    switch (da->datatype) {
    case NIFTI_TYPE_UINT8: return ((const uint8_t *)da->data)[i];
    case NIFTI_TYPE_INT8: return ((const int8_t *)da->data)[i];
    case NIFTI_TYPE_INT16: return ((const int16_t *)da->data)[i];
    case NIFTI_TYPE_UINT16: return ((const uint16_t *)da->data)[i];
    case NIFTI_TYPE_INT32: return ((const int32_t *)da->data)[i];
    case NIFTI_TYPE_UINT32: return ((const uint32_t *)da->data)[i];
    case NIFTI_TYPE_FLOAT32: return ((const float *)da->data)[i];
    case NIFTI_TYPE_FLOAT64: return ((const double *)da->data)[i];
    default: return NAN;
    }
}

// a metadata entry's value, or NULL; libgiftiio's own lookup (gifti_get_meta_value) reads a NULL name when an <MD>
// lacks its <Name> (found by fuzzing)
static const char *meta_value(const nvpairs *meta, const char *name) {
    for (int i = 0; i < meta->length; i++)
        if (meta->name && meta->name[i] && strcmp(meta->name[i], name) == 0) return meta->value ? meta->value[i] : NULL;
    return NULL;
}

static int type_read(int t) {
    return t == NIFTI_TYPE_UINT8 || t == NIFTI_TYPE_INT8 || t == NIFTI_TYPE_INT16 || t == NIFTI_TYPE_UINT16 ||
           t == NIFTI_TYPE_INT32 || t == NIFTI_TYPE_UINT32 || t == NIFTI_TYPE_FLOAT32 || t == NIFTI_TYPE_FLOAT64;
}

// libgiftiio's messages off (its XML parser has a level of its own): ours name the file
static void quiet(void) {
    gifti_set_verb(0);
    gxml_set_verb(0);
}

// ----------------------------------------------------------------------------
// GIfTI's element nesting, checked before libgiftiio reads a file, so that a damaged file never reaches the places
// where libgiftiio 1.0.9 dereferences NULL or leaks (all found by fuzzing): an element out of place (a DataArray
// inside a MatrixData); any text or second CDATA section after a CDATA section in an element that holds a string
// (Name, Value, Label, DataSpace, TransformedSpace: the end of the section clears the pointer that the next text is
// appended through); and a second of an element the schema allows once (a second Name in an MD replaces the first
// without freeing it)

static const struct {
    const char *parent, *children;  // the elements allowed inside, each followed by a space, or by '!' and a space
                                    // where the schema allows it once
} NESTING[] = {
    {"", "GIFTI! "},
    {"GIFTI", "MetaData! LabelTable! DataArray "},
    {"MetaData", "MD "},
    {"MD", "Name! Value! "},
    {"LabelTable", "Label "},
    {"DataArray", "MetaData! CoordinateSystemTransformMatrix Data! "},
    {"CoordinateSystemTransformMatrix", "DataSpace! TransformedSpace! MatrixData! "},
};

#define NEST_DEPTH 8

typedef struct {
    XML_Parser parser;
    char stack[NEST_DEPTH][40];
    unsigned seen[NEST_DEPTH + 1];  // of the once-only children of each open element (bit: place in its list)
    int depth;
    int in_cdata, after_cdata;  // inside a CDATA section; past the end of one, in the element still open
    char bad[160];
} Nesting;

// the child's place in the parent's list, -1 where it may not be there; *once: 1 where it may be there once
static int child_place(const char *parent, const char *child, int *once) {
    size_t n = strlen(child);
    for (size_t i = 0; i < sizeof NESTING / sizeof NESTING[0]; i++) {
        if (strcmp(NESTING[i].parent, parent) != 0) continue;
        int k = 0;
        for (const char *c = NESTING[i].children; *c; c += strcspn(c, " ") + 1, k++)
            if (strncmp(c, child, n) == 0 && (c[n] == ' ' || c[n] == '!')) {
                *once = c[n] == '!';
                return k;
            }
        return -1;
    }
    return -1;  // inside an element that holds text only
}

static void nest_stop(Nesting *x, const char *what) {
    snprintf(x->bad, sizeof x->bad, "%s at line %lu", what, (unsigned long)XML_GetCurrentLineNumber(x->parser));
    XML_StopParser(x->parser, XML_FALSE);
}

static void nest_open(void *user, const XML_Char *name, const XML_Char **attrs) {
    (void)attrs;
    Nesting *x = user;
    x->after_cdata = 0;
    const char *parent = x->depth ? x->stack[x->depth - 1] : "";
    int once = 0, k = x->depth == NEST_DEPTH || strlen(name) >= sizeof x->stack[0] ? -1 : child_place(parent, name, &once);
    char what[120];
    if (k < 0) {
        snprintf(what, sizeof what, "element <%.40s> inside <%.40s>", name, x->depth ? parent : "(top)");
        nest_stop(x, what);
        return;
    }
    if (once && (x->seen[x->depth] >> k & 1u)) {
        snprintf(what, sizeof what, "a second <%.40s> inside one <%.40s>", name, x->depth ? parent : "(top)");
        nest_stop(x, what);
        return;
    }
    if (once) x->seen[x->depth] |= 1u << k;
    snprintf(x->stack[x->depth++], sizeof x->stack[0], "%s", name);
    x->seen[x->depth] = 0;
}

static void nest_close(void *user, const XML_Char *name) {
    (void)name;
    Nesting *x = user;
    x->after_cdata = 0;
    if (x->depth > 0) x->depth--;
}

static int in_string_element(const Nesting *x) {
    static const char *const strings[] = {"Name", "Value", "Label", "DataSpace", "TransformedSpace"};
    if (x->depth == 0) return 0;
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strcmp(x->stack[x->depth - 1], strings[i]) == 0) return 1;
    return 0;
}

static void cdata_open(void *user) {
    Nesting *x = user;
    if (x->after_cdata && in_string_element(x)) nest_stop(x, "a second CDATA section in one string element");
    x->in_cdata = 1;
}

static void cdata_close(void *user) {
    Nesting *x = user;
    x->in_cdata = 0;
    x->after_cdata = 1;
}

static void nest_text(void *user, const XML_Char *text, int len) {
    (void)text, (void)len;
    Nesting *x = user;
    if (!x->in_cdata && x->after_cdata && in_string_element(x))
        nest_stop(x, "text after a CDATA section in one string element");
}

static int check_nesting(const char *path, char *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return base_errf(err, "%s: cannot open: %s", path, strerror(errno));
    Nesting x = {.parser = XML_ParserCreate(NULL)};
    if (!x.parser) DIE("", "cannot create an XML parser");
    XML_SetUserData(x.parser, &x);
    XML_SetElementHandler(x.parser, nest_open, nest_close);
    XML_SetCdataSectionHandler(x.parser, cdata_open, cdata_close);
    XML_SetCharacterDataHandler(x.parser, nest_text);
    char buf[1 << 16];
    int rc = 0, done = 0;
    while (!done && rc == 0) {
        size_t n = fread(buf, 1, sizeof buf, f);
        done = n < sizeof buf;
        if (XML_Parse(x.parser, buf, (int)n, done) == XML_STATUS_ERROR)
            rc = x.bad[0] ? base_errf(err, "%s: not a GIfTI file: %s", path, x.bad)
                          : base_errf(err, "%s: not a readable GIfTI file (XML error at line %lu: %s)", path,
                                      (unsigned long)XML_GetCurrentLineNumber(x.parser),
                                      XML_ErrorString(XML_GetErrorCode(x.parser)));
    }
    XML_ParserFree(x.parser);
    fclose(f);
    return rc;
}

static gifti_image *read_image(const char *path, int with_data, char *err) {
    quiet();
    if (!base_file_exists(path)) {
        base_errf(err, "%s: no such file", path);
        return NULL;
    }
    if (check_nesting(path, err)) return NULL;
    gifti_image *gim = gifti_read_image(path, with_data);
    if (!gim) {
        base_errf(err, "%s: not a readable GIfTI file (truncated, damaged XML or data, or not GIfTI)", path);
        return NULL;
    }
    return gim;
}

void surface_series_free(SurfaceSeries *s) {
    if (!s) return;
    free(s->data);
    memset(s, 0, sizeof *s);
}

int surface_read_series(const char *path, int with_data, SurfaceSeries *out, char *err) {
    memset(out, 0, sizeof *out);
    out->time_step_ms = NAN;
    gifti_image *gim = read_image(path, with_data, err);
    if (!gim) return -1;
    int rc = 0;
    giiDataArray *first = gim->numDA > 0 ? gim->darray[0] : NULL;
    // one 2-D array (vertices x volumes), or one 1-D array per volume
    int matrix = gim->numDA == 1 && first->num_dim == 2 && first->dims[1] > 1;
    if (!first) {
        rc = base_errf(err, "%s: a GIfTI file without data arrays", path);
    } else if (first->intent == NIFTI_INTENT_POINTSET || first->intent == NIFTI_INTENT_TRIANGLE) {
        rc = base_errf(err, "%s: a surface geometry (vertex coordinates and triangles, .surf.gii), not data on a "
                            "surface (.func.gii)", path);
    } else if (first->intent == NIFTI_INTENT_LABEL) {
        rc = base_errf(err, "%s: a label file (.label.gii), not a data series (.func.gii)", path);
    } else {
        for (int a = 0; a < gim->numDA && rc == 0; a++) {
            const giiDataArray *da = gim->darray[a];
            int one_d = da->num_dim == 1 || (da->num_dim == 2 && da->dims[1] == 1);
            if (!type_read(da->datatype))
                rc = base_errf(err, "%s: data array %d holds %s numbers (integers and floats are read)", path, a,
                               gifti_datatype2str(da->datatype));
            else if (!matrix && !one_d)
                rc = base_errf(err, "%s: data array %d is %d-dimensional; a series is one 1-D array per volume or one "
                                    "vertices x volumes array", path, a, da->num_dim);
            else if (da->dims[0] < 1 || da->dims[0] != first->dims[0])
                rc = base_errf(err, "%s: data array %d has %d vertices, array 0 has %d (one surface per file)", path, a,
                               da->dims[0], first->dims[0]);
        }
    }
    if (rc == 0) {
        out->n_vertices = (size_t)first->dims[0];
        out->n_volumes = matrix ? (size_t)first->dims[1] : (size_t)gim->numDA;
        const char *step = meta_value(&first->meta, "TimeStep");
        char *end = NULL;
        double ms = step ? strtod(step, &end) : NAN;
        if (step && (end == step || !isfinite(ms) || ms <= 0))
            rc = base_errf(err, "%s: TimeStep metadata \"%.40s\" is not a positive number of milliseconds", path, step);
        out->time_step_ms = ms;
        const char *structure = meta_value(&gim->meta, "AnatomicalStructurePrimary");
        snprintf(out->structure, sizeof out->structure, "%s", structure ? structure : "");
    }
    if (rc == 0 && with_data) {
        size_t n = out->n_vertices, T = out->n_volumes;
        out->data = base_malloc(base_mul(n, T) * sizeof(float), "surface series");
        for (size_t t = 0; t < T && rc == 0; t++) {
            const giiDataArray *da = gim->darray[matrix ? 0 : t];
            if (!da->data) {
                rc = base_errf(err, "%s: data array %zu has no data (an external file that is missing?)", path, t);
                break;
            }
            for (size_t v = 0; v < n; v++) {
                size_t at = !matrix ? v : da->ind_ord == GIFTI_IND_ORD_COL_MAJOR ? t * n + v : v * T + t;
                out->data[t * n + v] = (float)da_value(da, at);
            }
        }
    }
    gifti_free_image(gim);
    if (rc) surface_series_free(out);
    return rc;
}

void surface_labels_free(SurfaceLabels *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n_labels; i++) free(l->label_name[i]);
    free(l->label_name), free(l->label_key), free(l->key);
    memset(l, 0, sizeof *l);
}

int surface_read_labels(const char *path, SurfaceLabels *out, char *err) {
    memset(out, 0, sizeof *out);
    gifti_image *gim = read_image(path, 1, err);
    if (!gim) return -1;
    int rc = 0;
    const giiDataArray *da = gim->numDA == 1 ? gim->darray[0] : NULL;
    const giiLabelTable *lt = &gim->labeltable;
    if (!da || da->intent != NIFTI_INTENT_LABEL)
        rc = base_errf(err, "%s: not a GIfTI label file (.label.gii: one data array of intent NIFTI_INTENT_LABEL)", path);
    else if (da->datatype != NIFTI_TYPE_INT32 && da->datatype != NIFTI_TYPE_INT16 && da->datatype != NIFTI_TYPE_UINT8 &&
             da->datatype != NIFTI_TYPE_UINT16)
        rc = base_errf(err, "%s: label keys of type %s (integers are)", path, gifti_datatype2str(da->datatype));
    else if (!(da->num_dim == 1 || (da->num_dim == 2 && da->dims[1] == 1)) || da->dims[0] < 1)
        rc = base_errf(err, "%s: the label array is not one key per vertex", path);
    else if (!da->data)
        rc = base_errf(err, "%s: the label array has no data (an external file that is missing?)", path);
    else if (lt->length < 0 || (lt->length > 0 && (!lt->key || !lt->label)))
        rc = base_errf(err, "%s: a damaged label table", path);
    if (rc == 0) {
        out->n_vertices = (size_t)da->dims[0];
        out->n_labels = (size_t)lt->length;
        out->key = base_malloc(out->n_vertices * sizeof(int32_t), "label keys");
        out->label_key = base_malloc((out->n_labels ? out->n_labels : 1) * sizeof(int32_t), "label table");
        out->label_name = base_calloc(out->n_labels ? out->n_labels : 1, sizeof(char *), "label table");
        for (size_t i = 0; i < out->n_labels; i++) {
            out->label_key[i] = lt->key[i];
            out->label_name[i] = base_strdup(lt->label[i] ? lt->label[i] : "");
        }
        for (size_t v = 0; v < out->n_vertices; v++) out->key[v] = (int32_t)da_value(da, v);
        const char *structure = meta_value(&gim->meta, "AnatomicalStructurePrimary");
        snprintf(out->structure, sizeof out->structure, "%s", structure ? structure : "");
    }
    gifti_free_image(gim);
    if (rc) surface_labels_free(out);
    return rc;
}

int surface_read_geometry(const char *path, SurfaceGeometry *out, char *err) {
    memset(out, 0, sizeof *out);
    gifti_image *gim = read_image(path, 1, err);
    if (!gim) return -1;
    const giiDataArray *da = NULL;
    for (int a = 0; a < gim->numDA && !da; a++)
        if (gim->darray[a] && gim->darray[a]->intent == NIFTI_INTENT_POINTSET) da = gim->darray[a];
    int rc = 0;
    if (!da)
        rc = base_errf(err, "%s: not a GIfTI geometry file (.surf.gii: a data array of intent NIFTI_INTENT_POINTSET)",
                       path);
    else if (da->datatype != NIFTI_TYPE_FLOAT32 && da->datatype != NIFTI_TYPE_FLOAT64)
        rc = base_errf(err, "%s: vertex coordinates of type %s (float32 or float64 are)", path,
                       gifti_datatype2str(da->datatype));
    else if (da->num_dim != 2 || da->dims[1] != 3 || da->dims[0] < 1)
        rc = base_errf(err, "%s: the pointset is not three coordinates per vertex", path);
    else if (!da->data)
        rc = base_errf(err, "%s: the pointset has no data (an external file that is missing?)", path);
    if (rc == 0) {
        size_t n = (size_t)da->dims[0];
        out->n_vertices = n;
        out->xyz = base_malloc(base_mul(n, 3) * sizeof(double), "vertex coordinates");
        for (size_t v = 0; v < n && rc == 0; v++)
            for (size_t d = 0; d < 3; d++) {
                double x = da_value(da, da->ind_ord == GIFTI_IND_ORD_COL_MAJOR ? d * n + v : v * 3 + d);
                if (!isfinite(x)) {
                    rc = base_errf(err, "%s: vertex %zu has a coordinate that is not a number", path, v);
                    break;
                }
                out->xyz[v * 3 + d] = x;
            }
        const char *structure = meta_value(&gim->meta, "AnatomicalStructurePrimary");
        snprintf(out->structure, sizeof out->structure, "%s", structure ? structure : "");
    }
    gifti_free_image(gim);
    if (rc) surface_geometry_free(out);
    return rc;
}

void surface_geometry_free(SurfaceGeometry *g) {
    free(g->xyz);
    memset(g, 0, sizeof *g);
}

// ----------------------------------------------------------------------------
// writing

// the file read back holds the arrays written, bit for bit: n_arrays of n_values float32 each, from data
static int same_arrays(const char *path, const float *data, size_t n_arrays, size_t n_values) {
    quiet();
    gifti_image *back = gifti_read_image(path, 1);
    int ok = back && back->numDA == (int)n_arrays;
    for (size_t a = 0; ok && a < n_arrays; a++) {
        const giiDataArray *da = back->darray[a];
        ok = da->data && da->datatype == NIFTI_TYPE_FLOAT32 && da->nvals == (long long)n_values &&
             memcmp(da->data, data + a * n_values, n_values * sizeof(float)) == 0;
    }
    if (back) gifti_free_image(back);
    return ok;
}

// gim written to path whole or not at all: under a temporary name, read back and compared, renamed; gim freed
static int write_whole(gifti_image *gim, const char *path, const float *data, size_t n_arrays, size_t n_values,
                       char *err) {
    char tmp[1300];
    base_partial_path(path, tmp, sizeof tmp);
    int rc = 0;
    if (gifti_write_image(gim, tmp, 1) != 0 || !same_arrays(tmp, data, n_arrays, n_values))
        rc = base_errf(err, "%s: cannot write the GIfTI file (a full disk, or a folder that is not writable)", path);
    else if (rename(tmp, path) != 0)
        rc = base_errf(err, "%s: cannot rename into place: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    gifti_free_image(gim);
    return rc;
}

int surface_write(const char *path, const SurfaceOut *img, char *err) {
    if (img->n_vertices < 1 || img->n_vertices > INT32_MAX || img->n_arrays < 1 || img->n_arrays > INT32_MAX)
        return base_errf(err, "%s: %zu arrays of %zu vertices cannot be written as GIfTI", path, img->n_arrays,
                         img->n_vertices);
    quiet();
    int dims[1] = {(int)img->n_vertices};
    gifti_image *gim = gifti_create_image((int)img->n_arrays, img->intent, NIFTI_TYPE_FLOAT32, 1, dims, 1);
    if (!gim) return base_errf(err, "%s: cannot make the GIfTI image in memory", path);
    if (img->structure) gifti_add_to_meta(&gim->meta, "AnatomicalStructurePrimary", img->structure, 1);
    if (img->description) gifti_add_to_meta(&gim->meta, "Description", img->description, 1);
    char step[64];
    snprintf(step, sizeof step, "%.17g", img->time_step_ms);
    for (size_t a = 0; a < img->n_arrays; a++) {
        giiDataArray *da = gim->darray[a];
        da->encoding = GIFTI_ENCODING_B64GZ;
        memcpy(da->data, img->data + a * img->n_vertices, img->n_vertices * sizeof(float));
        if (img->names && img->names[a]) gifti_add_to_meta(&da->meta, "Name", img->names[a], 1);
        if (img->time_step_ms > 0) gifti_add_to_meta(&da->meta, "TimeStep", step, 1);
    }
    return write_whole(gim, path, img->data, img->n_arrays, img->n_vertices, err);
}

int surface_write_geometry(const char *path, const float *xyz, size_t n_vertices, const char *structure, char *err) {
    if (n_vertices < 1 || n_vertices > INT32_MAX)
        return base_errf(err, "%s: a pointset of %zu vertices cannot be written as GIfTI", path, n_vertices);
    quiet();
    int dims[2] = {(int)n_vertices, 3};
    gifti_image *gim = gifti_create_image(1, NIFTI_INTENT_POINTSET, NIFTI_TYPE_FLOAT32, 2, dims, 1);
    if (!gim) return base_errf(err, "%s: cannot make the GIfTI image in memory", path);
    if (structure) gifti_add_to_meta(&gim->meta, "AnatomicalStructurePrimary", structure, 1);
    giiDataArray *da = gim->darray[0];
    da->encoding = GIFTI_ENCODING_B64GZ;
    da->ind_ord = GIFTI_IND_ORD_ROW_MAJOR;
    memcpy(da->data, xyz, n_vertices * 3 * sizeof(float));
    return write_whole(gim, path, xyz, 1, n_vertices * 3, err);
}
