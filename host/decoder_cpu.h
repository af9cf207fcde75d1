/*
 * decoder_cpu: the reference forward pass of the generic decoder over a batch of sequences,
 * capturing hidden states.
 *
 * A batch is several causal sequences laid end to end (chunks of a story, or one context window
 * per word). Every position-wise step — norms, the fused QKV projection, the output projection,
 * the MLP — is one matrix product over all tokens of the batch; only attention runs per sequence.
 * Layers run in order over the whole batch (all tokens pass layer l before layer l+1), so a model
 * that does not fit in memory as float32 is widened one layer at a time (model_layer).
 *
 * Captures select what comes out: for each (token row, output row, weight), every hidden state
 * with Hugging Face's meaning (entry 0 the embedding output, entry l the residual stream after
 * layer l-1, entry L the final-normed — and for OPT projected — output) is added, times the weight,
 * to that output row: weight 1 for a word's last token, 1/n over its n tokens for a mean.
 *
 * Ownership: DecoderScratch holds the activations of up to NT_max tokens (sequences of at most
 * T_max) in one allocation; the caller owns the output. Not thread-safe per scratch.
 * Shapes: NT tokens in the batch, C d_model, L layers; out holds (L+1) blocks, block l at
 * out + layer_offset[l], (rows, dim_l) with dim_l = C except dim_L = model_final_dim.
 */
#ifndef HOST_DECODER_CPU_H
#define HOST_DECODER_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "host/model.h"

typedef struct {
    const int32_t *ids;    // (NT) the sequences end to end
    const int *seq_start;  // (n_seq + 1) row where each sequence starts; seq_start[n_seq] = NT
    int n_seq;
} TokenBatch;

typedef struct {
    int row;       // token row in the batch
    size_t out;    // output row
    float weight;  // 1 for the last token of a word; 1/n over n tokens for a mean
} Capture;

typedef struct DecoderScratch DecoderScratch;

DecoderScratch *decoder_cpu_scratch_create(const ModelConfig *cfg, int NT_max, int T_max);
void decoder_cpu_scratch_free(DecoderScratch *s);
size_t decoder_cpu_scratch_bytes(const ModelConfig *cfg, int NT_max, int T_max);

// Floating-point operations the batch needs (multiply-adds count 2): every matrix product of the
// layers and OPT's projections, and attention over the keys each query sees (causal, within the
// sliding window), not the masked work a blocked kernel also does. The yardstick of GFLOP/s figures.
double decoder_flops(const ModelConfig *cfg, const TokenBatch *b);

// Run the batch; add every captured hidden state into out (see above). Rows of out are not cleared.
void decoder_cpu_forward(Model *m, DecoderScratch *s, const TokenBatch *b, const Capture *cap, size_t n_cap, float *out,
                         const size_t *layer_offset);

#endif  // HOST_DECODER_CPU_H
