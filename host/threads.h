/*
 * threads: one thread pool per process.
 *
 * brainsweep parallelises with OpenMP (rows of a matrix product, attention heads, independent fits)
 * and calls OpenBLAS single-threaded inside those regions. Two pools — OpenMP's and OpenBLAS's own
 * pthreads — would spin against each other on the same cores (measured: a third of the time lost
 * to sched_yield on 2 cores), so threads_init pins OpenBLAS to one thread and sizes OpenMP.
 * Call it once at start-up, before any compute, from the main thread.
 */
#ifndef HOST_THREADS_H
#define HOST_THREADS_H

// n > 0: that many OpenMP threads; n <= 0: OpenMP's default (OMP_NUM_THREADS or all cores)
void threads_init(int n);
int threads_count(void);

// A stage that runs alone (outside any OpenMP parallel region) and spends its time in large BLAS or LAPACK
// calls lets OpenBLAS use every OpenMP thread meanwhile: widen returns the previous count for restore, or -1
// (nothing changed) inside a parallel region, where OpenBLAS stays single-threaded.
int threads_blas_widen(void);
// The other way round, for a stage that runs its own OpenMP region with a BLAS call per thread: OpenBLAS
// single-threaded meanwhile (one pool of threads); -1 when nothing changed.
int threads_blas_narrow(void);
void threads_blas_restore(int before);

// OpenBLAS chooses its kernels when it loads, from the CPU model; on CPUs newer than the library it
// falls back to "Prescott" (SSE3) kernels, several times slower. OPENBLAS_CORETYPE must be set before
// the library loads, so this names the right kernels (SkylakeX with AVX-512, else Haswell with AVX2)
// and executes the program again, same pid and arguments (mpirun and srun are unaffected). Call it
// first thing in main; it returns when nothing needs doing or the exec fails (slow kernels then).
void threads_choose_blas_kernels(char **argv);

#endif  // HOST_THREADS_H
