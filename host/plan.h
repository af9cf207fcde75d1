/*
 * plan: `brainsweep plan CONFIG.yaml` — a sweep made ready for a Slurm cluster before anything is submitted.
 *
 * It reads what costs little (the config, the stimulus, each model's header and tokenizer, the recordings' layout:
 * file names, or the BIDS runs' channel tables), checks the partition with `sinfo` where Slurm is installed (GPUs,
 * cores and memory per node), prints a cost estimate — core and GPU hours, wall time, memory per rank, disk for the
 * features, the unit store and the results — from the cost model of docs/slurm.md, calibrated on the figures of
 * docs/PERFORMANCE.md (2026-11-28), and writes the submission scripts for jobs/sweep.sbatch (one MPI job) and
 * jobs/array.sbatch + jobs/merge.sbatch (a job array and its merge), with the resources filled in. It submits
 * nothing.
 *
 * Bad input (a config error, a missing model or stimulus, recordings that are not there, an output folder that
 * cannot be written, more GPUs per node than the partition has, an unknown partition) stops with one message and
 * exit status 1 before anything is written. One process, no MPI. Returns the process exit status.
 */
#ifndef HOST_PLAN_H
#define HOST_PLAN_H

#include <stddef.h>

typedef struct {
    const char *config_path;
    const char *const *overrides;  // "section.key=value", passed on to every job too
    size_t n_overrides;
    int gpus;                      // GPUs per node, one rank each; 0 = a CPU job (2 ranks per node)
    int nodes;                     // nodes of the MPI job; 0 = 1
    int cpus;                      // cores per node; 0 = the partition's (sinfo), else this machine's
    const char *partition;         // NULL = the cluster's default partition
    const char *out_dir;           // NULL = <config without .yaml>-slurm/ beside the config
    int per_context;               // array: one task per model x context (default: per model)
} PlanOptions;

int plan_run(const PlanOptions *opt);

// The cost model's fit times (docs/slurm.md, "The cost model"), in seconds on the calibration's 2 cores: the ridge
// fit of one layer (V samples, a design of width columns, T targets, nested alpha selection or not, folds outer
// folds) and its PCA (d features; per fold or on all samples; randomized or exact). Public so that tests check them
// against the table of that section.
double plan_ridge_seconds(double V, double width, double T, int inner, int folds);
double plan_pca_seconds(double V, double d, int per_fold, int randomized);

#endif  // HOST_PLAN_H
