#include "host/stimulus.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "host/base.h"

// ----------------------------------------------------------------------------
// Praat's text formats as a stream of values. The long format labels each value ("xmin = 0")
// and numbers items ("item [1]:"); the short format writes the bare values. Dropping labels and
// bracketed indices leaves the same sequence for both: numbers, "strings" and <flags>.

typedef enum { V_END, V_NUM, V_STR, V_FLAG } ValKind;

typedef struct {
    const char *s;
    size_t n, pos;
    int line;
    ValKind kind;
    double num;
    char *str;     // V_STR: unescaped, NUL-terminated (owned by the scanner, valid until next)
    size_t str_cap;
} Scanner;

static void scan_next(Scanner *sc) {
    const char *s = sc->s;
    for (;;) {
        while (sc->pos < sc->n && isspace((unsigned char)s[sc->pos])) {
            if (s[sc->pos] == '\n') sc->line++;
            sc->pos++;
        }
        if (sc->pos >= sc->n) {
            sc->kind = V_END;
            return;
        }
        char c = s[sc->pos];
        if (c == '!') {  // comment to end of line
            while (sc->pos < sc->n && s[sc->pos] != '\n') sc->pos++;
        } else if (c == '[') {  // item index in the long format
            while (sc->pos < sc->n && s[sc->pos] != ']' && s[sc->pos] != '\n') sc->pos++;
            if (sc->pos < sc->n && s[sc->pos] == ']') sc->pos++;
        } else if (c == '"') {
            size_t len = 0;
            sc->pos++;
            for (;;) {
                if (sc->pos >= sc->n) {
                    sc->kind = V_END;  // unterminated string: reported by the caller as malformed
                    return;
                }
                char d = s[sc->pos++];
                if (d == '"') {
                    if (sc->pos < sc->n && s[sc->pos] == '"') {  // "" is an escaped quote
                        sc->pos++;
                    } else {
                        break;
                    }
                }
                if (d == '\n') sc->line++;
                if (len + 2 > sc->str_cap) {
                    sc->str_cap = 2 * (len + 2) + 64;
                    sc->str = base_realloc(sc->str, sc->str_cap, "TextGrid string");
                }
                sc->str[len++] = d;
            }
            if (!sc->str) sc->str = base_malloc((sc->str_cap = 64), "TextGrid string");
            sc->str[len] = '\0';
            sc->kind = V_STR;
            return;
        } else if (c == '<') {
            while (sc->pos < sc->n && s[sc->pos] != '>') sc->pos++;
            sc->pos++;
            sc->kind = V_FLAG;
            return;
        } else if (isdigit((unsigned char)c) || c == '-' || c == '+' || c == '.') {
            char *endp;
            sc->num = strtod(s + sc->pos, &endp);
            if (endp == s + sc->pos) {
                sc->pos++;
                continue;
            }
            sc->pos = (size_t)(endp - s);
            sc->kind = V_NUM;
            return;
        } else {  // a label: an identifier, "=", ":" or "?"
            while (sc->pos < sc->n && !isspace((unsigned char)s[sc->pos]) && s[sc->pos] != '"' && s[sc->pos] != '[' &&
                   s[sc->pos] != '<')
                sc->pos++;
        }
    }
}

static int expect_num(Scanner *sc, double *out, const char *what, const char *path, char *err) {
    scan_next(sc);
    if (sc->kind != V_NUM)
        return base_errf(err, "%s: malformed TextGrid: expected %s (a number) near line %d", path, what, sc->line);
    *out = sc->num;
    return 0;
}

// a count of tiers or intervals: a whole number, and no more than the file's bytes (each entry takes
// several), so that a corrupt count is refused before it is converted or looped over
static int expect_count(Scanner *sc, size_t *out, const char *what, const char *path, char *err) {
    double v = 0;
    if (expect_num(sc, &v, what, path, err)) return -1;
    if (!(v >= 0 && v <= (double)sc->n && v == floor(v)))
        return base_errf(err, "%s: malformed TextGrid: %s near line %d is %g, not a count this %zu-byte file can hold",
                         path, what, sc->line, v, sc->n);
    *out = (size_t)v;
    return 0;
}

static int expect_str(Scanner *sc, const char *what, const char *path, char *err) {
    scan_next(sc);
    if (sc->kind != V_STR)
        return base_errf(err, "%s: malformed TextGrid: expected %s (a quoted string) near line %d", path, what,
                         sc->line);
    return 0;
}

// UTF-16 (Praat writes it for non-ASCII text) to UTF-8; NULL if not UTF-16
static char *utf16_to_utf8(const unsigned char *b, size_t n, size_t *out_len) {
    int le;
    if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE) le = 1;
    else if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF) le = 0;
    else return NULL;
    char *out = base_malloc(2 * n + 1, "TextGrid text");
    size_t o = 0;
    for (size_t i = 2; i + 1 < n; i += 2) {
        uint32_t u = le ? (uint32_t)(b[i] | b[i + 1] << 8) : (uint32_t)(b[i] << 8 | b[i + 1]);
        if (u >= 0xD800 && u < 0xDC00 && i + 3 < n) {
            uint32_t lo = le ? (uint32_t)(b[i + 2] | b[i + 3] << 8) : (uint32_t)(b[i + 2] << 8 | b[i + 3]);
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        }
        o += (size_t)utf8proc_encode_char((utf8proc_int32_t)u, (utf8proc_uint8_t *)out + o);
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

// ----------------------------------------------------------------------------
// words

int stim_is_clitic(const char *w) {
    // ASCII apostrophe or U+2019 at the start ("'s", "'ll", "'d"), or the negation "n't"
    if (w[0] == '\'' || strncmp(w, "\xe2\x80\x99", 3) == 0) return 1;
    return strcasecmp(w, "n't") == 0 || strcasecmp(w, "n\xe2\x80\x99t") == 0;
}

static char *trim_nfc(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    char *tmp = base_malloc(n + 1, "word");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)tmp);
    free(tmp);
    return nfc;  // NULL if not valid UTF-8
}

static int is_skipped(const char *w, const char *const *skip, size_t n_skip) {
    static const char *const defaults[] = {"sp", "sil", ""};
    if (!skip) {
        skip = defaults;
        n_skip = 3;
    }
    for (size_t i = 0; i < n_skip; i++)
        if (strcmp(w, skip[i]) == 0) return 1;
    return w[0] == '\0';
}

void stim_free(Stimulus *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_words; i++) free(s->label[i]);
    free(s->label);
    free(s->onset);
    free(s->offset);
    free(s->start);
    free(s->end);
    free(s->text);
    memset(s, 0, sizeof *s);
}

static void add_word(Stimulus *s, size_t *cap, char *label, double on, double off) {
    if (s->n_words == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        s->label = base_realloc(s->label, *cap * sizeof(char *), "words");
        s->onset = base_realloc(s->onset, *cap * sizeof(double), "words");
        s->offset = base_realloc(s->offset, *cap * sizeof(double), "words");
    }
    s->label[s->n_words] = label;
    s->onset[s->n_words] = on;
    s->offset[s->n_words] = off;
    s->n_words++;
}

static void join_text(Stimulus *s, int leading_space) {
    size_t total = 2;
    for (size_t i = 0; i < s->n_words; i++) total += strlen(s->label[i]) + 1;
    s->text = base_malloc(total, "stimulus text");
    s->start = base_malloc(s->n_words * sizeof(size_t) + 1, "word offsets");
    s->end = base_malloc(s->n_words * sizeof(size_t) + 1, "word offsets");
    size_t pos = 0;
    if (leading_space) s->text[pos++] = ' ';
    for (size_t i = 0; i < s->n_words; i++) {
        if (i > 0 && !stim_is_clitic(s->label[i])) s->text[pos++] = ' ';
        size_t n = strlen(s->label[i]);
        memcpy(s->text + pos, s->label[i], n);
        s->start[i] = pos;
        s->end[i] = pos + n;
        pos += n;
    }
    s->text[pos] = '\0';
    s->text_len = pos;
}

int stim_load_textgrid(const char *path, const char *tier, const char *const *skip, size_t n_skip, Stimulus *out,
                       char *err) {
    memset(out, 0, sizeof *out);
    size_t len;
    char *raw = base_read_file(path, &len, err);
    if (!raw) return -1;
    size_t u8len;
    char *u8 = utf16_to_utf8((const unsigned char *)raw, len, &u8len);
    if (u8) {
        free(raw);
        raw = u8;
        len = u8len;
    }
    Scanner sc = {raw, len, 0, 1, V_END, 0, NULL, 0};
    if (len >= 3 && memcmp(raw, "\xef\xbb\xbf", 3) == 0) sc.pos = 3;  // UTF-8 BOM

    int rc = -1;
    char tiers_seen[256] = "", q[BASE_QUOTE_LEN];
    double xmin = 0, xmax = 0;
    size_t count = 0;
    if (expect_str(&sc, "the file type", path, err)) goto done;
    if (strcmp(sc.str, "ooTextFile") != 0) {
        base_errf(err, "%s: not a Praat text file (file type '%s', expected 'ooTextFile')", path,
                  base_escape(q, sizeof q, sc.str, strlen(sc.str)));
        goto done;
    }
    if (expect_str(&sc, "the object class", path, err)) goto done;
    if (strncmp(sc.str, "TextGrid", 8) != 0) {
        base_errf(err, "%s: not a TextGrid (object class '%s')", path,
                  base_escape(q, sizeof q, sc.str, strlen(sc.str)));
        goto done;
    }
    if (expect_num(&sc, &xmin, "xmin", path, err) || expect_num(&sc, &xmax, "xmax", path, err)) goto done;
    scan_next(&sc);
    if (sc.kind != V_FLAG) {  // <exists> or <absent>
        base_errf(err, "%s: malformed TextGrid: expected <exists> near line %d", path, sc.line);
        goto done;
    }
    if (expect_count(&sc, &count, "the number of tiers", path, err)) goto done;
    int found = 0;
    size_t cap = 0;
    for (size_t t = 0; t < count && !found; t++) {
        if (expect_str(&sc, "a tier class", path, err)) goto done;
        int interval = strcmp(sc.str, "IntervalTier") == 0;
        if (!interval && strcmp(sc.str, "TextTier") != 0) {
            base_errf(err, "%s: malformed TextGrid: unknown tier class '%s' near line %d", path,
                      base_escape(q, sizeof q, sc.str, strlen(sc.str)), sc.line);
            goto done;
        }
        if (expect_str(&sc, "a tier name", path, err)) goto done;
        int wanted = strcmp(sc.str, tier) == 0;
        size_t used = strlen(tiers_seen);
        snprintf(tiers_seen + used, sizeof tiers_seen - used, "%s'%s'", used ? ", " : "",
                 base_escape(q, sizeof q, sc.str, strlen(sc.str)));
        double txmin = 0, txmax = 0;
        size_t n = 0;
        if (expect_num(&sc, &txmin, "tier xmin", path, err) || expect_num(&sc, &txmax, "tier xmax", path, err) ||
            expect_count(&sc, &n, "the number of intervals", path, err))
            goto done;
        if (wanted && !interval) {
            base_errf(err, "%s: tier '%s' is a point tier; words need an interval tier", path, tier);
            goto done;
        }
        double prev_start = 0;
        for (size_t i = 0; i < n; i++) {
            double a = 0, b = 0;
            if (expect_num(&sc, &a, interval ? "interval xmin" : "point time", path, err)) goto done;
            int line = sc.line;
            if (interval && expect_num(&sc, &b, "interval xmax", path, err)) goto done;
            if (expect_str(&sc, "an interval label", path, err)) goto done;
            if (!wanted) continue;
            // pauses too: a time out of order anywhere in the tier means a corrupt or edited file
            if (!isfinite(a) || !isfinite(b) || a < 0 || b < a || a < prev_start) {
                base_errf(err, "%s: interval at line %d %s (%.3f-%.3f s)", path, line,
                          !isfinite(a) || !isfinite(b) ? "has a time that is not finite"
                          : a < 0                      ? "starts before 0 s"
                                                       : "runs backwards or out of order",
                          a, b);
                goto done;
            }
            prev_start = a;
            char *w = trim_nfc(sc.str);
            if (!w) {
                base_errf(err, "%s: label near line %d is not valid UTF-8", path, sc.line);
                goto done;
            }
            if (is_skipped(w, skip, n_skip)) {
                free(w);
                continue;
            }
            add_word(out, &cap, w, a, b);
        }
        if (wanted) {
            found = 1;
            out->t_min = txmin;
            out->t_max = txmax;
        }
    }
    if (!found) {
        base_errf(err, "%s: no tier named '%s' (tiers: %s)", path, tier, tiers_seen[0] ? tiers_seen : "none");
        goto done;
    }
    if (out->n_words == 0) {
        base_errf(err, "%s: tier '%s' holds no words (only pauses)", path, tier);
        goto done;
    }
    join_text(out, 0);
    rc = 0;
done:
    free(sc.str);
    free(raw);
    if (rc != 0) stim_free(out);
    return rc;
}

// ----------------------------------------------------------------------------
// tables of words

// the index of the first of the names present in the header, or -1
static int find_column(char **cols, int n, const char *a, const char *b) {
    for (int i = 0; i < n; i++)
        if (strcmp(cols[i], a) == 0 || (b && strcmp(cols[i], b) == 0)) return i;
    return -1;
}

// split line in place at sep (no quoting: the files brainsweep reads have none)
static int split_fields(char *line, char sep, char **out, int max) {
    int n = 0;
    for (char *p = line;; p++) {
        if (n < max) out[n] = p;
        n++;
        char *q = strchr(p, sep);
        if (!q) break;
        *q = '\0';
        p = q;
    }
    size_t len = strlen(out[(n < max ? n : max) - 1]);
    char *last = out[(n < max ? n : max) - 1];
    while (len && (last[len - 1] == '\r' || last[len - 1] == '\n')) last[--len] = '\0';
    return n;
}

int stim_load_table(const char *path, const StimOptions *opt, Stimulus *out, char *err) {
    memset(out, 0, sizeof *out);
    size_t len;
    char *buf = base_read_file(path, &len, err);
    if (!buf) return -1;
    size_t plen = strlen(path);
    char sep = plen > 4 && strcasecmp(path + plen - 4, ".csv") == 0 ? ',' : '\t';
    int rc = -1;
    char *line = buf, *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    char *cols[64];
    int n_cols = split_fields(line, sep, cols, 64);
    if (n_cols > 64) n_cols = 64;
    const char *wname = opt && opt->word_column ? opt->word_column : "word";
    int wc = find_column(cols, n_cols, wname, NULL);
    int oc = opt && opt->onset_column ? find_column(cols, n_cols, opt->onset_column, NULL) : find_column(cols, n_cols, "onset", "start");
    int fc = opt && opt->offset_column ? find_column(cols, n_cols, opt->offset_column, NULL) : find_column(cols, n_cols, "offset", "end");
    if (wc < 0 || oc < 0 || fc < 0) {
        base_errf(err, "%s: the header needs a word column ('%s') and onset/offset columns (onset or start, offset or "
                       "end); it has %d columns",
                  path, wname, n_cols);
        goto done;
    }
    size_t cap = 0, line_no = 1;
    for (line = next; line && *line; line = next) {
        line_no++;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (line[0] == '\0' || line[0] == '\r') continue;
        char *f[64];
        int nf = split_fields(line, sep, f, 64);
        if (nf != n_cols) {
            base_errf(err, "%s: line %zu has %d fields, the header %d", path, line_no, nf, n_cols);
            goto done;
        }
        char *e1, *e2;
        double on = strtod(f[oc], &e1), off = strtod(f[fc], &e2);
        char *w = trim_nfc(f[wc]);
        if (!w) {
            base_errf(err, "%s: line %zu: the word is not valid UTF-8", path, line_no);
            goto done;
        }
        if (is_skipped(w, opt ? opt->skip : NULL, opt ? opt->n_skip : 0)) {
            free(w);
            continue;
        }
        if (e1 == f[oc] || e2 == f[fc] || !isfinite(on) || !isfinite(off) || on < 0 || !(off >= on)) {
            free(w);
            char q1[BASE_QUOTE_LEN], q2[BASE_QUOTE_LEN];
            base_errf(err, "%s: line %zu: onset '%s' and offset '%s' are not times in order from 0 s", path, line_no,
                      base_escape(q1, sizeof q1, f[oc], strlen(f[oc])),
                      base_escape(q2, sizeof q2, f[fc], strlen(f[fc])));
            goto done;
        }
        if (out->n_words > 0 && on < out->onset[out->n_words - 1]) {
            free(w);
            base_errf(err, "%s: line %zu: onset %g s is before the previous word's onset %g s (words must be in time "
                           "order)",
                      path, line_no, on, out->onset[out->n_words - 1]);
            goto done;
        }
        add_word(out, &cap, w, on, off);
    }
    if (out->n_words == 0) {
        base_errf(err, "%s: no words", path);
        goto done;
    }
    out->t_min = out->onset[0];
    out->t_max = out->offset[out->n_words - 1];
    for (size_t i = 1; i < out->n_words; i++)
        if (out->offset[i] > out->t_max) out->t_max = out->offset[i];
    join_text(out, opt && opt->leading_space);
    rc = 0;
done:
    free(buf);
    if (rc != 0) stim_free(out);
    return rc;
}

int stim_load(const char *path, const StimOptions *opt, Stimulus *out, char *err) {
    size_t n = strlen(path);
    if (n > 9 && strcasecmp(path + n - 9, ".textgrid") == 0) {
        int rc = stim_load_textgrid(path, opt && opt->tier ? opt->tier : "word", opt ? opt->skip : NULL,
                                    opt ? opt->n_skip : 0, out, err);
        if (rc == 0 && opt && opt->leading_space) {  // rebuild the text with its leading space
            free(out->text);
            free(out->start);
            free(out->end);
            join_text(out, 1);
        }
        return rc;
    }
    return stim_load_table(path, opt, out, err);
}
