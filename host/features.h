/*
 * features: word-level features to the sampling grid of a recording (the fMRI design).
 *
 * Volume j of a run covers [t0 + j*TR, t0 + (j+1)*TR) on the stimulus clock; a word's time is the
 * midpoint of its interval. Two resamplers:
 *  - RESAMPLE_SUM (default): each volume gets the sum of the features of the words whose midpoint
 *    falls inside it. Transparent, and a silent volume is exactly zero.
 *  - RESAMPLE_LANCZOS: a windowed-sinc (Lanczos, `a` lobes, cutoff at the volume rate) sum of all
 *    words around each volume's centre t0 + (j + 1/2)*TR, as in Huth lab encoding models;
 *  - RESAMPLE_ONSET: bins like SUM, for word times that are onsets: an impulse train at each word's
 *    onset, for continuous recordings (e.g. iEEG high-gamma at 100 Hz) whose delays are the lags.
 * Then finite-impulse-response delays (volume j sees the features of volume j - d for each delay d,
 * zeros before the start) and column z-scoring. Shapes: W words, C features, V volumes, D delays.
 * Nothing allocates; the caller owns every buffer.
 */
#ifndef HOST_FEATURES_H
#define HOST_FEATURES_H

#include <stddef.h>

typedef enum { RESAMPLE_SUM = 0, RESAMPLE_LANCZOS = 1, RESAMPLE_ONSET = 2 } ResampleKind;

typedef struct {
    double t0;         // start of volume 0 on the stimulus clock (s)
    double tr;         // repetition time (s)
    size_t n_volumes;  // V
} VolumeGrid;

// out (V, C) from x (W, C) with word times (W); lanczos_a lobes (ignored for SUM)
void feat_words_to_volumes(double *out, const float *x, const double *word_time, size_t W, size_t C,
                           const VolumeGrid *g, ResampleKind kind, int lanczos_a);

// out (V, D*C): out[j, d*C + c] = in[j - delays[d], c], or 0 when j - delays[d] is outside [0, V)
void feat_delay(double *out, const double *in, size_t V, size_t C, const int *delays, size_t D);

// High-pass filter each column of x (N, C) in place, sampled every tr seconds: remove its projection
// on the discrete cosine basis of periods longer than cutoff seconds (SPM's filter; the constant is
// always removed). Returns the number of basis functions removed.
size_t feat_highpass(double *x, size_t N, size_t C, double tr, double cutoff);

// z-score each column of x (N, C) in place (population std); constant columns become 0.
// Returns the number of constant columns.
size_t feat_zscore(double *x, size_t N, size_t C);

// the Lanczos kernel: sinc(u) sinc(u/a) for |u| < a, else 0
double feat_lanczos(double u, int a);

#endif  // HOST_FEATURES_H
