/*
 * fmri: volumetric fMRI runs of a BIDS derivatives folder in fMRIPrep's layout, read through nifticlib.
 *
 * A run is `sub-<label>/[ses-<label>/]func/<stem>_space-<space>[_res-..]_desc-preproc_bold.nii[.gz]`, a 4D
 * image (x, y, z, time), with its brain mask `<same entities>_desc-brain_mask.nii[.gz]` (3D, on the run's
 * grid: the same dimensions and the same voxel-to-mm affine) and, when present, its sidecar
 * `<same entities>_desc-preproc_bold.json`. A run's key is its entities between the subject and the
 * space ("ses-1_task-alice_run-2"); every subject must have the same keys, and a subject's runs are
 * ordered by key (runs numbered naturally: run-2 before run-10).
 *
 * A surface run (a space such as fsaverage5 or fsnative) is the pair of GIfTI series
 * `<stem>_hemi-L_space-<space>[_den-..]_bold.func.gii` and its `_hemi-R_` twin (host/surface.h), with the sidecar
 * `<same name>_bold.json` of either; its key is the entities between the subject and the hemisphere. Its targets
 * are every vertex of the left hemisphere, then every vertex of the right (no mask: a vertex whose series is
 * constant, as on the medial wall of some outputs, gets no score); its "grid" is the two vertex counts. The TR is
 * the sidecar's RepetitionTime or the arrays' TimeStep metadata (they must agree within 1 ms where both are set).
 * One space is either volumetric or surface: both kinds of run for one space is an error.
 *
 * fmri_load_subject reads one subject's runs, in order, into one matrix of volumes x in-mask voxels:
 *  - the TR is the header's pixdim[4] (in its time unit), and the sidecar's RepetitionTime when it has
 *    one must agree within 1 ms (a header without a TR takes the sidecar's); every run of the subject
 *    has the same TR and grid;
 *  - the subject's voxels are those inside every run's mask (a voxel with a positive mask value), in
 *    NIfTI storage order (i fastest); an empty mask is an error;
 *  - values are the stored numbers times scl_slope plus scl_inter (when the slope is set); a non-finite
 *    value inside the mask is an error naming the voxel and the volume (but nifticlib's reader already
 *    turns non-finite floats into 0, silently, so a NaN in a float run reads as 0);
 *  - the affine is the sform when its code is set, else the qform, else the pixdim scaling (code 0).
 *
 * Confounds (fmri_regress_confounds): a run's fMRIPrep confounds table is `<the run's entities before the
 * space>_desc-confounds_timeseries.tsv` beside it (fMRIPrep writes one per run, for every space). The chosen
 * columns and an intercept are regressed out of each voxel of that run by least squares (LAPACK's QR of the
 * volumes x (1 + columns) design: the residual of each voxel's series is what it leaves out of the span). An "n/a"
 * cell (fMRIPrep's first row of a derivative column) takes its column's mean over the run; a table whose rows
 * are not the run's volumes, a column it lacks, a column with no number, or columns that are constant or a
 * combination of the others in a run (a rank-deficient design) are errors naming the file.
 *
 * Nothing is written. Ownership: FmriRun arrays are the caller's (free); FmriSubject owns its arrays
 * (fmri_subject_free). Errors: -1 with err naming the file and the problem.
 */
#ifndef HOST_FMRI_H
#define HOST_FMRI_H

#include <stddef.h>
#include <stdint.h>

#define FMRI_PATH 1024

typedef struct {
    char subject[64];        // "sub-01"
    char key[192];           // entities between subject and space: "task-alice_run-1"
    int surface;             // 1: a surface run, bold the left hemisphere's series and bold_right the right's
    char bold[FMRI_PATH];
    char bold_right[FMRI_PATH];  // surface runs only
    char mask[FMRI_PATH];    // volumetric runs: "" when absent (an error when the run is loaded)
    char json[FMRI_PATH];    // "" when absent
    char confounds[FMRI_PATH];  // the run's confounds table; "" unless the query names confound columns
} FmriRun;

// which runs a sweep takes (config section fmri)
typedef struct {
    const char *root;                  // the derivatives folder
    const char *space;                 // the space entity ("MNI152NLin2009cAsym", "T1w")
    const char *task;                  // NULL or "": any
    const char *const *runs;           // run labels ("1", "02"); none = every run found
    size_t n_runs;
    const char *const *subjects;       // "sub-01" or "01"; none = every subject found
    size_t n_subjects;
    const char *const *confounds;      // confounds-table columns to regress out; none = no table needed
    size_t n_confounds;
} FmriQuery;

// The selected runs, sorted by subject then key. Every selected subject has the same keys: a key one
// subject lacks is an error naming the file it expected; so are no runs at all, a selected subject
// or run label that no file has, and (when the query names confound columns) a run without its confounds table.
int fmri_find_runs(const FmriQuery *q, FmriRun **runs, size_t *n, char *err);

// A volumetric grid, or a surface: dim = (vertices of the left hemisphere, of the right, 1), the affine the
// identity (code 0), and a vertex's "ijk" (vertex, hemisphere: 0 left, 1 right, 0)
typedef struct {
    int surface;
    int64_t dim[3];
    double affine[16];       // row-major 4x4: voxel (i, j, k, 1) to mm
    int affine_code;         // the NIfTI xform code of the affine used (sform, else qform; 0: neither)
} FmriGrid;

// the grid's voxels (or vertices), and the storage index of one: NIfTI order (i fastest); left vertices, then right
size_t fmri_grid_points(const FmriGrid *g);
size_t fmri_grid_index(const FmriGrid *g, const int32_t ijk[3]);

typedef struct {
    char subject[64];
    char file[FMRI_PATH];    // the first run's BOLD file
    FmriGrid grid;
    size_t n_vox;
    int32_t *ijk;            // (n_vox, 3) the voxels (or vertices), in storage order
    size_t n_runs;
    size_t *run_volumes;     // (n_runs)
    double tr;               // seconds
    size_t V;                // volumes over the runs
    float *data;             // (V, n_vox) the runs one after another
} FmriSubject;

// runs: one subject's runs, in order (consecutive entries of fmri_find_runs)
int fmri_load_subject(const FmriRun *runs, size_t n, FmriSubject *out, char *err);
void fmri_subject_free(FmriSubject *s);
// the same checks, sizes (grid, TR, runs, V, n_vox) and voxels (ijk) from the headers and masks alone: data stays NULL
int fmri_peek_subject(const FmriRun *runs, size_t n, FmriSubject *out, char *err);

// Regresses q's confound columns and an intercept out of each of the subject's runs (runs: the n runs it was
// loaded from, in order), in place; nothing to do without columns. -1 with err naming the table.
int fmri_regress_confounds(FmriSubject *s, const FmriRun *runs, size_t n, const char *const *columns, size_t n_columns,
                           char *err);

// A per-subject or per-hemisphere path of the config (fmri.atlas, fmri.surface_geometry): pattern with "{subject}"
// replaced by the subject's label ("01" for sub-01) and "{hemi}" by hemi (NULL: left as it is); -1 when out is short
int fmri_expand_path(const char *pattern, const char *subject, const char *hemi, char *out, size_t n);

// 1 when two grids are of one kind, with the same dimensions and affines within 1e-4 mm
int fmri_same_grid(const FmriGrid *a, const FmriGrid *b);

// A brain mask on a grid of its own (a run's, or a template's for the simulator): a 3D NIfTI image, the voxels above
// 0 inside; *g its grid, *mask (fmri_grid_points) 1 inside (caller frees). -1 with err naming the file for a 4D image
// or an empty mask.
int fmri_read_mask(const char *path, FmriGrid *g, uint8_t **mask, char *err);

// An atlas of parcels on a volumetric grid (fmri.atlas, host/parcels.h): the label of each of g's voxels, in storage
// order (caller frees). The file must be a 3D NIfTI of whole numbers >= 0 on g itself (dimensions and affine);
// -1 with err naming the file otherwise.
int fmri_read_labels(const char *path, const FmriGrid *g, int32_t **labels, char *err);

// The voxel axis of a sweep (results.h5's /voxels): column k of subject s's targets is voxel ijk[s, k]
// of that subject's grid, or none (-1, -1, -1: padding, its r is NaN). When every subject has the same
// grid the columns are the union of their masks, in storage order, the same voxel for every subject;
// else each subject's own voxels in storage order, padded to the longest.
typedef struct {
    size_t S, R;
    char space[128];
    int32_t *ijk;            // (S, R, 3)
    int32_t *dims;           // (S, 3)
    double *affine;          // (S, 16)
    int32_t *affine_code;    // (S)
    int32_t *n_voxels;       // (S) voxels of each subject's own mask
    int shared_grid;         // 1: every subject on one grid, columns the union of the masks
    int surface;             // 1: the grids are surfaces (FmriGrid says how ijk and dims read then)
    double tr;
    size_t n_parcels;        // with an atlas (fmri.atlas, host/parcels.h): its parcels over every subject, else 0
    char **parcel_name;      // (n_parcels)
    int32_t *parcel;         // (S, R) each column's parcel, -1 outside every parcel or without a voxel; NULL: no atlas
    double *distance;        // (S, R) mm from the pmHG of the voxel's hemisphere (host/anatomy.h), NaN without a
                             // voxel; NULL where the space has no built-in reference or the runs are on a surface
} FmriVoxels;

void fmri_voxels_free(FmriVoxels *v);

// "8x8x6 voxels, affine [[3 0 0 -12] ...]" or "a surface of 10242 + 10242 vertices", for messages
void fmri_describe_grid(const FmriGrid *g, char *out, size_t n);

#endif  // HOST_FMRI_H
