#include "host/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "host/base.h"

static int verbosity = 1;

void log_set_verbosity(int level) { verbosity = level; }
int log_verbosity(void) { return verbosity; }

static void emit(FILE *f, const char *tag, const char *fmt, va_list ap) {
    fprintf(f, "[r%03d +%.1fs] %s", base_rank(), base_now(), tag);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
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
