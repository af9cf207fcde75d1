#include "host/plan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/backend.h"
#include "host/base.h"
#include "host/fmri.h"
#include "host/bids.h"
#include "host/config.h"
#include "host/model.h"
#include "host/planning.h"
#include "host/stimulus.h"

// ----------------------------------------------------------------------------
// the cost model (docs/slurm.md, "The cost model"); every constant is a figure of docs/PERFORMANCE.md, measured
// on 2026-11-28 on a 2-core KVM guest of an AVX-512 Intel Xeon (24 GiB, Debian 12, OpenBLAS 0.3.21)

// extraction: 2 x (the layers' matrix parameters) x (tokens run) FLOPs; "Memory": a Llama-2-7B-shaped bf16
// checkpoint ran 31.9 TFLOP at 189 GFLOP/s on 2 cores
#define X_GFLOPS_PER_CORE 94.5
// fits, seconds per layer on those 2 cores; "A subject's whole fit" (5,000 words, 4,096 features, 1,000
// electrodes, PCA to 500, 5 folds, 20 alphas, alpha by mean outer r): 0.50 s of ridge, and 7.36 s more for an
// exact PCA on all words (the 84-GFLOP covariance, ~3.4 s, and its 500 leading eigenpairs, ~4 s)
#define FIT_CORES 2.0
#define RIDGE_S 0.50
#define PCA_COV_S 3.4
#define PCA_EIG_S 4.0
// the other PCA routes against the exact one on all words: randomized 5.51 s, per fold 28.9 s, both 25.3 s
#define PCA_RANDOMIZED 0.68
#define PCA_PER_FOLD 3.86
#define PCA_PER_FOLD_RANDOMIZED 3.37
// "How the time grows with n, p and t" (20,000 x 500 x 5,000 and its neighbours): nested alpha selection 3.5x
#define RIDGE_INNER 3.5
// MPI efficiency of the sweep ("strong and weak scaling": 90% on 2 ranks) and start-up per job (inputs, MPI)
#define PARALLEL_EFFICIENCY 0.9
#define START_S 60.0
// activations of the forward pass per token and model dimension (docs/config.md: 0.15 MB per token at d 4,096)
#define ACT_BYTES_PER_TOKEN_DIM 37.0

// GPU ranks (docs/PERFORMANCE.md, "GPU figures of the cost model"): one H200's matrix-product rates, and the share
// of them each stage is assumed to reach until bench/gpu_sweep.sh measures brainsweep itself on a device.
// The CUDA decoder multiplies in float32 without TF32, or in bf16 or fp16 with float32 accumulation
// (run.gpu_weights; cuda/decoder_cuda.h). float32: the vendor's figure for the SXM part
#define GPU_FP32_TFLOPS 67.0
// bf16 with float32 accumulation: an 8192 x 8192 x 8192 product on random data measured on one H200 (PyTorch); fp16
// runs at the same rate on the same tensor cores
#define GPU_BF16_TFLOPS 788.0
// assumed: a decoder on batches of context.batch_tokens reaches half the product rate (attention, norms and the
// state copies take the rest); the fits, with eigensolvers and 500-column products, a quarter
#define GPU_X_SHARE 0.5
#define GPU_FIT_SHARE 0.25

#define GIB 1073741824.0

// GPU-seconds of fits that take core_s core-seconds on the CPU: their work (core-seconds x the per-core rate the
// fits were calibrated at) at the GPU's float32 rate times the share the fits are assumed to reach
static double fit_gpu_seconds(double core_s) {
    return core_s * X_GFLOPS_PER_CORE * 1e9 / (GPU_FP32_TFLOPS * 1e12 * GPU_FIT_SHARE);
}

// ridge time against the calibration shape: samples (1.0 / 1.08 / 1.43 / 1.90 s for 5,000 to 40,000), design
// width (0.25 / 1 / 11.8 for 125 / 500 / 2,000 columns) and targets (0.86 / 1.43 / 3.91 s for 1,000 to 20,000)
double plan_ridge_seconds(double V, double w, double T, int inner, int folds) {
    double r = w / 500.0;
    double sv = 0.85 + 0.15 * V / 5000.0, sw = 0.174 + 0.133 * r + 0.693 * r * r, st = 0.8 + 0.2 * T / 1000.0;
    return RIDGE_S * sv * sw * st * (inner ? RIDGE_INNER : 1.0) * folds / 5.0;
}

double plan_pca_seconds(double V, double d, int per_fold, int randomized) {
    double x = d / 4096.0, route = per_fold ? (randomized ? PCA_PER_FOLD_RANDOMIZED : PCA_PER_FOLD)
                                            : (randomized ? PCA_RANDOMIZED : 1.0);
    return (PCA_COV_S * V / 5000.0 * x * x + PCA_EIG_S * x * x * x) * route;
}

// ----------------------------------------------------------------------------
// what the plan reads

typedef struct {
    int layers, d, final_dim;
    double layer_params;               // matrix parameters of the layers (what a token multiplies through)
    double stored;                     // checkpoint bytes as stored
    int sixteen;                       // a GPU rank multiplies in 16 bits (run.gpu_weights against the stored type)
    size_t tokens;                     // the story's tokens, BOS excluded
    double run[CFG_MAX_CONTEXTS];      // tokens through the model under each context policy
    double flops[CFG_MAX_CONTEXTS];    // and the extraction's FLOPs (host/planning.h)
} PlanModel;

typedef struct {
    int asked;        // a partition was checked with sinfo
    char name[128];
    int gpus, cpus;   // per node, the most over the partition's node groups
    double mem_gib;   // per node
    double limit_s;   // the partition's time limit; 0 = none
    int nodes;
    char gres[256];
} Partition;

static int open_model(const SweepConfig *c, size_t m, const Stimulus *st, PlanModel *pm, char *err) {
    PlannedModel x;
    int rc = planning_model(c, m, st, &x, err);
    // the sweep would stop on a long word: so does its plan (a warning is the sweep's)
    if (rc == 0 && x.long_word[0] && c->long_words == LONG_WORDS_ERROR)
        rc = base_errf(err, "%s: under model %s's tokenizer, %s (stimulus.max_word_tokens)", c->stimulus_file,
                       c->models[m].name, x.long_word);
    if (rc == 0) {
        pm->layers = x.cfg.n_layers, pm->d = x.cfg.d_model, pm->final_dim = x.final_dim;
        pm->layer_params = planning_matrix_params(&x.cfg);
        pm->stored = x.stored_bytes;
        pm->sixteen = backend_gpu_weights(c->gpu_weights, x.weight_dtype) != DT_F32;
        pm->tokens = x.n_tokens;
        for (size_t ci = 0; ci < c->contexts.n; ci++) pm->run[ci] = x.tokens_run[ci], pm->flops[ci] = x.extract_flops[ci];
    }
    planning_model_free(&x);
    return rc;
}

// targets of the fits: regions x subjects, or the good electrodes of the BIDS runs (an upper bound of the
// responsive ones); *left_out counts the subjects whose sidecars the sweep would refuse
static int count_targets(const SweepConfig *c, size_t *T, size_t *subjects, size_t *left_out, size_t *volumes,
                         char *err) {
    *T = *subjects = *left_out = 0;
    if (c->rec_format == REC_BIDS_FMRI) {  // every subject's headers and masks, no volumes read
        FmriQuery q = planning_fmri_query(c);
        FmriRun *runs;
        size_t n, most = 0;
        if (fmri_find_runs(&q, &runs, &n, err)) return -1;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0;) {
            size_t j = i;
            while (j < n && strcmp(runs[j].subject, runs[i].subject) == 0) j++;
            FmriSubject sub;
            rc = fmri_peek_subject(runs + i, j - i, &sub, err);
            if (rc == 0) {
                most = sub.n_vox > most ? sub.n_vox : most;
                *volumes = sub.V;
                fmri_subject_free(&sub);
                ++*subjects;
            }
            i = j;
        }
        free(runs);
        *T = *subjects * most;  // at most: the union of the masks on a shared grid is a little wider
        return rc;
    }
    if (c->rec_format != REC_IEEG) {
        if (c->files.n == 0) return base_errf(err, "%s: recordings.files names no existing file", c->source);
        *subjects = c->files.n;
        *T = c->files.n * c->regions.n;
        return 0;
    }
    IeegRun *runs;
    size_t n;
    if (bids_find_runs(c->ieeg_bids, c->ieeg_task, c->ieeg.source, &runs, &n, err)) return -1;
    if (n == 0) {
        bids_free_runs(runs, n);
        return base_errf(err, "%s: no iEEG runs%s%s in %s", c->source, c->ieeg_task[0] ? " of task " : "",
                         c->ieeg_task, c->ieeg_bids);
    }
    for (size_t i = 0; i < n; i++) {
        int first = i == 0 || strcmp(runs[i].subject, runs[i - 1].subject) != 0;
        size_t good = 0;
        char why[BASE_ERR_LEN];
        if (bids_load_run(&runs[i], c->ieeg_event, why) == 0)
            for (size_t k = 0; k < runs[i].n_channels; k++) good += runs[i].ch[k].good != 0;
        else if (first)
            printf("  %s would be left out: %s\n", runs[i].subject, why), (*left_out)++;
        if (first) (*subjects)++, *T += good;
    }
    bids_free_runs(runs, n);
    return 0;
}

// ----------------------------------------------------------------------------
// the partition, from sinfo

static double parse_limit(const char *s) {
    int d = 0, h = 0, m = 0, sec = 0;
    if (strchr(s, '-') && sscanf(s, "%d-%d:%d:%d", &d, &h, &m, &sec) >= 2) return ((d * 24.0 + h) * 60 + m) * 60 + sec;
    int n = sscanf(s, "%d:%d:%d", &h, &m, &sec);
    if (n == 3) return (h * 60.0 + m) * 60 + sec;
    if (n == 2) return h * 60.0 + m;  // MM:SS
    if (n == 1) return h * 60.0;      // minutes
    return 0;                          // infinite, UNLIMITED, n/a
}

static int gres_gpus(const char *gres) {
    int total = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", gres);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (strncmp(item, "gpu", 3) != 0) continue;
        char *paren = strchr(item, '(');
        if (paren) *paren = '\0';
        char *colon = strrchr(item, ':');
        if (colon) total += atoi(colon + 1);
    }
    return total;
}

// 1: sinfo answered and p describes the partition; 0: no Slurm here; -1 with err: no such partition
static int read_partition(const char *want, Partition *p, char *err) {
    memset(p, 0, sizeof *p);
    if (system("command -v sinfo >/dev/null 2>&1") != 0) return 0;
    FILE *f = popen("sinfo -h -o '%P|%G|%c|%m|%l|%D' 2>/dev/null", "r");
    if (!f) return 0;
    char line[1024], names[512] = "", def[128] = "";
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        char *field[6] = {0}, *save = NULL, *s = line;
        line[strcspn(line, "\n")] = '\0';
        int k = 0;
        for (char *t = strtok_r(s, "|", &save); t && k < 6; t = strtok_r(NULL, "|", &save)) field[k++] = t;
        if (k < 6) continue;
        lines++;
        size_t len = strlen(field[0]);
        int is_default = len && field[0][len - 1] == '*';
        if (is_default) field[0][len - 1] = '\0', snprintf(def, sizeof def, "%s", field[0]);
        if (!strstr(names, field[0]))
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "", field[0]);
        if (want ? strcmp(want, field[0]) != 0 : !is_default) continue;
        int gpus = gres_gpus(field[1]), cpus = atoi(field[2]);
        double mem = atof(field[3]) / 1024.0;
        snprintf(p->name, sizeof p->name, "%s", field[0]);
        if (gpus >= p->gpus) snprintf(p->gres, sizeof p->gres, "%s", field[1]);
        p->gpus = gpus > p->gpus ? gpus : p->gpus;
        p->cpus = cpus > p->cpus ? cpus : p->cpus;
        p->mem_gib = mem > p->mem_gib ? mem : p->mem_gib;
        p->limit_s = parse_limit(field[4]);
        p->nodes += atoi(field[5]);
    }
    pclose(f);
    if (lines == 0) return 0;  // installed, but no controller answered
    p->asked = 1;
    if (!p->name[0])
        return base_errf(err, "no partition %s in this cluster (sinfo lists: %s)", want ? want : "marked as default",
                         names);
    return 1;
}

// ----------------------------------------------------------------------------
// the job scripts

static void put_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    fputc('\'', f);
}

static void put_args(FILE *f, const PlanOptions *o) {
    put_quoted(f, o->config_path);
    for (size_t i = 0; i < o->n_overrides; i++) {
        fputs(" -P ", f);
        put_quoted(f, o->overrides[i]);
    }
}

static void put_time(FILE *f, double seconds) {
    long m = (long)ceil(seconds / 60.0);
    fprintf(f, "--time=%ld-%02ld:%02ld:00", m / 1440, m / 60 % 24, m % 60);
}

typedef struct {
    int nodes, ranks, cpus, gpus;  // ranks per node, cores per rank, GPUs per rank (0 or 1)
    double mem_gib, seconds;       // per node; time limit
} Shape;

static void put_shape(FILE *f, const char *partition, const Shape *s, const char *log) {
    fputs(" --output=", f);
    put_quoted(f, log);
    if (partition) fprintf(f, " --partition=%s", partition);
    fprintf(f, " --nodes=%d --ntasks=%d --ntasks-per-node=%d --cpus-per-task=%d", s->nodes, s->nodes * s->ranks,
            s->ranks, s->cpus);
    if (s->gpus) fputs(" --gpus-per-task=1 --gpu-bind=single:1", f);
    fprintf(f, " --mem=%.0fG ", ceil(s->mem_gib));
    put_time(f, s->seconds);
}

static FILE *open_script(const char *dir, const char *name, char *path, size_t n, char *err) {
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) base_errf(err, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

static int close_script(FILE *f, const char *path, char *err) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return base_errf(err, "%s: cannot write: %s", path, strerror(errno));
    chmod(path, 0755);
    return 0;
}

static void script_head(FILE *f, const PlanOptions *o, const char *what, const char *cwd) {
    time_t now = time(NULL);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%d", localtime(&now));
    fprintf(f, "#!/bin/bash\n# %s.\n# Written by `brainsweep plan %s` on %s: submits the repository's\n"
               "# jobs/*.sbatch from the folder plan ran in (docs/slurm.md); job logs go to logs/ beside this script.\n"
               "set -euo pipefail\ncd ",
            what, o->config_path, day);
    put_quoted(f, cwd);
    fputc('\n', f);
}

// ----------------------------------------------------------------------------
// the plan

// where the sweep runs: what sinfo says of the partition, and the job's shape
typedef struct {
    int have;                         // sinfo described the partition
    Partition part;
    int nodes, cpus, ranks, threads;  // nodes; per node cores and ranks; threads per rank
} Cluster;

// what the sweep reads, and the estimate of its cost
typedef struct {
    size_t W, T, subjects, left_out;  // words, targets (an upper bound for iEEG), subjects, subjects refused
    double V;                         // samples per target
    size_t fits;                      // layer fits
    int gpu;                          // ranks extract on their GPU (--gpus, and run.device is not cpu)
    double x_flops, x_core_s, f_core_s;  // extraction FLOPs; core-seconds of extraction and of the fits
    double x_gpu_s;                   // GPU-seconds of extraction on GPU ranks (float32 or 16-bit products)
    size_t sixteen;                   // models whose GPU products are 16-bit
    double task_s;                    // seconds of the longest array task on its one rank
    double rank_bytes, feat_bytes, rec_bytes, design_bytes;
    double wall_s, limit_s;           // wall time of the MPI job, and the time limit it asks
    int segments;                     // runs of the MPI job when the partition's time limit is shorter
} Estimate;

static void print_bytes(const char *what, double bytes, const char *note) {
    if (bytes >= GIB) printf("  %-22s %10.1f GiB  %s\n", what, bytes / GIB, note);
    else printf("  %-22s %10.1f MiB  %s\n", what, bytes / 1048576.0, note);
}

static void print_hours(const char *what, double hours, const char *note) {
    printf("  %-22s %10.4g h    %s\n", what, hours, note);
}

// the cost model over every (model, context), with a line per model
static void estimate(const SweepConfig *c, const PlanOptions *o, const PlanModel *pm, const Cluster *k, Estimate *e) {
    e->gpu = o->gpus > 0 && c->device != DEVICE_CPU;
    size_t C = c->contexts.n, block = c->layer_block ? c->layer_block : (size_t)k->threads;
    int per_fold = c->design.pca_fit_all == 0, randomized = c->design.pca_method != 0, inner = c->ridge.select == 0;
    double D = c->design.n_delays ? (double)c->design.n_delays : 1.0, V = e->V, T = (double)e->T, W = (double)e->W;
    // a fit unit holds one subject group's targets (run.group_gib)
    size_t per_subject = e->subjects ? e->T / e->subjects : e->T;
    size_t group = planning_group_size((size_t)V, e->subjects, per_subject, c->group_gib);
    double T_group = (double)(group * per_subject);
    if (e->subjects > group)
        printf("  subjects: %zu group(s) of up to %zu (run.group_gib %g), a fit unit holding one group's targets\n",
               (e->subjects + group - 1) / group, group, c->group_gib);
    double fit_n = per_fold ? V * (c->ridge.folds - 1) / c->ridge.folds : V;  // samples a PCA is fitted on
    printf("  %-20s %6s %7s %8s %8s %13s %12s %12s\n", "model", "layers", "d_model", "layer W", "tokens", "tokens run",
           "extract TF", "fit core-h");
    for (size_t m = 0; m < c->n_models; m++) {
        const PlanModel *q = &pm[m];
        double H = q->layers + 1.0, d = q->d;
        double comps = c->design.pca_components && c->design.pca_components < (size_t)q->d
                           ? fmin((double)c->design.pca_components, fit_n - 1) : 0;
        double w = ((comps > 0 ? comps : d) + (double)c->design.extra_bands.n) * D;  // design width
        double layer_s = FIT_CORES * (plan_ridge_seconds(V, w, T, inner, c->ridge.folds) +
                                      (comps > 0 ? plan_pca_seconds(V, d, per_fold, randomized) : 0));
        // this model's tokens and FLOPs; core-seconds to extract and fit; GPU-seconds to extract; its rank-seconds
        double run = 0, m_x = 0, m_xs = 0, m_f = 0, m_xg = 0, m_rank = 0;
        for (size_t ci = 0; ci < C; ci++) {
            double xf = q->flops[ci], xs = xf / (X_GFLOPS_PER_CORE * 1e9);
            double xg = xf / ((q->sixteen ? GPU_BF16_TFLOPS : GPU_FP32_TFLOPS) * 1e12 * GPU_X_SHARE);
            double unit_s = e->gpu ? xg + fit_gpu_seconds(layer_s * H) : (xs + layer_s * H) / k->threads;
            run += q->run[ci], m_x += xf, m_xs += xs, m_f += layer_s * H, m_xg += xg, m_rank += unit_s;
            if (o->per_context) e->task_s = fmax(e->task_s, unit_s);
        }
        if (!o->per_context) e->task_s = fmax(e->task_s, m_rank);
        e->sixteen += (size_t)q->sixteen;
        e->x_flops += m_x, e->x_core_s += m_xs, e->f_core_s += m_f, e->x_gpu_s += m_xg, e->fits += (size_t)H * C;
        e->feat_bytes += (double)C * (c->cache_float16 ? 2.0 : 4.0) * W * (q->layers * d + q->final_dim);
        e->rec_bytes += H * (double)C * (6.0 + (c->save_weights ? w : 0)) * T * 4.0;
        if (e->subjects > group) {  // the layers' designs, shared by the subject groups through the store
            e->design_bytes += H * (double)C * (comps > 0 && per_fold ? (double)c->ridge.folds : 1.0) * V * w * 4.0;
            // and their splits' designs: per split, float32 eigenvectors of rank R and a held-out basis (the held-out
            // samples in the eigenbasis, or a float64 R x R Gram), for the outer folds, their nested folds, the refit
            double K = (double)c->ridge.folds, R = fmin(w, V * (K - 1) / K), n_te = V / K;
            double splits = K + (inner ? K * (K - 1) : 0) + 1;
            e->design_bytes += H * (double)C * splits * (4.0 * R * R + fmax(4.0 * n_te * R, 8.0 * R * R));
        }
        // a model larger than a rank's weight budget is split by layer ranges, each rank mapping its share
        double budget = c->max_weight_gib > 0 ? c->max_weight_gib * GIB : k->have ? k->part.mem_gib * GIB / 2 / k->ranks : 0;
        int stages = planning_stages(c->pipeline_stages, q->stored, budget, q->layers);
        double extract = q->stored / stages + q->layer_params / q->layers * 4.0 +
                         c->batch_tokens * d * ACT_BYTES_PER_TOKEN_DIM + 4.0 * H * W * d;
        double fit = (double)block * (4.0 * W * d + 8.0 * d * d + 4.0 * V * w + 8.0 * w * w * c->ridge.folds) +
                     8.0 * V * T_group + 16.0 * w * T_group;
        e->rank_bytes = fmax(e->rank_bytes, fmax(extract, fit) + 0.25 * GIB);
        printf("  %-20s %6d %7d %7.2fB %8zu %13.3g %12.1f %12.2f\n", c->models[m].name, q->layers, q->d,
               q->layer_params * 1e-9, q->tokens, run, m_x * 1e-12, m_f / 3600);
        if (stages > 1) {
            int ranks = k->nodes * k->ranks;
            printf("  %-20s split over %d ranks by layer ranges: a %.3g GiB checkpoint, a weight budget of %.3g GiB per "
                   "rank (%s)%s\n", "",
                   stages, q->stored / GIB, budget / GIB,
                   c->pipeline_stages > 0 ? "run.pipeline_stages" : "run.pipeline_stages: 0, from run.max_weight_gib",
                   stages > ranks ? "; more than the job's ranks: ask for more ranks or nodes" : "");
        }
    }
    // every rank's time: its GPU's extraction and fits, or its cores'
    double rank_s = e->gpu ? e->x_gpu_s + fit_gpu_seconds(e->f_core_s) : (e->x_core_s + e->f_core_s) / k->threads;
    e->wall_s = rank_s / ((double)k->nodes * k->ranks * PARALLEL_EFFICIENCY) + START_S;
    e->limit_s = e->wall_s * 1.5 + 600;
    e->segments = 1;
    if (k->have && k->part.limit_s > 0 && e->limit_s > k->part.limit_s) {
        e->segments = (int)ceil(e->limit_s / k->part.limit_s);
        e->limit_s = k->part.limit_s;
    }
}

static double node_gib(const Estimate *e, int ranks) { return ceil(e->rank_bytes * ranks * 1.2 / GIB); }

static void print_estimate(const SweepConfig *c, const PlanOptions *o, const Cluster *k, const Estimate *e) {
    printf("\nestimate (cost model of docs/slurm.md, calibrated on docs/PERFORMANCE.md, 2026-11-28):\n");
    printf("  %zu layer fits (every hidden state of every model x context)\n", e->fits);
    char note[512];
    if (e->gpu) {
        printf("  extraction: %.4g TFLOP (2 x layer parameters x tokens run)\n", e->x_flops * 1e-12);
        if (e->sixteen == 0)
            snprintf(note, sizeof note, "GPU-hours: float32 products (run.gpu_weights) at %.0f TFLOP/s x %.2f",
                     GPU_FP32_TFLOPS, GPU_X_SHARE);
        else
            snprintf(note, sizeof note, "GPU-hours: 16-bit products (run.gpu_weights) at %.0f TFLOP/s x %.2f for %zu of "
                     "%zu model(s), float32 at %.0f x %.2f for the rest", GPU_BF16_TFLOPS, GPU_X_SHARE, e->sixteen,
                     c->n_models, GPU_FP32_TFLOPS, GPU_X_SHARE);
        print_hours("extraction", e->x_gpu_s / 3600, note);
    } else {
        printf("  extraction: %.4g TFLOP (2 x layer parameters x tokens run) at %.1f GFLOP/s per core\n",
               e->x_flops * 1e-12, X_GFLOPS_PER_CORE);
        print_hours("extraction", e->x_core_s / 3600, "core-hours");
    }
    if (e->gpu) {
        snprintf(note, sizeof note, "GPU-hours: the CPU's fit work (PCA and ridge per layer, scaled from the measured "
                 "33-layer fit) at %.0f TFLOP/s x %.2f", GPU_FP32_TFLOPS, GPU_FIT_SHARE);
        print_hours("fits", fit_gpu_seconds(e->f_core_s) / 3600, note);
    } else {
        print_hours("fits", e->f_core_s / 3600, "core-hours (PCA and ridge per layer, scaled from the measured 33-layer fit)");
    }
    snprintf(note, sizeof note, "on %d node(s) x %d rank(s) x %d thread(s) = %d cores", k->nodes, k->ranks, k->threads,
             k->nodes * k->ranks * k->threads);
    print_hours("wall time", e->wall_s / 3600, note);
    print_hours("CPU", e->wall_s * k->nodes * k->cpus / 3600, "core-hours billed (whole nodes)");
    if (o->gpus > 0 && !e->gpu)
        print_hours("GPU", e->wall_s * k->nodes * o->gpus / 3600,
                    "GPU-hours billed: run.device is cpu, so the GPUs wait; the wall time above is the CPU time");
    if (e->gpu) {
        snprintf(note, sizeof note, "GPU-hours billed (wall time x %d GPU(s); the figures are an H200's%s%s)",
                 k->nodes * o->gpus, k->have ? ", the partition's GRES: " : "", k->have ? k->part.gres : "");
        print_hours("GPU", e->wall_s * k->nodes * o->gpus / 3600, note);
        // what the GPU work comes to with every model's products in bf16
        double fit_gpu_s = fit_gpu_seconds(e->f_core_s);
        double x_bf16_s = e->x_flops / (GPU_BF16_TFLOPS * 1e12 * GPU_X_SHARE);
        snprintf(note, sizeof note, "H200-hours with every model's products in bf16 (%.0f TFLOP/s x %.2f) and the "
                 "fits on the GPU (%.0f x %.2f)", GPU_BF16_TFLOPS, GPU_X_SHARE, GPU_FP32_TFLOPS, GPU_FIT_SHARE);
        print_hours("GPU goal", (x_bf16_s + fit_gpu_s) / 3600, note);
        print_hours("GPU floor", e->x_flops / (GPU_BF16_TFLOPS * 1e12) / 3600,
                    "H200-hours: the extraction's products alone at the full bf16 rate");
    }
    snprintf(note, sizeof note, "the largest model's mapped checkpoint (a split model's share), widened layer, activations "
                                "and features; "
                                "--mem %.0fG per node", node_gib(e, k->ranks));
    print_bytes("memory per rank", e->rank_bytes, note);
    print_bytes("features", e->feat_bytes,
                c->cache_dir[0] ? "kept in features.cache_dir" : "in the unit store until done");
    print_bytes("unit store records", e->rec_bytes, "removed when results.h5 is complete");
    if (e->design_bytes > 0)
        print_bytes("layer designs", e->design_bytes,
                    "at most, in the unit store: each layer's (and its splits') shared by the subject groups until all have "
                    "fitted it");
    print_bytes("results.h5", e->rec_bytes * 1.05, c->output);
    if (c->rec_format == REC_IEEG) print_bytes("iEEG responses", (double)e->W * (double)e->T * 4.0, "made once");
    if (c->ridge.permutations)
        printf("  note: ridge.permutations (%zu) is not in the cost model: expect more fit time\n", c->ridge.permutations);
    if (e->left_out) printf("  note: %zu subject(s) would be left out (above)\n", e->left_out);
    if (k->have) {
        const Partition *p = &k->part;
        printf("  partition %s: %d node(s) of %d cores, %.0f GiB, %d GPU(s); time limit %s\n", p->name, p->nodes,
               p->cpus, p->mem_gib, p->gpus, p->limit_s > 0 ? "set" : "none");
        if (node_gib(e, k->ranks) > p->mem_gib)
            printf("  warning: %.0f GiB per node asked, the partition's nodes have %.0f GiB: use fewer ranks per node "
                   "or set run.max_weight_gib\n",
                   node_gib(e, k->ranks), p->mem_gib);
    }
    if (e->segments > 1)
        printf("  the estimate exceeds the partition's time limit: the job stops with USR1 before it, requeues itself "
               "and resumes (about %d runs)\n",
               e->segments);
}

// sweep.sh, units.tsv, array.sh and the logs folder in out_dir; bench: a benchmarks table for analyze, or ""
static int write_scripts(const SweepConfig *c, const PlanOptions *o, const Cluster *k, const Estimate *e,
                         const char *out_dir, const char *bench, char *err) {
    char cwd[CFG_STR], path[CFG_STR + 64], units[CFG_STR + 64], logs[CFG_STR + 96], logs_array[CFG_STR + 96];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    snprintf(path, sizeof path, "%s/logs", out_dir);
    if (base_mkdirs(path) != 0) return base_errf(err, "%s: cannot create it: %s", path, strerror(errno));
    snprintf(logs, sizeof logs, "%s/%%x-%%j.out", path);
    snprintf(logs_array, sizeof logs_array, "%s/%%x-%%A_%%a.out", path);
    const char *pn = k->have ? k->part.name : o->partition;
    int gpu = o->gpus > 0;

    Shape whole = {.nodes = k->nodes, .ranks = k->ranks, .cpus = k->threads, .gpus = gpu, .mem_gib = node_gib(e, k->ranks), .seconds = e->limit_s};
    FILE *f = open_script(out_dir, "sweep.sh", path, sizeof path, err);
    if (!f) return -1;
    script_head(f, o, "One MPI job for the whole sweep", cwd);
    fputs("sbatch", f);
    put_shape(f, pn, &whole, logs);
    fputs(" jobs/sweep.sbatch ", f);
    put_args(f, o);
    fputc('\n', f);
    if (close_script(f, path, err)) return -1;

    f = open_script(out_dir, "units.tsv", units, sizeof units, err);
    if (!f) return -1;
    size_t tasks = 0, C = o->per_context ? c->contexts.n : 1;
    fprintf(f, "# array tasks of %s: model <tab> context (* = every context)\n", o->config_path);
    for (size_t m = 0; m < c->n_models; m++)
        for (size_t ci = 0; ci < C; ci++, tasks++)
            fprintf(f, "%s\t%s\n", c->models[m].name, o->per_context ? c->contexts.items[ci] : "*");
    if (close_script(f, units, err)) return -1;
    chmod(units, 0644);

    // one rank per task (its GPU, or a CPU rank's cores); the prepare and merge jobs run no long unit
    // no job may ask for more than the partition's time limit: Slurm would leave it pending forever
    double task_limit = e->task_s / PARALLEL_EFFICIENCY * 1.5 + START_S + 600, small_limit = 3600;
    if (k->have && k->part.limit_s > 0)
        task_limit = fmin(task_limit, k->part.limit_s), small_limit = fmin(small_limit, k->part.limit_s);
    Shape task = {.nodes = 1, .ranks = 1, .cpus = k->threads, .gpus = gpu, .mem_gib = node_gib(e, 1), .seconds = task_limit};
    Shape small = {.nodes = 1, .ranks = 1, .cpus = k->threads, .gpus = 0, .mem_gib = node_gib(e, 1), .seconds = small_limit};
    f = open_script(out_dir, "array.sh", path, sizeof path, err);
    if (!f) return -1;
    script_head(f, o, "A job array, one task per model or model x context, then a merge", cwd);
    fputs("prep=$(sbatch --parsable", f);
    put_shape(f, pn, &small, logs);
    fputs(" jobs/sweep.sbatch ", f);
    put_args(f, o);
    fprintf(f, " --prepare)\narr=$(sbatch --parsable --dependency=afterok:\"$prep\" --array=0-%zu", tasks - 1);
    put_shape(f, pn, &task, logs_array);
    fputs(" jobs/array.sbatch ", f);
    put_quoted(f, o->config_path);
    fputc(' ', f);
    put_quoted(f, units);
    for (size_t i = 0; i < o->n_overrides; i++) {
        fputs(" -P ", f);
        put_quoted(f, o->overrides[i]);
    }
    fputs(")\nmerge=$(sbatch --parsable --dependency=afterok:\"$arr\"", f);
    put_shape(f, pn, &small, logs);
    fputs(" jobs/merge.sbatch ", f);
    put_args(f, o);
    if (bench[0]) {  // the models' benchmark scores beside the config, for the analyses
        fputs(" -- --benchmarks ", f);
        put_quoted(f, bench);
    }
    fprintf(f, ")\necho \"submitted: prepare $prep, array $arr (%zu tasks), merge $merge\"\n", tasks);
    if (close_script(f, path, err)) return -1;
    printf("\njob scripts in %s (nothing submitted):\n  bash %s/sweep.sh    one MPI job\n  bash %s/array.sh    "
           "%zu array tasks (%s), then a merge job%s%s\n",
           out_dir, out_dir, out_dir, tasks, units, bench[0] ? " analysing with the benchmark scores of " : "", bench);
    return 0;
}

// the partition and the job's shape: one rank per GPU, or two ranks per CPU node; -1 with err when the partition
// lacks what is asked
static int choose_cluster(const PlanOptions *o, Cluster *k, char *err) {
    memset(k, 0, sizeof *k);
    k->have = read_partition(o->partition, &k->part, err);
    if (k->have < 0) return -1;
    const Partition *p = &k->part;
    k->nodes = o->nodes > 0 ? o->nodes : 1;
    if (k->have && o->gpus > p->gpus)
        return base_errf(err, "partition %s has %d GPU(s) per node (sinfo gres: %s), but the plan asks for %d per node",
                         p->name, p->gpus, p->gres, o->gpus);
    if (k->have && k->nodes > p->nodes)
        return base_errf(err, "partition %s has %d node(s), but the plan asks for %d", p->name, p->nodes, k->nodes);
    if (k->have && o->cpus > p->cpus)
        return base_errf(err, "partition %s has %d cores per node, but the plan asks for %d", p->name, p->cpus,
                         o->cpus);
    if (!k->have)
        printf("  no answer from sinfo: partition%s%s not checked\n", o->partition ? " " : "",
               o->partition ? o->partition : "");
    k->cpus = o->cpus > 0 ? o->cpus : k->have && p->cpus > 0 ? p->cpus : (int)sysconf(_SC_NPROCESSORS_ONLN);
    k->ranks = o->gpus > 0 ? o->gpus : (k->cpus >= 2 ? 2 : 1);
    k->threads = k->cpus / k->ranks > 0 ? k->cpus / k->ranks : 1;
    return 0;
}

int plan_run(const PlanOptions *o) {
    SweepConfig c;
    char err[BASE_ERR_LEN] = "";
    if (config_load(o->config_path, o->overrides, o->n_overrides, &c, err)) {
        fprintf(stderr, "brainsweep plan: ERROR %s\n", err);
        return 1;
    }
    Stimulus st;
    memset(&st, 0, sizeof st);
    PlanModel *pm = base_calloc(c.n_models ? c.n_models : 1, sizeof(PlanModel), "models");
    Cluster k;
    Estimate e;
    memset(&e, 0, sizeof e);
    int rc = -1;
    char out_dir[CFG_STR], bench[CFG_STR + 32];
    size_t stem = strlen(o->config_path);
    if (stem > 5 && strcmp(o->config_path + stem - 5, ".yaml") == 0) stem -= 5;
    snprintf(bench, sizeof bench, "%.*s-benchmarks.tsv", (int)stem, o->config_path);
    if (!base_file_exists(bench)) bench[0] = '\0';
    if (o->out_dir) snprintf(out_dir, sizeof out_dir, "%s", o->out_dir);
    else snprintf(out_dir, sizeof out_dir, "%.*s-slurm", (int)stem, o->config_path);

    // every check before anything is written
    printf("plan for %s: %zu model(s) x %zu context(s)\n", o->config_path, c.n_models, c.contexts.n);
    if (stim_load(c.stimulus_file, &c.stim, &st, err)) goto done;
    e.W = st.n_words;
    e.V = c.rec_format != REC_ROI_TEXT ? (double)e.W
          : c.volumes                  ? (double)c.volumes
                                       : ceil((st.t_max - c.first_volume_time) / c.tr - 1e-9);
    for (size_t m = 0; m < c.n_models; m++)
        if (open_model(&c, m, &st, &pm[m], err)) goto done;
    size_t volumes = 0;
    if (count_targets(&c, &e.T, &e.subjects, &e.left_out, &volumes, err)) goto done;
    if (c.rec_format == REC_BIDS_FMRI) e.V = (double)volumes;
    if (planning_writable("output.path", c.output, 0, err) || planning_writable("--out", out_dir, 1, err)) goto done;
    if (choose_cluster(o, &k, err)) goto done;

    int ieeg = c.rec_format == REC_IEEG;
    printf("  stimulus: %zu words; %s: %zu subject(s), %s%zu target(s); %.0f samples per target\n", e.W,
           ieeg ? "iEEG" : "recordings", e.subjects, ieeg ? "at most " : "", e.T, e.V);
    estimate(&c, o, pm, &k, &e);
    print_estimate(&c, o, &k, &e);
    if (base_mkdirs(out_dir) != 0) {
        base_errf(err, "--out %s: cannot create it: %s", out_dir, strerror(errno));
        goto done;
    }
    rc = write_scripts(&c, o, &k, &e, out_dir, bench, err);
done:
    if (rc) fprintf(stderr, "brainsweep plan: ERROR %s\n", err);
    stim_free(&st);
    free(pm);
    config_free(&c);
    return rc ? 1 : 0;
}
