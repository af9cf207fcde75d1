// This machine's OpenBLAS sgemm throughput, the yardstick of the forward pass's GFLOP/s:
//   build/bench/gemm_peak [THREADS] [REPS] [MxNxK]
// Times cblas_sgemm (row-major, out = in Wᵀ as a linear layer runs it) threaded by OpenBLAS, and
// brainsweep's matmul_forward_cpu (OpenMP row blocks, single-threaded OpenBLAS inside) on the same
// operands, in turn, at a large square size and at the layer shapes of the demo model, GPT-2 small and a
// 7B model over a batch of tokens. Prints the median GFLOP/s of each over REPS runs (default 7) after one
// warm-up; with MxNxK, that one shape only. THREADS: default all cores. OpenBLAS's kernels are chosen as
// brainsweep chooses them.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/bench.h"
#include "host/ops_cpu.h"
#include "host/threads.h"


int main(int argc, char **argv) {
    threads_choose_blas_kernels(argv);
    int threads = argc > 1 ? atoi(argv[1]) : 0, reps = argc > 2 ? atoi(argv[2]) : 7;
    if (threads <= 0) threads = omp_get_num_procs();
    if (reps < 1 || reps > 1000) reps = 7;
    threads_init(threads);
    // (M tokens, N outputs, K inputs)
    static struct { const char *what; int M, N, K; } shapes[] = {
        {"square 2048", 2048, 2048, 2048},
        {"SmolLM2-135M MLP gate+up", 2048, 3072, 576},
        {"SmolLM2-135M MLP down", 2048, 576, 1536},
        {"SmolLM2-135M attention QKV", 2048, 960, 576},
        {"GPT-2 small MLP up", 1024, 3072, 768},
        {"7B MLP gate+up", 2048, 22016, 4096},
    };
    size_t n_shapes = sizeof shapes / sizeof shapes[0];
    if (argc > 3) {
        n_shapes = 1;
        shapes[0].what = "given";
        if (sscanf(argv[3], "%dx%dx%d", &shapes[0].M, &shapes[0].N, &shapes[0].K) != 3 || shapes[0].M < 1 ||
            shapes[0].N < 1 || shapes[0].K < 1) {
            fprintf(stderr, "gemm_peak: shape '%s' is not MxNxK\n", argv[3]);
            return 2;
        }
    }
    printf("OpenBLAS core %s, %d thread(s), median of %d\n", openblas_get_corename(), threads, reps);
    printf("| shape | M x N x K | OpenBLAS sgemm GFLOP/s | matmul_forward_cpu GFLOP/s |\n|---|---|---|---|\n");
    for (size_t s = 0; s < n_shapes; s++) {
        size_t M = (size_t)shapes[s].M, N = (size_t)shapes[s].N, K = (size_t)shapes[s].K;
        float *a = malloc(M * K * sizeof(float)), *b = malloc(N * K * sizeof(float)), *c = malloc(M * N * sizeof(float));
        if (!a || !b || !c) {
            fprintf(stderr, "gemm_peak: out of memory for %zu x %zu x %zu\n", M, N, K);
            return 1;
        }
        for (size_t i = 0; i < M * K; i++) a[i] = (float)(i % 17) * 0.01f;
        for (size_t i = 0; i < N * K; i++) b[i] = (float)(i % 13) * 0.01f;
        double *t_blas = malloc(2 * (size_t)reps * sizeof(double)), *t_ours = t_blas + reps;
        for (int r = -1; r < reps; r++) {  // in turn, so drift hits both alike
            openblas_set_num_threads(threads);
            double t0 = bench_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, a, (int)K, b, (int)K,
                        0.0f, c, (int)N);
            double t1 = bench_now();
            openblas_set_num_threads(1);
            matmul_forward_cpu(c, a, b, NULL, (int)M, (int)K, (int)N);
            double t2 = bench_now();
            if (r >= 0) t_blas[r] = t1 - t0, t_ours[r] = t2 - t1;
        }
        double flop = 2.0 * (double)M * (double)N * (double)K;
        printf("| %s | %zu x %zu x %zu | %.1f | %.1f |\n", shapes[s].what, M, N, K, flop / bench_median(t_blas, reps) * 1e-9,
               flop / bench_median(t_ours, reps) * 1e-9);
        free(t_blas), free(a), free(b), free(c);
    }
    return 0;
}
