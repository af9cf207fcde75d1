/*
 * analyze: `brainsweep analyze RESULTS.h5 [options]` — the reference study's analyses of a finished
 * sweep (host/analysis), written into the same file under /analysis (docs/results-format.md).
 *
 * Serial HDF5 and no MPI calls: the binary is an MPI program, but analysing one file needs one
 * process. The results file is read and validated whole before anything is written; /analysis is
 * then written under a temporary group name, the old /analysis (from an earlier run) is deleted and
 * the new one renamed into place, so a rerun replaces it and a failure never leaves half of one.
 *
 * Options (defaults in brackets): --bins N quantile bins of distance [6]; --benchmarks FILE.csv a table
 * whose first column names models and which has a column `Average`; --bootstrap B resamples of the
 * electrodes [1000]; --permutations P [1000]; --seed S [1]; --fdr Q significance level [0.05];
 * --features DIR featcache files for CKA [features.cache_dir of the sweep's config];
 * --shuffle-distances SEED permute the electrodes' distances before the hierarchy analysis (the null
 * control: no hierarchy should be found).
 *
 * Returns the process exit code: 0, 1 (a file that is not a complete results file, an unreadable
 * benchmark table; one message naming the file, the results file unmodified) or 2 (usage).
 */
#ifndef HOST_ANALYZE_H
#define HOST_ANALYZE_H

int analyze_run(int argc, char **argv);

#endif  // HOST_ANALYZE_H
