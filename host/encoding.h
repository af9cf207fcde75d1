/*
 * encoding: one encoding-model fit — a layer's word features to every target of a recording set.
 *
 * Steps, each from its own module:
 *  1. words to samples (features.h): summed into fMRI volumes, Lanczos-resampled, or as impulses
 *     at word onsets for continuous signals; or, with no sampling grid, the words are the samples
 *     (word-level targets such as high-gamma around each word); then z-scored per column;
 *  2. PCA per layer (pca.h), fitted on each outer fold's training samples (that fold's features
 *     are its own matrix) or on all samples;
 *  3. delays (FIR lags) of the layer's columns and of any extra bands (e.g. word rate), high-pass
 *     (sampled designs) and z-scoring: the design X;
 *  4. cross-validated ridge (ridge.h), banded when extra bands are present (the layer is band 1
 *     with scaling 1, each extra band searched over the candidate scalings);
 *  5. with permutations > 0: held-out predictions, a circular-shift null per target (signif.h),
 *     p-values and Benjamini-Hochberg q-values across the targets.
 *
 * Shapes: W words, C layer width, V samples, T targets, D delays, E extra columns, P design width.
 * Ownership: the spec's arrays are the caller's and read-only, so fits of many layers may run
 * concurrently on one spec. The PCA, the ridge and the null run on the spec's linear-algebra table
 * (linalg.h; NULL: the CPU's), each with its own workspace from it. Errors: -1 with err. Stops: 1 when base_stop_signal is set (base.h) before
 * the ridge, between its target batches or before the null; the outputs are then incomplete.
 */
#ifndef HOST_ENCODING_H
#define HOST_ENCODING_H

#include <stddef.h>

#include "host/cv.h"
#include "host/features.h"
#include "host/pca.h"
#include "host/ridge.h"

typedef struct {
    // words to samples; grid NULL: the samples are the words
    const VolumeGrid *grid;
    ResampleKind resample;
    int lanczos_a;
    const double *word_time;  // (W) midpoints (sum, lanczos) or onsets (onset)
    size_t W;
    const int *delays;  // (D)
    size_t D;
    double highpass_seconds;  // sampled designs: the recordings' high-pass (0: remove the mean)
    // PCA
    size_t pca_components;  // 0 = none
    int pca_fit_all;
    PcaMethod pca_method;
    // extra bands: (V, E) sample-level columns, one band each, delayed like the layer
    const double *extra;
    size_t n_extra;
    // ridge and significance
    const CvPlan *cv;
    const RidgeTargets *targets;
    const double *alphas;
    size_t n_alphas;
    RidgeSelect select;
    size_t band_scalings;  // candidates per extra band
    size_t memory_bytes;
    size_t permutations;
    size_t null_min_shift;  // 0 = V / 10
    const LinalgOps *linalg;  // the backend of the PCA, the ridge and the null (linalg.h); NULL: the CPU's
} EncodingSpec;

typedef struct {
    float *r, *r2, *alpha;  // (T)
    float *p, *q;           // (T) NaN without permutations
    float *weights;         // (weights_rows, T) refit weights (rows past P are NaN), or NULL
    float *intercept;       // (T) with weights
    size_t weights_rows;
} EncodingOut;

typedef struct {
    RidgeStats ridge;
    size_t width;        // P
    size_t components;   // PCA components kept (0: none)
    size_t n_shifts;     // shifts in the null
} EncodingStats;

// PCA components a layer of C features keeps: 0 when no PCA applies (none asked, or at least C asked)
size_t encoding_components(const EncodingSpec *e, size_t C);

// design width for a layer of C features: components (or C) times D, plus E times D
size_t encoding_width(const EncodingSpec *e, size_t C);

// A layer's designs, steps 1 to 3: the same for every set of targets of one sampling, CV plan and design options,
// so fits of several target sets (subject groups) can share them; and with them, optionally, the ridge's split
// designs (its eigendecompositions, ridge.h), which a fit records into an empty set and a later fit takes from it.
typedef struct {
    float **X;             // (F) designs (V, P) float32: one, or one per outer fold (PCA on each fold's training samples)
    size_t F, V, P;
    size_t components;     // PCA components kept (0: none)
    RidgeDesigns *splits;  // NULL, or the split designs to record or take (owned: encoding_design_free frees it)
} EncodingDesign;

// x (W, C): the layer's feature of every word. Caller frees d (encoding_design_free).
int encoding_design(const EncodingSpec *e, const float *x, size_t C, EncodingDesign *d, char *err);
void encoding_design_free(EncodingDesign *d);
// steps 4 and 5 on the spec's targets; -1 with err when d was made for another sampling, CV plan or delays
int encoding_fit_design(const EncodingSpec *e, const EncodingDesign *d, EncodingOut *out, EncodingStats *stats,
                        char *err);
// encoding_design, then encoding_fit_design
int encoding_fit(const EncodingSpec *e, const float *x, size_t C, EncodingOut *out, EncodingStats *stats, char *err);

#endif  // HOST_ENCODING_H
