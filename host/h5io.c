#include "host/h5io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"

static const char *h5_file;  // the file being written (h5_writing), for h5_check's message

void h5_writing(const char *path) { h5_file = path; }

long h5_check(long rc, const char *what, const char *file, int line) {
    if (rc >= 0) return rc;
    int e = errno;  // what the system said to HDF5's last read or write, when it is a reason a file cannot be written
    int reason = e == ENOSPC || e == EFBIG || e == EDQUOT || e == EIO || e == EROFS;
    H5Eprint2(H5E_DEFAULT, stderr);
    base_die(file, line, what, "check free disk space and that the output folder is writable", "%s%sHDF5 call failed%s%s",
             h5_file ? h5_file : "", h5_file ? ": " : "", reason ? ": " : "", reason ? strerror(e) : "");
}

hid_t h5_string_type(void) {
    hid_t t = CHECK_H5(H5Tcopy(H5T_C_S1));
    CHECK_H5(H5Tset_size(t, H5T_VARIABLE));
    CHECK_H5(H5Tset_cset(t, H5T_CSET_UTF8));
    return t;
}

hid_t h5_group(hid_t f, const char *name) { return CHECK_H5(H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)); }

void h5_attr_string(hid_t obj, const char *name, const char *value) {
    hid_t t = h5_string_type(), sp = CHECK_H5(H5Screate(H5S_SCALAR));
    hid_t a = CHECK_H5(H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT));
    const char *v = value ? value : "";
    CHECK_H5(H5Awrite(a, t, &v));
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

void h5_attr_double(hid_t obj, const char *name, const double *v, size_t n) {
    hsize_t dims[1] = {n};
    hid_t sp = CHECK_H5(H5Screate_simple(1, dims, NULL));
    hid_t a = CHECK_H5(H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT));
    CHECK_H5(H5Awrite(a, H5T_NATIVE_DOUBLE, v));
    H5Aclose(a);
    H5Sclose(sp);
}

void h5_describe(hid_t d, const char *dims, const char *description) {
    h5_attr_string(d, "dims", dims);
    h5_attr_string(d, "description", description);
}

void h5_write_strings(hid_t g, const char *name, const char *const *s, size_t n, const char *description) {
    hid_t t = h5_string_type();
    hsize_t dims[1] = {n};
    hid_t sp = CHECK_H5(H5Screate_simple(1, dims, NULL));
    hid_t d = CHECK_H5(H5Dcreate2(g, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (n) CHECK_H5(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s));
    h5_describe(d, name, description);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
}

void h5_write_array(hid_t g, const char *name, hid_t file_type, hid_t mem_type, const void *data, int rank,
                    const hsize_t *dims, const char *dim_names, const char *description) {
    hid_t sp = CHECK_H5(H5Screate_simple(rank, dims, NULL));
    hid_t d = CHECK_H5(H5Dcreate2(g, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    CHECK_H5(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    h5_describe(d, dim_names, description);
    H5Dclose(d);
    H5Sclose(sp);
}

char **h5_read_strings(hid_t f, const char *name, size_t *n) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1] = {0};
    int rank = H5Sget_simple_extent_ndims(sp);
    char **s = NULL;
    if (rank == 1) {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        // a declared extent costs nothing in HDF5: a corrupt file can claim 2^60 strings. Each string
        // written holds at least its heap reference in the dataset's storage, so fewer stored bytes than
        // strings means a damaged dataset, refused before allocating for it.
        // Nor can the dataset hold more than its file: a damaged layout may claim storage the file lacks
        hsize_t file_bytes = 0;
        hid_t file = H5Iget_file_id(d);
        if (file < 0 || H5Fget_filesize(file, &file_bytes) < 0) file_bytes = 0;
        if (file >= 0) H5Fclose(file);
        if (dims[0] > H5Dget_storage_size(d) || dims[0] > file_bytes) {
            H5Sclose(sp);
            H5Dclose(d);
            return NULL;
        }
        *n = (size_t)dims[0];
        s = base_calloc(*n ? *n : 1, sizeof(char *), name);
        hid_t t = h5_string_type();
        if (*n && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) < 0) {
            h5_free_strings(s, *n);  // a read that fails part way (a damaged heap) keeps what it converted
            s = NULL;
        }
        // a nil string (no heap object) comes back as NULL: callers get every entry as a string, "" for nil
        for (size_t i = 0; s && i < *n; i++)
            if (!s[i] && !(s[i] = H5allocate_memory(1, 1))) {
                h5_free_strings(s, *n);
                s = NULL;
            }
        H5Tclose(t);
    }
    H5Sclose(sp);
    H5Dclose(d);
    return s;
}

void h5_free_strings(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) H5free_memory(s[i]);  // HDF5 allocated the strings
    free(s);
}

int h5_attr_one(hid_t a) {
    hid_t sp = H5Aget_space(a);
    int one = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1;
    if (sp >= 0) H5Sclose(sp);
    return one;
}

int h5_read_attr_string(hid_t obj, const char *name, char *out, size_t cap) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = h5_string_type();
    char *v = NULL;
    int rc = h5_attr_one(a) && H5Aread(a, t, &v) >= 0 ? 0 : -1;  // one string: read into one pointer
    if (rc == 0) snprintf(out, cap, "%s", v ? v : "");
    if (v) H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int h5_read_attr_double(hid_t obj, const char *name, double *v, size_t n) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(sp);
    int rc = count == (hssize_t)n && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0 ? 0 : -1;
    H5Sclose(sp);
    H5Aclose(a);
    return rc;
}

long h5_read_attr_long(hid_t obj, const char *name) {
    long v = -1;
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0 || !h5_attr_one(a) || H5Aread(a, H5T_NATIVE_LONG, &v) < 0) v = -1;
    if (a >= 0) H5Aclose(a);
    return v;
}

int h5_storage_ok(hid_t d) {
    hid_t plist = H5Dget_create_plist(d), sp = H5Dget_space(d), t = H5Dget_type(d);
    int ok = plist >= 0 && sp >= 0 && t >= 0;
    H5D_layout_t layout = ok ? H5Pget_layout(plist) : H5D_LAYOUT_ERROR;
    // contiguous and compact data are read straight from the stored bytes (libhdf5 1.10 copies compact data
    // through the contiguous path, from a buffer of the stored size): both must hold every element
    if (ok && (layout == H5D_CONTIGUOUS || layout == H5D_COMPACT)) {
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        size_t size = H5Tget_size(t), need;
        ok = n >= 0 && size > 0 && !__builtin_mul_overflow((size_t)n, size, &need) && H5Dget_storage_size(d) >= need;
    }
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (plist >= 0) H5Pclose(plist);
    return ok;
}

int h5_read_array(hid_t f, const char *name, hid_t mem_type, void *out, size_t n) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    int same = (size_t)H5Sget_simple_extent_npoints(sp) == n && h5_storage_ok(d);
    int rc = same && (n == 0 || H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0) ? 0 : -1;
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

void *h5_read_new(hid_t f, const char *name, hid_t mem_type, size_t n) {
    void *out = base_malloc(base_mul(n ? n : 1, H5Tget_size(mem_type)), name);
    if (h5_read_array(f, name, mem_type, out, n)) base_free(&out);
    return out;
}

int h5_dims(hid_t f, const char *name, hsize_t *dims, int *rank) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    *rank = H5Sget_simple_extent_ndims(sp);
    int rc = *rank >= 1 && *rank <= H5IO_MAX_RANK ? 0 : -1;
    if (rc == 0) H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}
