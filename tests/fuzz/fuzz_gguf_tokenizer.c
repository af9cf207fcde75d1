/*
 * fuzz_gguf_tokenizer: the tokenizer metadata of a GGUF file (tokenizer.ggml.*: model, tokens, scores,
 * token types, merges, special ids) through tok_load_gguf, then one encode. The metadata arrays index
 * each other (merges name tokens, special ids index tokens), so lengths and ids that disagree are the
 * inputs that matter here.
 */
#include "host/gguf.h"
#include "host/tokenizer.h"
#include "tests/fuzz/fuzz.h"

static const char TEXT[] = " Alice was beginning to get very tired of sitting by her sister, caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 1999!";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("tokenizer.gguf", data, size);
    char err[BASE_ERR_LEN] = "";
    GgufFile *f = gguf_open(path, err);
    fuzz_check_err(!f, err);
    if (!f) return 0;
    Tokenizer *t = tok_load_gguf(f, err);
    fuzz_check_err(!t, err);
    if (t) {
        TokenSeq seq = {0};
        fuzz_check_err(tok_encode(t, TEXT, sizeof TEXT - 1, &seq, err) != 0, err);
        tokseq_free(&seq);
        tok_free(t);
    }
    gguf_close(f);
    return 0;
}
