#include "host/linalg.h"

#include <cblas.h>
#include <fftw3.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"

// ----------------------------------------------------------------------------
// memory: host memory, 64-byte aligned (FFTW's new-array execution needs the planning arrays' alignment, and
// the workspaces are carved at 64-byte offsets)

static void *alloc_cpu(size_t bytes, const char *label) {
    size_t rounded = bytes + 63 < bytes ? 0 : (bytes + 63) / 64 * 64;
    void *p = rounded ? aligned_alloc(64, rounded) : NULL;
    if (!p && bytes) DIE("reduce the problem size or ask the scheduler for more memory",
                         "cannot allocate %zu bytes (%.1f MiB) for %s", bytes, (double)bytes / 1048576.0, label);
    return p;
}

static void free_cpu(void *p) { free(p); }

static void copy_cpu(void *dst, const void *src, size_t bytes) {
    if (bytes) memcpy(dst, src, bytes);
}

static void memset_cpu(void *p, int byte, size_t bytes) {
    if (bytes) memset(p, byte, bytes);
}

// ----------------------------------------------------------------------------
// BLAS

// a dimension as the BLAS and LAPACK integers take it
static int dim(size_t n) {
    if (n > INT_MAX) DIE("split the problem (smaller target batches or fewer samples)",
                         "a matrix dimension of %zu exceeds the BLAS integer range", n);
    return (int)n;
}

static enum CBLAS_TRANSPOSE cb(LinalgTrans t) { return t == LINALG_T ? CblasTrans : CblasNoTrans; }

static void sgemm_cpu(LinalgTrans ta, LinalgTrans tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                      size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    cblas_sgemm(CblasRowMajor, cb(ta), cb(tb), dim(M), dim(N), dim(K), alpha, A, dim(lda), B, dim(ldb), beta, C,
                dim(ldc));
}

static void dgemm_cpu(LinalgTrans ta, LinalgTrans tb, size_t M, size_t N, size_t K, double alpha, const double *A,
                      size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc) {
    cblas_dgemm(CblasRowMajor, cb(ta), cb(tb), dim(M), dim(N), dim(K), alpha, A, dim(lda), B, dim(ldb), beta, C,
                dim(ldc));
}

static void dgemv_cpu(LinalgTrans ta, size_t M, size_t N, double alpha, const double *A, size_t lda, const double *x,
                      double beta, double *y) {
    cblas_dgemv(CblasRowMajor, cb(ta), dim(M), dim(N), alpha, A, dim(lda), x, 1, beta, y, 1);
}

static void mirror_upper(double *C, size_t n, size_t ldc) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) C[i * ldc + j] = C[j * ldc + i];
}

static void dsyrk_cpu(LinalgTrans ta, size_t n, size_t k, double alpha, const double *A, size_t lda, double beta,
                      double *C, size_t ldc) {
    cblas_dsyrk(CblasRowMajor, CblasUpper, cb(ta), dim(n), dim(k), alpha, A, dim(lda), beta, C, dim(ldc));
    mirror_upper(C, n, ldc);
}

static void dsyr_cpu(size_t n, double alpha, const double *x, double *A, size_t lda) {
    cblas_dsyr(CblasRowMajor, CblasUpper, dim(n), alpha, x, 1, A, dim(lda));
    mirror_upper(A, n, lda);
}

// ----------------------------------------------------------------------------
// LAPACK

static void fix_column_signs_cpu(double *a, size_t rows, size_t cols) {
    for (size_t c = 0; c < cols; c++) {
        size_t best = 0;
        for (size_t r = 1; r < rows; r++)
            if (fabs(a[r * cols + c]) > fabs(a[best * cols + c])) best = r;
        if (a[best * cols + c] < 0)
            for (size_t r = 0; r < rows; r++) a[r * cols + c] = -a[r * cols + c];
    }
}


static void eigh_cpu(double *a, double *w, size_t n) {
    if (n == 0) return;
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', dim(n), a, dim(n), w);
    if (info != 0)
        DIE("the matrix holds NaN or Inf; check the inputs", "LAPACKE_dsyevd failed (info %d) on a %zux%zu matrix",
            (int)info, n, n);
    // LAPACK gives ascending order: reverse the columns, then fix signs
    for (size_t i = 0; i < n / 2; i++) {
        size_t j = n - 1 - i;
        double t = w[i];
        w[i] = w[j];
        w[j] = t;
        for (size_t r = 0; r < n; r++) {
            t = a[r * n + i];
            a[r * n + i] = a[r * n + j];
            a[r * n + j] = t;
        }
    }
    fix_column_signs_cpu(a, n, n);
}

// Householder reduction to tridiagonal form (dsytrd), the k wanted eigenpairs of the tridiagonal matrix by MRRR
// (dstemr: O(n k) for a subset, where dsyevr falls back to bisection and inverse iteration), back-transformation
// of those k vectors (dormtr). Where MRRR does not converge, the full dsyevd of a kept copy.
static void eigh_top_cpu(double *a, double *w, double *v, size_t n, size_t k) {
    if (k == 0) return;
    const lapack_int N = dim(n), K = dim(k);
    double *copy = base_malloc(base_mul(n, n) * sizeof(double), "eigen copy");
    memcpy(copy, a, n * n * sizeof(double));
    double *d = base_malloc(n * sizeof(double), "tridiagonal"), *e = base_malloc(n * sizeof(double), "tridiagonal");
    double *tau = base_malloc(n * sizeof(double), "reflectors"), *wall = base_malloc(n * sizeof(double), "eigenvalues");
    lapack_int *support = base_malloc(2 * k * sizeof(lapack_int), "eigenvector support"), found = 0;
    lapack_logical tryrac = 1;
    // column-major throughout (a is symmetric: its upper triangle row-major is the lower one column-major), so
    // no interface copies; z (n, k) column-major is v transposed
    double *z = base_malloc(base_mul(n, k) * sizeof(double), "eigenvectors");
    lapack_int info = LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'L', N, a, N, d, e, tau);
    if (info == 0)
        info = LAPACKE_dstemr(LAPACK_COL_MAJOR, 'V', 'I', N, d, e, 0.0, 0.0, N - K + 1, N, &found, wall, z, N, K,
                              support, &tryrac);
    if (info == 0 && found == K) info = LAPACKE_dormtr(LAPACK_COL_MAJOR, 'L', 'L', 'N', N, K, a, N, tau, z, N);
    for (size_t r = 0; info == 0 && found == K && r < n; r++)
        for (size_t i = 0; i < k; i++) v[r * k + i] = z[i * n + r];
    free(z);
    if (info != 0 || found != K) {
        eigh_cpu(copy, wall, n);  // descending, signs fixed
        for (size_t i = 0; i < k; i++) w[i] = wall[i];
        for (size_t r = 0; r < n; r++) memcpy(v + r * k, copy + r * n, k * sizeof(double));
    } else {
        for (size_t i = 0; i < k; i++) w[i] = wall[k - 1 - i];  // ascending from LAPACK: reverse
        for (size_t r = 0; r < n; r++)
            for (size_t i = 0; i < k / 2; i++) {
                double t = v[r * k + i];
                v[r * k + i] = v[r * k + k - 1 - i];
                v[r * k + k - 1 - i] = t;
            }
        fix_column_signs_cpu(v, n, k);
    }
    free(copy), free(d), free(e), free(tau), free(wall), free(support);
}


static void orthonormalise_cpu(double *q, size_t m, size_t l) {
    double *tau = alloc_cpu(l * sizeof(double), "qr");
    lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, dim(m), dim(l), q, dim(l), tau);
    if (info == 0) info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, dim(m), dim(l), dim(l), q, dim(l), tau);
    if (info != 0) DIE("the features hold NaN or Inf", "QR failed (info %d) on a %zux%zu matrix", (int)info, m, l);
    free(tau);
}

static void svd_right_cpu(double *a, double *s, double *vt, size_t m, size_t n) {
    double *superb = alloc_cpu(m * sizeof(double), "svd");
    lapack_int info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'S', dim(m), dim(n), a, dim(n), s, NULL, 1, vt, dim(n),
                                     superb);
    if (info != 0) DIE("the features hold NaN or Inf", "SVD failed (info %d) on a %zux%zu matrix", (int)info, m, n);
    free(superb);
}

// ----------------------------------------------------------------------------
// FFT

struct LinalgFft {
    fftw_plan fwd, inv;
};

static LinalgFft *fft_plan_cpu(size_t n) {
    LinalgFft *p = base_malloc(sizeof *p, "fft plans");
    double *x = fftw_alloc_real(n);
    fftw_complex *X = fftw_alloc_complex(n / 2 + 1);
    if (!x || !X) DIE("reduce the problem size", "fftw_malloc failed for a transform of %zu samples", n);
    // FFTW's planner is not thread-safe, and layers' fits run on several threads at once: one planner at a time,
    // in every module (the critical section's name is global)
#pragma omp critical(fftw_planner)
    {
        p->fwd = fftw_plan_dft_r2c_1d(dim(n), x, X, FFTW_ESTIMATE);
        p->inv = fftw_plan_dft_c2r_1d(dim(n), X, x, FFTW_ESTIMATE);
    }
    if (!p->fwd || !p->inv) DIE("this is a bug in brainsweep", "FFTW could not plan a transform of %zu samples", n);
    fftw_free(x), fftw_free(X);
    return p;
}

static void fft_forward_cpu(const LinalgFft *p, const double *x, double complex *X) {
    fftw_execute_dft_r2c(p->fwd, (double *)x, X);  // r2c leaves its input alone
}

static void fft_inverse_cpu(const LinalgFft *p, double complex *X, double *x) {
    fftw_execute_dft_c2r(p->inv, X, x);
}

static void fft_free_cpu(LinalgFft *p) {
    if (!p) return;
#pragma omp critical(fftw_planner)
    fftw_destroy_plan(p->fwd), fftw_destroy_plan(p->inv);
    free(p);
}

// ----------------------------------------------------------------------------
// element-wise kernels

static void to_float_cpu(float *dst, const double *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

// Cloned per instruction set: with col_sums, these loops are a sixth of a fit's time.
__attribute__((target_clones("default", "avx2", "avx512f"))) static void shrink_cpu(
    float *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col, const double *alpha,
    size_t m, int run) {
    for (size_t r = 0; r < R; r++) {
        const float *Br = B + r * ldb;
        float *o = out + r * m;
        if (run) {
            const float inv = (float)(1.0 / (lam[r] + alpha[0]));
            for (size_t j = 0; j < m; j++) o[j] = Br[col[0] + j] * inv;
        } else {
            for (size_t j = 0; j < m; j++) o[j] = (float)(Br[col[j]] / (lam[r] + alpha[j]));
        }
    }
}

__attribute__((target_clones("default", "avx2", "avx512f"))) static void col_sums_cpu(
    double *s, const float *u, size_t ldu, const float *w, size_t ldw, const double *c, const float *z, size_t ldz,
    const size_t *col, size_t R, size_t m, int run) {
    double *s1 = s, *s2 = s + m, *s3 = s + 2 * m;
    const size_t c0 = col[0];
    for (size_t r = 0; r < R; r++) {
        const float *ur = u + r * ldu, *wr = w + r * ldw, *zr = z + r * ldz;
        if (c) {
            const double cr = c[r];
            if (run) {
                for (size_t j = 0; j < m; j++) {
                    double v = ur[j];
                    s1[j] += cr * v, s2[j] += v * wr[j], s3[j] += v * zr[c0 + j];
                }
            } else {
                for (size_t j = 0; j < m; j++) {
                    double v = ur[j];
                    s1[j] += cr * v, s2[j] += v * wr[j], s3[j] += v * zr[col[j]];
                }
            }
        } else if (run) {
            for (size_t j = 0; j < m; j++) {
                double v = ur[j];
                s1[j] += v, s2[j] += v * wr[j], s3[j] += v * zr[c0 + j];
            }
        } else {
            for (size_t j = 0; j < m; j++) {
                double v = ur[j];
                s1[j] += v, s2[j] += v * wr[j], s3[j] += v * zr[col[j]];
            }
        }
    }
}

// ----------------------------------------------------------------------------
// the fits' statistics (moved from host/ridge.c as they were)

static void centre_cpu(float *xf, double *xd, double *mean, size_t n, size_t p) {
    memset(mean, 0, p * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) mean[j] += xf[i * p + j];
    for (size_t j = 0; j < p; j++) mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) {
            xd[i * p + j] = xf[i * p + j] - mean[j];
            xf[i * p + j] = (float)xd[i * p + j];
        }
}

static void dsum_rows_cpu(double *s, const double *a, size_t lda, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) s[j] += a[r * lda + j];
}

static void centre_gram_cpu(double *G, size_t p, const double *mu, const double *sx, double n, const double *s) {
    if (!sx) {
        for (size_t i = 0; i < p; i++)
            for (size_t j = 0; j < p; j++) G[i * p + j] = (G[i * p + j] - n * mu[i] * mu[j]) * s[i] * s[j];
    } else {
        for (size_t i = 0; i < p; i++)
            for (size_t j = 0; j < p; j++)
                G[i * p + j] = (G[i * p + j] - mu[i] * sx[j] - sx[i] * mu[j] + n * mu[i] * mu[j]) * s[i] * s[j];
    }
}

static void sum_segments_cpu(float *out, const float *D, const unsigned char *mask, size_t n_seg, size_t p, size_t t,
                             const double *mu, const double *y, double y_scale, const double *s) {
    enum { CHUNK = 256 };  // a row's float64 accumulators stay in registers and L1
#pragma omp parallel for if (p * t > 65536)
    for (size_t i = 0; i < p; i++) {
        double acc[CHUNK];
        for (size_t t0 = 0; t0 < t; t0 += CHUNK) {
            size_t m = t - t0 < CHUNK ? t - t0 : CHUNK;
            for (size_t j = 0; j < m; j++) acc[j] = 0;
            for (size_t g = 0; g < n_seg; g++)
                if (mask[g]) {
                    const float *d = D + (g * p + i) * t + t0;
                    for (size_t j = 0; j < m; j++) acc[j] += d[j];
                }
            for (size_t j = 0; j < m; j++) out[i * t + t0 + j] = (float)((acc[j] - mu[i] * y[t0 + j] * y_scale) * s[i]);
        }
    }
}

static void gather_rows_cpu(void *dst, const void *src, size_t stride, const size_t *rows, size_t n, size_t row_bytes) {
    for (size_t i = 0; i < n; i++)
        memcpy((char *)dst + i * row_bytes, (const char *)src + rows[i] * stride, row_bytes);
}

static void sub_scale_cpu(double *a, size_t rows, size_t cols, const double *mu, const double *s) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++)
            a[r * cols + j] = s ? (a[r * cols + j] - mu[j]) * s[j] : a[r * cols + j] - mu[j];
}

static void shrink_d_cpu(double *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                         const double *alpha, size_t m) {
    for (size_t r = 0; r < R; r++)
        for (size_t j = 0; j < m; j++) out[r * m + j] = B[r * ldb + col[j]] / (lam[r] + alpha[j]);
}

static void scale_rows_cpu(double *a, size_t rows, size_t cols, const double *f) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) a[r * cols + j] *= f[r];
}

static void widen_cpu(double *dst, const float *src, size_t lds, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++)
        for (size_t t = 0; t < cols; t++) dst[i * cols + t] = src[i * lds + t];
}

static void divided_differences_cpu(double *M, const double *H, const double *lam, const size_t *block, size_t R) {
#pragma omp parallel for if (R > 64)
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < R; j++) M[i * R + j] = block[i] == block[j] ? 0.0 : H[i * R + j] / (lam[j] - lam[i]);
}

static void pf_terms_cpu(double *F, double *G, const double *Bc, const double *Q, const double *H, const double *mt,
                         const float *Pm, size_t ldp, const size_t *block, const size_t *block_end, size_t R,
                         size_t m) {
    const size_t m2 = 2 * m;
    for (size_t i = 0; i < R; i++) {
        const double *bi = Bc + i * m, *qi = Q + i * m, hii = H[i * R + i], mti = mt[i];
        const float *pi = Pm + i * ldp;
        double *fv = F + i * m2, *fu = F + (R + i) * m2, *g = G + i * m2;
        for (size_t t = 0; t < m; t++) {
            double v = 2.0 * bi[t] * qi[t], u = hii * bi[t] * bi[t];
            fv[t] = v, fv[m + t] = fabs(v), fu[t] = u, fu[m + t] = fabs(u);
            g[t] = mti * bi[t], g[m + t] = bi[t] * pi[t];
        }
        for (size_t j = block[i]; j < block_end[i]; j++)  // tied eigenvalues: d_i d_j = d_i^2
            if (j != i)
                for (size_t t = 0; t < m; t++) {
                    double u = bi[t] * H[i * R + j] * Bc[j * m + t];
                    fu[t] += u, fu[m + t] += fabs(u);
                }
    }
}

static void gather_cols_axpy_cpu(double *dst, const double *src, size_t lds, size_t rows, const size_t *cols, size_t n,
                                 double scale) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < n; j++) dst[i * n + j] += scale * src[i * lds + cols[j]];
}

static void row_means_cpu(double *m, const double *a, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++) {
        double sum = 0;
        for (size_t j = 0; j < cols; j++) sum += a[i * cols + j];
        m[i] = sum / (double)cols;
    }
}

static void double_centre_cpu(double *a, size_t rows, size_t cols, const double *ar, const double *ac, double cc) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) a[i * cols + j] = a[i * cols + j] - ar[i] - ac[j] + cc;
}

static void sub_cols_f_cpu(float *a, size_t rows, size_t cols, const double *v) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) a[i * cols + j] -= (float)v[j];
}

// moved from host/pca.c's centred_rows
static void dcentre_cpu(double *x, size_t n, size_t p, double *mean, double *total) {
    memset(mean, 0, p * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) mean[j] += x[i * p + j];
    for (size_t j = 0; j < p; j++) mean[j] /= (double)n;
    double t = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) {
            double v = x[i * p + j] -= mean[j];
            t += v * v;
        }
    *total = t;
}

static void div_cols_cpu(double *a, size_t rows, size_t cols, const double *f) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) a[i * cols + j] /= f[j];
}

static void gather_block_cpu(double *a, const double *K, size_t ldk, const size_t *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) a[i * n + j] = K[rows[i] * ldk + rows[j]];
}

static void kernel_centre_cpu(double *a, size_t n, const double *r, double rr) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) a[i * n + j] += rr - r[i] - r[j];
}

static void conj_mul_cpu(double complex *out, const double complex *a, const double complex *b, size_t n) {
    for (size_t f = 0; f < n; f++) out[f] = conj(a[f]) * b[f];
}

const LinalgOps linalg_ops_cpu = {
    .name = "cpu",
    .alloc = alloc_cpu,
    .free = free_cpu,
    .upload = copy_cpu,
    .download = copy_cpu,
    .copy = copy_cpu,
    .memset = memset_cpu,
    .sgemm = sgemm_cpu,
    .dgemm = dgemm_cpu,
    .dgemv = dgemv_cpu,
    .dsyrk = dsyrk_cpu,
    .dsyr = dsyr_cpu,
    .eigh = eigh_cpu,
    .eigh_top = eigh_top_cpu,
    .orthonormalise = orthonormalise_cpu,
    .svd_right = svd_right_cpu,
    .fft_plan = fft_plan_cpu,
    .fft_forward = fft_forward_cpu,
    .fft_inverse = fft_inverse_cpu,
    .fft_free = fft_free_cpu,
    .to_float = to_float_cpu,
    .fix_column_signs = fix_column_signs_cpu,
    .shrink = shrink_cpu,
    .col_sums = col_sums_cpu,
    .centre = centre_cpu,
    .dsum_rows = dsum_rows_cpu,
    .centre_gram = centre_gram_cpu,
    .sum_segments = sum_segments_cpu,
    .gather_rows = gather_rows_cpu,
    .sub_scale = sub_scale_cpu,
    .shrink_d = shrink_d_cpu,
    .scale_rows = scale_rows_cpu,
    .widen = widen_cpu,
    .divided_differences = divided_differences_cpu,
    .pf_terms = pf_terms_cpu,
    .gather_cols_axpy = gather_cols_axpy_cpu,
    .row_means = row_means_cpu,
    .double_centre = double_centre_cpu,
    .sub_cols_f = sub_cols_f_cpu,
    .dcentre = dcentre_cpu,
    .div_cols = div_cols_cpu,
    .gather_block = gather_block_cpu,
    .kernel_centre = kernel_centre_cpu,
    .conj_mul = conj_mul_cpu,
};
