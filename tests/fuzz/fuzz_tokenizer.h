/*
 * fuzz_tokenizer.h: what the three tokenizer harnesses do once a loader has run. Whatever the loader
 * accepted must also encode one fixed sentence (ASCII, accented Latin, CJK and digits, so the byte
 * fallback, the pre-tokenizer's regexes and the merges all run) without a crash and, when encoding
 * fails, with an error sentence. Then the tokenizer is freed, so the leak checker sees every loader's
 * allocations.
 */
#ifndef TESTS_FUZZ_FUZZ_TOKENIZER_H
#define TESTS_FUZZ_FUZZ_TOKENIZER_H

#include "host/tokenizer.h"
#include "tests/fuzz/fuzz.h"

// t: the loader's result (NULL when it failed; err then holds its sentence)
static void fuzz_encode_once(Tokenizer *t, char *err) {
    static const char text[] =
        " Alice was beginning to get very tired of sitting by her sister, caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 1999!";
    fuzz_check_err(!t, err);
    if (!t) return;
    TokenSeq seq = {0};
    fuzz_check_err(tok_encode(t, text, sizeof text - 1, &seq, err) != 0, err);
    tokseq_free(&seq);
    tok_free(t);
}

#endif  // TESTS_FUZZ_FUZZ_TOKENIZER_H
