/*
 * tsv: tab-separated tables with a header row, as BIDS writes them (channels, electrodes, events,
 * participants).
 *
 * A UTF-8 byte-order mark and CR line ends are dropped, blank lines skipped; every row must have the
 * header's field count. Cells are kept as text: BIDS writes "n/a" for a missing value, which
 * tsv_num reports as NaN, and a cell that is neither a number nor "n/a" is an error naming the
 * file, row and column.
 *
 * Ownership: Tsv owns one buffer holding every cell; tsv_free releases it. Errors: -1 with err.
 */
#ifndef HOST_TSV_H
#define HOST_TSV_H

#include <stddef.h>

typedef struct {
    char *path;
    size_t n_rows, n_cols;
    char **header;  // (n_cols)
    char **cell;    // (n_rows, n_cols) row-major
    char *buf;
} Tsv;

int tsv_load(const char *path, Tsv *out, char *err);
void tsv_free(Tsv *t);

// index of the first header name equal to one of names (NULL-terminated list), or -1
int tsv_column(const Tsv *t, const char *const *names);
const char *tsv_get(const Tsv *t, size_t row, int col);
// the cell as a number: 0 and *out set (NaN for "n/a" or an empty cell), -1 with err otherwise
int tsv_num(const Tsv *t, size_t row, int col, double *out, char *err);

#endif  // HOST_TSV_H
