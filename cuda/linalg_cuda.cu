// The linear-algebra table on the device (contract: cuda/linalg_cuda.h; semantics: host/linalg.h).
#include "cuda/linalg_cuda.h"

#include <climits>
#include <mutex>

#include "cuda/culibs.h"  // the libraries' entry points (loaded at run time), CHECK_CUBLAS and its twins
#include "cuda/ops.h"     // CHECK_CUDA, host/base.h

// ----------------------------------------------------------------------------
// the calling thread's stream and handles (see the header: one set per thread, created on first use)

typedef struct {
    cudaStream_t stream;
    cublasHandle_t blas;
    cusolverDnHandle_t solver;
} ThreadCtx;

static thread_local ThreadCtx tls_ctx;
static thread_local bool tls_ready;

// the three libraries, loaded; the backend offers this table only where linalg_cuda_ready said so
static void need_libraries(void) {
    char why[BASE_ERR_LEN];
    if (!culibs_fits_ready(why, sizeof why))
        DIE("install the CUDA toolkit's cuBLAS, cuSOLVER and cuFFT of the runtime's major version (or put their folder "
            "on LD_LIBRARY_PATH), or set run.device: cpu",
            "the GPU fits need the CUDA math libraries: %s", why);
}

extern "C" int linalg_cuda_ready(char *why, size_t len) { return culibs_fits_ready(why, len); }

static ThreadCtx *ctx(void) {
    if (!tls_ready) {
        need_libraries();
        CHECK_CUDA(cudaStreamCreateWithFlags(&tls_ctx.stream, cudaStreamNonBlocking));
        CHECK_CUBLAS(culibs_blas.create(&tls_ctx.blas));
        CHECK_CUBLAS(culibs_blas.set_stream(tls_ctx.blas, tls_ctx.stream));
        CHECK_CUSOLVER(culibs_solver.create(&tls_ctx.solver));
        CHECK_CUSOLVER(culibs_solver.set_stream(tls_ctx.solver, tls_ctx.stream));
        tls_ready = true;
    }
    return &tls_ctx;
}

// an op's result is complete when it returns: wait for the thread's stream (and surface a kernel's fault here)
static void finish(const ThreadCtx *c) { CHECK_CUDA(cudaStreamSynchronize(c->stream)); }

// a dimension as the libraries' int takes it
static int dim(size_t n) {
    if (n > (size_t)INT_MAX) DIE("split the problem (smaller target batches or fewer samples)",
                                 "a matrix dimension of %zu exceeds the CUDA libraries' integer range", n);
    return (int)n;
}

static cublasOperation_t cop(LinalgTrans t) { return t == LINALG_T ? CUBLAS_OP_T : CUBLAS_OP_N; }

// op scratch from the stream-ordered allocator (no device-wide synchronisation, unlike cudaMalloc/cudaFree)
static void *scratch(const ThreadCtx *c, size_t bytes) {
    void *p = NULL;
    if (bytes) CHECK_CUDA(cudaMallocAsync(&p, bytes, c->stream));
    return p;
}
static void scratch_free(const ThreadCtx *c, void *p) {
    if (p) CHECK_CUDA(cudaFreeAsync(p, c->stream));
}

static unsigned blocks_for(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 65535 ? (b ? b : 1) : 65535);  // grid-stride loops cover the rest
}

// ----------------------------------------------------------------------------
// memory

static void *alloc_cuda(size_t bytes, const char *label) {
    if (!bytes) return NULL;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess)
        DIE(cuda_error_hint(e), "cannot allocate %zu bytes (%.1f MiB) of GPU memory for %s: %s", bytes,
            (double)bytes / 1048576.0, label, cudaGetErrorString(e));
    return p;
}

static void free_cuda(void *p) {
    if (p) CHECK_CUDA(cudaFree(p));
}

static void upload_cuda(void *dst, const void *host_src, size_t bytes) {
    if (!bytes) return;
    ThreadCtx *c = ctx();
    CHECK_CUDA(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, c->stream));
    finish(c);
}

static void download_cuda(void *host_dst, const void *src, size_t bytes) {
    if (!bytes) return;
    ThreadCtx *c = ctx();
    CHECK_CUDA(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    finish(c);
}

static void copy_cuda(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    ThreadCtx *c = ctx();
    CHECK_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream));
    finish(c);
}

static void memset_cuda(void *p, int byte, size_t bytes) {
    if (!bytes) return;
    ThreadCtx *c = ctx();
    CHECK_CUDA(cudaMemsetAsync(p, byte, bytes, c->stream));
    finish(c);
}

// ----------------------------------------------------------------------------
// kernels the ops share: mirroring, transposes, reordering eigenpairs, the sign fix

// C (n, n) row-major: the strict lower triangle from the upper (C[i][j] = C[j][i], i > j)
__global__ void mirror_upper_k(double *C, size_t n, size_t ldc) {
    for (size_t i = blockIdx.y * (size_t)blockDim.y + threadIdx.y; i < n; i += (size_t)gridDim.y * blockDim.y)
        for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < i; j += (size_t)gridDim.x * blockDim.x)
            C[i * ldc + j] = C[j * ldc + i];
}

static void mirror_upper(const ThreadCtx *c, double *C, size_t n, size_t ldc) {
    if (n < 2) return;
    dim3 threads(32, 8), grid(blocks_for(n, 32), blocks_for(n, 8));
    mirror_upper_k<<<grid, threads, 0, c->stream>>>(C, n, ldc);
    CHECK_LAUNCH();
}

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols (row-major <-> column-major)
__global__ void transpose_k(double *dst, size_t ldd, const double *src, size_t lds, size_t rows, size_t cols) {
    for (size_t i = blockIdx.y * (size_t)blockDim.y + threadIdx.y; i < rows; i += (size_t)gridDim.y * blockDim.y)
        for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < cols; j += (size_t)gridDim.x * blockDim.x)
            dst[j * ldd + i] = src[i * lds + j];
}

static void transpose(const ThreadCtx *c, double *dst, size_t ldd, const double *src, size_t lds, size_t rows,
                      size_t cols) {
    if (!rows || !cols) return;
    dim3 threads(32, 8), grid(blocks_for(cols, 32), blocks_for(rows, 8));
    transpose_k<<<grid, threads, 0, c->stream>>>(dst, ldd, src, lds, rows, cols);
    CHECK_LAUNCH();
}

// syevd's ascending pairs (V column-major (n, n), w_asc (n)) -> the k largest, descending: v (n, k) row-major with
// the vectors in its columns, w (k)
__global__ void top_pairs_k(double *v, double *w, const double *V, const double *w_asc, size_t n, size_t k) {
    const size_t total = n * k, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t r = e / k, i = e % k;
        v[e] = V[(n - 1 - i) * n + r];
        if (r == 0) w[i] = w_asc[n - 1 - i];
    }
}

// one thread per column (adjacent threads read adjacent entries of a row): the first entry of largest magnitude
// (strictly greater, as the CPU scans), and the column negated where that entry is negative
__global__ void fix_column_signs_k(double *a, size_t rows, size_t cols) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t col = blockIdx.x * (size_t)blockDim.x + threadIdx.x; col < cols; col += stride) {
        size_t best = 0;
        for (size_t r = 1; r < rows; r++)
            if (fabs(a[r * cols + col]) > fabs(a[best * cols + col])) best = r;
        if (a[best * cols + col] < 0)
            for (size_t r = 0; r < rows; r++) a[r * cols + col] = -a[r * cols + col];
    }
}

static void fix_signs(const ThreadCtx *c, double *a, size_t rows, size_t cols) {
    if (!rows || !cols) return;
    fix_column_signs_k<<<blocks_for(cols, 128), 128, 0, c->stream>>>(a, rows, cols);
    CHECK_LAUNCH();
}

// ----------------------------------------------------------------------------
// BLAS: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, i.e. the same call with the operands
// and the outer dimensions swapped and the transposes kept

static void sgemm_cuda(LinalgTrans ta, LinalgTrans tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                       size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (!M || !N) return;
    ThreadCtx *c = ctx();
    CHECK_CUBLAS(culibs_blas.sgemm(c->blas, cop(tb), cop(ta), dim(N), dim(M), dim(K), &alpha, B, dim(ldb), A, dim(lda),
                             &beta, C, dim(ldc)));
    finish(c);
}

static void dgemm_cuda(LinalgTrans ta, LinalgTrans tb, size_t M, size_t N, size_t K, double alpha, const double *A,
                       size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc) {
    if (!M || !N) return;
    ThreadCtx *c = ctx();
    CHECK_CUBLAS(culibs_blas.dgemm(c->blas, cop(tb), cop(ta), dim(N), dim(M), dim(K), &alpha, B, dim(ldb), A, dim(lda),
                             &beta, C, dim(ldc)));
    finish(c);
}

// row-major A (M, N) is column-major A^T (N, M): op(A) x is (A^T)^T x, so the transpose flips
static void dgemv_cuda(LinalgTrans ta, size_t M, size_t N, double alpha, const double *A, size_t lda,
                       const double *x, double beta, double *y) {
    if (!M || !N) return;
    ThreadCtx *c = ctx();
    CHECK_CUBLAS(culibs_blas.dgemv(c->blas, ta == LINALG_T ? CUBLAS_OP_N : CUBLAS_OP_T, dim(N), dim(M), &alpha, A,
                             dim(lda), x, 1, &beta, y, 1));
    finish(c);
}

// row-major op(A) op(A)^T with op(A) (n, k): the stored column-major matrix is A^T, so cuBLAS's transpose flips;
// the row-major upper triangle is the column-major lower one
static void dsyrk_cuda(LinalgTrans ta, size_t n, size_t k, double alpha, const double *A, size_t lda, double beta,
                       double *C, size_t ldc) {
    if (!n) return;
    ThreadCtx *c = ctx();
    CHECK_CUBLAS(culibs_blas.dsyrk(c->blas, CUBLAS_FILL_MODE_LOWER, ta == LINALG_T ? CUBLAS_OP_N : CUBLAS_OP_T, dim(n),
                             dim(k), &alpha, A, dim(lda), &beta, C, dim(ldc)));
    mirror_upper(c, C, n, ldc);
    finish(c);
}

static void dsyr_cuda(size_t n, double alpha, const double *x, double *A, size_t lda) {
    if (!n) return;
    ThreadCtx *c = ctx();
    CHECK_CUBLAS(culibs_blas.dsyr(c->blas, CUBLAS_FILL_MODE_LOWER, dim(n), &alpha, x, 1, A, dim(lda)));
    mirror_upper(c, A, n, lda);
    finish(c);
}

// ----------------------------------------------------------------------------
// cuSOLVER

// a factorisation's info, read back (the stream is synchronised by the copy)
static void check_info(const ThreadCtx *c, const int *d_info, const char *what, size_t m, size_t n) {
    int info = 0;
    CHECK_CUDA(cudaMemcpyAsync(&info, d_info, sizeof info, cudaMemcpyDeviceToHost, c->stream));
    finish(c);
    if (info != 0)
        DIE("the matrix holds NaN or Inf; check the inputs", "%s failed (info %d) on a %zux%zu matrix", what, info, m,
            n);
}

// a (n, n) symmetric, in place: its eigenvectors column-major, ascending, into a; the eigenvalues into w_asc. The
// row-major upper triangle the CPU reads is the column-major lower one.
static void syevd(const ThreadCtx *c, double *a, double *w_asc, size_t n) {
    int lwork = 0;
    CHECK_CUSOLVER(culibs_solver.dsyevd_size(c->solver, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, dim(n), a,
                                               dim(n), w_asc, &lwork));
    double *work = (double *)scratch(c, (size_t)lwork * sizeof(double) + sizeof(double));
    int *info = (int *)scratch(c, sizeof(int));
    CHECK_CUSOLVER(culibs_solver.dsyevd(c->solver, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, dim(n), a, dim(n),
                                    w_asc, work, lwork, info));
    check_info(c, info, "cusolverDnDsyevd", n, n);
    scratch_free(c, work), scratch_free(c, info);
}

// all pairs, and the table's order: descending, eigenvectors in the columns of a row-major a, signs fixed
static void eigh_cuda(double *a, double *w, size_t n) {
    if (!n) return;
    ThreadCtx *c = ctx();
    double *V = (double *)scratch(c, base_mul(n, n) * sizeof(double)), *w_asc = (double *)scratch(c, n * sizeof(double));
    CHECK_CUDA(cudaMemcpyAsync(V, a, n * n * sizeof(double), cudaMemcpyDeviceToDevice, c->stream));
    syevd(c, V, w_asc, n);
    top_pairs_k<<<blocks_for(n * n, 256), 256, 0, c->stream>>>(a, w, V, w_asc, n, n);
    CHECK_LAUNCH();
    fix_signs(c, a, n, n);
    scratch_free(c, V), scratch_free(c, w_asc);
    finish(c);
}

// the full decomposition, then the k largest pairs kept (syevd is one call at the sizes PCA meets; a subset solver
// would save the back-transformation of the other n - k vectors)
static void eigh_top_cuda(double *a, double *w, double *v, size_t n, size_t k) {
    if (!k) return;
    ThreadCtx *c = ctx();
    double *w_asc = (double *)scratch(c, n * sizeof(double));
    syevd(c, a, w_asc, n);
    top_pairs_k<<<blocks_for(n * k, 256), 256, 0, c->stream>>>(v, w, a, w_asc, n, k);
    CHECK_LAUNCH();
    fix_signs(c, v, n, k);
    scratch_free(c, w_asc);
    finish(c);
}

// thin QR of q (m, l) row-major: transposed into column-major, geqrf + orgqr there, transposed back
static void orthonormalise_cuda(double *q, size_t m, size_t l) {
    if (!m || !l) return;
    ThreadCtx *c = ctx();
    const int M = dim(m), L = dim(l);
    double *qc = (double *)scratch(c, base_mul(m, l) * sizeof(double)), *tau = (double *)scratch(c, l * sizeof(double));
    int *info = (int *)scratch(c, sizeof(int));
    transpose(c, qc, m, q, l, m, l);
    int lw_qr = 0, lw_q = 0;
    CHECK_CUSOLVER(culibs_solver.dgeqrf_size(c->solver, M, L, qc, M, &lw_qr));
    CHECK_CUSOLVER(culibs_solver.dorgqr_size(c->solver, M, L, L, qc, M, tau, &lw_q));
    const int lwork = lw_qr > lw_q ? lw_qr : lw_q;
    double *work = (double *)scratch(c, (size_t)lwork * sizeof(double) + sizeof(double));
    CHECK_CUSOLVER(culibs_solver.dgeqrf(c->solver, M, L, qc, M, tau, work, lwork, info));
    check_info(c, info, "cusolverDnDgeqrf", m, l);
    CHECK_CUSOLVER(culibs_solver.dorgqr(c->solver, M, L, L, qc, M, tau, work, lwork, info));
    check_info(c, info, "cusolverDnDorgqr", m, l);
    transpose(c, q, l, qc, m, l, m);
    scratch_free(c, qc), scratch_free(c, tau), scratch_free(c, info), scratch_free(c, work);
    finish(c);
}

// a (m, n) row-major, m <= n, is column-major a^T (n, m) with n >= m, as gesvd requires: a^T = U' S V'^T, and the
// right singular vectors of a are the columns of U', which column-major with ldu = n are exactly vt (m, n) row-major
static void svd_right_cuda(double *a, double *s, double *vt, size_t m, size_t n) {
    if (!m) return;
    ThreadCtx *c = ctx();
    const int M = dim(m), N = dim(n);
    int lwork = 0;
    CHECK_CUSOLVER(culibs_solver.dgesvd_size(c->solver, N, M, &lwork));
    double *work = (double *)scratch(c, (size_t)lwork * sizeof(double) + sizeof(double));
    double *rwork = (double *)scratch(c, m * sizeof(double));
    double *unused_vt = (double *)scratch(c, base_mul(m, m) * sizeof(double));  // jobvt 'N': never written
    int *info = (int *)scratch(c, sizeof(int));
    CHECK_CUSOLVER(culibs_solver.dgesvd(c->solver, 'S', 'N', N, M, a, N, s, vt, N, unused_vt, M, work, lwork, rwork, info));
    check_info(c, info, "cusolverDnDgesvd", m, n);
    scratch_free(c, work), scratch_free(c, rwork), scratch_free(c, unused_vt), scratch_free(c, info);
    finish(c);
}

// ----------------------------------------------------------------------------
// cuFFT: unnormalised like FFTW, so the inverse gives n times the signal

typedef struct {
    cufftHandle fwd, inv;
    size_t n;
    double *x;        // the forward transform's input, copied: the table promises x unchanged, cuFFT does not
    std::mutex *lock; // one execution at a time: a cuFFT plan's work area is its own
} CudaFft;

static LinalgFft *fft_plan_cuda(size_t n) {
    need_libraries();
    CudaFft *p = (CudaFft *)base_malloc(sizeof *p, "fft plans");
    p->n = n;
    CHECK_CUFFT(culibs_fft.plan_1d(&p->fwd, dim(n), CUFFT_D2Z, 1));
    CHECK_CUFFT(culibs_fft.plan_1d(&p->inv, dim(n), CUFFT_Z2D, 1));
    p->x = (double *)alloc_cuda(n * sizeof(double), "fft input copy");
    p->lock = new std::mutex;
    return (LinalgFft *)p;
}

static void fft_forward_cuda(const LinalgFft *plan, const double *x, LinalgComplex *X) {
    const CudaFft *p = (const CudaFft *)plan;
    ThreadCtx *c = ctx();
    std::lock_guard<std::mutex> hold(*p->lock);
    CHECK_CUDA(cudaMemcpyAsync(p->x, x, p->n * sizeof(double), cudaMemcpyDeviceToDevice, c->stream));
    CHECK_CUFFT(culibs_fft.set_stream(p->fwd, c->stream));
    CHECK_CUFFT(culibs_fft.exec_d2z(p->fwd, p->x, (cufftDoubleComplex *)X));
    finish(c);
}

// C2R destroys its input, as the table allows
static void fft_inverse_cuda(const LinalgFft *plan, LinalgComplex *X, double *x) {
    const CudaFft *p = (const CudaFft *)plan;
    ThreadCtx *c = ctx();
    std::lock_guard<std::mutex> hold(*p->lock);
    CHECK_CUFFT(culibs_fft.set_stream(p->inv, c->stream));
    CHECK_CUFFT(culibs_fft.exec_z2d(p->inv, (cufftDoubleComplex *)X, x));
    finish(c);
}

static void fft_free_cuda(LinalgFft *plan) {
    CudaFft *p = (CudaFft *)plan;
    if (!p) return;
    CHECK_CUFFT(culibs_fft.destroy(p->fwd));
    CHECK_CUFFT(culibs_fft.destroy(p->inv));
    free_cuda(p->x);
    delete p->lock;
    free(p);
}

// ----------------------------------------------------------------------------
// element-wise kernels, with the CPU's arithmetic (host/linalg.c) and no contraction into FMAs where the CPU
// rounds twice (__dmul_rn, __dadd_rn), so results agree bit for bit wherever the CPU build does not contract either

__global__ void to_float_k(float *dst, const double *src, size_t n) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = (float)src[i];
}

static void to_float_cuda(float *dst, const double *src, size_t n) {
    if (!n) return;
    ThreadCtx *c = ctx();
    to_float_k<<<blocks_for(n, 256), 256, 0, c->stream>>>(dst, src, n);
    CHECK_LAUNCH();
    finish(c);
}

static void fix_column_signs_cuda(double *a, size_t rows, size_t cols) {
    ThreadCtx *c = ctx();
    fix_signs(c, a, rows, cols);
    finish(c);
}

// out (R, m) row r = B[r, col[j]] / (lam[r] + alpha[j]); run: one reciprocal per row, in float, as the CPU
__global__ void shrink_k(float *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                         const double *alpha, size_t m, int run) {
    const size_t total = R * m, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t r = e / m, j = e % m;
        const float *Br = B + r * ldb;
        if (run) {
            const float inv = (float)(1.0 / (lam[r] + alpha[0]));
            out[e] = Br[col[0] + j] * inv;
        } else {
            out[e] = (float)(Br[col[j]] / (lam[r] + alpha[j]));
        }
    }
}

static void shrink_cuda(float *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                        const double *alpha, size_t m, int run) {
    if (!R || !m) return;
    ThreadCtx *c = ctx();
    shrink_k<<<blocks_for(R * m, 256), 256, 0, c->stream>>>(out, B, ldb, lam, R, col, alpha, m, run);
    CHECK_LAUNCH();
    finish(c);
}

// one thread per column, rows in order (the CPU's summation order; adjacent threads read adjacent entries)
__global__ void col_sums_k(double *s, const float *u, size_t ldu, const float *w, size_t ldw, const double *cw,
                           const float *z, size_t ldz, const size_t *col, size_t R, size_t m, int run) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < m; j += stride) {
        const size_t cj = run ? col[0] + j : col[j];
        double s1 = s[j], s2 = s[m + j], s3 = s[2 * m + j];
        for (size_t r = 0; r < R; r++) {
            const double v = u[r * ldu + j];
            s1 = __dadd_rn(s1, cw ? __dmul_rn(cw[r], v) : v);
            s2 = __dadd_rn(s2, __dmul_rn(v, (double)w[r * ldw + j]));
            s3 = __dadd_rn(s3, __dmul_rn(v, (double)z[r * ldz + cj]));
        }
        s[j] = s1, s[m + j] = s2, s[2 * m + j] = s3;
    }
}

static void col_sums_cuda(double *s, const float *u, size_t ldu, const float *w, size_t ldw, const double *cw,
                          const float *z, size_t ldz, const size_t *col, size_t R, size_t m, int run) {
    if (!m) return;
    ThreadCtx *c = ctx();
    col_sums_k<<<blocks_for(m, 128), 128, 0, c->stream>>>(s, u, ldu, w, ldw, cw, z, ldz, col, R, m, run);
    CHECK_LAUNCH();
    finish(c);
}

// ----------------------------------------------------------------------------
// the fits' statistics: host/linalg.c's loops, one thread per output column or entry, each running the CPU's loop
// over the other index in the CPU's order with its separate roundings, so the results agree bit for bit

// one thread per column: its mean down the rows, then the column centred in both precisions
__global__ void centre_k(float *xf, double *xd, double *mean, size_t n, size_t p) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < p; j += stride) {
        double m = 0;
        for (size_t i = 0; i < n; i++) m = __dadd_rn(m, (double)xf[i * p + j]);
        m = __ddiv_rn(m, (double)n);
        mean[j] = m;
        for (size_t i = 0; i < n; i++) {
            const double d = __dsub_rn((double)xf[i * p + j], m);
            xd[i * p + j] = d;
            xf[i * p + j] = (float)d;
        }
    }
}

static void centre_cuda(float *xf, double *xd, double *mean, size_t n, size_t p) {
    if (!p) return;
    ThreadCtx *c = ctx();
    centre_k<<<blocks_for(p, 128), 128, 0, c->stream>>>(xf, xd, mean, n, p);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void dsum_rows_k(double *s, const double *a, size_t lda, size_t rows, size_t cols) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < cols; j += stride) {
        double acc = s[j];
        for (size_t r = 0; r < rows; r++) acc = __dadd_rn(acc, a[r * lda + j]);
        s[j] = acc;
    }
}

static void dsum_rows_cuda(double *s, const double *a, size_t lda, size_t rows, size_t cols) {
    if (!cols) return;
    ThreadCtx *c = ctx();
    dsum_rows_k<<<blocks_for(cols, 256), 256, 0, c->stream>>>(s, a, lda, rows, cols);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void centre_gram_k(double *G, size_t p, const double *mu, const double *sx, double n, const double *s) {
    const size_t total = p * p, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t i = e / p, j = e % p;
        const double nmm = __dmul_rn(__dmul_rn(n, mu[i]), mu[j]);
        double g;
        if (!sx) {
            g = __dsub_rn(G[e], nmm);
        } else {
            g = __dsub_rn(G[e], __dmul_rn(mu[i], sx[j]));
            g = __dsub_rn(g, __dmul_rn(sx[i], mu[j]));
            g = __dadd_rn(g, nmm);
        }
        G[e] = __dmul_rn(__dmul_rn(g, s[i]), s[j]);
    }
}

static void centre_gram_cuda(double *G, size_t p, const double *mu, const double *sx, double n, const double *s) {
    if (!p) return;
    ThreadCtx *c = ctx();
    centre_gram_k<<<blocks_for(p * p, 256), 256, 0, c->stream>>>(G, p, mu, sx, n, s);
    CHECK_LAUNCH();
    finish(c);
}

// one thread per entry of out: the masked segments in order into a float64 sum
__global__ void sum_segments_k(float *out, const float *D, const unsigned char *mask, size_t n_seg, size_t p,
                               size_t t, const double *mu, const double *y, double y_scale, const double *s) {
    const size_t total = p * t, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t i = e / t, j = e % t;
        double acc = 0;
        for (size_t g = 0; g < n_seg; g++)
            if (mask[g]) acc = __dadd_rn(acc, (double)D[g * p * t + e]);
        out[e] = (float)__dmul_rn(__dsub_rn(acc, __dmul_rn(__dmul_rn(mu[i], y[j]), y_scale)), s[i]);
    }
}

// the mask is host memory: copied into the op's scratch first
static void sum_segments_cuda(float *out, const float *D, const unsigned char *mask, size_t n_seg, size_t p, size_t t,
                              const double *mu, const double *y, double y_scale, const double *s) {
    if (!p || !t) return;
    ThreadCtx *c = ctx();
    unsigned char *d_mask = (unsigned char *)scratch(c, n_seg);
    if (n_seg) CHECK_CUDA(cudaMemcpyAsync(d_mask, mask, n_seg, cudaMemcpyHostToDevice, c->stream));
    sum_segments_k<<<blocks_for(p * t, 256), 256, 0, c->stream>>>(out, D, d_mask, n_seg, p, t, mu, y, y_scale, s);
    CHECK_LAUNCH();
    scratch_free(c, d_mask);
    finish(c);
}

// one block per row; 4-byte words where every address and length allows, else bytes
__global__ void gather_rows_k(char *dst, const char *src, size_t stride, const size_t *rows, size_t n,
                              size_t row_bytes, int words) {
    for (size_t i = blockIdx.x; i < n; i += gridDim.x) {
        char *d = dst + i * row_bytes;
        const char *s = src + rows[i] * stride;
        if (words) {
            for (size_t k = threadIdx.x; k < row_bytes / 4; k += blockDim.x)
                ((uint32_t *)d)[k] = ((const uint32_t *)s)[k];
        } else {
            for (size_t k = threadIdx.x; k < row_bytes; k += blockDim.x) d[k] = s[k];
        }
    }
}

// the row indices are host memory: copied into the op's scratch first
static void gather_rows_cuda(void *dst, const void *src, size_t stride, const size_t *rows, size_t n,
                             size_t row_bytes) {
    if (!n || !row_bytes) return;
    ThreadCtx *c = ctx();
    size_t *d_rows = (size_t *)scratch(c, n * sizeof(size_t));
    CHECK_CUDA(cudaMemcpyAsync(d_rows, rows, n * sizeof(size_t), cudaMemcpyHostToDevice, c->stream));
    const int words = ((uintptr_t)dst | (uintptr_t)src | stride | row_bytes) % 4 == 0;
    gather_rows_k<<<(unsigned)(n < 65535 ? n : 65535), 256, 0, c->stream>>>((char *)dst, (const char *)src, stride,
                                                                            d_rows, n, row_bytes, words);
    CHECK_LAUNCH();
    scratch_free(c, d_rows);
    finish(c);
}

__global__ void sub_scale_k(double *a, size_t rows, size_t cols, const double *mu, const double *s) {
    const size_t total = rows * cols, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t j = e % cols;
        const double d = __dsub_rn(a[e], mu[j]);
        a[e] = s ? __dmul_rn(d, s[j]) : d;
    }
}

static void sub_scale_cuda(double *a, size_t rows, size_t cols, const double *mu, const double *s) {
    if (!rows || !cols) return;
    ThreadCtx *c = ctx();
    sub_scale_k<<<blocks_for(rows * cols, 256), 256, 0, c->stream>>>(a, rows, cols, mu, s);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void shrink_d_k(double *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                           const double *alpha, size_t m) {
    const size_t total = R * m, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t r = e / m, j = e % m;
        out[e] = __ddiv_rn((double)B[r * ldb + col[j]], __dadd_rn(lam[r], alpha[j]));
    }
}

static void shrink_d_cuda(double *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                          const double *alpha, size_t m) {
    if (!R || !m) return;
    ThreadCtx *c = ctx();
    shrink_d_k<<<blocks_for(R * m, 256), 256, 0, c->stream>>>(out, B, ldb, lam, R, col, alpha, m);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void scale_rows_k(double *a, size_t rows, size_t cols, const double *f) {
    const size_t total = rows * cols, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride)
        a[e] = __dmul_rn(a[e], f[e / cols]);
}

static void scale_rows_cuda(double *a, size_t rows, size_t cols, const double *f) {
    if (!rows || !cols) return;
    ThreadCtx *c = ctx();
    scale_rows_k<<<blocks_for(rows * cols, 256), 256, 0, c->stream>>>(a, rows, cols, f);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void widen_k(double *dst, const float *src, size_t lds, size_t rows, size_t cols) {
    const size_t total = rows * cols, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride)
        dst[e] = (double)src[(e / cols) * lds + e % cols];
}

static void widen_cuda(double *dst, const float *src, size_t lds, size_t rows, size_t cols) {
    if (!rows || !cols) return;
    ThreadCtx *c = ctx();
    widen_k<<<blocks_for(rows * cols, 256), 256, 0, c->stream>>>(dst, src, lds, rows, cols);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void divided_differences_k(double *M, const double *H, const double *lam, const size_t *block, size_t R) {
    const size_t total = R * R, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t i = e / R, j = e % R;
        M[e] = block[i] == block[j] ? 0.0 : __ddiv_rn(H[e], __dsub_rn(lam[j], lam[i]));
    }
}

static void divided_differences_cuda(double *M, const double *H, const double *lam, const size_t *block, size_t R) {
    if (!R) return;
    ThreadCtx *c = ctx();
    divided_differences_k<<<blocks_for(R * R, 256), 256, 0, c->stream>>>(M, H, lam, block, R);
    CHECK_LAUNCH();
    finish(c);
}

// one thread per (i, t): its terms, then the tie block's in the CPU's order
__global__ void pf_terms_k(double *F, double *G, const double *Bc, const double *Q, const double *H, const double *mt,
                           const float *Pm, size_t ldp, const size_t *block, const size_t *block_end, size_t R,
                           size_t m) {
    const size_t total = R * m, stride = (size_t)gridDim.x * blockDim.x, m2 = 2 * m;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride) {
        const size_t i = e / m, t = e % m;
        const double b = Bc[e], hii = H[i * R + i];
        const double v = __dmul_rn(__dmul_rn(2.0, b), Q[e]);
        double u = __dmul_rn(__dmul_rn(hii, b), b), au = fabs(u);
        for (size_t j = block[i]; j < block_end[i]; j++)
            if (j != i) {
                const double uj = __dmul_rn(__dmul_rn(b, H[i * R + j]), Bc[j * m + t]);
                u = __dadd_rn(u, uj), au = __dadd_rn(au, fabs(uj));
            }
        F[i * m2 + t] = v, F[i * m2 + m + t] = fabs(v);
        F[(R + i) * m2 + t] = u, F[(R + i) * m2 + m + t] = au;
        G[i * m2 + t] = __dmul_rn(mt[i], b), G[i * m2 + m + t] = __dmul_rn(b, (double)Pm[i * ldp + t]);
    }
}

static void pf_terms_cuda(double *F, double *G, const double *Bc, const double *Q, const double *H, const double *mt,
                          const float *Pm, size_t ldp, const size_t *block, const size_t *block_end, size_t R,
                          size_t m) {
    if (!R || !m) return;
    ThreadCtx *c = ctx();
    pf_terms_k<<<blocks_for(R * m, 256), 256, 0, c->stream>>>(F, G, Bc, Q, H, mt, Pm, ldp, block, block_end, R, m);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void gather_cols_axpy_k(double *dst, const double *src, size_t lds, size_t rows, const size_t *cols,
                                   size_t n, double scale) {
    const size_t total = rows * n, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride)
        dst[e] = __dadd_rn(dst[e], __dmul_rn(scale, src[(e / n) * lds + cols[e % n]]));
}

// the column list is host memory: copied into the op's scratch first
static void gather_cols_axpy_cuda(double *dst, const double *src, size_t lds, size_t rows, const size_t *cols,
                                  size_t n, double scale) {
    if (!rows || !n) return;
    ThreadCtx *c = ctx();
    size_t *d_cols = (size_t *)scratch(c, n * sizeof(size_t));
    CHECK_CUDA(cudaMemcpyAsync(d_cols, cols, n * sizeof(size_t), cudaMemcpyHostToDevice, c->stream));
    gather_cols_axpy_k<<<blocks_for(rows * n, 256), 256, 0, c->stream>>>(dst, src, lds, rows, d_cols, n, scale);
    CHECK_LAUNCH();
    scratch_free(c, d_cols);
    finish(c);
}

// one thread per row, in order (rows of a kernel: a few thousand)
__global__ void row_means_k(double *m, const double *a, size_t rows, size_t cols) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < rows; i += stride) {
        double sum = 0;
        for (size_t j = 0; j < cols; j++) sum = __dadd_rn(sum, a[i * cols + j]);
        m[i] = __ddiv_rn(sum, (double)cols);
    }
}

static void row_means_cuda(double *m, const double *a, size_t rows, size_t cols) {
    if (!rows) return;
    ThreadCtx *c = ctx();
    row_means_k<<<blocks_for(rows, 128), 128, 0, c->stream>>>(m, a, rows, cols);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void double_centre_k(double *a, size_t rows, size_t cols, const double *ar, const double *ac, double cc) {
    const size_t total = rows * cols, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride)
        a[e] = __dadd_rn(__dsub_rn(__dsub_rn(a[e], ar[e / cols]), ac[e % cols]), cc);
}

static void double_centre_cuda(double *a, size_t rows, size_t cols, const double *ar, const double *ac, double cc) {
    if (!rows || !cols) return;
    ThreadCtx *c = ctx();
    double_centre_k<<<blocks_for(rows * cols, 256), 256, 0, c->stream>>>(a, rows, cols, ar, ac, cc);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void sub_cols_f_k(float *a, size_t rows, size_t cols, const double *v) {
    const size_t total = rows * cols, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride)
        a[e] = __fsub_rn(a[e], (float)v[e % cols]);
}

static void sub_cols_f_cuda(float *a, size_t rows, size_t cols, const double *v) {
    if (!rows || !cols) return;
    ThreadCtx *c = ctx();
    sub_cols_f_k<<<blocks_for(rows * cols, 256), 256, 0, c->stream>>>(a, rows, cols, v);
    CHECK_LAUNCH();
    finish(c);
}

// one thread per column: its mean (the CPU's order), the column centred, and its sum of squares into colsq; the
// total is then the sum of colsq in column order (the CPU sums row by row: equal to rounding)
__global__ void dcentre_k(double *x, size_t n, size_t p, double *mean, double *colsq) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < p; j += stride) {
        double m = 0, sq = 0;
        for (size_t i = 0; i < n; i++) m = __dadd_rn(m, x[i * p + j]);
        m = __ddiv_rn(m, (double)n);
        mean[j] = m;
        for (size_t i = 0; i < n; i++) {
            const double v = __dsub_rn(x[i * p + j], m);
            x[i * p + j] = v;
            sq = __dadd_rn(sq, __dmul_rn(v, v));
        }
        colsq[j] = sq;
    }
}

__global__ void sum_k(double *total, const double *v, size_t n) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        double t = 0;
        for (size_t j = 0; j < n; j++) t += v[j];
        *total = t;
    }
}

static void dcentre_cuda(double *x, size_t n, size_t p, double *mean, double *total) {
    ThreadCtx *c = ctx();
    double *colsq = (double *)scratch(c, (p ? p : 1) * sizeof(double));
    if (p) {
        dcentre_k<<<blocks_for(p, 128), 128, 0, c->stream>>>(x, n, p, mean, colsq);
        CHECK_LAUNCH();
    }
    sum_k<<<1, 1, 0, c->stream>>>(total, colsq, p);
    CHECK_LAUNCH();
    scratch_free(c, colsq);
    finish(c);
}

__global__ void div_cols_k(double *a, size_t rows, size_t cols, const double *f) {
    const size_t total = rows * cols, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride)
        a[e] = __ddiv_rn(a[e], f[e % cols]);
}

static void div_cols_cuda(double *a, size_t rows, size_t cols, const double *f) {
    if (!rows || !cols) return;
    ThreadCtx *c = ctx();
    div_cols_k<<<blocks_for(rows * cols, 256), 256, 0, c->stream>>>(a, rows, cols, f);
    CHECK_LAUNCH();
    finish(c);
}

__global__ void gather_block_k(double *a, const double *K, size_t ldk, const size_t *rows, size_t n) {
    const size_t total = n * n, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride)
        a[e] = K[rows[e / n] * ldk + rows[e % n]];
}

// the row list is host memory: copied into the op's scratch first
static void gather_block_cuda(double *a, const double *K, size_t ldk, const size_t *rows, size_t n) {
    if (!n) return;
    ThreadCtx *c = ctx();
    size_t *d_rows = (size_t *)scratch(c, n * sizeof(size_t));
    CHECK_CUDA(cudaMemcpyAsync(d_rows, rows, n * sizeof(size_t), cudaMemcpyHostToDevice, c->stream));
    gather_block_k<<<blocks_for(n * n, 256), 256, 0, c->stream>>>(a, K, ldk, d_rows, n);
    CHECK_LAUNCH();
    scratch_free(c, d_rows);
    finish(c);
}

__global__ void kernel_centre_k(double *a, size_t n, const double *r, double rr) {
    const size_t total = n * n, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += stride)
        a[e] = __dadd_rn(a[e], __dsub_rn(__dsub_rn(rr, r[e / n]), r[e % n]));
}

static void kernel_centre_cuda(double *a, size_t n, const double *r, double rr) {
    if (!n) return;
    ThreadCtx *c = ctx();
    kernel_centre_k<<<blocks_for(n * n, 256), 256, 0, c->stream>>>(a, n, r, rr);
    CHECK_LAUNCH();
    finish(c);
}

// conj(a) b = (ar br + ai bi) + i (ar bi - ai br): C's complex product of (ar, -ai) and b, for finite bins
__global__ void conj_mul_k(LinalgComplex *out, const LinalgComplex *a, const LinalgComplex *b, size_t n) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t f = blockIdx.x * (size_t)blockDim.x + threadIdx.x; f < n; f += stride) {
        const LinalgComplex x = a[f], y = b[f];
        LinalgComplex r;
        r.re = __dadd_rn(__dmul_rn(x.re, y.re), __dmul_rn(x.im, y.im));
        r.im = __dsub_rn(__dmul_rn(x.re, y.im), __dmul_rn(x.im, y.re));
        out[f] = r;
    }
}

static void conj_mul_cuda(LinalgComplex *out, const LinalgComplex *a, const LinalgComplex *b, size_t n) {
    if (!n) return;
    ThreadCtx *c = ctx();
    conj_mul_k<<<blocks_for(n, 256), 256, 0, c->stream>>>(out, a, b, n);
    CHECK_LAUNCH();
    finish(c);
}

// ----------------------------------------------------------------------------

extern "C" const LinalgOps linalg_ops_cuda = {
    .name = "cuda",
    .alloc = alloc_cuda,
    .free = free_cuda,
    .upload = upload_cuda,
    .download = download_cuda,
    .copy = copy_cuda,
    .memset = memset_cuda,
    .sgemm = sgemm_cuda,
    .dgemm = dgemm_cuda,
    .dgemv = dgemv_cuda,
    .dsyrk = dsyrk_cuda,
    .dsyr = dsyr_cuda,
    .eigh = eigh_cuda,
    .eigh_top = eigh_top_cuda,
    .orthonormalise = orthonormalise_cuda,
    .svd_right = svd_right_cuda,
    .fft_plan = fft_plan_cuda,
    .fft_forward = fft_forward_cuda,
    .fft_inverse = fft_inverse_cuda,
    .fft_free = fft_free_cuda,
    .to_float = to_float_cuda,
    .fix_column_signs = fix_column_signs_cuda,
    .shrink = shrink_cuda,
    .col_sums = col_sums_cuda,
    .centre = centre_cuda,
    .dsum_rows = dsum_rows_cuda,
    .centre_gram = centre_gram_cuda,
    .sum_segments = sum_segments_cuda,
    .gather_rows = gather_rows_cuda,
    .sub_scale = sub_scale_cuda,
    .shrink_d = shrink_d_cuda,
    .scale_rows = scale_rows_cuda,
    .widen = widen_cuda,
    .divided_differences = divided_differences_cuda,
    .pf_terms = pf_terms_cuda,
    .gather_cols_axpy = gather_cols_axpy_cuda,
    .row_means = row_means_cuda,
    .double_centre = double_centre_cuda,
    .sub_cols_f = sub_cols_f_cuda,
    .dcentre = dcentre_cuda,
    .div_cols = div_cols_cuda,
    .gather_block = gather_block_cuda,
    .kernel_centre = kernel_centre_cuda,
    .conj_mul = conj_mul_cuda,
};
