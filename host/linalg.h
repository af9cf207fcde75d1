/*
 * linalg: the table of linear-algebra operations the fits (ridge, PCA, the shift null) are written over,
 * and its CPU instance on OpenBLAS, LAPACKE and FFTW.
 *
 * A backend supplies one LinalgOps: its memory (alloc/free, upload/download between host and backend,
 * copy and memset inside it), the BLAS products, the symmetric eigendecompositions and the two other
 * factorisations randomized PCA needs, real FFTs for the shift null, and the element-wise and statistics kernels
 * the fits run on backend memory. Every pointer an op takes is backend memory (from its alloc) unless the op
 * says host; in the CPU instance both are the same memory. The fits keep to that: they never read or write
 * backend memory on the host, only through ops, uploads and downloads (tests/host/test_device_clean.c).
 * Matrices are row-major with a leading dimension (elements between the starts of two rows).
 *
 * Eigendecompositions return eigenvalues in descending order with the eigenvectors as columns, sign-fixed so
 * that each vector's largest-magnitude entry is positive (results repeat across BLAS builds).
 * Errors: fatal (DIE) — an allocation that fails, a LAPACK failure (a NaN slipped through input
 * validation), a dimension beyond the backend's integer range. Threads: the ops keep no state (FFT plans
 * belong to their caller) and may run concurrently; the CPU products use the OpenBLAS threads the caller set
 * (host/threads.h).
 */
#ifndef HOST_LINALG_H
#define HOST_LINALG_H

#include <stddef.h>

// a complex bin of the real FFTs: C's double complex; in C++ (the CUDA instance's .cu files, which cannot name it)
// a struct of the same layout, real part first (C11 6.2.5p13)
#ifdef __cplusplus
typedef struct {
    double re, im;
} LinalgComplex;
extern "C" {
#else
#include <complex.h>
typedef double complex LinalgComplex;
#endif

typedef enum { LINALG_N = 0, LINALG_T = 1 } LinalgTrans;  // op(A) = A or A^T

typedef struct LinalgFft LinalgFft;  // a backend's plans for real transforms of one length (opaque)

typedef struct {
    const char *name;
    // memory of the backend; alloc DIEs naming the label when it fails, free accepts NULL
    void *(*alloc)(size_t bytes, const char *label);
    void (*free)(void *p);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    void (*memset)(void *p, int byte, size_t bytes);

    // C (M, N) = alpha op(A) op(B) + beta C; op(A) (M, K), op(B) (K, N)
    void (*sgemm)(LinalgTrans ta, LinalgTrans tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                  size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
    void (*dgemm)(LinalgTrans ta, LinalgTrans tb, size_t M, size_t N, size_t K, double alpha, const double *A,
                  size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc);
    // y = alpha op(A) x + beta y, A (M, N)
    void (*dgemv)(LinalgTrans ta, size_t M, size_t N, double alpha, const double *A, size_t lda, const double *x,
                  double beta, double *y);
    // C (n, n) = alpha op(A) op(A)^T + beta C, op(A) (n, k): both triangles written (the upper computed, mirrored)
    void (*dsyrk)(LinalgTrans ta, size_t n, size_t k, double alpha, const double *A, size_t lda, double beta,
                  double *C, size_t ldc);
    // A (n, n) += alpha x x^T, both triangles written (the upper updated, mirrored)
    void (*dsyr)(size_t n, double alpha, const double *x, double *A, size_t lda);

    // a (n, n) symmetric -> its eigenvectors in the columns; w (n) the eigenvalues, descending
    void (*eigh)(double *a, double *w, size_t n);
    // the k largest eigenpairs of a (n, n) symmetric (destroyed): w (k), eigenvectors in the columns of v (n, k)
    void (*eigh_top)(double *a, double *w, double *v, size_t n, size_t k);
    // q (m, l), m >= l, in place: orthonormal columns spanning the same space (thin QR)
    void (*orthonormalise)(double *q, size_t m, size_t l);
    // a (m, n), m <= n (destroyed) = U diag(s) Vt: s (m) descending and vt (m, n); U is not formed
    void (*svd_right)(double *a, double *s, double *vt, size_t m, size_t n);

    // plans for real transforms of length n (created and freed outside parallel loops); a forward transform
    // of x (n) gives X (n / 2 + 1) bins, the inverse of X (destroyed) gives n times the signal. Buffers from alloc.
    LinalgFft *(*fft_plan)(size_t n);
    void (*fft_forward)(const LinalgFft *plan, const double *x, LinalgComplex *X);
    void (*fft_inverse)(const LinalgFft *plan, LinalgComplex *X, double *x);
    void (*fft_free)(LinalgFft *plan);

    // dst (n) = (float)src
    void (*to_float)(float *dst, const double *src, size_t n);
    // flip the sign of each column of a (rows, cols) so that its largest-magnitude entry is positive
    void (*fix_column_signs)(double *a, size_t rows, size_t cols);
    // the diagonal rescale of ridge: out (R, m) row r = B[r, col[j]] / (lam[r] + alpha[j]); B (R, ldb).
    // run: col[j] = col[0] + j and alpha[j] = alpha[0] (one multiply by the reciprocal per row)
    void (*shrink)(float *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                   const double *alpha, size_t m, int run);
    // the three column sums of a held-out score, over rows r < R and columns j < m, in float64:
    //   s[j] += c_r u_rj (c NULL: u_rj), s[m + j] += u_rj w_rj, s[2m + j] += u_rj z[r, col[j]]
    // run: col[j] = col[0] + j. u (R, ldu), w (R, ldw), z (R, ldz); s (3, m) accumulates
    void (*col_sums)(double *s, const float *u, size_t ldu, const float *w, size_t ldw, const double *c,
                     const float *z, size_t ldz, const size_t *col, size_t R, size_t m, int run);

    // the statistics the fits build around the products (ridge.c's loops, moved here so that no fit reads backend
    // memory on the host); each with the arithmetic, in the order, of the loop it replaces
    // xf (n, p) holds X on entry: mean (p) = its column means (float64 sums down the rows, then / n); on return
    // xd (n, p) = X - mean in float64 and xf = (float)xd
    void (*centre)(float *xf, double *xd, double *mean, size_t n, size_t p);
    // s (cols) += the sums down the rows r < rows of a (rows, lda), in row order (segment sums; rows 1: s += a)
    void (*dsum_rows)(double *s, const double *a, size_t lda, size_t rows, size_t cols);
    // a Gram (p, p) of segment sums, centred and scaled in place: sx NULL: G = (G - n mu mu^T) * s s^T (the
    // training samples, mu their mean); else G = (G - mu sx^T - sx mu^T + n mu mu^T) * s s^T (the held-out ones,
    // sx their sum, centred on the training mean mu); * is element-wise, s the band scaling (p)
    void (*centre_gram)(double *G, size_t p, const double *mu, const double *sx, double n, const double *s);
    // out (p, t) = ((sum of the masked segments' D_g) - y_scale mu y^T) * s, element-wise by row, summed in float64:
    // D (n_seg, p, t); mask (n_seg) in HOST memory; mu (p), y (t), s (p)
    void (*sum_segments)(float *out, const float *D, const unsigned char *mask, size_t n_seg, size_t p, size_t t,
                         const double *mu, const double *y, double y_scale, const double *s);
    // dst row i (row_bytes) = src row rows[i] (src's rows stride bytes apart), i < n; rows in HOST memory
    void (*gather_rows)(void *dst, const void *src, size_t stride, const size_t *rows, size_t n, size_t row_bytes);
    // a (rows, cols) in place: a[r][j] = (a[r][j] - mu[j]) * s[j] (s NULL: a[r][j] - mu[j])
    void (*sub_scale)(double *a, size_t rows, size_t cols, const double *mu, const double *s);
    // the refit's rescale in float64: out (R, m) row r = B[r, col[j]] / (lam[r] + alpha[j]); B (R, ldb) float32
    void (*shrink_d)(double *out, const float *B, size_t ldb, const double *lam, size_t R, const size_t *col,
                     const double *alpha, size_t m);
    // a (rows, cols) in place: row r times f[r]
    void (*scale_rows)(double *a, size_t rows, size_t cols, const double *f);
    // dst (rows, cols) = (double)src[r * lds + j]
    void (*widen)(double *dst, const float *src, size_t lds, size_t rows, size_t cols);
    // ridge's all-alphas scoring (ridge.c, score_grid_sums): the divided differences M (R, R), M[i][j] = 0 where
    // block[i] == block[j] (tied eigenvalues), else H[i][j] / (lam[j] - lam[i])
    void (*divided_differences)(double *M, const double *H, const double *lam, const size_t *block, size_t R);
    // ... and its terms for a chunk of m targets, from Bc (R, m) the projected targets and Q = M Bc (R, m):
    // F (2R, 2m) rows i < R [v | |v|], v = 2 b q, rows R + i [u | |u|], u = H_ii b b plus, in order, b H_ij Bc_j
    // for the other j of i's tie block [block[i], block_end[i]) (|u| summing each term's magnitude); G (R, 2m)
    // [mt b | b Pm]; b = Bc row i, q = Q row i, Pm (R, ldp) float32
    void (*pf_terms)(double *F, double *G, const double *Bc, const double *Q, const double *H, const double *mt,
                     const float *Pm, size_t ldp, const size_t *block, const size_t *block_end, size_t R, size_t m);
    // ridge's dual basis: dst (rows, n) += scale * src[r * lds + cols[j]] (a kernel's columns; cols in HOST memory)
    void (*gather_cols_axpy)(double *dst, const double *src, size_t lds, size_t rows, const size_t *cols, size_t n,
                             double scale);
    // m (rows) = the mean of each row of a (rows, cols), summed in order
    void (*row_means)(double *m, const double *a, size_t rows, size_t cols);
    // a (rows, cols) in place: a[r][j] - ar[r] - ac[j] + cc (a kernel centred in feature space)
    void (*double_centre)(double *a, size_t rows, size_t cols, const double *ar, const double *ac, double cc);
    // a (rows, cols) float32 in place: a[r][j] -= (float)v[j]
    void (*sub_cols_f)(float *a, size_t rows, size_t cols, const double *v);
    // PCA's (pca.c) statistics. x (n, p) float64 centred in place: mean (p) = its column means (sums down the
    // rows, then / n), total (1) = the sum of the squares of the centred entries (row by row on the CPU; another
    // order on a device, so equal there to about 1e-15 relative)
    void (*dcentre)(double *x, size_t n, size_t p, double *mean, double *total);
    // a (rows, cols) in place: column j divided by f[j]
    void (*div_cols)(double *a, size_t rows, size_t cols, const double *f);
    // a (n, n) = K[rows[i] * ldk + rows[j]]: a kernel's block (rows in HOST memory)
    void (*gather_block)(double *a, const double *K, size_t ldk, const size_t *rows, size_t n);
    // a (n, n) in place: a[i][j] += (rr - r[i]) - r[j] (a block centred on its row means r, rr their mean)
    void (*kernel_centre)(double *a, size_t n, const double *r, double rr);
    // the shift null's (signif.c) cross-spectra: out (n) = conj(a) * b, bin by bin
    void (*conj_mul)(LinalgComplex *out, const LinalgComplex *a, const LinalgComplex *b, size_t n);
} LinalgOps;

extern const LinalgOps linalg_ops_cpu;

#ifdef __cplusplus
}
#endif

#endif  // HOST_LINALG_H
