// The CUDA backend's table pair (cuda/backend_cuda.h); built only where nvcc is (cuda/none.c stands in elsewhere).
#include "cuda/backend_cuda.h"

#include "cuda/decoder_cuda.h"  // defines: decoder_ops_cuda
#include "cuda/linalg_cuda.h"   // defines: linalg_ops_cuda

static const Backend backend_cuda = {.name = "cuda",
                                     .decoder = &decoder_ops_cuda,
                                     .linalg = &linalg_ops_cuda,
                                     .decoder_bf16 = &decoder_ops_cuda_bf16,
                                     .decoder_f16 = &decoder_ops_cuda_f16};
// cuSOLVER or cuFFT missing: the decoder on the GPU, the fits on the CPU
static const Backend backend_cuda_decoder = {.name = "cuda",
                                             .decoder = &decoder_ops_cuda,
                                             .linalg = &linalg_ops_cpu,
                                             .decoder_bf16 = &decoder_ops_cuda_bf16,
                                             .decoder_f16 = &decoder_ops_cuda_f16};

const Backend *backend_cuda_get(char *why, size_t len) {
    if (!decoder_cuda_blas_ready(why, len)) return NULL;
    return backend_cuda_fits(NULL, 0) ? &backend_cuda : &backend_cuda_decoder;
}

int backend_cuda_fits(char *why, size_t len) { return linalg_cuda_ready(why, len); }
