// bias_add_gpu, qkv_split_gpu, positions_add_gpu: the row-wise glue between the decoder's matrix products, GPU
// twins of bias_add_cpu, qkv_split_cpu and positions_add_cpu. Each is one thread per output element over a flat
// size_t index (grid-stride, so T * width may pass 2^31); consecutive threads write consecutive floats of a row, so
// loads and stores coalesce without a float4 path (these ops move a few bytes per token next to the GEMMs around
// them). The clamp is host/ops_math.h's clip_value, the twin's own. Variants: this one only.
#include "cuda/ops/common.cuh"

__global__ void bias_add_kernel(float *out, const float *bias, int OC, size_t N) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < N; i += stride) out[i] += bias[i % OC];
}

extern "C" void bias_add_gpu(float *out, const float *bias, int T, int OC, gpu_stream stream) {
    if (T <= 0 || OC <= 0) return;
    size_t N = (size_t)T * OC;
    bias_add_kernel<<<ops_ew_blocks(N), OPS_EW_THREADS, 0, stream>>>(out, bias, OC, N);
    CHECK_LAUNCH();
}

// element i of the fused rows: row t = i / W, column c = i % W (W = QD + 2 KD) goes to q, k or v by its block
__global__ void qkv_split_kernel(float *q, float *k, float *v, const float *qkv, int QD, int KD, float clip,
                                 size_t N) {
    const size_t W = (size_t)QD + 2 * (size_t)KD, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < N; i += stride) {
        size_t t = i / W;
        int c = (int)(i % W);
        float x = qkv[i];
        if (clip > 0.0f) x = clip_value(x, clip);
        if (c < QD) q[t * QD + c] = x;
        else if (c < QD + KD) k[t * KD + (c - QD)] = x;
        else v[t * KD + (c - QD - KD)] = x;
    }
}

extern "C" void qkv_split_gpu(float *q, float *k, float *v, const float *qkv, int T, int QD, int KD, float clip,
                              gpu_stream stream) {
    if (T <= 0 || QD + 2 * KD <= 0) return;
    size_t N = (size_t)T * ((size_t)QD + 2 * (size_t)KD);
    qkv_split_kernel<<<ops_ew_blocks(N), OPS_EW_THREADS, 0, stream>>>(q, k, v, qkv, QD, KD, clip, N);
    CHECK_LAUNCH();
}

__global__ void positions_add_kernel(float *out, const float *table, const int *pos, int offset, int C, size_t N) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < N; i += stride) {
        size_t t = i / C;
        out[i] += table[(size_t)(pos[t] + offset) * C + i % C];
    }
}

extern "C" void positions_add_gpu(float *out, const float *table, const int *pos, int offset, int T, int C,
                                  gpu_stream stream) {
    if (T <= 0 || C <= 0) return;
    size_t N = (size_t)T * C;
    positions_add_kernel<<<ops_ew_blocks(N), OPS_EW_THREADS, 0, stream>>>(out, table, pos, offset, C, N);
    CHECK_LAUNCH();
}
