/*
 * ieeg: intracranial recordings to word responses — what the reference study regressed on.
 *
 * For every subject of a BIDS iEEG dataset (bids.h), every run:
 *  1. the good ECOG/SEEG channels of channels.tsv, read from the EDF (edf.h) in physical units;
 *  2. optional common-average reference over those channels;
 *  3. the high-gamma envelope (highgamma.h: Gaussian filter bank 70-150 Hz after a notch at the
 *     line frequency and its harmonics), at envelope_rate Hz, z-scored per channel over the run —
 *     or, for source highgamma, the run's preprocessed envelope (docs/ieeg.md), z-scored;
 *  4. per word, the mean envelope in a window of `window` seconds centred on the word's midpoint,
 *     the story's clock mapped to the recording's by the run's stimulus event — or, with
 *     `continuous`, the envelope itself at envelope_rate on the story's clock (sample k at story
 *     time k / envelope_rate, linearly interpolated), for designs with lags;
 *  5. speech-responsive electrodes (responsive.h): envelope 0.5 s after vs before each speech onset
 *     (a word after at least onset_gap s of silence), pooled over runs, Benjamini-Hochberg over the
 *     subject's electrodes;
 *  6. anatomy (anatomy.h): distance from posteromedial Heschl's gyrus and a region label.
 * Every word (continuous: every sample of the story up to its last word's end) must lie inside
 * exactly one run of each subject.
 *
 * A subject with a problem (a channel of channels.tsv absent from the EDF, a good channel without
 * a position, words outside its recording, a rate below twice the band's top, a malformed file)
 * is reported with one message naming the file and left out; the others go on. ieeg_prepare fails
 * only when no subject is left or the dataset itself is unusable.
 *
 * Shapes: W words (continuous: V = ceil(t_max * envelope_rate) samples), E electrodes (every good
 * channel of every subject that passed, subject-major).
 * Ownership: IeegResponses owns its arrays; ieeg_free. Threads: channels run in parallel (OpenMP).
 * Errors: -1 with err. A run's flat channels (every sample equal) are kept but warned about (log_warn),
 * with the file, the subject and the channels.
 */
#ifndef HOST_IEEG_H
#define HOST_IEEG_H

#include <stddef.h>
#include <stdint.h>

#include "host/bids.h"
#include "host/stimulus.h"

typedef struct {
    const char *bids_root;
    const char *task;          // "" = any
    const char *stim_event;    // trial_type of the story's event; "" = the first event
    BidsSource source;
    double line_freq;          // Hz; 0 = each run's PowerLineFrequency; < 0 = no notch
    double notch_width;        // Hz
    int car;                   // common-average reference
    double band_lo, band_hi;   // Hz
    double envelope_rate;      // Hz
    int full_rate;             // the bands at the recording's rate (HgOptions.full_rate)
    double window;             // s, centred on each word
    int continuous;            // the envelope on the story's clock instead of word windows
    double onset_gap;          // s of silence before a speech onset
    double resp_window;        // s before and after each onset
    double fdr;                // BH level of the responsiveness test
    int has_pmhg;              // pmhg_* given; else the space's built-in reference
    double pmhg_left[3], pmhg_right[3];
    const char *atlas;         // "" = built-in
} IeegOptions;

typedef struct {
    char subject[64], name[64], region[32];
    double xyz[3];
    double distance;   // mm from pmHG
    double t, p, q;    // responsiveness
    int responsive;    // q < fdr and t > 0
} IeegElectrode;

typedef struct {
    size_t W, E;          // W: words, or samples of the story (rate > 0)
    double rate;          // 0: one row per word; else rows are samples of the story's clock at this rate
    float *resp;          // (W, E)
    IeegElectrode *el;    // (E)
    size_t n_subjects;
    char (*subject)[64];  // (n_subjects) every subject of the dataset
    char **error;         // (n_subjects) "" for a subject that passed
    char space[64];
    double pmhg_left[3], pmhg_right[3];
    double seconds_read, seconds_envelope;  // summed over runs (wall)
} IeegResponses;

int ieeg_prepare(const IeegOptions *o, const Stimulus *st, IeegResponses *out, char *err);

// ieeg_prepare shared among processes. Process `part` of `parts` prepares its share of the subjects (the high-gamma
// of their runs; subjects are dealt by the bytes of their recording files, largest first, each to the part with the
// fewest so far) and hands its share on as *bytes (*len; caller frees), which may travel between
// processes of one build as they are; a process with every share joins them (ieeg_join) into what ieeg_prepare
// gives, value for value: the subjects' work is independent but for the check that every subject shares the first
// used subject's space, which the join makes (a subject of another space is left out there, after its work).
// ieeg_prepare is one share joined. -1 with err when the dataset itself is unusable (as ieeg_prepare); the join
// fails on a damaged or missing share, or when no subject is left.
int ieeg_prepare_part(const IeegOptions *o, const Stimulus *st, size_t part, size_t parts, void **bytes,
                      size_t *len, char *err);
int ieeg_join(const IeegOptions *o, const void *const *bytes, const size_t *len, size_t parts, IeegResponses *out,
              char *err);

// The responses file (docs/ieeg.md): written to path + ".tmp" and renamed. key: text naming what
// made it (options and stimulus), compared by ieeg_load.
int ieeg_save(const char *path, const IeegResponses *r, const char *key, char *err);
// 1 loaded, 0 absent or made from another key (why says which), -1 unreadable (err)
int ieeg_load(const char *path, const char *key, IeegResponses *r, char *why, char *err);
void ieeg_free(IeegResponses *r);

// What ieeg_cached does when the responses file is absent or was made from other data or options.
typedef enum {
    IEEG_CACHE_READ,   // an error: another process makes the file
    IEEG_CACHE_MAKE,   // compute the responses and save them (ieeg_save)
    IEEG_CACHE_CHECK,  // compute them and write nothing (a dry run validates the recordings)
} IeegCacheMode;

// How the responses are computed when they must be: ieeg_prepare, or its shares spread over processes.
typedef int (*IeegCompute)(const IeegOptions *o, const Stimulus *st, IeegResponses *out, char *err);

// The responses of o's dataset through the responses file at path, reused while it was made from the same
// data and options (its key: the options, the words and their times, each recording file's name, size and
// modification time); a stale or absent file is handled as mode says, computing with compute (NULL:
// ieeg_prepare). Except with IEEG_CACHE_READ, each subject's electrodes, or why it was left out, are logged.
// Returns 1 when the file was reused, 0 when computed, -1 with err.
int ieeg_cached(const IeegOptions *o, const char *path, const Stimulus *st, IeegCacheMode mode, IeegCompute compute,
                IeegResponses *r, char *err);

#endif  // HOST_IEEG_H
