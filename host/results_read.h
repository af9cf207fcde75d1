/*
 * results_read: a results file (mpi/results.h writes it; docs/results-format.md) as the commands that
 * read one see it — `inspect`, `analyze`, `report` — and the layer x region tables the sweep prints.
 *
 * results_open accepts only a complete file of this schema version; the reader names the command in
 * its messages. Errors: -1 with err, one sentence naming the file and the problem (a reader of
 * outside input: fuzzed, tests/fuzz/fuzz_results.c). No MPI: the file is opened by one process.
 */
#ifndef HOST_RESULTS_READ_H
#define HOST_RESULTS_READ_H

#include <hdf5.h>
#include <stddef.h>
#include <stdio.h>

#define RESULTS_SCHEMA "brainsweep-results"
#define RESULTS_SCHEMA_VERSION 3

// /units/status values
enum { UNIT_ABSENT = 0, UNIT_DONE = 1, UNIT_FAILED = -1 };

// A complete results file of this schema version, opened read-only for the commands that read one
// (analyze, report); -1 with err naming the file and what is wrong (reader names the command).
hid_t results_open(const char *path, const char *reader, char *err);

// The arguments of a command that reads a results file and writes a folder (`report`, `maps`): RESULTS.h5 -o DIR.
// 0, or 2 (the command's exit status) with the problem and `usage: brainsweep CMD RESULTS.h5 -o DIR` on stderr.
int results_args_file_dir(const char *cmd, int argc, char **argv, const char **path, const char **dir);

// Print a results file's metadata and every layer x region matrix. -1 with err if it is not one.
int results_inspect(const char *path, FILE *out, char *err);

// The layer x region table of one model under one context as text (the sweep's ending and inspect).
void results_print_matrix(FILE *out, const char *model, const char *context, int n_layers,
                          const float *layer_region /* (H, R) */, const char *const *regions, size_t R);

// The same with the columns grouped by label (iEEG: electrodes by region): the mean of each group's finite values.
void results_print_grouped(FILE *out, const char *model, const char *context, int n_layers,
                           const float *layer_col /* (H, R) */, const char *const *label, size_t R, size_t H);

#endif  // HOST_RESULTS_READ_H
