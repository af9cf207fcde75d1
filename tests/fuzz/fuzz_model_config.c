/*
 * fuzz_model_config: a checkpoint folder's config.json through model_open, which reads it into a
 * ModelConfig for every supported family (llama, mistral, falcon, mpt, gpt_neox, opt, gpt2) before it looks
 * for weights. The folder has no safetensors, so a config that passes ends at "no weights" with a message;
 * what is exercised is the size arithmetic on untrusted integers (4 * hidden_size, heads * head_dim).
 */
#include "host/model.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_file("config.json", data, size);
    char err[BASE_ERR_LEN] = "";
    Model *m = model_open(fuzz_root, 0, err);
    fuzz_check_err(!m, err);
    model_free(m);
    return 0;
}
