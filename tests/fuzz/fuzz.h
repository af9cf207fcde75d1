/*
 * fuzz.h: what every libFuzzer harness in tests/fuzz/ shares.
 *
 * The readers under test take paths, not buffers, so an input reaches them through files in one temporary
 * folder per process (made once, removed at exit). Inputs that feed several files at once (a tokenizer's
 * vocab.json and merges.txt, a BIDS run's sidecars) are split at NUL bytes, which none of those text
 * formats may hold. A DIE inside a reader is a bug (bad input must come back as an error), so the abort hook
 * calls abort() and libFuzzer records the input as a crash with its stack; a reader that fails must
 * also have written its error sentence.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/base.h"
#include "host/log.h"

static char fuzz_root[256];

static void fuzz_cleanup(void) {
    if (!fuzz_root[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_root);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_root);
}

static void fuzz_abort_hook(int code) { abort(); }

// once per process: quiet logs, DIE -> abort, the temporary folder
static void fuzz_setup(void) {
    if (fuzz_root[0]) return;
    log_set_verbosity(0);
    base_set_abort_hook(fuzz_abort_hook);
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_root, sizeof fuzz_root, "%s/bsfuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(fuzz_root)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_cleanup);
}

// fuzz_root/name holding data[0, n); returns the path (static storage, one per name slot)
__attribute__((unused)) static const char *fuzz_file(const char *name, const uint8_t *data, size_t n) {
    fuzz_setup();
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", fuzz_root, name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

// the k-th NUL-separated part of the input (an absent part is empty)
__attribute__((unused)) static void fuzz_part(const uint8_t *data, size_t size, int k, const uint8_t **part, size_t *n) {
    size_t start = 0;
    for (int i = 0; i < k; i++) {
        const uint8_t *z = memchr(data + start, 0, size - start);
        if (!z) {
            *part = data + size;
            *n = 0;
            return;
        }
        start = (size_t)(z - data) + 1;
    }
    const uint8_t *z = memchr(data + start, 0, size - start);
    *part = data + start;
    *n = z ? (size_t)(z - (data + start)) : size - start;
}

// a failed read must say why; a reader that fails without a message is a finding too
__attribute__((unused)) static void fuzz_check_err(int failed, const char *err) {
    if (!failed) return;
    if (!err[0]) {
        fprintf(stderr, "fuzz: reader failed with a bad message: \"%s\"\n", err);
        abort();
    }
}

#ifdef H5_VERS_MAJOR
// after each input of an HDF5 harness: every file, dataset, attribute... the reader opened is closed again.
// An id left open keeps its file and that file's metadata cache alive for the life of the process, so a
// reader that forgets one on an error path grows without bound over many inputs: a leak, and a finding.
__attribute__((unused)) static void fuzz_h5_check_closed(void) {
    ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open_ids != 0) {
        fprintf(stderr, "fuzz: %zd HDF5 id(s) left open after the input\n", open_ids);
        abort();
    }
}
#endif

#endif  // TESTS_FUZZ_FUZZ_H
