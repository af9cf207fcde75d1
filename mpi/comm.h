/*
 * comm: the MPI world as the rest of mpi/ sees it.
 *
 * comm_init starts MPI (a singleton launch without mpirun works too), tells host/ the rank for log
 * prefixes and installs MPI_Abort as the abort hook, so a fatal error on any rank stops every rank.
 * Transfers are split into pieces below INT_MAX elements (MPI counts are int). All calls here are
 * collective over MPI_COMM_WORLD except the queries. CHECK_MPI aborts with the MPI error string.
 */
#ifndef MPI_COMM_H
#define MPI_COMM_H

#include <stddef.h>

#define CHECK_MPI(call) comm_check((call), #call, __FILE__, __LINE__)
void comm_check(int rc, const char *what, const char *file, int line);

void comm_init(int *argc, char ***argv);
void comm_finalize(void);
int comm_rank(void);
int comm_size(void);
void comm_barrier(void);

// broadcast one int from root; the other ranks sleep while they wait (a long serial step on root, such
// as preparing the iEEG responses, would otherwise keep every waiting rank spinning on a core it needs)
int comm_bcast_int_idle(int value, int root);
// broadcast n floats from root, in pieces below INT_MAX
void comm_bcast_floats(float *buf, size_t n, int root);
// element-wise sum of n doubles over all ranks, result on every rank
void comm_allreduce_sum(double *buf, size_t n);
// logical OR of a flag over all ranks
int comm_any(int flag);
// the MPI library's version string
const char *comm_library_version(void);

#endif  // MPI_COMM_H
