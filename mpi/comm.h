/*
 * comm: the MPI world as the rest of mpi/ sees it.
 *
 * comm_init starts MPI (a singleton launch without mpirun works too), tells host/ the rank for log
 * prefixes and installs MPI_Abort as the abort hook, so a fatal error on any rank stops every rank.
 * Transfers are split into pieces below INT_MAX elements (MPI counts are int). All calls here are
 * collective over MPI_COMM_WORLD except the queries and those that take a communicator, which are
 * collective over it. CHECK_MPI aborts with the MPI error string. The rest of mpi/ makes its MPI calls
 * here (and in dispatch.c, results.c: the server thread and MPI-IO), so every call is checked in one place.
 */
#ifndef MPI_COMM_H
#define MPI_COMM_H

#include <mpi.h>
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
// ranks sharing this node (a shared-memory split of the world)
int comm_node_ranks(void);

// ---- over a communicator (the world, or a group of ranks from comm_split)
// the group of the ranks that give this colour, ordered by world rank; free with comm_free
MPI_Comm comm_split(int color);
void comm_free(MPI_Comm *c);
int comm_rank_in(MPI_Comm c);
int comm_size_in(MPI_Comm c);
// the largest and the smallest value of v over c, on every rank
int comm_max_int(MPI_Comm c, int v);
int comm_min_int(MPI_Comm c, int v);
// broadcast n bytes from root
void comm_bcast_bytes(MPI_Comm c, void *buf, size_t n, int root);
// n floats to rank `to` of c, or from rank `from`, in pieces below INT_MAX; messages between two ranks arrive in order
void comm_send_floats(MPI_Comm c, const float *x, size_t n, int to);
void comm_recv_floats(MPI_Comm c, float *x, size_t n, int from);
// every rank's n values, in rank order, on every rank (all: size x n)
void comm_allgather_ulongs(MPI_Comm c, const unsigned long *mine, size_t n, unsigned long *all);
// element-wise sum of n doubles, on root only
void comm_reduce_sum(MPI_Comm c, const double *mine, double *sum, size_t n, int root);
// every rank's n doubles, in rank order, on root (all: size x n, unused elsewhere)
void comm_gather_doubles(MPI_Comm c, const double *mine, size_t n, double *all, int root);
// rows of row_floats floats gathered in place on root: rank r's counts[r] rows start at row displs[r] of buf
// on every rank (one row is the MPI type, so counts stay far below INT_MAX)
void comm_gather_rows(MPI_Comm c, float *buf, size_t row_floats, const int *counts, const int *displs, int root);

// the MPI library's version string
const char *comm_library_version(void);

#endif  // MPI_COMM_H
