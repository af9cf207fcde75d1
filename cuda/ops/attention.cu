// attention_forward_gpu: causal self-attention over packed sequences of different lengths, with grouped- and
// multi-query heads, ALiBi and a sliding window; the GPU twin of attention_forward_cpu, same semantics.
//
// Variant 1 (this one): one warp per (query row, query head), keys one at a time with the online softmax
// (softmax_online_update, host/ops_math.h), so no score matrix is ever stored and any mix of sequence
// lengths is one launch. Each lane holds HS/32 of the query and of the output accumulator in registers
// (compile-time sized: HS at most 32 * DMAX); per key, a warp-wide dot product (5 shuffles), then each lane
// rescales its accumulator and adds its share of v. A warp finds its sequence by binary search in
// seq_start. Correct and simple, not fast: K and V are re-read from L2 by every query. The tiled version
// (a block of queries against shared-memory tiles of K/V, the issue's "tiled kernel with online softmax")
// and its comparison with strided-batched GEMMs + a masked softmax are for a session with a device.
#include "cuda/ops/common.cuh"

#define ATTN_WARPS 4  // warps per block

template <int DMAX>
__global__ void attention_warp_kernel(float *out, const float *q, const float *k, const float *v,
                                      const int *seq_start, int n_seq, int NT, int NH, int NKV, int HS,
                                      const float *alibi, int window) {
    int lane = threadIdx.x & 31;
    size_t wid = (size_t)blockIdx.x * ATTN_WARPS + (threadIdx.x >> 5);
    if (wid >= (size_t)NT * NH) return;  // whole warps leave together: the shuffles below stay full-warp
    int row = (int)(wid / NH), h = (int)(wid % NH), kvh = h / (NH / NKV);
    int lo_s = 0, hi_s = n_seq - 1;  // the last s with seq_start[s] <= row
    while (lo_s < hi_s) {
        int mid = (lo_s + hi_s + 1) / 2;
        if (seq_start[mid] <= row) lo_s = mid;
        else hi_s = mid - 1;
    }
    int base = seq_start[lo_s], i = row - base;
    const size_t q_stride = (size_t)NH * HS, kv_stride = (size_t)NKV * HS;
    const float *qrow = q + row * q_stride + (size_t)h * HS;
    const float *kh = k + (size_t)base * kv_stride + (size_t)kvh * HS;
    const float *vh = v + (size_t)base * kv_stride + (size_t)kvh * HS;
    float qr[DMAX], acc[DMAX];
#pragma unroll
    for (int d = 0; d < DMAX; d++) {
        int c = lane + 32 * d;
        qr[d] = c < HS ? qrow[c] : 0.0f;
        acc[d] = 0.0f;
    }
    const float scale = attn_scale(HS), slope = alibi ? alibi[h] : 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int j = attn_first_key(i, window); j <= i; j++) {
        const float *kj = kh + (size_t)j * kv_stride, *vj = vh + (size_t)j * kv_stride;
        float dot = 0.0f;
#pragma unroll
        for (int d = 0; d < DMAX; d++) {
            int c = lane + 32 * d;
            if (c < HS) dot += qr[d] * kj[c];
        }
        for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
        float s = dot * scale;
        if (alibi) s += attn_alibi(slope, i, j);
        float p, rescale = softmax_online_update(&m, &l, &p, s);
#pragma unroll
        for (int d = 0; d < DMAX; d++) {
            int c = lane + 32 * d;
            if (c < HS) acc[d] = acc[d] * rescale + p * vj[c];
        }
    }
    float *orow = out + row * q_stride + (size_t)h * HS;
    float inv = 1.0f / l;  // l >= 1: the row's largest score contributes exp(0)
#pragma unroll
    for (int d = 0; d < DMAX; d++) {
        int c = lane + 32 * d;
        if (c < HS) orow[c] = acc[d] * inv;
    }
}

extern "C" void attention_forward_gpu(float *out, const float *q, const float *k, const float *v,
                                      const int *seq_start, int n_seq, int NT, int NH, int NKV, int HS,
                                      const float *alibi, int window, gpu_stream stream) {
    if (HS <= 0 || HS > 32 * 8 || NKV <= 0 || NH % NKV)
        DIE("this is a bug in brainsweep (the model loader checks head shapes)",
            "attention_forward_gpu: head size %d (at most 256) or %d query heads over %d key/value heads", HS, NH, NKV);
    if (NT <= 0 || NH <= 0 || n_seq <= 0) return;
    size_t warps = (size_t)NT * NH;
    unsigned blocks = (unsigned)((warps + ATTN_WARPS - 1) / ATTN_WARPS);
#define ATTN_LAUNCH(D)                                                                                     \
    attention_warp_kernel<D><<<blocks, 32 * ATTN_WARPS, 0, stream>>>(out, q, k, v, seq_start, n_seq, NT, NH, \
                                                                      NKV, HS, alibi, window)
    if (HS <= 32) ATTN_LAUNCH(1);
    else if (HS <= 64) ATTN_LAUNCH(2);
    else if (HS <= 128) ATTN_LAUNCH(4);
    else ATTN_LAUNCH(8);
#undef ATTN_LAUNCH
    CHECK_LAUNCH();
}
