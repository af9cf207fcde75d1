/*
 * fuzz_fmri: one BIDS derivatives fMRI run through fmri_load_subject: the BOLD file, its brain mask and its
 * sidecar, read through nifticlib and jansson. NIfTI is binary (NUL bytes everywhere), so the input is split by
 * length, not at NULs: 4 bytes little-endian, the BOLD part's length; the BOLD part; 4 bytes, the mask part's
 * length; the mask part; the rest is the sidecar JSON. A part that starts with gzip's magic is named .nii.gz,
 * so nifticlib also reads it through zlib. One input thus mutates the headers, the data, the grid and affine
 * checks, the TR against RepetitionTime, and the mask.
 */
#include "host/fmri.h"
#include "tests/fuzz/fuzz.h"

// the next length-prefixed part of [*p, end), or the rest when short
static void take(const uint8_t **p, const uint8_t *end, const uint8_t **part, size_t *n) {
    size_t left = (size_t)(end - *p), len = left;
    if (left >= 4) {
        len = (size_t)(*p)[0] | (size_t)(*p)[1] << 8 | (size_t)(*p)[2] << 16 | (size_t)(*p)[3] << 24;
        *p += 4, left -= 4;
        if (len > left) len = left;
    }
    *part = *p, *n = len < left ? len : left;
    *p += *n;
}

static const char *nifti_name(const char *stem, const uint8_t *d, size_t n) {
    static char name[2][128];
    static int k;
    char *out = name[k++ % 2];
    snprintf(out, 128, "%s%s", stem, n >= 2 && d[0] == 0x1f && d[1] == 0x8b ? ".nii.gz" : ".nii");
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size, *bold, *mask;
    size_t nb, nm;
    take(&p, end, &bold, &nb);
    take(&p, end, &mask, &nm);
    FmriRun run = {.subject = "sub-01", .key = "task-t_run-1"};
    snprintf(run.bold, sizeof run.bold, "%s",
             fuzz_file(nifti_name("sub-01_task-t_run-1_space-X_desc-preproc_bold", bold, nb), bold, nb));
    snprintf(run.mask, sizeof run.mask, "%s",
             fuzz_file(nifti_name("sub-01_task-t_run-1_space-X_desc-brain_mask", mask, nm), mask, nm));
    snprintf(run.json, sizeof run.json, "%s",
             fuzz_file("sub-01_task-t_run-1_space-X_desc-preproc_bold.json", p, (size_t)(end - p)));
    FmriSubject s;
    char err[BASE_ERR_LEN] = "";
    int rc = fmri_load_subject(&run, 1, &s, err);
    fuzz_check_err(rc != 0, err);
    if (rc == 0) fmri_subject_free(&s);
    // the files of another extension stay behind and would be read next time under the other name
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s'", run.bold, run.mask);
    if (system(cmd) != 0) abort();
    return 0;
}
