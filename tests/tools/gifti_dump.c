// gifti_dump FILE: a GIfTI file's arrays as text, read through libgiftiio alone (no brainsweep code), so the
// end-to-end tests check `brainsweep maps` and `brainsweep simulate --fmri --surface` with an independent reader.
// Prints "arrays N", "structure NAME" (AnatomicalStructurePrimary, "-" when absent), "timestep MS" of the first
// array ("-" when absent), then one line "vertex value" per vertex of the first array (float32 arrays only).
#include <stdio.h>

#include <gifti_io.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gifti_dump FILE.gii\n");
        return 2;
    }
    gifti_set_verb(0);
    gifti_image *gim = gifti_read_image(argv[1], 1);
    if (!gim || gim->numDA < 1 || !gim->darray[0]->data || gim->darray[0]->datatype != NIFTI_TYPE_FLOAT32) {
        fprintf(stderr, "gifti_dump: %s: not a GIfTI file of float32 arrays readable by libgiftiio\n", argv[1]);
        return 1;
    }
    const char *structure = gifti_get_meta_value(&gim->meta, "AnatomicalStructurePrimary");
    const char *step = gifti_get_meta_value(&gim->darray[0]->meta, "TimeStep");
    printf("arrays %d\nstructure %s\ntimestep %s\n", gim->numDA, structure ? structure : "-", step ? step : "-");
    const float *v = gim->darray[0]->data;
    for (long long i = 0; i < gim->darray[0]->nvals; i++) printf("%lld %.9g\n", i, v[i]);
    gifti_free_image(gim);
    return 0;
}
