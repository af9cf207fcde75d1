/*
 * surface: fMRI data on a cortical surface, in GIfTI files, read and written through libgiftiio (Debian's
 * libgiftiio-dev, the format's reference C library) — the surface runs of a bids_fmri sweep and the surface maps of
 * `brainsweep maps`.
 *
 * A surface series (`*.func.gii`, as fMRIPrep, FreeSurfer and nibabel write them) holds one hemisphere's data: one
 * DataArray per volume, each a 1-D array of the surface's vertices; or one 2-D array (vertices x volumes, row
 * major). Numbers of any NIfTI integer or float type are read as float32. The time step is the DataArrays'
 * "TimeStep" metadata (milliseconds, FreeSurfer's convention) when they have it; the structure is the file's
 * "AnatomicalStructurePrimary" ("CortexLeft"), which Connectome Workbench reads.
 *
 * surface_write writes arrays of float32, one DataArray each (GZip-compressed base64), whole or not at all: under a
 * temporary name in the target's folder, read back through libgiftiio and compared bit for bit, then renamed.
 *
 * A file is parsed once with expat before libgiftiio reads it, to check that its elements nest as GIfTI's schema says
 * (libgiftiio 1.0.9 dereferences NULL on some that do not).
 *
 * Errors: -1 with err naming the file and the problem (libgiftiio's own messages are silenced); a geometry file
 * (.surf.gii: a pointset and its triangles) or a label file given as a series is named as such.
 */
#ifndef HOST_SURFACE_H
#define HOST_SURFACE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n_vertices;
    size_t n_volumes;
    double time_step_ms;     // the "TimeStep" metadata of the first DataArray; NAN when absent
    char structure[64];      // "AnatomicalStructurePrimary"; "" when absent
    float *data;             // (n_volumes, n_vertices); NULL when read without data
} SurfaceSeries;

// with_data 0: the sizes, time step and structure only (the arrays' values are not decoded)
int surface_read_series(const char *path, int with_data, SurfaceSeries *out, char *err);
void surface_series_free(SurfaceSeries *s);

// A label file (`*.label.gii`, an atlas's parcels on one hemisphere): one integer key per vertex, and the file's
// label table naming the keys (FreeSurfer's and Workbench's convention: key 0 is "???" or "unknown")
typedef struct {
    size_t n_vertices;
    int32_t *key;            // (n_vertices)
    size_t n_labels;
    int32_t *label_key;      // (n_labels) the table's keys
    char **label_name;       // (n_labels) their names
    char structure[64];      // "AnatomicalStructurePrimary"; "" when absent
} SurfaceLabels;

int surface_read_labels(const char *path, SurfaceLabels *out, char *err);
void surface_labels_free(SurfaceLabels *l);

// A geometry file (`*.surf.gii`, one hemisphere's mesh): each vertex's coordinates (mm) as its pointset stores them
// (row or column major; float32 or float64), the triangles left unread
typedef struct {
    size_t n_vertices;
    double *xyz;             // (n_vertices, 3)
    char structure[64];      // "AnatomicalStructurePrimary"; "" when absent
} SurfaceGeometry;

int surface_read_geometry(const char *path, SurfaceGeometry *out, char *err);
void surface_geometry_free(SurfaceGeometry *g);

typedef struct {
    size_t n_vertices;
    size_t n_arrays;
    const float *data;            // (n_arrays, n_vertices)
    int intent;                   // the NIFTI_INTENT_* code of every array (NIFTI_INTENT_NONE, _TIME_SERIES, ...)
    const char *const *names;     // a "Name" metadata entry per array, or NULL
    const char *structure;        // "CortexLeft" / "CortexRight", or NULL
    double time_step_ms;          // > 0: a "TimeStep" entry on every array (a time series)
    const char *description;      // the file's "Description" metadata, or NULL
} SurfaceOut;

int surface_write(const char *path, const SurfaceOut *img, char *err);

// a pointset alone (xyz (n_vertices, 3) float32, row major; no triangles), whole or not at all as surface_write
int surface_write_geometry(const char *path, const float *xyz, size_t n_vertices, const char *structure, char *err);

#endif  // HOST_SURFACE_H
