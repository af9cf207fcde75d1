#include "host/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "host/base.h"

static int verbosity = 1;
static FILE *copy = NULL;  // the rank's own log file, if any

void log_copy_to(FILE *f) { copy = f; }

void log_set_verbosity(int level) { verbosity = level; }
int log_verbosity(void) { return verbosity; }

static void emit_to(FILE *f, const char *tag, const char *fmt, va_list ap) {
    base_prefix(f);
    fputs(tag, f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
}

static void emit(FILE *f, const char *tag, const char *fmt, va_list ap) {
    if (copy) {
        va_list again;
        va_copy(again, ap);
        emit_to(copy, tag, fmt, again);
        va_end(again);
    }
    emit_to(f, tag, fmt, ap);
}

void log_rank_file(const char *fmt, ...) {
    if (!copy) return;
    va_list ap;
    va_start(ap, fmt);
    emit_to(copy, "", fmt, ap);
    va_end(ap);
}

void log0(const char *fmt, ...) {
    if (base_rank() != 0 || verbosity < 1) return;
    va_list ap;
    va_start(ap, fmt);
    emit(stdout, "", fmt, ap);
    va_end(ap);
}

void log_rank(const char *fmt, ...) {
    if (verbosity < 1) return;
    va_list ap;
    va_start(ap, fmt);
    emit(stdout, "", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit(stderr, "WARNING ", fmt, ap);
    va_end(ap);
}

void log_debug_impl(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit(stdout, "debug ", fmt, ap);
    va_end(ap);
}
