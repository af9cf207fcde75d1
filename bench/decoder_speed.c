// The decoder's speed on the CPU and on the GPU, and how far apart their hidden states are:
//   build/bench/decoder_speed MODEL [TOKENS] [SEQ_LEN] [REPS] [--no-cpu] [--weights auto|float32|bf16|fp16]
// Runs one batch of TOKENS tokens (default 2048) as sequences of SEQ_LEN (default 512, at most the model's context)
// with random ids, every token captured (all L+1 states of every row, as an extraction of one state per token
// would), through decoder_ops_cpu once (unless --no-cpu) and through the CUDA backend (cuda/backend_cuda.h) once to
// warm up (layers uploaded on first use) and REPS more times (default 5), with the CUDA table --weights chooses as
// run.gpu_weights does (default auto: the checkpoint's stored type when bf16 or fp16). Prints per backend the seconds (the
// median for CUDA), tokens/s and GFLOP/s (decoder_flops: the matrix products and the visible attention pairs),
// then ||gpu - cpu|| / ||cpu|| of the worst hidden state, and the states' bytes to the host (every captured row of
// every state: what crosses PCIe) over the forward's seconds. Lines the device scripts read:
//   RESULT backend=NAME [weights=W device="..."] seconds=S tokens_per_s=X gflops=Y
//   RESULT states_rel=R layers=L+1
//   SKIP cuda: WHY          (a build without CUDA or no usable GPU; exit 77 when the CPU did not run either)
// The CPU uses every core (OpenMP, one-thread OpenBLAS blocks). Exit 0, 1 on a bad argument or model, 77 skip.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cuda/backend_cuda.h"
#include "cuda/gpu.h"
#include "host/base.h"
#include "host/decoder_cpu.h"
#include "host/extract.h"
#include "host/model.h"
#include "host/threads.h"

// one forward of the batch on ops into out (cleared first); seconds, the median of reps after `warm` untimed runs
static double run(const DecoderOps *ops, Model *m, const TokenBatch *b, const Capture *cap, size_t n_cap, float *out,
                  size_t total, const size_t *offset, int warm, int reps) {
    int NT = b->seq_start[b->n_seq], T_max = 0;
    for (int s = 0; s < b->n_seq; s++)
        if (b->seq_start[s + 1] - b->seq_start[s] > T_max) T_max = b->seq_start[s + 1] - b->seq_start[s];
    Decoder *d = decoder_create(ops, m, NT, T_max);
    double *t = base_malloc((size_t)reps * sizeof(double), "times");
    for (int r = -warm; r < reps; r++) {
        memset(out, 0, total * sizeof(float));  // captures add
        double t0 = bench_now();
        decoder_forward(d, b, cap, n_cap, out, offset);  // returns once the states are on the host
        if (r >= 0) t[r] = bench_now() - t0;
    }
    double med = bench_median(t, reps);
    free(t);
    decoder_free(d);
    return med;
}

int main(int argc, char **argv) {
    threads_choose_blas_kernels(argv);
    int no_cpu = 0, pos = 0, weights = -1;
    const char *path = NULL;
    long arg[3] = {2048, 512, 5};
    static const char *const WEIGHTS[] = {"auto", "float32", "bf16", "fp16"};  // GpuWeights' order
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-cpu") == 0) {
            no_cpu = 1;
        } else if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc) {
            i++;
            for (int w = 0; w < 4; w++)
                if (strcmp(argv[i], WEIGHTS[w]) == 0) weights = w;
            if (weights < 0) weights = 99;
        } else if (!path) {
            path = argv[i];
        } else if (pos < 3) {
            arg[pos++] = strtol(argv[i], NULL, 10);
        }
    }
    if (weights < 0) weights = GPU_WEIGHTS_AUTO;
    if (!path || arg[0] < 1 || arg[1] < 1 || arg[2] < 1 || arg[2] > 1000 || weights > 3) {
        fprintf(stderr, "usage: decoder_speed MODEL [TOKENS] [SEQ_LEN] [REPS] [--no-cpu] [--weights "
                        "auto|float32|bf16|fp16]\n");
        return 1;
    }
    threads_init(omp_get_num_procs());
    char err[BASE_ERR_LEN];
    Model *m = model_open(path, SIZE_MAX, err);
    if (!m) {
        fprintf(stderr, "decoder_speed: %s\n", err);
        return 1;
    }
    const ModelConfig *c = model_config(m);
    int NT = (int)arg[0], len = (int)arg[1], reps = (int)arg[2];
    if (c->max_ctx > 0 && len > c->max_ctx) len = c->max_ctx;
    if (len > NT) len = NT;
    int n_seq = (NT + len - 1) / len;
    int *seq_start = base_malloc(((size_t)n_seq + 1) * sizeof(int), "sequences");
    for (int s = 0; s <= n_seq; s++) seq_start[s] = s * len < NT ? s * len : NT;
    int32_t *ids = base_malloc((size_t)NT * sizeof(int32_t), "ids");
    uint64_t r = 0x5eedull;
    for (int t = 0; t < NT; t++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        ids[t] = (int32_t)(r % (uint64_t)c->vocab);
    }
    Capture *cap = base_malloc((size_t)NT * sizeof(Capture), "captures");
    for (int t = 0; t < NT; t++) cap[t] = (Capture){t, (size_t)t, 1.0f};
    size_t *offset = base_malloc(((size_t)c->n_layers + 1) * sizeof(size_t), "offsets");
    size_t total = extract_layer_offsets(m, (size_t)NT, offset);
    TokenBatch b = {ids, seq_start, n_seq};
    double flops = decoder_flops(c, &b);
    printf("model %s: %d layers, d %d, %d heads (%d kv), d_ff %d; batch %d tokens as %d sequence(s) of up to %d; "
           "%.1f GFLOP per batch\n", path, c->n_layers, c->d_model, c->n_heads, c->n_kv_heads, c->d_ff, NT, n_seq, len,
           flops / 1e9);

    float *cpu = NULL;
    if (!no_cpu) {
        cpu = base_malloc(total * sizeof(float), "cpu states");
        double s = run(&decoder_ops_cpu, m, &b, cap, (size_t)NT, cpu, total, offset, 0, 1);
        printf("RESULT backend=cpu threads=%d seconds=%.4f tokens_per_s=%.1f gflops=%.1f\n", threads_count(), s,
               NT / s, flops / s / 1e9);
    }
    char why[256];
    const Backend *cuda = backend_cuda_get(why, sizeof why);
    GpuInfo gpu;
    int rc = 0;
    if (!cuda) {
        printf("SKIP cuda: %s\n", why);
        rc = no_cpu ? 77 : 0;
    } else if (gpu_bind(0, &gpu) < 0) {
        printf("SKIP cuda: %s\n", gpu.name);
        rc = no_cpu ? 77 : 0;
    } else {
        float *gpu_out = base_malloc(total * sizeof(float), "gpu states");
        const DecoderOps *ops = backend_decoder(cuda, (GpuWeights)weights, model_weight_dtype(m));
        double s = run(ops, m, &b, cap, (size_t)NT, gpu_out, total, offset, 1, reps);
        const char *w = ops == cuda->decoder_bf16 ? "bf16" : ops == cuda->decoder_f16 ? "fp16" : "float32";
        printf("RESULT backend=cuda weights=%s device=\"%s\" seconds=%.4f tokens_per_s=%.1f gflops=%.1f (median of "
               "%d); states to the host %.2f GB, %.1f GB/s over the forward\n", w, gpu.name, s, NT / s, flops / s / 1e9,
               reps, (double)total * sizeof(float) * 1e-9, (double)total * sizeof(float) / s * 1e-9);
        if (cpu) {
            double worst = 0;
            for (int l = 0; l <= c->n_layers; l++) {
                size_t n = (l < c->n_layers ? offset[l + 1] : total) - offset[l];
                double dd = 0, rr = 0;
                for (size_t i = 0; i < n; i++) {
                    double e = (double)gpu_out[offset[l] + i] - cpu[offset[l] + i];
                    dd += e * e;
                    rr += (double)cpu[offset[l] + i] * cpu[offset[l] + i];
                }
                double rel = rr > 0 ? sqrt(dd / rr) : sqrt(dd);
                if (!isfinite(rel)) worst = INFINITY;
                else if (rel > worst) worst = rel;
            }
            printf("RESULT states_rel=%.3g layers=%d\n", worst, c->n_layers + 1);
        }
        free(gpu_out);
    }
    free(cpu), free(offset), free(cap), free(ids), free(seq_start);
    model_free(m);
    return rc;
}
