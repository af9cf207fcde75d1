/*
 * sweep_inputs: the first stage of a sweep — every input read and checked, the targets prepared once.
 *
 * sweep_inputs_load reads the stimulus, the recordings (text matrices, or the iEEG word responses:
 * made by rank 0 when needed, then read by every rank), each model's header and tokenizer, and
 * resolves every context policy; sweep_inputs_targets builds the z-scored targets, the cross-
 * validation plan, the targets' per-segment sums, the extra bands and the fit specification shared
 * by every layer; sweep_inputs_identity hashes what shapes the results, so a rerun finds its store.
 * Every rank does the same (so any rank can fit any layer), and bad input stops before any output:
 * -1 with err on the failing rank (the caller agrees over ranks with sweep_all_ok). Collective over
 * MPI_COMM_WORLD where the iEEG responses are made (rank 0 works, the others wait).
 */
#ifndef MPI_SWEEP_INPUTS_H
#define MPI_SWEEP_INPUTS_H

#include "mpi/sweep_state.h"

// run.device resolved on this rank into s->backend (asks the CUDA runtime once); before the other stages
int sweep_inputs_backend(Sweep *s, char *err);
int sweep_inputs_load(Sweep *s, char *err);
int sweep_inputs_targets(Sweep *s, char *err);

// the sweep's identity into s->identity; *text (caller frees) is what it hashes, for the store's identity file
void sweep_inputs_identity(Sweep *s, char **text);

// Rank 0: the version, the compute, the stimulus, recordings, models, contexts, design and ridge, one line each.
void sweep_inputs_banner(const Sweep *s);

// The word responses of every subject, on every rank: loaded from the responses file when it was made from the same
// data and options, else computed by all the ranks, each a share of the subjects (their high-gamma), joined on every
// rank and saved by rank 0 (dry_run: nothing written). Rank 0 prints what each subject gave. Collective.
int sweep_inputs_ieeg_responses(const SweepConfig *c, const Stimulus *st, int dry_run, IeegResponses *r,
                                char *err);

#endif  // MPI_SWEEP_INPUTS_H
