/*
 * dequant: ggml's storage types as float32, one block at a time.
 *
 * Header-only and BS_HD (host and device), because the CUDA backend dequantises the same blocks
 * on the GPU: one definition, exercised by the CPU tests already. Block layouts follow ggml
 * (ggml-common.h): a block of 32 weights with an fp16 scale (and, for Q4_1, an fp16 minimum).
 * Arithmetic is the reference's: x = d*q (Q8_0, Q4_0) and x = d*q + m (Q4_1), product rounded
 * before the sum, as numpy does in gguf-py; so the project builds without -mfma contraction.
 */
#ifndef HOST_DEQUANT_H
#define HOST_DEQUANT_H

#include <stdint.h>
#include <string.h>

#include "host/base.h"

#define QK 32  // weights per quantised block (Q4_0, Q4_1, Q8_0)
#define Q4_0_BLOCK_BYTES 18   // fp16 d, 16 bytes of nibbles
#define Q4_1_BLOCK_BYTES 20   // fp16 d, fp16 m, 16 bytes of nibbles
#define Q8_0_BLOCK_BYTES 34   // fp16 d, 32 int8

// IEEE half to float, including subnormals, infinities and NaN
static inline BS_HD float fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline BS_HD float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline BS_HD uint16_t read_u16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

// out: (32,) from one block
static inline BS_HD void dequant_q8_0_block(float *out, const uint8_t *block) {
    float d = fp16_to_f32(read_u16le(block));
    const int8_t *q = (const int8_t *)(block + 2);
    for (int j = 0; j < QK; j++) out[j] = d * (float)q[j];
}

static inline BS_HD void dequant_q4_0_block(float *out, const uint8_t *block) {
    float d = fp16_to_f32(read_u16le(block));
    const uint8_t *q = block + 2;
    for (int j = 0; j < QK / 2; j++) {
        out[j] = d * (float)((int)(q[j] & 0x0f) - 8);
        out[j + QK / 2] = d * (float)((int)(q[j] >> 4) - 8);
    }
}

static inline BS_HD void dequant_q4_1_block(float *out, const uint8_t *block) {
    float d = fp16_to_f32(read_u16le(block));
    float m = fp16_to_f32(read_u16le(block + 2));
    const uint8_t *q = block + 4;
    for (int j = 0; j < QK / 2; j++) {
        float lo = d * (float)(q[j] & 0x0f);
        float hi = d * (float)(q[j] >> 4);
        out[j] = lo + m;
        out[j + QK / 2] = hi + m;
    }
}

#endif  // HOST_DEQUANT_H
