/*
 * linalg_cuda: the linear-algebra table of the fits (host/linalg.h) on an NVIDIA GPU — cuBLAS for the products,
 * cuSOLVER for the factorisations, cuFFT for the real transforms, and kernels of its own for the element-wise ops.
 *
 * Plain C: including this needs no CUDA header. It exists only in builds with nvcc (HAVE_CUDA); the CUDA backend
 * (cuda/backend_cuda.h) holds it where linalg_cuda_ready says the libraries load. The libraries are loaded at run
 * time (cuda/culibs.h), not linked.
 *
 * Memory: every pointer an op takes is device memory from this table's alloc (cudaMalloc, 256-byte aligned, so the
 * 64-byte alignment the fits carve their workspaces at holds), except the host side of upload and download.
 * Passing host memory to an op is a bug the device reports as an illegal address.
 *
 * Semantics: exactly host/linalg.h's, op for op. Row-major matrices are handed to the column-major libraries as
 * their transposes (a row-major A with leading dimension lda is the column-major A^T with the same lda), so no data
 * is moved for the products; the factorisations transpose on the device where the library needs the column-major
 * matrix itself (QR), and reorder the ascending eigenpairs of syevd into the table's descending order with the
 * same sign fix as the CPU (each vector's first largest-magnitude entry made positive). svd_right runs gesvd on
 * the transpose, so cuSOLVER's rows >= columns requirement is the table's m <= n. The products use cuBLAS's
 * default math (full float32, no TF32), so float32 results differ from OpenBLAS's only in summation order. The
 * element-wise and statistics kernels run the CPU's loop per entry or column, in its order, with its separate
 * roundings (__dadd_rn and friends: no FMA contraction), so they equal the CPU's results bit for bit (dcentre's
 * total, summed by columns here, to rounding). The host index lists and masks some ops take are copied into
 * scratch first.
 *
 * Threads: each calling thread gets, on first use, its own non-blocking stream, cuBLAS handle and cuSOLVER handle
 * on the device current at that moment (one device per thread); they live until the process ends. Every op is
 * enqueued on the calling thread's stream and returns once its result is complete (the CPU table's semantics: a
 * result may be handed to another thread, or read after a download, with no further synchronisation), so ops of
 * different threads run concurrently. An FFT plan holds cuFFT plans and a scratch vector that one transform at a
 * time may use: its executions are serialised by a lock of the plan (the null shares one plan among its threads).
 * Scratch an op needs (solver workspaces, transposes) comes from the stream-ordered allocator and is returned
 * before the op does.
 *
 * Errors: fatal, through CHECK_CUDA and its cuBLAS, cuSOLVER and cuFFT twins (file, line, the call, the library's
 * status name, a hint), or DIE: an allocation that fails (naming the buffer), a factorisation that reports a
 * failure (info != 0: NaN or Inf in its input), a dimension beyond the libraries' int range.
 */
#ifndef CUDA_LINALG_CUDA_H
#define CUDA_LINALG_CUDA_H

#include "host/linalg.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const LinalgOps linalg_ops_cuda;

// 1 when the libraries the table calls (cuBLAS, cuSOLVER, cuFFT; loaded at run time, cuda/culibs.h) are there;
// else 0 with why (len bytes). Asks no GPU anything. An op called where they are not dies saying so.
int linalg_cuda_ready(char *why, size_t len);

#ifdef __cplusplus
}
#endif

#endif  // CUDA_LINALG_CUDA_H
