// The device's two ceilings, the yardsticks later GPU figures are compared with (issues 17 and 18):
//   gemm_ceiling [N] [REPS]
// 1. cuBLAS matrix products N x N x N (default 8192) on random data (never zeros), column-major, no transposes:
//    bf16 operands and output with float32 accumulation (cublasGemmEx, CUBLAS_COMPUTE_32F), float32 (cublasSgemm
//    with the default math mode: true FP32, no TF32), and float32 with TF32 tensor cores allowed;
// 2. a device-to-device copy of 1 GiB (bytes read + written).
// Each is run 3 times to warm up, then REPS times (default 10) between CUDA events; the median is printed.
// Before timing, each product is checked on 256 sampled entries against a float64 dot product of the same
// operands on the host: ||out - ref|| / ||ref|| must be below 1e-2 (bf16), 1e-4 (float32), 5e-3 (TF32).
// Output: one line per case, "ROW <case> | <figure> | <note>", then "gemm_ceiling: P passed, F failed, 0 skipped".
// Exit 0 pass, 1 fail, 77 when there is no usable GPU (the reason on a SKIP line).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CUDA_CHECK(call)                                                                                  \
    do {                                                                                                  \
        cudaError_t e_ = (call);                                                                          \
        if (e_ != cudaSuccess) {                                                                          \
            fprintf(stderr, "FAIL %s:%d %s: %s (%s)\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_), \
                    cudaGetErrorName(e_));                                                                \
            exit(1);                                                                                      \
        }                                                                                                 \
    } while (0)

#define CUBLAS_CHECK(call)                                                                                   \
    do {                                                                                                     \
        cublasStatus_t s_ = (call);                                                                          \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                   \
            fprintf(stderr, "FAIL %s:%d %s: cuBLAS status %d (%s)\n", __FILE__, __LINE__, #call, (int)s_,   \
                    cublasGetStatusString(s_));                                                              \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

// uniform in [-1, 1) from (seed, index): a counter-based hash, so every run draws fresh values from its seed
__host__ __device__ static inline float uniform_at(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

__global__ void fill_f32(float *x, size_t n, uint64_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = uniform_at(seed, i);
}

__global__ void fill_bf16(__nv_bfloat16 *x, size_t n, uint64_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16(uniform_at(seed, i));
}

static void launch_fill(void *x, size_t n, uint64_t seed, int bf16) {
    if (bf16)
        fill_bf16<<<1024, 256>>>((__nv_bfloat16 *)x, n, seed);
    else
        fill_f32<<<1024, 256>>>((float *)x, n, seed);
    CUDA_CHECK(cudaGetLastError());
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float median_ms(float *ms, int n) {
    qsort(ms, (size_t)n, sizeof *ms, cmp_float);
    return n % 2 ? ms[n / 2] : 0.5f * (ms[n / 2 - 1] + ms[n / 2]);
}

enum Kind { KIND_BF16, KIND_F32, KIND_TF32 };

static void gemm(cublasHandle_t h, enum Kind kind, int n, const void *A, const void *B, void *C) {
    const float one = 1.0f, zero = 0.0f;
    if (kind == KIND_BF16)
        CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, A, CUDA_R_16BF, n, B, CUDA_R_16BF, n,
                                  &zero, C, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    else if (kind == KIND_F32)
        CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, (const float *)A, n, (const float *)B, n,
                                 &zero, (float *)C, n));
    else
        CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, A, CUDA_R_32F, n, B, CUDA_R_32F, n,
                                  &zero, C, CUDA_R_32F, n, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
}

static double host_value(const void *p, size_t i, int bf16) {
    return bf16 ? (double)__bfloat162float(((const __nv_bfloat16 *)p)[i]) : (double)((const float *)p)[i];
}

// ||out - ref|| / ||ref|| over sampled entries, the reference a float64 dot product of the operands as stored
static double check_sampled(int n, const void *dA, const void *dB, const void *dC, int bf16) {
    size_t elem = bf16 ? 2 : 4, bytes = (size_t)n * n * elem;
    void *A = malloc(bytes), *B = malloc(bytes);
    if (!A || !B) {
        fprintf(stderr, "FAIL out of host memory for the check (%zu bytes)\n", 2 * bytes);
        exit(1);
    }
    CUDA_CHECK(cudaMemcpy(A, dA, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(B, dB, bytes, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    for (int s = 0; s < 256; s++) {
        size_t i = (size_t)((uniform_at(7, 2 * (uint64_t)s) + 1.0f) * 0.5f * (float)n) % (size_t)n;
        size_t j = (size_t)((uniform_at(7, 2 * (uint64_t)s + 1) + 1.0f) * 0.5f * (float)n) % (size_t)n;
        double ref = 0;
        for (size_t k = 0; k < (size_t)n; k++)
            ref += host_value(A, i + k * (size_t)n, bf16) * host_value(B, k + j * (size_t)n, bf16);
        unsigned char got_raw[4];
        CUDA_CHECK(cudaMemcpy(got_raw, (const char *)dC + (i + j * (size_t)n) * elem, elem, cudaMemcpyDeviceToHost));
        double got = host_value(got_raw, 0, bf16);
        num += (got - ref) * (got - ref);
        den += ref * ref;
    }
    free(A);
    free(B);
    return sqrt(num / (den > 0 ? den : 1));
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 8192, reps = argc > 2 ? atoi(argv[2]) : 10;
    if (n < 64 || n > 32768 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: gemm_ceiling [N 64..32768] [REPS 1..1000]\n");
        return 2;
    }
    int devices = 0;
    cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices == 0) {
        printf("SKIP gemm_ceiling: no usable GPU (%s)\n",
               e != cudaSuccess ? cudaGetErrorName(e) : "cudaGetDeviceCount found 0 devices");
        printf("gemm_ceiling: 0 passed, 0 failed, 1 skipped\n");
        return 77;
    }
    cudaDeviceProp p;
    CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
    printf("device 0: %s, compute capability %d.%d, %.1f GiB, %d SMs\n", p.name, p.major, p.minor,
           (double)p.totalGlobalMem / (1024.0 * 1024 * 1024), p.multiProcessorCount);
    uint64_t seed = 0;
    {  // fresh inputs every run
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(&seed, sizeof seed, 1, f) != 1) seed = 0x5EEDull ^ (uint64_t)time(NULL);
        if (f) fclose(f);
    }
    cublasHandle_t h;
    CUBLAS_CHECK(cublasCreate(&h));
    cudaEvent_t t0, t1;
    CUDA_CHECK(cudaEventCreate(&t0));
    CUDA_CHECK(cudaEventCreate(&t1));
    float *ms = (float *)malloc((size_t)reps * sizeof *ms);
    int passed = 0, failed = 0;

    static const struct { enum Kind kind; const char *name; double tol; } cases[] = {
        {KIND_BF16, "bf16 GEMM (fp32 accumulate)", 1e-2},
        {KIND_F32, "fp32 GEMM (SGEMM, no TF32)", 1e-4},
        {KIND_TF32, "fp32 GEMM with TF32 allowed", 5e-3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int bf16 = cases[c].kind == KIND_BF16;
        size_t count = (size_t)n * n, bytes = count * (bf16 ? 2 : 4);
        void *A, *B, *C;
        CUDA_CHECK(cudaMalloc(&A, bytes));
        CUDA_CHECK(cudaMalloc(&B, bytes));
        CUDA_CHECK(cudaMalloc(&C, bytes));
        launch_fill(A, count, seed + 3 * c, bf16);
        launch_fill(B, count, seed + 3 * c + 1, bf16);
        CUDA_CHECK(cudaMemset(C, 0xFF, bytes));  // poison: an unwritten entry is NaN
        gemm(h, cases[c].kind, n, A, B, C);
        CUDA_CHECK(cudaDeviceSynchronize());
        double rel = check_sampled(n, A, B, C, bf16);
        for (int w = 0; w < 3; w++) gemm(h, cases[c].kind, n, A, B, C);
        for (int r = 0; r < reps; r++) {
            CUDA_CHECK(cudaEventRecord(t0));
            gemm(h, cases[c].kind, n, A, B, C);
            CUDA_CHECK(cudaEventRecord(t1));
            CUDA_CHECK(cudaEventSynchronize(t1));
            CUDA_CHECK(cudaEventElapsedTime(&ms[r], t0, t1));
        }
        float med = median_ms(ms, reps);
        double tflops = 2.0 * n * (double)n * n / (med * 1e-3) / 1e12;
        int ok = isfinite(rel) && rel < cases[c].tol;
        passed += ok;
        failed += !ok;
        printf("%s %s %dx%dx%d: median %.3f ms of %d = %.1f TFLOP/s; sampled error %.2e (limit %.0e)\n",
               ok ? "PASS" : "FAIL", cases[c].name, n, n, n, med, reps, tflops, rel, cases[c].tol);
        printf("ROW %s %d^3 | %.1f TFLOP/s | median of %d, error %.1e%s\n", cases[c].name, n, tflops, reps, rel,
               ok ? "" : " FAILED");
        CUDA_CHECK(cudaFree(A));
        CUDA_CHECK(cudaFree(B));
        CUDA_CHECK(cudaFree(C));
    }

    {  // device-to-device copy, 1 GiB
        size_t bytes = (size_t)1 << 30;
        void *src, *dst;
        CUDA_CHECK(cudaMalloc(&src, bytes));
        CUDA_CHECK(cudaMalloc(&dst, bytes));
        launch_fill(src, bytes / 4, seed + 100, 0);
        for (int w = 0; w < 3; w++) CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
        for (int r = 0; r < reps; r++) {
            CUDA_CHECK(cudaEventRecord(t0));
            CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice));
            CUDA_CHECK(cudaEventRecord(t1));
            CUDA_CHECK(cudaEventSynchronize(t1));
            CUDA_CHECK(cudaEventElapsedTime(&ms[r], t0, t1));
        }
        float med = median_ms(ms, reps);
        // equal buffers after the copy, compared on the device's bytes read back in part
        unsigned char a[4096], b[4096];
        CUDA_CHECK(cudaMemcpy(a, (char *)src + bytes / 2, sizeof a, cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(b, (char *)dst + bytes / 2, sizeof b, cudaMemcpyDeviceToHost));
        int ok = memcmp(a, b, sizeof a) == 0;
        passed += ok;
        failed += !ok;
        double gbs = 2.0 * (double)bytes / (med * 1e-3) / 1e9;
        printf("%s device-to-device copy 1 GiB: median %.3f ms of %d = %.0f GB/s (read + written)\n",
               ok ? "PASS" : "FAIL", med, reps, gbs);
        printf("ROW device copy 1 GiB | %.0f GB/s | read + written, median of %d%s\n", gbs, reps,
               ok ? "" : " FAILED");
        CUDA_CHECK(cudaFree(src));
        CUDA_CHECK(cudaFree(dst));
    }
    free(ms);
    CUBLAS_CHECK(cublasDestroy(h));
    printf("gemm_ceiling: %d passed, %d failed, 0 skipped\n", passed, failed);
    return failed ? 1 : 0;
}
