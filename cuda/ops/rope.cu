// rope_forward_gpu: rotate_half RoPE in place, GPU twin of rope_forward_cpu (full and partial rotary).
// One thread per (token, frequency) pair: it takes cos and sin once (in float64, rounded, as the twin)
// and rotates that pair in every head, so consecutive threads touch consecutive floats of a head.
// The frequencies come from the host: the launcher evaluates rope_inv_freq (host/ops_math.h) with the
// host's libm, exactly as the twin does, and passes the table by value with the launch (at most 1 KiB of
// kernel parameters, no device buffer to own): a device powf an ulp off would move the angle at position
// 4096 by about 1e-3 rad. Variants: this one only.
#include "cuda/ops/common.cuh"

struct RopeFreqs {
    float inv_freq[ROPE_MAX_ROT_DIMS / 2];
};

__global__ void rope_kernel(float *x, const int *pos, int T, int NH, int HS, int half, const RopeFreqs freqs) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)T * half) return;
    size_t t = idx / half;
    int i = (int)(idx % half);
    float c, s;
    rope_cos_sin(&c, &s, pos[t], freqs.inv_freq[i]);
    for (int h = 0; h < NH; h++) {
        float *v = x + (t * NH + h) * HS;
        rope_rotate(&v[i], &v[i + half], c, s);
    }
}

extern "C" void rope_forward_gpu(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta,
                                 gpu_stream stream) {
    if (rot_dims <= 0 || rot_dims % 2 || rot_dims > HS || rot_dims > ROPE_MAX_ROT_DIMS)
        DIE("this is a bug in brainsweep (the model loader checks rotary dimensions)",
            "rope_forward_gpu: rot_dims %d must be even, positive, at most the head size %d and %d", rot_dims, HS,
            ROPE_MAX_ROT_DIMS);
    if (T <= 0 || NH <= 0) return;
    int half = rot_dims / 2;
    RopeFreqs freqs;
    for (int i = 0; i < half; i++) freqs.inv_freq[i] = rope_inv_freq(i, rot_dims, theta);
    size_t work = (size_t)T * half;
    rope_kernel<<<(unsigned)((work + OPS_EW_THREADS - 1) / OPS_EW_THREADS), OPS_EW_THREADS, 0, stream>>>(
        x, pos, T, NH, HS, half, freqs);
    CHECK_LAUNCH();
}
