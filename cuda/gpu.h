/*
 * gpu: the C-facing contract of the CUDA backend (plain C, no CUDA types).
 *
 * gpu_probe asks for a usable device, so `brainsweep version` and the sweep banner can say what the
 * machine offers; gpu_bind makes one of them the current device of this process (one rank per GPU).
 * A build without nvcc links cuda/none.c, whose probe reports "built without CUDA" — callers carry no
 * #ifdef.
 * Errors: gpu_probe and gpu_bind never abort; it reports the CUDA runtime's answer (no driver is
 * cudaErrorInsufficientDriver 35, no device 100, cudaErrorStubLibrary 34).
 */
#ifndef CUDA_GPU_H
#define CUDA_GPU_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n_devices;        // usable devices, 0 when none
    int cuda_error;       // the runtime's error code when n_devices == 0 (0 otherwise)
    char name[256];       // device 0's name, or why there is none
    double memory_gib;    // device 0's memory
    int cc_major, cc_minor;
} GpuInfo;

// Fills info; returns info->n_devices.
int gpu_probe(GpuInfo *info);

// Makes device local_rank % (visible devices) current for this host thread (cudaSetDevice; CUDA_VISIBLE_DEVICES
// decides which devices are visible and in what order) and fills info with that device's name, memory and
// compute capability (n_devices: the visible count). Returns the device index, or -1 with info->name saying why.
int gpu_bind(int local_rank, GpuInfo *info);

#ifdef __cplusplus
}
#endif

#endif  // CUDA_GPU_H
