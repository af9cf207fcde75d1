/*
 * backend: the compute backend one rank runs on — the decoder's op table (host/decoder.h) and the fits'
 * linear-algebra table (host/linalg.h) — resolved once per rank from run.device and handed down to the stages,
 * which name no backend themselves (one algorithm, several backends).
 *
 * This module knows the CPU backend, which is always there. Whether a device backend can run is found out where
 * the CUDA runtime may be asked (mpi/, through cuda/gpu.h), which passes the answer in as a DeviceOffer, so host/
 * stays free of CUDA. mpi/sweep_inputs.c offers cuda/backend_cuda.h's backend ("cuda": the decoder on the GPU, and
 * the fits where the CUDA math libraries load) when the build has CUDA and the rank's GPU answers; otherwise `auto`
 * resolves to the CPU and says why in one line, and `cuda` is refused with that reason.
 * Errors: backend_resolve returns NULL with one sentence in err (BASE_ERR_LEN). The tables are static.
 */
#ifndef HOST_BACKEND_H
#define HOST_BACKEND_H

#include <stddef.h>

#include "host/config.h"
#include "host/decoder.h"
#include "host/linalg.h"
#include "host/tensor.h"

typedef struct {
    const char *name;           // "cpu", "cuda"
    const DecoderOps *decoder;  // forward passes (extraction), float32
    const LinalgOps *linalg;    // ridge, PCA and the shift null
    // the decoder with the layers' matrices and their products in bf16 or IEEE half (float32 accumulation), where
    // the backend has one (cuda/decoder_cuda.h); NULL on the CPU, which computes in float32
    const DecoderOps *decoder_bf16, *decoder_f16;
} Backend;

extern const Backend backend_cpu;

// The type of a GPU's products with a model whose layers' matrices are stored as `stored`, under run.gpu_weights
// `want`: DT_BF16 or DT_F16 for 16-bit products, else DT_F32. auto takes the stored type when it is bf16 or fp16.
DType backend_gpu_weights(GpuWeights want, DType stored);
// The decoder table for such a model: the 16-bit table of that type where the backend has one (a GPU's), else
// b->decoder (float32; always on the CPU).
const DecoderOps *backend_decoder(const Backend *b, GpuWeights want, DType stored);

// What the caller found out about a device backend on this rank.
typedef struct {
    const Backend *backend;  // NULL when none can run
    const char *why_not;     // then: why, as a clause ("no CUDA device: ...")
} DeviceOffer;

// The backend for run.device `want`. note (note_len bytes) gets the line `auto` owes the user about its choice,
// or "" when there is nothing to say. NULL with err when `cuda` is asked for and none can run.
const Backend *backend_resolve(DeviceChoice want, const DeviceOffer *offer, char *note, size_t note_len, char *err);

#endif  // HOST_BACKEND_H
