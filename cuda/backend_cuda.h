/*
 * backend_cuda: the compute backend (host/backend.h) of a rank whose GPU works, for mpi/ to offer to
 * backend_resolve: the decoder on the device (cuda/decoder_cuda.h) and the fits' linear algebra there too
 * (cuda/linalg_cuda.h) where cuBLAS, cuSOLVER and cuFFT can be loaded, else the fits on the CPU (linalg_ops_cpu).
 * Plain C (host/linalg.h's complex types keep it out of C++).
 * A build without CUDA links cuda/none.c, whose backend_cuda_get returns NULL: callers carry no #ifdef.
 */
#ifndef CUDA_BACKEND_CUDA_H
#define CUDA_BACKEND_CUDA_H

#include <stddef.h>

#include "host/backend.h"

// The CUDA backend ("cuda"), or NULL with why (len bytes) in a build without CUDA or where cuBLAS cannot be
// loaded (the decoder's matrix products need it; cuda/decoder_cuda.h). Asks no GPU anything: cuda/gpu.h does.
const Backend *backend_cuda_get(char *why, size_t len);
// 1 when that backend's fits run on the GPU; else 0 with why (len bytes; why may be NULL)
int backend_cuda_fits(char *why, size_t len);

#endif  // CUDA_BACKEND_CUDA_H
