#include "host/recording.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"

void rec_subject_from_path(const char *path, char *out, size_t out_len) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, "-_.");
    if (n == 0) n = strlen(base);
    snprintf(out, out_len, "%.*s", (int)n, base);
}

void rec_free(Recording *r) {
    if (!r) return;
    free(r->data);
    free(r->path);
    memset(r, 0, sizeof *r);
}

int rec_load_text_matrix(const char *path, size_t n_cols, const char *const *col_names, Recording *out, char *err) {
    memset(out, 0, sizeof *out);
    size_t len;
    char *buf = base_read_file(path, &len, err);
    if (!buf) return -1;
    size_t cap = 512, rows = 0;
    double *data = base_malloc(cap * n_cols * sizeof(double), "recording");
    char *line = buf;
    size_t line_no = 0;
    int rc = -1;
    while (line && *line) {
        line_no++;
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '\0' || *p == '#') {  // blank lines and comments
            line = next;
            continue;
        }
        if (rows == cap) {
            cap *= 2;
            data = base_realloc(data, cap * n_cols * sizeof(double), "recording");
        }
        size_t c = 0;
        while (*p) {
            char *end;
            double v = strtod(p, &end);
            if (end == p) {
                char q[BASE_QUOTE_LEN];
                base_errf(err, "%s: line %zu: '%s' is not a number", path, line_no,
                          base_escape(q, sizeof q, p, strcspn(p, " \t\r")));
                goto done;
            }
            if (c < n_cols) {
                if (!isfinite(v)) {
                    base_errf(err, "%s: line %zu (sample %zu), column %zu%s%s%s: value is %s; recordings must be "
                                   "finite (interpolate or drop bad samples first)",
                              path, line_no, rows + 1, c + 1, col_names ? " (" : "", col_names ? col_names[c] : "",
                              col_names ? ")" : "", isnan(v) ? "NaN" : "infinite");
                    goto done;
                }
                data[rows * n_cols + c] = v;
            }
            c++;
            p = end;
            while (isspace((unsigned char)*p)) p++;
        }
        if (c != n_cols) {
            base_errf(err, "%s: line %zu has %zu columns, expected %zu (one per region)", path, line_no, c, n_cols);
            goto done;
        }
        rows++;
        line = next;
    }
    if (rows == 0) {
        base_errf(err, "%s: no samples (the file is empty)", path);
        goto done;
    }
    out->path = base_strdup(path);
    out->n_rows = rows;
    out->n_cols = n_cols;
    out->data = data;
    data = NULL;
    rec_subject_from_path(path, out->subject, sizeof out->subject);
    rc = 0;
done:
    free(data);
    free(buf);
    return rc;
}
