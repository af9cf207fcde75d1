/*
 * ops_cpu: the float32 CPU twin of every decoder operation. These functions are the reference the
 * CUDA kernels are tested against, and the CPU decoder (decoder_cpu.h) calls exactly these.
 *
 * Conventions (llm.c): outputs first, then inputs, then weights, then sizes; raw pointers, no hidden
 * state, row-major. Shape letters: T tokens, C channels, OC output channels, NH query heads, NKV
 * key/value heads, HS head size, N flat element count. Parallel with OpenMP: matrix products split
 * their rows over the threads, each block one single-threaded OpenBLAS sgemm (host/threads.h);
 * attention splits (head, query block) pairs. Nothing here allocates.
 */
#ifndef HOST_OPS_CPU_H
#define HOST_OPS_CPU_H

#include <stddef.h>
#include <stdint.h>

// out (T, OC) = inp (T, C) @ weight^T, weight (OC, C) as nn.Linear stores it; bias (OC) or NULL
void matmul_forward_cpu(float *out, const float *inp, const float *weight, const float *bias, int T, int C, int OC);

// out (T, C) = table[ids] ; table (V, C)
void embedding_forward_cpu(float *out, const int32_t *ids, const float *table, int T, int C);

// out (T, C) = inp / sqrt(mean(inp^2) + eps) * weight   (LlamaRMSNorm; out may alias inp)
void rmsnorm_forward_cpu(float *out, const float *inp, const float *weight, int T, int C, float eps);

// In place on x (T, NH, HS): Hugging Face rotate_half RoPE on the first rot_dims of each head,
// pairs (i, i + rot_dims/2), angle pos[t] * theta^(-2i/rot_dims) computed in float32 as HF does.
void rope_forward_cpu(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta);

// Causal self-attention with grouped KV heads (query head h reads KV head h / (NH/NKV)).
// q (T, NH, HS), k and v (T, NKV, HS) -> out (T, NH, HS); scores: scratch of
// attention_scratch_floats(T, threads) floats, used by at most `threads` OpenMP threads.
// Scale 1/sqrt(HS), softmax in float32 over the unmasked keys.
#define ATTN_QUERY_BLOCK 256
size_t attention_scratch_floats(int T, int threads);  // one query block of scores per thread
void attention_forward_cpu(float *out, float *scores, int threads, const float *q, const float *k, const float *v, int T,
                           int NH, int NKV, int HS);

// out (N) = silu(gate) * up   (out may alias gate)
void swiglu_forward_cpu(float *out, const float *gate, const float *up, size_t N);

// out (N) = a + b   (out may alias a)
void residual_forward_cpu(float *out, const float *a, const float *b, size_t N);

#endif  // HOST_OPS_CPU_H
