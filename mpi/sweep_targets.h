/*
 * sweep_targets: the targets of one subject group, prepared by the rank that fits it.
 *
 * Subjects are a unit axis of the sweep: consecutive subjects form groups of Sweep.group (run.group_gib sizes
 * them by their float32 targets, planning_group_size), and a fit unit covers one group. A rank holds one group's targets at a time
 * (Sweep.prepared): its subjects' recordings (bids_fmri: their runs, read from the files only now; the other
 * formats' small matrices stay in memory from the inputs stage), high-passed like the design where sampled,
 * z-scored per column in float32, with the per-segment sums every layer's fit of the group shares
 * (host/ridge.h). The same group gives the same values on any rank: each column's preparation is its own.
 *
 * The inputs stage prepares every group once, spread over the ranks (check = 1: constant columns are
 * reported and each subject's hash kept for the sweep's identity), so bad input stops before any output; the
 * fit stage prepares each unit's group again where the rank does not hold it.
 * Not collective. Errors: -1 with err naming the file (a run that changed or vanished since the inputs stage
 * fails here too).
 */
#ifndef MPI_SWEEP_TARGETS_H
#define MPI_SWEEP_TARGETS_H

#include <stddef.h>

#include "mpi/sweep_state.h"

// the subjects [*first, *first + *n) of group g
void sweep_group_subjects(const Sweep *s, size_t g, size_t *first, size_t *n);

// group g's targets into s->prepared (nothing to do when it holds g already)
int sweep_targets_prepare(Sweep *s, size_t g, int check, char *err);
void sweep_targets_release(Sweep *s);

#endif  // MPI_SWEEP_TARGETS_H
