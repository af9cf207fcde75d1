/*
 * sweep: the driver of `brainsweep sweep CONFIG.yaml` — config in, results.h5 out.
 *
 * Stages: (1) every rank reads and validates every input (config, stimulus, recordings, model
 * headers and tokenizers) so bad input stops before any output exists, with one message from the
 * lowest failing rank; (2) extraction: model m runs on rank m mod N (hidden states of every word's
 * last token, every layer); (3) fits: the targets are prepared once (z-scored, cross-validation
 * plan, per-segment sums), each model's states are broadcast from their owner and the (model, layer)
 * units are dealt round-robin over ranks, each unit one encoding fit (host/encoding.h: PCA, delays,
 * cross-validated ridge with an alpha per target, optional shift null) from that layer to every
 * subject x region at once; (4) results.h5 is written through
 * parallel HDF5 (mpi/results.h) and renamed into place only when complete.
 * Collective over MPI_COMM_WORLD. Returns the process exit status (0 ok, 1 bad input or failure).
 */
#ifndef MPI_SWEEP_H
#define MPI_SWEEP_H

#include <stddef.h>

typedef struct {
    const char *config_path;
    const char *const *overrides;  // "section.key=value"
    size_t n_overrides;
    int dry_run;                   // validate and print the plan, write nothing
} SweepOptions;

int sweep_run(const SweepOptions *opt);

#endif  // MPI_SWEEP_H
