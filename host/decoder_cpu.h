/*
 * decoder_cpu: the reference forward pass of the generic decoder, capturing hidden states.
 *
 * One call runs one causal sequence of T tokens (positions 0..T-1) as a batched prefill: every
 * projection is one sgemm over all T tokens, never a token-at-a-time loop. It returns, for chosen
 * token rows, the L+1 hidden states with Hugging Face's meaning (output_hidden_states): entry 0 is
 * the embedding output, entry i (1 <= i < L) the residual stream after layer i-1, and entry L the
 * final-normed output of the last layer (inference.md section 4).
 *
 * Ownership: DecoderScratch holds every activation for up to T_max tokens in one allocation,
 * created once per model and reused across chunks; the caller frees it. Not thread-safe per scratch.
 * Shapes: L layers, T tokens, C d_model; out is (L+1, out_rows, C) row-major.
 */
#ifndef HOST_DECODER_CPU_H
#define HOST_DECODER_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "host/model.h"

typedef struct DecoderScratch DecoderScratch;

DecoderScratch *decoder_cpu_scratch_create(const ModelConfig *cfg, int T_max);
void decoder_cpu_scratch_free(DecoderScratch *s);
size_t decoder_cpu_scratch_bytes(const ModelConfig *cfg, int T_max);

// Forward ids (T) and copy the hidden states of token rows tok_rows[i] (0 <= tok_rows[i] < T) into
// out[l][out_rows[i]][:] for every l in 0..L, where out has out_stride rows per layer.
void decoder_cpu_forward(const Model *m, DecoderScratch *s, const int32_t *ids, int T, const int *tok_rows,
                         const size_t *out_rows, size_t n_capture, float *out, size_t out_stride);

#endif  // HOST_DECODER_CPU_H
