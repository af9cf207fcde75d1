// common.cuh: what the kernels of cuda/ops/ share: the ops contract, the shared arithmetic, a float64
// block sum and the grid arithmetic. Included by cuda/ops/*.cu only.
#ifndef CUDA_OPS_COMMON_CUH
#define CUDA_OPS_COMMON_CUH

#include <cuda_runtime.h>
#include <math.h>  // before the extern "C" block below: C++'s math.h declares templates
#include <stdint.h>
#include <string.h>

#include "cuda/ops.h"  // defines: the launchers, CHECK_CUDA, CHECK_LAUNCH
extern "C" {
#include "host/ops_math.h"  // defines: exp_nonpositive, silu_mul, gelu_*, rmsnorm_*, layernorm_*, rope_*
}

// threads per block of the row kernels (norms, embedding) and the element-wise ones; a multiple of 32
#define OPS_ROW_THREADS 256
#define OPS_EW_THREADS 256
// element-wise grids stop growing here and stride instead: 16 resident blocks of 256 threads on each of
// an H200's 132 multiprocessors is about 2k blocks; 8192 leaves room for larger GPUs
#define OPS_EW_MAX_BLOCKS 8192

// every pointer 16-byte aligned, so float4 loads and stores are legal
static inline bool ops_aligned16(const void *a, const void *b = nullptr, const void *c = nullptr) {
    return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) & 15u) == 0;
}

static inline unsigned ops_ew_blocks(size_t work) {
    size_t b = (work + OPS_EW_THREADS - 1) / OPS_EW_THREADS;
    return (unsigned)(b < OPS_EW_MAX_BLOCKS ? (b ? b : 1) : OPS_EW_MAX_BLOCKS);
}

// Sum of v over the block, returned to every thread. blockDim.x a multiple of 32, at most 1024. The
// first barrier lets a second call reuse the shared slots only after every thread read the first's.
static __device__ double ops_block_sum(double v) {
    __shared__ double warp_sum[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) warp_sum[warp] = v;
    __syncthreads();
    v = lane < n_warps ? warp_sum[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

#endif  // CUDA_OPS_COMMON_CUH
