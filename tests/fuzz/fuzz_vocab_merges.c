/*
 * fuzz_vocab_merges: a GPT-2 style tokenizer folder (vocab.json + merges.txt, the input split at its first
 * NUL byte) through tok_load_dir, then one encode. Merges may name tokens the vocabulary lacks, lines may be
 * malformed, and the vocabulary's ids may collide or leave gaps.
 */
#include "tests/fuzz/fuzz_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *vocab, *merges;
    size_t nv, nm;
    fuzz_part(data, size, 0, &vocab, &nv);
    fuzz_part(data, size, 1, &merges, &nm);
    fuzz_file("vocab.json", vocab, nv);
    fuzz_file("merges.txt", merges, nm);
    char err[BASE_ERR_LEN] = "";
    Tokenizer *t = tok_load_dir(fuzz_root, err);
    fuzz_encode_once(t, err);
    return 0;
}
