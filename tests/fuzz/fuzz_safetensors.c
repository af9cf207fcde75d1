/*
 * fuzz_safetensors: a .safetensors file through st_open_file: the 8-byte header length, the JSON header
 * (dtypes, shapes, data_offsets) and its checks against the file's size. Checkpoint folders are downloaded
 * from hubs, so shapes whose element count wraps, offsets past the end and tensors that overlap must all
 * be refused with a message.
 */
#include "host/safetensors.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("model.safetensors", data, size);
    char err[BASE_ERR_LEN] = "";
    StCheckpoint *c = st_open_file(path, err);
    fuzz_check_err(!c, err);
    if (c) {
        for (size_t i = 0; i < st_count(c); i++) (void)st_find(c, st_tensor(c, i)->name);
        st_close(c);
    }
    return 0;
}
