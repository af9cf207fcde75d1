/*
 * ops_cpu: the float32 CPU twin of every decoder operation. These functions are the reference the
 * CUDA kernels are tested against, and the decoder's CPU backend (decoder_cpu.h) calls exactly these.
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

// out (T, OC) += bias (OC) on every row: the bias step of matmul_forward_cpu, apart for its GPU twin
void bias_add_cpu(float *out, const float *bias, int T, int OC);

// q (T, QD), k, v (T, KD) = the column blocks of the fused projection qkv (T, QD + 2 KD), each value clamped to
// [-clip, clip] when clip > 0 (MPT's clip_qkv, clip_value of ops_math.h); plain copies otherwise
void qkv_split_cpu(float *q, float *k, float *v, const float *qkv, int T, int QD, int KD, float clip);

// out (T, C) += table[pos[t] + offset] for each row t: learned absolute positions (GPT-2, OPT: offset 2)
void positions_add_cpu(float *out, const float *table, const int *pos, int offset, int T, int C);

// out (T, C) = table[ids] ; table (V, C)
void embedding_forward_cpu(float *out, const int32_t *ids, const float *table, int T, int C);

// out (T, C) = inp / sqrt(mean(inp^2) + eps) * weight   (LlamaRMSNorm; out may alias inp)
void rmsnorm_forward_cpu(float *out, const float *inp, const float *weight, int T, int C, float eps);

// out (T, C) = (inp - mean) / sqrt(var + eps) * weight + bias, biased variance (nn.LayerNorm);
// bias may be NULL (MPT); out may alias inp
void layernorm_forward_cpu(float *out, const float *inp, const float *weight, const float *bias, int T, int C,
                           float eps);

// In place on x (T, NH, HS): Hugging Face rotate_half RoPE on the first rot_dims of each head,
// pairs (i, i + rot_dims/2), angle pos[t] * theta^(-2i/rot_dims) computed in float32 as HF does.
void rope_forward_cpu(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta);

// Causal self-attention over a batch of sequences laid end to end: sequence s is rows
// [seq_start[s], seq_start[s+1]) of q (NT, NH, HS) and k, v (NT, NKV, HS); query head h reads KV
// head h / (NH/NKV). Scale 1/sqrt(HS); alibi (NH) slopes or NULL add slope * (j - i) to the score of
// key j for query i (MPT); window > 0 hides keys with i - j >= window (Mistral). Softmax in float32.
// out (NT, NH, HS); scores: scratch of attention_scratch_floats(T_max, threads) floats for sequences
// of at most T_max rows, used by at most `threads` OpenMP threads (the decoder's CPU backend keeps both in its
// own state: the op table's attention takes neither).
#define ATTN_QUERY_BLOCK 256
size_t attention_scratch_floats(int T_max, int threads);  // one query block of scores per thread
void attention_forward_cpu(float *out, float *scores, int threads, const float *q, const float *k, const float *v,
                           const int *seq_start, int n_seq, int NH, int NKV, int HS, const float *alibi, int window);

// out (T, F) = silu(gu[:, :F]) * gu[:, F:] for gu (T, 2F), the fused [gate | up] projection
void swiglu_rows_cpu(float *out, const float *gu, int T, int F);

// in place on x (N): GELU (erf, or the tanh approximation of GPT-2's gelu_new) and ReLU
void gelu_forward_cpu(float *x, size_t N, int tanh_approx);
void relu_forward_cpu(float *x, size_t N);

// out (N) = a + b   (out may alias a)
void residual_forward_cpu(float *out, const float *a, const float *b, size_t N);

#endif  // HOST_OPS_CPU_H
