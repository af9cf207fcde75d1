#include "host/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void (*abort_hook)(int) = NULL;
static int current_rank = 0;

static double monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// the process start is the first call from anywhere; base_now() is called early in main
static double start_time(void) {
    static double t0 = -1.0;
    if (t0 < 0.0) t0 = monotonic();
    return t0;
}

double base_now(void) { return monotonic() - start_time(); }
double base_wall(void) { return monotonic(); }

void base_set_abort_hook(void (*hook)(int code)) { abort_hook = hook; }
void base_set_rank(int rank) { current_rank = rank; }
int base_rank(void) { return current_rank; }

void base_die(const char *file, int line, const char *func, const char *hint, const char *fmt, ...) {
    fflush(stdout);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[r%03d +%.1fs] FATAL %s:%d %s: %s\n", current_rank, base_now(), file, line, func, msg);
    if (hint && hint[0]) fprintf(stderr, "  hint: %s\n", hint);
    fflush(stderr);
    if (abort_hook) abort_hook(1);
    exit(1);
}

int base_errf(char *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, BASE_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void *base_malloc(size_t bytes, const char *label) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) DIE("reduce the problem size or ask the scheduler for more memory",
                "cannot allocate %zu bytes (%.1f MiB) for %s", bytes, (double)bytes / 1048576.0, label);
    return p;
}

void *base_calloc(size_t n, size_t size, const char *label) {
    size_t bytes = base_mul(n, size);
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) DIE("reduce the problem size or ask the scheduler for more memory",
                "cannot allocate %zu bytes (%.1f MiB) for %s", bytes, (double)bytes / 1048576.0, label);
    return p;
}

void *base_realloc(void *p, size_t bytes, const char *label) {
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) DIE("reduce the problem size or ask the scheduler for more memory",
                "cannot grow %s to %zu bytes", label, bytes);
    return q;
}

char *base_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = base_malloc(n, "string");
    memcpy(d, s, n);
    return d;
}

void base_free_impl(void **p) {
    if (p && *p) {
        free(*p);
        *p = NULL;
    }
}

size_t base_mul(size_t a, size_t b) {
    if (a != 0 && b > SIZE_MAX / a) DIE("this is a bug or an absurd input size", "size overflow: %zu * %zu", a, b);
    return a * b;
}

char *base_read_file(const char *path, size_t *len, char *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        base_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        base_errf(err, "%s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = base_malloc(n + 1, path);
    if (fread(buf, 1, n, f) != n) {
        base_errf(err, "%s: read failed after %zu bytes", path, n);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int base_mkdirs(const char *dir) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", dir) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char was = *p;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
        if (was == '\0') return 0;
        *p = was;
    }
}

int base_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
