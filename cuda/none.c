// The CUDA backend's contract for builds without nvcc (see cuda/gpu.h).
#include <stdio.h>
#include <string.h>

#include "cuda/backend_cuda.h"
#include "cuda/gpu.h"

int gpu_probe(GpuInfo *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "no GPU support (built without CUDA; rebuild where nvcc exists)");
    return 0;
}

int gpu_bind(int local_rank, GpuInfo *info) {
    gpu_probe(info);
    return -1;
}

const Backend *backend_cuda_get(char *why, size_t len) {
    snprintf(why, len, "this build has no CUDA backend (built without CUDA; rebuild where nvcc exists)");
    return NULL;
}

int backend_cuda_fits(char *why, size_t len) {
    if (why) snprintf(why, len, "this build has no CUDA backend (built without CUDA; rebuild where nvcc exists)");
    return 0;
}
