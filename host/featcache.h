/*
 * featcache: extracted word features saved to disk and reused by later sweeps.
 *
 * One HDF5 file per (model, tokenizer, context policy, stimulus): dataset /features of shape
 * (L+1, W, D) — every hidden state for every word; D is the widest layer and a narrower layer (OPT's
 * projected last entry) leaves its extra columns zero, its width in the attribute layer_dims — in
 * float32 or IEEE float16. Attributes name what made it: the model's identity (for every file of
 * the checkpoint: name, size, modification time, and a hash of its header and of 16 samples of its
 * bytes), the tokenizer's (a hash of the token ids it gives the stimulus), the context policy as
 * text, the stimulus (a hash of its text and word times), the dtype and brainsweep's version.
 * A file whose attributes differ from the request is stale: featcache_load refuses it and the caller
 * recomputes and overwrites; nothing stale is ever used. Files are written under a temporary name
 * and renamed when complete.
 *
 * Ownership: the caller's buffers; FeatKey is plain data. Errors: featcache_load returns 1 when it
 * loaded, 0 when there is no usable file (reason in why), featcache_save -1 with err.
 */
#ifndef HOST_FEATCACHE_H
#define HOST_FEATCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char model[1024];        // the model path as configured
    uint64_t model_id;       // featcache_model_identity
    uint64_t tokens_id;      // hash of the stimulus' token ids
    uint64_t stimulus_id;    // hash of the text and word times
    char policy[128];        // e.g. "tokens:32 last"
    int float16;             // storage dtype
    int n_layers;            // L
    size_t n_words;          // W
    int dims[1024];          // (L+1) widths
} FeatKey;

// identity of a checkpoint folder's or a GGUF file's bytes (see above); 0 if unreadable
uint64_t featcache_model_identity(const char *path);
uint64_t featcache_hash(const void *data, size_t n, uint64_t seed);  // FNV-1a 64

// <dir>/<model name>-<16 hex digits of a hash of the model path, stimulus, policy and dtype>.h5
void featcache_path(char *out, size_t n, const char *dir, const char *model_name, const FeatKey *key);

// Layers [l0, l0 + nl) into states, layer l0 + i as a (W, dims[l0 + i]) block at offset[i]; nl = 0 only
// checks that the file is there and matches key. 1: loaded; 0: absent or stale (why says which).
int featcache_load(const char *path, const FeatKey *key, int l0, int nl, float *states, const size_t *offset,
                   char *why);
int featcache_save(const char *path, const FeatKey *key, const float *states, const size_t *offset, char *err);

#endif  // HOST_FEATCACHE_H
