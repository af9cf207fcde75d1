/*
 * recording: brain recordings as matrices of samples x channels (fMRI volumes x regions here).
 *
 * This release reads plain-text matrices: one row per sample, whitespace-separated numbers, one
 * column per region (the format of the Brennan et al. 2016 ROI time courses). Every value must be
 * finite; the reader names the file, row and column of the first that is not, or of a row with the
 * wrong number of columns. The caller checks the row count against the stimulus timing.
 *
 * Ownership: Recording owns data and path; rec_free releases them. Errors: -1 with err.
 */
#ifndef HOST_RECORDING_H
#define HOST_RECORDING_H

#include <stddef.h>

typedef struct {
    char subject[64];   // subject id (the file name up to its first '-', '_' or '.')
    char *path;
    size_t n_rows;      // samples (volumes)
    size_t n_cols;      // channels (regions)
    double *data;       // (n_rows, n_cols) row-major
} Recording;

// col_names (n_cols) are only used in error messages; may be NULL
int rec_load_text_matrix(const char *path, size_t n_cols, const char *const *col_names, Recording *out, char *err);
void rec_free(Recording *r);

// subject id from a path: basename up to the first '-', '_' or '.'
void rec_subject_from_path(const char *path, char *out, size_t out_len);

#endif  // HOST_RECORDING_H
