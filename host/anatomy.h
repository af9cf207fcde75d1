/*
 * anatomy: where electrodes are, as the hierarchy analyses need it — the distance of each from
 * posteromedial Heschl's gyrus (pmHG, primary auditory cortex) and a region label.
 *
 * Distance is Euclidean in the electrodes' space (mm) to the pmHG of the electrode's own
 * hemisphere (x < 0: left). The reference coordinates per space are a built-in table
 * (anatomy_reference): for MNI152 templates and fsaverage (whose surface coordinates are MNI305,
 * within a few mm of MNI152 at this resolution) they are our approximation of the centre of
 * cytoarchitectonic area Te1.1 (Morosan et al. 2001) on the posteromedial crown of Heschl's gyrus,
 * not a value from the reference study; the config overrides them (ieeg.pmhg_left/right).
 *
 * Region labels come from the electrodes table's own column when it has one, else from an atlas
 * table (TSV: label, x, y, z — one row per region centroid) by the nearest centroid in the same
 * hemisphere. The built-in table (anatomy_default_atlas) is coarse: approximate MNI centroids of the
 * perisylvian and frontal regions iEEG language studies report; a lab's own labels are better.
 *
 * Errors: -1 with err naming the space or file. Nothing here allocates except anatomy_load_atlas.
 */
#ifndef HOST_ANATOMY_H
#define HOST_ANATOMY_H

#include <stddef.h>

typedef struct {
    size_t n;
    char (*label)[32];  // (n)
    double *xyz;        // (n, 3)
} Atlas;

// pmHG of each hemisphere in a BIDS space ("MNI152NLin2009aSym", "fsaverage", ...): 0, or -1 for a
// space without a built-in reference (the caller then needs the config's coordinates).
int anatomy_reference(const char *space, double left[3], double right[3]);

double anatomy_distance(const double xyz[3], const double left[3], const double right[3]);

void anatomy_default_atlas(Atlas *out);
int anatomy_load_atlas(const char *path, Atlas *out, char *err);
void anatomy_free_atlas(Atlas *a);
// index of the nearest centroid in xyz's hemisphere (any hemisphere if the atlas has none there)
size_t anatomy_label(const Atlas *a, const double xyz[3]);

#endif  // HOST_ANATOMY_H
