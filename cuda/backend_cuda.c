// The CUDA backend's table pair (cuda/backend_cuda.h); built only where nvcc is (cuda/none.c stands in elsewhere).
#include "cuda/backend_cuda.h"

#include "cuda/decoder_cuda.h"  // defines: decoder_ops_cuda

// linalg stays the CPU's: the fits' GPU engine is a later issue
static const Backend backend_cuda = {.name = "cuda", .decoder = &decoder_ops_cuda, .linalg = &linalg_ops_cpu};

const Backend *backend_cuda_get(char *why, size_t len) {
    return decoder_cuda_blas_ready(why, len) ? &backend_cuda : NULL;
}
