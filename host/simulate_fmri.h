/*
 * simulate_fmri: a small BIDS derivatives dataset in fMRIPrep's layout with planted layer maps
 * (`brainsweep simulate --fmri DIR`), to test the whole bids_fmri sweep and `maps` against known truth.
 *
 * For each subject, runs sub-NN/func/sub-NN_task-<task>_run-R_space-<space>_desc-preproc_bold.nii.gz
 * (float32, 4D) with their _desc-brain_mask.nii.gz (uint8) and _desc-preproc_bold.json (RepetitionTime),
 * all on one small grid with an oblique-free affine that flips x (so a reader that ignores the affine's
 * signs is caught). The runs are consecutive parts of the story: volume v of the concatenation covers
 * story time [v TR, (v + 1) TR).
 *  - the mask is an ellipsoid filling most of the grid; subject s's is shifted by s % 2 voxels along
 *    x, so the masks differ and their union is wider than each; or, with `brain_mask` (`--brain`: the
 *    project's data/brain/ mask of the MNI ICBM152 2009a template at 3 mm, 75,986 voxels), a real brain: the
 *    mask's grid, affine and voxels, the same for every subject (a whole-brain shape);
 *  - voxels in the front half of the grid (j < ny / 2) carry signal: a planted hidden state that grows
 *    with i (h = i * H / nx), the same for every subject; the others are noise voxels;
 *  - a signal voxel's series is the planted layer's word signal (sim_word_signals: the layer's states
 *    projected on a seeded direction), summed over the words whose midpoint falls in each volume,
 *    convolved with SPM's canonical HRF (peak near 5 s, undershoot near 15 s) and z-scored, times
 *    `snr`, plus unit white noise; noise voxels have the noise alone;
 *  - every voxel adds a baseline of 1000 that changes from run to run, a slow drift, and is scaled
 *    by 10, as scanner units are;
 *  - beside each run, fMRIPrep's confounds table (<run without space>_desc-confounds_timeseries.tsv) with
 *    columns csf and white_matter (two slow nuisance series per subject, AR(1) with coefficient 0.9,
 *    z-scored), trans_x (an unrelated one) and framewise_displacement (|change of trans_x|, "n/a" in the first
 *    row, as fMRIPrep writes derivatives); with `confounds` above 0 every in-mask voxel adds csf and
 *    white_matter with weights drawn N(0, confounds^2) per voxel (in noise standard deviations), so only a
 *    sweep that regresses them out (fmri.confounds) finds the planted layers. The data without them are the same
 *    bits whatever `confounds` is (the nuisance draws have their own random stream).
 * An atlas for fmri.atlas (host/parcels.h): atlas/space-<space>_desc-slabs_dseg.nii.gz (int16 on the grid) parcels
 * each half of the grid into slabs of constant i, labels 1..nx where j < ny / 2 (named "signal i=I": one planted
 * layer each) and nx+1..2nx elsewhere ("noise i=I"), named in atlas/desc-slabs_dseg.tsv (volumes only).
 * Beside the data: stimuli/words.tsv (the words used), groundtruth/planted_layer.nii.gz (float32 on
 * the grid: the planted hidden state, -1 for the noise voxels of the union of the masks, NaN outside)
 * and groundtruth/truth.json. Deterministic for a seed.
 *
 * With `surface`, the same series are written as surface runs instead (host/fmri.h): the grid's voxels in storage
 * order, every one of them (no mask), are the vertices of two hemispheres, the first half the left's and the second
 * the right's, in sub-NN_task-<task>_run-R_hemi-{L,R}_space-<space>_bold.func.gii (one float32 array per volume,
 * TimeStep metadata in ms) with a _bold.json sidecar beside the left; the truth is
 * groundtruth/planted_layer_hemi-{L,R}.func.gii. A grid with an odd number of voxels gives the right one more. The
 * surfaces' geometry for fmri.surface_geometry is atlas/space-<space>_hemi-{L,R}_midthickness.surf.gii: a pointset
 * alone (no triangles), each vertex at its voxel's centre in the grid's MNI millimetres.
 *
 * Errors: -1 with err naming the file and the problem.
 */
#ifndef HOST_SIMULATE_FMRI_H
#define HOST_SIMULATE_FMRI_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *out_dir;
    const char *model_path;
    const char *stimulus;   // a TextGrid or a words table
    double seconds;         // story seconds kept (0 = all)
    size_t subjects;
    size_t runs;
    double tr;
    int dim[3];
    double snr;             // signal amplitude over the noise's standard deviation
    double confounds;       // the nuisance series' weight in the voxels (0: tables written, voxels clean)
    const char *space;
    int surface;            // 1: GIfTI surface runs of two hemispheres instead of NIfTI volumes
    const char *brain_mask; // a brain mask (3D NIfTI): its grid, affine and voxels replace dim and the ellipsoids
    const char *task;
    uint64_t seed;
} SimFmriOptions;

int sim_fmri_make(const SimFmriOptions *o, char *err);

#endif  // HOST_SIMULATE_FMRI_H
