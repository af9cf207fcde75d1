/*
 * decoder_cpu: the CPU backend of the decoder (host/decoder.h), the reference every other backend is
 * tested against. Its ops are the float32 twins of host/ops_cpu.h, run on OpenMP threads; the rest is
 * plain host memory:
 *  - memory: base_malloc; upload is memcpy and download returns the pointer itself (no copy);
 *  - its own state per Decoder: the attention scratch (one query block of scores per thread, for sequences
 *    of up to T_max tokens) and the thread count it was sized for (omp_get_max_threads() at decoder_create:
 *    create the Decoder where the forward pass will run), and for OPT the embedding rows before project_in;
 *  - weights: model_layer (model.h) widens or dequantises a layer to float32, or returns the kept one;
 *    the embedding rows, final norm and projections come from the Model's float32 copies.
 * The final norm and the projections work in the Decoder's buffers: nothing is allocated per batch.
 * Errors: allocation failures stop the program (DIE with the label).
 */
#ifndef HOST_DECODER_CPU_H
#define HOST_DECODER_CPU_H

#include "host/decoder.h"

extern const DecoderOps decoder_ops_cpu;

#endif  // HOST_DECODER_CPU_H
