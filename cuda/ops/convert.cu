// to_16bit_gpu: float32 to bf16 or IEEE half, round to nearest even, for the 16-bit products of the decoder
// (cuda/decoder_cuda.h: its layers' matrices once, and each product's input). The twin is CUDA's own host
// conversion (__float2bfloat16_rn, __float2half_rn: the same functions on the host), which tests/cuda/test_ops_gpu.cu
// compares bit for bit. Grid-stride loop over size_t indices.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/ops/common.cuh"

template <typename T>
static __device__ __forceinline__ T narrow(float v);
template <>
__device__ __forceinline__ __nv_bfloat16 narrow<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half narrow<__half>(float v) {
    return __float2half_rn(v);
}

template <typename T>
__global__ void to_16bit_kernel(T *out, const float *in, size_t N) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < N; i += stride) out[i] = narrow<T>(in[i]);
}

extern "C" void to_16bit_gpu(void *out, const float *in, size_t N, int bf16, gpu_stream stream) {
    if (N == 0) return;
    if (bf16)
        to_16bit_kernel<<<ops_ew_blocks(N), OPS_EW_THREADS, 0, stream>>>((__nv_bfloat16 *)out, in, N);
    else
        to_16bit_kernel<<<ops_ew_blocks(N), OPS_EW_THREADS, 0, stream>>>((__half *)out, in, N);
    CHECK_LAUNCH();
}
