/*
 * simulate: a BIDS iEEG dataset with planted answers, to test the whole sweep against known truth.
 *
 * From a real story's word timings and real electrode positions (the Podcast dataset's, shipped in
 * data/podcast/), it writes for each subject a 16-bit EDF+ recording whose high-gamma amplitude
 * follows a real model's hidden states:
 *  - every hidden state l of the model is run over the story (full context) and projected on a
 *    random direction: s_l(w) = z-score over words of X_l(w) . beta_l, X_l z-scored per column;
 *  - a responsive electrode gets a planted layer that grows with its distance from posteromedial
 *    Heschl's gyrus (the hierarchy hypothesis: 1 at <= 15 mm to L at >= 60 mm, plus jitter), an SNR
 *    drawn log-uniformly in [snr_min, snr_max], and a log-amplitude modulation at 100 Hz
 *      m(t) = snr * sum_w s_layer(w) g(t - c_w) + 0.5 [speech at t] + xi(t),
 *    g a Gaussian bump (sd 30 ms) at each word's midpoint c_w, xi unit-variance noise smoothed over
 *    50 ms; non-responsive electrodes (too far, beyond 80 mm, or drawn with probability
 *    `nonresponsive`) get m = xi;
 *  - the channel is A(t) c(t) + b(t) + line noise, with A = exp(0.35 m) upsampled, c(t) Gaussian
 *    noise band-limited to 65-160 Hz (unit rms), b(t) a 1/f^2-power background (rms 4) and sines at
 *    the line frequency and its 2nd and 3rd harmonics; times 20 uV;
 *  - channels marked bad in the source channels.tsv become broadband artefact channels; other types
 *    (MISC) plain noise. The story starts after a lead of 8-14 s (events.tsv).
 * Beside the data, groundtruth/ holds electrodes.tsv (subject, name, status, responsive,
 * planted_layer, snr, distance), weights.h5 (beta per hidden state) and truth.json (the model, the
 * seed, the planted hierarchy correlation). Deterministic for a seed, whatever the thread count.
 *
 * sim_score compares a sweep's results.h5 (recordings.format: ieeg) with the truth: for responsive
 * electrodes the sweep fitted, the peak layer (argmax of r over hidden states, first model and
 * context) against the planted one, and the correlation of distance with layer, planted vs found.
 *
 * Errors: -1 with err naming the file and the problem.
 */
#ifndef HOST_SIMULATE_H
#define HOST_SIMULATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *out_dir;
    const char *model_path;
    const char *stimulus;       // the words table (word, onset, offset)
    const char *electrodes;     // a BIDS folder with sub-*/ieeg/*_channels.tsv and *_electrodes.tsv
    const char *subjects;       // comma-separated ("sub-01,sub-03"); NULL or "" = all
    double seconds;             // story seconds kept (0 = all)
    size_t max_electrodes;      // per subject, the good channels kept (0 = all)
    double rate;                // Hz
    double line_freq;           // Hz
    double snr_min, snr_max;
    double nonresponsive;       // probability that an electrode within 80 mm carries no response
    uint64_t seed;
} SimOptions;

int sim_make(const SimOptions *o, char *err);

typedef struct {
    size_t scored;          // responsive electrodes in the results with snr >= the threshold
    size_t within_one;      // of those, |peak - planted| <= 1
    size_t exact;
    double hierarchy_planted, hierarchy_found;  // Pearson r of distance with planted / peak layer
    size_t n_hierarchy;     // electrodes in the correlations (every responsive one fitted)
} SimScore;

int sim_score(const char *dataset, const char *results, double snr_threshold, SimScore *score, FILE *report,
              char *err);

// What the iEEG and the fMRI simulators (host/simulate_fmri.h) share.
#include "host/stimulus.h"
// one random stream per (seed, a, b), so threads do not change the data (splitmix64)
typedef struct {
    uint64_t s;
} SimRng;
SimRng sim_rng(uint64_t seed, uint64_t a, uint64_t b);
double sim_rng_norm(SimRng *r);
// the words of stimulus (TextGrid or table) ending by `seconds` (0: all) written as a table at words_path
// (word, onset, offset), then loaded back into st: the dataset carries the words it was made from
int sim_story(const char *stimulus, double seconds, const char *words_path, Stimulus *st, char *err);
// sig (H, W): each hidden state of the model (full context) projected on a random direction per layer
// (seeded), z-scored over words; beta (H, dmax) the directions. Caller frees both.
int sim_word_signals(const char *model_path, uint64_t seed, const Stimulus *st, double **sig, float **beta, size_t *H,
                     size_t *dmax, char *err);

#endif  // HOST_SIMULATE_H
