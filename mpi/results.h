/*
 * results: the one self-describing results file of a sweep (parallel HDF5), and its reader.
 *
 * Schema version 3 is documented in docs/results-format.md. Every per-fit dataset is indexed
 * [model, context, layer, ...]; layers past a model's L are padding (NaN, status 0). Writing follows
 * SWIFT's pattern:
 *  1. rank 0 alone creates the file under a temporary name (`<output>.partial`) with every group,
 *     dataset and metadata table (results_create);
 *  2. every rank reopens it with the MPI-IO driver and writes its share of the fitted layers in one
 *     collective call per dataset (results_write_layers; ranks without layers still join);
 *  3. rank 0 reads the scores back, writes the summaries, the unit status map and the `complete`
 *     attribute last, flushes and renames the file to its final name (results_finish). A results.h5
 *     under its final name is therefore always whole; an interrupted run leaves only `.partial`.
 * Errors: HDF5 failures are fatal (CHECK_H5 prints the HDF5 error stack, file and line).
 * Shapes: M models, C contexts, H hidden states (max L+1 over models), S subjects, R regions,
 * W words, V samples, A alphas, P rows of the stored weights (the widest design), T = S*R targets.
 */
#ifndef MPI_RESULTS_H
#define MPI_RESULTS_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "host/config.h"
#include "host/encoding.h"
#include "host/fmri.h"
#include "host/ieeg.h"
#include "host/planning.h"
#include "host/recording.h"
#include "host/record.h"
#include "host/results_read.h"
#include "host/stimulus.h"


typedef struct {
    size_t M, C, H, S, R, W;

    // models (M)
    const char *const *model_name;
    const char *const *model_path;
    const char *const *model_arch;
    const int *n_layers;          // L per model; its hidden states are 0..L
    const int *d_model;
    const int64_t *n_tokens;      // story tokens, BOS excluded

    // contexts (C), and per (model, context) extraction facts (M, C)
    const char *const *context_name;
    const int *context_window;    // resolved tokens per forward pass
    const int *n_sequences;       // sequences run (-1: features from an earlier run or the cache)
    const double *tokenize_seconds, *forward_seconds;  // NaN when not extracted by this run

    // subjects (S), regions (R), words (W)
    const char *const *subject_name;
    const char *const *subject_file;
    const char *const *region_name;
    const char *const *word;
    const double *word_onset, *word_offset;

    // the fits' protocol
    size_t V;
    const int *sample_block;      // (V) outer fold or group holding each sample out
    const double *alphas;         // (A)
    size_t A;
    const int32_t *width;         // (M, H) design width of each fit (0 past a model's L)
    const int32_t *components;    // (M, H) PCA components per fit (0: none)
    size_t P;                     // rows of /weights/beta; 0: weights not stored

    // provenance
    const char *config_text;      // the config file as written
    const char *config_resolved;  // defaults filled in
    const char *identity;         // the sweep's identity (hex), as its unit store has it
    const char *code_version, *code_git, *code_flags, *mpi_version;
    int n_ranks;

    // iEEG recordings: the electrode behind each of the R targets (/electrodes); NULL otherwise
    const IeegElectrode *electrodes;
    const char *space;
    const double *pmhg_left, *pmhg_right;  // (3) the reference the distances are from

    // bids_fmri recordings: the voxel behind each (subject, region-axis column) (/voxels); NULL otherwise
    const FmriVoxels *voxels;
} ResultsMeta;

// one (model, context)'s extraction by this run (summed over ranks before the results are written)
typedef struct {
    double ran;               // 1 where this run extracted the unit (0: features from an earlier run or the cache)
    double sequences;         // sequences run, over the group
    double tokenize_seconds;  // as the group's leader saw it
    double forward_seconds;   // over the group
} ResultsExtraction;

// What a sweep knows when it writes its results file, by name; results_meta_build derives every table of
// ResultsMeta from it, so the file's metadata has one author.
typedef struct {
    const SweepConfig *cfg;                // models, contexts, alphas, output.weights, the config's text
    const PlannedModel *model;             // (M) headers, story tokens, resolved policies
    const ResultsExtraction *extracted;    // (M, C)
    const Recording *rec;                  // (S) subjects
    size_t S;
    const char *const *target;             // (R) target names (regions, or electrodes)
    size_t R;
    const Stimulus *stim;
    size_t V;                              // samples
    const int *sample_block;               // (V) outer fold or group holding each sample out
    const EncodingSpec *spec;              // each layer's design width and PCA components
    size_t P;                              // rows of the stored weights; 0: none
    const char *identity;                  // the sweep's identity (hex)
    const IeegResponses *ieeg;             // iEEG recordings: the fitted electrodes; NULL otherwise
    const FmriVoxels *voxels;              // bids_fmri recordings: the voxel axis; NULL otherwise
} ResultsSource;

// The ResultsMeta of a sweep, on every rank; it borrows src's arrays (keep src alive) and owns the tables
// it makes (results_meta_free).
ResultsMeta *results_meta_build(const ResultsSource *src);
void results_meta_free(ResultsMeta *meta);

// Rank 0 only. Creates path (truncating) with the full structure; scores start as NaN.
void results_create(const char *path, const ResultsMeta *meta);

// One rank's fitted layers, in increasing (m, c, h) order. values: (n, RECORD_SCORE_ROWS + P, T), each
// layer's rows in RecordRow order (host/record.h) — the unit store's record layout.
typedef struct {
    size_t n;
    const size_t *m, *c, *h;
    const float *values;
} ResultsLayers;

// Collective over MPI_COMM_WORLD: every rank writes its layers (ranks without any still join), in
// rounds of at most 2 GiB - 1 MiB per rank and write (ROMIO's limit; BRAINSWEEP_TEST_MAX_WRITE_BYTES
// lowers it, for tests only).
void results_write_layers(const char *path, const ResultsMeta *meta, const ResultsLayers *layers);

// Rank 0 only. Reads the scores back, writes /summary, the unit status map (status (M, C, H) of
// UNIT_*, error text per failed layer), per-stage timings and per-rank time shares (n_ranks x
// n_shares seconds), marks the file complete and renames it to final_path. Fills layer_region
// (M, C, H, R) for printing.
typedef struct {
    const int8_t *status;              // (M, C, H)
    const char *const *error;          // (M, C, H), "" where none
    const char *const *stage;          // stage names
    const double *stage_seconds;
    size_t n_stages;
    const char *const *share;          // names of the per-rank time shares
    const double *rank_seconds;        // (n_ranks, n_shares)
    size_t n_shares;
} ResultsRun;
void results_finish(const char *path, const char *final_path, const ResultsMeta *meta, const ResultsRun *run,
                    float *layer_region);

#endif  // MPI_RESULTS_H
