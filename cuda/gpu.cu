#include "cuda/gpu.h"

#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

extern "C" int gpu_probe(GpuInfo *info) {
    memset(info, 0, sizeof *info);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        info->cuda_error = e != cudaSuccess ? (int)e : (int)cudaErrorNoDevice;
        snprintf(info->name, sizeof info->name, "no usable GPU (%s: %s)",
                 cudaGetErrorName(e != cudaSuccess ? e : cudaErrorNoDevice),
                 cudaGetErrorString(e != cudaSuccess ? e : cudaErrorNoDevice));
        cudaGetLastError();  // clear the sticky error for later callers
        return 0;
    }
    cudaDeviceProp p;
    e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) {
        info->cuda_error = (int)e;
        snprintf(info->name, sizeof info->name, "no usable GPU (%s)", cudaGetErrorName(e));
        return 0;
    }
    info->n_devices = n;
    snprintf(info->name, sizeof info->name, "%s", p.name);
    info->memory_gib = (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0);
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    return n;
}

extern "C" int gpu_bind(int local_rank, GpuInfo *info) {
    if (gpu_probe(info) == 0) return -1;
    int n = info->n_devices, dev = (local_rank >= 0 ? local_rank : 0) % n;
    cudaError_t e = cudaSetDevice(dev);
    cudaDeviceProp p;
    if (e == cudaSuccess) e = cudaGetDeviceProperties(&p, dev);
    if (e != cudaSuccess) {
        info->cuda_error = (int)e;
        snprintf(info->name, sizeof info->name, "no usable GPU (device %d of %d: %s: %s)", dev, n, cudaGetErrorName(e),
                 cudaGetErrorString(e));
        cudaGetLastError();
        return -1;
    }
    snprintf(info->name, sizeof info->name, "%s", p.name);
    info->memory_gib = (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0);
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    return dev;
}
