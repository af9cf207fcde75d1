#include "host/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/base.h"

typedef struct {
    char *path;
    uint8_t *map;
    size_t size;
} Mapping;

typedef struct {
    TensorRef ref;
    char *name;
    char dtype_str[16];
    size_t file;  // index into mappings
    size_t begin, end;  // data_offsets: the tensor's bytes after the header
} Entry;

struct StCheckpoint {
    Mapping *maps;
    size_t n_maps;
    Entry *entries;
    size_t n, cap;
};

static const struct {
    const char *name;
    DType dtype;
    size_t bytes;
} DTYPES[] = {{"F32", DT_F32, 4}, {"F16", DT_F16, 2}, {"BF16", DT_BF16, 2}, {"F64", DT_UNSUPPORTED, 8},
              {"I64", DT_UNSUPPORTED, 8}, {"I32", DT_UNSUPPORTED, 4}, {"U32", DT_UNSUPPORTED, 4},
              {"I16", DT_UNSUPPORTED, 2}, {"U16", DT_UNSUPPORTED, 2}, {"I8", DT_UNSUPPORTED, 1},
              {"U8", DT_UNSUPPORTED, 1}, {"BOOL", DT_UNSUPPORTED, 1}, {"F8_E4M3", DT_UNSUPPORTED, 1},
              {"F8_E5M2", DT_UNSUPPORTED, 1}, {"U64", DT_UNSUPPORTED, 8}};

void st_close(StCheckpoint *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n_maps; i++) {
        if (c->maps[i].map) munmap(c->maps[i].map, c->maps[i].size);
        free(c->maps[i].path);
    }
    for (size_t i = 0; i < c->n; i++) free(c->entries[i].name);
    free(c->maps);
    free(c->entries);
    free(c);
}

size_t st_count(const StCheckpoint *c) { return c->n; }
const TensorRef *st_tensor(const StCheckpoint *c, size_t i) { return &c->entries[i].ref; }
const char *st_file_of(const StCheckpoint *c, size_t i) { return c->maps[c->entries[i].file].path; }
const char *st_dtype_string(const StCheckpoint *c, size_t i) { return c->entries[i].dtype_str; }

const TensorRef *st_find(const StCheckpoint *c, const char *name) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].name, name) == 0) return &c->entries[i].ref;
    return NULL;
}

// map one file and add its tensors
static int by_begin(const void *a, const void *b) {
    const Entry *x = *(const Entry *const *)a, *y = *(const Entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

// Two tensors sharing bytes are a corrupt or crafted header (safetensors forbids it): one tensor's weights
// would silently alias another's. Empty tensors occupy nothing and may sit anywhere.
static int check_overlaps(StCheckpoint *c, size_t first, const char *path, char *err) {
    size_t n = c->n - first;
    if (n < 2) return 0;
    const Entry **order = base_malloc(n * sizeof *order, "safetensors order");
    for (size_t i = 0; i < n; i++) order[i] = &c->entries[first + i];
    qsort(order, n, sizeof *order, by_begin);
    int rc = 0;
    const Entry *prev = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        if (order[i]->begin == order[i]->end) continue;
        if (prev && order[i]->begin < prev->end) {
            char qa[BASE_QUOTE_LEN], qb[BASE_QUOTE_LEN];
            rc = base_errf(err, "%s: tensors '%s' [%zu, %zu) and '%s' [%zu, %zu) overlap in the data", path,
                           base_escape(qa, sizeof qa, prev->name, strlen(prev->name)), prev->begin, prev->end,
                           base_escape(qb, sizeof qb, order[i]->name, strlen(order[i]->name)), order[i]->begin,
                           order[i]->end);
        }
        prev = order[i];
    }
    free(order);
    return rc;
}

static int add_file(StCheckpoint *c, const char *path, char *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return base_errf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return base_errf(err, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size < 8) {
        close(fd);
        return base_errf(err, "%s: truncated safetensors file (%zu bytes, no header length)", path, size);
    }
    uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return base_errf(err, "%s: cannot map: %s", path, strerror(errno));
    c->maps = base_realloc(c->maps, (c->n_maps + 1) * sizeof(Mapping), "safetensors files");
    size_t file = c->n_maps++;
    c->maps[file] = (Mapping){base_strdup(path), map, size};

    size_t first = c->n;  // this file's entries are [first, c->n)
    uint64_t hlen;
    memcpy(&hlen, map, 8);
    if (hlen > size - 8)
        return base_errf(err, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                         (unsigned long long)hlen, size);
    json_error_t jerr;
    json_t *h = json_loadb((const char *)map + 8, (size_t)hlen, 0, &jerr);
    if (!h || !json_is_object(h)) {
        json_decref(h);
        return base_errf(err, "%s: header is not a JSON object (%s at byte %d)", path, jerr.text, jerr.position);
    }
    size_t data_start = 8 + (size_t)hlen, data_size = size - data_start;
    const char *name;
    json_t *v;
    int rc = 0;
    json_object_foreach(h, name, v) {
        if (strcmp(name, "__metadata__") == 0) continue;
        char q[BASE_QUOTE_LEN], qd[BASE_QUOTE_LEN];  // names and dtypes as the file has them, safe to print
        const char *qname = base_escape(q, sizeof q, name, strlen(name));
        json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"), *jo = json_object_get(v, "data_offsets");
        if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2) {
            rc = base_errf(err, "%s: tensor '%s': header entry lacks dtype, shape or data_offsets", path, qname);
            break;
        }
        size_t di = sizeof DTYPES / sizeof DTYPES[0], k;
        for (k = 0; k < di; k++)
            if (strcmp(DTYPES[k].name, json_string_value(jd)) == 0) break;
        if (k == di) {
            rc = base_errf(err, "%s: tensor '%s' has unknown dtype '%s'", path, qname,
                           base_escape(qd, sizeof qd, json_string_value(jd), json_string_length(jd)));
            break;
        }
        if (json_array_size(js) > TENSOR_MAX_DIMS) {
            rc = base_errf(err, "%s: tensor '%s' has %zu dimensions (at most %d)", path, qname, json_array_size(js),
                           TENSOR_MAX_DIMS);
            break;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 256;
            c->entries = base_realloc(c->entries, c->cap * sizeof(Entry), "safetensors entries");
        }
        Entry *e = &c->entries[c->n];
        memset(e, 0, sizeof *e);
        e->name = base_strdup(name);
        e->file = file;
        snprintf(e->dtype_str, sizeof e->dtype_str, "%s", DTYPES[k].name);
        e->ref.name = e->name;
        e->ref.dtype = DTYPES[k].dtype;
        e->ref.n_dims = (int)json_array_size(js);
        uint64_t numel = 1;
        for (int d = 0; d < TENSOR_MAX_DIMS; d++) e->ref.shape[d] = 1;
        for (int d = 0; d < e->ref.n_dims; d++) {
            json_int_t dim = json_integer_value(json_array_get(js, (size_t)d));
            if (!json_is_integer(json_array_get(js, (size_t)d)) || dim < 0 || dim > ((json_int_t)1 << 40)) {
                rc = base_errf(err, "%s: tensor '%s' has a bad shape", path, qname);
                break;
            }
            e->ref.shape[d] = dim;
            if (__builtin_mul_overflow(numel, (uint64_t)dim, &numel)) {
                rc = base_errf(err, "%s: tensor '%s' has a shape whose element count overflows 64 bits", path, qname);
                break;
            }
        }
        if (rc) {
            free(e->name);
            break;
        }
        json_int_t b = json_integer_value(json_array_get(jo, 0)), en = json_integer_value(json_array_get(jo, 1));
        if (b < 0 || en < b || (uint64_t)en > data_size) {
            rc = base_errf(err, "%s: tensor '%s': data_offsets [%lld, %lld] run past the data (%zu bytes; truncated?)",
                           path, qname, (long long)b, (long long)en, data_size);
            free(e->name);
            break;
        }
        uint64_t bytes;
        if (__builtin_mul_overflow(numel, (uint64_t)DTYPES[k].bytes, &bytes) || (uint64_t)(en - b) != bytes) {
            rc = base_errf(err, "%s: tensor '%s': %lld bytes for %llu %s elements", path, qname, (long long)(en - b),
                           (unsigned long long)numel, DTYPES[k].name);
            free(e->name);
            break;
        }
        e->ref.data = map + data_start + b;
        e->begin = (size_t)b, e->end = (size_t)en;
        c->n++;
    }
    json_decref(h);
    return rc ? rc : check_overlaps(c, first, path, err);
}

StCheckpoint *st_open_file(const char *path, char *err) {
    StCheckpoint *c = base_calloc(1, sizeof *c, "StCheckpoint");
    if (add_file(c, path, err)) {
        st_close(c);
        return NULL;
    }
    return c;
}

StCheckpoint *st_open_dir(const char *dir, char *err) {
    char index[4096], path[4096];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    if (!base_file_exists(index)) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (!base_file_exists(path)) {
            base_errf(err, "%s: no model.safetensors or model.safetensors.index.json (a PyTorch .bin checkpoint? see "
                           "docs/models.md for the one-line conversion)",
                      dir);
            return NULL;
        }
        return st_open_file(path, err);
    }
    json_error_t jerr;
    json_t *idx = json_load_file(index, 0, &jerr);
    json_t *map = idx ? json_object_get(idx, "weight_map") : NULL;
    if (!json_is_object(map)) {
        base_errf(err, "%s: %s", index, idx ? "no weight_map object" : jerr.text);
        json_decref(idx);
        return NULL;
    }
    StCheckpoint *c = base_calloc(1, sizeof *c, "StCheckpoint");
    // each shard once, in order of first appearance
    const char *tensor;
    json_t *shard;
    json_object_foreach(map, tensor, shard) {
        if (!json_is_string(shard)) {
            char q[BASE_QUOTE_LEN];
            base_errf(err, "%s: weight_map entry '%s' is not a file name", index,
                      base_escape(q, sizeof q, tensor, strlen(tensor)));
            goto fail;
        }
        snprintf(path, sizeof path, "%s/%s", dir, json_string_value(shard));
        int seen = 0;
        for (size_t i = 0; i < c->n_maps && !seen; i++) seen = strcmp(c->maps[i].path, path) == 0;
        if (seen) continue;
        if (!base_file_exists(path)) {
            char q[BASE_QUOTE_LEN];
            base_errf(err, "%s: shard '%s' listed in the index is missing", index,
                      base_escape(q, sizeof q, json_string_value(shard), json_string_length(shard)));
            goto fail;
        }
        if (add_file(c, path, err)) goto fail;
    }
    json_object_foreach(map, tensor, shard) {
        size_t i;
        for (i = 0; i < c->n; i++)
            if (strcmp(c->entries[i].name, tensor) == 0) break;
        if (i == c->n) {
            char q[BASE_QUOTE_LEN], qs[BASE_QUOTE_LEN];
            base_errf(err, "%s: tensor '%s' is listed for shard '%s' but is not in it", index,
                      base_escape(q, sizeof q, tensor, strlen(tensor)),
                      base_escape(qs, sizeof qs, json_string_value(shard), json_string_length(shard)));
            goto fail;
        }
    }
    json_decref(idx);
    return c;
fail:
    json_decref(idx);
    st_close(c);
    return NULL;
}
