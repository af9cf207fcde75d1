/*
 * tokenizer: BPE tokenizers read from GGUF metadata, with byte offsets for every token.
 *
 * Two kinds, as Hugging Face transformers builds them from a GGUF file:
 *  - TOK_SPM (tokenizer.ggml.model = "llama"): SentencePiece-style BPE. Spaces become U+2581 and one
 *    U+2581 is prepended (Metaspace, prepend_scheme "first"); merges are recovered from the token
 *    scores in transformers' order (generate_merges); characters outside the vocabulary fall back to
 *    <0xXX> byte tokens. BOS is added unless tokenizer.ggml.add_bos_token says otherwise.
 *  - TOK_BYTE_BPE (tokenizer.ggml.model = "gpt2"): GPT-2 byte-level BPE. The text is split by the
 *    pre-tokenizer regex (PCRE2, Unicode properties) named by tokenizer.ggml.pre, each piece's bytes
 *    are spelled in GPT-2's byte alphabet, and the merges listed in the file apply by rank.
 * Merging keeps a heap of ranked adjacent pairs (O(n log n) per piece); byte-level pieces are
 * cached, since natural text repeats words. Every token carries [start, end) byte offsets into the
 * caller's text, so each word maps to the tokens that overlap it (tok_word_last_tokens).
 * Special-token strings inside the text are tokenised as plain text.
 *
 * Ownership: Tokenizer owns copies of the vocabulary (the GGUF file may be closed afterwards);
 * TokenSeq arrays belong to the caller (tokseq_free). Errors: tok_load_gguf / tok_encode return
 * NULL / -1 and fill err. A Tokenizer is not thread-safe (its piece cache is mutable).
 */
#ifndef HOST_TOKENIZER_H
#define HOST_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "host/gguf.h"

typedef enum { TOK_SPM = 0, TOK_BYTE_BPE = 1 } TokKind;

typedef struct Tokenizer Tokenizer;

typedef struct {
    int32_t *ids;    // (n) token ids
    size_t *start;   // (n) byte offset of the first byte the token covers; BOS: 0
    size_t *end;     // (n) one past the last byte; BOS: 0 (covers nothing)
    size_t n, cap;
} TokenSeq;

// ---- lifecycle
Tokenizer *tok_load_gguf(const GgufFile *f, char *err);
void tok_free(Tokenizer *t);
void tokseq_free(TokenSeq *s);

// ---- queries
TokKind tok_kind(const Tokenizer *t);
int tok_vocab_size(const Tokenizer *t);
int tok_bos_id(const Tokenizer *t);   // -1 if the model adds no BOS
const char *tok_piece(const Tokenizer *t, int id, size_t *len);  // the vocabulary string

// ---- operations
// Tokenise text[0..len) (UTF-8) into out (reset first), BOS first when the model adds one.
int tok_encode(Tokenizer *t, const char *text, size_t len, TokenSeq *out, char *err);

// For each word w with byte range [word_start[w], word_end[w]), the index in seq of the last token
// that overlaps it (-1 if none). Words must be sorted by start and not overlap. O(n_words + n).
void tok_word_last_tokens(const TokenSeq *seq, const size_t *word_start, const size_t *word_end, size_t n_words,
                          int64_t *last_token);

#endif  // HOST_TOKENIZER_H
