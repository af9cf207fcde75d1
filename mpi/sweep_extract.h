/*
 * sweep_extract: the second stage of a sweep — the features file of every (model, context) that a
 * layer still to fit needs, made by groups of ranks.
 *
 * The ranks form as many groups as there are units to run (at most one per rank); a group's leader
 * asks the dispatcher (mpi/dispatch.h) for the next unit, costliest first (host/planning.h), every
 * rank of the group runs a contiguous share of the unit's sequences, and the leader gathers the
 * words layer by layer and saves the features file. A unit that fails (bad weights, NaN states) is
 * recorded as failed for each of its layers in the store and the others go on; a full disk is fatal.
 * Fills s->extracted for this rank's units.
 *
 * Collective over MPI_COMM_WORLD. Returns 1 when stopped by a signal, -1 on an error (printed once),
 * else 0.
 */
#ifndef MPI_SWEEP_EXTRACT_H
#define MPI_SWEEP_EXTRACT_H

#include "mpi/sweep_state.h"

// The bytes a rank's model may hold (mapping and kept widened layers): gib, else half of the node's memory
// shared among its ranks. Collective (it counts the node's ranks); set once before sweep_extract_run.
void sweep_extract_budget(double gib);

int sweep_extract_run(Sweep *s);

#endif  // MPI_SWEEP_EXTRACT_H
