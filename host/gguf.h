/*
 * gguf: a reader for GGUF v2/v3 model files (llama.cpp's format), memory-mapped.
 *
 * Layout (ggml/include/gguf.h): magic "GGUF", u32 version, i64 n_tensors, i64 n_kv, the key/value
 * pairs, the tensor infos (name, n_dims, dims with ne[0] the fastest-varying, ggml type, offset),
 * then the data blob aligned to general.alignment (default 32). Every length and offset is checked
 * against the file size, so a truncated or corrupt file is refused with its name and the problem.
 *
 * Ownership: GgufFile owns the mapping; keys, values and tensor data are views into it, valid
 * until gguf_close. Strings inside the file are not NUL-terminated: views come with a length.
 * Errors: gguf_open returns NULL and fills err; the getters return -1 when a key is missing or
 * has another type. Not thread-safe to open/close; reads are.
 */
#ifndef HOST_GGUF_H
#define HOST_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "host/tensor.h"

typedef enum {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4, GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
} GgufValueType;

// the ggml tensor types brainsweep reads; others are refused by name
typedef enum {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q8_0 = 8, GGML_BF16 = 30,
} GgmlType;

typedef struct {
    char *key;                // NUL-terminated copy
    GgufValueType type;
    GgufValueType arr_type;   // element type when type == GGUF_ARRAY
    uint64_t arr_n;           // element count when type == GGUF_ARRAY
    const uint8_t *value;     // view: scalar bytes, string (u64 length + bytes) or first array element
    uint64_t *str_offsets;    // for arrays of strings: byte offset of element i from value (owned)
} GgufKV;

typedef struct {
    char *name;               // NUL-terminated copy
    uint32_t n_dims;
    uint64_t ne[4];           // ne[0] fastest: a PyTorch (out, in) matrix has ne = {in, out}
    uint32_t type;            // GgmlType, or an unsupported code (refused at dequantisation)
    uint64_t n_elements;
    uint64_t nbytes;
    uint64_t offset;          // from the start of the data section
    const uint8_t *data;      // view into the mapping
} GgufTensor;

typedef struct {
    char *path;
    uint8_t *map;
    size_t size;
    uint32_t version;
    size_t alignment;
    size_t n_kv;
    GgufKV *kv;
    size_t n_tensors;
    GgufTensor *tensors;
} GgufFile;

// ---- lifecycle
GgufFile *gguf_open(const char *path, char *err);
void gguf_close(GgufFile *f);  // accepts NULL

// ---- metadata
const GgufKV *gguf_find(const GgufFile *f, const char *key);
int gguf_get_u32(const GgufFile *f, const char *key, uint32_t *out);  // any integer type that fits
int gguf_get_f32(const GgufFile *f, const char *key, float *out);     // float32 or float64
int gguf_get_bool(const GgufFile *f, const char *key, int *out);
// String value as a fresh NUL-terminated copy (caller frees), or NULL if missing / not a string.
char *gguf_get_str(const GgufFile *f, const char *key);
// Element i of an array of strings: a view of *len bytes.
const char *gguf_arr_str(const GgufKV *kv, uint64_t i, size_t *len);
// Element i of a numeric array, converted (float32/int32/uint32 arrays and the like).
double gguf_arr_num(const GgufKV *kv, uint64_t i);

// ---- tensors
const GgufTensor *gguf_find_tensor(const GgufFile *f, const char *name);
const char *ggml_type_name(uint32_t type);
// The tensor as a view in PyTorch order (dims reversed). -1 with err for storage types brainsweep
// does not read (the message names the type).
int gguf_tensor_ref(const GgufFile *f, const GgufTensor *t, TensorRef *out, char *err);

#endif  // HOST_GGUF_H
