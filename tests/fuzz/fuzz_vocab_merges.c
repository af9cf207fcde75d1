/*
 * fuzz_vocab_merges: a GPT-2 style tokenizer folder (vocab.json + merges.txt, the input split at its first
 * NUL byte) through tok_load_dir, then one encode. Merges may name tokens the vocabulary lacks, lines may be
 * malformed, and the vocabulary's ids may collide or leave gaps.
 */
#include "host/tokenizer.h"
#include "tests/fuzz/fuzz.h"

static const char TEXT[] = " Alice was beginning to get very tired of sitting by her sister, caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 1999!";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *vocab, *merges;
    size_t nv, nm;
    fuzz_part(data, size, 0, &vocab, &nv);
    fuzz_part(data, size, 1, &merges, &nm);
    fuzz_file("vocab.json", vocab, nv);
    fuzz_file("merges.txt", merges, nm);
    char err[BASE_ERR_LEN] = "";
    Tokenizer *t = tok_load_dir(fuzz_root, err);
    fuzz_check_err(!t, err);
    if (t) {
        TokenSeq seq = {0};
        fuzz_check_err(tok_encode(t, TEXT, sizeof TEXT - 1, &seq, err) != 0, err);
        tokseq_free(&seq);
        tok_free(t);
    }
    return 0;
}
