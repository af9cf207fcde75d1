#include "host/ridge.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/linalg.h"
#include "host/threads.h"

// ----------------------------------------------------------------------------
// targets

int ridge_targets_init(RidgeTargets *rt, const float *Y, size_t N, size_t T, const CvPlan *cv, char *err) {
    memset(rt, 0, sizeof *rt);
    if (cv->n != N) return base_errf(err, "targets have %zu samples but the folds were planned for %zu", N, cv->n);
    if (T == 0) return base_errf(err, "no targets");
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++)
            if (!isfinite(Y[i * T + t]))
                return base_errf(err, "target %zu is %s at sample %zu", t + 1, isnan(Y[i * T + t]) ? "NaN" : "infinite",
                                 i + 1);
    rt->Y = Y, rt->N = N, rt->T = T, rt->cv = cv;
    rt->seg_sum = base_calloc(base_mul(cv->n_seg, T), sizeof(double), "target sums");
    rt->seg_sumsq = base_calloc(base_mul(cv->n_seg, T), sizeof(double), "target sums");
    rt->constant = base_malloc(T, "constant targets");
    memset(rt->constant, 1, T);
    for (size_t s = 0; s < cv->n_seg; s++)
        for (size_t i = cv->seg_start[s]; i < cv->seg_start[s + 1]; i++)
            for (size_t t = 0; t < T; t++) {
                double y = Y[i * T + t];
                rt->seg_sum[s * T + t] += y;
                rt->seg_sumsq[s * T + t] += y * y;
                if (Y[i * T + t] != Y[t]) rt->constant[t] = 0;
            }
    for (size_t t = 0; t < T; t++) rt->n_constant += rt->constant[t];
    return 0;
}

void ridge_targets_resident(RidgeTargets *rt, const LinalgOps *la) {
    if (rt->resident) return;
    rt->resident_la = la;
    if (la == &linalg_ops_cpu) {  // the CPU table's memory is the host's: Y is already there
        rt->resident = (float *)rt->Y;
        return;
    }
    const size_t bytes = base_mul(rt->N, rt->T) * sizeof(float);
    rt->resident = la->alloc(bytes, "the targets, shared by every layer's fit");
    la->upload(rt->resident, rt->Y, bytes);
}

void ridge_targets_free(RidgeTargets *rt) {
    if (rt->resident && rt->resident != rt->Y) rt->resident_la->free(rt->resident);
    free(rt->seg_sum);
    free(rt->seg_sumsq);
    free(rt->constant);
    memset(rt, 0, sizeof *rt);
}

// ----------------------------------------------------------------------------
// per feature matrix: centred copies and per-segment statistics

typedef struct {
    float *Xc;      // (N, P) features minus their mean over all samples
    double *Xd;     // (N, P) the same in float64
    double *mean;   // (P) the mean removed
    double *seg_sx; // (n_seg, P) sums of centred features
    double *seg_H;  // (n_seg, P, P) X_s^T X_s, when a primal split needs them
    double *G;      // (NB, N, N) per-band kernels X_b X_b^T, when a dual split needs them
} XStats;

enum { SCORE_CHUNK = 256 };  // columns per chunk: Ba and work, (R, 256) floats each, stay in L2 for R ~ 500
enum { GRID_CHUNK = 128 };   // targets per chunk of the all-alphas form

// Which forms the splits take, known before any split is fitted; they size the workspace.
typedef struct {
    int primal, dual;  // some split is fitted in the primal (dual) form
    int expl, suff;    // some primal split scores through explicit predictions (sufficient statistics)
    int pred, weights; // held-out predictions; the all-samples refit
} Forms;

// Every buffer a target batch needs, carved from one allocation of the backend before the batch loop (sized
// for the largest batch): the feature statistics, the segment products, one split's basis, the scoring's
// columns and per-thread chunks, the refit. Nothing is allocated per split, per alpha or per fold. Sizes: R1
// the largest basis rank (P primal, up to N dual), RR the largest basis (P^2 or N^2), NR the largest held-out
// basis (N P explicit, N^2 dual); pieces of forms no split takes are empty.
typedef struct {
    XStats xs;
    float *Yb;                         // (N, Tb) the batch's targets (empty where the targets are resident)
    float *D;                          // (n_seg, P, Tb) segment products
    double *lam, *V, *mu, *s;          // (R1), (RR), (P), (P)
    float *Vf, *B, *tmp;               // (RR), (R1, Tb), (P, Tb)
    float *A, *Yte;                    // (NR), (N, Tb) explicit predictions
    double *Ad, *Z;                    // (NR), (N, P)
    float *Ht, *Pm;                    // (P, P), (P, Tb) sufficient statistics
    double *Hd, *HV, *mt, *m, *sx;     // (P, P) twice, (P) thrice
    double *ybar, *sy;                 // (Tb) copies of ybar_h and sy_h for the ops
    double *Kr, *ka, *Kte;             // dual: (N, N), (N), (N, N)
    double *kar, *kac;                 // dual: (N) the row and column terms of a centring (copies of kar_h, kac_h)
    float *ytr;                        // dual: (N, Tb)
    size_t *tcol, *rcol;               // (A Tb) columns of a scoring, for the ops (copies of tcol_h, rcol_h)
    double *acol, *racol;              // (A Tb) their alphas, for the ops
    size_t *block, *block_end;         // (P) ties of the all-alphas form (copies of block_h, block_end_h)
    double *M, *E, *grid_chunk;        // (P, P), (A, 2P), (threads, 8 P + 4 A) GRID_CHUNK
    float *col_chunk;                  // (threads, R1 + max(N, R1)) SCORE_CHUNK
    double *col_acc;                   // (threads, 3 SCORE_CHUNK)
    float *yh;                         // (N, Tb) predictions of a split
    double *Ba, *W, *coef;             // refit: (R1, Tb), (P, Tb), (R1, Tb)
    // host memory, a block of its own (host_block): what the fit's own loops read and write
    uint8_t *mask_out, *mask_in;       // (2 n_seg + 1) the masks of an outer split and of a nested one
    size_t *rows_tr, *rows_te;         // (N) a split's training and held-out samples
    size_t *tcol_h, *rcol_h, *ridx;    // (A Tb) columns of a scoring: all, those redone directly, where they go
    double *acol_h, *racol_h, *sums;   // (A Tb), (A Tb), (3, 2 A Tb)
    uint8_t *redo;                     // (A Tb)
    float *yh_h;                       // (N, Tb) a copy of yh (held-out predictions)
    double *W_h;                       // (P, Tb) a copy of W (the refit's weights)
    size_t *block_h, *block_end_h;     // (P) ties of the all-alphas form
    double *E_h, *grid_out_h;          // (A, 2P) its [d | d^2]; (threads, 4 A GRID_CHUNK) copies of its sums
    double *ka_h, *kar_h, *kac_h;      // dual: (N) a copy of ka; the centring's row and column terms
    double *unused;                    // (2 T) the scores a predictions-only pass discards
    double *seg_sx_h, *mean_h;         // (n_seg, P), (P): copies of xs->seg_sx and xs->mean
    double *mu_h, *s_h, *sx_h, *m_h;   // (P) a split's training mean, band scaling, held-out sums, m (ops' mu, s, sx, m)
    double *lam_h;                     // (R1) a basis's eigenvalues, clamped at 0 (the ops' lam)
    double *ybar_h, *sy_h, *syy_h;     // (Tb) the targets' training mean, held-out sum and sum of squares
    void *host_block;
    size_t threads;                    // OpenMP threads with chunk buffers
    size_t R1;
} Work;

// a bump allocator over one block; with no block it only measures
typedef struct {
    char *base;
    size_t off;
} Arena;

// The part of a split's basis that no target enters: the eigendecomposition of its training Gram (or kernel)
// and what the held-out scoring derives from it. It is the same for every target batch, so after the first
// batch builds it the fit keeps it in the design cache where the cache has room (ridge_cv sizes the cache from
// the memory budget), and later batches (the other subjects' targets of a whole-brain fit) reuse it instead of
// decomposing again; without room it is built in the workspace at each use. Backend memory unless named _h.
typedef struct {
    int dual, expl;       // dual form; explicit predictions (else sufficient statistics)
    size_t R;
    double *lam, *lam_h;  // (R) eigenvalues clamped at 0, and their host copy
    double *V;            // (R^2) eigenvectors in float64, primal (P, R), dual (n_tr, R): in the cache the refit's only
    float *Vf;            // (R^2) the same in float32, for the products with the targets
    double *mu, *mu_h;    // primal: (P) the training means of the centred features, and their host copy
    float *A;             // expl: (n_te, R) the held-out samples in the eigenbasis
    double *Hd, *mt;      // suff: (R, R) V^T H_test V of the train-centred held-out features; (R) V^T their sum
} Design;

// Designs kept for the fit's later target batches, one slot per (split, band scaling, explicit or not).
typedef struct {
    Design *slot;      // (n_keys)
    uint8_t *built;    // (n_keys)
    size_t n_keys;
    Arena a, h;        // the kept designs' backend and host memory
    size_t cap, cap_h; // their sizes; cap 0: nothing is kept
} DesignCache;

typedef struct {
    const RidgeConfig *cfg;
    const RidgeTargets *Y;
    const CvPlan *cv;
    const LinalgOps *la;
    size_t N, P, T, K, A, NB, NG;
    size_t *band_of;     // (P) band of each feature
    double *gamma;       // (NG, NB) candidates (all ones when none given)
    RidgeStats *stats;
    Work *w;
    Design *scratch;     // a design built in the workspace (views of it), for one use
    DesignCache *cache;
    RidgeDesigns *shared;  // cfg->designs where it fits this fit's shape, else NULL
    size_t x;              // the feature matrix in use (fold-wise matrices: its fold)
    const float *resident; // (N, T) the targets in the backend's memory (ridge_targets_resident), or NULL
    const float *yb;       // the batch's targets: (N, Tb) with rows ldy apart, in the backend's memory
    size_t ldy;
} Ctx;

static void *take(Arena *a, size_t n, size_t size) {
    size_t bytes = base_mul(n, size);
    void *p = a->base && bytes ? a->base + a->off : NULL;
    a->off += (bytes + 63) / 64 * 64;  // 64-byte pieces: cache lines, and FFTW's and the vector units' alignment
    return p;
}

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

// the workspace's pieces for batches of up to Tb targets, backend memory from a and host memory from h (pointers
// NULL while a->base, h->base are NULL)
static void work_layout(Work *w, Arena *a, Arena *h, const Ctx *c, const Forms *f, size_t Tb) {
    const size_t N = c->N, P = c->P, A = c->A, S = c->cv->n_seg, NN = base_mul(N, N);
    const size_t R1 = max2(f->primal ? P : 0, f->dual ? N : 0), nth = w->threads;
    const size_t RR = max2(f->primal ? base_mul(P, P) : 0, f->dual ? NN : 0);
    const size_t NR = max2(f->expl ? base_mul(N, P) : 0, f->dual ? NN : 0), ATb = base_mul(A, Tb);
    w->R1 = R1;
    const size_t PP = f->suff ? base_mul(P, P) : 0, Ps = f->suff ? P : 0;
    const size_t Nte = f->expl || f->dual ? base_mul(N, Tb) : 0, Nd = f->dual ? N : 0, NNd = f->dual ? NN : 0;
    // the feature matrix's statistics; the batch's segment products; the masks and samples of two splits
    XStats *xs = &w->xs;
    xs->Xc = take(a, base_mul(N, P), sizeof(float)), xs->Xd = take(a, base_mul(N, P), sizeof(double));
    xs->mean = take(a, P, sizeof(double)), xs->seg_sx = take(a, base_mul(S, P), sizeof(double));
    xs->seg_H = take(a, f->primal ? base_mul(S, base_mul(P, P)) : 0, sizeof(double));
    xs->G = take(a, base_mul(c->NB, NNd), sizeof(double));
    w->Yb = take(a, c->resident ? 0 : base_mul(N, Tb), sizeof(float));
    w->D = take(a, f->primal ? base_mul(S, base_mul(P, Tb)) : 0, sizeof(float));
    // a split's basis: both forms, explicit predictions, sufficient statistics, the dual's kernels
    w->lam = take(a, R1, sizeof(double)), w->V = take(a, RR, sizeof(double)), w->Vf = take(a, RR, sizeof(float));
    w->mu = take(a, P, sizeof(double)), w->s = take(a, P, sizeof(double));
    w->B = take(a, base_mul(R1, Tb), sizeof(float)), w->tmp = take(a, f->primal ? base_mul(P, Tb) : 0, sizeof(float));
    w->A = take(a, NR, sizeof(float)), w->Ad = take(a, NR, sizeof(double)), w->Yte = take(a, Nte, sizeof(float));
    w->Z = take(a, f->expl ? base_mul(N, P) : 0, sizeof(double));
    w->Ht = take(a, PP, sizeof(float)), w->Hd = take(a, PP, sizeof(double)), w->HV = take(a, PP, sizeof(double));
    w->Pm = take(a, f->suff ? base_mul(P, Tb) : 0, sizeof(float));
    w->mt = take(a, Ps, sizeof(double)), w->m = take(a, Ps, sizeof(double)), w->sx = take(a, Ps, sizeof(double));
    w->ybar = take(a, Tb, sizeof(double)), w->sy = take(a, Tb, sizeof(double));
    w->Kr = take(a, NNd, sizeof(double)), w->ka = take(a, Nd, sizeof(double)), w->Kte = take(a, NNd, sizeof(double));
    w->kar = take(a, Nd, sizeof(double)), w->kac = take(a, Nd, sizeof(double));
    w->ytr = take(a, f->dual ? base_mul(N, Tb) : 0, sizeof(float));
    // the scoring's columns, the all-alphas form, the per-thread chunks
    w->tcol = take(a, ATb, sizeof(size_t)), w->rcol = take(a, ATb, sizeof(size_t));
    w->acol = take(a, ATb, sizeof(double)), w->racol = take(a, ATb, sizeof(double));
    w->block = take(a, Ps, sizeof(size_t)), w->block_end = take(a, Ps, sizeof(size_t));
    w->M = take(a, PP, sizeof(double)), w->E = take(a, f->suff ? base_mul(A, 2 * P) : 0, sizeof(double));
    w->grid_chunk = take(a, f->suff ? base_mul(nth, (8 * P + 4 * A) * GRID_CHUNK) : 0, sizeof(double));
    w->col_chunk = take(a, base_mul(nth, (R1 + max2(N, R1)) * SCORE_CHUNK), sizeof(float));
    w->col_acc = take(a, base_mul(nth, 3 * SCORE_CHUNK), sizeof(double));
    // predictions; the refit
    w->yh = take(a, f->pred ? base_mul(N, Tb) : 0, sizeof(float));
    w->Ba = take(a, f->weights ? base_mul(R1, Tb) : 0, sizeof(double));
    w->W = take(a, f->weights ? base_mul(P, Tb) : 0, sizeof(double));
    w->coef = take(a, f->weights && f->dual ? base_mul(R1, Tb) : 0, sizeof(double));
    // host
    w->mask_out = take(h, 2 * S + 1, 1), w->mask_in = take(h, 2 * S + 1, 1);
    w->rows_tr = take(h, N, sizeof(size_t)), w->rows_te = take(h, N, sizeof(size_t));
    w->tcol_h = take(h, ATb, sizeof(size_t)), w->rcol_h = take(h, ATb, sizeof(size_t));
    w->ridx = take(h, ATb, sizeof(size_t)), w->redo = take(h, ATb, 1);
    w->acol_h = take(h, ATb, sizeof(double)), w->racol_h = take(h, ATb, sizeof(double));
    w->sums = take(h, base_mul(6, ATb), sizeof(double));
    w->yh_h = take(h, f->pred ? base_mul(N, Tb) : 0, sizeof(float));
    w->W_h = take(h, f->weights ? base_mul(P, Tb) : 0, sizeof(double));
    w->block_h = take(h, Ps, sizeof(size_t)), w->block_end_h = take(h, Ps, sizeof(size_t));
    w->ka_h = take(h, Nd, sizeof(double)), w->kar_h = take(h, Nd, sizeof(double)), w->kac_h = take(h, Nd, sizeof(double));
    w->unused = take(h, f->pred ? 2 * c->T : 0, sizeof(double));
    w->E_h = take(h, f->suff ? base_mul(A, 2 * P) : 0, sizeof(double));
    w->grid_out_h = take(h, f->suff ? base_mul(nth, 4 * A * GRID_CHUNK) : 0, sizeof(double));
    w->seg_sx_h = take(h, base_mul(S, P), sizeof(double)), w->mean_h = take(h, P, sizeof(double));
    w->mu_h = take(h, P, sizeof(double)), w->s_h = take(h, P, sizeof(double));
    w->sx_h = take(h, P, sizeof(double)), w->m_h = take(h, P, sizeof(double)), w->lam_h = take(h, R1, sizeof(double));
    w->ybar_h = take(h, Tb, sizeof(double)), w->sy_h = take(h, Tb, sizeof(double)), w->syy_h = take(h, Tb, sizeof(double));
}

// One allocation from the backend and one of host memory (w->host_block, free() releases it) for batches of up
// to Tb targets; returns the backend's block (la->free releases it).
static void *work_create(Work *w, const Ctx *c, const Forms *f, size_t Tb) {
    memset(w, 0, sizeof *w);
    w->threads = (size_t)omp_get_max_threads();
    Arena a = {NULL, 0}, h = {NULL, 0};
    work_layout(w, &a, &h, c, f, Tb);
    c->stats->work_bytes = a.off;
    a.base = c->la->alloc(a.off, "ridge workspace");
    h.base = w->host_block = base_malloc(h.off, "ridge host workspace");
    a.off = h.off = 0;
    work_layout(w, &a, &h, c, f, Tb);
    return a.base;
}

static double flops_eigh(size_t n) { return 9.0 * (double)n * (double)n * (double)n; }

// the feature matrix X (host) into the backend, centred; its segment sums and mean copied back for the host's loops
static void xstats_fill(XStats *xs, const Ctx *c, const float *X, const Forms *f) {
    const size_t N = c->N, P = c->P;
    const LinalgOps *la = c->la;
    la->upload(xs->Xc, X, base_mul(N, P) * sizeof(float));
    la->centre(xs->Xc, xs->Xd, xs->mean, N, P);
    const CvPlan *cv = c->cv;
    la->memset(xs->seg_sx, 0, cv->n_seg * P * sizeof(double));
    for (size_t s = 0; s < cv->n_seg; s++) {
        size_t a = cv->seg_start[s], len = cv->seg_start[s + 1] - a;
        la->dsum_rows(xs->seg_sx + s * P, xs->Xd + a * P, P, len, P);
    }
    la->download(c->w->seg_sx_h, xs->seg_sx, cv->n_seg * P * sizeof(double));
    la->download(c->w->mean_h, xs->mean, P * sizeof(double));
    if (f->primal) {
        for (size_t s = 0; s < cv->n_seg; s++) {
            size_t a = cv->seg_start[s], len = cv->seg_start[s + 1] - a;
            la->dsyrk(LINALG_T, P, len, 1.0, xs->Xd + a * P, P, 0.0, xs->seg_H + s * P * P, P);
            c->stats->flops += (double)len * (double)P * (double)P;
        }
    }
    if (f->dual) {
        for (size_t b = 0, p0 = 0; b < c->NB; b++) {
            size_t w = c->cfg->n_bands > 1 ? c->cfg->band_size[b] : P;
            la->dsyrk(LINALG_N, N, w, 1.0, xs->Xd + p0, P, 0.0, xs->G + b * N * N, N);
            c->stats->flops += (double)N * (double)N * (double)w;
            p0 += w;
        }
    }
}

// the targets [t0, t0 + Tb) of every sample in the backend: a view of the resident targets, or else uploaded
// into Yb (N, Tb)
static void batch_view(Ctx *c, size_t t0, size_t Tb) {
    const size_t N = c->N, T = c->T;
    if (c->resident) {
        c->yb = c->resident + t0, c->ldy = T;
        return;
    }
    float *Yb = c->w->Yb;
    c->yb = Yb, c->ldy = Tb;
    if (Tb == T) {
        c->la->upload(Yb, c->Y->Y, base_mul(N, T) * sizeof(float));
        return;
    }
    for (size_t i = 0; i < N; i++) c->la->upload(Yb + i * Tb, c->Y->Y + i * T + t0, Tb * sizeof(float));
}

// D (n_seg, P, Tb) = X_s^T Y_s over the batch's targets: the one pass over Y of a batch
static void segment_products(float *D, const XStats *xs, const Ctx *c, size_t Tb) {
    const CvPlan *cv = c->cv;
    const size_t P = c->P;
    for (size_t s = 0; s < cv->n_seg; s++) {
        size_t a = cv->seg_start[s], len = cv->seg_start[s + 1] - a;
        c->la->sgemm(LINALG_T, LINALG_N, P, Tb, len, 1.0f, xs->Xc + a * P, P, c->yb + a * c->ldy, c->ldy, 0.0f,
                     D + s * P * Tb, Tb);
    }
    c->stats->flops += 2.0 * (double)c->N * (double)P * (double)Tb;
}

// ----------------------------------------------------------------------------
// one split, decomposed: held-out predictions for any alpha are A diag(1/(lam + alpha)) B + ybar

typedef struct {
    uint8_t *tr, *te;  // (n_seg) segment masks; NULL te: no held-out samples (the refit)
    size_t n_tr, n_te;
    size_t id;         // the split's place in the plan: outer k, inner j at k (K + 1) + j + 1; the refit at K (K + 1)
} Split;

// A split's basis: its design (views of the cache or of the workspace) and its products with the batch's targets
// (views of the workspace), valid until the next basis is built.
typedef struct {
    int dual, expl;       // dual form; explicit predictions (else sufficient statistics)
    size_t R, n_te, Tb;
    double *lam;          // (R) backend; lam_h its host copy
    double *lam_h;
    double *V;            // primal (P, R) eigenvectors; dual (n_tr, R); the refit's only
    double *mu;           // (P) training means of the centred features (primal; host)
    float *B;             // (R, Tb)
    float *A;             // expl: (n_te, R) held-out samples in the eigenbasis
    float *Yte;           // expl: (n_te, Tb) held-out targets
    float *Ht;            // suff: (R, R) V^T H_test V of train-centred held-out features
    double *Hd;           // suff: the same in float64
    double *mt;           // suff: (R) V^T (sum of train-centred held-out features)
    float *Pm;            // suff: (R, Tb) V^T X_test^T y_test, centred
    double *ybar, *sy, *syy;  // (Tb) training mean; held-out sum and sum of squares (host)
} Basis;

// rows (n): the samples of the masked segments
static void split_rows(size_t *rows, const CvPlan *cv, const uint8_t *mask) {
    size_t k = 0;
    for (size_t s = 0; s < cv->n_seg; s++)
        if (mask[s])
            for (size_t i = cv->seg_start[s]; i < cv->seg_start[s + 1]; i++) rows[k++] = i;
}

// the targets' training mean and held-out sums over [t0, t0 + Tb)
static void basis_target_sums(Basis *b, const Ctx *c, const Split *sp, size_t t0, size_t Tb) {
    const size_t T = c->T;
    b->ybar = c->w->ybar_h, b->sy = c->w->sy_h, b->syy = c->w->syy_h;
    memset(b->ybar, 0, Tb * sizeof(double));
    memset(b->sy, 0, Tb * sizeof(double));
    memset(b->syy, 0, Tb * sizeof(double));
    for (size_t s = 0; s < c->cv->n_seg; s++) {
        const double *sum = c->Y->seg_sum + s * T + t0, *sq = c->Y->seg_sumsq + s * T + t0;
        for (size_t t = 0; t < Tb; t++) {
            if (sp->tr[s]) b->ybar[t] += sum[t];
            if (sp->te && sp->te[s]) b->sy[t] += sum[t], b->syy[t] += sq[t];
        }
    }
    for (size_t t = 0; t < Tb; t++) b->ybar[t] /= (double)sp->n_tr;
}

// y (n, Tb): the batch's targets of the samples rows (n, host)
static void gather_targets(float *y, const Ctx *c, const size_t *rows, size_t n, size_t Tb) {
    c->la->gather_rows(y, c->yb, c->ldy * sizeof(float), rows, n, Tb * sizeof(float));
}

// ----------------------------------------------------------------------------
// a split's design: built in the cache or in the workspace

// the form of split sp's basis: dual when it has more features than training samples; a primal basis scores
// through explicit predictions when asked (explicit_pred) or when fewer samples are held out than there are
// features (the cheaper way then), else through sufficient statistics
static void split_form(const Ctx *c, const Split *sp, int explicit_pred, int *dual, int *expl) {
    *dual = c->P > sp->n_tr;
    *expl = *dual || (sp->te && sp->n_te > 0 && (explicit_pred || sp->n_te < c->P));
}

// a design's pieces for split sp in this form, from a (backend) and h (host); measures only while their bases
// are NULL. keep_V: the float64 eigenvectors get their own piece (else they are the workspace's scratch).
static void design_layout(Design *d, Arena *a, Arena *h, const Ctx *c, const Split *sp, int dual, int expl,
                          int keep_V) {
    const size_t P = c->P, R = dual ? sp->n_tr : P, n_te = sp->te ? sp->n_te : 0;
    const int suff = !dual && !expl && n_te > 0;
    *d = (Design){.dual = dual, .expl = expl, .R = R};
    d->lam = take(a, R, sizeof(double)), d->lam_h = take(h, R, sizeof(double));
    d->V = keep_V ? take(a, base_mul(R, R), sizeof(double)) : NULL;
    d->Vf = take(a, base_mul(R, R), sizeof(float));
    d->mu = dual ? NULL : take(a, P, sizeof(double)), d->mu_h = dual ? NULL : take(h, P, sizeof(double));
    d->A = expl && n_te ? take(a, base_mul(n_te, R), sizeof(float)) : NULL;
    d->Hd = suff ? take(a, base_mul(R, R), sizeof(double)) : NULL, d->mt = suff ? take(a, R, sizeof(double)) : NULL;
}

// the backend bytes of the design of split sp in this form, kept in the cache (the refit keeps its eigenvectors)
static size_t design_bytes(const Ctx *c, const Split *sp, int explicit_pred) {
    int dual, expl;
    split_form(c, sp, explicit_pred, &dual, &expl);
    Arena a = {NULL, 0}, h = {NULL, 0};
    Design d;
    design_layout(&d, &a, &h, c, sp, dual, expl, sp->te == NULL);
    return a.off;
}

// the eigenvalues of a design clamped at 0 (rounding below zero on a positive semi-definite matrix), with a host copy
static void design_clamp(Design *d, const LinalgOps *la) {
    la->download(d->lam_h, d->lam, d->R * sizeof(double));
    for (size_t i = 0; i < d->R; i++)
        if (d->lam_h[i] < 0) d->lam_h[i] = 0;
    la->upload(d->lam, d->lam_h, d->R * sizeof(double));
}

// primal: the centred training Gram scaled by s (host w->s_h, backend w->s), diagonalised; the held-out samples
// in its eigenbasis (explicit) or their sufficient statistics
static void design_primal(Design *d, const Ctx *c, const XStats *xs, const Split *sp) {
    const CvPlan *cv = c->cv;
    const LinalgOps *la = c->la;
    Work *w = c->w;
    const size_t P = c->P, NS = cv->n_seg;
    const double *s = w->s_h;
    double *mu = d->mu_h, *G = d->V ? d->V : w->V;
    memset(mu, 0, P * sizeof(double));
    la->memset(G, 0, P * P * sizeof(double));
    for (size_t g = 0; g < NS; g++)
        if (sp->tr[g]) {
            const double *sx = w->seg_sx_h + g * P;
            la->dsum_rows(G, xs->seg_H + g * P * P, P * P, 1, P * P);
            for (size_t p = 0; p < P; p++) mu[p] += sx[p];
        }
    for (size_t p = 0; p < P; p++) mu[p] /= (double)sp->n_tr;
    la->upload(d->mu, mu, P * sizeof(double));
    la->centre_gram(G, P, d->mu, NULL, (double)sp->n_tr, w->s);
    la->eigh(G, d->lam, P);  // G now holds V
    c->stats->flops += flops_eigh(P);
    design_clamp(d, la);
    la->to_float(d->Vf, G, P * P);

    if (d->expl) {
        // A = (X_te - mu) S V
        size_t *rows = w->rows_te;
        split_rows(rows, cv, sp->te);
        double *Z = w->Z, *Ad = w->Ad;
        la->gather_rows(Z, xs->Xd, P * sizeof(double), rows, sp->n_te, P * sizeof(double));
        la->sub_scale(Z, sp->n_te, P, d->mu, w->s);
        la->dgemm(LINALG_N, LINALG_N, sp->n_te, P, P, 1.0, Z, P, G, P, 0.0, Ad, P);
        c->stats->flops += 2.0 * (double)sp->n_te * (double)P * (double)P;
        la->to_float(d->A, Ad, sp->n_te * P);
    } else if (d->Hd) {
        // the held-out samples' Gram and sums centred on the training means: Ht = V^T Hc V, mt = V^T m
        double *Hc = d->Hd, *sx = w->sx_h;
        la->memset(Hc, 0, P * P * sizeof(double));
        memset(sx, 0, P * sizeof(double));
        for (size_t g = 0; g < NS; g++)
            if (sp->te[g]) {
                const double *sg = w->seg_sx_h + g * P;
                la->dsum_rows(Hc, xs->seg_H + g * P * P, P * P, 1, P * P);
                for (size_t p = 0; p < P; p++) sx[p] += sg[p];
            }
        const double n = (double)sp->n_te;
        la->upload(w->sx, sx, P * sizeof(double));
        la->centre_gram(Hc, P, d->mu, w->sx, n, w->s);
        double *m = w->m_h;
        for (size_t p = 0; p < P; p++) m[p] = (sx[p] - n * mu[p]) * s[p];
        la->upload(w->m, m, P * sizeof(double));
        double *HV = w->HV;
        la->dgemm(LINALG_N, LINALG_N, P, P, P, 1.0, Hc, P, G, P, 0.0, HV, P);
        la->dgemm(LINALG_T, LINALG_N, P, P, P, 1.0, G, P, HV, P, 0.0, Hc, P);
        la->dgemv(LINALG_T, P, P, 1.0, G, P, w->m, 0.0, d->mt);
        c->stats->flops += 4.0 * (double)P * (double)P * (double)P;
    }
}

// dual: the centred training kernel sum_b gamma_b X_b X_b^T, diagonalised; the held-out samples' kernel rows in
// its eigenbasis
static void design_dual(Design *d, const Ctx *c, const XStats *xs, const Split *sp, const double *gamma) {
    const LinalgOps *la = c->la;
    Work *w = c->w;
    const size_t N = c->N, n_tr = sp->n_tr, n_te = sp->te ? sp->n_te : 0;
    size_t *tr = w->rows_tr, *te = w->rows_te;
    split_rows(tr, c->cv, sp->tr);
    if (n_te) split_rows(te, c->cv, sp->te);
    // kernel rows of every sample against the training samples, then centring in feature space:
    // (x_i - mu)(x_j - mu)^T = k_ij - a_i - a_j + cc, a_i the mean of k_i. over training j
    double *Kr = w->Kr;
    la->memset(Kr, 0, N * n_tr * sizeof(double));
    for (size_t bd = 0; bd < c->NB; bd++) la->gather_cols_axpy(Kr, xs->G + bd * N * N, N, N, tr, n_tr, gamma[bd]);
    double *a = w->ka_h, cc = 0;
    la->row_means(w->ka, Kr, N, n_tr);
    la->download(a, w->ka, N * sizeof(double));
    for (size_t j = 0; j < n_tr; j++) cc += a[tr[j]];
    cc /= (double)n_tr;
    // the centring's terms: a of the training rows, for the rows and the columns alike
    double *ar = w->kar_h, *ac = w->kac_h;
    for (size_t j = 0; j < n_tr; j++) ac[j] = a[tr[j]];
    la->upload(w->kac, ac, n_tr * sizeof(double));
    double *U = d->V ? d->V : w->V;
    la->gather_rows(U, Kr, n_tr * sizeof(double), tr, n_tr, n_tr * sizeof(double));
    la->double_centre(U, n_tr, n_tr, w->kac, w->kac, cc);
    la->eigh(U, d->lam, n_tr);
    c->stats->flops += flops_eigh(n_tr);
    design_clamp(d, la);
    la->to_float(d->Vf, U, n_tr * n_tr);
    if (n_te) {
        double *Kte = w->Kte, *Ad = w->Ad;
        for (size_t i = 0; i < n_te; i++) ar[i] = a[te[i]];
        la->upload(w->kar, ar, n_te * sizeof(double));
        la->gather_rows(Kte, Kr, n_tr * sizeof(double), te, n_te, n_tr * sizeof(double));
        la->double_centre(Kte, n_te, n_tr, w->kar, w->kac, cc);
        la->dgemm(LINALG_N, LINALG_N, n_te, n_tr, n_tr, 1.0, Kte, n_tr, U, n_tr, 0.0, Ad, n_tr);
        c->stats->flops += 2.0 * (double)n_te * (double)n_tr * (double)n_tr;
        la->to_float(d->A, Ad, n_te * n_tr);
    }
}

// ----------------------------------------------------------------------------
// designs shared with other fits of the same features (ridge.h)

#define DESIGNS_MAGIC "BSRIDGD1"

// The set is its own serialised form: a header (magic, n_x, n_keys, count), then one entry per design: eight
// uint64 (its index x n_keys + key, its payload's bytes, dual, expl, R, n_te, P, keep_V) and the payload, the
// design's pieces in design_pieces's order. Fields are copied with memcpy (the payload's lengths are whole floats).
struct RidgeDesigns {
    unsigned char *blob;
    size_t len, cap, max_bytes;
    int recording;           // adds the designs a fit builds (a set made empty)
    size_t n_x, n_keys;      // the shape of the fit that recorded it (0: none yet)
    size_t count;
    size_t *at;              // (n_x n_keys) each index's entry in blob, or SIZE_MAX
};

enum { DESIGNS_HEADER = 8 + 3 * 8, ENTRY_FIELDS = 8 };
// the most designs a set indexes (feature matrices x keys): 128 MiB of index; a fit of more shares none
#define DESIGNS_MAX_KEYS ((uint64_t)1 << 24)

typedef struct {
    void *p;
    size_t bytes;
    int host;
} Piece;

// the pieces of design d in their order (pointers NULL where d has none: sizes only); returns their count
static size_t design_pieces(const Design *d, size_t P, size_t n_te, int keep_V, Piece *pc) {
    const size_t R = d->R, RR = base_mul(R, R);
    const int suff = !d->dual && !d->expl && n_te > 0;
    size_t n = 0;
    pc[n++] = (Piece){d->lam, R * sizeof(double), 0};
    pc[n++] = (Piece){d->lam_h, R * sizeof(double), 1};
    if (keep_V) pc[n++] = (Piece){d->V, base_mul(RR, sizeof(double)), 0};
    pc[n++] = (Piece){d->Vf, base_mul(RR, sizeof(float)), 0};
    if (!d->dual) pc[n++] = (Piece){d->mu, P * sizeof(double), 0}, pc[n++] = (Piece){d->mu_h, P * sizeof(double), 1};
    if (d->expl && n_te) pc[n++] = (Piece){d->A, base_mul(base_mul(n_te, R), sizeof(float)), 0};
    if (suff) pc[n++] = (Piece){d->Hd, base_mul(RR, sizeof(double)), 0}, pc[n++] = (Piece){d->mt, R * sizeof(double), 0};
    return n;
}

// a design's payload bytes, or 0 when the sizes overflow
static size_t design_payload(int dual, int expl, size_t R, size_t n_te, size_t P, int keep_V) {
    if (R > ((size_t)1 << 24) || n_te > ((size_t)1 << 32) || P > ((size_t)1 << 24)) return 0;
    Design d = {.dual = dual, .expl = expl, .R = R};
    Piece pc[9];
    size_t n = design_pieces(&d, P, n_te, keep_V, pc), bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += pc[i].bytes;
    return bytes;
}

static void designs_header(RidgeDesigns *ds) {
    uint64_t v[3] = {ds->n_x, ds->n_keys, ds->count};
    memcpy(ds->blob, DESIGNS_MAGIC, 8);
    memcpy(ds->blob + 8, v, sizeof v);
}

RidgeDesigns *ridge_designs_create(size_t max_bytes) {
    RidgeDesigns *ds = base_calloc(1, sizeof *ds, "shared designs");
    ds->cap = DESIGNS_HEADER, ds->len = DESIGNS_HEADER, ds->max_bytes = max_bytes, ds->recording = 1;
    ds->blob = base_malloc(ds->cap, "shared designs");
    designs_header(ds);
    return ds;
}

RidgeDesigns *ridge_designs_from_bytes(const void *bytes, size_t n, char *err) {
    const unsigned char *b = bytes;
    uint64_t v[3];
    if (n < DESIGNS_HEADER || memcmp(b, DESIGNS_MAGIC, 8) != 0) return base_errf(err, "not a set of designs"), NULL;
    memcpy(v, b + 8, sizeof v);
    if (v[0] == 0 || v[1] == 0 || v[0] > DESIGNS_MAX_KEYS || v[1] > DESIGNS_MAX_KEYS / v[0])
        return base_errf(err, "a set of designs for %llu x %llu splits", (unsigned long long)v[0],
                         (unsigned long long)v[1]), NULL;
    RidgeDesigns *ds = base_calloc(1, sizeof *ds, "shared designs");
    ds->n_x = v[0], ds->n_keys = v[1], ds->count = v[2], ds->len = ds->cap = n;
    ds->blob = base_malloc(n, "shared designs");
    memcpy(ds->blob, b, n);
    ds->at = base_malloc(ds->n_x * ds->n_keys * sizeof(size_t), "shared designs");
    for (size_t i = 0; i < ds->n_x * ds->n_keys; i++) ds->at[i] = SIZE_MAX;
    size_t off = DESIGNS_HEADER, seen = 0;
    while (off < n) {
        uint64_t e[ENTRY_FIELDS];
        if (n - off < sizeof e) break;
        memcpy(e, b + off, sizeof e);
        size_t payload = design_payload((int)e[2], (int)e[3], e[4], e[5], e[6], (int)e[7]);
        if (e[0] >= ds->n_x * ds->n_keys || ds->at[e[0]] != SIZE_MAX || e[2] > 1 || e[3] > 1 || e[7] > 1 ||
            payload == 0 || e[1] != payload || n - off - sizeof e < payload)
            break;
        ds->at[e[0]] = off;
        off += sizeof e + payload, seen++;
    }
    if (off != n || seen != ds->count) {
        ridge_designs_free(ds);
        return base_errf(err, "a set of designs damaged at byte %zu of %zu", off, n), NULL;
    }
    return ds;
}

void ridge_designs_free(RidgeDesigns *ds) {
    if (!ds) return;
    free(ds->blob), free(ds->at), free(ds);
}

const void *ridge_designs_bytes(const RidgeDesigns *ds, size_t *n) {
    *n = ds->len;
    return ds->blob;
}

size_t ridge_designs_count(const RidgeDesigns *ds) { return ds->count; }

// cfg's set where it fits a fit of n_x feature matrices and n_keys designs each (an empty set takes the shape)
static RidgeDesigns *designs_for(RidgeDesigns *ds, size_t n_x, size_t n_keys) {
    if (!ds || n_keys > DESIGNS_MAX_KEYS / n_x) return NULL;
    if (ds->recording && ds->count == 0 && ds->n_keys == 0) {
        ds->n_x = n_x, ds->n_keys = n_keys;
        ds->at = base_malloc(n_x * n_keys * sizeof(size_t), "shared designs");
        for (size_t i = 0; i < n_x * n_keys; i++) ds->at[i] = SIZE_MAX;
        designs_header(ds);
    }
    return ds->n_x == n_x && ds->n_keys == n_keys ? ds : NULL;
}

// design d of split key from the shared set, where it holds one of this shape: 1, else 0
static int designs_take(const Ctx *c, size_t key, Design *d, size_t n_te, int keep_V) {
    RidgeDesigns *ds = c->shared;
    if (!ds || ds->at[c->x * ds->n_keys + key] == SIZE_MAX) return 0;
    const unsigned char *e = ds->blob + ds->at[c->x * ds->n_keys + key];
    uint64_t f[ENTRY_FIELDS];
    memcpy(f, e, sizeof f);
    if (f[2] != (uint64_t)d->dual || f[3] != (uint64_t)d->expl || f[4] != d->R || f[5] != n_te || f[6] != c->P ||
        f[7] != (uint64_t)keep_V)
        return 0;
    Piece pc[9];
    size_t n = design_pieces(d, c->P, n_te, keep_V, pc);
    e += sizeof f;
    for (size_t i = 0; i < n; e += pc[i].bytes, i++) {
        if (pc[i].host) memcpy(pc[i].p, e, pc[i].bytes);
        else c->la->upload(pc[i].p, e, pc[i].bytes);
    }
    return 1;
}

// a design just built, into the shared set where it records and has room
static void designs_keep(const Ctx *c, size_t key, const Design *d, size_t n_te, int keep_V) {
    RidgeDesigns *ds = c->shared;
    if (!ds || !ds->recording || ds->at[c->x * ds->n_keys + key] != SIZE_MAX) return;
    Piece pc[9];
    size_t n = design_pieces(d, c->P, n_te, keep_V, pc), payload = 0;
    for (size_t i = 0; i < n; i++) payload += pc[i].bytes;
    uint64_t f[ENTRY_FIELDS] = {c->x * ds->n_keys + key, payload, (uint64_t)d->dual, (uint64_t)d->expl, d->R, n_te,
                                c->P, (uint64_t)keep_V};
    size_t need = ds->len + sizeof f + payload;
    if (need > ds->max_bytes) return;
    if (need > ds->cap) {
        ds->cap = need > 2 * ds->cap ? need : 2 * ds->cap;
        if (ds->cap > ds->max_bytes) ds->cap = ds->max_bytes;
        ds->blob = base_realloc(ds->blob, ds->cap, "shared designs");
    }
    unsigned char *e = ds->blob + ds->len;
    memcpy(e, f, sizeof f);
    e += sizeof f;
    for (size_t i = 0; i < n; e += pc[i].bytes, i++) {
        if (pc[i].host) memcpy(e, pc[i].p, pc[i].bytes);
        else c->la->download(e, pc[i].p, pc[i].bytes);
    }
    ds->at[c->x * ds->n_keys + key] = ds->len;
    ds->len = need, ds->count++;
    designs_header(ds);
}

// split sp's design for band scaling g (its s uploaded in w->s for a primal split): kept from an earlier batch,
// or built now, into the cache when it has room, else into the workspace
static const Design *design_get(const Ctx *c, const XStats *xs, const Split *sp, size_t g, int explicit_pred) {
    int dual, expl;
    split_form(c, sp, explicit_pred, &dual, &expl);
    DesignCache *dc = c->cache;
    const size_t key = (sp->id * c->NG + g) * 2 + (size_t)expl;
    ASSERT(key < dc->n_keys);
    if (dc->built[key]) {
        c->stats->n_reused++;
        return &dc->slot[key];
    }
    Design *d = c->scratch;
    const int keep_V = sp->te == NULL;
    Arena a = {NULL, dc->a.off}, h = {NULL, dc->h.off};
    design_layout(&dc->slot[key], &a, &h, c, sp, dual, expl, keep_V);
    int kept = dc->cap && a.off <= dc->cap && h.off <= dc->cap_h && !c->cfg->no_design_cache;
    if (kept) {
        d = &dc->slot[key];
        design_layout(d, &dc->a, &dc->h, c, sp, dual, expl, keep_V);
    } else {
        Work *w = c->w;
        *d = (Design){.dual = dual, .expl = expl, .R = dual ? sp->n_tr : c->P, .lam = w->lam, .lam_h = w->lam_h,
                      .V = w->V, .Vf = w->Vf, .mu = w->mu, .mu_h = w->mu_h, .A = w->A,
                      .Hd = !dual && !expl && sp->te && sp->n_te ? w->Hd : NULL, .mt = w->mt};
    }
    const size_t n_te = sp->te ? sp->n_te : 0;
    if (designs_take(c, key, d, n_te, keep_V)) {
        c->stats->n_shared++;
    } else {
        if (dual) design_dual(d, c, xs, sp, c->gamma + g * c->NB);
        else design_primal(d, c, xs, sp);
        designs_keep(c, key, d, n_te, keep_V);
    }
    dc->built[key] = (uint8_t)kept;
    return d;
}

// ----------------------------------------------------------------------------
// a split's basis: its design and the batch's targets

// primal: B = V^T (S (C_tr - mu sy_tr^T)), C_tr the sum of the training segments' D; the held-out targets
// (explicit) or their products with the held-out features (sufficient statistics)
static void basis_primal(Basis *b, const Design *d, const Ctx *c, const Split *sp, const float *D, size_t t0,
                         size_t Tb) {
    const CvPlan *cv = c->cv;
    const LinalgOps *la = c->la;
    Work *w = c->w;
    const size_t P = c->P, NS = cv->n_seg;
    *b = (Basis){.expl = d->expl, .R = P, .n_te = sp->n_te, .Tb = Tb, .lam = d->lam, .lam_h = d->lam_h, .V = d->V,
                 .mu = d->mu_h};
    basis_target_sums(b, c, sp, t0, Tb);
    float *tmp = w->tmp;
    la->upload(w->ybar, b->ybar, Tb * sizeof(double));
    la->sum_segments(tmp, D, sp->tr, NS, P, Tb, d->mu, w->ybar, (double)sp->n_tr, w->s);
    b->B = w->B;
    la->sgemm(LINALG_T, LINALG_N, P, Tb, P, 1.0f, d->Vf, P, tmp, Tb, 0.0f, b->B, Tb);
    c->stats->flops += 2.0 * (double)P * (double)P * (double)Tb;
    if (d->expl) {
        size_t *rows = w->rows_te;
        split_rows(rows, cv, sp->te);
        b->A = d->A;
        b->Yte = w->Yte;
        gather_targets(b->Yte, c, rows, sp->n_te, Tb);
    } else if (d->Hd) {
        la->upload(w->sy, b->sy, Tb * sizeof(double));
        la->sum_segments(tmp, D, sp->te, NS, P, Tb, d->mu, w->sy, 1.0, w->s);
        b->Pm = w->Pm;
        la->sgemm(LINALG_T, LINALG_N, P, Tb, P, 1.0f, d->Vf, P, tmp, Tb, 0.0f, b->Pm, Tb);
        c->stats->flops += 2.0 * (double)P * (double)P * (double)Tb;
        b->Ht = w->Ht;
        la->to_float(b->Ht, d->Hd, P * P);
        b->Hd = d->Hd;
        b->mt = d->mt;
    }
}

// dual: B = U^T (y_tr - ybar); the held-out targets
static void basis_dual(Basis *b, const Design *d, const Ctx *c, const Split *sp, size_t t0, size_t Tb) {
    const LinalgOps *la = c->la;
    Work *w = c->w;
    const size_t n_tr = sp->n_tr, n_te = sp->te ? sp->n_te : 0;
    *b = (Basis){.dual = 1, .expl = 1, .R = n_tr, .n_te = n_te, .Tb = Tb, .lam = d->lam, .lam_h = d->lam_h,
                 .V = d->V};
    basis_target_sums(b, c, sp, t0, Tb);
    size_t *tr = w->rows_tr, *te = w->rows_te;
    split_rows(tr, c->cv, sp->tr);
    if (n_te) split_rows(te, c->cv, sp->te);
    float *ytr = w->ytr;
    gather_targets(ytr, c, tr, n_tr, Tb);
    la->upload(w->ybar, b->ybar, Tb * sizeof(double));
    la->sub_cols_f(ytr, n_tr, Tb, w->ybar);
    b->B = w->B;
    la->sgemm(LINALG_T, LINALG_N, n_tr, Tb, n_tr, 1.0f, d->Vf, n_tr, ytr, Tb, 0.0f, b->B, Tb);
    c->stats->flops += 2.0 * (double)n_tr * (double)n_tr * (double)Tb;
    if (n_te) {
        b->A = d->A;
        b->Yte = w->Yte;
        gather_targets(b->Yte, c, te, n_te, Tb);
    }
}

// ----------------------------------------------------------------------------
// scores of columns (target, alpha) on a split's held-out samples

typedef struct {
    double *s1, *s2, *s3;  // (n_cols) sums of yhat', yhat'^2 and yhat' y over the held-out samples,
} ColSums;                 // yhat' the prediction without the training mean of y

// The sums of columns [j0, j0 + m) from their scaled targets Ba (R, m) = B[:, tcol] / (lam + acol): through the
// held-out samples' basis (explicit; predictions (n_te, m) into yh, row stride ld) or through the sufficient
// statistics (work (R, m) = Ht Ba). run: the chunk's targets are consecutive and share one alpha, so every
// loop reads contiguous memory.
static void score_chunk(const Basis *b, const LinalgOps *la, const size_t *tcol, const double *acol, size_t j0,
                        size_t m, int run, ColSums *cs, float *Ba, float *work, double *acc, float *yh, size_t ld) {
    const size_t R = b->R, Tb = b->Tb;
    la->shrink(Ba, b->B, Tb, b->lam, R, tcol + j0, acol + j0, m, run);
    la->memset(acc, 0, 3 * m * sizeof(double));
    if (b->expl) {
        la->sgemm(LINALG_N, LINALG_N, b->n_te, m, R, 1.0f, b->A, R, Ba, m, 0.0f, yh, ld);
        la->col_sums(acc, yh, ld, yh, ld, NULL, b->Yte, Tb, tcol + j0, b->n_te, m, run);
    } else {
        la->sgemm(LINALG_N, LINALG_N, R, m, R, 1.0f, b->Ht, R, Ba, m, 0.0f, work, m);
        la->col_sums(acc, Ba, m, work, m, b->mt, b->Pm, Tb, tcol + j0, R, m, run);
    }
    la->download(cs->s1 + j0, acc, m * sizeof(double));
    la->download(cs->s2 + j0, acc + m, m * sizeof(double));
    la->download(cs->s3 + j0, acc + 2 * m, m * sizeof(double));
}

// Columns (target tcol[j], alpha acol[j]), j < n, scored on the split's held-out samples: the sums, and with
// pred the predictions (n_te, n). block > 0: the columns come in blocks of `block` consecutive targets with
// one alpha each. Chunks of columns (never across blocks) run on OpenMP threads, each with single-threaded
// BLAS and its own chunk buffers of the workspace, so one pool of threads works and each chunk's buffers stay
// in cache.
static void score_columns(const Basis *b, const Ctx *c, const size_t *tcol, const double *acol, size_t n,
                          size_t block, ColSums *cs, float *pred) {
    const size_t R = b->R, CH = SCORE_CHUNK, rows = b->expl ? b->n_te : R;
    const size_t bl = block ? block : n, per_block = (bl + CH - 1) / CH, n_chunks = n / bl * per_block;
    const Work *w = c->w;
    const size_t per_thread = (w->R1 + max2(c->N, w->R1)) * CH;
    int blas = threads_blas_narrow();
#pragma omp parallel if (n_chunks > 1)
    {
        const size_t th = (size_t)omp_get_thread_num();
        ASSERT(th < w->threads);
        float *Ba = w->col_chunk + th * per_thread, *work = Ba + w->R1 * CH;
        double *acc = w->col_acc + th * 3 * CH;
#pragma omp for schedule(dynamic)
        for (size_t i = 0; i < n_chunks; i++) {
            size_t j0 = i / per_block * bl + i % per_block * CH, end = i / per_block * bl + bl;
            size_t m = end - j0 < CH ? end - j0 : CH;
            score_chunk(b, c->la, tcol, acol, j0, m, block > 0, cs, Ba, work, acc, pred ? pred + j0 : work,
                        pred ? n : m);
        }
    }
    threads_blas_restore(blas);
    c->stats->flops += 2.0 * (double)rows * (double)R * (double)n;
}

// held-out squared error, Pearson r and R^2 of one column from its sums
static void fold_scores(const Basis *b, size_t t, double s1, double s2, double s3, double *sse, double *r, double *r2) {
    double n = (double)b->n_te, mu = b->ybar[t], sy = b->sy[t], syy = b->syy[t];
    double vary = syy - sy * sy / n, varp = s2 - s1 * s1 / n, cov = s3 - s1 * sy / n;
    double e = syy - 2.0 * (s3 + mu * sy) + s2 + 2.0 * mu * s1 + n * mu * mu;
    int constant = !(vary > 1e-12 * (syy > 0 ? syy : 1.0));
    *sse = e > 0 ? e : 0;
    *r = constant || !(varp > 0) ? NAN : cov / sqrt(varp * vary);
    *r2 = constant ? NAN : 1.0 - *sse / vary;
}

// ----------------------------------------------------------------------------
// the protocol

// the split `outer` (< 0: every sample trains, none is held out) or nested split (outer, inner); masks in
// buf (2 n_seg + 1)
static void split_init(Split *sp, const CvPlan *cv, int outer, int inner, uint8_t *buf) {
    sp->tr = buf;
    sp->te = sp->tr + cv->n_seg;
    const size_t K = (size_t)cv->n_blocks;
    sp->id = outer < 0 ? K * (K + 1) : (size_t)outer * (K + 1) + (size_t)(inner + 1);
    if (outer < 0) {
        memset(sp->tr, 1, cv->n_seg);
        sp->te = NULL;
        sp->n_tr = cv->n, sp->n_te = 0;
    } else {
        cv_split(cv, outer, inner, sp->tr, sp->te, &sp->n_tr, &sp->n_te);
    }
}

// explicit_pred: the held-out samples in the eigenbasis even where sufficient statistics would be cheaper
static void basis_build(Basis *b, const Ctx *c, const XStats *xs, const Split *sp, size_t g, const float *D, size_t t0,
                        size_t Tb, int explicit_pred) {
    c->stats->n_splits++;
    if (c->P > sp->n_tr) {
        c->stats->n_dual++;
        basis_dual(b, design_get(c, xs, sp, g, explicit_pred), c, sp, t0, Tb);
        return;
    }
    const double *gamma = c->gamma + g * c->NB;
    double *s = c->w->s_h;
    for (size_t p = 0; p < c->P; p++) s[p] = sqrt(gamma[c->band_of[p]]);
    c->la->upload(c->w->s, s, c->P * sizeof(double));
    basis_primal(b, design_get(c, xs, sp, g, explicit_pred), c, sp, D, t0, Tb);
}
// Every alpha of the grid at once from sufficient statistics (a primal basis without explicit
// predictions). With b_a = diag(d_a) b, d_a,i = 1/(lam_i + alpha_a), the held-out sums are
//   s1 = sum_i d_i mt_i b_i,   s3 = sum_i d_i b_i Pm_i,   s2 = b_a^T Ht b_a = sum_ij Ht_ij b_i b_j d_i d_j,
// and partial fractions, d_i d_j = (d_i - d_j) / (lam_j - lam_i) for lam_i != lam_j, turn s2 into
//   s2 = sum_i d_i^2 u_i + sum_i d_i v_i,  u_i = b_i sum_{j tied to i} Ht_ij b_j,  v_i = 2 b_i sum_{j not tied} Ht_ij b_j / (lam_j - lam_i)
// (eigenvalues within a relative 1e-10 of each other are tied and take d_i d_j = d_i^2). u and v do not
// depend on alpha: one (R, R) x (R, Tb) product per split replaces one per alpha, and each alpha costs
// O(R) per target. All in float64. The cancellation this form can suffer (large alphas, close
// eigenvalues) is measured per column: where sum_i |terms| exceeds 1e5 s2, the column is marked in
// redo (1) for the direct computation.
static void score_grid_sums(const Basis *b, const Ctx *c, size_t Tb, ColSums *cs, uint8_t *redo) {
    const size_t R = b->R, A = c->A, CH = GRID_CHUNK;
    const double *lam = b->lam_h, *alphas = c->cfg->alphas;
    const LinalgOps *la = c->la;
    const Work *w = c->w;
    size_t *block = w->block_h, *block_end = w->block_end_h;  // first index of each eigenvalue's tie block; its end
    const double tie = 1e-10 * (lam[0] + alphas[0]);
    for (size_t i = 0; i < R; i++) block[i] = i > 0 && fabs(lam[i - 1] - lam[i]) <= tie ? block[i - 1] : i;
    for (size_t i = R; i-- > 0;) block_end[i] = i + 1 < R && block[i + 1] == block[i] ? block_end[i + 1] : i + 1;
    la->upload(w->block, block, R * sizeof(size_t));
    la->upload(w->block_end, block_end, R * sizeof(size_t));
    // E (A, 2R) = [d | d^2] per alpha
    double *E = w->E_h;
    for (size_t a = 0; a < A; a++)
        for (size_t i = 0; i < R; i++) {
            double d = 1.0 / (lam[i] + alphas[a]);
            E[a * 2 * R + i] = d, E[a * 2 * R + R + i] = d * d;
        }
    la->upload(w->E, E, base_mul(A, 2 * R) * sizeof(double));
    double *M = w->M;  // divided differences
    la->divided_differences(M, b->Hd, b->lam, w->block, R);
    int blas = threads_blas_narrow();
#pragma omp parallel
    {
        // per chunk of m targets: Bc (R, m) the projected targets, Q = M Bc; F (2R, 2m) = [[v |v|] [u |u|]],
        // G (R, 2m) = [mt b | b Pm]; then E F = [s2 | magnitude] and E[:, :R] G = [s1 | s3], (A, 2m) each, read
        // back into the thread's host copy O
        const size_t th = (size_t)omp_get_thread_num();
        ASSERT(th < w->threads);
        double *Bc = w->grid_chunk + th * (8 * R + 4 * A) * CH, *Q = Bc + R * CH, *F = Q + R * CH, *G = F + 4 * R * CH;
        double *Od = G + 2 * R * CH, *O = w->grid_out_h + th * 4 * A * CH;
#pragma omp for schedule(dynamic)
        for (size_t t0 = 0; t0 < Tb; t0 += CH) {
            const size_t m = Tb - t0 < CH ? Tb - t0 : CH, m2 = 2 * m;
            la->widen(Bc, b->B + t0, Tb, R, m);
            la->dgemm(LINALG_N, LINALG_N, R, m, R, 1.0, M, R, Bc, m, 0.0, Q, m);
            la->pf_terms(F, G, Bc, Q, b->Hd, b->mt, b->Pm + t0, Tb, w->block, w->block_end, R, m);
            la->dgemm(LINALG_N, LINALG_N, A, m2, 2 * R, 1.0, w->E, 2 * R, F, m2, 0.0, Od, m2);
            la->dgemm(LINALG_N, LINALG_N, A, m2, R, 1.0, w->E, 2 * R, G, m2, 0.0, Od + A * m2, m2);
            la->download(O, Od, 2 * A * m2 * sizeof(double));
            double *Os = O, *Og = O + A * m2;
            for (size_t a = 0; a < A; a++)
                for (size_t t = 0; t < m; t++) {
                    size_t j = a * Tb + t0 + t;
                    double s2 = Os[a * m2 + t], mag = Os[a * m2 + m + t];
                    cs->s1[j] = Og[a * m2 + t], cs->s3[j] = Og[a * m2 + m + t], cs->s2[j] = s2;
                    redo[j] = !(isfinite(s2) && mag <= 1e5 * s2);
                }
        }
    }
    threads_blas_restore(blas);
    c->stats->flops += 2.0 * (double)R * (double)R * (double)Tb + 12.0 * (double)A * (double)R * (double)Tb;
}

// every (gamma, alpha) for every target of the batch on split sp: its squared error added to
// sse_nested (NG, A, Tb) and its r, R^2 and squared error to acc_* (NG, A, T) at column t0 (each may be NULL)
static void score_grid(const Ctx *c, const XStats *xs, const Split *sp, const float *D, size_t t0, size_t Tb,
                       double *sse_nested, double *acc_r, double *acc_r2, double *acc_sse) {
    const size_t A = c->A, T = c->T;
    const Work *w = c->w;
    size_t *tcol = w->tcol_h, *rcol = w->rcol_h, *ridx = w->ridx;
    double *acol = w->acol_h, *racol = w->racol_h;
    uint8_t *redo = w->redo;
    for (size_t a = 0; a < A; a++)
        for (size_t t = 0; t < Tb; t++) tcol[a * Tb + t] = t, acol[a * Tb + t] = c->cfg->alphas[a];
    size_t n = A * Tb;
    c->la->upload(w->tcol, tcol, n * sizeof(size_t));
    c->la->upload(w->acol, acol, n * sizeof(double));
    // each sum's second half holds the directly computed columns
    ColSums cs = {w->sums, w->sums + 2 * n, w->sums + 4 * n};
    for (size_t g = 0; g < c->NG; g++) {
        Basis b;
        basis_build(&b, c, xs, sp, g, D, t0, Tb, 0);
        if (b.expl) {
            score_columns(&b, c, w->tcol, w->acol, n, Tb, &cs, NULL);
        } else {
            score_grid_sums(&b, c, Tb, &cs, redo);
            size_t m = 0;  // the marked columns, computed directly
            for (size_t j = 0; j < n; j++)
                if (redo[j]) rcol[m] = tcol[j], racol[m] = acol[j], ridx[m++] = j;
            if (m) {
                ColSums rs = {cs.s1 + n, cs.s2 + n, cs.s3 + n};
                c->la->upload(w->rcol, rcol, m * sizeof(size_t));
                c->la->upload(w->racol, racol, m * sizeof(double));
                score_columns(&b, c, w->rcol, w->racol, m, 0, &rs, NULL);
                for (size_t k = 0; k < m; k++)
                    cs.s1[ridx[k]] = rs.s1[k], cs.s2[ridx[k]] = rs.s2[k], cs.s3[ridx[k]] = rs.s3[k];
                c->stats->n_direct += m;
            }
        }
        for (size_t a = 0; a < A; a++)
            for (size_t t = 0; t < Tb; t++) {
                size_t j = a * Tb + t;
                double e, r, r2;
                fold_scores(&b, t, cs.s1[j], cs.s2[j], cs.s3[j], &e, &r, &r2);
                if (sse_nested) sse_nested[(g * A + a) * Tb + t] += e;
                if (acc_r) {
                    size_t o = (g * A + a) * T + t0 + t;
                    acc_r[o] += r, acc_r2[o] += r2, acc_sse[o] += e;
                }
            }
    }
}

// the outer split sp scored with each target's own (gamma, alpha) choice[t] = g * A + a; r and r2
// of the fold added to r_sum, r2_sum; predictions into out->pred
static void score_choice(const Ctx *c, const XStats *xs, const Split *sp, const float *D, size_t t0, size_t Tb,
                         const size_t *choice, double *r_sum, double *r2_sum, float *pred) {
    const size_t A = c->A;
    const Work *w = c->w;
    size_t *tcol = w->tcol_h, *rows = w->rows_te;
    double *acol = w->acol_h;
    ColSums cs = {w->sums, w->sums + Tb, w->sums + 2 * Tb};
    for (size_t g = 0; g < c->NG; g++) {
        size_t n = 0;
        for (size_t t = 0; t < Tb; t++)
            if (choice[t] / A == g) tcol[n] = t, acol[n] = c->cfg->alphas[choice[t] % A], n++;
        if (n == 0) continue;
        Basis b;
        basis_build(&b, c, xs, sp, g, D, t0, Tb, pred != NULL);
        // the basis leaves the held-out samples in rows (explicit predictions, asked for with pred)
        c->la->upload(w->tcol, tcol, n * sizeof(size_t));
        c->la->upload(w->acol, acol, n * sizeof(double));
        score_columns(&b, c, w->tcol, w->acol, n, 0, &cs, pred ? w->yh : NULL);
        float *yh = w->yh_h;
        if (pred) c->la->download(yh, w->yh, base_mul(sp->n_te, n) * sizeof(float));
        for (size_t j = 0; j < n; j++) {
            double e, r, r2;
            fold_scores(&b, tcol[j], cs.s1[j], cs.s2[j], cs.s3[j], &e, &r, &r2);
            r_sum[t0 + tcol[j]] += r, r2_sum[t0 + tcol[j]] += r2;
            if (pred)
                for (size_t i = 0; i < sp->n_te; i++)
                    pred[rows[i] * c->T + t0 + tcol[j]] = yh[i * n + j] + (float)b.ybar[tcol[j]];
        }
    }
}

// the best (gamma, alpha) of each target: least pooled squared error (least = 1) or greatest mean r
// (least = 0; NaN means never win), ties to the larger alpha; scores (NG, A, stride) at column t
static size_t choose(const Ctx *c, const double *score, size_t stride, size_t t, int least) {
    size_t best = (c->A - 1), found = 0;
    for (size_t a = 0; a < c->A; a++)
        for (size_t g = 0; g < c->NG; g++) {
            size_t i = g * c->A + a;
            double v = score[i * stride + t];
            if (isnan(v)) continue;
            double cur = found ? score[best * stride + t] : 0;
            if (!found || (least ? v <= cur : v >= cur)) best = i, found = 1;
        }
    return best;
}

static void count_choice(const Ctx *c, size_t choice, RidgeStats *st) {
    size_t a = choice % c->A;
    if (c->A >= 3) st->n_edge_low += a == 0, st->n_edge_high += a == c->A - 1;
    st->n_choices++;
}

// target batch size from the memory budget: what one target costs in the largest step, after what
// the batch-independent state takes
static size_t batch_targets(const Ctx *c, const Forms *f, int acc_all, size_t budget) {
    const size_t N = c->N, P = c->P, S = c->cv->n_seg, A = c->A;
    const int need_primal = f->primal, need_dual = f->dual;
    double fixed = 12.0 * (double)N * (double)P + (need_primal ? 8.0 * (double)S * P * P + 40.0 * (double)P * P : 0) +
                   (need_dual ? 8.0 * (double)c->NB * N * N + 40.0 * (double)N * N : 0) +
                   (acc_all ? 24.0 * (double)c->NG * A * c->T : 0) + 40.0 * (double)c->T;
    double R = need_dual ? (double)(N > P ? N : P) : (double)P, rows = R > (double)N ? R : (double)N;
    fixed += 4.0 * SCORE_CHUNK * (R + rows) * (double)omp_get_max_threads();  // score_columns' chunk buffers
    double per = (need_primal ? 4.0 * (double)S * P : 0) + 4.0 * R + 20.0 * (double)P + 8.0 * (double)N +
                 (double)A * 32.0 + 8.0 * (double)c->NG * A;
    double room = (double)budget - fixed;
    // a budget below the batch-independent state cannot be met; batches of one target would redo the
    // splits' work for every target (100x the time on the demo), so take a modest batch instead
    size_t Tb = room > per ? (size_t)(room / per) : 64;
    return Tb < c->T ? Tb : c->T;
}

// The design cache's size. need: the backend bytes of the designs the protocol builds for one feature matrix
// (each band scaling of each split in each form it takes; with fold-wise matrices, the largest fold's, as the
// cache is emptied for each). Of a few sizes up to need, the one that leaves the fewest decompositions per design
// (an uncached design is rebuilt by every target batch, and a cache leaves the batches less room) wins; *Tb_max
// gets its batch size. Nothing is kept when the targets fit in one batch.
static size_t design_cache_size(const Ctx *c, const Forms *f, int nested, int acc_all, int x_per_fold, size_t budget,
                                size_t *Tb_max) {
    const CvPlan *cv = c->cv;
    const int K = cv->n_blocks, pred_pass = !nested && f->pred;
    uint8_t *buf = base_malloc(2 * cv->n_seg + 1, "masks");
    Split sp;
    size_t need = 0, all = 0;
    if (f->weights) split_init(&sp, cv, -1, -1, buf), all += design_bytes(c, &sp, 0);
    for (int k = 0; k < K; k++) {
        size_t fold = 0;
        split_init(&sp, cv, k, -1, buf);
        const int asks[3] = {nested ? f->pred : -1, acc_all ? 0 : -1, pred_pass ? 1 : -1};  // explicit_pred asked
        int used[2] = {0, 0};
        for (int i = 0; i < 3; i++) {
            int dual, expl;
            if (asks[i] < 0) continue;
            split_form(c, &sp, asks[i], &dual, &expl);
            if (!used[expl]) used[expl] = 1, fold += design_bytes(c, &sp, asks[i]);
        }
        for (int j = 0; nested && j < K; j++)
            if (j != k) split_init(&sp, cv, k, j, buf), fold += design_bytes(c, &sp, 0);
        all += fold;
        if (fold > need) need = fold;
    }
    free(buf);
    need = base_mul(x_per_fold ? need : all, c->NG);
    const size_t T = c->T, Tb0 = batch_targets(c, f, acc_all, budget);
    *Tb_max = Tb0;
    if (Tb0 >= T || need == 0) return 0;
    double best = ceil((double)T / (double)Tb0);
    size_t cap = 0;
    const size_t eighths[] = {1, 2, 4, 6};
    for (size_t i = 0; i < sizeof eighths / sizeof *eighths; i++) {
        size_t k = budget / 8 * eighths[i] < need ? budget / 8 * eighths[i] : need;
        size_t Tb = batch_targets(c, f, acc_all, budget - k);
        double kept = (double)k / (double)need, builds = kept + (1.0 - kept) * ceil((double)T / (double)Tb);
        if (builds < best) best = builds, cap = k, *Tb_max = Tb;
    }
    return cap;
}

// empties the cache (a new feature matrix: its designs differ)
static void design_cache_clear(DesignCache *dc) {
    dc->a.off = dc->h.off = 0;
    memset(dc->built, 0, dc->n_keys);
}

static int check_finite(const float *X, size_t N, size_t P, int which, char *err) {
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < P; p++)
            if (!isfinite(X[i * P + p]))
                return base_errf(err, "feature %zu%s is %s at sample %zu", p + 1, which >= 0 ? " (fold-wise matrix)" : "",
                                 isnan(X[i * P + p]) ? "NaN" : "infinite", i + 1);
    return 0;
}

static int check_config(const RidgeConfig *cfg, size_t P, char *err) {
    if (!cfg->cv) return base_errf(err, "ridge: no cross-validation plan");
    if (cfg->n_alphas == 0) return base_errf(err, "ridge: the alpha grid is empty");
    for (size_t a = 0; a < cfg->n_alphas; a++)
        if (!(cfg->alphas[a] > 0) || !isfinite(cfg->alphas[a]) || (a > 0 && cfg->alphas[a] <= cfg->alphas[a - 1]))
            return base_errf(err, "ridge: alphas must be positive, finite and ascending (alpha %zu is %g)", a + 1,
                             cfg->alphas[a]);
    if (P == 0) return base_errf(err, "ridge: no features");
    if (cfg->n_bands > 1) {
        size_t sum = 0;
        for (size_t b = 0; b < cfg->n_bands; b++) {
            if (cfg->band_size[b] == 0) return base_errf(err, "ridge: feature band %zu is empty", b + 1);
            sum += cfg->band_size[b];
        }
        if (sum != P) return base_errf(err, "ridge: feature bands cover %zu features, the design has %zu", sum, P);
    }
    size_t NB = cfg->n_bands > 1 ? cfg->n_bands : 1;
    for (size_t i = 0; i < cfg->n_gammas * NB; i++)
        if (!(cfg->gammas[i] > 0) || !isfinite(cfg->gammas[i]))
            return base_errf(err, "ridge: band scaling %zu of candidate %zu is %g (must be positive)", i % NB + 1,
                             i / NB + 1, cfg->gammas[i]);
    return 0;
}

// the all-samples fit of each target's (gamma, alpha) choice[t]: weights (P, T) and intercepts (T)
static void refit(const Ctx *c, const XStats *xs, const float *D, size_t t0, size_t Tb, const size_t *choice,
                  float *weights, float *intercept) {
    const size_t A = c->A, P = c->P, T = c->T;
    const LinalgOps *la = c->la;
    const Work *w = c->w;
    Split all;
    split_init(&all, c->cv, -1, -1, w->mask_out);
    size_t *tcol = w->tcol_h;
    double *acol = w->acol_h;
    for (size_t g = 0; g < c->NG; g++) {
        size_t n = 0;
        for (size_t t = 0; t < Tb; t++)
            if (choice[t0 + t] / A == g) tcol[n] = t, acol[n] = c->cfg->alphas[choice[t0 + t] % A], n++;
        if (n == 0) continue;
        Basis b;
        basis_build(&b, c, xs, &all, g, D, t0, Tb, 0);
        const size_t R = b.R;
        double *Ba = w->Ba;  // scaled targets
        la->upload(w->tcol, tcol, n * sizeof(size_t));
        la->upload(w->acol, acol, n * sizeof(double));
        la->shrink_d(Ba, b.B, Tb, b.lam, R, w->tcol, w->acol, n);
        double *W = w->W, *f = w->s_h;  // f: each feature's factor, S (primal) or S^2 (dual)
        const double *gamma = c->gamma + g * c->NB;
        for (size_t p = 0; p < P; p++) f[p] = b.dual ? gamma[c->band_of[p]] : sqrt(gamma[c->band_of[p]]);
        la->upload(w->s, f, P * sizeof(double));
        if (!b.dual) {
            la->dgemm(LINALG_N, LINALG_N, P, n, R, 1.0, b.V, R, Ba, n, 0.0, W, n);
        } else {
            // dual coefficients U Ba, then W = S^2 X_c^T coefficients
            double *coef = w->coef;
            la->dgemm(LINALG_N, LINALG_N, R, n, R, 1.0, b.V, R, Ba, n, 0.0, coef, n);
            la->dgemm(LINALG_T, LINALG_N, P, n, R, 1.0, xs->Xd, P, coef, n, 0.0, W, n);
        }
        la->scale_rows(W, P, n, w->s);
        double *Wh = w->W_h;
        la->download(Wh, W, base_mul(P, n) * sizeof(double));
        for (size_t j = 0; j < n; j++) {
            double b0 = b.ybar[tcol[j]];
            for (size_t p = 0; p < P; p++) {
                double wt = Wh[p * n + j];
                weights[p * T + t0 + tcol[j]] = (float)wt;
                b0 -= (w->mean_h[p] + (b.dual ? 0.0 : b.mu[p])) * wt;
            }
            intercept[t0 + tcol[j]] = (float)b0;
        }
    }
}

int ridge_cv(const float *const *X, int x_per_fold, size_t P, const RidgeTargets *Y, const RidgeConfig *cfg,
             RidgeOut *out, RidgeStats *stats, char *err) {
    memset(stats, 0, sizeof *stats);
    if (check_config(cfg, P, err)) return -1;
    const CvPlan *cv = cfg->cv;
    if (Y->cv != cv) return base_errf(err, "ridge: the targets were prepared for other folds");
    const int K = cv->n_blocks, nested = cfg->select == RIDGE_SELECT_INNER;
    const size_t N = Y->N, T = Y->T;
    if (x_per_fold && out->weights)
        return base_errf(err, "ridge: weights need one feature matrix for every fold (fold-wise features differ)");
    if (cv_check(cv, nested, 2, 2, err)) return -1;
    for (int x = 0; x < (x_per_fold ? K : 1); x++)
        if (check_finite(X[x], N, P, x_per_fold ? x : -1, err)) return -1;

    Ctx c = {.cfg = cfg, .Y = Y, .cv = cv, .la = cfg->linalg ? cfg->linalg : &linalg_ops_cpu, .N = N, .P = P, .T = T,
             .K = (size_t)K, .A = cfg->n_alphas, .NB = cfg->n_bands > 1 ? cfg->n_bands : 1,
             .NG = cfg->n_gammas ? cfg->n_gammas : 1, .stats = stats};
    if (Y->resident && Y->resident_la == c.la) c.resident = Y->resident;
    c.band_of = base_malloc(P * sizeof(size_t), "bands");
    for (size_t b = 0, p = 0; b < c.NB; b++)
        for (size_t w = 0; w < (cfg->n_bands > 1 ? cfg->band_size[b] : P); w++) c.band_of[p++] = b;
    c.gamma = base_malloc(c.NG * c.NB * sizeof(double), "band scalings");
    for (size_t i = 0; i < c.NG * c.NB; i++) c.gamma[i] = cfg->n_gammas ? cfg->gammas[i] : 1.0;

    // which forms the splits take (basis_build's choices), so the workspace holds what they need
    Forms f = {.pred = out->pred != NULL, .weights = out->weights != NULL};
    uint8_t *m = base_malloc(2 * cv->n_seg, "masks");
    for (int k = 0; k < K; k++)
        for (int j = -1; j < (nested ? K : 0); j++) {
            if (j == k) continue;
            size_t ntr, nte;
            cv_split(cv, k, j, m, m + cv->n_seg, &ntr, &nte);
            if (P > ntr) {
                f.dual = 1;
            } else {
                f.primal = 1;
                if (nte < P) f.expl = 1;
                else f.suff = 1, f.expl |= j < 0 && out->pred;  // predictions are explicit
            }
        }
    free(m);
    if (out->weights) {
        if (P > N) f.dual = 1;
        else f.primal = 1;
    }

    int blas_threads = threads_blas_widen();
    const size_t A = c.A, NG = c.NG, NB = c.NB;
    const int acc_all = !nested || out->weights;
    size_t Tb_max;
    const size_t budget = cfg->memory_bytes ? cfg->memory_bytes : ((size_t)1 << 30);
    const size_t cache_cap = design_cache_size(&c, &f, nested, acc_all, x_per_fold, budget, &Tb_max);
    stats->batch_targets = Tb_max;
    Work w;
    void *block = work_create(&w, &c, &f, Tb_max);
    c.w = &w;
    Design scratch;
    c.scratch = &scratch;
    DesignCache dc = {.n_keys = ((size_t)K * (size_t)(K + 1) + 1) * NG * 2, .cap = cache_cap};
    dc.slot = base_calloc(dc.n_keys, sizeof(Design), "design cache");
    dc.built = base_calloc(dc.n_keys, 1, "design cache");
    if (cache_cap) {
        dc.cap_h = dc.n_keys * ((w.R1 + P) * sizeof(double) + 128);
        dc.a.base = c.la->alloc(cache_cap, "ridge design cache");
        dc.h.base = base_malloc(dc.cap_h, "ridge design cache");
    }
    c.cache = &dc;
    c.shared = designs_for(cfg->designs, x_per_fold ? (size_t)K : 1, dc.n_keys);
    stats->cache_bytes = cache_cap;
    XStats *xs = &w.xs;
    float *D = w.D;
    double *r_sum = base_calloc(T, sizeof(double), "scores"), *r2_sum = base_calloc(T, sizeof(double), "scores");
    double *log_alpha = base_calloc(T, sizeof(double), "alphas");
    double *gamma_sum = base_calloc(base_mul(T, NB), sizeof(double), "band scalings");
    double *acc_r = NULL, *acc_r2 = NULL, *acc_sse = NULL;
    if (acc_all) {
        acc_r = base_calloc(base_mul(NG * A, T), sizeof(double), "scores");
        acc_r2 = base_calloc(base_mul(NG * A, T), sizeof(double), "scores");
        acc_sse = base_calloc(base_mul(NG * A, T), sizeof(double), "scores");
    }
    double *sse_in = nested ? base_malloc(base_mul(NG * A, Tb_max) * sizeof(double), "nested errors") : NULL;
    size_t *choice = base_malloc(T * sizeof(size_t), "choices");

    // pass 1: every fold scored; nested choices made and scored fold by fold
    int stopped = 0;
    for (int x = 0; x < (x_per_fold ? K : 1) && !stopped; x++) {
        if (x_per_fold) design_cache_clear(&dc);
        c.x = (size_t)x;
        xstats_fill(xs, &c, X[x], &f);
        for (size_t t0 = 0; t0 < T; t0 += Tb_max) {
            if (base_stop_signal) {
                stopped = 1;
                break;
            }
            size_t Tb = T - t0 < Tb_max ? T - t0 : Tb_max;
            stats->n_batches++;
            batch_view(&c, t0, Tb);
            if (D) segment_products(D, xs, &c, Tb);
            for (int k = x_per_fold ? x : 0; k < (x_per_fold ? x + 1 : K); k++) {
                Split outer;
                split_init(&outer, cv, k, -1, w.mask_out);
                if (nested) {
                    memset(sse_in, 0, NG * A * Tb * sizeof(double));
                    for (int j = 0; j < K; j++) {
                        if (j == k) continue;
                        Split in;
                        split_init(&in, cv, k, j, w.mask_in);
                        score_grid(&c, xs, &in, D, t0, Tb, sse_in, NULL, NULL, NULL);
                    }
                    for (size_t t = 0; t < Tb; t++) {
                        size_t ch = choice[t0 + t] = choose(&c, sse_in, Tb, t, 1);
                        count_choice(&c, ch, stats);
                        log_alpha[t0 + t] += log(cfg->alphas[ch % A]);
                        for (size_t b = 0; b < NB; b++) gamma_sum[(t0 + t) * NB + b] += c.gamma[(ch / A) * NB + b];
                    }
                    score_choice(&c, xs, &outer, D, t0, Tb, choice + t0, r_sum, r2_sum, out->pred);
                }
                if (acc_all) score_grid(&c, xs, &outer, D, t0, Tb, NULL, acc_r, acc_r2, acc_sse);
            }
        }
    }

    if (!stopped && nested) {
        for (size_t t = 0; t < T; t++) {
            out->r[t] = r_sum[t] / K;
            if (out->r2) out->r2[t] = r2_sum[t] / K;
            out->alpha[t] = exp(log_alpha[t] / K);
            for (size_t b = 0; out->gamma && b < NB; b++) out->gamma[t * NB + b] = gamma_sum[t * NB + b] / K;
        }
    } else if (!stopped) {
        for (size_t t = 0; t < T; t++) {
            size_t ch = choice[t] = choose(&c, acc_r, T, t, 0);
            count_choice(&c, ch, stats);
            out->r[t] = acc_r[ch * T + t] / K;
            if (out->r2) out->r2[t] = acc_r2[ch * T + t] / K;
            out->alpha[t] = cfg->alphas[ch % A];
            for (size_t b = 0; out->gamma && b < NB; b++) out->gamma[t * NB + b] = c.gamma[(ch / A) * NB + b];
        }
    }

    // pass 2, where needed: predictions of the outer-mean choices; the all-samples refit
    int pred_pass = !nested && out->pred;
    if (!stopped && (pred_pass || out->weights)) {
        if (out->weights && nested)
            for (size_t t = 0; t < T; t++) choice[t] = choose(&c, acc_sse, T, t, 1);
        for (int x = 0; x < (x_per_fold ? K : 1); x++) {
            if (x_per_fold) design_cache_clear(&dc);
            c.x = (size_t)x;
            xstats_fill(xs, &c, X[x], &f);
            for (size_t t0 = 0; t0 < T; t0 += Tb_max) {
                size_t Tb = T - t0 < Tb_max ? T - t0 : Tb_max;
                batch_view(&c, t0, Tb);
                if (D) segment_products(D, xs, &c, Tb);
                for (int k = x_per_fold ? x : 0; pred_pass && k < (x_per_fold ? x + 1 : K); k++) {
                    Split outer;
                    split_init(&outer, cv, k, -1, w.mask_out);
                    score_choice(&c, xs, &outer, D, t0, Tb, choice + t0, w.unused, w.unused + T, out->pred);
                }
                if (out->weights) refit(&c, xs, D, t0, Tb, choice, out->weights, out->intercept);
            }
        }
    }

    if (dc.a.base) c.la->free(dc.a.base);
    free(dc.h.base), free(dc.slot), free(dc.built);
    c.la->free(block);
    free(w.host_block);
    free(choice), free(sse_in), free(acc_r), free(acc_r2), free(acc_sse), free(gamma_sum), free(log_alpha), free(r2_sum);
    free(r_sum), free(c.gamma), free(c.band_of);
    threads_blas_restore(blas_threads);
    return stopped;
}
