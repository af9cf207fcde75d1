/*
 * sweep_state: what the stages of one sweep share, and the helpers every stage uses.
 *
 * The driver (mpi/sweep.c) owns one Sweep per process and passes it through the stages in order:
 * inputs and targets (sweep_inputs.h), extraction units (sweep_extract.h), fit units (sweep_fit.h),
 * the results file (sweep_write.h). A stage fills the fields its comment names; later stages only
 * read them, except the unit status map (rescanned from the store between stages) and the time
 * shares (each stage adds its own). Fits are indexed (model m, context c, hidden state h, subject group g): a group
 * is a run of consecutive subjects (the store's grouping, host/store.h) whose targets one rank prepares at a time
 * (mpi/sweep_targets.h).
 *
 * Collective over MPI_COMM_WORLD: sweep_all_ok and sweep_scan_store. The rest is local.
 * Ownership: sweep_free releases everything a Sweep holds.
 */
#ifndef MPI_SWEEP_STATE_H
#define MPI_SWEEP_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "host/backend.h"
#include "host/config.h"
#include "host/cv.h"
#include "host/encoding.h"
#include "host/featcache.h"
#include "host/fmri.h"
#include "host/features.h"
#include "host/ieeg.h"
#include "host/model.h"
#include "host/planning.h"
#include "host/recording.h"
#include "host/ridge.h"
#include "host/stimulus.h"
#include "mpi/results.h"
#include "host/store.h"

// this rank's time, by what it went to (stored per rank in /meta/rank_seconds)
typedef enum {
    SHARE_EXTRACT,
    SHARE_GATHER,
    SHARE_SAVE_FEATURES,
    SHARE_LOAD_FEATURES,
    SHARE_PREPARE_TARGETS,
    SHARE_FIT,
    SHARE_SAVE_LAYERS,
    SHARE_WRITE,
    SHARE_WAIT,
    N_SHARES
} SweepShare;
extern const char *const SWEEP_SHARE_NAMES[N_SHARES];

// the sweep's stages, timed by the driver (stored in /meta/stage_seconds)
typedef enum { STAGE_INPUTS, STAGE_EXTRACT, STAGE_FIT, STAGE_WRITE, N_STAGES } SweepStage;
extern const char *const SWEEP_STAGE_NAMES[N_STAGES];

// the prepared targets of one subject group (mpi/sweep_targets.h)
typedef struct {
    long g;                  // the group held; -1: none
    size_t first, n;         // its subjects
    float *Y;                // (V, n*R) z-scored targets, column (s - first)*R + k for subject s
    RidgeTargets targets;    // Y checked and summed once, shared by every layer's fit of the group
} GroupTargets;

typedef struct {
    SweepConfig cfg;
    const Backend *backend;  // run.device resolved on this rank (sweep_inputs_backend)
    char gpu[256];           // what the CUDA runtime said about this rank's GPU
    double gpu_share_bytes;  // this rank's share of its GPU's memory (the GPU over the node's ranks that share it)
    int gpu_own;             // 1: this rank's GPU serves no other rank of the node (NCCL needs one GPU per rank)
    int resident_targets;    // 1: a group's targets are put in the fits' backend memory once (ridge_targets_resident)
    int dry_run;             // validate the inputs and write nothing (sweep --dry-run)

    // inputs (sweep_inputs_load)
    Stimulus stim;
    double *word_time;       // (W) midpoints, or onsets with resample: onset
    VolumeGrid grid;
    size_t S, R, W, V;       // V samples: volumes, a continuous signal's samples, or W (word_text)
    Recording *rec;          // (S)
    const char **target;     // (R) names of the target columns: the regions, or "sub-01 G2" per electrode
    IeegResponses ieeg;      // ieeg recordings: the fitted electrodes (R of them), the subjects left out
    FmriVoxels voxels;       // bids_fmri recordings: the voxel behind each (subject, column)
    size_t *run_volumes;     // bids_fmri: (n_runs) volumes of each run, one cross-validation group each
    size_t n_runs;
    size_t M, C, H;          // models, contexts, max hidden states
    PlannedModel *model;     // (M) header, tokenizer, the story's tokens, resolved policies; models reopen to extract
    uint64_t *tokens_id;     // (M) hash of the story's token ids and offsets
    uint64_t *model_id;      // (M) featcache_model_identity of each checkpoint, read once

    FmriRun *fmri_runs;      // bids_fmri: every subject's runs, read again by the ranks that prepare its group
    size_t *fmri_run0;       // (S + 1) subject si's runs are fmri_runs[fmri_run0[si] .. fmri_run0[si + 1])

    // targets (sweep_inputs_targets; a group's own in sweep_targets.h)
    size_t group, G;         // subjects per group (run.group_gib), and groups
    uint64_t *subject_hash;  // (S) hash of each subject's z-scored targets (sweep_inputs_identity gathers them)
    GroupTargets prepared;   // the one group whose targets this rank holds
    CvPlan cv;
    double *extra;           // (V, E) extra feature bands
    EncodingSpec spec;       // everything a layer's fit needs besides its features
    size_t P_max;            // widest design of the sweep (rows of the stored weights)

    // the run (the driver)
    Store store;
    char identity[17];       // the sweep's identity in hex
    int store_made;          // rank 0: this run created the store (nothing of an earlier run is in it)
    int8_t *status;          // (M, C, H, G) UNIT_* as the store has it
    long only_m, only_c;     // the one model and context this run does (--only-model, --only-context); -1 = all
    long only_g;             // the one subject group this run does (--only-subject); -1 = all
    ResultsExtraction *extracted;  // (M, C) this run's extraction
    double share[N_SHARES];  // this rank's seconds
} Sweep;

void sweep_free(Sweep *s);

// Collective: 1 when no rank failed; else the lowest failing rank prints its err and every rank gets 0.
int sweep_all_ok(int failed, const char *err);

// one sample per word (no sampling grid): word_text recordings and iEEG word responses
int sweep_word_level(const SweepConfig *c);

// hidden states of model m (L + 1)
size_t sweep_layers(const Sweep *s, size_t m);
int8_t *sweep_status(Sweep *s, size_t m, size_t c, size_t h, size_t g);
// a layer over its groups: UNIT_FAILED when a group's fit failed, else UNIT_DONE when every group's is done, else
// UNIT_ABSENT
int8_t sweep_layer_status(Sweep *s, size_t m, size_t c, size_t h);
// a (layer, group) of the model not yet done (absent or failed)
int sweep_layer_todo(Sweep *s, size_t m, size_t c, size_t h, size_t g);
// a (model, context) whose units this run does: every one, unless restricted to one model or context
int sweep_selected(const Sweep *s, size_t m, size_t c);
// a subject group whose units this run does: every one, unless restricted to one subject's (--only-subject)
int sweep_group_selected(const Sweep *s, size_t g);

// Collective: rank 0 reads every record's status, every rank gets the map. On rank 0, sums (FitCounter
// order, may be NULL) gets the counters summed over finished fits and errors (M, C, H; may be NULL)
// each layer's error text, its first failed group's ("" where none; caller frees).
void sweep_scan_store(Sweep *s, double *sums, char **errors);

// what identifies (m, c)'s features file, and where it is (the store's, or features.cache_dir)
void sweep_feature_key(const Sweep *s, size_t m, size_t c, FeatKey *k);
void sweep_feature_path(const Sweep *s, size_t m, const FeatKey *key, char *out, size_t n);
// 1 when (m, c)'s features file is there and matches; says so (or why not) when verbose
int sweep_features_ready(const Sweep *s, size_t m, size_t c, int verbose);

// rank 0's machine-readable progress (one row per finished unit) in the store; NULL elsewhere
FILE *sweep_progress_tsv(const Sweep *s);

#endif  // MPI_SWEEP_STATE_H
