// embedding_forward_gpu: the token embedding gather, GPU twin of embedding_forward_cpu.
// One block per token row, its threads copying the row; 16-byte loads and stores when the table, the
// output and C allow (C % 4 == 0: every row then starts 16-byte aligned too). The bf16 variant reads a table kept
// in its stored dtype (bf16 checkpoints: the table is not widened on upload) and widens each value with
// host/dequant.h's bf16_to_f32, the CPU loader's own conversion, so its rows are exact. Variants: this one only.
#include "cuda/ops/common.cuh"
extern "C" {
#include "host/dequant.h"  // defines: bf16_to_f32
}

template <bool VEC>
__global__ void embedding_kernel(float *out, const int32_t *ids, const float *table, int C) {
    size_t t = blockIdx.x;
    const float *src = table + (size_t)ids[t] * C;
    float *dst = out + t * C;
    if (VEC) {
        for (int c = threadIdx.x; c < C / 4; c += blockDim.x)
            reinterpret_cast<float4 *>(dst)[c] = reinterpret_cast<const float4 *>(src)[c];
    } else {
        for (int c = threadIdx.x; c < C; c += blockDim.x) dst[c] = src[c];
    }
}

extern "C" void embedding_forward_gpu(float *out, const int32_t *ids, const float *table, int T, int C,
                                      gpu_stream stream) {
    if (T <= 0 || C <= 0) return;
    if (C % 4 == 0 && ops_aligned16(out, table))
        embedding_kernel<true><<<T, OPS_ROW_THREADS, 0, stream>>>(out, ids, table, C);
    else
        embedding_kernel<false><<<T, OPS_ROW_THREADS, 0, stream>>>(out, ids, table, C);
    CHECK_LAUNCH();
}

__global__ void embedding_bf16_kernel(float *out, const int32_t *ids, const uint16_t *table, int C) {
    size_t t = blockIdx.x;
    const uint16_t *src = table + (size_t)ids[t] * C;
    float *dst = out + t * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dst[c] = bf16_to_f32(src[c]);
}

extern "C" void embedding_bf16_forward_gpu(float *out, const int32_t *ids, const uint16_t *table, int T, int C,
                                           gpu_stream stream) {
    if (T <= 0 || C <= 0) return;
    embedding_bf16_kernel<<<T, OPS_ROW_THREADS, 0, stream>>>(out, ids, table, C);
    CHECK_LAUNCH();
}
