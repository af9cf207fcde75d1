/*
 * fuzz_bids: the sidecars of one BIDS iEEG run through bids_load_run. The input is split at NUL bytes into
 * the _ieeg.json, _channels.tsv, _electrodes.tsv and _events.tsv files (an empty electrodes part means the
 * run has none), so one input mutates the JSON reader, the TSV reader and the checks that tie them together
 * (duplicate channels, coordinates, the stimulus event).
 */
#include "host/bids.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[4] = {"sub-01_task-podcast_ieeg.json", "sub-01_task-podcast_channels.tsv",
                                         "sub-01_space-MNI_electrodes.tsv", "sub-01_task-podcast_events.tsv"};
    IeegRun *run = calloc(1, sizeof *run);  // bids_free_runs frees the array
    char *dst[4] = {run->json, run->channels, run->electrodes, run->events};
    for (int k = 0; k < 4; k++) {
        const uint8_t *p;
        size_t n;
        fuzz_part(data, size, k, &p, &n);
        const char *path = fuzz_file(names[k], p, n);
        if (k != 2 || n) snprintf(dst[k], BIDS_PATH, "%s", path);
    }
    snprintf(run->subject, sizeof run->subject, "sub-01");
    snprintf(run->stem, sizeof run->stem, "sub-01_task-podcast");
    snprintf(run->data, sizeof run->data, "%s/sub-01_task-podcast_ieeg.edf", fuzz_root);
    char err[BASE_ERR_LEN] = "";
    int rc = bids_load_run(run, "story", err);
    fuzz_check_err(rc != 0, err);
    bids_free_runs(run, 1);
    return 0;
}
