/*
 * parcels: an atlas's parcels on the voxels or vertices of a bids_fmri sweep (fmri.atlas), for the layer x region
 * analyses of `analyze` and `report` over parcels instead of single voxels.
 *
 * The atlas is a 3D NIfTI of whole-number labels on the runs' own grid (the same dimensions and affine: resample it
 * there first, e.g. with nilearn or FSL), or, for surface runs, one GIfTI label file per hemisphere on the runs'
 * surface: the path then holds "{hemi}", read as L and R. A "{subject}" in the path is the subject's label ("01" for
 * sub-01), for atlases in each subject's own space (fMRIPrep's *_desc-aparcaseg_dseg.nii.gz). Label 0 is outside
 * every parcel. Names come from fmri.atlas_labels, a TSV with columns index and name (BIDS's dseg.tsv), which must
 * name every label the atlas holds; else from the GIfTI's label table; else "label N". Surface parcels carry their
 * hemisphere: "left <name>", "right <name>".
 *
 * Errors: -1 with err naming the file and the problem: a missing or damaged file, a grid or vertex count other than
 * the runs', a label that is not a whole number, a label the table does not name, a surface path without {hemi}.
 */
#ifndef HOST_PARCELS_H
#define HOST_PARCELS_H

#include <stddef.h>
#include <stdint.h>

#include "host/fmri.h"

typedef struct {
    size_t n;          // parcels: the distinct labels other than 0 in the atlas, in the order of their labels
    char **name;       // (n)
    size_t n_points;   // the grid's voxels or vertices (fmri_grid_points)
    int32_t *of;       // (n_points) each one's parcel (index into name), -1 outside every parcel
} Parcels;

// atlas, labels: fmri.atlas and fmri.atlas_labels ("" = none); subject: "sub-01"
int parcels_load(const char *atlas, const char *labels, const char *subject, const FmriGrid *grid, Parcels *out,
                 char *err);
void parcels_free(Parcels *p);

#endif  // HOST_PARCELS_H
