#include "host/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/base.h"
#include "host/featcache.h"

#define MAGIC "BSLAYER2"

typedef struct {
    char magic[8];
    uint64_t identity;
    uint64_t m, c, h, first, n, R, P;  // first, n: the group's subjects
    int64_t failed;
    double counters[FIT_N_COUNTERS];
    char error[STORE_ERROR];
    uint64_t checksum;  // of the header above this field and the values
} RecordHeader;

void store_init(Store *st, const char *output, uint64_t identity, size_t S, size_t R, size_t P, size_t group) {
    memset(st, 0, sizeof *st);
    if ((size_t)snprintf(st->dir, sizeof st->dir, "%s.units", output) >= sizeof st->dir)
        DIE("use a shorter output.path", "output path too long: %s", output);
    ASSERT(group >= 1 && (S == 0 || group <= S));
    st->identity = identity;
    st->S = S, st->R = R, st->P = P, st->group = group;
}

size_t store_groups(const Store *st) { return (st->S + st->group - 1) / st->group; }

void store_group_subjects(const Store *st, size_t g, size_t *first, size_t *n) {
    ASSERT(g < store_groups(st));
    *first = g * st->group;
    *n = st->S - *first < st->group ? st->S - *first : st->group;
}

size_t store_record_floats(const Store *st, size_t g) {
    size_t first, n;
    store_group_subjects(st, g, &first, &n);
    return base_mul(RECORD_SCORE_ROWS + st->P, base_mul(n, st->R));
}

void store_features_dir(const Store *st, char *out, size_t n) { snprintf(out, n, "%s/features", st->dir); }

static void layer_path(const Store *st, size_t m, size_t c, size_t h, size_t g, char *out, size_t n) {
    snprintf(out, n, "%s/layers/m%zu-c%zu-h%zu-s%zu.layer", st->dir, m, c, h, g * st->group);
}

static void make_dir(const char *path) {
    if (base_mkdirs(path) != 0)
        DIE("check that the output folder is writable (output.path)", "cannot create %s: %s", path, strerror(errno));
}

// everything in dir (one level), then dir itself
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[STORE_PATH + 300];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

// the layer records, the designs and the store's own features files
static void remove_units(const Store *st) {
    char sub[STORE_PATH + 32];
    snprintf(sub, sizeof sub, "%s/layers", st->dir);
    remove_dir(sub);
    snprintf(sub, sizeof sub, "%s/designs", st->dir);
    remove_dir(sub);
    store_features_dir(st, sub, sizeof sub);
    remove_dir(sub);
}

int store_prepare(const Store *st, const char *identity_text) {
    char path[STORE_PATH + 32], want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)st->identity);
    snprintf(path, sizeof path, "%s/identity", st->dir);
    int reset = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        char have[64] = "";
        if (!fgets(have, sizeof have, f)) have[0] = '\0';
        fclose(f);
        have[strcspn(have, "\n")] = '\0';
        if (strcmp(have, want) == 0) return 0;
        reset = 1;
        remove_units(st);
    }
    char sub[STORE_PATH + 32];
    snprintf(sub, sizeof sub, "%s/layers", st->dir);
    make_dir(sub);
    store_features_dir(st, sub, sizeof sub);
    make_dir(sub);
    char tmp[STORE_PATH + 48];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n%s", want, identity_text) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0 ||
        fclose(f) != 0 || rename(tmp, path) != 0)
        DIE("check free disk space and that the output folder is writable", "cannot write %s: %s", path,
            strerror(errno));
    return reset;
}

static uint64_t record_checksum(const RecordHeader *hd, const float *values, size_t n) {
    uint64_t h = featcache_hash(hd, offsetof(RecordHeader, checksum), 0);
    return values ? featcache_hash(values, n * sizeof(float), h) : h;
}

int store_load_layer(const Store *st, size_t m, size_t c, size_t h, size_t g, LayerRecord *rec) {
    char path[STORE_PATH + 64];
    layer_path(st, m, c, h, g, path, sizeof path);
    size_t first, ns;
    store_group_subjects(st, g, &first, &ns);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    RecordHeader hd;
    int got = 0;
    if (fread(&hd, sizeof hd, 1, f) == 1 && memcmp(hd.magic, MAGIC, 8) == 0 && hd.identity == st->identity &&
        hd.m == m && hd.c == c && hd.h == h && hd.first == first && hd.n == ns && hd.R == st->R && hd.P == st->P) {
        size_t n = hd.failed ? 0 : store_record_floats(st, g);
        int whole;
        if (rec->values || n == 0) {  // the values are read, so the checksum can be checked
            whole = (n == 0 || fread(rec->values, sizeof(float), n, f) == n) &&
                    record_checksum(&hd, n ? rec->values : NULL, n) == hd.checksum;
        } else {  // status only: the header and the file's length, without reading the values
            struct stat sb;
            whole = fstat(fileno(f), &sb) == 0 && (size_t)sb.st_size == sizeof hd + n * sizeof(float);
        }
        if (whole) {
            rec->failed = (int)hd.failed;
            memcpy(rec->counters, hd.counters, sizeof hd.counters);
            memcpy(rec->error, hd.error, sizeof hd.error);
            rec->error[STORE_ERROR - 1] = '\0';
            got = hd.failed ? 2 : 1;
        }
    }
    fclose(f);
    return got;
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

// path written whole or not at all: the n pieces into a temporary file (path.partial, or a unique name for files
// that several ranks may write at once), flushed to disk and renamed; 0, or the errno of the failure
static int write_whole(const char *path, int unique, const void *const *piece, const size_t *len, size_t n) {
    char tmp[STORE_PATH + 96];
    snprintf(tmp, sizeof tmp, unique ? "%s.partial.XXXXXX" : "%s.partial", path);
    int fd = unique ? mkstemp(tmp) : open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int ok = fd >= 0;
    for (size_t i = 0; ok && i < n; i++) ok = len[i] == 0 || write_all(fd, piece[i], len[i]) == 0;
    ok = ok && fsync(fd) == 0;
    int saved = ok ? 0 : errno;
    if (fd >= 0 && close(fd) != 0 && ok) ok = 0, saved = errno;
    if (ok && rename(tmp, path) != 0) ok = 0, saved = errno;
    if (!ok && fd >= 0) unlink(tmp);
    return ok ? 0 : saved ? saved : EIO;
}

void store_save_layer(const Store *st, size_t m, size_t c, size_t h, size_t g, const LayerRecord *rec) {
    RecordHeader hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, MAGIC, 8);
    hd.identity = st->identity;
    size_t first, ns;
    store_group_subjects(st, g, &first, &ns);
    hd.m = m, hd.c = c, hd.h = h, hd.first = first, hd.n = ns, hd.R = st->R, hd.P = st->P;
    hd.failed = rec->failed != 0;
    memcpy(hd.counters, rec->counters, sizeof hd.counters);
    snprintf(hd.error, sizeof hd.error, "%s", rec->failed ? rec->error : "");
    size_t n = rec->failed ? 0 : store_record_floats(st, g);
    ASSERT(n == 0 || rec->values);
    hd.checksum = record_checksum(&hd, n ? rec->values : NULL, n);

    char path[STORE_PATH + 64];
    layer_path(st, m, c, h, g, path, sizeof path);
    int saved = write_whole(path, 0, (const void *[]){&hd, rec->values}, (size_t[]){sizeof hd, n * sizeof(float)}, 2);
    if (saved) {
        DIE("free disk space (or give output.path a roomier folder) and rerun the same command: finished units are "
            "kept",
            "cannot write %s: %s", path, strerror(saved));
    }
}

#define DESIGN_MAGIC "BSDESIG1"

typedef struct {
    char magic[8];
    uint64_t identity;
    uint64_t m, c, h, F, V, P, components;
    uint64_t checksum;  // of the header above this field and the designs
} DesignHeader;

static void design_path(const Store *st, size_t m, size_t c, size_t h, char *out, size_t n) {
    snprintf(out, n, "%s/designs/m%zu-c%zu-h%zu.design", st->dir, m, c, h);
}

static uint64_t design_checksum(const DesignHeader *hd, float *const *X) {
    uint64_t k = featcache_hash(hd, offsetof(DesignHeader, checksum), 0);
    for (size_t f = 0; f < hd->F; f++) k = featcache_hash(X[f], hd->V * hd->P * sizeof(float), k);
    return k;
}

int store_load_design(const Store *st, size_t m, size_t c, size_t h, EncodingDesign *d) {
    memset(d, 0, sizeof *d);
    char path[STORE_PATH + 64];
    design_path(st, m, c, h, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    DesignHeader hd;
    struct stat sb;
    int got = fread(&hd, sizeof hd, 1, f) == 1 && memcmp(hd.magic, DESIGN_MAGIC, 8) == 0 &&
              hd.identity == st->identity && hd.m == m && hd.c == c && hd.h == h && hd.F >= 1 && hd.F <= 1024 &&
              fstat(fileno(f), &sb) == 0 && hd.V && hd.P && hd.V <= (size_t)sb.st_size / hd.P / hd.F &&
              (size_t)sb.st_size == sizeof hd + hd.F * hd.V * hd.P * sizeof(float);
    if (got) {
        *d = (EncodingDesign){.F = hd.F, .V = hd.V, .P = hd.P, .components = hd.components};
        d->X = base_calloc(hd.F, sizeof(float *), "designs");
        for (size_t i = 0; got && i < hd.F; i++) {
            d->X[i] = base_malloc(base_mul(hd.V, hd.P) * sizeof(float), "design");
            got = fread(d->X[i], sizeof(float), hd.V * hd.P, f) == hd.V * hd.P;
        }
        got = got && design_checksum(&hd, d->X) == hd.checksum;
        if (!got) encoding_design_free(d);
    }
    fclose(f);
    return got;
}

// path (in designs/, made if need be) written whole from n pieces, under a unique temporary name: two ranks may save
// one layer's design at once
static int save_design_file(const Store *st, const char *path, const void *const *piece, const size_t *len, size_t n,
                            char *err) {
    char dir[STORE_PATH + 64];
    snprintf(dir, sizeof dir, "%s/designs", st->dir);
    if (base_mkdirs(dir) != 0) return base_errf(err, "cannot create %s: %s", dir, strerror(errno));
    int saved = write_whole(path, 1, piece, len, n);
    return saved ? base_errf(err, "cannot write %s: %s", path, strerror(saved)) : 0;
}

int store_save_design(const Store *st, size_t m, size_t c, size_t h, const EncodingDesign *d, char *err) {
    DesignHeader hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, DESIGN_MAGIC, 8);
    hd.identity = st->identity;
    hd.m = m, hd.c = c, hd.h = h, hd.F = d->F, hd.V = d->V, hd.P = d->P, hd.components = d->components;
    hd.checksum = design_checksum(&hd, d->X);
    char path[STORE_PATH + 64];
    design_path(st, m, c, h, path, sizeof path);
    const void **piece = base_malloc((d->F + 1) * sizeof(void *), "design pieces");
    size_t *len = base_malloc((d->F + 1) * sizeof(size_t), "design pieces");
    piece[0] = &hd, len[0] = sizeof hd;
    for (size_t f = 0; f < d->F; f++) piece[1 + f] = d->X[f], len[1 + f] = d->V * d->P * sizeof(float);
    int rc = save_design_file(st, path, piece, len, d->F + 1, err);
    free(piece), free(len);
    return rc;
}

#define SPLITS_MAGIC "BSSPLIT1"

typedef struct {
    char magic[8];
    uint64_t identity;
    uint64_t m, c, h, bytes;
    uint64_t checksum;  // of the header above this field and the set's bytes
} SplitsHeader;

static void splits_path(const Store *st, size_t m, size_t c, size_t h, char *out, size_t n) {
    snprintf(out, n, "%s/designs/m%zu-c%zu-h%zu.splits", st->dir, m, c, h);
}

RidgeDesigns *store_load_splits(const Store *st, size_t m, size_t c, size_t h) {
    char path[STORE_PATH + 64];
    splits_path(st, m, c, h, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    SplitsHeader hd;
    struct stat sb;
    int got = fread(&hd, sizeof hd, 1, f) == 1 && memcmp(hd.magic, SPLITS_MAGIC, 8) == 0 &&
              hd.identity == st->identity && hd.m == m && hd.c == c && hd.h == h && fstat(fileno(f), &sb) == 0 &&
              (uint64_t)sb.st_size == sizeof hd + hd.bytes;
    void *bytes = got ? base_malloc(hd.bytes ? hd.bytes : 1, "split designs") : NULL;
    got = got && fread(bytes, 1, hd.bytes, f) == hd.bytes &&
          featcache_hash(bytes, hd.bytes, featcache_hash(&hd, offsetof(SplitsHeader, checksum), 0)) == hd.checksum;
    fclose(f);
    char why[BASE_ERR_LEN];
    RidgeDesigns *d = got ? ridge_designs_from_bytes(bytes, hd.bytes, why) : NULL;
    free(bytes);
    return d;
}

int store_save_splits(const Store *st, size_t m, size_t c, size_t h, const RidgeDesigns *d, char *err) {
    SplitsHeader hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, SPLITS_MAGIC, 8);
    hd.identity = st->identity;
    size_t n;
    const void *bytes = ridge_designs_bytes(d, &n);
    hd.m = m, hd.c = c, hd.h = h, hd.bytes = n;
    hd.checksum = featcache_hash(bytes, n, featcache_hash(&hd, offsetof(SplitsHeader, checksum), 0));
    char path[STORE_PATH + 64];
    splits_path(st, m, c, h, path, sizeof path);
    return save_design_file(st, path, (const void *[]){&hd, bytes}, (size_t[]){sizeof hd, n}, 2, err);
}

void store_remove_design(const Store *st, size_t m, size_t c, size_t h) {
    char path[STORE_PATH + 64];
    design_path(st, m, c, h, path, sizeof path);
    unlink(path);
    splits_path(st, m, c, h, path, sizeof path);
    unlink(path);
}

void store_remove(const Store *st) {
    remove_units(st);
    remove_dir(st->dir);
}
