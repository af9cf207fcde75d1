#include "host/tsv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"

void tsv_free(Tsv *t) {
    if (!t) return;
    free(t->path);
    free(t->header);
    free(t->cell);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

// splits one line in place at tabs into out (at most max fields); returns the field count
static size_t split_tabs(char *line, char **out, size_t max) {
    size_t n = 0;
    for (char *p = line;;) {
        if (n < max) out[n] = p;
        n++;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

int tsv_load(const char *path, Tsv *out, char *err) {
    memset(out, 0, sizeof *out);
    size_t len;
    char *buf = base_read_file(path, &len, err);
    if (!buf) return -1;
    out->buf = buf;
    out->path = base_strdup(path);
    char *p = buf;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF) p += 3;
    // count lines to size the cell table once
    size_t lines = 1;
    for (char *q = p; *q; q++) lines += *q == '\n';
    char **line = base_malloc(lines * sizeof(char *), "table lines");
    size_t n_lines = 0;
    for (char *q = p; q && *q;) {
        char *next = strchr(q, '\n');
        if (next) *next++ = '\0';
        size_t l = strlen(q);
        while (l && q[l - 1] == '\r') q[--l] = '\0';
        if (l) line[n_lines++] = q;
        q = next;
    }
    if (n_lines == 0) {
        free(line);
        tsv_free(out);
        return base_errf(err, "%s: empty table (a header row is required)", path);
    }
    size_t n_cols = 1;
    for (const char *q = line[0]; *q; q++) n_cols += *q == '\t';
    out->header = base_malloc(n_cols * sizeof(char *), "table header");
    split_tabs(line[0], out->header, n_cols);
    out->n_cols = n_cols;
    out->n_rows = n_lines - 1;
    out->cell = base_malloc(base_mul(out->n_rows ? out->n_rows : 1, n_cols) * sizeof(char *), "table cells");
    for (size_t r = 0; r < out->n_rows; r++) {
        size_t n = split_tabs(line[r + 1], out->cell + r * n_cols, n_cols);
        if (n != n_cols) {
            free(line);
            base_errf(err, "%s: row %zu has %zu fields, the header %zu", path, r + 2, n, n_cols);
            tsv_free(out);
            return -1;
        }
    }
    free(line);
    return 0;
}

int tsv_column(const Tsv *t, const char *const *names) {
    for (const char *const *n = names; *n; n++)
        for (size_t c = 0; c < t->n_cols; c++)
            if (strcmp(t->header[c], *n) == 0) return (int)c;
    return -1;
}

const char *tsv_get(const Tsv *t, size_t row, int col) { return t->cell[row * t->n_cols + (size_t)col]; }

int tsv_num(const Tsv *t, size_t row, int col, double *out, char *err) {
    const char *s = tsv_get(t, row, col);
    if (s[0] == '\0' || strcmp(s, "n/a") == 0) {
        *out = NAN;
        return 0;
    }
    char *end;
    *out = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end) {
        char qc[BASE_QUOTE_LEN], q[BASE_QUOTE_LEN];
        return base_errf(err, "%s: row %zu, column '%s': '%s' is not a number", t->path, row + 2,
                         base_escape(qc, sizeof qc, t->header[col], strlen(t->header[col])),
                         base_escape(q, sizeof q, s, strlen(s)));
    }
    return 0;
}
