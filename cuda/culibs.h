/*
 * culibs: cuBLAS, cuSOLVER, cuFFT and NCCL, loaded when first needed (dlopen) instead of linked, for the decoder
 * (cuda/decoder_cuda.cu: cuBLAS), the fits' table (cuda/linalg_cuda.cu: the first three) and the pipeline stages'
 * link between GPUs (cuda/nccl_link.cu: NCCL).
 *
 * Why not linked: a hard link would keep every binary of a CUDA build from starting where the CUDA runtime is
 * but these libraries are not (the device bundle carries libcudart only; a CPU node with a runtime but no
 * toolkit), the CPU paths included. Loaded here, a missing library is one sentence (`why`) and the work it would
 * have done stays on the CPU. Each library is the major version the headers describe (libcublas.so.<CUBLAS_VER_MAJOR>
 * ..., libnccl.so.<NCCL_MAJOR>), found by the run path the build sets or LD_LIBRARY_PATH.
 *
 * Calls go through the tables below (culibs_blas.sgemm(...)); a table is complete once its _ready function has
 * returned 1. Loading happens once per process, whatever the threads (std::call_once). CHECK_CUBLAS, CHECK_CUSOLVER,
 * CHECK_CUFFT and CHECK_NCCL are CHECK_CUDA's shape for the libraries' statuses: file, line, the call, the status's
 * name, and a hint; fatal.
 *
 * C++ (CUDA sources) only: it includes the libraries' headers for their types. Plain C asks through
 * cuda/decoder_cuda.h and cuda/linalg_cuda.h.
 */
#ifndef CUDA_CULIBS_H
#define CUDA_CULIBS_H

#include <cublas_v2.h>
#include <cufft.h>
#include <cusolverDn.h>
#include <stddef.h>
// HAVE_NCCL: the Makefile found nccl.h (NCCL ships apart from the toolkit on many systems); without it
// culibs_nccl_ready says so
#ifdef HAVE_NCCL
#include <nccl.h>
#endif

extern "C" {
#include "host/base.h"
}

struct CulibsBlas {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemm_v2) sgemm;
    // cublasGemmEx is overloaded (an inline C++ form takes a cudaDataType compute type): the library's own symbol
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
                              const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *,
                              cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
    decltype(&cublasDgemm_v2) dgemm;
    decltype(&cublasDgemv_v2) dgemv;
    decltype(&cublasDsyrk_v2) dsyrk;
    decltype(&cublasDsyr_v2) dsyr;
    decltype(&cublasGetStatusName) status_name;
    decltype(&cublasGetStatusString) status_string;
};

struct CulibsSolver {
    decltype(&cusolverDnCreate) create;
    decltype(&cusolverDnSetStream) set_stream;
    decltype(&cusolverDnDsyevd_bufferSize) dsyevd_size;
    decltype(&cusolverDnDsyevd) dsyevd;
    decltype(&cusolverDnDgeqrf_bufferSize) dgeqrf_size;
    decltype(&cusolverDnDgeqrf) dgeqrf;
    decltype(&cusolverDnDorgqr_bufferSize) dorgqr_size;
    decltype(&cusolverDnDorgqr) dorgqr;
    decltype(&cusolverDnDgesvd_bufferSize) dgesvd_size;
    decltype(&cusolverDnDgesvd) dgesvd;
};

struct CulibsFft {
    decltype(&cufftPlan1d) plan_1d;
    decltype(&cufftSetStream) set_stream;
    decltype(&cufftDestroy) destroy;
    decltype(&cufftExecD2Z) exec_d2z;
    decltype(&cufftExecZ2D) exec_z2d;
};

#ifdef HAVE_NCCL
struct CulibsNccl {
    decltype(&ncclGetVersion) get_version;
    decltype(&ncclGetUniqueId) get_unique_id;
    decltype(&ncclCommInitRank) comm_init_rank;
    decltype(&ncclCommDestroy) comm_destroy;
    decltype(&ncclSend) send;
    decltype(&ncclRecv) recv;
    decltype(&ncclGetErrorString) error_string;
};
extern CulibsNccl culibs_nccl;
const char *culibs_nccl_hint(ncclResult_t r);
#endif

extern CulibsBlas culibs_blas;
extern CulibsSolver culibs_solver;
extern CulibsFft culibs_fft;

// 1 when cuBLAS is loaded (loading it the first time); else 0 with why (len bytes), when why is not NULL
int culibs_blas_ready(char *why, size_t len);
// 1 when cuBLAS, cuSOLVER and cuFFT are all loaded; else 0 with why naming the first that is not
int culibs_fits_ready(char *why, size_t len);
// 1 when NCCL is loaded; else 0 with why (no libnccl, or a build without nccl.h)
int culibs_nccl_ready(char *why, size_t len);

const char *culibs_cublas_hint(cublasStatus_t s);
const char *culibs_cusolver_name(cusolverStatus_t s);
const char *culibs_cusolver_hint(cusolverStatus_t s);
const char *culibs_cufft_name(cufftResult r);
const char *culibs_cufft_hint(cufftResult r);

#define CHECK_CUBLAS(call)                                                                                   \
    do {                                                                                                     \
        cublasStatus_t check_cublas_s_ = (call);                                                             \
        if (check_cublas_s_ != CUBLAS_STATUS_SUCCESS)                                                        \
            base_die(__FILE__, __LINE__, __func__, culibs_cublas_hint(check_cublas_s_), "%s failed: %s (%d): %s", \
                     #call, culibs_blas.status_name(check_cublas_s_), (int)check_cublas_s_,                  \
                     culibs_blas.status_string(check_cublas_s_));                                            \
    } while (0)

#define CHECK_CUSOLVER(call)                                                                                   \
    do {                                                                                                       \
        cusolverStatus_t check_cusolver_s_ = (call);                                                           \
        if (check_cusolver_s_ != CUSOLVER_STATUS_SUCCESS)                                                      \
            base_die(__FILE__, __LINE__, __func__, culibs_cusolver_hint(check_cusolver_s_), "%s failed: %s (%d)", \
                     #call, culibs_cusolver_name(check_cusolver_s_), (int)check_cusolver_s_);                  \
    } while (0)

#define CHECK_CUFFT(call)                                                                                   \
    do {                                                                                                    \
        cufftResult check_cufft_r_ = (call);                                                                \
        if (check_cufft_r_ != CUFFT_SUCCESS)                                                                \
            base_die(__FILE__, __LINE__, __func__, culibs_cufft_hint(check_cufft_r_), "%s failed: %s (%d)", \
                     #call, culibs_cufft_name(check_cufft_r_), (int)check_cufft_r_);                        \
    } while (0)

#ifdef HAVE_NCCL
#define CHECK_NCCL(call)                                                                                       \
    do {                                                                                                       \
        ncclResult_t check_nccl_r_ = (call);                                                                   \
        if (check_nccl_r_ != ncclSuccess)                                                                      \
            base_die(__FILE__, __LINE__, __func__, culibs_nccl_hint(check_nccl_r_), "%s failed: %s (%d)", #call, \
                     culibs_nccl.error_string(check_nccl_r_), (int)check_nccl_r_);                             \
    } while (0)
#endif

#endif  // CUDA_CULIBS_H
