/*
 * fuzz_highgamma_h5: a BIDS run's preprocessed high-gamma file (<stem>_highgamma.h5: /highgamma samples x
 * channels with a 'rate' attribute, /channels names) through envelope_from_h5, the reader ieeg_prepare uses
 * for `ieeg.source: highgamma`. The reader is static to host/ieeg.c, so the harness compiles that file into
 * itself instead of widening its interface for a test. HDF5 dimensions are declared, not stored: a small
 * file can claim any shape.
 *
 * FUZZ_WRITE_SEED=path writes the seed (200 samples x 3 channels at 100 Hz, the shape test_ieeg writes) and
 * exits; tests/fuzz/make-corpus.sh uses it.
 */
#include "host/ieeg.c"
#include "tests/fuzz/fuzz.h"

static char *NAMES[] = {"G1", "G3"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *seed = getenv("FUZZ_WRITE_SEED");
    if (!seed) return 0;
    enum { N = 200, C = 3 };
    static float env[N * C];
    for (size_t k = 0; k < N * C; k++) env[k] = (float)(1 + 0.5 * sin(0.05 * (double)k));
    hid_t f = H5Fcreate(seed, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {N, C};
    h5_write_array(f, "highgamma", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, env, 2, dims, "sample, channel", "seed");
    hid_t d = H5Dopen2(f, "highgamma", H5P_DEFAULT);
    h5_attr_double(d, "rate", (double[]){100}, 1);
    H5Dclose(d);
    const char *names[C] = {"G1", "G2", "G3"};
    h5_write_strings(f, "channels", names, C, "seed");
    H5Fclose(f);
    exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    IeegRun run;
    memset(&run, 0, sizeof run);
    snprintf(run.data, sizeof run.data, "%s", fuzz_file("sub-01_task-podcast_highgamma.h5", data, size));
    snprintf(run.channels, sizeof run.channels, "%s/sub-01_task-podcast_channels.tsv", fuzz_root);
    char err[BASE_ERR_LEN] = "";
    float *env = NULL;
    size_t n = 0;
    double rate = 0;
    int rc = envelope_from_h5(&run, NAMES, 2, &env, &n, &rate, err);
    fuzz_check_err(rc != 0, err);
    free(env);
    fuzz_h5_check_closed();
    return 0;
}
