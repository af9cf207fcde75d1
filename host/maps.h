/*
 * maps: `brainsweep maps RESULTS.h5 -o DIR` — a bids_fmri sweep's scores as NIfTI-1 images in the space of
 * the runs they came from, so they open in nilearn, FSLeyes or any NIfTI viewer as they are.
 *
 * For every (model, context, subject) of the file, under DIR/<model>/<context>/ (the context's name with
 * every character but letters, digits, '-' and '.' made '_'; "tokens:32" is tokens_32):
 *  - <subject>_bestlayer.nii.gz: each voxel's best hidden state (argmax over the model's 0..L of /scores/r,
 *    the first on ties), as float32; NaN outside the subject's columns and where no layer has a finite r;
 *  - <subject>_layer-<h>_r.nii.gz, one per hidden state h of the model (h zero-padded to the width of L):
 *    /scores/r of that layer, float32, NaN outside.
 * Each image is 3D on the subject's grid (/voxels/dims) with the runs' affine (/voxels/affine) as both its
 * sform and its qform, under the file's xform code (/voxels/affine_code; 0 gives the scanner code, 1),
 * and mm units. Values are the results file's float32 r, bit for bit.
 *
 * For surface runs (/voxels' geometry "surface"), each map is two GIfTI files instead, one per hemisphere, with
 * as many vertices as the source's (host/surface.h): <subject>_hemi-L_bestlayer.func.gii,
 * <subject>_hemi-L_layer-<h>_r.func.gii and their hemi-R twins, one float32 array each (its "Name" metadata says
 * what it holds), AnatomicalStructurePrimary CortexLeft / CortexRight, NaN where a vertex has no score.
 *
 * Serial HDF5, no MPI. The results file is read and checked whole before DIR is created; each image is
 * written under a temporary name in its folder, read back through nifticlib (or libgiftiio), and renamed, so a file
 * under its final name is always whole. Returns the process exit code: 0; 1 (not a complete results
 * file, no /voxels group: not a bids_fmri sweep, an inconsistent voxel table, or a file that cannot
 * be written; one message naming the file); 2 (usage).
 */
#ifndef HOST_MAPS_H
#define HOST_MAPS_H

int maps_run(int argc, char **argv);

#endif  // HOST_MAPS_H
