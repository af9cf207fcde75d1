/*
 * CUDA_OPS_H: the CUDA kernels of the decoder's per-layer ops, each the GPU twin of one function of
 * host/ops_cpu.h, with the same arguments in the same order (llm.c: outputs, inputs, weights,
 * sizes) plus the stream last. host/decoder.h's DecoderOps is the table a GPU backend fills with
 * them: cuda/decoder_cuda.h's decoder_ops_cuda wraps each launcher, taking the stream from the
 * Decoder's backend state (the matrix products are cuBLAS's, with bias_add_gpu after them).
 *
 * Plain C: no CUDA header is needed to include this. `struct CUstream_st *` is the type cudaStream_t
 * names, so a C caller passes a cudaStream_t (or NULL, the legacy default stream) without the CUDA
 * headers. Launchers are asynchronous: they enqueue one kernel on the stream and return; results
 * are there once the stream is synchronised.
 *
 * Memory: every pointer is device memory owned by the caller (cudaMalloc'd; nothing here
 * allocates or frees). Sizes and layouts are exactly those of the CPU twin; where the twin allows
 * out == inp (norms, residual) so do these. Vectorised 16-byte paths are taken only when every
 * pointer is 16-byte aligned and the row length a multiple of 4, so any pointer into a float array
 * works.
 *
 * Errors: a launch that fails (bad configuration, no device, a fault from an earlier kernel) stops
 * the program through CHECK_CUDA (below, for .cu files): file, line, the call, the runtime's error
 * name and text, and a hint for the usual causes. Kernels check nothing about their inputs (token ids
 * in range, positions >= 0), as the CPU twins do not; callers validate once, on the host.
 *
 * Numerics: the per-element arithmetic is host/ops_math.h's, shared with the CPU twin; sums over a
 * row (norm statistics) are accumulated in float64 like the twin's, in a different order, so results
 * agree to about 1e-7 relative, not bit for bit. tests/cuda/test_ops_gpu.cu checks each launcher
 * against its twin (1e-5 relative to the norm).
 */
#ifndef CUDA_OPS_H
#define CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st;  // cudaStream_t is `struct CUstream_st *`
typedef struct CUstream_st *gpu_stream;

// out (T, C) = table[ids] ; table (V, C). One block per row.
void embedding_forward_gpu(float *out, const int32_t *ids, const float *table, int T, int C, gpu_stream stream);
// the same from a bf16 table (V, C) as a bf16 checkpoint stores it (raw bits); out float32, exact. Its CPU twin
// is embedding_forward_cpu on the table widened with bf16_to_f32 (host/dequant.h), as the CPU loader does.
void embedding_bf16_forward_gpu(float *out, const int32_t *ids, const uint16_t *table, int T, int C,
                                gpu_stream stream);

// out (T, C) = inp / sqrt(mean(inp^2) + eps) * weight (LlamaRMSNorm); out may alias inp. One block per row.
void rmsnorm_forward_gpu(float *out, const float *inp, const float *weight, int T, int C, float eps,
                         gpu_stream stream);

// out (T, C) = (inp - mean) / sqrt(var + eps) * weight + bias, biased variance (nn.LayerNorm); bias may be
// NULL (MPT); out may alias inp. One block per row, two passes over the row (no cancellation).
void layernorm_forward_gpu(float *out, const float *inp, const float *weight, const float *bias, int T, int C,
                           float eps, gpu_stream stream);

// In place on x (T, NH, HS): rotate_half RoPE on the first rot_dims of each head (rot_dims even, at most
// ROPE_MAX_ROT_DIMS; partial rotary when rot_dims < HS), positions pos (T) in device memory. The frequencies
// are computed on the host with the twin's function (host/ops_math.h) and passed with the launch.
#define ROPE_MAX_ROT_DIMS 512
void rope_forward_gpu(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta, gpu_stream stream);

// out (T, F) = silu(gu[:, :F]) * gu[:, F:] for gu (T, 2F), the fused [gate | up] projection
void swiglu_rows_gpu(float *out, const float *gu, int T, int F, gpu_stream stream);

// in place on x (N): GELU (erf, or GPT-2's tanh approximation) and ReLU
void gelu_forward_gpu(float *x, size_t N, int tanh_approx, gpu_stream stream);
void relu_forward_gpu(float *x, size_t N, gpu_stream stream);

// Causal self-attention over sequences laid end to end, as attention_forward_cpu (no scratch: the online
// softmax keeps no scores): sequence s is rows [seq_start[s], seq_start[s+1]) of q (NT, NH, HS) and k, v
// (NT, NKV, HS), seq_start (n_seq + 1) in device memory with seq_start[n_seq] = NT (the caller knows NT on the
// host); query head h reads KV head h / (NH / NKV); alibi (NH) slopes in device memory or NULL; window > 0
// hides keys with i - j >= window. HS at most 256. out (NT, NH, HS) must not alias q, k or v.
void attention_forward_gpu(float *out, const float *q, const float *k, const float *v, const int *seq_start,
                           int n_seq, int NT, int NH, int NKV, int HS, const float *alibi, int window,
                           gpu_stream stream);

// out (N) = a + b (out may alias a or b)
void residual_forward_gpu(float *out, const float *a, const float *b, size_t N, gpu_stream stream);

// out (T, OC) += bias (OC) on every row: the bias step after a cuBLAS product (twin: bias_add_cpu)
void bias_add_gpu(float *out, const float *bias, int T, int OC, gpu_stream stream);

// q (T, QD), k, v (T, KD) = column blocks of qkv (T, QD + 2 KD), clamped to [-clip, clip] when clip > 0
// (twin: qkv_split_cpu). The outputs must not overlap qkv.
void qkv_split_gpu(float *q, float *k, float *v, const float *qkv, int T, int QD, int KD, float clip,
                   gpu_stream stream);

// out (T, C) += table[pos[t] + offset] (learned absolute positions; twin: positions_add_cpu); pos (T) in device
// memory
void positions_add_gpu(float *out, const float *table, const int *pos, int offset, int T, int C, gpu_stream stream);

// out (N) = in rounded to the nearest 16-bit value, ties to even: bf16 (bf16 != 0) or IEEE half (overflow to
// infinity), as raw bits; the input of the decoder's 16-bit products (cuda/decoder_cuda.h). The twin is CUDA's own
// host conversion (__float2bfloat16_rn, __float2half_rn): equal bit for bit.
void to_16bit_gpu(void *out, const float *in, size_t N, int bf16, gpu_stream stream);

#ifdef __cplusplus
}
#endif

// ----------------------------------------------------------------------------
// for .cu files: the error macro and the hint behind it

#ifdef __CUDACC__
#include <cuda_runtime.h>
#include <signal.h>  // host/base.h's C headers, included here first (outside extern "C")
#include <stdarg.h>

extern "C" {
#include "host/base.h"
}

// what usually causes each error, for the hint: line of the fatal message
static inline const char *cuda_error_hint(cudaError_t e) {
    switch (e) {
        case cudaErrorInsufficientDriver:
            return "the NVIDIA driver is missing or older than this CUDA runtime: check nvidia-smi, or run on the CPU";
        case cudaErrorNoDevice:
            return "no GPU visible: check CUDA_VISIBLE_DEVICES and nvidia-smi, or run on the CPU";
        case cudaErrorStubLibrary:
            return "the CUDA driver stub was loaded instead of the driver: fix LD_LIBRARY_PATH (no lib64/stubs)";
        case cudaErrorMemoryAllocation:
            return "the GPU is out of memory: a smaller batch, or fewer ranks per GPU";
        case cudaErrorIllegalAddress:
        case cudaErrorMisalignedAddress:
        case cudaErrorLaunchFailure:
            return "a kernel touched memory it does not own: rerun under compute-sanitizer to find it";
        case cudaErrorInvalidValue:
        case cudaErrorInvalidConfiguration:
            return "a launch with sizes out of range (a zero or negative dimension?): this is a bug in brainsweep";
        case cudaErrorNoKernelImageForDevice:
        case cudaErrorUnsupportedPtxVersion:
            return "no code for this GPU in the binary: rebuild with CUDA_ARCH naming its compute capability";
        default:
            return "see the CUDA runtime's error text above; a sticky error may come from an earlier kernel";
    }
}

#define CHECK_CUDA(call)                                                                                \
    do {                                                                                                \
        cudaError_t check_cuda_e_ = (call);                                                             \
        if (check_cuda_e_ != cudaSuccess)                                                               \
            base_die(__FILE__, __LINE__, __func__, cuda_error_hint(check_cuda_e_), "%s failed: %s (%d): %s", \
                     #call, cudaGetErrorName(check_cuda_e_), (int)check_cuda_e_,                       \
                     cudaGetErrorString(check_cuda_e_));                                                \
    } while (0)

// after every launch: configuration errors surface here, at the launcher that caused them
#define CHECK_LAUNCH() CHECK_CUDA(cudaGetLastError())
#endif  // __CUDACC__

#endif  // CUDA_OPS_H
