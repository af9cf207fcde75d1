/*
 * fuzz_featcache: a features cache file (<cache>/<model>-<hash>.h5: identity attributes, /features layers x
 * words x width) through featcache_load with a fixed key, as a sweep does before it decides to recompute.
 * Any file under the cache folder's name is read back, so a stale, truncated or foreign file must come back
 * as "absent or stale", never as a crash or as wrong rows.
 *
 * FUZZ_WRITE_SEED=path writes the seed (the key below, 3 hidden states x 5 words x 4) and exits.
 */
#include <hdf5.h>

#include "host/featcache.h"
#include "tests/fuzz/fuzz.h"

enum { L = 2, W = 5, D = 4 };

static FeatKey key(void) {
    FeatKey k;
    memset(&k, 0, sizeof k);
    snprintf(k.model, sizeof k.model, "models/tiny.gguf");
    k.model_id = 0x1111, k.tokens_id = 0x2222, k.stimulus_id = 0x3333;
    snprintf(k.policy, sizeof k.policy, "tokens:32 last");
    k.n_layers = L, k.n_words = W;
    for (int l = 0; l <= L; l++) k.dims[l] = D;
    return k;
}

static const size_t OFFSET[L + 1] = {0, W * D, 2 * W * D};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *seed = getenv("FUZZ_WRITE_SEED");
    if (!seed) return 0;
    FeatKey k = key();
    float states[(L + 1) * W * D];
    for (size_t i = 0; i < sizeof states / sizeof *states; i++) states[i] = (float)i / 7;
    char err[BASE_ERR_LEN];
    if (featcache_save(seed, &k, states, OFFSET, err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("tiny-0123456789abcdef.h5", data, size);
    FeatKey k = key();
    float states[(L + 1) * W * D];
    char why[BASE_ERR_LEN] = "";
    int rc = featcache_load(path, &k, 0, L + 1, states, OFFSET, why);
    fuzz_check_err(rc != 1, why);
    fuzz_h5_check_closed();
    return 0;
}
