/*
 * safetensors: Hugging Face checkpoints, one file or sharded, memory-mapped.
 *
 * A file is a little-endian u64 header length N, N bytes of JSON ({"name": {"dtype", "shape",
 * "data_offsets": [begin, end]}, "__metadata__": {...}}), then the data, row-major. A sharded
 * checkpoint adds model.safetensors.index.json, whose weight_map names each tensor's shard.
 * st_open_dir opens a checkpoint folder either way; every offset is checked against the file and
 * against the shape and dtype, and every shard the index lists must exist.
 *
 * Tensors are TensorRef views (F32, F16, BF16) into the mappings; other dtypes are listed with
 * DT_UNSUPPORTED and refused by name when a model asks for them. Ownership: StCheckpoint owns the
 * mappings and names; views are valid until st_close. Errors: -1 / NULL with err naming the file.
 */
#ifndef HOST_SAFETENSORS_H
#define HOST_SAFETENSORS_H

#include <stddef.h>

#include "host/tensor.h"

typedef struct StCheckpoint StCheckpoint;

// dir holds model.safetensors.index.json (sharded) or model.safetensors (one file)
StCheckpoint *st_open_dir(const char *dir, char *err);
// one .safetensors file
StCheckpoint *st_open_file(const char *path, char *err);
void st_close(StCheckpoint *c);

size_t st_count(const StCheckpoint *c);
const TensorRef *st_tensor(const StCheckpoint *c, size_t i);
// NULL if absent
const TensorRef *st_find(const StCheckpoint *c, const char *name);
// the file that holds tensor i (for messages)
const char *st_file_of(const StCheckpoint *c, size_t i);
// the raw dtype string of tensor i as the file spells it ("F32", "I64", ...)
const char *st_dtype_string(const StCheckpoint *c, size_t i);

#endif  // HOST_SAFETENSORS_H
