#include "host/tensor.h"

#include <string.h>

#include "host/base.h"
#include "host/dequant.h"

const char *dtype_name(DType t) {
    static const char *names[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "unsupported"};
    return names[t <= DT_UNSUPPORTED ? t : DT_UNSUPPORTED];
}

int64_t tensor_numel(const TensorRef *t) {
    int64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= t->shape[d];
    return n;
}

int64_t tensor_row_len(const TensorRef *t) {
    int64_t n = 1;
    for (int d = 1; d < t->n_dims; d++) n *= t->shape[d];
    return n;
}

size_t dtype_row_bytes(DType t, int64_t row_len) {
    switch (t) {
    case DT_F32: return (size_t)row_len * 4;
    case DT_F16:
    case DT_BF16: return (size_t)row_len * 2;
    case DT_Q8_0: return row_len % QK ? 0 : (size_t)(row_len / QK) * Q8_0_BLOCK_BYTES;
    case DT_Q4_0: return row_len % QK ? 0 : (size_t)(row_len / QK) * Q4_0_BLOCK_BYTES;
    case DT_Q4_1: return row_len % QK ? 0 : (size_t)(row_len / QK) * Q4_1_BLOCK_BYTES;
    default: return 0;
    }
}

// n elements from p (n a whole number of blocks for the block types)
static void convert(float *out, const uint8_t *p, size_t n, const TensorRef *t) {
    switch (t->dtype) {
    case DT_F32:
        memcpy(out, p, n * sizeof(float));
        break;
    case DT_F16:
        for (size_t i = 0; i < n; i++) out[i] = fp16_to_f32(read_u16le(p + 2 * i));
        break;
    case DT_BF16:
        for (size_t i = 0; i < n; i++) out[i] = bf16_to_f32(read_u16le(p + 2 * i));
        break;
    case DT_Q8_0:
        for (size_t b = 0; b < n / QK; b++) dequant_q8_0_block(out + b * QK, p + b * Q8_0_BLOCK_BYTES);
        break;
    case DT_Q4_0:
        for (size_t b = 0; b < n / QK; b++) dequant_q4_0_block(out + b * QK, p + b * Q4_0_BLOCK_BYTES);
        break;
    case DT_Q4_1:
        for (size_t b = 0; b < n / QK; b++) dequant_q4_1_block(out + b * QK, p + b * Q4_1_BLOCK_BYTES);
        break;
    default:
        DIE("this is a bug: unsupported tensors are refused when the model is opened", "tensor %s has type %s",
            t->name, dtype_name(t->dtype));
    }
}

void tensor_rows_to_f32(float *out, const TensorRef *t, int64_t row0, int64_t n_rows) {
    int64_t len = tensor_row_len(t);
    size_t rb = dtype_row_bytes(t->dtype, len);
    ASSERT(t->data && rb > 0 && row0 >= 0 && row0 + n_rows <= t->shape[0]);
    convert(out, t->data + (size_t)row0 * rb, (size_t)(n_rows * len), t);
}

void tensor_to_f32(float *out, const TensorRef *t) {
    ASSERT(t->data);
    convert(out, t->data, (size_t)tensor_numel(t), t);
}
