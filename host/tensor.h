/*
 * tensor: a view of one stored tensor (in a memory-mapped GGUF or safetensors file), whatever its
 * storage type, and its conversion to float32 a block of rows at a time.
 *
 * Shapes are in PyTorch order, outermost first: an nn.Linear weight is (out, in). GGUF's reversed
 * dims are turned around when the view is made. Rows are slices of the outermost dimension, so
 * an embedding lookup widens only the rows it needs and a layer is widened only while it runs.
 * Views own nothing; they live as long as the file that holds the bytes.
 */
#ifndef HOST_TENSOR_H
#define HOST_TENSOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DT_F32 = 0, DT_F16, DT_BF16, DT_Q8_0, DT_Q4_0, DT_Q4_1, DT_UNSUPPORTED } DType;

#define TENSOR_MAX_DIMS 4

typedef struct {
    const char *name;                 // view of the file's name for it
    DType dtype;
    int n_dims;
    int64_t shape[TENSOR_MAX_DIMS];   // outermost first; unused dims are 1
    const uint8_t *data;              // NULL: the tensor is absent (an optional weight)
} TensorRef;

const char *dtype_name(DType t);
int64_t tensor_numel(const TensorRef *t);
int64_t tensor_row_len(const TensorRef *t);  // elements per outermost row
size_t dtype_row_bytes(DType t, int64_t row_len);  // 0 if row_len is not a whole number of blocks

// out (n_rows, row_len) = rows [row0, row0 + n_rows) of t, widened to float32
void tensor_rows_to_f32(float *out, const TensorRef *t, int64_t row0, int64_t n_rows);
// the whole tensor
void tensor_to_f32(float *out, const TensorRef *t);

#endif  // HOST_TENSOR_H
