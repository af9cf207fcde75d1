/*
 * fuzz_results: a results file through the two readers every command after a sweep starts with:
 * results_inspect (`brainsweep inspect`: schema, models, contexts, regions, the layer x region matrices) and
 * results_open (the schema, version and complete checks that `analyze` and `report` pass through). Results
 * files travel between machines and people, so any HDF5 file, or any file, may be handed to them.
 */
#include "host/results_read.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    if (!devnull) devnull = fopen("/dev/null", "w");
    const char *path = fuzz_file("results.h5", data, size);
    char err[BASE_ERR_LEN] = "";
    fuzz_check_err(results_inspect(path, devnull, err) != 0, err);
    err[0] = '\0';
    hid_t f = results_open(path, "fuzz", err);
    fuzz_check_err(f < 0, err);
    if (f >= 0) H5Fclose(f);
    fuzz_h5_check_closed();
    return 0;
}
