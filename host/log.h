/*
 * log: one prefix for every line, "[r003 +12.4s] ", so Slurm logs of many ranks can be merged.
 * log0 prints on rank 0 only (global progress); log_rank on any rank; log_warn goes to stderr on
 * any rank; log_debug prints only at verbosity >= 2 and tests the level before formatting.
 * The rank comes from base_rank(); verbosity is process-wide and set once at start-up.
 * log_copy_to gives the rank its own log file: every line it prints (log0 on rank 0, log_rank,
 * log_warn, log_debug) is copied there, and log_rank_file writes there only (per-unit detail that
 * would flood the shared terminal). Not thread-safe: log from one thread.
 */
#ifndef HOST_LOG_H
#define HOST_LOG_H

#include <stdio.h>

void log_set_verbosity(int level);  // 0 quiet, 1 normal (default), 2 debug
int log_verbosity(void);

void log0(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_rank(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_copy_to(FILE *f);  // NULL: no copy
void log_rank_file(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug_impl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define log_debug(...)                                  \
    do {                                                \
        if (log_verbosity() >= 2) log_debug_impl(__VA_ARGS__); \
    } while (0)

#endif  // HOST_LOG_H
