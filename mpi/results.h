/*
 * results: the one self-describing results file of a sweep (parallel HDF5), and its reader.
 *
 * Schema version 1 is documented in docs/results-format.md. Writing follows SWIFT's pattern:
 *  1. rank 0 alone creates the file under a temporary name (`<output>.partial`) with every group,
 *     dataset and metadata table (results_create);
 *  2. every rank reopens it with the MPI-IO driver and writes the (model, layer) blocks it fitted
 *     in one collective call per dataset (results_write_scores; ranks without blocks still join);
 *  3. rank 0 reads the scores back, writes the summaries and the `complete` attribute last, flushes
 *     and renames the file to its final name (results_finish). A results.h5 under its final name is
 *     therefore always whole; an interrupted run leaves only `.partial`.
 * Errors: HDF5 failures are fatal (CHECK_H5 prints the HDF5 error stack, file and line).
 * Shapes: M models, H hidden states (max L+1 over models), S subjects, R regions, W words.
 */
#ifndef MPI_RESULTS_H
#define MPI_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RESULTS_SCHEMA "brainsweep-results"
#define RESULTS_SCHEMA_VERSION 1

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

    // provenance
    const char *config_text;      // the config file as written
    const char *config_resolved;  // defaults filled in
    const char *code_version, *code_git, *code_flags, *mpi_version;
    int n_ranks;
} ResultsMeta;

// Rank 0 only. Creates path (truncating) with the full structure; scores start as NaN.
void results_create(const char *path, const ResultsMeta *meta);

// Collective over MPI_COMM_WORLD. Each rank writes its n_units blocks: unit u covers
// [model unit_m[u], layer unit_h[u], :, :]; r and alpha are (n_units, S, R), units in
// increasing (m, h) order.
void results_write_scores(const char *path, size_t M, size_t H, size_t S, size_t R, const size_t *unit_m,
                          const size_t *unit_h, size_t n_units, const float *r, const float *alpha);

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
