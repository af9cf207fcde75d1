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
