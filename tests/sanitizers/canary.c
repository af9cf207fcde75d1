/*
 * canary: one deliberate defect per mode, built with the flags of an ASAN=1 build, so that
 * tests/sanitizers/test_sanitizers.sh can prove that the options tests/run.sh sets catch each kind: the process fails
 * and its report lands where tests/run.sh looks, alone and under mpirun. "clean" with "mpi" proves that the
 * suppressions cover Open MPI's own allocations, "leak" with "mpi" that they do not cover ours.
 *
 *   canary clean|leak|overflow|shift|float-cast [mpi]
 *
 * Exit codes: 0 when the mode has no defect (or the sanitizers missed it), 2 for a usage error; a sanitizer that
 * fires exits with its own code.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// volatile: the optimiser may not drop an allocation nobody reads, nor fold a defect away at compile time
static void *volatile canary_sink;
static volatile int canary_int;

__attribute__((noinline)) static void canary_leak(void) {
    canary_sink = malloc(4096);
    canary_sink = NULL;
}

__attribute__((noinline)) static void canary_overflow(int n) {
    char *p = malloc((size_t)n);
    canary_sink = p;
    p[n] = 1;  // one past the end
    free(p);
}

__attribute__((noinline)) static void canary_shift(int bits) { canary_int = 1 << bits; }

__attribute__((noinline)) static void canary_float_cast(double x) { canary_int = (int)x; }

int main(int argc, char **argv) {
    static const char *modes[] = {"clean", "leak", "overflow", "shift", "float-cast"};
    int m = -1;
    for (int i = 0; argc >= 2 && i < 5; i++)
        if (!strcmp(argv[1], modes[i])) m = i;
    if (m < 0 || argc > 3 || (argc == 3 && strcmp(argv[2], "mpi") != 0)) {
        fprintf(stderr, "usage: canary clean|leak|overflow|shift|float-cast [mpi]\n");
        return 2;
    }
    const int n = argc, mpi = argc == 3;  // before MPI_Init, which may rewrite argc
    if (mpi) MPI_Init(&argc, &argv);
    // the operands come from argc so that no compiler sees the defect coming
    if (m == 1) canary_leak();
    if (m == 2) canary_overflow(n * 8);
    if (m == 3) canary_shift(n + 31);
    if (m == 4) canary_float_cast(n * 1e70);
    if (mpi) MPI_Finalize();
    return 0;
}
