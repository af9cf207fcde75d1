#include "mpi/comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <time.h>

#include "host/base.h"

static int world_rank = 0, world_size = 1;

void comm_check(int rc, const char *what, const char *file, int line) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    base_die(file, line, what, "an MPI call failed; check the launcher (mpirun/srun --mpi=pmix) and the network",
             "%s", msg);
}

static void abort_all(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void comm_init(int *argc, char ***argv) {
    int provided;
    CHECK_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided));
    CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank));
    CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &world_size));
    base_set_rank(world_rank);
    if (world_size > 1) base_set_abort_hook(abort_all);
}

void comm_finalize(void) { MPI_Finalize(); }
int comm_rank(void) { return world_rank; }
int comm_size(void) { return world_size; }
void comm_barrier(void) { CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD)); }

int comm_bcast_int_idle(int value, int root) {
    MPI_Request req;
    CHECK_MPI(MPI_Ibcast(&value, 1, MPI_INT, root, MPI_COMM_WORLD, &req));
    const struct timespec wait = {0, 10 * 1000 * 1000};
    for (int done = 0;;) {
        CHECK_MPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
        if (done) return value;
        nanosleep(&wait, NULL);
    }
}

void comm_bcast_floats(float *buf, size_t n, int root) {
    for (size_t off = 0; off < n; off += (size_t)INT_MAX / 2) {
        size_t k = n - off < (size_t)INT_MAX / 2 ? n - off : (size_t)INT_MAX / 2;
        CHECK_MPI(MPI_Bcast(buf + off, (int)k, MPI_FLOAT, root, MPI_COMM_WORLD));
    }
}

void comm_allreduce_sum(double *buf, size_t n) {
    for (size_t off = 0; off < n; off += (size_t)INT_MAX / 2) {
        size_t k = n - off < (size_t)INT_MAX / 2 ? n - off : (size_t)INT_MAX / 2;
        CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    }
}

int comm_any(int flag) {
    int out = 0;
    CHECK_MPI(MPI_Allreduce(&flag, &out, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD));
    return out;
}

int comm_node_ranks(void) {
    MPI_Comm node;
    int local = 1;
    CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    CHECK_MPI(MPI_Comm_size(node, &local));
    comm_free(&node);
    return local;
}

MPI_Comm comm_split(int color) {
    MPI_Comm c;
    CHECK_MPI(MPI_Comm_split(MPI_COMM_WORLD, color, world_rank, &c));
    return c;
}

void comm_free(MPI_Comm *c) { CHECK_MPI(MPI_Comm_free(c)); }

int comm_rank_in(MPI_Comm c) {
    int r;
    CHECK_MPI(MPI_Comm_rank(c, &r));
    return r;
}

int comm_size_in(MPI_Comm c) {
    int n;
    CHECK_MPI(MPI_Comm_size(c, &n));
    return n;
}

int comm_max_int(MPI_Comm c, int v) {
    int out;
    CHECK_MPI(MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, c));
    return out;
}

int comm_min_int(MPI_Comm c, int v) {
    int out;
    CHECK_MPI(MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MIN, c));
    return out;
}

void comm_send_floats(MPI_Comm c, const float *x, size_t n, int to) {
    for (size_t off = 0; off < n; off += (size_t)INT_MAX / 2) {
        size_t k = n - off < (size_t)INT_MAX / 2 ? n - off : (size_t)INT_MAX / 2;
        CHECK_MPI(MPI_Send(x + off, (int)k, MPI_FLOAT, to, 0, c));
    }
}

void comm_recv_floats(MPI_Comm c, float *x, size_t n, int from) {
    for (size_t off = 0; off < n; off += (size_t)INT_MAX / 2) {
        size_t k = n - off < (size_t)INT_MAX / 2 ? n - off : (size_t)INT_MAX / 2;
        CHECK_MPI(MPI_Recv(x + off, (int)k, MPI_FLOAT, from, 0, c, MPI_STATUS_IGNORE));
    }
}

void comm_bcast_bytes(MPI_Comm c, void *buf, size_t n, int root) {
    for (size_t off = 0; off < n; off += (size_t)INT_MAX / 2) {
        size_t k = n - off < (size_t)INT_MAX / 2 ? n - off : (size_t)INT_MAX / 2;
        CHECK_MPI(MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, root, c));
    }
}

void comm_allgather_ulongs(MPI_Comm c, const unsigned long *mine, size_t n, unsigned long *all) {
    CHECK_MPI(MPI_Allgather(mine, (int)n, MPI_UNSIGNED_LONG, all, (int)n, MPI_UNSIGNED_LONG, c));
}

void comm_reduce_sum(MPI_Comm c, const double *mine, double *sum, size_t n, int root) {
    CHECK_MPI(MPI_Reduce(mine, sum, (int)n, MPI_DOUBLE, MPI_SUM, root, c));
}

void comm_gather_doubles(MPI_Comm c, const double *mine, size_t n, double *all, int root) {
    CHECK_MPI(MPI_Gather(mine, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, root, c));
}

void comm_gather_rows(MPI_Comm c, float *buf, size_t row_floats, const int *counts, const int *displs, int root) {
    int me = comm_rank_in(c);
    MPI_Datatype row;
    CHECK_MPI(MPI_Type_contiguous((int)row_floats, MPI_FLOAT, &row));
    CHECK_MPI(MPI_Type_commit(&row));
    CHECK_MPI(MPI_Gatherv(me == root ? MPI_IN_PLACE : buf + (size_t)displs[me] * row_floats, counts[me], row, buf,
                          counts, displs, row, root, c));
    CHECK_MPI(MPI_Type_free(&row));
}

const char *comm_library_version(void) {
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    for (int i = 0; i < len; i++)
        if (v[i] == '\n' || v[i] == ',') {
            v[i] = '\0';
            break;
        }
    return v;
}
