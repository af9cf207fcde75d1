/*
 * decoder_cuda: the CUDA backend of the decoder (host/decoder.h's DecoderOps over device memory), checked against
 * the CPU backend (host/decoder_cpu.h) by tests/cuda/test_decoder_gpu. Three tables that differ in the layers'
 * matrices (attention's fused QKV and output projections, the MLP's up and down) and the products with them:
 *  - decoder_ops_cuda: float32 throughout (the checks' path; within 1e-4 of the CPU over all states);
 *  - decoder_ops_cuda_bf16, decoder_ops_cuda_f16: the matrices held as bf16 or IEEE half, rounded once (to nearest
 *    even) on the device from the float32 model_layer widens, so a checkpoint stored in that type keeps its exact
 *    weights at half the device memory; each product's input is rounded to the same type and cuBLAS multiplies on
 *    the tensor cores with float32 accumulation and a float32 result (cublasGemmEx, CUBLAS_COMPUTE_32F). Everything
 *    else (norms, RoPE, attention, activations, residuals, the embedding, the final norm and OPT's projections)
 *    stays float32, so the residual stream is never rounded to 16 bits: closer to the float32 states than a model
 *    run wholly in bf16 (the tests: 2e-2 of the norm, the bf16 tolerance).
 *
 * What it does with the table's slots:
 *  - memory: cudaMalloc/cudaFree. upload copies through a pinned staging buffer of the Decoder's state (two
 *    halves, each guarded by an event, so the host fills one while the other is on its way; asynchronous on the
 *    Decoder's stream, the host source free on return); download_start enqueues the copy into one of two pinned
 *    slots of NT_max * max(E, C) floats and records an event, download_wait waits for that event only (the stream's
 *    later work, the next layer, goes on), and download is the two on slot 0. Before the state exists
 *    (decoder_create's ALiBi slopes) upload is a plain synchronous cudaMemcpy.
 *  - state per Decoder (open/close): one non-blocking stream, on which every op of the Decoder is enqueued in
 *    order; one cuBLAS handle bound to it (float32 math, no TF32; cuBLAS itself is loaded at run time, below);
 *    the model's constants in float32 on the device (the whole token embedding table, widened once with
 *    model_embed_rows; final norm; OPT's projections; learned positions); the layers' weights; the staging buffers. Made on the device current when decoder_create runs
 *    (sweep_inputs binds the rank to its GPU before: cuda/gpu.h).
 *  - layer: widened or dequantised on the host by model_layer, exactly as the CPU backend gets it, then uploaded.
 *    With 16-bit weights each matrix is uploaded as float32 into a staging buffer and rounded on the device.
 *    When every layer's weights fit in the free device memory (less a reserve) at open, each layer is
 *    uploaded on its first use and stays; otherwise one set of device buffers is reused and each call uploads
 *    the layer again (ordered on the stream after the kernels that read the previous one).
 *  - matmul: cublasSgemm in row-major through the transpose trick (out^T = W inp^T, all column-major views of
 *    the row-major arrays), then bias_add_gpu (16-bit weights: to_16bit_gpu of the input, then cublasGemmEx the
 *    same way); the other ops are cuda/ops.h's launchers on the stream.
 * Numerics: the per-element arithmetic is host/ops_math.h's; sums differ in order from the CPU's (cuBLAS,
 * block reductions), so states agree to float32 rounding grown over the layers (1e-4 relative in the tests).
 * Errors: every CUDA and cuBLAS call is checked (CHECK_CUDA, CHECK_CUBLAS: file, line, the call, the error and a
 * hint) and stops the program, as the table's contract says; out of device memory names the bytes asked for.
 * Not thread-safe per Decoder; Decoders on different threads need the same current device.
 */
#ifndef CUDA_DECODER_CUDA_H
#define CUDA_DECODER_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "host/decoder.h"  // defines: DecoderOps, Decoder

// The table; defined only in a build with CUDA (mpi/ reaches it through cuda/backend_cuda.h, which has an answer
// in every build).
extern const DecoderOps decoder_ops_cuda;
extern const DecoderOps decoder_ops_cuda_bf16;
extern const DecoderOps decoder_ops_cuda_f16;

// cuBLAS is loaded at run time (dlopen of libcublas.so.<the headers' major version>), so that no binary needs it to
// start. 1 when it loads (tried once per process); else 0 with why (len bytes) saying what failed. The table's open
// stops the program with that reason where it is missing.
int decoder_cuda_blas_ready(char *why, size_t len);

// For tests: layers' bytes kept resident on the device at most this many (default SIZE_MAX: as many as fit); 0
// forces the re-upload of every layer on every use. Applies to Decoders made afterwards.
void decoder_cuda_set_resident_limit(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif  // CUDA_DECODER_CUDA_H
