/*
 * results: the one self-describing results file of a sweep (parallel HDF5), and its reader.
 *
 * Schema version 2 is documented in docs/results-format.md. Writing follows SWIFT's pattern:
 *  1. rank 0 alone creates the file under a temporary name (`<output>.partial`) with every group,
 *     dataset and metadata table (results_create);
 *  2. every rank reopens it with the MPI-IO driver and writes the (model, layer) blocks it fitted
 *     in one collective call per dataset (results_write_scores; ranks without blocks still join);
 *  3. rank 0 reads the scores back, writes the summaries and the `complete` attribute last, flushes
 *     and renames the file to its final name (results_finish). A results.h5 under its final name is
 *     therefore always whole; an interrupted run leaves only `.partial`.
 * Errors: HDF5 failures are fatal (CHECK_H5 prints the HDF5 error stack, file and line).
 * Shapes: M models, H hidden states (max L+1 over models), S subjects, R regions, W words, V samples,
 * A alphas, P rows of the stored weights (the widest design).
 */
#ifndef MPI_RESULTS_H
#define MPI_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RESULTS_SCHEMA "brainsweep-results"
#define RESULTS_SCHEMA_VERSION 2

typedef struct {
    size_t M, H, S, R, W;

    // models (M)
    const char *const *model_name;
    const char *const *model_path;
    const char *const *model_arch;
    const int *n_layers;          // L per model; its hidden states are 0..L
    const int *d_model;
    const int64_t *n_tokens;      // story tokens, BOS excluded
    const int *n_chunks;
    const int *context_window;    // resolved tokens per forward pass
    const double *tokenize_seconds;
    const double *forward_seconds;

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
    const char *code_version, *code_git, *code_flags, *mpi_version;
    int n_ranks;
} ResultsMeta;

// Rank 0 only. Creates path (truncating) with the full structure; scores start as NaN.
void results_create(const char *path, const ResultsMeta *meta);

// One rank's fitted (model, layer) units, in increasing (m, h) order; unit u covers [m[u], h[u], ...]
// of every per-fit dataset.
typedef struct {
    size_t n;
    const size_t *m, *h;
    const float *r, *r2, *alpha, *p, *q;  // (n, S, R)
    const float *weights;                 // (n, P, S, R), with meta P > 0
    const float *intercept;               // (n, S, R), with meta P > 0
} ResultsUnits;

// Collective over MPI_COMM_WORLD: every rank writes its units (ranks without any still join).
void results_write_units(const char *path, const ResultsMeta *meta, const ResultsUnits *units);

// Rank 0 only. Reads the scores back, writes /summary, per-stage timings (n_stages names/seconds),
// marks the file complete and renames it to final_path. Fills layer_region (M, H, R) for printing.
void results_finish(const char *path, const char *final_path, const ResultsMeta *meta, const char *const *stage,
                    const double *seconds, size_t n_stages, float *layer_region);

// Print a results file's metadata and every layer x region matrix. -1 with err if it is not one.
int results_inspect(const char *path, FILE *out, char *err);

// The layer x region table of one model as text (shared by the sweep's ending and inspect).
void results_print_matrix(FILE *out, const char *model, int n_layers, const float *layer_region /* (H, R) */,
                          const char *const *regions, size_t R);

#endif  // MPI_RESULTS_H
