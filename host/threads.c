#include "host/threads.h"

#include <cblas.h>
#include <omp.h>

void threads_init(int n) {
    openblas_set_num_threads(1);
    if (n > 0) omp_set_num_threads(n);
}

int threads_count(void) { return omp_get_max_threads(); }
