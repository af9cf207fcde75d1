/*
 * sweep_write: the last stage of a sweep — results.h5 from the unit store, and the closing lines.
 *
 * Rank 0 creates <output>.partial with the metadata results_meta_build derives from the sweep (mpi/
 * results.h), every rank writes a contiguous share of the finished layers collectively, rank 0
 * writes the summaries, the unit status map, the stage timings (stage, N_STAGES seconds, this one's
 * filled in here) and every rank's time shares (counted from t0), renames the file into place and
 * prints the fits' counters, each (model, context)'s layer x region table, the timings and the
 * failed layers. A record that vanished or fails its checksum since the scan is fatal.
 *
 * Collective over MPI_COMM_WORLD. Returns the failed layers' count.
 */
#ifndef MPI_SWEEP_WRITE_H
#define MPI_SWEEP_WRITE_H

#include "mpi/sweep_state.h"

size_t sweep_write_run(Sweep *s, double *stage, double t0);

#endif  // MPI_SWEEP_WRITE_H
