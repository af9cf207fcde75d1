#include "host/threads.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void threads_init(int n) {
    openblas_set_num_threads(1);
    if (n > 0) omp_set_num_threads(n);
}

int threads_count(void) { return omp_get_max_threads(); }

int threads_blas_widen(void) {
    if (omp_in_parallel()) return -1;
    int before = openblas_get_num_threads();
    openblas_set_num_threads(omp_get_max_threads());
    return before;
}

int threads_blas_narrow(void) {
    if (omp_in_parallel()) return -1;
    int before = openblas_get_num_threads();
    if (before <= 1) return -1;
    openblas_set_num_threads(1);
    return before;
}

void threads_blas_restore(int before) {
    if (before > 0) openblas_set_num_threads(before);
}

void threads_choose_blas_kernels(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || strcmp(openblas_get_corename(), "Prescott") != 0) return;
    __builtin_cpu_init();
    const char *core = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        core = "Haswell";
    if (!core) return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv);
}
