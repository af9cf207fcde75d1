#include "host/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

volatile sig_atomic_t base_stop_signal = 0;

void base_set_abort_hook(void (*hook)(int code)) { abort_hook = hook; }
void base_set_rank(int rank) { current_rank = rank; }
int base_rank(void) { return current_rank; }
void base_prefix(FILE *f) { fprintf(f, "[r%03d +%.1fs] ", current_rank, base_now()); }

void base_die(const char *file, int line, const char *func, const char *hint, const char *fmt, ...) {
    fflush(stdout);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    base_prefix(stderr);
    fprintf(stderr, "FATAL %s:%d %s: %s\n", file, line, func, msg);
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

// Length of the well-formed UTF-8 sequence of a printable code point at s (n bytes left), or 0. C1
// controls and the bidirectional overrides are not printable: they reorder or hide what a log shows.
static size_t utf8_printable(const unsigned char *s, size_t n) {
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (len == 0 || s[0] > 0xF4 || len > n) return 0;
    uint32_t cp = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};  // shorter forms are overlong
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return 0;
    if (cp < 0xA0 || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) return 0;
    return len;
}

// what one source unit at s becomes: its bytes, \\ or \xNN; returns the bytes written, sets *used
static size_t escape_unit(char out[4], const unsigned char *s, size_t n, size_t *used) {
    size_t u = s[0] >= 0x80 ? utf8_printable(s, n) : 0;
    if (u) {
        memcpy(out, s, u);
        *used = u;
        return u;
    }
    *used = 1;
    if (s[0] == '\\') {
        out[0] = out[1] = '\\';
        return 2;
    }
    if (s[0] >= 0x20 && s[0] < 0x7F) {
        out[0] = (char)s[0];
        return 1;
    }
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\', out[1] = 'x', out[2] = hex[s[0] >> 4], out[3] = hex[s[0] & 15];
    return 4;
}

const char *base_escape(char *dst, size_t dstlen, const char *src, size_t srclen) {
    ASSERT(dstlen >= 4);
    const unsigned char *s = (const unsigned char *)src;
    size_t pos = 0, i = 0, used;
    char unit[4];
    // whole units while "..." still fits after them
    while (i < srclen) {
        size_t k = escape_unit(unit, s + i, srclen - i, &used);
        if (pos + k > dstlen - 4) break;
        memcpy(dst + pos, unit, k);
        pos += k, i += used;
    }
    // the rest goes in whole if it fits in the room kept for the dots; else the dots
    size_t rest = 0;
    for (size_t j = i; j < srclen && pos + rest <= dstlen - 1; j += used)
        rest += escape_unit(unit, s + j, srclen - j, &used);
    if (pos + rest <= dstlen - 1) {
        for (; i < srclen; i += used) {
            size_t k = escape_unit(unit, s + i, srclen - i, &used);
            memcpy(dst + pos, unit, k);
            pos += k;
        }
    } else {
        memcpy(dst + pos, "...", 3);
        pos += 3;
    }
    dst[pos] = '\0';
    return dst;
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

void base_logspace(double *x, double lo, double hi, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = pow(10.0, n == 1 ? lo : lo + (hi - lo) * (double)i / (double)(n - 1));
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

void base_partial_path(const char *path, char *out, size_t n) {
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    snprintf(out, n, "%.*s.partial-%d-%.200s", (int)(name - path), path, (int)getpid(), name);
}
