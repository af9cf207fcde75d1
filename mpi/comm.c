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
