/*
 * sweep_fit: the third stage of a sweep — every layer not yet in the store fitted and recorded.
 *
 * Units are blocks of run.layer_block layers of one (model, context) whose features file exists, for one subject
 * group, costliest first within a group (host/planning.h), handed out by the dispatcher to any rank with the
 * group as the unit's affinity (mpi/dispatch.h): a rank stays on the group whose targets it holds, and the ranks
 * spread over the groups; the rank reads the block's layers from the features file,
 * prepares the group's targets unless it holds them (mpi/sweep_targets.h) and fits the layers on its threads
 * (host/encoding.h: PCA, delays, cross-validated ridge, optional shift null) for every target of the group at
 * once, then saves one record per (layer, group) (host/store.h, names in host/record.h). A layer that fails is recorded with its error and
 * the rest go on; a stop request leaves the layers not yet fitted out of the store.
 *
 * Collective over MPI_COMM_WORLD. Returns 1 when stopped by a signal, else 0.
 */
#ifndef MPI_SWEEP_FIT_H
#define MPI_SWEEP_FIT_H

#include "mpi/sweep_state.h"

int sweep_fit_run(Sweep *s);

#endif  // MPI_SWEEP_FIT_H
