#include "host/backend.h"

#include <stdio.h>

#include "host/base.h"
#include "host/decoder_cpu.h"

const Backend backend_cpu = {.name = "cpu", .decoder = &decoder_ops_cpu, .linalg = &linalg_ops_cpu};

const Backend *backend_resolve(DeviceChoice want, const DeviceOffer *offer, char *note, size_t note_len, char *err) {
    note[0] = '\0';
    switch (want) {
    case DEVICE_CPU:
        return &backend_cpu;
    case DEVICE_CUDA:
        if (offer->backend) return offer->backend;
        base_errf(err, "run.device: cuda, but %s; set run.device: auto (the CPU where no GPU can run) or cpu",
                  offer->why_not);
        return NULL;
    case DEVICE_AUTO:
        break;
    }
    if (offer->backend) {
        snprintf(note, note_len, "run.device auto: %s", offer->backend->name);
        return offer->backend;
    }
    snprintf(note, note_len, "run.device auto: cpu, as %s", offer->why_not);
    return &backend_cpu;
}

DType backend_gpu_weights(GpuWeights want, DType stored) {
    if (want == GPU_WEIGHTS_AUTO) return stored == DT_BF16 || stored == DT_F16 ? stored : DT_F32;
    return want == GPU_WEIGHTS_BF16 ? DT_BF16 : want == GPU_WEIGHTS_F16 ? DT_F16 : DT_F32;
}

const DecoderOps *backend_decoder(const Backend *b, GpuWeights want, DType stored) {
    DType t = backend_gpu_weights(want, stored);
    const DecoderOps *ops = t == DT_BF16 ? b->decoder_bf16 : t == DT_F16 ? b->decoder_f16 : NULL;
    return ops ? ops : b->decoder;
}
