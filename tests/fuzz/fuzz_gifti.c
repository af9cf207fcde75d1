/*
 * fuzz_gifti: one BIDS derivatives surface run through fmri_load_subject: the left and the right hemisphere's
 * GIfTI series (host/surface.c: our expat pass over the element nesting, then libgiftiio) and the sidecar JSON.
 * GIfTI is XML text, so the input is split at NUL bytes: the left hemisphere's file, the right's, the sidecar.
 * One input thus mutates the XML, the base64 and gzip data, the data arrays' attributes, the TimeStep against
 * RepetitionTime, and the checks between the hemispheres. The left part is also read as an atlas's label file
 * (surface_read_labels, fmri.atlas on surfaces) and as a geometry file (surface_read_geometry,
 * fmri.surface_geometry): the same XML pass and libgiftiio, then the label table or the pointset.
 */
#include "host/fmri.h"
#include "host/surface.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[3] = {"sub-01_task-t_run-1_hemi-L_space-fsaverage5_bold.func.gii",
                                         "sub-01_task-t_run-1_hemi-R_space-fsaverage5_bold.func.gii",
                                         "sub-01_task-t_run-1_hemi-L_space-fsaverage5_bold.json"};
    const char *path[3];
    for (int k = 0; k < 3; k++) {
        const uint8_t *part;
        size_t n;
        fuzz_part(data, size, k, &part, &n);
        path[k] = fuzz_file(names[k], part, n);
    }
    FmriRun run = {.subject = "sub-01", .key = "task-t_run-1", .surface = 1};
    snprintf(run.bold, sizeof run.bold, "%s", path[0]);
    snprintf(run.bold_right, sizeof run.bold_right, "%s", path[1]);
    snprintf(run.json, sizeof run.json, "%s", path[2]);
    FmriSubject s;
    char err[BASE_ERR_LEN] = "";
    int rc = fmri_load_subject(&run, 1, &s, err);
    fuzz_check_err(rc != 0, err);
    if (rc == 0) fmri_subject_free(&s);
    SurfaceLabels labels;
    rc = surface_read_labels(path[0], &labels, err);
    fuzz_check_err(rc != 0, err);
    if (rc == 0) surface_labels_free(&labels);
    SurfaceGeometry geometry;
    rc = surface_read_geometry(path[0], &geometry, err);
    fuzz_check_err(rc != 0, err);
    if (rc == 0) surface_geometry_free(&geometry);
    return 0;
}
