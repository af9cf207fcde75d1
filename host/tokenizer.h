/*
 * tokenizer: Hugging Face's BPE tokenizers in C, with the byte offsets of every token.
 *
 * One pipeline, configured from a GGUF file's metadata (as transformers builds a tokenizer from a
 * GGUF) or from a checkpoint's tokenizer.json (vocab.json + merges.txt where that is all there is):
 *  1. added tokens (special ones like <|endoftext|>, GPT-NeoX's runs of spaces) are cut out of the
 *     text first, leftmost and longest match;
 *  2. normalizers: NFC / NFKC (utf8proc), Lowercase, Prepend, Replace — every normalized byte keeps
 *     the span of the original character it came from;
 *  3. pre-tokenizers: regex splits (PCRE2 with Unicode properties; GPT-2's ByteLevel regex, Falcon's
 *     digit triples), Punctuation, Digits, Metaspace; behaviours isolated, removed, contiguous,
 *     merged with the previous or next piece;
 *  4. BPE per piece, byte-level (bytes spelled in GPT-2's alphabet) or over characters with <0xXX>
 *     byte fallback (SentencePiece-style: Llama 1/2, Mistral), merges applied by rank from a heap of
 *     adjacent pairs (O(n log n) per piece), repeated pieces cached;
 *  5. BOS as the post-processor (or GGUF's add_bos_token) says; ByteLevel offset trimming.
 * Offsets follow Hugging Face: [start, end) in bytes of the caller's text, widened to whole
 * characters; a word maps to the tokens that overlap it (tok_word_token_span).
 *
 * Ownership: Tokenizer owns copies of everything it read; TokenSeq arrays belong to the caller
 * (tokseq_free). Errors: loaders return NULL and encode returns -1, filling err with the file or
 * the position and the problem. A Tokenizer is not thread-safe (its piece cache is mutable).
 */
#ifndef HOST_TOKENIZER_H
#define HOST_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "host/gguf.h"

typedef struct Tokenizer Tokenizer;
typedef struct Model Model;

typedef struct {
    int32_t *ids;    // (n) token ids
    size_t *start;   // (n) first byte of the text the token covers; tokens the post-processor adds: 0
    size_t *end;     // (n) one past the last byte; post-processor tokens: 0 (they cover nothing)
    size_t n, cap;
} TokenSeq;

// ---- lifecycle
Tokenizer *tok_load_gguf(const GgufFile *f, char *err);
// a tokenizer.json file
Tokenizer *tok_load_json(const char *path, char *err);
// a checkpoint folder: tokenizer.json, else vocab.json + merges.txt (+ tokenizer_config.json for BOS)
Tokenizer *tok_load_dir(const char *dir, char *err);
// the tokenizer that belongs to a model (its GGUF file or its checkpoint folder)
Tokenizer *tok_open_for_model(const Model *m, char *err);
void tok_free(Tokenizer *t);
void tokseq_free(TokenSeq *s);

// ---- queries
int tok_vocab_size(const Tokenizer *t);
int tok_bos_id(const Tokenizer *t);   // -1 if no BOS is added
const char *tok_piece(const Tokenizer *t, int id, size_t *len);  // the vocabulary string

// ---- operations
// Tokenise text[0..len) (UTF-8) into out (reset first), BOS first when the model adds one.
int tok_encode(Tokenizer *t, const char *text, size_t len, TokenSeq *out, char *err);

// For each word w with byte range [word_start[w], word_end[w]), the indices in seq of the first and
// the last token that overlap it (both -1 if none; zero-width tokens such as BOS overlap nothing).
// Words must be sorted by start and not overlap.
void tok_word_token_span(const TokenSeq *seq, const size_t *word_start, const size_t *word_end, size_t n_words,
                         int64_t *first_token, int64_t *last_token);

// Words of more than max_tokens tokens: a transcript that lost its spaces, or a pasted URL, makes one word
// hundreds of thousands of tokens and every context policy slow. Returns how many of the n_words spans of
// text (as above) are that long; when some are, err quotes the longest with its number from 1 and its tokens.
size_t tok_long_words(const TokenSeq *seq, const char *text, const size_t *word_start, const size_t *word_end,
                      size_t n_words, size_t max_tokens, char *err);

#endif  // HOST_TOKENIZER_H
