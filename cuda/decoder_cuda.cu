// decoder_ops_cuda: the decoder's op table on a CUDA device (contract: cuda/decoder_cuda.h).
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/culibs.h"        // cuBLAS, loaded at run time; CHECK_CUBLAS
#include "cuda/decoder_cuda.h"  // defines: decoder_ops_cuda, decoder_cuda_set_resident_limit
#include "cuda/ops.h"           // defines: the launchers, CHECK_CUDA, CHECK_LAUNCH
extern "C" {
#include "host/base.h"
#include "host/model.h"
}

extern "C" int decoder_cuda_blas_ready(char *why, size_t len) { return culibs_blas_ready(why, len); }

// ----------------------------------------------------------------------------
// the Decoder's state

#define ALIGN 256                      // every carved buffer starts here (cudaMalloc's own alignment)
#define STAGE_BYTES ((size_t)32 << 20)  // pinned upload staging: two halves of 16 MiB
#define RESERVE_BYTES ((size_t)1 << 30)  // device memory left free when deciding to keep every layer

static size_t resident_limit = SIZE_MAX;

extern "C" void decoder_cuda_set_resident_limit(size_t bytes) { resident_limit = bytes; }

typedef struct {
    cudaStream_t stream;
    cublasHandle_t blas;
    // pinned host memory: uploads pass through `stage` (two halves, `half_done` recorded after each half's copy),
    // downloads land in `down`'s two slots (NT_max * max(E, C) floats each, `down_done` recorded after each copy;
    // download itself takes slot 0)
    char *stage;
    cudaEvent_t half_done[2];
    int next_half;
    float *down[2];
    cudaEvent_t down_done[2];
    size_t down_floats;
    // the model's constants on the device, one block; NULL fields where the model has none
    void *globals;
    float *embed_table;            // (V, E)
    float *final_w, *final_b;      // (C)
    float *proj_in, *proj_out;     // (C, E), (E, C)
    float *pos_table;              // (pos_rows, C)
    float *embed_rows;             // (NT_max, E) before OPT's project_in
    // the layers: n_sets device copies (n_layers when resident, else 1), set s for layer l: s = resident ? l : 0
    size_t layer_bytes;            // one set's block
    int resident;                  // every layer has its own set, uploaded on first use
    int n_sets;
    void **set_mem;                // (n_sets) blocks
    LayerF32 *sets;                // (n_sets) pointers into them
    int *set_layer;                // (n_sets) the layer each set holds now, -1 none
    // the layers' four matrices and the products with them: CUDA_R_32F, or 16-bit (CUDA_R_16BF, CUDA_R_16F) weights
    // rounded once on the device from the widened float32 (through `widen`, one matrix's float32), each product's
    // input rounded into `act16` (NT_max * max(C, QD, F) values) and float32 accumulation
    cudaDataType wtype;
    float *widen;
    void *act16;
} CudaState;

// bytes of one weight of the layers' matrices, and the type's name for labels and logs
static size_t weight_bytes(cudaDataType t) { return t == CUDA_R_32F ? sizeof(float) : 2; }
static const char *weight_name(cudaDataType t) {
    return t == CUDA_R_32F ? "float32" : t == CUDA_R_16BF ? "bf16" : "fp16";
}

static size_t round_up(size_t b) { return (b + ALIGN - 1) / ALIGN * ALIGN; }

static void *dev_alloc(size_t bytes, const char *label) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        // on the way to the fatal message: these two only inform it, so their own errors are not checked
        size_t free_b = 0, total_b = 0;
        cudaGetLastError();
        cudaMemGetInfo(&free_b, &total_b);
        DIE(cuda_error_hint(e), "cudaMalloc of %.1f MiB for %s failed: %s (%.1f of %.1f MiB free)",
            (double)bytes / 1048576.0, label, cudaGetErrorName(e), (double)free_b / 1048576.0,
            (double)total_b / 1048576.0);
    }
    return p;
}

static void *cuda_alloc(size_t bytes, const char *label) { return dev_alloc(bytes, label); }
static void cuda_release(void *p) {
    if (p) CHECK_CUDA(cudaFree(p));
}

// host src -> device dst on the stream, through the pinned halves: the host copies into one half while the
// other half's transfer runs; the source is free once this returns
static void stage_upload(CudaState *s, void *dst, const void *src, size_t bytes) {
    const size_t half = STAGE_BYTES / 2;
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < half ? bytes - done : half;
        int h = s->next_half;
        s->next_half ^= 1;
        CHECK_CUDA(cudaEventSynchronize(s->half_done[h]));  // the half's previous transfer has left
        memcpy(s->stage + (size_t)h * half, (const char *)src + done, n);
        CHECK_CUDA(cudaMemcpyAsync((char *)dst + done, s->stage + (size_t)h * half, n, cudaMemcpyHostToDevice,
                                   s->stream));
        CHECK_CUDA(cudaEventRecord(s->half_done[h], s->stream));
        done += n;
    }
}

static void cuda_upload(void *dst, const void *src, size_t bytes, Decoder *d) {
    if (!bytes) return;
    CudaState *s = (CudaState *)d->be;
    if (!s) {
        // decoder_create's ALiBi slopes, before open: a pageable cudaMemcpy may return before its DMA lands, and the
        // Decoder's non-blocking stream would not wait for the legacy stream, so wait here (once per Decoder)
        CHECK_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaDeviceSynchronize());
        return;
    }
    stage_upload(s, dst, src, bytes);
}

// device src -> pinned slot, enqueued on the stream after the ops that wrote src and before those that follow
static void cuda_download_start(const float *src, size_t n, int slot, Decoder *d) {
    CudaState *s = (CudaState *)d->be;
    ASSERT(n <= s->down_floats && (slot == 0 || slot == 1));
    if (n) CHECK_CUDA(cudaMemcpyAsync(s->down[slot], src, n * sizeof(float), cudaMemcpyDeviceToHost, s->stream));
    CHECK_CUDA(cudaEventRecord(s->down_done[slot], s->stream));
}

// the slot once its copy has landed; the stream's later work goes on meanwhile
static const float *cuda_download_wait(int slot, Decoder *d) {
    CudaState *s = (CudaState *)d->be;
    CHECK_CUDA(cudaEventSynchronize(s->down_done[slot]));
    return s->down[slot];
}

static const float *cuda_download(const float *src, size_t n, Decoder *d) {
    cuda_download_start(src, n, 0, d);
    return cuda_download_wait(0, d);
}

// bytes of each field of one layer's set, in LayerF32's order; the matrices (wqkv, wo, wup, wdown) at w bytes a weight
enum { N_LAYER_FIELDS = 12 };
static int is_matrix(int field) { return field == 4 || field == 6 || field == 8 || field == 10; }
static void layer_field_bytes(const ModelConfig *c, size_t w, size_t b[N_LAYER_FIELDS]) {
    size_t C = (size_t)c->d_model, F = (size_t)c->d_ff, QD = (size_t)c->n_heads * c->head_dim;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim, UP = c->gated_mlp ? 2 * F : F, f = sizeof(float);
    size_t v[N_LAYER_FIELDS] = {C * f,  C * f,      C * f,      C * f, (QD + 2 * KD) * C * w, (QD + 2 * KD) * f,
                                C * QD * w, C * f, UP * C * w, UP * f, C * F * w,              C * f};
    for (int i = 0; i < N_LAYER_FIELDS; i++) b[i] = round_up(v[i]);
}

// floats of the largest matrix of a layer (the 16-bit weights' float32 staging), and of a product's widest input
static size_t largest_matrix(const ModelConfig *c) {
    size_t C = (size_t)c->d_model, F = (size_t)c->d_ff, QD = (size_t)c->n_heads * c->head_dim;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim, UP = c->gated_mlp ? 2 * F : F, m = (QD + 2 * KD) * C;
    size_t v[3] = {C * QD, UP * C, C * F};
    for (int i = 0; i < 3; i++) m = v[i] > m ? v[i] : m;
    return m;
}
static size_t widest_input(const ModelConfig *c) {
    size_t C = (size_t)c->d_model, F = (size_t)c->d_ff, QD = (size_t)c->n_heads * c->head_dim, m = C > F ? C : F;
    return QD > m ? QD : m;
}

// the fields of L, in layer_field_bytes' order
static void layer_fields(LayerF32 *L, float **f[N_LAYER_FIELDS]) {
    float **q[N_LAYER_FIELDS] = {&L->ln1_w, &L->ln1_b, &L->ln2_w, &L->ln2_b, &L->wqkv,  &L->bqkv,
                                 &L->wo,    &L->bo,    &L->wup,   &L->bup,   &L->wdown, &L->bdown};
    memcpy(f, q, sizeof q);
}

static size_t layer_set_bytes(const ModelConfig *c, size_t w) {
    size_t b[N_LAYER_FIELDS], total = 0;
    layer_field_bytes(c, w, b);
    for (int i = 0; i < N_LAYER_FIELDS; i++) total += b[i];
    return total;
}

// the constants' fields: table, final_w, final_b, proj_in, proj_out, pos_table; exact bytes (0: none)
enum { N_GLOBALS = 6 };
static void globals_bytes(const Model *m, size_t b[N_GLOBALS]) {
    const ModelConfig *c = model_config(m);
    const ModelGlobals *g = model_globals(m);
    size_t C = (size_t)c->d_model, E = (size_t)c->d_embed, f = sizeof(float);
    size_t v[N_GLOBALS] = {(size_t)c->vocab * E * f, g->final_w ? C * f : 0,        g->final_b ? C * f : 0,
                           g->proj_in ? C * E * f : 0, g->proj_out ? E * C * f : 0, g->pos_table ? g->pos_rows * C * f : 0};
    memcpy(b, v, sizeof v);
}

static size_t embed_rows_floats(const ModelConfig *c, int NT_max) {
    return c->d_embed != c->d_model ? (size_t)NT_max * (size_t)c->d_embed : 0;
}

// device bytes beyond the activations: constants (counted without a Model: the table and the largest extras),
// n_sets layers' weights (every layer: resident, the plan when it fits; one: the least, re-uploaded per use), the
// embedding rows; with 16-bit weights their staging and the rounded inputs
static size_t state_bytes(const ModelConfig *c, int NT_max, cudaDataType wtype, size_t n_sets) {
    size_t C = (size_t)c->d_model, E = (size_t)c->d_embed;
    size_t globals = (size_t)c->vocab * E + 2 * C + (E != C ? 2 * C * E : 0) + ((size_t)c->max_ctx + 2) * C;
    size_t sixteen = wtype == CUDA_R_32F ? 0
                                         : round_up(largest_matrix(c) * sizeof(float)) +
                                               round_up((size_t)NT_max * widest_input(c) * 2);
    return globals * sizeof(float) + n_sets * layer_set_bytes(c, weight_bytes(wtype)) +
           embed_rows_floats(c, NT_max) * sizeof(float) + sixteen;
}
// the tables' state_bytes and state_min_bytes (bf16 and fp16 take the same bytes)
static size_t state_bytes_f32(const ModelConfig *c, int NT_max, int T_max) {
    (void)T_max;
    return state_bytes(c, NT_max, CUDA_R_32F, (size_t)c->n_layers);
}
static size_t state_bytes_16(const ModelConfig *c, int NT_max, int T_max) {
    (void)T_max;
    return state_bytes(c, NT_max, CUDA_R_16BF, (size_t)c->n_layers);
}
static size_t state_min_f32(const ModelConfig *c, int NT_max, int T_max) {
    (void)T_max;
    return state_bytes(c, NT_max, CUDA_R_32F, 1);
}
static size_t state_min_16(const ModelConfig *c, int NT_max, int T_max) {
    (void)T_max;
    return state_bytes(c, NT_max, CUDA_R_16BF, 1);
}

// the current device's free memory less the reserve open also keeps (cuBLAS's workspaces, the other buffers of the
// rank: the fits' tables, NCCL)
static size_t cuda_free_bytes(void) {
    size_t free_b = 0, total_b = 0;
    CHECK_CUDA(cudaMemGetInfo(&free_b, &total_b));
    return free_b > RESERVE_BYTES ? free_b - RESERVE_BYTES : 0;
}

// the token embedding table widened on the host (model_embed_rows, the CPU's own widening, any stored dtype)
// a slice at a time into the pinned half, then uploaded
static void upload_embed_table(CudaState *s, Model *m) {
    const ModelConfig *c = model_config(m);
    size_t E = (size_t)c->d_embed, half = STAGE_BYTES / 2, rows_per = half / (E * sizeof(float));
    ASSERT(rows_per > 0);
    int32_t *ids = (int32_t *)base_malloc(rows_per * sizeof(int32_t), "embedding ids");
    for (size_t r0 = 0; r0 < (size_t)c->vocab; r0 += rows_per) {
        size_t n = (size_t)c->vocab - r0 < rows_per ? (size_t)c->vocab - r0 : rows_per;
        for (size_t i = 0; i < n; i++) ids[i] = (int32_t)(r0 + i);
        int h = s->next_half;
        s->next_half ^= 1;
        CHECK_CUDA(cudaEventSynchronize(s->half_done[h]));
        float *rows = (float *)(s->stage + (size_t)h * half);
        model_embed_rows(m, rows, ids, (int)n);
        CHECK_CUDA(cudaMemcpyAsync(s->embed_table + r0 * E, rows, n * E * sizeof(float), cudaMemcpyHostToDevice,
                                   s->stream));
        CHECK_CUDA(cudaEventRecord(s->half_done[h], s->stream));
    }
    free(ids);
}

static void *cuda_open(Decoder *d, cudaDataType wtype) {
    const ModelConfig *c = model_config(d->m);
    const ModelGlobals *g = model_globals(d->m);
    char why[256];
    if (!decoder_cuda_blas_ready(why, sizeof why))
        DIE("install the CUDA toolkit's cuBLAS of the runtime's major version (or put its folder on "
            "LD_LIBRARY_PATH), or set run.device: cpu", "the CUDA decoder needs cuBLAS: %s", why);
    CudaState *s = (CudaState *)base_calloc(1, sizeof *s, "CUDA decoder state");
    s->wtype = wtype;
    CHECK_CUDA(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    CHECK_CUBLAS(culibs_blas.create(&s->blas));
    CHECK_CUBLAS(culibs_blas.set_stream(s->blas, s->stream));
    // float32 products stay float32: no TF32 (the checks hold the GPU to the CPU within 1e-4); the 16-bit products
    // take the tensor cores whatever the mode
    CHECK_CUBLAS(culibs_blas.set_math_mode(s->blas, CUBLAS_DEFAULT_MATH));
    CHECK_CUDA(cudaMallocHost((void **)&s->stage, STAGE_BYTES));
    for (int h = 0; h < 2; h++) {
        CHECK_CUDA(cudaEventCreateWithFlags(&s->half_done[h], cudaEventDisableTiming));
        CHECK_CUDA(cudaEventRecord(s->half_done[h], s->stream));
    }
    size_t E = (size_t)model_final_dim(d->m), C = (size_t)c->d_model;
    s->down_floats = (size_t)d->NT_max * (E > C ? E : C);
    for (int k = 0; k < 2; k++) {
        CHECK_CUDA(cudaMallocHost((void **)&s->down[k], s->down_floats * sizeof(float)));
        CHECK_CUDA(cudaEventCreateWithFlags(&s->down_done[k], cudaEventDisableTiming));
    }
    d->be = s;  // for the uploads below

    // constants
    size_t gb[N_GLOBALS], total = 0;
    globals_bytes(d->m, gb);
    for (int i = 0; i < N_GLOBALS; i++) total += round_up(gb[i]);
    size_t er = embed_rows_floats(c, d->NT_max) * sizeof(float);
    char label[sizeof c->name + 64];
    const char *model_name = c->name[0] ? c->name : "the model";
    snprintf(label, sizeof label, "%s's embedding table and constants (float32)", model_name);
    s->globals = dev_alloc(total + round_up(er), label);
    char *p = (char *)s->globals;
    float **gf[N_GLOBALS] = {&s->embed_table, &s->final_w, &s->final_b, &s->proj_in, &s->proj_out, &s->pos_table};
    const float *src[N_GLOBALS] = {NULL, g->final_w, g->final_b, g->proj_in, g->proj_out, g->pos_table};
    for (int i = 0; i < N_GLOBALS; i++) {
        *gf[i] = gb[i] ? (float *)p : NULL;
        if (src[i]) stage_upload(s, p, src[i], gb[i]);  // the table (no host copy) is widened below
        p += round_up(gb[i]);
    }
    s->embed_rows = er ? (float *)p : NULL;
    upload_embed_table(s, d->m);

    // 16-bit weights: the float32 staging of one matrix, and the rounded inputs of the products
    if (wtype != CUDA_R_32F) {
        snprintf(label, sizeof label, "%s's %s staging (one matrix's float32, the products' rounded inputs)",
                 model_name, weight_name(wtype));
        size_t widen_bytes = round_up(largest_matrix(c) * sizeof(float));
        s->widen = (float *)dev_alloc(widen_bytes + (size_t)d->NT_max * widest_input(c) * 2, label);
        s->act16 = (char *)s->widen + widen_bytes;
    }

    // layers: every one resident when they fit beside a reserve, else one set re-uploaded per use
    s->layer_bytes = layer_set_bytes(c, weight_bytes(wtype));
    size_t free_b = 0, total_b = 0;
    CHECK_CUDA(cudaMemGetInfo(&free_b, &total_b));
    size_t all = (size_t)c->n_layers * s->layer_bytes;
    s->resident = all <= resident_limit && all + RESERVE_BYTES <= free_b;
    s->n_sets = s->resident ? c->n_layers : 1;
    s->set_mem = (void **)base_calloc((size_t)s->n_sets, sizeof(void *), "layer blocks");
    s->sets = (LayerF32 *)base_calloc((size_t)s->n_sets, sizeof(LayerF32), "layer sets");
    s->set_layer = (int *)base_malloc((size_t)s->n_sets * sizeof(int), "layer sets");
    for (int i = 0; i < s->n_sets; i++) {
        snprintf(label, sizeof label, "%s's layer weights (%s matrices, set %d of %d)", model_name, weight_name(wtype),
                 i + 1, s->n_sets);
        s->set_mem[i] = dev_alloc(s->layer_bytes, label);
        s->set_layer[i] = -1;
    }
    return s;
}

static void cuda_close(void *be) {
    CudaState *s = (CudaState *)be;
    if (!s) return;
    CHECK_CUDA(cudaStreamSynchronize(s->stream));
    for (int i = 0; i < s->n_sets; i++) CHECK_CUDA(cudaFree(s->set_mem[i]));
    free(s->set_mem);
    free(s->sets);
    free(s->set_layer);
    CHECK_CUDA(cudaFree(s->globals));
    if (s->widen) CHECK_CUDA(cudaFree(s->widen));
    for (int h = 0; h < 2; h++) CHECK_CUDA(cudaEventDestroy(s->half_done[h]));
    CHECK_CUDA(cudaFreeHost(s->stage));
    for (int k = 0; k < 2; k++) {
        CHECK_CUDA(cudaFreeHost(s->down[k]));
        CHECK_CUDA(cudaEventDestroy(s->down_done[k]));
    }
    CHECK_CUBLAS(culibs_blas.destroy(s->blas));
    CHECK_CUDA(cudaStreamDestroy(s->stream));
    free(s);
}

// layer l on the device: the set that holds it, or uploaded now (widened on the host by model_layer, as the CPU
// backend gets it; with 16-bit weights each matrix then rounded on the device); a NULL field of the host layer stays
// NULL. With 16-bit weights the set's four matrices hold 16-bit values behind LayerF32's float pointers: only this
// table's matmul reads them.
static const LayerF32 *cuda_layer(int l, Decoder *d) {
    CudaState *s = (CudaState *)d->be;
    int set = s->resident ? l : 0;
    if (s->set_layer[set] == l) return &s->sets[set];
    const ModelConfig *c = model_config(d->m);
    LayerF32 host = *model_layer(d->m, l);
    size_t b[N_LAYER_FIELDS], C = (size_t)c->d_model, F = (size_t)c->d_ff, QD = (size_t)c->n_heads * c->head_dim;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim, UP = c->gated_mlp ? 2 * F : F;
    // the fields' exact float counts (b holds them rounded up to the carving boundary)
    size_t n[N_LAYER_FIELDS] = {C, C, C, C, (QD + 2 * KD) * C, QD + 2 * KD, C * QD, C, UP * C, UP, C * F, C};
    layer_field_bytes(c, weight_bytes(s->wtype), b);
    float **hf[N_LAYER_FIELDS], **df[N_LAYER_FIELDS];
    LayerF32 *L = &s->sets[set];
    layer_fields(&host, hf);
    layer_fields(L, df);
    char *p = (char *)s->set_mem[set];
    for (int i = 0; i < N_LAYER_FIELDS; i++) {
        *df[i] = *hf[i] ? (float *)p : NULL;
        // a gated MLP's up bias is (F) in the canonical layout (the decoder passes none): copy what exists
        size_t floats = i == 9 && c->gated_mlp ? F : n[i];
        if (*hf[i] && is_matrix(i) && s->wtype != CUDA_R_32F) {
            // stream order keeps `widen` free: the next upload into it follows this rounding on the stream
            stage_upload(s, s->widen, *hf[i], floats * sizeof(float));
            to_16bit_gpu(p, s->widen, floats, s->wtype == CUDA_R_16BF, s->stream);
        } else if (*hf[i]) {
            stage_upload(s, p, *hf[i], floats * sizeof(float));
        }
        p += b[i];
    }
    s->set_layer[set] = l;
    return L;
}

// ----------------------------------------------------------------------------
// the ops

static cudaStream_t stream_of(Decoder *d) { return ((CudaState *)d->be)->stream; }

// out (T, OC) = inp (T, C) @ W^T (+ bias), all row-major. cuBLAS is column-major: the row-major out (T, OC) is the
// column-major out^T (OC, T) = W (OC, C) inp^T, where W is the column-major (C, OC) view of the row-major weight
// transposed (OP_T) and inp^T the column-major (C, T) view of inp as it lies
static void gemm(CudaState *s, float *out, const float *inp, const float *w, const float *bias, int T, int C, int OC) {
    if (T <= 0 || OC <= 0) return;
    const float one = 1.0f, zero = 0.0f;
    CHECK_CUBLAS(culibs_blas.sgemm(s->blas, CUBLAS_OP_T, CUBLAS_OP_N, OC, T, C, &one, w, C, inp, C, &zero, out, OC));
    if (bias) bias_add_gpu(out, bias, T, OC, s->stream);
}

// the same with 16-bit weights w: inp rounded into act16, then one cublasGemmEx with float32 accumulation and output
static void gemm16(CudaState *s, float *out, const float *inp, const void *w, const float *bias, int T, int C, int OC) {
    if (T <= 0 || OC <= 0) return;
    to_16bit_gpu(s->act16, inp, (size_t)T * (size_t)C, s->wtype == CUDA_R_16BF, s->stream);
    const float one = 1.0f, zero = 0.0f;
    CHECK_CUBLAS(culibs_blas.gemm_ex(s->blas, CUBLAS_OP_T, CUBLAS_OP_N, OC, T, C, &one, w, s->wtype, C, s->act16,
                                     s->wtype, C, &zero, out, CUDA_R_32F, OC, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    if (bias) bias_add_gpu(out, bias, T, OC, s->stream);
}

// the layers' products: w is one of cuda_layer's matrices, in the table's weight type
static void cuda_matmul(float *out, const float *inp, const float *w, const float *b, int T, int C, int OC,
                        Decoder *d) {
    CudaState *s = (CudaState *)d->be;
    if (s->wtype == CUDA_R_32F) gemm(s, out, inp, w, b, T, C, OC);
    else gemm16(s, out, inp, w, b, T, C, OC);
}

static void cuda_embed(float *out, const int32_t *ids, const int *pos, int T, Decoder *d) {
    CudaState *s = (CudaState *)d->be;
    const ModelConfig *c = model_config(d->m);
    float *rows = s->proj_in ? s->embed_rows : out;
    embedding_forward_gpu(rows, ids, s->embed_table, T, c->d_embed, s->stream);
    if (s->proj_in) gemm(s, out, rows, s->proj_in, NULL, T, c->d_embed, c->d_model);
    if (s->pos_table) positions_add_gpu(out, s->pos_table, pos, c->pos_offset, T, c->d_model, s->stream);
}

// the row gather is the embedding gather with the hidden state as the table
static_assert(sizeof(int) == sizeof(int32_t), "capture rows are int, the gather's ids int32_t");
static void cuda_capture(float *rows, const float *x, const int *row_ids, int n, int C, Decoder *d) {
    embedding_forward_gpu(rows, (const int32_t *)row_ids, x, n, C, stream_of(d));
}

static void cuda_final(float *out, float *in, int T, Decoder *d) {
    CudaState *s = (CudaState *)d->be;
    const ModelConfig *c = model_config(d->m);
    const int C = c->d_model;
    if (T <= 0) return;
    float *normed = s->proj_out ? in : out;  // in place when the projection follows, as the CPU
    if (c->final_norm) {
        if (c->norm == NORM_RMS) rmsnorm_forward_gpu(normed, in, s->final_w, T, C, c->norm_eps, s->stream);
        else layernorm_forward_gpu(normed, in, s->final_w, s->final_b, T, C, c->norm_eps, s->stream);
    } else if (!s->proj_out) {
        CHECK_CUDA(cudaMemcpyAsync(out, in, (size_t)T * C * sizeof(float), cudaMemcpyDeviceToDevice, s->stream));
    }
    if (s->proj_out) gemm(s, out, normed, s->proj_out, NULL, T, C, c->d_embed);
}

static void cuda_rmsnorm(float *out, const float *inp, const float *w, int T, int C, float eps, Decoder *d) {
    rmsnorm_forward_gpu(out, inp, w, T, C, eps, stream_of(d));
}
static void cuda_layernorm(float *out, const float *inp, const float *w, const float *b, int T, int C, float eps,
                           Decoder *d) {
    layernorm_forward_gpu(out, inp, w, b, T, C, eps, stream_of(d));
}
static void cuda_qkv_split(float *q, float *k, float *v, const float *qkv, int T, int QD, int KD, float clip,
                           Decoder *d) {
    qkv_split_gpu(q, k, v, qkv, T, QD, KD, clip, stream_of(d));
}
static void cuda_rope(float *x, const int *pos, int T, int NH, int HS, int rot_dims, float theta, Decoder *d) {
    rope_forward_gpu(x, pos, T, NH, HS, rot_dims, theta, stream_of(d));
}
static void cuda_attention(float *out, const float *q, const float *k, const float *v, const int *seq_start, int n_seq,
                           int NT, int NH, int NKV, int HS, const float *alibi, int window, Decoder *d) {
    attention_forward_gpu(out, q, k, v, seq_start, n_seq, NT, NH, NKV, HS, alibi, window, stream_of(d));
}
static void cuda_swiglu(float *out, const float *gu, int T, int F, Decoder *d) {
    swiglu_rows_gpu(out, gu, T, F, stream_of(d));
}
static void cuda_gelu(float *x, size_t N, int tanh_approx, Decoder *d) { gelu_forward_gpu(x, N, tanh_approx, stream_of(d)); }
static void cuda_relu(float *x, size_t N, Decoder *d) { relu_forward_gpu(x, N, stream_of(d)); }
static void cuda_residual(float *out, const float *a, const float *b, size_t N, Decoder *d) {
    residual_forward_gpu(out, a, b, N, stream_of(d));
}

static void *open_f32(Decoder *d) { return cuda_open(d, CUDA_R_32F); }
static void *open_bf16(Decoder *d) { return cuda_open(d, CUDA_R_16BF); }
static void *open_f16(Decoder *d) { return cuda_open(d, CUDA_R_16F); }

// the three tables differ in their weights' type only: open (which sets it), the state's bytes and the name
typedef size_t (*StateBytes)(const ModelConfig *, int, int);
static DecoderOps make_ops(const char *name, void *(*open)(Decoder *), StateBytes bytes, StateBytes least) {
    DecoderOps o;
    memset(&o, 0, sizeof o);
    o.name = name;
    o.alloc = cuda_alloc;
    o.release = cuda_release;
    o.upload = cuda_upload;
    o.download = cuda_download;
    o.download_start = cuda_download_start;
    o.download_wait = cuda_download_wait;
    o.open = open;
    o.close = cuda_close;
    o.state_bytes = bytes;
    o.state_min_bytes = least;
    o.free_bytes = cuda_free_bytes;
    o.layer = cuda_layer;
    o.embed = cuda_embed;
    o.capture = cuda_capture;
    o.final = cuda_final;
    o.matmul = cuda_matmul;
    o.rmsnorm = cuda_rmsnorm;
    o.layernorm = cuda_layernorm;
    o.qkv_split = cuda_qkv_split;
    o.rope = cuda_rope;
    o.attention = cuda_attention;
    o.swiglu = cuda_swiglu;
    o.gelu = cuda_gelu;
    o.relu = cuda_relu;
    o.residual = cuda_residual;
    return o;
}

extern "C" const DecoderOps decoder_ops_cuda = make_ops("cuda", open_f32, state_bytes_f32, state_min_f32);
extern "C" const DecoderOps decoder_ops_cuda_bf16 = make_ops("cuda bf16", open_bf16, state_bytes_16, state_min_16);
extern "C" const DecoderOps decoder_ops_cuda_f16 = make_ops("cuda fp16", open_f16, state_bytes_16, state_min_16);
