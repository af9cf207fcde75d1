// rmsnorm_forward_gpu, layernorm_forward_gpu: GPU twins of rmsnorm_forward_cpu and layernorm_forward_cpu.
// One block of 256 threads per row. Each thread sums its strided share of the row in float64 (as the
// twin does, so long rows lose nothing), the block reduces the sums (ops_block_sum), and the step from
// the sums to the scale and each output element are host/ops_math.h's, the twin's own code. LayerNorm
// takes two passes over the row (the mean, then the squared deviations), as the twin does, so a large
// mean cannot cancel the variance. The row is read again from global memory (L1/L2-resident at these
// sizes) instead of being held in registers: simple first; speed is for a session with a device.
// 16-byte loads when C % 4 == 0 and the pointers are aligned. Out may alias inp: every read of a row
// ends (at the block sum's barrier) before its first write. Variants: this one only.
#include "cuda/ops/common.cuh"

template <bool VEC>
__global__ void rmsnorm_kernel(float *out, const float *inp, const float *weight, int C, float eps) {
    const float *x = inp + (size_t)blockIdx.x * C;
    float *y = out + (size_t)blockIdx.x * C;
    double ss = 0.0;
    if (VEC) {
        for (int c = threadIdx.x; c < C / 4; c += blockDim.x) {
            float4 v = reinterpret_cast<const float4 *>(x)[c];
            ss += (double)v.x * v.x + (double)v.y * v.y + (double)v.z * v.z + (double)v.w * v.w;
        }
    } else {
        for (int c = threadIdx.x; c < C; c += blockDim.x) ss += (double)x[c] * x[c];
    }
    float rstd = rmsnorm_rstd(ops_block_sum(ss), C, eps);
    if (VEC) {
        for (int c = threadIdx.x; c < C / 4; c += blockDim.x) {
            float4 v = reinterpret_cast<const float4 *>(x)[c], w = reinterpret_cast<const float4 *>(weight)[c];
            v.x = rmsnorm_apply(v.x, rstd, w.x);
            v.y = rmsnorm_apply(v.y, rstd, w.y);
            v.z = rmsnorm_apply(v.z, rstd, w.z);
            v.w = rmsnorm_apply(v.w, rstd, w.w);
            reinterpret_cast<float4 *>(y)[c] = v;
        }
    } else {
        for (int c = threadIdx.x; c < C; c += blockDim.x) y[c] = rmsnorm_apply(x[c], rstd, weight[c]);
    }
}

extern "C" void rmsnorm_forward_gpu(float *out, const float *inp, const float *weight, int T, int C, float eps,
                                    gpu_stream stream) {
    if (T <= 0 || C <= 0) return;
    if (C % 4 == 0 && ops_aligned16(out, inp, weight))
        rmsnorm_kernel<true><<<T, OPS_ROW_THREADS, 0, stream>>>(out, inp, weight, C, eps);
    else
        rmsnorm_kernel<false><<<T, OPS_ROW_THREADS, 0, stream>>>(out, inp, weight, C, eps);
    CHECK_LAUNCH();
}

// the bias stays a pointer (NULL for MPT), read through layernorm_apply like the twin; scalar loads only:
// LayerNorm models (GPT-2, OPT, GPT-NeoX, Falcon, MPT) are a small part of the sweep's time
__global__ void layernorm_kernel(float *out, const float *inp, const float *weight, const float *bias, int C,
                                 float eps) {
    const float *x = inp + (size_t)blockIdx.x * C;
    float *y = out + (size_t)blockIdx.x * C;
    double sum = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) sum += x[c];
    sum = ops_block_sum(sum);
    double mean_d = sum / C;
    double sqdev = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        double d = (double)x[c] - mean_d;
        sqdev += d * d;
    }
    sqdev = ops_block_sum(sqdev);
    float mean = layernorm_mean(sum, C), rstd = layernorm_rstd(sqdev, C, eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x) y[c] = layernorm_apply(x[c], mean, rstd, weight[c], bias, c);
}

extern "C" void layernorm_forward_gpu(float *out, const float *inp, const float *weight, const float *bias, int T,
                                      int C, float eps, gpu_stream stream) {
    if (T <= 0 || C <= 0) return;
    layernorm_kernel<<<T, OPS_ROW_THREADS, 0, stream>>>(out, inp, weight, bias, C, eps);
    CHECK_LAUNCH();
}
