/*
 * fuzz_tokenizer_json: a Hugging Face tokenizer.json through tok_load_json, then one encode: the
 * normalizer, pre-tokenizer and decoder pipelines (Replace, Prepend, Split with regexes, Metaspace,
 * ByteLevel), the BPE vocabulary and merges, and the added tokens. Every optional field the loader reads
 * may be missing or of the wrong JSON type.
 */
#include "tests/fuzz/fuzz_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("tokenizer.json", data, size);
    char err[BASE_ERR_LEN] = "";
    Tokenizer *t = tok_load_json(path, err);
    fuzz_encode_once(t, err);
    return 0;
}
