/*
 * niftiout: one NIfTI-1 image written through nifticlib, whole or not at all — what `brainsweep maps`
 * and the fMRI simulator write.
 *
 * The image (3D, or 4D with a TR) is written under a temporary name in the target's folder (keeping the
 * .nii / .nii.gz ending, from which nifticlib chooses the format and compression), read back through
 * nifticlib and compared with the data (nifti_image_write reports no error itself), then renamed into
 * place. The affine becomes both the sform and the qform under one xform code (0 is written as 1, the
 * scanner's), with pixdim the lengths of its columns and mm (and s) units.
 *
 * Errors: -1 with err naming the file; the temporary file is removed.
 */
#ifndef HOST_NIFTIOUT_H
#define HOST_NIFTIOUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int ndim;                // 3 or 4
    int64_t dim[4];          // nx, ny, nz[, nt]
    int datatype;            // NIFTI_TYPE_FLOAT32, NIFTI_TYPE_UINT8 or NIFTI_TYPE_INT16 (labels)
    const void *data;        // nx*ny*nz[*nt] values, i fastest
    const double *affine;    // (16) row-major voxel (i, j, k, 1) to mm
    int xform_code;
    double tr;               // seconds, 4D only
    const char *descrip;     // up to 79 characters kept
} NiftiOut;

int niftiout_write(const char *path, const NiftiOut *img, char *err);

#endif  // HOST_NIFTIOUT_H
