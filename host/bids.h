/*
 * bids: the iEEG runs of a BIDS dataset and what their sidecar files say.
 *
 * A run is one recording file in sub-<label>[/ses-<label>]/ieeg/: `<stem>_ieeg.edf` (source edf) or
 * `<stem>_highgamma.h5` (source highgamma: a preprocessed envelope, layout in docs/ieeg.md), where
 * stem is sub-<label>[_ses-<label>]_task-<task>[_acq-..][_run-..]. Its sidecars, by BIDS's naming
 * with inheritance (the run's own file first, then the same without the run entity):
 *  - `<stem>_channels.tsv`: name, type, status — the channels kept are the ECOG and SEEG ones that
 *    are not "bad"; a channel named there but absent from the recording is an error;
 *  - `<stem>_ieeg.json`: SamplingFrequency, PowerLineFrequency;
 *  - `<stem>_events.tsv`: the stimulus event (the row whose trial_type equals the configured name,
 *    or the first row): `onset` is the recording time where the story starts to play, an optional
 *    `stim_start` column the story time at that moment (several runs may each hold part of the
 *    story), `duration` how long it plays. Without an events file the story starts with the
 *    recording;
 *  - `sub-<label>[_ses-..][_space-<space>]_electrodes.tsv` (name, x, y, z, and a region column
 *    when present: region, anat, label or roi) with `_coordsystem.json` naming the space when the
 *    file name does not.
 *
 * Ownership: IeegRun owns its channel table; bids_free_runs releases an array of runs.
 * Errors: -1 with err naming the file and the problem.
 */
#ifndef HOST_BIDS_H
#define HOST_BIDS_H

#include <stddef.h>

#define BIDS_PATH 1024

typedef enum { BIDS_EDF = 0, BIDS_HIGHGAMMA = 1 } BidsSource;

typedef struct {
    char name[64];
    char type[16];
    int good;         // status not "bad" and type ECOG or SEEG
    int has_xyz;
    double xyz[3];    // mm in the run's space
    char region[32];  // from the electrodes table, "" when it has no region column
} BidsChannel;

typedef struct {
    char subject[64];  // "sub-01"
    char stem[256];    // the file name's entities, e.g. "sub-01_task-podcast_run-1"
    char data[BIDS_PATH];
    char channels[BIDS_PATH], json[BIDS_PATH], events[BIDS_PATH], electrodes[BIDS_PATH];  // "" when absent
    BidsSource source;
    char space[64];    // "" when no electrodes table
    double rate;       // Hz, from the sidecar (the recording's own header is checked against it)
    double line_freq;  // Hz, 0 when the sidecar does not say
    double stim_onset;     // recording seconds where the story starts
    double stim_start;     // story seconds at stim_onset
    double stim_duration;  // seconds of story in this run; INFINITY when the events do not say
    size_t n_channels;
    BidsChannel *ch;   // (n_channels) in channels.tsv order
} IeegRun;

// Every run of task (NULL or "": any task) with the given source, sorted by subject then stem.
// Only the paths are filled; bids_load_run reads the sidecars.
int bids_find_runs(const char *root, const char *task, BidsSource source, IeegRun **runs, size_t *n, char *err);

// Reads the run's sidecars. stim_event: the events' trial_type of the story (NULL or "": the first row).
int bids_load_run(IeegRun *run, const char *stim_event, char *err);

void bids_free_runs(IeegRun *runs, size_t n);

#endif  // HOST_BIDS_H
