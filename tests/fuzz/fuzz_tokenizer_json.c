/*
 * fuzz_tokenizer_json: a Hugging Face tokenizer.json through tok_load_json, then one encode: the
 * normalizer, pre-tokenizer and decoder pipelines (Replace, Prepend, Split with regexes, Metaspace,
 * ByteLevel), the BPE vocabulary and merges, and the added tokens. Every optional field the loader reads
 * may be missing or of the wrong JSON type.
 */
#include "host/tokenizer.h"
#include "tests/fuzz/fuzz.h"

static const char TEXT[] = " Alice was beginning to get very tired of sitting by her sister, caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 1999!";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("tokenizer.json", data, size);
    char err[BASE_ERR_LEN] = "";
    Tokenizer *t = tok_load_json(path, err);
    fuzz_check_err(!t, err);
    if (t) {
        TokenSeq seq = {0};
        fuzz_check_err(tok_encode(t, TEXT, sizeof TEXT - 1, &seq, err) != 0, err);
        tokseq_free(&seq);
        tok_free(t);
    }
    return 0;
}
