/*
 * fuzz_recording: a recording text matrix (one row per volume or sample, one column per region) through
 * rec_load_text_matrix, once with the column count taken from the file and once demanding 6 columns, as a
 * config with six regions does. Numbers in any notation, ragged rows and non-finite values arrive here.
 */
#include "host/recording.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("sub01-recording.txt", data, size);
    for (size_t cols = 0; cols <= 6; cols += 6) {
        char err[BASE_ERR_LEN] = "";
        Recording r;
        int rc = rec_load_text_matrix(path, cols, NULL, &r, err);
        fuzz_check_err(rc != 0, err);
        if (rc == 0) rec_free(&r);
    }
    return 0;
}
