/*
 * ranks.h: what the tests of mpi/ share. tests/run.sh runs them under `mpirun -n 2` (as a singleton without
 * mpirun); MPI starts as in the program (comm_init: MPI_THREAD_MULTIPLE, MPI_Abort on a fatal error). Only rank 0
 * reports: the other ranks' stdout goes to /dev/null, so there is one PASS/FAIL line per case and one summary line,
 * and a case that needs another rank's view gets it by message and is checked on rank 0.
 */
#ifndef TESTS_MPI_RANKS_H
#define TESTS_MPI_RANKS_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "mpi/comm.h"

static void ranks_begin(int *argc, char ***argv) {
    comm_init(argc, argv);
    if (comm_rank() != 0 && !freopen("/dev/null", "w", stdout)) exit(1);
}

// a temporary folder made by rank 0 and known to every rank; a failed mkdtemp stops the test (exit 1)
__attribute__((unused)) static void ranks_tmpdir(char *dir, size_t n, const char *prefix) {
    if (comm_rank() == 0) {
        snprintf(dir, n, "/tmp/%s-XXXXXX", prefix);
        if (!mkdtemp(dir)) {
            printf("FAIL temporary_folder: mkdtemp %s\n", dir);
            dir[0] = '\0';
        }
    }
    MPI_Bcast(dir, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (!dir[0]) {
        MPI_Finalize();
        exit(1);
    }
}

#endif  // TESTS_MPI_RANKS_H
