/*
 * base: fatal errors, checked allocation, status strings, timers and size arithmetic.
 *
 * Two error policies run through the project (docs/design.md):
 *  - fatal: code that cannot go on calls DIE(hint, fmt, ...) or a check macro. It prints one line
 *    "[r000 +1.2s] FATAL file:line func: message" and a "hint:" line, flushes, then runs the abort
 *    hook (MPI_Abort once mpi/comm installs it; exit(1) otherwise).
 *  - status: readers of external input return 0 or -1 and write one sentence into a caller's
 *    `char err[BASE_ERR_LEN]` that names the file and the problem. The caller decides.
 * Ownership: base_malloc'd memory belongs to the caller; base_free(&p) frees and nulls.
 * Threads: everything here is thread-safe except the setters, which run once at start-up.
 */
#ifndef HOST_BASE_H
#define HOST_BASE_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BASE_ERR_LEN 512

// code shared by the CPU twin and a CUDA kernel compiles for both sides
#ifdef __CUDACC__
#define BS_HD __host__ __device__
#else
#define BS_HD
#endif

// ----------------------------------------------------------------------------
// fatal errors

#define DIE(hint, ...) base_die(__FILE__, __LINE__, __func__, (hint), __VA_ARGS__)
#define ASSERT(cond)                                                                   \
    do {                                                                               \
        if (!(cond)) base_die(__FILE__, __LINE__, __func__, "this is a bug in brainsweep", \
                              "assertion failed: %s", #cond);                         \
    } while (0)

void base_die(const char *file, int line, const char *func, const char *hint, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 5, 6)));

// The hook runs after the message is printed; it must not return (MPI_Abort, exit).
void base_set_abort_hook(void (*hook)(int code));
// The rank shown in every message prefix.
void base_set_rank(int rank);
int base_rank(void);
// the one prefix of every log line, "[r003 +12.4s] " (this rank, seconds since start), written to f
void base_prefix(FILE *f);

// ----------------------------------------------------------------------------
// status strings for readers of external input

// Formats into err (BASE_ERR_LEN bytes) and returns -1, so readers can `return base_errf(...)`.
int base_errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// A quote of bytes from a file, safe to print: printable ASCII and well-formed UTF-8 of printable code
// points are kept, a backslash becomes \\ and any other byte \xNN (so a corrupt key cannot write
// control codes to a terminal or log); a quote that does not fit ends with "...". Writes at most dstlen
// bytes (dstlen >= 4) including the NUL and returns dst, so it can be an argument of a printf.
#define BASE_QUOTE_LEN 100
const char *base_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

// ----------------------------------------------------------------------------
// memory

void *base_malloc(size_t bytes, const char *label);  // DIE on failure, names the label
void *base_calloc(size_t n, size_t size, const char *label);
void *base_realloc(void *p, size_t bytes, const char *label);
char *base_strdup(const char *s);
#define base_free(pp) base_free_impl((void **)(pp))
void base_free_impl(void **p);

// a * b, DIE on overflow: sizes of 7B models and 100k electrodes are products of several ints
size_t base_mul(size_t a, size_t b);

// x (n): log-spaced from 10^lo to 10^hi (n == 1: 10^lo), as the ridge's alpha grids are given
void base_logspace(double *x, double lo, double hi, size_t n);

// ----------------------------------------------------------------------------
// time

double base_now(void);      // seconds since process start (monotonic)
double base_wall(void);     // monotonic clock, for intervals

// ----------------------------------------------------------------------------
// stop requests

// The signal that asked the process to stop (0: none). A signal handler writes it (the sweep's
// SIGTERM/SIGUSR1); long computations (extraction batches, layer fits) read it where stopping loses
// nothing already saved and return early, so a stop takes seconds, not the rest of a unit.
extern volatile sig_atomic_t base_stop_signal;

// ----------------------------------------------------------------------------
// files

// Whole file into a NUL-terminated buffer (caller frees). Returns NULL and fills err on failure.
char *base_read_file(const char *path, size_t *len, char *err);
// 1 if path names an existing regular file
int base_file_exists(const char *path);
int base_mkdirs(const char *dir);  // a folder and its missing parents; -1 with errno
// the temporary name under which a whole-or-nothing writer puts path's content before renaming it into place:
// ".partial-<pid>-<name>" in path's folder, so the rename never crosses a file system
void base_partial_path(const char *path, char *out, size_t n);

#endif  // HOST_BASE_H
