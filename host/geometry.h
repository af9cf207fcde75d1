/*
 * geometry: where the vertices of a bids_fmri sweep's surface runs are (fmri.surface_geometry), so that their
 * distances from Heschl's gyrus are computed as the voxels' are (host/anatomy.h).
 *
 * One GIfTI geometry file per hemisphere (`*.surf.gii`, host/surface.h: its pointset), the path holding "{hemi}" (read
 * as L and R) and, for each subject's own surfaces, "{subject}" (host/fmri.h: fmri_expand_path). Each file must hold
 * as many vertices as the runs' hemisphere, and where it names its structure (AnatomicalStructurePrimary) the
 * hemisphere's. A template's surface serves every subject of a template space: fsaverage's (e.g. TemplateFlow's
 * tpl-fsaverage_hemi-L_den-41k_midthickness.surf.gii for fsaverage6) has MNI305 coordinates, within a few mm of
 * MNI152 at this resolution. Coordinates are used as the pointset stores them.
 *
 * Ownership: *xyz is the caller's (free). Errors: -1 with err naming the file (or the key) and the problem.
 */
#ifndef HOST_GEOMETRY_H
#define HOST_GEOMETRY_H

#include "host/fmri.h"

// pattern: fmri.surface_geometry; subject: "sub-01"; grid: a surface (host/fmri.h). *xyz (fmri_grid_points, 3): each
// vertex's coordinates (mm), in the grid's storage order (the left hemisphere's vertices, then the right's)
int geometry_load(const char *pattern, const char *subject, const FmriGrid *grid, double **xyz, char *err);

#endif  // HOST_GEOMETRY_H
