#include "host/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/base.h"
#include "host/dequant.h"  // defines: block sizes

#define GGUF_MAX_DIMS 4
// sanity bounds: far above any real model, low enough that a corrupt count cannot exhaust memory
#define GGUF_MAX_KV 1000000u
#define GGUF_MAX_TENSORS 10000000u

// ----------------------------------------------------------------------------
// bounds-checked cursor over the mapping

typedef struct {
    const uint8_t *base;
    size_t size;
    size_t pos;
    const char *path;
    char *err;
    int failed;
} Cursor;

static int need(Cursor *c, size_t n, const char *what) {
    if (c->failed) return -1;
    if (n > c->size - c->pos) {
        c->failed = 1;
        char q[BASE_QUOTE_LEN];  // `what` may be a key read from the file
        return base_errf(c->err, "%s: truncated or corrupt GGUF file: %s needs %zu bytes at offset %zu, file has %zu",
                         c->path, base_escape(q, sizeof q, what, strlen(what)), n, c->pos, c->size);
    }
    return 0;
}

static uint64_t rd_u64(Cursor *c, const char *what) {
    if (need(c, 8, what)) return 0;
    uint64_t v;
    memcpy(&v, c->base + c->pos, 8);
    c->pos += 8;
    return v;
}

static uint32_t rd_u32(Cursor *c, const char *what) {
    if (need(c, 4, what)) return 0;
    uint32_t v;
    memcpy(&v, c->base + c->pos, 4);
    c->pos += 4;
    return v;
}

// a GGUF string: u64 length then bytes; returns a NUL-terminated copy
static char *rd_str(Cursor *c, const char *what) {
    uint64_t n = rd_u64(c, what);
    if (c->failed) return NULL;
    if (need(c, (size_t)n, what)) return NULL;
    char *s = base_malloc((size_t)n + 1, "gguf string");
    memcpy(s, c->base + c->pos, (size_t)n);
    s[n] = '\0';
    c->pos += (size_t)n;
    return s;
}

static size_t scalar_size(GgufValueType t) {
    switch (t) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

// skip one value of type t, recording string offsets for string arrays
static void skip_value(Cursor *c, GgufKV *kv) {
    if (kv->type == GGUF_STRING) {
        uint64_t n = rd_u64(c, kv->key);
        if (!need(c, (size_t)n, kv->key)) c->pos += (size_t)n;
        return;
    }
    if (kv->type == GGUF_ARRAY) {
        kv->arr_type = (GgufValueType)rd_u32(c, kv->key);
        kv->arr_n = rd_u64(c, kv->key);
        if (c->failed) return;
        kv->value = c->base + c->pos;
        if (kv->arr_type == GGUF_STRING) {
            if (kv->arr_n > (c->size - c->pos) / 8) {  // each string takes at least its 8-byte length
                need(c, SIZE_MAX, kv->key);
                return;
            }
            kv->str_offsets = base_malloc(base_mul((size_t)kv->arr_n, sizeof(uint64_t)), kv->key);
            size_t start = c->pos;
            for (uint64_t i = 0; i < kv->arr_n && !c->failed; i++) {
                kv->str_offsets[i] = c->pos - start;
                uint64_t n = rd_u64(c, kv->key);
                if (!need(c, (size_t)n, kv->key)) c->pos += (size_t)n;
            }
            return;
        }
        size_t es = scalar_size(kv->arr_type);
        if (es == 0) {
            c->failed = 1;
            char q[BASE_QUOTE_LEN];
            base_errf(c->err, "%s: corrupt GGUF file: key '%s' has arrays of unknown type %d", c->path,
                      base_escape(q, sizeof q, kv->key, strlen(kv->key)), (int)kv->arr_type);
            return;
        }
        if (kv->arr_n > (c->size - c->pos) / es) {
            need(c, SIZE_MAX, kv->key);
            return;
        }
        c->pos += (size_t)kv->arr_n * es;
        return;
    }
    size_t es = scalar_size(kv->type);
    if (es == 0) {
        c->failed = 1;
        char q[BASE_QUOTE_LEN];
        base_errf(c->err, "%s: corrupt GGUF file: key '%s' has unknown type %d", c->path,
                  base_escape(q, sizeof q, kv->key, strlen(kv->key)), (int)kv->type);
        return;
    }
    if (!need(c, es, kv->key)) c->pos += es;
}

// ----------------------------------------------------------------------------
// ggml types

typedef struct {
    uint32_t type;
    const char *name;
    size_t block;        // elements per block
    size_t block_bytes;  // bytes per block
} TypeInfo;

static const TypeInfo type_table[] = {
    {GGML_F32, "F32", 1, 4},
    {GGML_F16, "F16", 1, 2},
    {GGML_BF16, "BF16", 1, 2},
    {GGML_Q8_0, "Q8_0", QK, Q8_0_BLOCK_BYTES},
    {GGML_Q4_0, "Q4_0", QK, Q4_0_BLOCK_BYTES},
    {GGML_Q4_1, "Q4_1", QK, Q4_1_BLOCK_BYTES},
};

static const TypeInfo *type_info(uint32_t type) {
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (type_table[i].type == type) return &type_table[i];
    return NULL;
}

const char *ggml_type_name(uint32_t type) {
    const TypeInfo *ti = type_info(type);
    if (ti) return ti->name;
    // names of common types brainsweep does not read, so the refusal says what the file holds
    switch (type) {
    case 6: return "Q5_0";
    case 7: return "Q5_1";
    case 9: return "Q8_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case 12: return "Q4_K";
    case 13: return "Q5_K";
    case 14: return "Q6_K";
    case 15: return "Q8_K";
    default: return "unknown";
    }
}

// ----------------------------------------------------------------------------
// lifecycle

GgufFile *gguf_open(const char *path, char *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        base_errf(err, "%s: cannot open model file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        base_errf(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    char magic[4] = {0};
    if (size < 4 || pread(fd, magic, 4, 0) != 4 || memcmp(magic, "GGUF", 4) != 0) {
        base_errf(err, "%s: not a GGUF file (magic bytes are not 'GGUF')", path);
        close(fd);
        return NULL;
    }
    if (size < 24) {
        base_errf(err, "%s: truncated GGUF file: %zu bytes, shorter than the 24-byte header", path, size);
        close(fd);
        return NULL;
    }
    uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        base_errf(err, "%s: cannot map model file: %s", path, strerror(errno));
        return NULL;
    }

    GgufFile *f = base_calloc(1, sizeof *f, "GgufFile");
    f->path = base_strdup(path);
    f->map = map;
    f->size = size;
    f->alignment = 32;
    Cursor c = {map, size, 0, path, err, 0};

    c.pos = 4;
    f->version = rd_u32(&c, "version");
    if (f->version != 2 && f->version != 3) {
        base_errf(err, "%s: GGUF version %u is not supported (2 or 3)", path, f->version);
        goto fail;
    }
    uint64_t n_tensors = rd_u64(&c, "tensor count");
    uint64_t n_kv = rd_u64(&c, "key count");
    if (n_kv > GGUF_MAX_KV || n_tensors > GGUF_MAX_TENSORS) {
        base_errf(err, "%s: corrupt GGUF header: %llu keys, %llu tensors", path, (unsigned long long)n_kv,
                  (unsigned long long)n_tensors);
        goto fail;
    }
    f->kv = base_calloc((size_t)n_kv, sizeof(GgufKV), "gguf keys");
    for (uint64_t i = 0; i < n_kv && !c.failed; i++) {
        GgufKV *kv = &f->kv[i];
        kv->key = rd_str(&c, "key name");
        if (c.failed) break;
        f->n_kv = i + 1;
        kv->type = (GgufValueType)rd_u32(&c, kv->key);
        kv->value = c.base + c.pos;
        skip_value(&c, kv);
    }
    if (c.failed) goto fail;

    uint32_t align;
    if (gguf_get_u32(f, "general.alignment", &align) == 0) {
        if (align == 0 || (align & (align - 1)) != 0) {
            base_errf(err, "%s: corrupt GGUF file: general.alignment %u is not a power of two", path, align);
            goto fail;
        }
        f->alignment = align;
    }

    f->tensors = base_calloc((size_t)n_tensors, sizeof(GgufTensor), "gguf tensors");
    char q[BASE_QUOTE_LEN];  // tensor names in messages
    for (uint64_t i = 0; i < n_tensors && !c.failed; i++) {
        GgufTensor *t = &f->tensors[i];
        t->name = rd_str(&c, "tensor name");
        if (c.failed) break;
        f->n_tensors = i + 1;
        t->n_dims = rd_u32(&c, t->name);
        if (!c.failed && (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)) {
            base_errf(err, "%s: corrupt GGUF file: tensor '%s' has %u dimensions", path,
                      base_escape(q, sizeof q, t->name, strlen(t->name)), t->n_dims);
            goto fail;
        }
        t->n_elements = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims && !c.failed; d++) {
            t->ne[d] = rd_u64(&c, t->name);
            if (t->ne[d] == 0 || t->ne[d] > (1ull << 40) || t->n_elements > (1ull << 42) / t->ne[d]) {
                base_errf(err, "%s: corrupt GGUF file: tensor '%s' has dimension %llu", path,
                          base_escape(q, sizeof q, t->name, strlen(t->name)),
                          (unsigned long long)t->ne[d]);
                goto fail;
            }
            t->n_elements *= t->ne[d];
        }
        t->type = rd_u32(&c, t->name);
        t->offset = rd_u64(&c, t->name);
        if (c.failed) break;
        const TypeInfo *ti = type_info(t->type);
        // an unsupported type is only fatal when the tensor is read; its size is then unknown
        t->nbytes = ti ? t->n_elements / ti->block * ti->block_bytes : 0;
        if (ti && t->n_elements % ti->block != 0) {
            base_errf(err, "%s: corrupt GGUF file: tensor '%s' has %llu elements, not a multiple of the %s block",
                      path, base_escape(q, sizeof q, t->name, strlen(t->name)), (unsigned long long)t->n_elements,
                      ti->name);
            goto fail;
        }
    }
    if (c.failed) goto fail;

    size_t data_start = (c.pos + f->alignment - 1) / f->alignment * f->alignment;
    for (size_t i = 0; i < f->n_tensors; i++) {
        GgufTensor *t = &f->tensors[i];
        uint64_t offset = t->offset;
        if (data_start > size || offset > size - data_start || t->nbytes > size - data_start - offset) {
            base_errf(err,
                      "%s: truncated GGUF file: tensor '%s' needs bytes up to %llu but the file has %zu "
                      "(incomplete download?)",
                      path, base_escape(q, sizeof q, t->name, strlen(t->name)),
                      (unsigned long long)(data_start + offset + t->nbytes), size);
            goto fail;
        }
        t->data = map + data_start + offset;
    }
    return f;

fail:
    gguf_close(f);
    return NULL;
}

void gguf_close(GgufFile *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_kv; i++) {
        free(f->kv[i].key);
        free(f->kv[i].str_offsets);
    }
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->kv);
    free(f->tensors);
    if (f->map) munmap(f->map, f->size);
    free(f->path);
    free(f);
}

// ----------------------------------------------------------------------------
// metadata

const GgufKV *gguf_find(const GgufFile *f, const char *key) {
    for (size_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, key) == 0) return &f->kv[i];
    return NULL;
}

static int scalar_as_double(GgufValueType type, const uint8_t *p, double *out) {
    switch (type) {
    case GGUF_UINT8: *out = *p; return 0;
    case GGUF_INT8: *out = *(const int8_t *)p; return 0;
    case GGUF_BOOL: *out = *p != 0; return 0;
    case GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case GGUF_INT16: { int16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case GGUF_INT32: { int32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case GGUF_FLOAT32: { float v; memcpy(&v, p, 4); *out = v; return 0; }
    case GGUF_UINT64: { uint64_t v; memcpy(&v, p, 8); *out = (double)v; return 0; }
    case GGUF_INT64: { int64_t v; memcpy(&v, p, 8); *out = (double)v; return 0; }
    case GGUF_FLOAT64: { double v; memcpy(&v, p, 8); *out = v; return 0; }
    default: return -1;
    }
}

int gguf_get_u32(const GgufFile *f, const char *key, uint32_t *out) {
    const GgufKV *kv = gguf_find(f, key);
    double v;
    if (!kv || kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) return -1;
    if (scalar_as_double(kv->type, kv->value, &v) != 0 || v < 0 || v > 4294967295.0) return -1;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_f32(const GgufFile *f, const char *key, float *out) {
    const GgufKV *kv = gguf_find(f, key);
    double v;
    if (!kv || (kv->type != GGUF_FLOAT32 && kv->type != GGUF_FLOAT64)) return -1;
    scalar_as_double(kv->type, kv->value, &v);
    *out = (float)v;
    return 0;
}

int gguf_get_bool(const GgufFile *f, const char *key, int *out) {
    const GgufKV *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_BOOL) return -1;
    *out = kv->value[0] != 0;
    return 0;
}

char *gguf_get_str(const GgufFile *f, const char *key) {
    const GgufKV *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_STRING) return NULL;
    uint64_t n;
    memcpy(&n, kv->value, 8);
    char *s = base_malloc((size_t)n + 1, key);
    memcpy(s, kv->value + 8, (size_t)n);
    s[n] = '\0';
    return s;
}

const char *gguf_arr_str(const GgufKV *kv, uint64_t i, size_t *len) {
    ASSERT(kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING && i < kv->arr_n);
    const uint8_t *p = kv->value + kv->str_offsets[i];
    uint64_t n;
    memcpy(&n, p, 8);
    *len = (size_t)n;
    return (const char *)p + 8;
}

double gguf_arr_num(const GgufKV *kv, uint64_t i) {
    ASSERT(kv->type == GGUF_ARRAY && i < kv->arr_n);
    size_t es = scalar_size(kv->arr_type);
    double v = 0;
    ASSERT(es > 0 && scalar_as_double(kv->arr_type, kv->value + (size_t)i * es, &v) == 0);
    return v;
}

// ----------------------------------------------------------------------------
// tensors

const GgufTensor *gguf_find_tensor(const GgufFile *f, const char *name) {
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

int gguf_tensor_ref(const GgufFile *f, const GgufTensor *t, TensorRef *out, char *err) {
    memset(out, 0, sizeof *out);
    switch (t->type) {
    case GGML_F32: out->dtype = DT_F32; break;
    case GGML_F16: out->dtype = DT_F16; break;
    case GGML_BF16: out->dtype = DT_BF16; break;
    case GGML_Q8_0: out->dtype = DT_Q8_0; break;
    case GGML_Q4_0: out->dtype = DT_Q4_0; break;
    case GGML_Q4_1: out->dtype = DT_Q4_1; break;
    default: {
        char q[BASE_QUOTE_LEN];
        return base_errf(err, "%s: tensor '%s' is stored as %s (type %u); brainsweep reads F32, F16, BF16, Q8_0, "
                              "Q4_0 and Q4_1",
                         f->path, base_escape(q, sizeof q, t->name, strlen(t->name)), ggml_type_name(t->type), t->type);
    }
    }
    out->name = t->name;
    out->n_dims = (int)t->n_dims;
    for (int d = 0; d < TENSOR_MAX_DIMS; d++) out->shape[d] = d < out->n_dims ? (int64_t)t->ne[t->n_dims - 1 - d] : 1;
    out->data = t->data;
    return 0;
}
