/*
 * planning: what `brainsweep sweep` and `brainsweep plan` both decide before any unit runs, so the two
 * never disagree — each model's story tokenised once (the extraction units run from these tokens,
 * extract_from_tokens) and its context policies resolved, the cost of
 * each unit and the order units are handed out in (costliest first), and whether the outputs can be
 * written.
 *
 * Costs are estimates for ordering and for the plan's hours: an extraction unit costs 2 x (the layers'
 * matrix parameters) x (tokens run under its policy) FLOPs; a layer's fit V·d² for its PCA plus V·w·(w + T)
 * for its ridge (V samples, d features, w design columns, T targets).
 *
 * Ownership: planning_model fills a PlannedModel that owns its tokenizer, tokens, word spans and offsets
 * (planning_model_free).
 * Errors: -1 with err, one sentence naming the file or key. No MPI, no global state.
 */
#ifndef HOST_PLANNING_H
#define HOST_PLANNING_H

#include <stddef.h>
#include <stdint.h>

#include "host/base.h"
#include "host/config.h"
#include "host/extract.h"
#include "host/fmri.h"
#include "host/model.h"
#include "host/stimulus.h"
#include "host/tokenizer.h"

// one model as both commands see it before anything runs
typedef struct {
    ModelConfig cfg;
    int final_dim;                           // width of the last hidden state (OPT's projection), else d_model
    double stored_bytes;                     // the checkpoint as stored
    DType weight_dtype;                      // the layers' matrices as stored (model_weight_dtype)
    size_t *offset;                          // (L+1) where each hidden state's (W, dim) block starts (extract.h)
    size_t states_floats;                    // all of them
    Tokenizer *tok;
    TokenSeq story;                          // the stimulus text, tokenised once (BOS first where the model has one)
    size_t n_tokens;                         // the story's tokens, BOS excluded
    int bos;                                 // 1 when the model starts sequences with BOS
    int64_t *first, *last;                   // (W) each word's first and last token, counted after BOS
    char empty_word[BASE_ERR_LEN];           // a word without tokens (the model cannot extract); "" when none
    double tokenize_seconds;
    char long_word[BASE_ERR_LEN];            // the longest word above stimulus.max_word_tokens; "" when none
    ContextPolicy policy[CFG_MAX_CONTEXTS];  // context.policy, resolved against the model
    double tokens_run[CFG_MAX_CONTEXTS];     // per policy: tokens through the model, BOS and overlaps included
    double extract_flops[CFG_MAX_CONTEXTS];  // per policy: the extraction's cost
} PlannedModel;

// Model m of the config: header, tokenizer (against the embedding's rows), the story's tokens, the long-word
// check (an error with stimulus.long_words: error) and every policy resolved. Weights are mapped, never read.
int planning_model(const SweepConfig *c, size_t m, const Stimulus *st, PlannedModel *pm, char *err);
void planning_model_free(PlannedModel *pm);

// matrix parameters of the layers: what each token multiplies through
double planning_matrix_params(const ModelConfig *c);
// tokens through the model under a resolved policy: the chunks of `full` (BOS and overlaps included), or one
// sequence per word
double planning_tokens_run(const ContextPolicy *p, size_t n_tokens, size_t W, int bos);
// Stages a model's forward pass is split into by layer ranges (decoder_stage_layers): `configured` when above 0
// (run.pipeline_stages), else the fewest whose share of the stored checkpoint fits budget_bytes (a rank's
// run.max_weight_gib); at least 1, at most the model's layers.
int planning_stages(int configured, double stored_bytes, double budget_bytes, int n_layers);
// one layer's fit
double planning_fit_cost(double V, double d, double width, double T, int pca);

// Units in hand-out order: indices into cost, costliest first, ties in index order (the same on every rank);
// sorted_cost gets their costs in that order. Caller frees.
size_t *planning_order(const double *cost, size_t n, double *sorted_cost);

// The folder path would be created in (path's parent, or path itself with is_dir) must be writable: checked
// on its nearest existing ancestor. what names the key in the message.
int planning_writable(const char *what, const char *path, int is_dir, char *err);

// subjects per group for run.group_gib (subjects as a unit axis of the fits): as many as keep a group's float32
// targets (V x subjects x R) within gib, at least 1; gib 0 = every subject
size_t planning_group_size(size_t V, size_t S, size_t R, double gib);

// bids_fmri: the runs a config selects, as host/fmri.h's query (pointers into c)
FmriQuery planning_fmri_query(const SweepConfig *c);

#endif  // HOST_PLANNING_H
