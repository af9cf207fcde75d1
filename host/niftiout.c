#include "host/niftiout.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nifti2_io.h>

#include "host/base.h"

// the data read back equals what was written; nifticlib's reader turns a NaN or infinite float into 0 (the file
// holds the value written), so such a value may come back as 0
static int same_data(const nifti_image *back, const NiftiOut *img) {
    if (img->datatype != NIFTI_TYPE_FLOAT32)
        return memcmp(back->data, img->data, (size_t)back->nvox * (size_t)back->nbyper) == 0;
    const float *a = back->data, *b = img->data;
    for (size_t i = 0; i < (size_t)back->nvox; i++)
        if (!isfinite(b[i]) ? !(a[i] == 0 || memcmp(&a[i], &b[i], sizeof(float)) == 0) : memcmp(&a[i], &b[i], sizeof(float)) != 0) return 0;
    return 1;
}

int niftiout_write(const char *path, const NiftiOut *img, char *err) {
    char tmp[1300];
    base_partial_path(path, tmp, sizeof tmp);
    int64_t dd[8] = {img->ndim, img->dim[0], img->dim[1], img->dim[2], img->ndim > 3 ? img->dim[3] : 1, 1, 1, 1};
    nifti_set_debug_level(0);
    nifti_image *nim = nifti_make_new_nim(dd, img->datatype, 0);
    if (!nim) return base_errf(err, "%s: cannot make the NIfTI header", path);
    nim->data = (void *)img->data;  // borrowed; detached before nifti_image_free
    nifti_dmat44 a;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) a.m[r][c] = img->affine[4 * r + c];
    double pix[3];
    for (int c = 0; c < 3; c++) pix[c] = sqrt(a.m[0][c] * a.m[0][c] + a.m[1][c] * a.m[1][c] + a.m[2][c] * a.m[2][c]);
    nim->dx = nim->pixdim[1] = pix[0];
    nim->dy = nim->pixdim[2] = pix[1];
    nim->dz = nim->pixdim[3] = pix[2];
    if (img->ndim > 3) nim->dt = nim->pixdim[4] = img->tr;
    nim->xyz_units = NIFTI_UNITS_MM;
    nim->time_units = NIFTI_UNITS_SEC;
    nim->sform_code = nim->qform_code = img->xform_code > 0 ? img->xform_code : NIFTI_XFORM_SCANNER_ANAT;
    nim->sto_xyz = a;
    nim->sto_ijk = nifti_dmat44_inverse(a);
    double qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
    nifti_dmat44_to_quatern(a, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
    nim->quatern_b = qb, nim->quatern_c = qc, nim->quatern_d = qd;
    nim->qoffset_x = qx, nim->qoffset_y = qy, nim->qoffset_z = qz, nim->qfac = qfac;
    nim->qto_xyz = nifti_quatern_to_dmat44(qb, qc, qd, qx, qy, qz, pix[0], pix[1], pix[2], qfac);
    nim->qto_ijk = nifti_dmat44_inverse(nim->qto_xyz);
    snprintf(nim->descrip, sizeof nim->descrip, "%.79s", img->descrip ? img->descrip : "");
    nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
    int rc = 0;
    if (nifti_set_filenames(nim, tmp, 0, 1) != 0) {
        rc = base_errf(err, "%s: cannot name the NIfTI file", path);
    } else {
        nifti_image_write(nim);
        nifti_image *back = nifti_image_read(tmp, 1);  // nifti_image_write reports nothing: the file is checked
        int ok = back && back->data && back->nvox == nim->nvox && back->datatype == img->datatype &&
                 same_data(back, img);
        if (back) nifti_image_free(back);
        if (!ok) rc = base_errf(err, "%s: cannot write the image (a full disk, or a folder that is not writable)", path);
        else if (rename(tmp, path) != 0) rc = base_errf(err, "%s: cannot rename into place: %s", path, strerror(errno));
    }
    if (rc) unlink(tmp);
    nim->data = NULL;
    nifti_image_free(nim);
    return rc;
}
