/*
 * fuzz_edf: an EDF or EDF+ file through edf_open (the ASCII header's fixed-width fields, signal headers,
 * EDF+ annotation TALs and record time stamps), then a read of the first samples of the first data
 * signal, as the iEEG path does. Counts and sizes in the header are ASCII numbers nobody checked.
 */
#include "host/edf.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("sub-01_task-x_ieeg.edf", data, size);
    char err[BASE_ERR_LEN] = "";
    Edf e;
    int rc = edf_open(path, &e, err);
    fuzz_check_err(rc != 0, err);
    if (rc != 0) return 0;
    for (size_t i = 0; i < e.n_signals; i++) {
        if (e.sig[i].annotation) continue;
        size_t n = edf_samples(&e, i) < 64 ? edf_samples(&e, i) : 64;
        float out[64];
        fuzz_check_err(edf_read(&e, &i, 1, 0, n, out, err) != 0, err);
        break;
    }
    edf_close(&e);
    return 0;
}
