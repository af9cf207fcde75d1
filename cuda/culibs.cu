// cuBLAS, cuSOLVER, cuFFT and NCCL loaded at run time (contract: cuda/culibs.h).
#include "cuda/culibs.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <mutex>

#define STR_(x) #x
#define STR(x) STR_(x)

CulibsBlas culibs_blas;
CulibsSolver culibs_solver;
CulibsFft culibs_fft;
#ifdef HAVE_NCCL
CulibsNccl culibs_nccl;
#endif

// One library: its soname, whether it loaded, and why not
typedef struct {
    const char *soname;
    void *lib;
    char why[320];
    std::once_flag once;
} Lib;

static Lib blas_lib = {"libcublas.so." STR(CUBLAS_VER_MAJOR), NULL, "", {}};
static Lib solver_lib = {"libcusolver.so." STR(CUSOLVER_VER_MAJOR), NULL, "", {}};
static Lib fft_lib = {"libcufft.so." STR(CUFFT_VER_MAJOR), NULL, "", {}};
#ifdef HAVE_NCCL
static Lib nccl_lib = {"libnccl.so." STR(NCCL_MAJOR), NULL, "", {}};
#endif

typedef struct {
    void *fn;  // where the entry point goes (a member of one of the tables)
    const char *name;
} Entry;

// l's library and each entry's symbol; on any failure the library is closed again and l->why says what failed
static void load(Lib *l, const Entry *entries, size_t n) {
    l->lib = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!l->lib) {
        snprintf(l->why, sizeof l->why, "%s cannot be loaded (%s)", l->soname, dlerror());
        return;
    }
    for (size_t i = 0; i < n; i++) {
        void *f = dlsym(l->lib, entries[i].name);
        if (!f) {
            snprintf(l->why, sizeof l->why, "%s has no %s (an older release?)", l->soname, entries[i].name);
            dlclose(l->lib);
            l->lib = NULL;
            return;
        }
        memcpy(entries[i].fn, &f, sizeof f);
    }
}

static void load_blas(void) {
    CulibsBlas *b = &culibs_blas;
    const Entry e[] = {{&b->create, "cublasCreate_v2"},         {&b->destroy, "cublasDestroy_v2"},
                       {&b->set_stream, "cublasSetStream_v2"},  {&b->set_math_mode, "cublasSetMathMode"},
                       {&b->sgemm, "cublasSgemm_v2"},           {&b->gemm_ex, "cublasGemmEx"},
                       {&b->dgemm, "cublasDgemm_v2"},
                       {&b->dgemv, "cublasDgemv_v2"},           {&b->dsyrk, "cublasDsyrk_v2"},
                       {&b->dsyr, "cublasDsyr_v2"},             {&b->status_name, "cublasGetStatusName"},
                       {&b->status_string, "cublasGetStatusString"}};
    load(&blas_lib, e, sizeof e / sizeof e[0]);
}

static void load_solver(void) {
    CulibsSolver *s = &culibs_solver;
    const Entry e[] = {{&s->create, "cusolverDnCreate"},
                       {&s->set_stream, "cusolverDnSetStream"},
                       {&s->dsyevd_size, "cusolverDnDsyevd_bufferSize"},
                       {&s->dsyevd, "cusolverDnDsyevd"},
                       {&s->dgeqrf_size, "cusolverDnDgeqrf_bufferSize"},
                       {&s->dgeqrf, "cusolverDnDgeqrf"},
                       {&s->dorgqr_size, "cusolverDnDorgqr_bufferSize"},
                       {&s->dorgqr, "cusolverDnDorgqr"},
                       {&s->dgesvd_size, "cusolverDnDgesvd_bufferSize"},
                       {&s->dgesvd, "cusolverDnDgesvd"}};
    load(&solver_lib, e, sizeof e / sizeof e[0]);
}

static void load_fft(void) {
    CulibsFft *f = &culibs_fft;
    const Entry e[] = {{&f->plan_1d, "cufftPlan1d"},
                       {&f->set_stream, "cufftSetStream"},
                       {&f->destroy, "cufftDestroy"},
                       {&f->exec_d2z, "cufftExecD2Z"},
                       {&f->exec_z2d, "cufftExecZ2D"}};
    load(&fft_lib, e, sizeof e / sizeof e[0]);
}

#ifdef HAVE_NCCL
static void load_nccl(void) {
    CulibsNccl *n = &culibs_nccl;
    const Entry e[] = {{&n->get_version, "ncclGetVersion"},      {&n->get_unique_id, "ncclGetUniqueId"},
                       {&n->comm_init_rank, "ncclCommInitRank"}, {&n->comm_destroy, "ncclCommDestroy"},
                       {&n->send, "ncclSend"},                   {&n->recv, "ncclRecv"},
                       {&n->error_string, "ncclGetErrorString"}};
    load(&nccl_lib, e, sizeof e / sizeof e[0]);
}
#endif

// l loaded (once, by load_fn); else 0 with its reason in why
static int ready(Lib *l, void (*load_fn)(void), char *why, size_t len) {
    std::call_once(l->once, load_fn);
    if (!l->lib && why && len) snprintf(why, len, "%s", l->why);
    return l->lib != NULL;
}

int culibs_blas_ready(char *why, size_t len) { return ready(&blas_lib, load_blas, why, len); }

#ifdef HAVE_NCCL
int culibs_nccl_ready(char *why, size_t len) { return ready(&nccl_lib, load_nccl, why, len); }
#else
int culibs_nccl_ready(char *why, size_t len) {
    if (why && len) snprintf(why, len, "built without nccl.h (install NCCL's development files and rebuild)");
    return 0;
}
#endif

int culibs_fits_ready(char *why, size_t len) {
    return ready(&blas_lib, load_blas, why, len) && ready(&solver_lib, load_solver, why, len) &&
           ready(&fft_lib, load_fft, why, len);
}

// ----------------------------------------------------------------------------
// the libraries' statuses, named and explained

const char *culibs_cublas_hint(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_NOT_INITIALIZED:
            return "cuBLAS could not start: check the driver (nvidia-smi) and that libcublas matches the CUDA runtime, "
                   "or run on the CPU";
        case CUBLAS_STATUS_ALLOC_FAILED:
            return "the GPU is out of memory: a smaller batch, or fewer ranks per GPU";
        case CUBLAS_STATUS_INVALID_VALUE:
            return "a product with sizes or leading dimensions out of range: this is a bug in brainsweep";
        case CUBLAS_STATUS_ARCH_MISMATCH:
            return "this GPU lacks what the call needs (double precision?): rebuild with CUDA_ARCH naming its compute "
                   "capability, or run on the CPU";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "a cuBLAS kernel failed to run: a fault from an earlier kernel, or a pointer that is not device "
                   "memory; rerun under compute-sanitizer";
        default:
            return "see cuBLAS's status above; a sticky error may come from an earlier kernel";
    }
}

const char *culibs_cusolver_name(cusolverStatus_t s) {
    switch (s) {
        case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
        case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
        case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
        case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
        case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
        case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
        case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
        case CUSOLVER_STATUS_INVALID_WORKSPACE: return "CUSOLVER_STATUS_INVALID_WORKSPACE";
        default: return "a cuSOLVER status";
    }
}

const char *culibs_cusolver_hint(cusolverStatus_t s) {
    switch (s) {
        case CUSOLVER_STATUS_NOT_INITIALIZED:
            return "cuSOLVER could not start (no usable GPU or driver): check nvidia-smi, or run on the CPU";
        case CUSOLVER_STATUS_ALLOC_FAILED:
            return "the GPU is out of memory: a smaller problem, or fewer ranks per GPU";
        case CUSOLVER_STATUS_INVALID_VALUE:
        case CUSOLVER_STATUS_INVALID_WORKSPACE:
            return "a factorisation with sizes out of range: this is a bug in brainsweep";
        case CUSOLVER_STATUS_EXECUTION_FAILED:
            return "a cuSOLVER kernel failed to run: a fault from an earlier kernel, or host memory passed as device";
        default:
            return "see cuSOLVER's status above; a sticky error may come from an earlier kernel";
    }
}

const char *culibs_cufft_name(cufftResult r) {
    switch (r) {
        case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
        case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
        case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
        case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
        case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
        case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
        case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
        case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
        case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
        case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
        case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
        default: return "a cuFFT status";
    }
}

const char *culibs_cufft_hint(cufftResult r) {
    switch (r) {
        case CUFFT_ALLOC_FAILED:
            return "the GPU is out of memory: a shorter recording, or fewer ranks per GPU";
        case CUFFT_SETUP_FAILED:
            return "cuFFT could not start (no usable GPU or driver): check nvidia-smi, or run on the CPU";
        case CUFFT_INVALID_SIZE:
        case CUFFT_INVALID_VALUE:
            return "a transform length out of range: this is a bug in brainsweep";
        case CUFFT_EXEC_FAILED:
            return "a cuFFT kernel failed to run: a fault from an earlier kernel, or host memory passed as device";
        default:
            return "see cuFFT's status above; a sticky error may come from an earlier kernel";
    }
}

#ifdef HAVE_NCCL
const char *culibs_nccl_hint(ncclResult_t r) {
    switch (r) {
        case ncclUnhandledCudaError:
            return "NCCL met a CUDA error (no usable GPU, or two ranks of the group on one GPU): NCCL_DEBUG=INFO says "
                   "which; run.transport: mpi passes the stages' activations through host memory instead";
        case ncclSystemError:
        case ncclRemoteError:
            return "NCCL could not reach another rank (network, shared memory or a rank that died): NCCL_DEBUG=INFO "
                   "says which; run.transport: mpi passes the activations through host memory instead";
        case ncclInvalidArgument:
        case ncclInvalidUsage:
            return "an NCCL call out of order or with a bad argument: this is a bug in brainsweep";
        default:
            return "see NCCL's error above (NCCL_DEBUG=INFO for details); run.transport: mpi avoids NCCL";
    }
}
#endif
