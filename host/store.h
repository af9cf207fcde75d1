/*
 * store: a sweep's finished work on disk, so that rerunning the same command after any failure (a
 * rank killed, a node lost, a time limit, a full disk) redoes only what is missing.
 *
 * The store is the folder <output.path>.units/:
 *   identity       the sweep's identity (a hash of everything that shapes its results: the resolved
 *                  config without run-only keys, the models' identities, the recordings and the
 *                  stimulus) on its first line, then the text it hashes, for people;
 *   features/      one features file per (model, context) (host/featcache.h), unless
 *                  features.cache_dir names a folder of its own;
 *   layers/m<M>-c<C>-h<H>-s<S>.layer
 *                  one fitted (model, context, layer, subject group): a header (identity, indices, the group's
 *                  subjects, shape, status, the fit's counters, an error message) and, when it succeeded,
 *                  (6 + P) x T floats, T the group's columns (its subjects x R), in the order r, r2, alpha, p, q,
 *                  intercept, beta (P, T) (host/record.h names them); a checksum closes it. S is the group's first
 *                  subject; a record of another grouping (run.group_gib is a run-only key) reads as absent;
 *   designs/m<M>-c<C>-h<H>.design
 *                  a layer's designs (host/encoding.h: the PCA of each outer fold, delays, scaling; F x V x P
 *                  floats), while more than one subject group fits the layer: the first rank to need one saves
 *                  it, the others read it instead of redoing the layer's PCA. Ranks that start a layer at the
 *                  same moment both compute it (the last rename wins; both are the same design). Removed with
 *                  store_remove_design once every group has fitted the layer;
 *   designs/m<M>-c<C>-h<H>.splits
 *                  beside it, once the first group has fitted the layer: the ridge's split designs (each split's
 *                  eigendecomposition and held-out basis, host/ridge.h's RidgeDesigns), which the later groups
 *                  take instead of decomposing again; removed with the design;
 *   progress.tsv   rank 0's log of finished units (time, stage, unit, outcome, done, total).
 * Every file is written under a temporary name, flushed to disk and renamed, so a file under its
 * final name is whole whatever killed the run; a record whose identity, shape or checksum does not
 * match counts as absent. Opening a store made by another sweep (another identity) empties it.
 * The sweep removes the store once results.h5 is complete and no unit failed.
 *
 * Ownership: the caller's buffers. Errors: a failed write is fatal (DIE with the file and the
 * system's reason, e.g. "No space left on device"); what was renamed before it stays usable.
 * Not collective: rank 0 prepares and removes the store, any rank reads and writes records.
 */
#ifndef HOST_STORE_H
#define HOST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "host/encoding.h"  // defines: EncodingDesign
#include "host/record.h"

#define STORE_PATH 1100
#define STORE_ERROR 480

typedef struct {
    char dir[STORE_PATH];
    uint64_t identity;
    size_t S, R, P;  // subjects, columns per subject, and weight rows (0: no weights) of every layer record
    size_t group;    // subjects per group: group g holds subjects g*group.. (the last group may hold fewer)
} Store;

typedef struct {
    int failed;                       // 1: error says why, values unused
    char error[STORE_ERROR];
    double counters[FIT_N_COUNTERS];    // FitCounter order
    float *values;                    // (6 + P, T) as above; NULL when only the status is wanted
} LayerRecord;

// Plain initialisation, on every rank: the store of output with this identity and record shape (group: subjects per
// group, 1..S).
void store_init(Store *st, const char *output, uint64_t identity, size_t S, size_t R, size_t P, size_t group);
size_t store_groups(const Store *st);
// the subjects [*first, *first + *n) of group g
void store_group_subjects(const Store *st, size_t g, size_t *first, size_t *n);

// Rank 0: creates the folders; empties a store left by another sweep (returns 1 then, else 0).
int store_prepare(const Store *st, const char *identity_text);

size_t store_record_floats(const Store *st, size_t g);  // (RECORD_SCORE_ROWS + P) * T of group g
void store_features_dir(const Store *st, char *out, size_t n);

// 1: a finished layer, 2: a failed layer (rec->error says why), 0: absent or not this sweep's.
// With rec->values the values are read and checked against the checksum; without, only the header
// and the file's length are (a status scan reads no values).
int store_load_layer(const Store *st, size_t m, size_t c, size_t h, size_t g, LayerRecord *rec);
void store_save_layer(const Store *st, size_t m, size_t c, size_t h, size_t g, const LayerRecord *rec);

// 1: d holds the layer's saved designs (caller frees: encoding_design_free); 0: absent, or not whole, or not this
// sweep's. Saving is best effort (a design is only ever a shortcut): -1 with err when it could not be written.
int store_load_design(const Store *st, size_t m, size_t c, size_t h, EncodingDesign *d);
int store_save_design(const Store *st, size_t m, size_t c, size_t h, const EncodingDesign *d, char *err);
// the layer's split designs (the ridge's eigendecompositions, ridge.h), saved by the first group to fit the layer:
// NULL when absent, not whole or not this sweep's (caller frees: ridge_designs_free). Saving is best effort too.
RidgeDesigns *store_load_splits(const Store *st, size_t m, size_t c, size_t h);
int store_save_splits(const Store *st, size_t m, size_t c, size_t h, const RidgeDesigns *d, char *err);
// removes the layer's saved design and split designs, if any
void store_remove_design(const Store *st, size_t m, size_t c, size_t h);

// Rank 0: removes the store and everything in it that the store made.
void store_remove(const Store *st);

#endif  // HOST_STORE_H
