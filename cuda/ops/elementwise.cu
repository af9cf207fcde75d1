// swiglu_rows_gpu, gelu_forward_gpu, relu_forward_gpu, residual_forward_gpu: the element-wise ops, GPU
// twins of swiglu_rows_cpu, gelu_forward_cpu, relu_forward_cpu and residual_forward_cpu, each element
// through host/ops_math.h's function. Grid-stride loops over size_t indices (N may pass 2^31); 16-byte
// loads and stores over the aligned bulk when the pointers allow it, then the tail of at most 3 elements
// scalar. Variants: this one only.
#include "cuda/ops/common.cuh"

enum { ACT_GELU_ERF, ACT_GELU_TANH, ACT_RELU };

template <int ACT>
static __device__ __forceinline__ float act(float v) {
    return ACT == ACT_GELU_ERF ? gelu_erf(v) : ACT == ACT_GELU_TANH ? gelu_tanh(v) : relu(v);
}

template <int ACT>
__global__ void activation_kernel(float *x, size_t N, bool vec) {
    size_t stride = (size_t)gridDim.x * blockDim.x, i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t bulk = vec ? N / 4 : 0;
    for (size_t i = i0; i < bulk; i += stride) {
        float4 v = reinterpret_cast<float4 *>(x)[i];
        v.x = act<ACT>(v.x);
        v.y = act<ACT>(v.y);
        v.z = act<ACT>(v.z);
        v.w = act<ACT>(v.w);
        reinterpret_cast<float4 *>(x)[i] = v;
    }
    for (size_t i = bulk * 4 + i0; i < N; i += stride) x[i] = act<ACT>(x[i]);
}

extern "C" void gelu_forward_gpu(float *x, size_t N, int tanh_approx, gpu_stream stream) {
    if (N == 0) return;
    bool vec = ops_aligned16(x);
    unsigned blocks = ops_ew_blocks(vec ? (N + 3) / 4 : N);
    if (tanh_approx)
        activation_kernel<ACT_GELU_TANH><<<blocks, OPS_EW_THREADS, 0, stream>>>(x, N, vec);
    else
        activation_kernel<ACT_GELU_ERF><<<blocks, OPS_EW_THREADS, 0, stream>>>(x, N, vec);
    CHECK_LAUNCH();
}

extern "C" void relu_forward_gpu(float *x, size_t N, gpu_stream stream) {
    if (N == 0) return;
    bool vec = ops_aligned16(x);
    activation_kernel<ACT_RELU><<<ops_ew_blocks(vec ? (N + 3) / 4 : N), OPS_EW_THREADS, 0, stream>>>(x, N, vec);
    CHECK_LAUNCH();
}

__global__ void residual_kernel(float *out, const float *a, const float *b, size_t N, bool vec) {
    size_t stride = (size_t)gridDim.x * blockDim.x, i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t bulk = vec ? N / 4 : 0;
    for (size_t i = i0; i < bulk; i += stride) {
        float4 u = reinterpret_cast<const float4 *>(a)[i], v = reinterpret_cast<const float4 *>(b)[i];
        reinterpret_cast<float4 *>(out)[i] = make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w);
    }
    for (size_t i = bulk * 4 + i0; i < N; i += stride) out[i] = a[i] + b[i];
}

extern "C" void residual_forward_gpu(float *out, const float *a, const float *b, size_t N, gpu_stream stream) {
    if (N == 0) return;
    bool vec = ops_aligned16(out, a, b);
    residual_kernel<<<ops_ew_blocks(vec ? (N + 3) / 4 : N), OPS_EW_THREADS, 0, stream>>>(out, a, b, N, vec);
    CHECK_LAUNCH();
}

// one thread per output element (t, f): the gate and up values of a row are F apart, so a float4 path
// would need F % 4 == 0 as well; scalar loads are coalesced already
__global__ void swiglu_kernel(float *out, const float *gu, int F, size_t N) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < N; i += stride) {
        size_t t = i / F, f = i % F;
        const float *row = gu + t * 2 * F;
        out[i] = silu_mul(row[f], row[F + f]);
    }
}

extern "C" void swiglu_rows_gpu(float *out, const float *gu, int T, int F, gpu_stream stream) {
    if (T <= 0 || F <= 0) return;
    size_t N = (size_t)T * F;
    swiglu_kernel<<<ops_ew_blocks(N), OPS_EW_THREADS, 0, stream>>>(out, gu, F, N);
    CHECK_LAUNCH();
}
