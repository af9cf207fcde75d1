/*
 * h5io: the few HDF5 idioms every file brainsweep writes or reads is made of — checked calls,
 * UTF-8 variable-length strings, described datasets (attributes `dims` and `description`).
 *
 * Errors: writers are fatal through CHECK_H5 (the HDF5 error stack, file and line, a hint about
 * disk space); readers return -1 (or NULL) so callers can name the file and the missing object.
 * Strings from h5_read_strings are HDF5-allocated (a nil string comes back as ""): release them with
 * h5_free_strings.
 */
#ifndef HOST_H5IO_H
#define HOST_H5IO_H

#include <hdf5.h>
#include <stddef.h>

#define CHECK_H5(expr) h5_check((long)(expr), #expr, __FILE__, __LINE__)
long h5_check(long rc, const char *what, const char *file, int line);
// the file a failed CHECK_H5 names (with the system's reason: a full disk, a file-size limit) until the next call;
// NULL: none. The results writer sets it around each of its steps.
void h5_writing(const char *path);

hid_t h5_string_type(void);  // UTF-8, variable length
hid_t h5_group(hid_t f, const char *name);
void h5_attr_string(hid_t obj, const char *name, const char *value);
void h5_attr_double(hid_t obj, const char *name, const double *v, size_t n);
void h5_describe(hid_t d, const char *dims, const char *description);
void h5_write_strings(hid_t g, const char *name, const char *const *s, size_t n, const char *description);
void h5_write_array(hid_t g, const char *name, hid_t file_type, hid_t mem_type, const void *data, int rank,
                    const hsize_t *dims, const char *dim_names, const char *description);

char **h5_read_strings(hid_t f, const char *name, size_t *n);
void h5_free_strings(char **s, size_t n);
int h5_read_attr_string(hid_t obj, const char *name, char *out, size_t cap);
int h5_read_attr_double(hid_t obj, const char *name, double *v, size_t n);
// 1 when attribute a holds exactly one value: a damaged file can give any attribute a larger extent,
// which H5Aread would copy whole into a buffer sized for one
int h5_attr_one(hid_t a);
// a scalar attribute as a long; -1 when absent or unreadable
long h5_read_attr_long(hid_t obj, const char *name);
// dataset name as n values of mem_type into out; -1 when absent or holding another number of values
int h5_read_array(hid_t f, const char *name, hid_t mem_type, void *out, size_t n);
// the same into a new array (caller frees); NULL when absent or of another size
void *h5_read_new(hid_t f, const char *name, hid_t mem_type, size_t n);
// 0 when dataset d is stored contiguously or compactly in fewer bytes than its extent needs: a damaged file, which
// libhdf5 1.10 reads past its own buffers (chunked data may be compressed and is not checked)
int h5_storage_ok(hid_t d);
// a dataset's dimensions into dims (H5IO_MAX_RANK of them); -1 when absent or of a higher rank
#define H5IO_MAX_RANK 5
int h5_dims(hid_t f, const char *name, hsize_t *dims, int *rank);

#endif  // HOST_H5IO_H
