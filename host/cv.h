/*
 * cv: cross-validation splits as unions of segments, so a fit can build every split's statistics
 * from per-segment blocks read once.
 *
 * Samples belong to K blocks: contiguous folds of near-equal size, or groups given by a label per
 * sample (leave one story or run out). Split k holds block k out; its training set drops the held-
 * out samples and every sample within `gap` positions of one (autocorrelated neighbours would leak
 * the test data into the fit). Nested splits (k, j), j != k, live inside split k's training set:
 * held out are the samples of block j that split k trains on, trained on is what split k trains on
 * minus block j and the gap around it.
 *
 * A segment is a maximal run of consecutive samples with the same block and the same set of blocks
 * within `gap` of each of them; every split's training and held-out sets are unions of segments.
 * Ownership: CvPlan owns its arrays (cv_free). Errors: -1 with err naming the problem.
 */
#ifndef HOST_CV_H
#define HOST_CV_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;           // samples
    int n_blocks;       // K
    size_t gap;
    int *block;         // (n) block of each sample, 0..K-1
    size_t n_seg;
    size_t *seg_start;  // (n_seg + 1) segment s is samples [seg_start[s], seg_start[s+1])
    int *seg_block;     // (n_seg)
    uint8_t *seg_near;  // (n_seg, K) 1 when a sample of block k lies within gap of the segment (own block excluded)
} CvPlan;

// K contiguous folds of near-equal size (fold k: samples [k n / K, (k+1) n / K))
int cv_plan_folds(CvPlan *cv, size_t n, int K, size_t gap, char *err);
// one block per distinct label, numbered in order of first appearance
int cv_plan_groups(CvPlan *cv, const int *label, size_t n, size_t gap, char *err);
void cv_free(CvPlan *cv);

// Segment masks of split `outer` (inner < 0) or of nested split (outer, inner): train_seg and
// test_seg (n_seg) set to 1 for the segments in each set. Returns the (training, held-out) sample
// counts through n_train and n_test.
void cv_split(const CvPlan *cv, int outer, int inner, uint8_t *train_seg, uint8_t *test_seg, size_t *n_train,
              size_t *n_test);

// Check that every outer split, and with nested > 0 every nested split, holds out at least
// min_test samples and trains on at least min_train. -1 with err naming the first that does not.
int cv_check(const CvPlan *cv, int nested, size_t min_train, size_t min_test, char *err);

#endif  // HOST_CV_H
