// gpu_test.h: what the GPU tests (tests/cuda/*.cu) share, beside tests/test.h: device copies of host arrays with
// a poisoned guard, the comparison of a device result with its CPU reference, and the question whether a GPU
// answers at all. Included by tests/cuda/*.cu only (CUDA C++), after tests/test.h.
//
// Poison: device outputs start as all bits set (a NaN) and are followed by GUARD more such floats, so an element
// a kernel never writes stays NaN and fails the comparison, and a write past the end shows in the guard.
#ifndef TESTS_CUDA_GPU_TEST_H
#define TESTS_CUDA_GPU_TEST_H

#include <cuda_runtime.h>

#include "cuda/ops.h"  // defines: CHECK_CUDA

#define GUARD 64  // poisoned floats after every output

// normal numbers times scale, never exactly zero (a zero input hides a missed multiply)
static void rand_fill_seeded(uint64_t *seed, float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) {
        double v = test_nrand(seed) * scale;
        x[i] = (float)(v == 0.0 ? 1e-3 : v);
    }
}

// a device copy of n floats (plus the poisoned guard); src NULL: all poison
static float *dev_floats(const float *src, size_t n) {
    float *d = NULL;
    CHECK_CUDA(cudaMalloc(&d, (n + GUARD) * sizeof(float)));
    CHECK_CUDA(cudaMemset(d, 0xff, (n + GUARD) * sizeof(float)));
    if (src) CHECK_CUDA(cudaMemcpy(d, src, n * sizeof(float), cudaMemcpyHostToDevice));
    // the memset and a pageable copy may still be in flight on the legacy stream, which a Decoder's non-blocking
    // stream does not wait for
    CHECK_CUDA(cudaDeviceSynchronize());
    return d;
}
static void *dev_bytes(const void *src, size_t bytes) {
    void *d = NULL;
    CHECK_CUDA(cudaMalloc(&d, bytes));
    CHECK_CUDA(cudaMemcpy(d, src, bytes, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaDeviceSynchronize());
    return d;
}

// ||got - ref|| / ||ref|| over n values of two host arrays; sets *nonfinite to the count of NaN/Inf on either side
// (compared values skip them) and *worst to the index of the largest difference
static double rel_error(const float *got, const float *ref, size_t n, size_t *nonfinite, size_t *first_bad,
                        double *maxdiff, size_t *worst) {
    double dd = 0, rr = 0;
    *nonfinite = 0, *first_bad = (size_t)-1, *maxdiff = 0, *worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(ref[i])) {
            if (!(*nonfinite)++) *first_bad = i;
            continue;
        }
        double e = (double)got[i] - ref[i];
        dd += e * e;
        rr += (double)ref[i] * ref[i];
        if (fabs(e) > *maxdiff) *maxdiff = fabs(e), *worst = i;
    }
    return rr > 0 ? sqrt(dd / rr) : sqrt(dd);
}

// the device result (n floats at d) against ref within tol relative to the norm; checks the guard after it too
static void check_gpu_tol(const char *what, const float *d, const float *ref, size_t n, double tol) {
    CHECK_CUDA(cudaDeviceSynchronize());
    float *got = (float *)malloc((n + GUARD) * sizeof(float));
    CHECK_CUDA(cudaMemcpy(got, d, (n + GUARD) * sizeof(float), cudaMemcpyDeviceToHost));
    size_t nonfinite, first_bad, worst, guard_bad = 0;
    double maxdiff, rel = rel_error(got, ref, n, &nonfinite, &first_bad, &maxdiff, &worst);
    for (size_t i = 0; i < GUARD; i++) {
        uint32_t bits;
        memcpy(&bits, &got[n + i], 4);
        guard_bad += bits != 0xffffffffu;
    }
    int ok = nonfinite == 0 && guard_bad == 0 && rel <= tol;
    if (nonfinite) printf("  %s: %zu non-finite values (unwritten?), the first at [%zu]: got %g want %g\n", what,
                          nonfinite, first_bad, got[first_bad], ref[first_bad]);
    if (guard_bad) printf("  %s: %zu of %d floats after the output were written\n", what, guard_bad, GUARD);
    if (!ok && n && !nonfinite) printf("  %s: worst [%zu]: got %.9g want %.9g\n", what, worst, got[worst], ref[worst]);
    CHECK(ok, "%s n=%zu rel=%.2g maxdiff=%.2g worst=%zu tol=%.0g%s", what, n, rel, maxdiff, worst, tol,
          nonfinite || guard_bad ? " (non-finite or overrun: above)" : "");
    free(got);
}

// NULL when a GPU answers; else why not, in the runtime's words (no driver: 35, no device: 100, stub library: 34)
static const char *gpu_unusable(char *why, size_t len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaSuccess && n == 0) e = cudaErrorNoDevice;
    if (e == cudaSuccess) e = cudaSetDevice(0);
    if (e == cudaSuccess) e = cudaFree(0);  // creates the context: a broken driver or stub shows here
    if (e == cudaSuccess) return NULL;
    snprintf(why, len, "no usable GPU (%s %d: %s)", cudaGetErrorName(e), (int)e, cudaGetErrorString(e));
    return why;
}

#endif  // TESTS_CUDA_GPU_TEST_H
