#include "host/edf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "host/base.h"

#define EDF_ANN_LABEL "EDF Annotations"
#define EDF_MAX_SIGNALS 9999                  // the width of the 4-character field
#define EDF_MAX_FIELD8 99999999.0             // the largest count an 8-character field holds
#define EDF_CHUNK_BYTES ((size_t)64 << 20)    // edf_read reads whole records in spans of about this size
#define TAL_DURATION 0x15
#define TAL_END 0x14

// The per-signal header: each field is stored for all signals before the next field starts.
enum { F_LABEL, F_TRANSDUCER, F_UNIT, F_PMIN, F_PMAX, F_DMIN, F_DMAX, F_PREFILTER, F_SPR, F_RESERVED, F_COUNT };
static const struct {
    const char *name;
    size_t width;
} SIG_FIELD[F_COUNT] = {{"label", 16},           {"transducer type", 80}, {"physical dimension", 8},
                        {"physical minimum", 8}, {"physical maximum", 8}, {"digital minimum", 8},
                        {"digital maximum", 8},  {"prefiltering", 80},    {"samples per record", 8},
                        {"reserved", 32}};

// where field f of signal i starts in the signal header block of ns signals
static size_t sig_field_at(size_t ns, int f, size_t i) {
    size_t before = 0;
    for (int g = 0; g < f; g++) before += SIG_FIELD[g].width;
    return ns * before + i * SIG_FIELD[f].width;
}

// ----------------------------------------------------------------------------
// low-level helpers

// a space-padded header field, trimmed, into dst (cap bytes with the NUL)
static void field_text(char *dst, size_t cap, const char *f, size_t w) {
    size_t a = 0, b = w;
    while (a < b && f[a] == ' ') a++;
    while (b > a && (f[b - 1] == ' ' || f[b - 1] == '\0')) b--;
    size_t n = b - a < cap - 1 ? b - a : cap - 1;
    memcpy(dst, f + a, n);
    dst[n] = '\0';
}

// 0 with *v when the field is a finite decimal number; strtod alone would also take "inf" and hex
static int field_number(const char *f, size_t w, double *v) {
    char t[96];
    field_text(t, sizeof t, f, w);
    if (!t[0]) return -1;
    for (const char *c = t; *c; c++)
        if (!strchr("0123456789+-.eE", *c)) return -1;
    char *end;
    *v = strtod(t, &end);
    return *end || !isfinite(*v) ? -1 : 0;
}

static int field_integer(const char *f, size_t w, double *v) {
    return field_number(f, w, v) == 0 && *v == floor(*v) ? 0 : -1;
}

// bytes read (less than n only at the end of the file), or -1 with errno
static ssize_t pread_all(int fd, void *buf, size_t n, size_t off) {
    size_t got = 0;
    while (got < n) {
        size_t ask = n - got < ((size_t)1 << 30) ? n - got : ((size_t)1 << 30);  // Linux caps one call near 2 GiB
        ssize_t r = pread(fd, (char *)buf + got, ask, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

// ----------------------------------------------------------------------------
// header

static int parse_signals(Edf *e, const char *h, size_t ns, char *err) {
    const char *path = e->path;
    e->sig = base_calloc(ns, sizeof(EdfSignal), "EDF signal headers");
    e->n_signals = ns;
    size_t offset = 0;
    for (size_t i = 0; i < ns; i++) {
        EdfSignal *s = &e->sig[i];
        field_text(s->label, sizeof s->label, h + sig_field_at(ns, F_LABEL, i), 16);
        field_text(s->transducer, sizeof s->transducer, h + sig_field_at(ns, F_TRANSDUCER, i), 80);
        field_text(s->unit, sizeof s->unit, h + sig_field_at(ns, F_UNIT, i), 8);
        field_text(s->prefilter, sizeof s->prefilter, h + sig_field_at(ns, F_PREFILTER, i), 80);
        char ql[BASE_QUOTE_LEN], qt[BASE_QUOTE_LEN];  // header bytes as messages may quote them
        base_escape(ql, sizeof ql, s->label, strlen(s->label));
        s->annotation = e->plus && strcmp(s->label, EDF_ANN_LABEL) == 0;
        double v[F_COUNT];
        for (int f = F_PMIN; f <= F_SPR; f++) {
            if (f == F_PREFILTER) continue;
            const char *at = h + sig_field_at(ns, f, i);
            int bad = f == F_PMIN || f == F_PMAX ? field_number(at, 8, &v[f]) : field_integer(at, 8, &v[f]);
            if (bad) {
                char t[9];
                field_text(t, sizeof t, at, 8);
                return base_errf(err, "%s: signal %zu ('%s') %s is not %s ('%s')", path, i, ql, SIG_FIELD[f].name,
                                 f == F_PMIN || f == F_PMAX ? "a number" : "an integer",
                                 base_escape(qt, sizeof qt, t, strlen(t)));
            }
        }
        if (v[F_DMIN] < -32768 || v[F_DMAX] > 32767 || v[F_DMIN] >= v[F_DMAX])
            return base_errf(err, "%s: signal %zu ('%s') has digital minimum %.0f and maximum %.0f; 16-bit EDF needs "
                             "-32768 <= min < max <= 32767", path, i, ql, v[F_DMIN], v[F_DMAX]);
        if (v[F_PMIN] == v[F_PMAX])
            return base_errf(err, "%s: signal %zu ('%s') has physical minimum = maximum = %g, so its values are "
                             "undefined", path, i, ql, v[F_PMIN]);
        if (v[F_SPR] < 1)
            return base_errf(err, "%s: signal %zu ('%s') has %.0f samples per record (must be at least 1)", path, i,
                             ql, v[F_SPR]);
        s->phys_min = v[F_PMIN];
        s->phys_max = v[F_PMAX];
        s->dig_min = (int)v[F_DMIN];
        s->dig_max = (int)v[F_DMAX];
        s->samples_per_record = (size_t)v[F_SPR];
        s->offset = offset;
        offset += 2 * s->samples_per_record;  // at most 9999 * 2e8, no overflow
    }
    e->record_bytes = offset;
    return 0;
}

static int parse_header(Edf *e, char *err) {
    const char *path = e->path;
    struct stat st;
    if (fstat(e->fd, &st) != 0) return base_errf(err, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return base_errf(err, "%s: not a regular file", path);
    size_t size = (size_t)st.st_size;
    if (size < 256) return base_errf(err, "%s: %zu bytes, shorter than the 256-byte EDF header", path, size);
    char h[256];
    if (pread_all(e->fd, h, 256, 0) != 256)
        return base_errf(err, "%s: cannot read the header: %s", path, strerror(errno));
    if ((unsigned char)h[0] == 0xFF)
        return base_errf(err, "%s: a 24-bit BDF (BioSemi) file; only 16-bit EDF and EDF+ are supported", path);
    char t[45];
    field_text(t, sizeof t, h, 8);
    char q[BASE_QUOTE_LEN];
    if (strcmp(t, "0") != 0)
        return base_errf(err, "%s: version field is '%s', not '0' (not an EDF file)", path,
                         base_escape(q, sizeof q, t, strlen(t)));
    field_text(e->patient, sizeof e->patient, h + 8, 80);
    field_text(e->recording, sizeof e->recording, h + 88, 80);
    field_text(e->start_date, sizeof e->start_date, h + 168, 8);
    field_text(e->start_time, sizeof e->start_time, h + 176, 8);
    e->plus = memcmp(h + 192, "EDF+C", 5) == 0 || memcmp(h + 192, "EDF+D", 5) == 0;
    e->discontinuous = memcmp(h + 192, "EDF+D", 5) == 0;

    static const struct {
        const char *name;
        size_t at, width;
        int integer;
    } NUM[] = {{"number of header bytes", 184, 8, 1},
               {"number of data records", 236, 8, 1},
               {"duration of a data record", 244, 8, 0},
               {"number of signals", 252, 4, 1}};
    double v[4];
    for (int f = 0; f < 4; f++) {
        const char *at = h + NUM[f].at;
        if ((NUM[f].integer ? field_integer : field_number)(at, NUM[f].width, &v[f]) != 0) {
            field_text(t, sizeof t, at, NUM[f].width);
            return base_errf(err, "%s: header field '%s' is not %s ('%s')", path, NUM[f].name,
                             NUM[f].integer ? "an integer" : "a number", base_escape(q, sizeof q, t, strlen(t)));
        }
    }
    double hb = v[0], nrec = v[1], secs = v[2], ns = v[3];
    if (ns < 1 || ns > EDF_MAX_SIGNALS)
        return base_errf(err, "%s: header says %.0f signals (must be 1 to %d)", path, ns, EDF_MAX_SIGNALS);
    size_t n_sig = (size_t)ns;
    e->header_bytes = 256 * (n_sig + 1);
    if (hb != (double)e->header_bytes)
        return base_errf(err, "%s: header bytes field says %.0f but %zu signals need 256 * (%zu + 1) = %zu "
                         "header bytes", path, hb, n_sig, n_sig, e->header_bytes);
    if (size < e->header_bytes)
        return base_errf(err, "%s: %zu bytes, shorter than its %zu-byte header", path, size, e->header_bytes);
    char *sh = base_malloc(256 * n_sig, "EDF signal header");
    int rc = pread_all(e->fd, sh, 256 * n_sig, 256) == (ssize_t)(256 * n_sig)
                 ? parse_signals(e, sh, n_sig, err)
                 : base_errf(err, "%s: cannot read the signal headers: %s", path, strerror(errno));
    free(sh);
    if (rc) return -1;

    size_t n_data = 0;
    for (size_t i = 0; i < n_sig; i++) n_data += !e->sig[i].annotation;
    if (secs < 0 || (secs == 0 && n_data > 0))
        return base_errf(err, "%s: record duration is %g s; it must be positive (0 only in annotation-only "
                         "files)", path, secs);
    e->record_seconds = secs;
    for (size_t i = 0; i < n_sig; i++)
        e->sig[i].rate = secs > 0 ? (double)e->sig[i].samples_per_record / secs : 0;
    if (e->plus && n_data == n_sig)
        return base_errf(err, "%s: EDF+ file without an '" EDF_ANN_LABEL "' signal (EDF+ requires one)", path);

    size_t data = size - e->header_bytes, rb = e->record_bytes;
    if (nrec == -1) {  // the recorder had not finished: the spec lets readers count the records
        if (data % rb != 0)
            return base_errf(err, "%s: header gives the number of data records as -1 (unknown) and the %zu bytes "
                             "after the %zu-byte header are not a whole number of %zu-byte records", path, data,
                             e->header_bytes, rb);
        e->n_records = data / rb;
        return 0;
    }
    if (nrec < 0) return base_errf(err, "%s: header says %.0f data records", path, nrec);
    size_t want;
    e->n_records = (size_t)nrec;
    if (__builtin_mul_overflow(e->n_records, rb, &want) || want != data)
        return base_errf(err, "%s: header says %zu data records of %zu bytes (%.0f bytes) but the file holds %zu bytes "
                         "after the %zu-byte header (%s)", path, e->n_records, rb, nrec * (double)rb, data,
                         e->header_bytes, data < nrec * (double)rb ? "truncated" : "trailing bytes are not allowed");
    return 0;
}

// ----------------------------------------------------------------------------
// annotations

// a TAL number: onsets carry a sign, durations do not; digits with at most one decimal point
static int tal_number(const uint8_t *s, size_t n, int sign, double *v) {
    char t[64];
    if (n == 0 || n >= sizeof t) return -1;
    if (sign != (s[0] == '+' || s[0] == '-')) return -1;
    size_t digits = 0, points = 0;
    for (size_t i = sign; i < n; i++) {
        if (s[i] == '.') points++;
        else if (s[i] >= '0' && s[i] <= '9') digits++;
        else return -1;
    }
    if (!digits || points > 1) return -1;
    memcpy(t, s, n);
    t[n] = '\0';
    *v = strtod(t, NULL);
    return 0;
}

static void add_annotation(Edf *e, size_t *cap, double onset, double duration, const uint8_t *text, size_t n) {
    if (e->n_annotations == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        e->ann = base_realloc(e->ann, *cap * sizeof(EdfAnnotation), "EDF annotations");
    }
    EdfAnnotation *a = &e->ann[e->n_annotations++];
    a->onset = onset;
    a->duration = duration;
    a->text = base_malloc(n + 1, "EDF annotation text");
    memcpy(a->text, text, n);
    a->text[n] = '\0';
}

// The TALs of record r in one annotation signal. keeping: this is the record's first annotation
// signal, whose first TAL is the time-keeping stamp (its first text is empty by the spec).
static int parse_tals(Edf *e, const uint8_t *b, size_t len, size_t r, int keeping, size_t *cap, char *err) {
    const char *path = e->path;
    int first = 1;
    size_t p = 0;
    // TALs follow one another; the first NUL where a TAL would start is the padding
    while (p < len && b[p] != 0) {
        const uint8_t *nul = memchr(b + p, 0, len - p);
        if (!nul) return base_errf(err, "%s: data record %zu: an annotation list runs to the end of its signal "
                                   "without the closing NUL byte", path, r);
        size_t end = (size_t)(nul - b), a = p;
        while (a < end && b[a] != TAL_END && b[a] != TAL_DURATION) a++;
        double onset, duration = 0;
        if (a == end || tal_number(b + p, a - p, 1, &onset) != 0)
            return base_errf(err, "%s: data record %zu: annotation onset '%.*s' is not '+' or '-' and a decimal "
                             "number followed by 0x14", path, r, (int)(a - p < 40 ? a - p : 40), (const char *)b + p);
        if (b[a] == TAL_DURATION) {
            size_t d = ++a;
            while (a < end && b[a] != TAL_END) a++;
            if (a == end || tal_number(b + d, a - d, 0, &duration) != 0)
                return base_errf(err, "%s: data record %zu: annotation duration '%.*s' is not a decimal number "
                                 "followed by 0x14", path, r, (int)(a - d < 40 ? a - d : 40), (const char *)b + d);
        }
        a++;  // past the 0x14 that ends the onset (and duration)
        for (int text = 0; a < end; text++) {
            size_t t = a;
            while (a < end && b[a] != TAL_END) a++;
            if (a == end)
                return base_errf(err, "%s: data record %zu: annotation text at %.3f s is not closed by 0x14", path, r,
                                 onset);
            if (keeping && first && text == 0 && a > t)
                return base_errf(err, "%s: data record %zu does not start with a time-keeping annotation (its first "
                                 "text is '%.*s', not empty)", path, r, (int)(a - t < 40 ? a - t : 40),
                                 (const char *)b + t);
            if (a > t) add_annotation(e, cap, onset, duration, b + t, a - t);
            a++;
        }
        if (keeping && first) e->record_onset[r] = onset;
        first = 0;
        p = end + 1;
    }
    if (keeping && first)
        return base_errf(err, "%s: data record %zu has no time-keeping annotation in its '" EDF_ANN_LABEL "' signal",
                         path, r);
    return 0;
}

static int read_annotations(Edf *e, char *err) {
    e->record_onset = base_malloc(e->n_records * sizeof(double), "EDF record onsets");
    for (size_t r = 0; r < e->n_records; r++) e->record_onset[r] = (double)r * e->record_seconds;
    if (!e->plus) return 0;
    size_t longest = 0, cap = 0;
    for (size_t i = 0; i < e->n_signals; i++)
        if (e->sig[i].annotation && 2 * e->sig[i].samples_per_record > longest)
            longest = 2 * e->sig[i].samples_per_record;
    uint8_t *buf = base_malloc(longest, "EDF annotation signal");
    int rc = 0;
    // one small pread per record and annotation signal: annotations are a tiny part of the file
    for (size_t r = 0; r < e->n_records && rc == 0; r++) {
        int keeping = 1;
        for (size_t i = 0; i < e->n_signals && rc == 0; i++) {
            const EdfSignal *s = &e->sig[i];
            if (!s->annotation) continue;
            size_t len = 2 * s->samples_per_record;
            errno = 0;
            if (pread_all(e->fd, buf, len, e->header_bytes + r * e->record_bytes + s->offset) != (ssize_t)len)
                rc = base_errf(err, "%s: cannot read the annotations of data record %zu: %s", e->path, r,
                               errno ? strerror(errno) : "file shortened");
            else rc = parse_tals(e, buf, len, r, keeping, &cap, err);
            keeping = 0;
        }
    }
    free(buf);
    return rc;
}

// ----------------------------------------------------------------------------
// reader API

int edf_open(const char *path, Edf *out, char *err) {
    memset(out, 0, sizeof *out);
    out->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return base_errf(err, "%s: cannot open: %s", path, strerror(errno));
    out->fd = fd;
    out->path = base_strdup(path);
    if (parse_header(out, err) != 0 || read_annotations(out, err) != 0) {
        edf_close(out);
        return -1;
    }
    return 0;
}

void edf_close(Edf *e) {
    if (e->fd >= 0) close(e->fd);
    for (size_t i = 0; i < e->n_annotations; i++) free(e->ann[i].text);
    free(e->ann);
    free(e->sig);
    free(e->record_onset);
    free(e->path);
    memset(e, 0, sizeof *e);
    e->fd = -1;
}

int edf_find_signal(const Edf *e, const char *label) {
    for (size_t i = 0; i < e->n_signals; i++)
        if (strcmp(e->sig[i].label, label) == 0) return (int)i;
    return -1;
}

size_t edf_samples(const Edf *e, size_t i) { return e->n_records * e->sig[i].samples_per_record; }

// little-endian int16 to physical: dig * gain + offset is the spec's formula with the constants folded
static void convert(float *dst, const uint8_t *src, size_t n, double gain, double offset) {
    for (size_t k = 0; k < n; k++) {
        int16_t d = (int16_t)(uint16_t)(src[2 * k] | (src[2 * k + 1] << 8));
        dst[k] = (float)(d * gain + offset);
    }
}

int edf_read(const Edf *e, const size_t *which, size_t n_which, size_t s0, size_t n, float *out, char *err) {
    if (n_which == 0 || n == 0) return 0;
    char q[BASE_QUOTE_LEN], q2[BASE_QUOTE_LEN];  // labels from the file
    for (size_t j = 0; j < n_which; j++) {
        if (which[j] >= e->n_signals)
            return base_errf(err, "%s: signal index %zu asked for, but the file has %zu signals", e->path, which[j],
                             e->n_signals);
        const EdfSignal *s = &e->sig[which[j]], *ref = &e->sig[which[0]];
        if (s->annotation)
            return base_errf(err, "%s: signal %zu ('%s') is an annotation signal, not data", e->path, which[j],
                             base_escape(q, sizeof q, s->label, strlen(s->label)));
        if (s->samples_per_record != ref->samples_per_record)
            return base_errf(err, "%s: signals '%s' (%g Hz) and '%s' (%g Hz) have different rates; read them in "
                             "separate calls", e->path, base_escape(q, sizeof q, ref->label, strlen(ref->label)),
                             ref->rate,
                             base_escape(q2, sizeof q2, s->label, strlen(s->label)), s->rate);
    }
    const EdfSignal *first = &e->sig[which[0]];
    size_t S = first->samples_per_record, total = edf_samples(e, which[0]);
    if (s0 > total || n > total - s0)
        return base_errf(err, "%s: samples [%zu, %zu) asked of '%s', which has %zu", e->path, s0, s0 + n,
                         base_escape(q, sizeof q, first->label, strlen(first->label)), total);
    size_t rb = e->record_bytes, r0 = s0 / S, r1 = (s0 + n - 1) / S + 1;
    size_t per = EDF_CHUNK_BYTES / rb ? EDF_CHUNK_BYTES / rb : 1;
    if (per > r1 - r0) per = r1 - r0;
    uint8_t *buf = base_malloc(per * rb, "EDF data records");
    for (size_t r = r0; r < r1; r += per) {
        size_t m = per < r1 - r ? per : r1 - r;
        errno = 0;
        if (pread_all(e->fd, buf, m * rb, e->header_bytes + r * rb) != (ssize_t)(m * rb)) {
            free(buf);
            return base_errf(err, "%s: cannot read data records %zu..%zu: %s", e->path, r, r + m - 1,
                             errno ? strerror(errno) : "the file ends early (shortened since it was opened?)");
        }
        size_t lo = s0 > r * S ? s0 : r * S, hi = s0 + n < (r + m) * S ? s0 + n : (r + m) * S;
        for (size_t j = 0; j < n_which; j++) {
            const EdfSignal *s = &e->sig[which[j]];
            double gain = (s->phys_max - s->phys_min) / (double)(s->dig_max - s->dig_min);
            double offset = s->phys_min - gain * s->dig_min;
            for (size_t k = lo; k < hi;) {
                size_t in = k % S, cnt = S - in < hi - k ? S - in : hi - k;
                convert(out + j * n + (k - s0), buf + (k / S - r) * rb + s->offset + 2 * in, cnt, gain, offset);
                k += cnt;
            }
        }
    }
    free(buf);
    return 0;
}

// ----------------------------------------------------------------------------
// writer

// v in at most 8 characters: exactly if it can be, else rounded down (dir < 0) or up (dir > 0) at the
// finest precision that fits. -1 if nothing fits, or dir == 0 and it is not exact.
static int fmt8(char out[9], double v, int dir) {
    char t[64];
    for (int p = 0; p <= 7; p++) {
        int len = snprintf(t, sizeof t, "%.*f", p, v);
        if (len <= 8 && strtod(t, NULL) == v) {
            memcpy(out, t, (size_t)len + 1);
            return 0;
        }
    }
    if (dir == 0 || !isfinite(v)) return -1;
    for (int p = 7; p >= 0; p--) {
        double scale = pow(10, p), q = (dir < 0 ? floor(v * scale) : ceil(v * scale)) / scale;
        int len = snprintf(t, sizeof t, "%.*f", p, q);
        if (len > 8) continue;
        while (p > 0 && t[len - 1] == '0') t[--len] = '\0';
        if (t[len - 1] == '.') t[--len] = '\0';
        if (strcmp(t, "-0") == 0) strcpy(t, "0");
        memcpy(out, t, (size_t)len + 1);
        return 0;
    }
    return -1;
}

// the shortest fixed-point text that reads back as v, with a sign for onsets
static int fmt_exact(char *t, size_t cap, double v, int sign) {
    int len = 0;
    for (int p = 0; p <= 17; p++) {
        len = snprintf(t, cap, sign ? "%+.*f" : "%.*f", p, v);
        if (strtod(t, NULL) == v) break;
    }
    return len;
}

// space-filled header field
static void put(char *h, size_t at, size_t w, const char *s) {
    size_t n = strlen(s);
    memcpy(h + at, s, n < w ? n : w);
}

// printable ASCII of at most w characters (the spec's header alphabet)
static int header_text_ok(const char *s, size_t w) {
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < 32 || s[n] > 126) return 0;
    return n <= w;
}

static size_t tal_bytes(const char *onset, const char *duration, const char *text) {
    return strlen(onset) + (duration[0] ? 1 + strlen(duration) : 0) + 1 + strlen(text) + 2;
}

typedef struct {
    char onset[64], duration[64];
    size_t record;  // the data record that carries it
} TalText;

// what edf_write lays out before it writes a byte
typedef struct {
    char *header;            // (256 * (ns + 1)) bytes
    size_t ns, spr, ann_spr, n_rec;   // signals with the annotation one; samples per record of data / annotations
    double *pmin, *pmax;     // (n_signals) physical ranges as the header states them
    TalText *tal;            // (n_ann)
} WritePlan;

static void plan_free(WritePlan *w) {
    free(w->header);
    free(w->pmin);
    free(w->tal);
}

// checks the spec and lays out the header; the caller writes the records
static int write_plan(const char *path, const EdfWriteSpec *s, WritePlan *w, char *err) {
    memset(w, 0, sizeof *w);
    if (s->n_signals == 0 || s->n_signals >= EDF_MAX_SIGNALS || s->n_samples == 0)
        return base_errf(err, "%s: cannot write %zu signals of %zu samples (need 1 to %d signals and samples > 0)",
                         path, s->n_signals, s->n_samples, EDF_MAX_SIGNALS - 1);
    char rs[9];
    if (!(s->record_seconds > 0) || fmt8(rs, s->record_seconds, 0) != 0)
        return base_errf(err, "%s: record duration %g s is not positive or does not fit the 8-character field exactly",
                         path, s->record_seconds);
    double spr_d = s->rate * s->record_seconds;
    if (!(spr_d >= 1 && spr_d <= EDF_MAX_FIELD8) || fabs(spr_d - round(spr_d)) > 1e-9 * spr_d)
        return base_errf(err, "%s: rate %g Hz x record %g s = %g samples per record, not a whole number >= 1", path,
                         s->rate, s->record_seconds, spr_d);
    size_t spr = (size_t)round(spr_d), n_rec = (s->n_samples + spr - 1) / spr;
    if ((double)n_rec > EDF_MAX_FIELD8)
        return base_errf(err, "%s: %zu data records do not fit the 8-character field", path, n_rec);
    double *pmin = w->pmin = base_malloc(2 * s->n_signals * sizeof(double), "EDF physical ranges");
    double *pmax = w->pmax = pmin + s->n_signals;
    TalText *tal = w->tal = base_malloc((s->n_ann ? s->n_ann : 1) * sizeof(TalText), "EDF annotation texts");
    const char *patient = s->patient ? s->patient : "X X X X";
    const char *recording = s->recording ? s->recording : "Startdate X X X X";
    const char *date = s->start_date ? s->start_date : "01.01.85", *time = s->start_time ? s->start_time : "00.00.00";
    if (!header_text_ok(patient, 80) || !header_text_ok(recording, 80))
        return base_errf(err, "%s: patient or recording text is not printable ASCII of at most 80 characters", path);
    if (!header_text_ok(date, 8) || strlen(date) != 8 || !header_text_ok(time, 8) || strlen(time) != 8)
        return base_errf(err, "%s: start date '%s' and time '%s' must be 'dd.mm.yy' and 'hh.mm.ss'", path, date, time);
    for (size_t i = 0; i < s->n_signals; i++) {
        const char *unit = s->unit ? s->unit[i] : "";
        if (!header_text_ok(s->label[i], 16) || !header_text_ok(unit, 8))
            return base_errf(err, "%s: signal %zu: label '%s' (at most 16 characters) or unit '%s' (at most 8) is too "
                             "long or not printable ASCII", path, i, s->label[i], unit);
        char a[9], b[9];
        if (fmt8(a, s->phys_min[i], -1) || fmt8(b, s->phys_max[i], 1) || (pmin[i] = strtod(a, NULL)) ==
            (pmax[i] = strtod(b, NULL)))
            return base_errf(err, "%s: signal %zu ('%s'): physical range [%g, %g] is empty or does not fit the "
                             "8-character fields", path, i, s->label[i], s->phys_min[i], s->phys_max[i]);
    }
    // each annotation goes into the record that holds its onset; every record starts with its stamp
    size_t *need = base_calloc(n_rec, sizeof(size_t), "EDF annotation bytes");
    char stamp[64];
    for (size_t r = 0; r < n_rec; r++) {
        fmt_exact(stamp, sizeof stamp, (double)r * s->record_seconds, 1);
        need[r] = strlen(stamp) + 3;
    }
    for (size_t k = 0; k < s->n_ann; k++) {
        const EdfAnnotation *a = &s->ann[k];
        if (!(fabs(a->onset) < 1e12) || !(a->duration >= 0 && a->duration < 1e12) || !a->text || !a->text[0] ||
            strchr(a->text, TAL_END) || strchr(a->text, TAL_DURATION)) {
            free(need);
            return base_errf(err, "%s: annotation %zu (onset %g s, duration %g s) has an empty text, a 0x14/0x15 byte "
                             "in it, or an onset or duration out of range", path, k, a->onset, a->duration);
        }
        double at = floor(a->onset / s->record_seconds);
        tal[k].record = at < 0 ? 0 : at >= (double)n_rec ? n_rec - 1 : (size_t)at;
        fmt_exact(tal[k].onset, sizeof tal[k].onset, a->onset, 1);
        tal[k].duration[0] = '\0';
        if (a->duration > 0) fmt_exact(tal[k].duration, sizeof tal[k].duration, a->duration, 0);
        need[tal[k].record] += tal_bytes(tal[k].onset, tal[k].duration, a->text);
    }
    size_t most = 0;
    for (size_t r = 0; r < n_rec; r++) most = need[r] > most ? need[r] : most;
    free(need);
    size_t ann_spr = (most + 1) / 2, ns = s->n_signals + 1;
    if ((double)ann_spr > EDF_MAX_FIELD8)
        return base_errf(err, "%s: the annotations of one record need %zu bytes, too many for one record", path, most);

    size_t hb = 256 * (ns + 1);
    char *h = base_malloc(hb, "EDF header");
    memset(h, ' ', hb);
    char num[64];
    put(h, 0, 8, "0");
    put(h, 8, 80, patient);
    put(h, 88, 80, recording);
    put(h, 168, 8, date);
    put(h, 176, 8, time);
    snprintf(num, sizeof num, "%zu", hb);
    put(h, 184, 8, num);
    put(h, 192, 44, "EDF+C");
    snprintf(num, sizeof num, "%zu", n_rec);
    put(h, 236, 8, num);
    put(h, 244, 8, rs);
    snprintf(num, sizeof num, "%zu", ns);
    put(h, 252, 4, num);
    char *sh = h + 256;
    for (size_t i = 0; i < ns; i++) {
        int ann = i == s->n_signals;
        put(sh, sig_field_at(ns, F_LABEL, i), 16, ann ? EDF_ANN_LABEL : s->label[i]);
        put(sh, sig_field_at(ns, F_UNIT, i), 8, ann || !s->unit ? "" : s->unit[i]);
        fmt8(num, ann ? -1.0 : pmin[i], 0);  // exact: pmin and pmax were read back from <= 8 characters
        put(sh, sig_field_at(ns, F_PMIN, i), 8, num);
        fmt8(num, ann ? 1.0 : pmax[i], 0);
        put(sh, sig_field_at(ns, F_PMAX, i), 8, num);
        put(sh, sig_field_at(ns, F_DMIN, i), 8, "-32768");
        put(sh, sig_field_at(ns, F_DMAX, i), 8, "32767");
        snprintf(num, sizeof num, "%zu", ann ? ann_spr : spr);
        put(sh, sig_field_at(ns, F_SPR, i), 8, num);
    }
    w->header = h;
    w->ns = ns;
    w->spr = spr;
    w->ann_spr = ann_spr;
    w->n_rec = n_rec;
    return 0;
}

// physical to digital over -32768..32767, clipped; NaN as the pad value
static int16_t quantize(float v, double pmin, double scale, int16_t pad) {
    if (v != v) return pad;
    double d = floor((v - pmin) * scale - 32768.0 + 0.5);
    return (int16_t)(d < -32768 ? -32768 : d > 32767 ? 32767 : d);
}

int edf_write(const char *path, const EdfWriteSpec *s, const float *data, char *err) {
    WritePlan w;
    if (write_plan(path, s, &w, err) != 0) {
        plan_free(&w);
        return -1;
    }
    size_t nsig = s->n_signals, spr = w.spr, n_rec = w.n_rec, hb = 256 * (w.ns + 1), rb = 2 * (nsig * spr + w.ann_spr);
    const double *pmin = w.pmin, *pmax = w.pmax;
    const TalText *tal = w.tal;
    // annotations grouped by record, in their given order within a record (a counting sort)
    size_t *first = base_calloc(n_rec + 1, sizeof(size_t), "EDF annotation index");
    size_t *order = base_malloc((s->n_ann ? s->n_ann : 1) * sizeof(size_t), "EDF annotation order");
    for (size_t k = 0; k < s->n_ann; k++) first[tal[k].record + 1]++;
    for (size_t r = 0; r < n_rec; r++) first[r + 1] += first[r];
    size_t *next = base_malloc(n_rec * sizeof(size_t), "EDF annotation index");
    memcpy(next, first, n_rec * sizeof(size_t));
    for (size_t k = 0; k < s->n_ann; k++) order[next[tal[k].record]++] = k;
    free(next);
    uint8_t *rec = base_malloc(rb, "EDF data record");
    char *tmp = base_malloc(strlen(path) + 5, "EDF temporary name");
    sprintf(tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f) rc = base_errf(err, "%s: cannot create: %s", tmp, strerror(errno));
    else {
        setvbuf(f, NULL, _IOFBF, (size_t)4 << 20);
        if (fwrite(w.header, 1, hb, f) != hb) rc = base_errf(err, "%s: write failed: %s", tmp, strerror(errno));
    }
    for (size_t r = 0; r < n_rec && rc == 0; r++) {
        for (size_t i = 0; i < nsig; i++) {
            double scale = 65535.0 / (pmax[i] - pmin[i]);
            int16_t pad = quantize(0.0f, pmin[i], scale, 0);
            uint8_t *o = rec + 2 * i * spr;
            for (size_t k = 0, t = r * spr; k < spr; k++, t++) {
                int16_t d = t < s->n_samples ? quantize(data[i * s->n_samples + t], pmin[i], scale, pad) : pad;
                o[2 * k] = (uint8_t)((uint16_t)d & 0xFF);
                o[2 * k + 1] = (uint8_t)((uint16_t)d >> 8);
            }
        }
        // the annotation signal: time-keeping stamp, this record's TALs, NUL padding
        char *a = (char *)rec + 2 * nsig * spr;
        memset(a, 0, 2 * w.ann_spr);
        char stamp[64];
        fmt_exact(stamp, sizeof stamp, (double)r * s->record_seconds, 1);
        size_t at = (size_t)sprintf(a, "%s\x14\x14", stamp) + 1;
        for (size_t q = first[r]; q < first[r + 1]; q++) {
            size_t k = order[q];
            if (tal[k].duration[0]) at += (size_t)sprintf(a + at, "%s\x15%s\x14%s\x14", tal[k].onset, tal[k].duration,
                                                          s->ann[k].text) + 1;
            else at += (size_t)sprintf(a + at, "%s\x14%s\x14", tal[k].onset, s->ann[k].text) + 1;
        }
        if (fwrite(rec, 1, rb, f) != rb) rc = base_errf(err, "%s: write failed: %s", tmp, strerror(errno));
    }
    if (f) {
        if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
            rc = base_errf(err, "%s: write failed: %s", tmp, strerror(errno));
        if (fclose(f) != 0 && rc == 0) rc = base_errf(err, "%s: write failed: %s", tmp, strerror(errno));
        if (rc == 0 && rename(tmp, path) != 0)
            rc = base_errf(err, "%s: cannot rename %s onto it: %s", path, tmp, strerror(errno));
        if (rc != 0) unlink(tmp);
    }
    free(tmp);
    free(first);
    free(order);
    free(rec);
    plan_free(&w);
    return rc;
}
