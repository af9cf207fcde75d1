/*
 * sweep: the driver of `brainsweep sweep CONFIG.yaml` — config in, results.h5 out, on any number of ranks.
 *
 * A short driver over four stage modules that share one Sweep (mpi/sweep_state.h):
 * Stages: (1, mpi/sweep_inputs.h) every rank reads and validates every input (config, stimulus, recordings' headers,
 * masks and small matrices, model headers and tokenizers) so bad input stops before any output exists, with one
 * message from the lowest failing rank; the subjects form groups (run.group_gib) and each group's targets are
 * prepared once, spread over the ranks, which reads and checks every recording (mpi/sweep_targets.h). (2, mpi/sweep_extract.h) extraction units, one per (model, context policy): the ranks form groups (as many as
 * units, at most one per rank); a group's leader asks the dispatcher (mpi/dispatch.h) for the next
 * unit, every rank of the group runs its share of the unit's sequences and the leader gathers the
 * words and saves the features file. (3, mpi/sweep_fit.h) fit units, a block of layers of one (model, context) for one subject
 * group, are handed out to any rank, which reads those layers from the features file, prepares the group's
 * targets unless it holds them, and fits the layers on its threads (host/encoding.h: PCA, delays, cross-validated
 * ridge, optional shift null) for every subject x region of the group at once. (4, mpi/sweep_write.h) results.h5 is written from the unit store through parallel HDF5
 * (mpi/results.h) and renamed into place only when complete.
 *
 * Resume: every finished (layer, subject group) and features file lives in the unit store (host/store.h) the moment
 * it is done, so rerunning the same command after a crash redoes only what is missing, and the
 * results equal an uninterrupted run's. SIGTERM/SIGUSR1 make every rank stop at the next batch of
 * its extraction or the next step of its fits (the unfinished part of the unit in hand is dropped)
 * and exit with SWEEP_EXIT_INTERRUPTED. A unit that fails (extraction or fit) is recorded with its error and
 * the rest go on; the file marks it and the run exits with SWEEP_EXIT_FAILED_UNITS.
 *
 * Shares of one sweep (a Slurm job array, jobs/array.sbatch): several runs of the same config fill
 * one store at once, each restricted to some (model, context, subject group) units by the run-only options below,
 * which leave the sweep's identity unchanged; `prepare` runs first (alone: it makes the iEEG
 * responses and the store), each share runs with `no_results`, and a last plain run finds every
 * unit done and only writes results.h5.
 * Collective over MPI_COMM_WORLD. Returns the process exit status.
 */
#ifndef MPI_SWEEP_H
#define MPI_SWEEP_H

#include <stddef.h>

typedef struct {
    const char *config_path;
    const char *const *overrides;  // "section.key=value"
    size_t n_overrides;
    int dry_run;                   // validate and print the plan, write nothing
    const char *only_model;        // run only the units of the model of this name; NULL = every model
    const char *only_context;      // run only the units of this context policy (as written); NULL = every one
    const char *only_subject;      // run only the units of the subject group holding this subject; NULL = every one
    int no_results;                // stop once this run's units are done: they stay in the store, no results file
    int prepare;                   // check the inputs, make the iEEG responses and the unit store, run no unit
} SweepOptions;

enum {
    SWEEP_EXIT_OK = 0,
    SWEEP_EXIT_ERROR = 1,           // bad input, or a fatal error (a full disk: finished units are kept)
    SWEEP_EXIT_FAILED_UNITS = 3,    // results.h5 written, but some layer fits failed (see /units) or some iEEG
                                    // subjects were left out (their reasons are printed)
    SWEEP_EXIT_INTERRUPTED = 75,    // stopped by SIGTERM/SIGUSR1: rerun the same command to resume (EX_TEMPFAIL)
};

int sweep_run(const SweepOptions *opt);

// `brainsweep ieeg CONFIG.yaml`: only the iEEG word responses of a config (recordings.format: ieeg),
// made or found up to date in ieeg.responses, with a line per subject. One process.
int sweep_ieeg(const SweepOptions *opt);

#endif  // MPI_SWEEP_H
