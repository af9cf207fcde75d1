// featcache: a layer narrower than the widest (OPT's projected last state) is stored with zeros past
// its width, its width is in layer_dims, and every layer reads back as it was saved.
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/featcache.h"
#include "tests/test.h"

enum { L = 2, W = 3, D = 4, NARROW = 2 };  // layers 0 and 1 of width D, the last of width NARROW

// /features (L+1, W, D) and its layer_dims attribute, read with HDF5 itself
static int read_raw(const char *path, float *feat, int *dims) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t d = H5Dopen2(f, "/features", H5P_DEFAULT), a = H5Aopen(d, "layer_dims", H5P_DEFAULT);
    int rc = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, feat) < 0 ||
             H5Aread(a, H5T_NATIVE_INT, dims) < 0;
    H5Aclose(a), H5Dclose(d), H5Fclose(f);
    return rc ? -1 : 0;
}

static void run(const char *dir, int float16) {
    const char *tag = float16 ? "float16" : "float32";
    FeatKey key;
    memset(&key, 0, sizeof key);
    snprintf(key.model, sizeof key.model, "model.gguf");
    snprintf(key.policy, sizeof key.policy, "full last window 8 overlap 4");
    key.float16 = float16, key.n_layers = L, key.n_words = W;
    key.dims[0] = key.dims[1] = D, key.dims[2] = NARROW;
    size_t offset[L + 1] = {0, W * D, 2 * W * D};
    float states[2 * W * D + W * NARROW];
    // small integers: exact in float16 too, and no layer's values equal another's
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) states[i] = (float)(i + 1);
    char path[4200], err[512];
    featcache_path(path, sizeof path, dir, tag, &key);
    CHECK(featcache_save(path, &key, states, offset, err) == 0, "%s/save %s", tag, err);

    float raw[(L + 1) * W * D];
    int dims[L + 1] = {0};
    if (read_raw(path, raw, dims) != 0) {
        CHECK(0, "%s/read_with_hdf5 %s", tag, path);
        return;
    }
    CHECK(dims[0] == D && dims[1] == D && dims[2] == NARROW, "%s/layer_dims_attribute %d %d %d", tag, dims[0], dims[1],
          dims[2]);
    int zero = 1, kept = 1;
    for (int l = 0; l <= L; l++)
        for (size_t w = 0; w < W; w++)
            for (int j = 0; j < D; j++) {
                float v = raw[((size_t)l * W + w) * D + (size_t)j];
                if (j >= dims[l]) zero &= v == 0.0f;
                else kept &= v == states[offset[l] + w * (size_t)dims[l] + (size_t)j];
            }
    CHECK(zero, "%s/narrow_layer_padded_with_zeros", tag);
    CHECK(kept, "%s/every_value_stored_as_saved", tag);

    float back[sizeof states / sizeof states[0]];
    memset(back, 0xff, sizeof back);
    char why[512];
    int loaded = featcache_load(path, &key, 0, L + 1, back, offset, why);
    CHECK(loaded == 1 && memcmp(back, states, sizeof states) == 0, "%s/load_returns_each_layer_at_its_width %s", tag,
          loaded ? "" : why);
    // rows of another width than the key's widest layer (a damaged file may claim any): stale, and nothing is
    // allocated from the file's claim
    FeatKey wider = key;
    wider.dims[0] = D + 3;
    size_t wider_offset[L + 1] = {0, W * (D + 3), W * (D + 3) + W * D};
    float *wide_back = malloc((W * (D + 3) + W * D + W * NARROW) * sizeof(float));
    loaded = featcache_load(path, &wider, 0, L + 1, wide_back, wider_offset, why);
    CHECK(loaded == 0 && strstr(why, "another shape"), "%s/rows_of_another_width_are_stale: %s", tag, why);
    free(wide_back);
    unlink(path);
}

TEST_MAIN("test_featcache") {
    char dir[] = "/tmp/test_featcache-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "temporary_folder: mkdtemp %s", dir);
        return;
    }
    run(dir, 0);
    run(dir, 1);
    rmdir(dir);
}
