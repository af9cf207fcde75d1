#include "host/config.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "host/base.h"

// ----------------------------------------------------------------------------
// the parameter table

typedef enum { P_INT, P_SIZE, P_DOUBLE, P_STRING, P_ENUM, P_STR_LIST, P_INT_LIST, P_DOUBLE_LIST, P_BOOL } ParamType;

typedef struct {
    const char *section, *key;
    ParamType type;
    size_t offset;        // field in SweepConfig
    size_t cap;           // P_STRING: bytes; P_INT_LIST / P_DOUBLE_LIST: elements
    size_t count_offset;  // P_INT_LIST / P_DOUBLE_LIST: the size_t count field
    double min, max;      // numeric bounds (per element for lists)
    const char *def;      // default as YAML text; NULL = required
    const char *choices;  // P_ENUM: names separated by '|', value = index
    const char *doc;
} Param;

#define F(field) offsetof(SweepConfig, field)
// P_ENUM and P_BOOL keys are written as int, into the enum fields of the option structs too
_Static_assert(sizeof(BidsSource) == sizeof(int) && sizeof(ResampleKind) == sizeof(int) &&
                   sizeof(PcaMethod) == sizeof(int) && sizeof(RidgeSelect) == sizeof(int),
               "an enum key's field must be an int");
#define NONE 0  // no count field

static const Param PARAMS[] = {
    {"stimulus", "file", P_STRING, F(stimulus_file), CFG_STR, NONE, 0, 0, NULL, NULL,
     "the words and their timings: a Praat .TextGrid, or a .tsv/.csv table with a header"},
    {"stimulus", "tier", P_STRING, F(tier), 128, NONE, 0, 0, "word", NULL, "TextGrid: the interval tier that holds the words"},
    {"stimulus", "word_column", P_STRING, F(word_column), 128, NONE, 0, 0, "word", NULL, "table: the column of words"},
    {"stimulus", "onset_column", P_STRING, F(onset_column), 128, NONE, 0, 0, "\"\"", NULL,
     "table: the column of onsets in seconds; empty = onset, else start"},
    {"stimulus", "offset_column", P_STRING, F(offset_column), 128, NONE, 0, 0, "\"\"", NULL,
     "table: the column of offsets in seconds; empty = offset, else end"},
    {"stimulus", "leading_space", P_BOOL, F(stim.leading_space), 0, NONE, 0, 0, "false", NULL,
     "start the text with a space, so a byte-level model reads its first word as it reads the others"},
    {"stimulus", "skip_labels", P_STR_LIST, F(skip_labels), 0, NONE, 0, 0, "[sp, sil, \"\"]", NULL,
     "interval labels that mark pauses, not words"},
    {"stimulus", "max_word_tokens", P_SIZE, F(max_word_tokens), 0, NONE, 1, 1e9, "64", NULL,
     "tokens a word may take under any model's tokenizer before stimulus.long_words applies (a transcript that lost "
     "its spaces makes one word of thousands of tokens and every context slow)"},
    {"stimulus", "long_words", P_ENUM, F(long_words), 0, NONE, 0, 0, "warn", "warn|error",
     "a word above stimulus.max_word_tokens: warn, naming the longest, and go on; or stop with an error"},
    {"context", "policy", P_STR_LIST, F(contexts), 0, NONE, 0, 0, "[full]", NULL,
     "the context policies to sweep (one, or a list: every model runs under each): full: the whole story as one "
     "causal sequence (overlapping chunks past the model's window); tokens:N: each word on a fresh sequence of the "
     "N tokens ending with it; words:N: the same with its N last words"},
    {"context", "word", P_ENUM, F(context_word), 0, NONE, 0, 0, "last", "last|mean",
     "a word's representation: the hidden state of its last token, or the mean over its tokens"},
    {"context", "batch_tokens", P_INT, F(batch_tokens), 0, NONE, 16, 1e7, "4096", NULL,
     "tokens per batch of sequences through the model (memory: about 0.15 MB per token for a 7B model)"},
    {"context", "window", P_INT, F(context_window), 0, NONE, 0, 1e7, "0", NULL,
     "tokens per forward pass including BOS; 0 = the model's context length"},
    {"context", "overlap", P_INT, F(context_overlap), 0, NONE, -1, 1e7, "-1", NULL,
     "tokens shared by consecutive chunks (the least context a word gets after the first chunk); -1 = half the window"},
    {"recordings", "format", P_ENUM, F(rec_format), 0, NONE, 0, 0, "roi_text", "roi_text|word_text|ieeg|bids_fmri",
     "roi_text: one text file per subject, one row per sample (fMRI volume, or a continuous signal's sample), one "
     "column per region or electrode; word_text: the same with one row per word (e.g. high-gamma around each word); "
     "ieeg: a BIDS iEEG dataset (section ieeg), turned into one high-gamma value per word and electrode; bids_fmri: "
     "volumetric fMRI runs of a BIDS derivatives folder in fMRIPrep's layout (section fmri), one target per in-mask "
     "voxel"},
    {"recordings", "tr", P_DOUBLE, F(tr), 0, NONE, 0, 1e3, "0", NULL,
     "seconds between samples (the fMRI repetition time; 0.01 for 100 Hz); required by roi_text; bids_fmri: 0 = "
     "the runs' own (NIfTI header), else it must agree with them"},
    {"recordings", "first_volume_time", P_DOUBLE, F(first_volume_time), 0, NONE, -1e6, 1e6, "0", NULL,
     "stimulus time (s, TextGrid clock) at which the first kept volume starts"},
    {"recordings", "volumes", P_SIZE, F(volumes), 0, NONE, 0, 1e9, "0", NULL,
     "volumes per recording; 0 = ceil((stimulus end - first_volume_time) / tr) (bids_fmri: the runs' volumes; "
     "else it must agree with them)"},
    {"recordings", "highpass_seconds", P_DOUBLE, F(highpass_seconds), 0, NONE, 0, 1e6, "128", NULL,
     "high-pass cutoff (s) applied to recordings and design alike (discrete cosine basis, as SPM); 0 = remove the "
     "mean only"},
    {"recordings", "regions", P_STR_LIST, F(regions), 0, NONE, 0, 0, "[]", NULL,
     "region names, one per column of every recording file (roi_text, word_text)"},
    {"recordings", "files", P_STR_LIST, F(files), 0, NONE, 0, 0, "[]", NULL,
     "recording files or glob patterns, one file per subject (subject id = file name up to its first - _ or .) "
     "(roi_text, word_text)"},
    {"ieeg", "bids", P_STRING, F(ieeg_bids), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "the BIDS dataset's folder (sub-*/[ses-*/]ieeg/); required by recordings.format: ieeg"},
    {"ieeg", "task", P_STRING, F(ieeg_task), 128, NONE, 0, 0, "\"\"", NULL, "the task entity of the runs; empty = any"},
    {"ieeg", "source", P_ENUM, F(ieeg.source), 0, NONE, 0, 0, "edf", "edf|highgamma",
     "edf: raw *_ieeg.edf, filtered here; highgamma: each run's preprocessed envelope *_highgamma.h5 (docs/ieeg.md)"},
    {"ieeg", "stimulus_event", P_STRING, F(ieeg_event), 128, NONE, 0, 0, "\"\"", NULL,
     "trial_type of the events.tsv row where the story starts (its onset; optional stim_start and duration "
     "columns); empty = the first row; no events file = the story starts with the recording"},
    {"ieeg", "responses", P_STRING, F(ieeg_responses), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "the word responses file, made once and reused while data and options are unchanged; empty = beside "
     "output.path as <name>-responses.h5"},
    {"ieeg", "line_frequency", P_DOUBLE, F(ieeg.line_freq), 0, NONE, -1, 1000, "0", NULL,
     "line-noise notch (Hz, with its harmonics); 0 = each run's PowerLineFrequency; -1 = no notch"},
    {"ieeg", "notch_width", P_DOUBLE, F(ieeg.notch_width), 0, NONE, 0.1, 20, "2", NULL,
     "full width (Hz) of each notch"},
    {"ieeg", "reference", P_ENUM, F(ieeg.car), 0, NONE, 0, 0, "car", "none|car",
     "car: subtract the mean of the good channels at every sample before filtering; none: as recorded"},
    {"ieeg", "band", P_DOUBLE_LIST, F(ieeg_band), 2, F(n_ieeg_band), 1, 5000, "[70, 150]", NULL,
     "high-gamma band (Hz): the Gaussian filters whose centres lie in it (the reference study: 70-150)"},
    {"ieeg", "envelope", P_ENUM, F(ieeg.full_rate), 0, NONE, 0, 0, "fast", "fast|exact",
     "fast: each band's analytic signal at a reduced rate (within 1e-3 of naplib's 100 Hz output); exact: at the "
     "recording's rate, naplib's output to float precision, about 3x slower"},
    {"ieeg", "envelope_rate", P_DOUBLE, F(ieeg.envelope_rate), 0, NONE, 10, 1000, "100", NULL,
     "rate (Hz) of the envelope, z-scored per channel and run"},
    {"ieeg", "window_ms", P_DOUBLE, F(ieeg_window_ms), 0, NONE, 1, 10000, "100", NULL,
     "width of the window centred on each word's midpoint (the reference study: 100; 50 and 150 as checks)"},
    {"ieeg", "output", P_ENUM, F(ieeg.continuous), 0, NONE, 0, 0, "words", "words|continuous",
     "words: one value per word and electrode (the window below); continuous: the envelope itself, sampled at "
     "envelope_rate on the story's clock from time 0, for sampled designs (design.resample: onset, design.delays "
     "as lags in samples)"},
    {"ieeg", "electrodes", P_ENUM, F(ieeg_electrodes), 0, NONE, 0, 0, "responsive", "responsive|all",
     "the electrodes fitted: speech-responsive ones, or every good one"},
    {"ieeg", "onset_gap", P_DOUBLE, F(ieeg.onset_gap), 0, NONE, 0, 100, "0.5", NULL,
     "seconds of silence before a word that make it a speech onset (for the responsiveness test)"},
    {"ieeg", "responsive_window", P_DOUBLE, F(ieeg.resp_window), 0, NONE, 0.01, 10, "0.5", NULL,
     "seconds before and after each speech onset compared by the responsiveness t-test"},
    {"ieeg", "fdr", P_DOUBLE, F(ieeg.fdr), 0, NONE, 1e-9, 1, "0.05", NULL,
     "Benjamini-Hochberg level of the responsiveness test, over each subject's electrodes"},
    {"ieeg", "pmhg_left", P_DOUBLE_LIST, F(ieeg.pmhg_left), 3, F(n_pmhg_left), -1000, 1000, "[]", NULL,
     "x, y, z (mm) of left posteromedial Heschl's gyrus in the electrodes' space; empty = the built-in value for "
     "MNI and fsaverage spaces (docs/ieeg.md)"},
    {"ieeg", "pmhg_right", P_DOUBLE_LIST, F(ieeg.pmhg_right), 3, F(n_pmhg_right), -1000, 1000, "[]", NULL,
     "the same for the right hemisphere"},
    {"ieeg", "atlas", P_STRING, F(ieeg_atlas), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "region labels for electrodes whose table has no region column: a TSV of label, x, y, z centroids (nearest in "
     "the same hemisphere); empty = the built-in coarse table"},
    {"fmri", "bids", P_STRING, F(fmri_bids), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "the BIDS derivatives folder (fMRIPrep's output: sub-*/[ses-*/]func/*_space-<space>_desc-preproc_bold.nii[.gz] "
     "with *_desc-brain_mask.nii[.gz], or the surface runs *_hemi-{L,R}_space-<space>_bold.func.gii); required by "
     "recordings.format: bids_fmri"},
    {"fmri", "space", P_STRING, F(fmri_space), 128, NONE, 0, 0, "MNI152NLin2009cAsym", NULL,
     "the space entity of the runs: a volumetric space (MNI152NLin2009cAsym, T1w, ...) or a surface one (fsaverage5, "
     "fsnative, ...: GIfTI runs of both hemispheres)"},
    {"fmri", "task", P_STRING, F(fmri_task), 128, NONE, 0, 0, "\"\"", NULL, "the task entity of the runs; empty = any"},
    {"fmri", "runs", P_STR_LIST, F(fmri_runs), 0, NONE, 0, 0, "[]", NULL,
     "run labels to take, in story order (the runs of one story, one after another on its clock from "
     "recordings.first_volume_time; one cross-validation group each); empty = every run"},
    {"fmri", "subjects", P_STR_LIST, F(fmri_subjects), 0, NONE, 0, 0, "[]", NULL,
     "subjects to take (sub-01 or 01); empty = every subject with runs in the space"},
    {"fmri", "confounds", P_STR_LIST, F(fmri_confounds), 0, NONE, 0, 0, "[]", NULL,
     "columns of each run's fMRIPrep confounds table (<run>_desc-confounds_timeseries.tsv, beside the run without "
     "its space) regressed out of every voxel, with an intercept, before the high-pass (e.g. [csf, white_matter, "
     "trans_x, trans_y, trans_z, rot_x, rot_y, rot_z]; an n/a cell takes its column's mean); empty = none"},
    {"fmri", "atlas", P_STRING, F(fmri_atlas), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "a parcellation for the layer x region analyses of analyze and report (README, Whole-brain fMRI): a 3D NIfTI of whole-number "
     "labels on the runs' grid (0 outside every parcel), or for surface runs one GIfTI label file per hemisphere, "
     "{hemi} in the path standing for L and R; {subject} stands for the subject's label (atlases in each subject's "
     "space); empty = none (each voxel its own region)"},
    {"fmri", "atlas_labels", P_STRING, F(fmri_atlas_labels), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "names of the atlas's labels: a TSV with columns index and name (BIDS's dseg.tsv) naming every label the atlas "
     "holds; empty = the GIfTI label table's names, or \"label N\""},
    {"fmri", "surface_geometry", P_STRING, F(fmri_surface_geometry), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "surface runs: one GIfTI geometry file (.surf.gii) per hemisphere on the runs' surface, {hemi} in the path "
     "standing for L and R ({subject} for the subject's label), whose vertex coordinates give each vertex's distance "
     "from Heschl's gyrus for analyze and report (e.g. fsaverage's midthickness, MNI305 coordinates); empty = no "
     "distances on surfaces"},
    {"features", "cache_dir", P_STRING, F(cache_dir), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "folder of extracted-features files reused by later sweeps (model, tokenizer, policy and stimulus must match; a "
     "stale file is recomputed); empty = no cache"},
    {"features", "cache_dtype", P_ENUM, F(cache_float16), 0, NONE, 0, 0, "float32", "float32|float16",
     "storage type of cached features (float16 halves the files; fits then see float16-rounded features)"},
    {"design", "resample", P_ENUM, F(design.resample), 0, NONE, 0, 0, "sum", "sum|lanczos|onset",
     "words to samples: sum of the words whose midpoint falls in the sample, a Lanczos-windowed sinc, or onset: an "
     "impulse at each word's onset (continuous recordings, where the delays are lags)"},
    {"design", "lanczos_window", P_INT, F(design.lanczos_window), 0, NONE, 1, 10, "3", NULL, "Lanczos lobes (resample: lanczos)"},
    {"design", "delays", P_INT_LIST, F(design.delays), CFG_MAX_DELAYS, F(design.n_delays), 0, 1000, "[1, 2, 3, 4]", NULL,
     "finite-impulse-response delays in samples (1-4 volumes = 2-8 s at TR 2 s; 0-40 samples = 0-400 ms at 100 Hz); "
     "word_text recordings: in words"},
    {"design", "pca_components", P_SIZE, F(design.pca_components), 0, NONE, 0, 1e6, "500", NULL,
     "PCA components per layer before the delays (the reference study's 500); at most the samples the PCA is "
     "fitted on minus one; 0 = none (ridge takes its dual form when features outnumber training samples)"},
    {"design", "pca_fit", P_ENUM, F(design.pca_fit_all), 0, NONE, 0, 0, "fold", "fold|all",
     "fold: each outer fold's PCA is fitted on its training samples (held-out data never shapes its features); "
     "all: one PCA on every sample, as the reference study did"},
    {"design", "pca_method", P_ENUM, F(design.pca_method), 0, NONE, 0, 0, "eigh", "eigh|randomized",
     "eigh: exact (covariance or Gram eigendecomposition); randomized: randomized SVD, faster for wide layers, "
     "exact where the spectrum has a gap after the last component"},
    {"design", "extra_bands", P_STR_LIST, F(design.extra_bands), 0, NONE, 0, 0, "[]", NULL,
     "feature bands fitted beside the layer, each with its own penalty (banded ridge): word_rate (words per "
     "volume, delayed like the layer)"},
    {"ridge", "folds", P_INT, F(ridge.folds), 0, NONE, 2, 1000, "5", NULL,
     "outer cross-validation folds (contiguous); each fold's alpha is chosen by the other folds of its training set"},
    {"ridge", "group_sizes", P_INT_LIST, F(ridge.group_sizes), CFG_MAX_GROUPS, F(ridge.n_group_sizes), 1, 1e9, "[]", NULL,
     "leave-one-group-out instead of folds: sizes of consecutive groups of samples (runs, stories) summing to "
     "the samples"},
    {"ridge", "gap", P_SIZE, F(ridge.gap), 0, NONE, 0, 1e9, "0", NULL,
     "samples dropped from training on each side of a held-out block (autocorrelation would leak it)"},
    {"ridge", "select", P_ENUM, F(ridge.select), 0, NONE, 0, 0, "inner", "inner|outer_mean",
     "inner: each target's alpha from cross-validation inside each outer training set; outer_mean: the alpha of "
     "the best mean score over the outer folds (faster, slightly optimistic)"},
    {"ridge", "alpha_log10_min", P_DOUBLE, F(ridge.alpha_log10_min), 0, NONE, -20, 20, "-1", NULL,
     "smallest alpha of the log-spaced grid, as a power of ten"},
    {"ridge", "alpha_log10_max", P_DOUBLE, F(ridge.alpha_log10_max), 0, NONE, -20, 20, "7", NULL,
     "largest alpha of the grid, as a power of ten"},
    {"ridge", "alpha_count", P_SIZE, F(ridge.alpha_count), 0, NONE, 1, CFG_MAX_ALPHAS, "17", NULL, "alphas in the grid"},
    {"ridge", "alphas", P_DOUBLE_LIST, F(ridge.alphas), CFG_MAX_ALPHAS, F(ridge.n_alphas), 1e-300, 1e300, "[]", NULL,
     "an explicit alpha grid (ascending); replaces the log-spaced one when given"},
    {"ridge", "band_scalings", P_SIZE, F(ridge.band_scalings), 0, NONE, 1, 1000, "9", NULL,
     "with extra bands: candidate scalings of their features against the layer's (log-spaced 1e-2..1e2 for one "
     "extra band, log-uniform draws for more), searched per target with the alphas"},
    {"ridge", "permutations", P_SIZE, F(ridge.permutations), 0, NONE, 0, 1e7, "0", NULL,
     "circular shifts of the targets in each score's null distribution (p-values and FDR q-values); 0 = none"},
    {"ridge", "null_min_shift", P_SIZE, F(ridge.null_min_shift), 0, NONE, 0, 1e9, "0", NULL,
     "smallest circular shift of the null, in samples; 0 = a tenth of the samples"},
    {"ridge", "memory_gib", P_DOUBLE, F(ridge.memory_gib), 0, NONE, 0, 1e6, "0", NULL,
     "working memory of one fit; targets run in batches that fit it; 0 = a quarter of the node's memory over its "
     "ranks and threads"},
    {"output", "path", P_STRING, F(output), CFG_STR, NONE, 0, 0, "results.h5", NULL,
     "the results file (written under a temporary name, renamed when complete)"},
    {"output", "weights", P_BOOL, F(save_weights), 0, NONE, 0, 0, "false", NULL,
     "also store each fit's weights and intercepts, refitted on all samples (needs one design for every fold: "
     "no PCA, or design.pca_fit: all)"},
    {"run", "threads", P_INT, F(threads), 0, NONE, 0, 1024, "0", NULL,
     "BLAS and OpenMP threads per rank; 0 = leave to OPENBLAS_NUM_THREADS / OMP_NUM_THREADS"},
    {"run", "layer_block", P_SIZE, F(layer_block), 0, NONE, 0, 100000, "0", NULL,
     "layers per fit unit handed to a rank (their fits run in parallel on its threads); 0 = the rank's threads"},
    {"run", "group_gib", P_DOUBLE, F(group_gib), 0, NONE, 0, 1e6, "1", NULL,
     "subjects as a unit axis: fit units hold one group of consecutive subjects whose targets (samples x columns "
     "float32) take at most this many GiB, read and prepared by the ranks that fit them; at least one subject per "
     "group; 0 = every subject in one group"},
    {"run", "progress_seconds", P_DOUBLE, F(progress_seconds), 0, NONE, 0, 1e6, "30", NULL,
     "rank 0 prints a progress line (units done, rate, ETA, failures) at most this often when not on a terminal; "
     "0 = only at the end of each stage"},
    {"run", "log_dir", P_STRING, F(log_dir), CFG_STR, NONE, 0, 0, "\"\"", NULL,
     "folder for one log file per rank (rank-000.log, ...) with every line the rank prints and each unit it ran; "
     "empty = none"},
    {"run", "max_weight_gib", P_DOUBLE, F(max_weight_gib), 0, NONE, 0, 1e6, "0", NULL,
     "GiB a rank's model may hold: its memory-mapped checkpoint, then float32-widened layers kept between batches "
     "(past that, each layer is widened as it runs); 0 = half the node's memory over its ranks"},
    {"run", "pipeline_stages", P_INT, F(pipeline_stages), 0, NONE, 0, 1024, "0", NULL,
     "ranks one model's forward pass is split over by layer ranges, each running its share of the layers and passing "
     "the activations on (for a model larger than one rank's run.max_weight_gib); 0 = as few as let each rank's share "
     "of the checkpoint fit run.max_weight_gib (1 for a model that fits), never more than the model's layers"},
    {"run", "device", P_ENUM, F(device), 0, NONE, 0, 0, "auto", "auto|cpu|cuda",
     "where each rank runs the forward passes and the fits: cpu; cuda (an error where no CUDA backend can run); "
     "auto = cuda where it can run, else cpu (one log line says which and why)"},
    {"run", "transport", P_ENUM, F(transport), 0, NONE, 0, 0, "auto", "auto|mpi",
     "how the stages of a model split by run.pipeline_stages pass their activations: mpi (between GPUs through host "
     "memory); auto = NCCL, GPU to GPU, where every rank of the group runs the forward pass on a GPU of its own and "
     "libnccl loads, else mpi (CPU ranks always use mpi)"},
    {"run", "gpu_weights", P_ENUM, F(gpu_weights), 0, NONE, 0, 0, "auto", "auto|float32|bf16|fp16",
     "the type of the layers' matrices and of their products on a GPU: float32; bf16 or fp16 (the matrices rounded "
     "once to that type, each product's input too, on the tensor cores with float32 accumulation; every other op "
     "float32); auto = the checkpoint's stored type when it is bf16 or fp16, else float32. CPU ranks compute in "
     "float32 whatever this says"},
};
#define N_PARAMS (sizeof PARAMS / sizeof PARAMS[0])
static const char *SECTIONS[] = {"models", "stimulus", "context", "features", "recordings", "ieeg", "fmri",
                                 "design", "ridge",  "output",  "run"};
#define N_SECTIONS (sizeof SECTIONS / sizeof SECTIONS[0])

// ----------------------------------------------------------------------------
// helpers

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), prev[128], cur[128];
    if (la > 120 || lb > 120) return 1000;
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

// " (did you mean 'x'?)" for the closest name within distance 3, else ""
static void suggest(char *out, size_t n, const char *word, const char *const *names, size_t n_names) {
    size_t best = 1000, bi = 0;
    for (size_t i = 0; i < n_names; i++) {
        size_t d = edit_distance(word, names[i]);
        if (d < best) best = d, bi = i;
    }
    if (best <= 3) snprintf(out, n, " (did you mean '%s'?)", names[bi]);
    else out[0] = '\0';
}

static const Param *find_param(const char *section, const char *key) {
    for (size_t i = 0; i < N_PARAMS; i++)
        if (strcmp(PARAMS[i].section, section) == 0 && strcmp(PARAMS[i].key, key) == 0) return &PARAMS[i];
    return NULL;
}

static void strlist_free(StrList *l) {
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void strlist_add(StrList *l, const char *s) {
    l->items = base_realloc(l->items, (l->n + 1) * sizeof(char *), "config list");
    l->items[l->n++] = base_strdup(s);
}

// ----------------------------------------------------------------------------
// setting a parameter from a YAML node

typedef struct {
    const char *file;
    char *err;
} Ctx;

static int node_err(const Ctx *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int node_err(const Ctx *c, const yaml_node_t *n, const char *fmt, ...) {
    char msg[BASE_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n) return base_errf(c->err, "%s:%zu: %s", c->file, (size_t)n->start_mark.line + 1, msg);
    return base_errf(c->err, "%s: %s", c->file, msg);
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int parse_number(const Ctx *c, const yaml_node_t *n, const Param *p, const char *s, double *out, int integer) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    char q[BASE_QUOTE_LEN];  // the value as the file has it, safe to print
    base_escape(q, sizeof q, s, strlen(s));
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return node_err(c, n, "%s.%s: '%s' is not a%s number", p->section, p->key, q, integer ? "n integer" : "");
    if (integer && v != floor(v)) return node_err(c, n, "%s.%s: '%s' is not an integer", p->section, p->key, q);
    if (p->min != p->max && (v < p->min || v > p->max))
        return node_err(c, n, "%s.%s: %s is outside [%g, %g]", p->section, p->key, q, p->min, p->max);
    *out = v;
    return 0;
}

static int set_param(const Ctx *c, SweepConfig *cfg, const Param *p, const yaml_document_t *doc, const yaml_node_t *n) {
    char *field = (char *)cfg + p->offset;
    int is_list = p->type == P_STR_LIST || p->type == P_INT_LIST || p->type == P_DOUBLE_LIST;
    if (is_list) {
        if (n->type == YAML_SCALAR_NODE && p->type == P_STR_LIST) {  // one item may be written bare
            StrList *l = (StrList *)field;
            strlist_free(l);
            strlist_add(l, scalar(n));
            return 0;
        }
        if (n->type != YAML_SEQUENCE_NODE) return node_err(c, n, "%s.%s must be a list", p->section, p->key);
        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (p->type == P_STR_LIST) {
            StrList *l = (StrList *)field;
            strlist_free(l);
        } else if (count > p->cap) {
            return node_err(c, n, "%s.%s: %zu values, at most %zu", p->section, p->key, count, p->cap);
        }
        for (size_t i = 0; i < count; i++) {
            yaml_node_t *it = yaml_document_get_node((yaml_document_t *)doc, n->data.sequence.items.start[i]);
            if (!it || it->type != YAML_SCALAR_NODE)
                return node_err(c, it, "%s.%s: item %zu must be a single value", p->section, p->key, i + 1);
            double v;
            if (p->type == P_STR_LIST) {
                strlist_add((StrList *)field, scalar(it));
            } else if (p->type == P_INT_LIST) {
                if (parse_number(c, it, p, scalar(it), &v, 1)) return -1;
                ((int *)field)[i] = (int)v;
            } else {
                if (parse_number(c, it, p, scalar(it), &v, 0)) return -1;
                ((double *)field)[i] = v;
            }
        }
        if (p->type != P_STR_LIST) *(size_t *)((char *)cfg + p->count_offset) = count;
        return 0;
    }
    if (n->type != YAML_SCALAR_NODE) return node_err(c, n, "%s.%s must be a single value", p->section, p->key);
    const char *s = scalar(n);
    double v;
    char qv[BASE_QUOTE_LEN];
    switch (p->type) {
    case P_INT:
        if (parse_number(c, n, p, s, &v, 1)) return -1;
        *(int *)field = (int)v;
        return 0;
    case P_SIZE:
        if (parse_number(c, n, p, s, &v, 1)) return -1;
        *(size_t *)field = (size_t)v;
        return 0;
    case P_DOUBLE:
        if (parse_number(c, n, p, s, &v, 0)) return -1;
        *(double *)field = v;
        return 0;
    case P_STRING:
        if (strlen(s) >= p->cap) return node_err(c, n, "%s.%s is longer than %zu bytes", p->section, p->key, p->cap - 1);
        memcpy(field, s, strlen(s) + 1);
        return 0;
    case P_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0) *(int *)field = 1;
        else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "0") == 0) *(int *)field = 0;
        else return node_err(c, n, "%s.%s: '%s' is not true or false", p->section, p->key,
                             base_escape(qv, sizeof qv, s, strlen(s)));
        return 0;
    case P_ENUM: {
        const char *ch = p->choices;
        for (int idx = 0; *ch; idx++) {
            size_t len = strcspn(ch, "|");
            if (strlen(s) == len && strncmp(s, ch, len) == 0) {
                *(int *)field = idx;
                return 0;
            }
            ch += len + (ch[len] == '|');
        }
        return node_err(c, n, "%s.%s: '%s' is not one of: %s", p->section, p->key,
                        base_escape(qv, sizeof qv, s, strlen(s)), p->choices);
    }
    default:
        return node_err(c, n, "internal: unhandled parameter type");
    }
}

// parse a YAML snippet (a default or an override value) and set p from it
static int set_from_text(const Ctx *c, SweepConfig *cfg, const Param *p, const char *text) {
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        char q[BASE_QUOTE_LEN];
        rc = base_errf(c->err, "%s: %s.%s: cannot parse value '%s' (%s)", c->file, p->section, p->key,
                       base_escape(q, sizeof q, text, strlen(text)),
                       parser.problem ? parser.problem : "YAML error");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {  // an empty value: an empty string
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        yaml_document_initialize(&doc, NULL, NULL, NULL, 1, 1);
        int id = yaml_document_add_scalar(&doc, NULL, (yaml_char_t *)"", 0, YAML_PLAIN_SCALAR_STYLE);
        rc = set_param(c, cfg, p, &doc, yaml_document_get_node(&doc, id));
        yaml_document_delete(&doc);
        return rc;
    }
    rc = set_param(c, cfg, p, &doc, root);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

// ----------------------------------------------------------------------------
// models: a list of {name, path} mappings, or of bare paths

static void stem(char *out, size_t n, const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t len = strcspn(b, ".");
    snprintf(out, n, "%.*s", (int)len, b);
}

static int set_models(const Ctx *c, SweepConfig *cfg, yaml_document_t *doc, yaml_node_t *n) {
    if (n->type != YAML_SEQUENCE_NODE) return node_err(c, n, "models must be a list of {name, path}");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    cfg->models = base_calloc(count ? count : 1, sizeof(ModelEntry), "models");
    cfg->n_models = count;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *it = yaml_document_get_node(doc, n->data.sequence.items.start[i]);
        ModelEntry *m = &cfg->models[i];
        if (it->type == YAML_SCALAR_NODE) {
            snprintf(m->path, sizeof m->path, "%s", scalar(it));
        } else if (it->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *pr = it->data.mapping.pairs.start; pr < it->data.mapping.pairs.top; pr++) {
                yaml_node_t *k = yaml_document_get_node(doc, pr->key), *v = yaml_document_get_node(doc, pr->value);
                if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
                    return node_err(c, k, "models: item %zu: keys and values must be single values", i + 1);
                if (strcmp(scalar(k), "name") == 0) {
                    snprintf(m->name, sizeof m->name, "%s", scalar(v));
                } else if (strcmp(scalar(k), "path") == 0) {
                    snprintf(m->path, sizeof m->path, "%s", scalar(v));
                } else {
                    static const char *const mk[] = {"name", "path"};
                    char hint[96], q[BASE_QUOTE_LEN];
                    suggest(hint, sizeof hint, scalar(k), mk, 2);
                    return node_err(c, k, "unknown key '%s' in a model entry%s",
                                    base_escape(q, sizeof q, scalar(k), strlen(scalar(k))), hint);
                }
            }
        } else {
            return node_err(c, it, "models: item %zu must be a path or {name, path}", i + 1);
        }
        if (!m->path[0]) return node_err(c, it, "models: item %zu has no path", i + 1);
        if (!m->name[0]) stem(m->name, sizeof m->name, m->path);
        // a name is printed in logs and tables and is part of the features file's name
        for (const unsigned char *ch = (const unsigned char *)m->name; *ch; ch++)
            if (*ch < 0x20 || *ch == 0x7f || *ch == '/') {
                char q[BASE_QUOTE_LEN];
                return node_err(c, it, "models: item %zu: the name '%s' holds %s; names become file names and "
                                       "table labels",
                                i + 1, base_escape(q, sizeof q, m->name, strlen(m->name)),
                                *ch == '/' ? "a '/'" : "a control character");
            }
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->models[j].name, m->name) == 0) {
                char q[BASE_QUOTE_LEN];
                return node_err(c, it, "models: two models are named '%s'; give them distinct names",
                                base_escape(q, sizeof q, m->name, strlen(m->name)));
            }
    }
    return 0;
}

// ----------------------------------------------------------------------------
// load

static int expand_files(const Ctx *c, SweepConfig *cfg) {
    StrList out = {0};
    for (size_t i = 0; i < cfg->files.n; i++) {
        const char *pat = cfg->files.items[i];
        glob_t g;
        int rc = glob(pat, 0, NULL, &g);
        if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
            strlist_free(&out);
            globfree(&g);
            return base_errf(c->err, "%s: recordings.files: '%s' matches no file", c->file, pat);
        }
        if (rc != 0) {
            strlist_free(&out);
            return base_errf(c->err, "%s: recordings.files: cannot expand '%s'", c->file, pat);
        }
        for (size_t k = 0; k < g.gl_pathc; k++) strlist_add(&out, g.gl_pathv[k]);  // glob sorts
        globfree(&g);
    }
    for (size_t i = 0; i < out.n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(out.items[i], out.items[j]) == 0) {
                int rc = base_errf(c->err, "%s: recordings.files lists '%s' twice", c->file, out.items[i]);
                strlist_free(&out);
                return rc;
            }
    strlist_free(&cfg->files);
    cfg->files = out;
    return 0;
}

// each of "full", "tokens:N" or "words:N"
static int parse_policies(const Ctx *c, SweepConfig *cfg) {
    if (cfg->contexts.n == 0) return base_errf(c->err, "%s: context.policy is empty", c->file);
    if (cfg->contexts.n > CFG_MAX_CONTEXTS)
        return base_errf(c->err, "%s: context.policy lists %zu policies, at most %d", c->file, cfg->contexts.n,
                         CFG_MAX_CONTEXTS);
    for (size_t i = 0; i < cfg->contexts.n; i++) {
        const char *t = cfg->contexts.items[i];
        int n = 0;
        char extra;
        ContextKind kind;
        if (strcmp(t, "full") == 0) {
            kind = CTX_FULL;
        } else if (sscanf(t, "tokens:%d%c", &n, &extra) == 1 && n >= 1) {
            kind = CTX_TOKENS;
        } else if (sscanf(t, "words:%d%c", &n, &extra) == 1 && n >= 1) {
            kind = CTX_WORDS;
        } else {
            char q[BASE_QUOTE_LEN];
            return base_errf(c->err, "%s: context.policy '%s' is not full, tokens:N or words:N (N >= 1)", c->file,
                             base_escape(q, sizeof q, t, strlen(t)));
        }
        cfg->context[i] = (ContextPolicy){.kind = kind,
                                          .n = n,
                                          .window = cfg->context_window,
                                          .overlap = cfg->context_overlap,
                                          .repr = (WordRepr)cfg->context_word,
                                          .batch_tokens = cfg->batch_tokens};
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->contexts.items[j], t) == 0) {
                char q[BASE_QUOTE_LEN];
                return base_errf(c->err, "%s: context.policy names '%s' twice", c->file,
                                 base_escape(q, sizeof q, t, strlen(t)));
            }
    }
    return 0;
}

static int validate(const Ctx *c, SweepConfig *cfg) {
    if (parse_policies(c, cfg)) return -1;
    char q[BASE_QUOTE_LEN];  // values quoted in messages
    if (cfg->n_models == 0) return base_errf(c->err, "%s: no models (add a 'models:' list)", c->file);
    if (cfg->rec_format == REC_IEEG) {
        if (!cfg->ieeg_bids[0])
            return base_errf(c->err, "%s: ieeg.bids is required with recordings.format: ieeg", c->file);
        if (cfg->n_ieeg_band != 2 || !(cfg->ieeg_band[1] > cfg->ieeg_band[0]))
            return base_errf(c->err, "%s: ieeg.band must be [low, high] in Hz with low < high", c->file);
        if (cfg->n_pmhg_left != cfg->n_pmhg_right || (cfg->n_pmhg_left != 0 && cfg->n_pmhg_left != 3))
            return base_errf(c->err, "%s: ieeg.pmhg_left and ieeg.pmhg_right must both be [x, y, z], or both empty",
                             c->file);
        if (cfg->design.extra_bands.n && !cfg->ieeg.continuous)
            return base_errf(c->err, "%s: design.extra_bands: word_rate is one per word with ieeg word responses (a "
                                     "constant); remove it, or use ieeg.output: continuous",
                             c->file);
        if (cfg->regions.n || cfg->files.n)
            return base_errf(c->err, "%s: recordings.regions and recordings.files are for text recordings; "
                                     "recordings.format: ieeg reads ieeg.bids",
                             c->file);
    } else if (cfg->rec_format == REC_BIDS_FMRI) {
        if (!cfg->fmri_bids[0])
            return base_errf(c->err, "%s: fmri.bids is required with recordings.format: bids_fmri", c->file);
        if (!cfg->fmri_space[0]) return base_errf(c->err, "%s: fmri.space is empty", c->file);
        if (cfg->fmri_atlas_labels[0] && !cfg->fmri_atlas[0])
            return base_errf(c->err, "%s: fmri.atlas_labels names the labels of fmri.atlas, which is empty", c->file);
        if (cfg->regions.n || cfg->files.n)
            return base_errf(c->err, "%s: recordings.regions and recordings.files are for text recordings; "
                                     "recordings.format: bids_fmri reads fmri.bids",
                             c->file);
    } else if (cfg->regions.n == 0) {
        return base_errf(c->err, "%s: recordings.regions is empty", c->file);
    } else if (cfg->files.n == 0) {
        return base_errf(c->err, "%s: recordings.files is empty", c->file);
    }
    if (cfg->design.n_delays == 0) return base_errf(c->err, "%s: design.delays is empty (use [0] for no delay)", c->file);
    for (size_t i = 0; i < cfg->design.extra_bands.n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->design.extra_bands.items[i], cfg->design.extra_bands.items[j]) == 0)
                return base_errf(c->err, "%s: design.extra_bands names '%s' twice", c->file,
                                 base_escape(q, sizeof q, cfg->design.extra_bands.items[i], strlen(cfg->design.extra_bands.items[i])));
    if (cfg->rec_format == REC_WORD_TEXT && cfg->design.extra_bands.n)
        return base_errf(c->err, "%s: design.extra_bands: word_rate is one per word with word_text recordings (a "
                         "constant); remove it", c->file);
    if (cfg->rec_format == REC_ROI_TEXT && !(cfg->tr > 0))
        return base_errf(c->err, "%s: recordings.tr is required (seconds between samples) for roi_text recordings",
                         c->file);
    if (cfg->ridge.n_alphas == 0) {
        if (cfg->ridge.alpha_log10_max < cfg->ridge.alpha_log10_min)
            return base_errf(c->err, "%s: ridge.alpha_log10_max is below ridge.alpha_log10_min", c->file);
        cfg->ridge.n_alphas = cfg->ridge.alpha_count;
        base_logspace(cfg->ridge.alphas, cfg->ridge.alpha_log10_min, cfg->ridge.alpha_log10_max, cfg->ridge.n_alphas);
    } else {
        for (size_t i = 1; i < cfg->ridge.n_alphas; i++)
            if (cfg->ridge.alphas[i] <= cfg->ridge.alphas[i - 1])
                return base_errf(c->err, "%s: ridge.alphas must be ascending", c->file);
    }
    for (size_t i = 0; i < cfg->design.extra_bands.n; i++)
        if (strcmp(cfg->design.extra_bands.items[i], "word_rate") != 0)
            return base_errf(c->err, "%s: design.extra_bands: '%s' is not a known band (known: word_rate)", c->file,
                             base_escape(q, sizeof q, cfg->design.extra_bands.items[i], strlen(cfg->design.extra_bands.items[i])));
    if (cfg->context_overlap >= 0 && cfg->context_window > 0 && cfg->context_overlap >= cfg->context_window - 1)
        return base_errf(c->err, "%s: context.overlap (%d) must be below context.window - 1 (%d)", c->file,
                         cfg->context_overlap, cfg->context_window - 1);
    return cfg->rec_format == REC_IEEG || cfg->rec_format == REC_BIDS_FMRI ? 0 : expand_files(c, cfg);
}

// the option structs' fields that are not a key of their own: strings that live in the config, and values the
// file gives in other units or shapes
static void fill_options(SweepConfig *cfg) {
    StimOptions *so = &cfg->stim;
    so->tier = cfg->tier;
    so->word_column = cfg->word_column;
    so->onset_column = cfg->onset_column[0] ? cfg->onset_column : NULL;  // NULL: the table reader's default
    so->offset_column = cfg->offset_column[0] ? cfg->offset_column : NULL;
    so->skip = (const char *const *)cfg->skip_labels.items;
    so->n_skip = cfg->skip_labels.n;
    IeegOptions *io = &cfg->ieeg;
    io->bids_root = cfg->ieeg_bids;
    io->task = cfg->ieeg_task;
    io->stim_event = cfg->ieeg_event;
    io->atlas = cfg->ieeg_atlas;
    io->band_lo = cfg->ieeg_band[0];
    io->band_hi = cfg->ieeg_band[1];
    io->window = cfg->ieeg_window_ms / 1000;
    io->has_pmhg = cfg->n_pmhg_left == 3;
}

int config_load(const char *path, const char *const *overrides, size_t n_overrides, SweepConfig *cfg, char *err) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->source, sizeof cfg->source, "%s", path);
    Ctx c = {.file = path, .err = err};
    size_t len;
    cfg->text = base_read_file(path, &len, err);
    if (!cfg->text) return -1;

    int set[N_PARAMS] = {0};
    for (size_t i = 0; i < N_PARAMS; i++)  // defaults first
        if (PARAMS[i].def && set_from_text(&c, cfg, &PARAMS[i], PARAMS[i].def)) goto fail;

    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)cfg->text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        base_errf(err, "%s:%zu: not valid YAML: %s", path, (size_t)parser.problem_mark.line + 1,
                  parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        goto fail;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    size_t section_line[N_SECTIONS] = {0};  // where each section was given, 0: not yet
    if (!root || root->type != YAML_MAPPING_NODE) {
        rc = node_err(&c, root, "the config must be a mapping of sections (%s, ...)", SECTIONS[0]);
    }
    for (yaml_node_pair_t *pr = root && rc == 0 ? root->data.mapping.pairs.start : NULL;
         pr && pr < root->data.mapping.pairs.top && rc == 0; pr++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pr->key), *v = yaml_document_get_node(&doc, pr->value);
        if (k->type != YAML_SCALAR_NODE) {
            rc = node_err(&c, k, "section names must be plain words");
            break;
        }
        const char *sec = scalar(k);
        size_t si = 0;
        while (si < N_SECTIONS && strcmp(SECTIONS[si], sec) != 0) si++;
        // YAML lets a mapping repeat a key and libyaml keeps both; the last would silently win
        if (si < N_SECTIONS && section_line[si]) {
            rc = node_err(&c, k, "section '%s' is given twice (first at line %zu)", sec, section_line[si]);
            break;
        }
        if (si < N_SECTIONS) section_line[si] = (size_t)k->start_mark.line + 1;
        if (strcmp(sec, "models") == 0) {
            rc = set_models(&c, cfg, &doc, v);
            continue;
        }
        int known = si < N_SECTIONS;
        if (!known) {
            char hint[96];
            suggest(hint, sizeof hint, sec, SECTIONS, N_SECTIONS);
            char qs[BASE_QUOTE_LEN];
            rc = node_err(&c, k, "unknown section '%s'%s", base_escape(qs, sizeof qs, sec, strlen(sec)), hint);
            break;
        }
        if (v->type != YAML_MAPPING_NODE) {
            char qs[BASE_QUOTE_LEN];
            rc = node_err(&c, v, "section '%s' must be a mapping of keys",
                          base_escape(qs, sizeof qs, sec, strlen(sec)));
            break;
        }
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top && rc == 0; q++) {
            yaml_node_t *kk = yaml_document_get_node(&doc, q->key), *vv = yaml_document_get_node(&doc, q->value);
            const char *key = kk->type == YAML_SCALAR_NODE ? scalar(kk) : "?";
            const Param *p = find_param(sec, key);
            if (!p) {
                const char *names[N_PARAMS];
                size_t nn = 0;
                for (size_t i = 0; i < N_PARAMS; i++)
                    if (strcmp(PARAMS[i].section, sec) == 0) names[nn++] = PARAMS[i].key;
                char hint[96];
                suggest(hint, sizeof hint, key, names, nn);
                char qk[BASE_QUOTE_LEN];
                rc = node_err(&c, kk, "unknown key '%s' in section '%s'%s",
                              base_escape(qk, sizeof qk, key, strlen(key)), sec, hint);
                break;
            }
            if (set[p - PARAMS]) {
                rc = node_err(&c, kk, "key '%s' is given twice in section '%s'", key, sec);
                break;
            }
            rc = set_param(&c, cfg, p, &doc, vv);
            set[p - PARAMS] = 1;
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc) goto fail;

    for (size_t i = 0; i < n_overrides; i++) {
        const char *o = overrides[i];
        const char *eq = strchr(o, '='), *dot = strchr(o, '.');
        if (!eq || !dot || dot > eq) {
            base_errf(err, "override '%s' is not section.key=value", o);
            goto fail;
        }
        char sec[64], key[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - o), o);
        snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
        const Param *p = find_param(sec, key);
        if (!p) {
            base_errf(err, "override '%s': no key %s.%s", o, sec, key);
            goto fail;
        }
        Ctx oc = {"-P override", err};
        if (set_from_text(&oc, cfg, p, eq + 1)) goto fail;
        set[p - PARAMS] = 1;
    }
    for (size_t i = 0; i < N_PARAMS; i++)
        if (!PARAMS[i].def && !set[i]) {
            base_errf(err, "%s: missing required key %s.%s (%s)", path, PARAMS[i].section, PARAMS[i].key,
                      PARAMS[i].doc);
            goto fail;
        }
    if (validate(&c, cfg)) goto fail;
    fill_options(cfg);
    return 0;
fail:
    config_free(cfg);
    return -1;
}

void config_free(SweepConfig *cfg) {
    free(cfg->text);
    free(cfg->models);
    strlist_free(&cfg->skip_labels);
    strlist_free(&cfg->regions);
    strlist_free(&cfg->files);
    strlist_free(&cfg->fmri_runs);
    strlist_free(&cfg->fmri_subjects);
    strlist_free(&cfg->fmri_confounds);
    strlist_free(&cfg->contexts);
    strlist_free(&cfg->design.extra_bands);
    memset(cfg, 0, sizeof *cfg);
}

// ----------------------------------------------------------------------------
// printing

typedef struct {
    char *s;
    size_t n, cap;
} Buf;

static void bprintf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(Buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (b->s && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = 2 * (b->cap + (size_t)k) + 256;
        b->s = base_realloc(b->s, b->cap, "text");
        if (b->n == 0) b->s[0] = '\0';
    }
}

static void yaml_quoted(Buf *b, const char *s) {
    bprintf(b, "\"");
    for (; *s; s++) bprintf(b, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    bprintf(b, "\"");
}

static void print_value(Buf *b, const SweepConfig *cfg, const Param *p) {
    const char *field = (const char *)cfg + p->offset;
    switch (p->type) {
    case P_INT: bprintf(b, "%d", *(const int *)field); break;
    case P_BOOL: bprintf(b, "%s", *(const int *)field ? "true" : "false"); break;
    case P_SIZE: bprintf(b, "%zu", *(const size_t *)field); break;
    case P_DOUBLE: bprintf(b, "%.17g", *(const double *)field); break;
    case P_STRING: yaml_quoted(b, field); break;
    case P_ENUM: {
        const char *ch = p->choices;
        for (int i = 0; i < *(const int *)field; i++) ch += strcspn(ch, "|") + 1;
        bprintf(b, "%.*s", (int)strcspn(ch, "|"), ch);
        break;
    }
    case P_STR_LIST: {
        const StrList *l = (const StrList *)field;
        bprintf(b, "[");
        for (size_t i = 0; i < l->n; i++) {
            if (i) bprintf(b, ", ");
            yaml_quoted(b, l->items[i]);
        }
        bprintf(b, "]");
        break;
    }
    case P_INT_LIST:
    case P_DOUBLE_LIST: {
        size_t n = *(const size_t *)((const char *)cfg + p->count_offset);
        bprintf(b, "[");
        for (size_t i = 0; i < n; i++) {
            if (p->type == P_INT_LIST) bprintf(b, "%s%d", i ? ", " : "", ((const int *)field)[i]);
            else bprintf(b, "%s%.17g", i ? ", " : "", ((const double *)field)[i]);
        }
        bprintf(b, "]");
        break;
    }
    }
}

// keys that change how a sweep runs, never what it computes
static int run_only(const Param *p) {
    return strcmp(p->section, "run") == 0 || (strcmp(p->section, "output") == 0 && strcmp(p->key, "path") == 0) ||
           (strcmp(p->section, "ridge") == 0 && strcmp(p->key, "memory_gib") == 0) ||
           (strcmp(p->section, "features") == 0 && strcmp(p->key, "cache_dir") == 0) ||
           (strcmp(p->section, "ieeg") == 0 && strcmp(p->key, "responses") == 0);
}

static char *resolved_yaml(const SweepConfig *cfg, int results_only) {
    Buf b = {0};
    if (!results_only)
        bprintf(&b, "# resolved from %s: defaults filled in, globs expanded, alpha grid explicit\n", cfg->source);
    bprintf(&b, "models:\n");
    for (size_t i = 0; i < cfg->n_models; i++) {
        bprintf(&b, "  - {name: ");
        yaml_quoted(&b, cfg->models[i].name);
        bprintf(&b, ", path: ");
        yaml_quoted(&b, cfg->models[i].path);
        bprintf(&b, "}\n");
    }
    const char *section = "";
    for (size_t i = 0; i < N_PARAMS; i++) {
        const Param *p = &PARAMS[i];
        if (results_only && run_only(p)) continue;
        if (strcmp(p->section, section) != 0) bprintf(&b, "%s:\n", section = p->section);
        bprintf(&b, "  %s: ", p->key);
        print_value(&b, cfg, p);
        bprintf(&b, "\n");
    }
    return b.s;
}

char *config_resolved_yaml(const SweepConfig *cfg) { return resolved_yaml(cfg, 0); }
char *config_identity_yaml(const SweepConfig *cfg) { return resolved_yaml(cfg, 1); }

char *config_doc_markdown(void) {
    Buf b = {0};
    bprintf(&b, "# Configuration keys\n\nGenerated by `brainsweep config-doc` from the table in host/config.c; "
                "`make docs-check` fails when this file drifts from it.\n\n"
                "A config is one YAML file. `models:` is a list of `{name, path}` (name defaults to the file stem; "
                "a path is a GGUF file or a Hugging Face checkpoint folder, see docs/models.md); every other "
                "section is a mapping of the keys below. Relative paths are taken from the working directory. "
                "Override any key on the command line with `-P section.key=value`.\n\n"
                "| key | type | default | meaning |\n|---|---|---|---|\n");
    static const char *tn[] = {"integer",          "integer",         "number", "string", "choice", "list of strings",
                               "list of integers", "list of numbers", "true/false"};
    for (size_t i = 0; i < N_PARAMS; i++) {
        const Param *p = &PARAMS[i];
        bprintf(&b, "| `%s.%s` | %s", p->section, p->key, tn[p->type]);
        if (p->type == P_ENUM) {
            bprintf(&b, " (");
            for (const char *ch = p->choices; *ch; ch++) bprintf(&b, *ch == '|' ? ", " : "%c", *ch);
            bprintf(&b, ")");
        }
        else if (p->min != p->max && p->type != P_DOUBLE_LIST) bprintf(&b, " in [%g, %g]", p->min, p->max);
        bprintf(&b, " | %s | %s |\n", p->def ? p->def : "**required**", p->doc);
    }
    return b.s;
}
