/*
 * config: one YAML file (libyaml) becomes a typed SweepConfig at start-up.
 *
 * Every key is a row of one table (config.c): section, key, type, bounds, default, one line of doc.
 * The same table validates, fills defaults, prints the resolved config (stored in every results
 * file) and documents itself (`brainsweep config-doc`, docs/config.md). An unknown key, a wrong
 * type or an out-of-range value stops with "file:line: ..." and, for typos, the closest valid key.
 * Relative paths are taken from the working directory, as the job runs (Slurm: the submit dir).
 * `-P section.key=value` overrides apply after the file, through the same table.
 *
 * Ownership: SweepConfig owns its strings and lists; config_free releases them. The option structs it
 * holds (StimOptions, IeegOptions, the ContextPolicy list, DesignSettings, RidgeSettings) are filled by named
 * fields, from the table or, for derived fields, when the file is validated; their strings point into
 * the SweepConfig itself, so a SweepConfig is never copied by value. Modules receive the fields or
 * option structs they need and never read the file. Errors: -1 with err (file name and line).
 */
#ifndef HOST_CONFIG_H
#define HOST_CONFIG_H

#include <stddef.h>

#include "host/extract.h"
#include "host/features.h"
#include "host/ieeg.h"
#include "host/pca.h"
#include "host/ridge.h"
#include "host/stimulus.h"

#define CFG_STR 1024
#define CFG_MAX_DELAYS 256
#define CFG_MAX_ALPHAS 128
#define CFG_MAX_GROUPS 1024
#define CFG_MAX_CONTEXTS 64

typedef enum { REC_ROI_TEXT = 0, REC_WORD_TEXT = 1, REC_IEEG = 2, REC_BIDS_FMRI = 3 } RecFormat;
typedef enum { LONG_WORDS_WARN = 0, LONG_WORDS_ERROR = 1 } LongWords;
// run.device: where the decoder and the fits run (host/backend.h resolves it once per rank)
typedef enum { DEVICE_AUTO = 0, DEVICE_CPU = 1, DEVICE_CUDA = 2 } DeviceChoice;
typedef enum { TRANSPORT_AUTO = 0, TRANSPORT_MPI = 1 } TransportChoice;  // run.transport
// run.gpu_weights
typedef enum { GPU_WEIGHTS_AUTO = 0, GPU_WEIGHTS_F32, GPU_WEIGHTS_BF16, GPU_WEIGHTS_F16 } GpuWeights;

typedef struct {
    char name[128];
    char path[CFG_STR];
} ModelEntry;

typedef struct {
    char **items;
    size_t n;
} StrList;

// design.*: how a layer's features become a design (host/encoding.h takes them by name)
typedef struct {
    ResampleKind resample;
    int lanczos_window;
    int delays[CFG_MAX_DELAYS];
    size_t n_delays;
    size_t pca_components;  // 0 = none
    int pca_fit_all;        // 0: per outer fold's training samples; 1: all samples (the reference study)
    PcaMethod pca_method;
    StrList extra_bands;    // feature bands beside the layer: "word_rate"
} DesignSettings;

// ridge.*: the cross-validation, the alpha grid and the null
typedef struct {
    int folds;
    int group_sizes[CFG_MAX_GROUPS];  // consecutive groups of samples (runs, stories); none = `folds` folds
    size_t n_group_sizes;
    size_t gap;
    RidgeSelect select;
    double alpha_log10_min, alpha_log10_max;
    size_t alpha_count;
    double alphas[CFG_MAX_ALPHAS];  // resolved grid
    size_t n_alphas;
    size_t band_scalings;   // candidate scalings of the extra bands
    size_t permutations;    // circular shifts in the null; 0 = no p-values
    size_t null_min_shift;  // 0 = a tenth of the samples
    double memory_gib;      // working memory per fit; 0 = from the node's memory
} RidgeSettings;

typedef struct {
    char source[CFG_STR];  // the config file
    char *text;            // its text, stored in results for provenance

    ModelEntry *models;
    size_t n_models;

    // stimulus
    char stimulus_file[CFG_STR];
    char tier[128];
    char word_column[128], onset_column[128], offset_column[128];  // "" = defaults
    StrList skip_labels;
    StimOptions stim;        // the reader's options: leading_space from the table, the rest the fields above
    size_t max_word_tokens;  // a longer word is reported, as a warning or an error (long_words)
    int long_words;          // LongWords

    // context
    StrList contexts;    // the context policies swept: "full", "tokens:N" or "words:N" as written
    ContextPolicy context[CFG_MAX_CONTEXTS];  // each as asked (kind and N from its text, the rest from the keys
                                              // below), before it is resolved against a model (host/planning.h)
    int context_window;
    int context_overlap;
    int context_word;    // WordRepr
    int batch_tokens;

    // recordings
    int rec_format;      // RecFormat
    double tr;
    double first_volume_time;
    size_t volumes;      // 0 = from the stimulus end
    double highpass_seconds;  // 0 = demean only
    StrList regions;
    StrList files;       // after glob expansion, sorted

    // ieeg (recordings.format: ieeg): a BIDS iEEG dataset to word responses (host/ieeg.h)
    IeegOptions ieeg;         // the table fills its numbers (ieeg.full_rate: envelope exact; ieeg.continuous: output
                              // continuous); its strings, band, window and has_pmhg come from the fields below
    char ieeg_bids[CFG_STR];
    char ieeg_task[128];
    char ieeg_event[128];
    char ieeg_responses[CFG_STR];  // "" = <output.path without .h5>-responses.h5
    double ieeg_band[2];
    size_t n_ieeg_band;
    double ieeg_window_ms;
    int ieeg_electrodes;      // 0: responsive, 1: all good electrodes
    size_t n_pmhg_left, n_pmhg_right;
    char ieeg_atlas[CFG_STR];

    // fmri (recordings.format: bids_fmri): volumetric runs of a BIDS derivatives folder (host/fmri.h)
    char fmri_bids[CFG_STR];
    char fmri_space[128];
    char fmri_task[128];
    StrList fmri_runs;        // run labels; none = every run
    StrList fmri_subjects;    // none = every subject
    StrList fmri_confounds;   // confounds-table columns regressed out of each run; none = no regression
    char fmri_atlas[CFG_STR];         // host/parcels.h; "" = none
    char fmri_atlas_labels[CFG_STR];  // "" = the atlas's own names
    char fmri_surface_geometry[CFG_STR];  // host/geometry.h; "" = none

    // features cache
    char cache_dir[CFG_STR];  // "" = no cache
    int cache_float16;

    DesignSettings design;
    RidgeSettings ridge;

    // output and run
    char output[CFG_STR];
    int save_weights;
    int threads;         // BLAS/OpenMP threads per rank; 0 = leave to the environment
    size_t layer_block;  // layers per fit unit; 0 = the rank's threads
    double group_gib;    // float32 targets of one subject group at most; 0 = every subject in one group
    double progress_seconds;  // plain progress lines at most this often
    char log_dir[CFG_STR];    // "" = no per-rank log files
    int pipeline_stages;    // ranks a model is split over by layer ranges; 0 = as few as fit max_weight_gib
    double max_weight_gib;  // a model's memory per rank (mapping, then kept widened layers); 0 = half the node's
    DeviceChoice device;
    TransportChoice transport;  // how pipeline stages on GPUs pass activations
    GpuWeights gpu_weights;     // the layers' matrices and their products on a GPU
} SweepConfig;

// Parse path; overrides are "section.key=value" strings (may be NULL/0).
int config_load(const char *path, const char *const *overrides, size_t n_overrides, SweepConfig *cfg, char *err);
void config_free(SweepConfig *cfg);

// The resolved configuration as YAML (defaults filled in, globs expanded). Caller frees.
char *config_resolved_yaml(const SweepConfig *cfg);

// The same without the keys that change how a sweep runs but never what it computes (run.*,
// output.path, ridge.memory_gib, features.cache_dir): what a sweep's identity hashes. Caller frees.
char *config_identity_yaml(const SweepConfig *cfg);

// Markdown reference of every key (docs/config.md is this output). Caller frees.
char *config_doc_markdown(void);

#endif  // HOST_CONFIG_H
