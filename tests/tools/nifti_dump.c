// nifti_dump FILE: a NIfTI image's header and values as text, read through nifticlib alone (no brainsweep code), so
// the end-to-end tests check `brainsweep maps` and `brainsweep simulate --fmri` with an independent reader.
// Prints "dims NX NY NZ NT", "codes SFORM QFORM", "affine" rows (the sform when its code is set, else the qform),
// "qaffine" rows (the qform), "tr SECONDS", "datatype N", then one line "i j k value" per voxel of the first volume
// (nifticlib reads a NaN float as 0).
#include <stdio.h>

#include <nifti2_io.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: nifti_dump FILE.nii[.gz]\n");
        return 2;
    }
    nifti_set_debug_level(0);
    nifti_image *nim = nifti_image_read(argv[1], 1);
    if (!nim || !nim->data) {
        fprintf(stderr, "nifti_dump: %s: not readable by nifticlib\n", argv[1]);
        return 1;
    }
    printf("dims %lld %lld %lld %lld\n", (long long)nim->nx, (long long)nim->ny, (long long)nim->nz,
           (long long)(nim->ndim >= 4 ? nim->nt : 1));
    printf("codes %d %d\n", nim->sform_code, nim->qform_code);
    const nifti_dmat44 *a = nim->sform_code > 0 ? &nim->sto_xyz : &nim->qto_xyz;
    for (int r = 0; r < 3; r++) printf("affine %.6f %.6f %.6f %.6f\n", a->m[r][0], a->m[r][1], a->m[r][2], a->m[r][3]);
    for (int r = 0; r < 3; r++)
        printf("qaffine %.6f %.6f %.6f %.6f\n", nim->qto_xyz.m[r][0], nim->qto_xyz.m[r][1], nim->qto_xyz.m[r][2],
               nim->qto_xyz.m[r][3]);
    printf("tr %g\ndatatype %d\n", nim->dt, nim->datatype);
    for (long long k = 0; k < nim->nz; k++)
        for (long long j = 0; j < nim->ny; j++)
            for (long long i = 0; i < nim->nx; i++) {
                size_t at = (size_t)(i + nim->nx * (j + nim->ny * k));
                double v = nim->datatype == NIFTI_TYPE_FLOAT32 ? ((float *)nim->data)[at]
                           : nim->datatype == NIFTI_TYPE_UINT8 ? ((unsigned char *)nim->data)[at]
                                                               : 0.0 / 0.0;
                printf("%lld %lld %lld %.9g\n", i, j, k, v);
            }
    nifti_image_free(nim);
    return 0;
}
