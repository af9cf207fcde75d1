/*
 * fuzz_gguf_tokenizer: the tokenizer metadata of a GGUF file (tokenizer.ggml.*: model, tokens, scores,
 * token types, merges, special ids) through tok_load_gguf, then one encode. The metadata arrays index
 * each other (merges name tokens, special ids index tokens), so lengths and ids that disagree are the
 * inputs that matter here.
 */
#include "host/gguf.h"
#include "tests/fuzz/fuzz_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("tokenizer.gguf", data, size);
    char err[BASE_ERR_LEN] = "";
    GgufFile *f = gguf_open(path, err);
    fuzz_check_err(!f, err);
    if (!f) return 0;
    Tokenizer *t = tok_load_gguf(f, err);
    fuzz_encode_once(t, err);
    gguf_close(f);
    return 0;
}
