/*
 * fuzz_gguf: a GGUF model file (header, metadata, tensor table) through model_open, as `brainsweep sweep`
 * opens a model: gguf_open's bounds-checked cursor, the llama metadata that becomes a ModelConfig, and
 * the binding of every tensor by name and shape. GGUF files come from anywhere (converters, hubs), and
 * every count and offset in them is untrusted.
 */
#include "host/model.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("model.gguf", data, size);
    char err[BASE_ERR_LEN] = "";
    Model *m = model_open(path, 0, err);
    fuzz_check_err(!m, err);
    model_free(m);
    return 0;
}
