/*
 * record: the names of one fitted layer's record, shared by the code that fills it (the fit units),
 * keeps it (the unit store), sums it (the sweep's closing lines) and writes it (the results file).
 *
 * Values: RECORD_SCORE_ROWS rows of T floats, in RecordRow order, then the P rows of the refit
 * weights (REC_BETA onwards; absent when the weights are not stored). Counters: FitCounter order.
 * The order is the unit store's record format (host/store.h): records written in another order read as
 * another sweep's.
 */
#ifndef HOST_RECORD_H
#define HOST_RECORD_H

typedef enum {
    REC_R,          // held-out Pearson r, mean over outer folds
    REC_R2,         // held-out R^2, mean over outer folds
    REC_ALPHA,      // the chosen ridge penalty
    REC_P,          // p of the shift null (NaN without permutations)
    REC_Q,          // Benjamini-Hochberg q over the fit's targets
    REC_INTERCEPT,  // intercept of the refit on all samples (NaN without weights)
    REC_BETA,       // first of the P weight rows
    RECORD_SCORE_ROWS = REC_BETA
} RecordRow;

typedef enum {
    FIT_EDGE_LOW,   // alpha choices at the smallest alpha of the grid
    FIT_EDGE_HIGH,  // ... at the largest
    FIT_CHOICES,    // alpha choices (target x outer fold)
    FIT_DUAL,       // splits solved in the dual form (more features than training samples)
    FIT_SPLITS,     // splits solved
    FIT_GFLOP,      // arithmetic of the fit
    FIT_SECONDS,    // wall time of the fit
    FIT_N_COUNTERS
} FitCounter;

#endif  // HOST_RECORD_H
