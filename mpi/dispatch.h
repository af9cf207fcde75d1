/*
 * dispatch: dynamic hand-out of a sweep stage's units to the ranks that ask for them.
 *
 * Units are numbered 0..n-1 and handed out in the order given (the sweep puts the costliest first,
 * so the last units to start are the short ones and ranks finish together). Rank 0 runs a server
 * thread on a private communicator (MPI_THREAD_MULTIPLE): a participant's request carries the
 * outcome of its previous unit and whether it wants the run to stop, and the reply is its next
 * unit or -1. Once any participant (or rank 0's own signal flag) asks to stop, every later request
 * gets -1, so every rank finishes the unit it holds and goes on to the stage's end. The server also
 * keeps the counts behind the progress line: units done/total, failures, rate and ETA, printed live
 * on a terminal (stderr) and as plain lines every `progress_seconds` otherwise, with a TSV copy
 * (progress_tsv) for machines.
 *
 * Affinity (optional): units that share an affinity value (the fit's subject group) are cheaper on a rank that
 * ran one of them before (it holds their targets). Units of one affinity are contiguous in hand-out order; a
 * request carries the affinity the rank holds (dispatch_prefer), and the server hands out the next unit of that
 * affinity while there is one, else the next unit of an affinity no rank holds, else the next unit: ranks spread
 * over the affinities and stay on theirs, and join another only when none is left unheld.
 *
 * Without MPI_THREAD_MULTIPLE (or with one rank) the same order is dealt statically: each unit goes
 * to the participant with the least estimated cost so far (longest-processing-time first), the
 * same on every rank, no messages.
 *
 * Which units a rank gets depends on timing; what a unit computes never does, so results do not.
 * Collective over comm: dispatch_begin and dispatch_end are called by every rank of comm;
 * dispatch_next only by participants (is_participant != 0 at begin).
 */
#ifndef MPI_DISPATCH_H
#define MPI_DISPATCH_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

typedef struct Dispatch Dispatch;

typedef struct {
    const char *stage;         // "extract", "fit": names the progress lines
    const double *cost;        // (n) estimated cost of each unit in hand-out order (static dealing, ETA)
    size_t n;
    double progress_seconds;   // plain progress lines at most this often (0: none)
    FILE *progress_tsv;        // rank 0: one row per finished unit (may be NULL)
    const long *affinity;      // (n) each unit's affinity (>= 0, contiguous runs in hand-out order); NULL: none
} DispatchPlan;

typedef struct {
    size_t done, failed;       // units finished over all ranks, and failed among them
    int stopped;               // a stop was requested somewhere
} DispatchTotals;

// Collective over comm. A participant asks for units; the others only join begin and end.
Dispatch *dispatch_begin(MPI_Comm comm, const DispatchPlan *plan, int is_participant,
                         volatile const sig_atomic_t *stop_flag);

// what became of a participant's previous unit; a stopped one (left unfinished by a stop request)
// counts neither as done nor as failed
enum { DISPATCH_OK = 0, DISPATCH_FAILED = 1, DISPATCH_STOPPED = 2 };

// Participant: report the previous unit (prev_outcome: DISPATCH_*; ignored on the first call) and get
// the next unit's index, or -1 when none are left or a stop was requested.
long dispatch_next(Dispatch *d, int prev_outcome, int want_stop);

// Participant: the affinity this rank holds (e.g. the targets it prepared before any unit), sent with its next
// request; a unit handed out sets it to that unit's. -1: none.
void dispatch_prefer(Dispatch *d, long affinity);

// Collective over comm: waits for every participant to be done, frees d, returns the totals.
DispatchTotals dispatch_end(Dispatch *d);

#endif  // MPI_DISPATCH_H
