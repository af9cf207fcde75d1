#include "host/cv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"

// segments from cv->block: a new segment starts where the block or the set of blocks within gap
// changes. near(i) is computed with one pass of per-block counts over the window [i - gap, i + gap].
static void build_segments(CvPlan *cv) {
    const size_t n = cv->n, g = cv->gap;
    const int K = cv->n_blocks;
    size_t *count = base_calloc((size_t)K, sizeof(size_t), "cv window counts");
    uint8_t *near = base_calloc(base_mul(n, (size_t)K), 1, "cv near blocks");
    size_t hi = 0;  // window [lo, hi) over samples
    for (size_t i = 0; i < n; i++) {
        while (hi < n && hi <= i + g) count[cv->block[hi++]]++;
        if (i > g) count[cv->block[i - g - 1]]--;
        for (int k = 0; k < K; k++) near[i * (size_t)K + (size_t)k] = count[k] > 0 && k != cv->block[i];
    }
    size_t n_seg = 0;
    size_t *start = base_malloc((n + 1) * sizeof(size_t), "cv segments");
    for (size_t i = 0; i < n; i++)
        if (i == 0 || cv->block[i] != cv->block[i - 1] || memcmp(near + i * K, near + (i - 1) * K, (size_t)K) != 0)
            start[n_seg++] = i;
    start[n_seg] = n;
    cv->n_seg = n_seg;
    cv->seg_start = start;
    cv->seg_block = base_malloc(n_seg * sizeof(int), "cv segments");
    cv->seg_near = base_malloc(base_mul(n_seg, (size_t)K), "cv segments");
    for (size_t s = 0; s < n_seg; s++) {
        cv->seg_block[s] = cv->block[start[s]];
        memcpy(cv->seg_near + s * K, near + start[s] * K, (size_t)K);
    }
    free(near);
    free(count);
}

int cv_plan_folds(CvPlan *cv, size_t n, int K, size_t gap, char *err) {
    memset(cv, 0, sizeof *cv);
    if (K < 2) return base_errf(err, "cross-validation needs at least 2 folds (got %d)", K);
    if (n < (size_t)K) return base_errf(err, "%zu samples cannot make %d folds", n, K);
    cv->n = n, cv->n_blocks = K, cv->gap = gap;
    cv->block = base_malloc(n * sizeof(int), "cv blocks");
    for (int k = 0; k < K; k++)
        for (size_t i = (size_t)k * n / (size_t)K; i < (size_t)(k + 1) * n / (size_t)K; i++) cv->block[i] = k;
    build_segments(cv);
    return 0;
}

int cv_plan_groups(CvPlan *cv, const int *label, size_t n, size_t gap, char *err) {
    memset(cv, 0, sizeof *cv);
    cv->n = n, cv->gap = gap;
    cv->block = base_malloc((n ? n : 1) * sizeof(int), "cv blocks");
    int *seen = NULL;  // labels in order of first appearance
    int K = 0;
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < K && seen[k] != label[i]) k++;
        if (k == K) {
            seen = base_realloc(seen, (size_t)(K + 1) * sizeof(int), "cv groups");
            seen[K++] = label[i];
        }
        cv->block[i] = k;
    }
    free(seen);
    cv->n_blocks = K;
    if (K < 2) {
        cv_free(cv);
        return base_errf(err, "leave-one-group-out needs at least 2 groups (got %d)", K);
    }
    build_segments(cv);
    return 0;
}

void cv_free(CvPlan *cv) {
    free(cv->block);
    free(cv->seg_start);
    free(cv->seg_block);
    free(cv->seg_near);
    memset(cv, 0, sizeof *cv);
}

void cv_split(const CvPlan *cv, int outer, int inner, uint8_t *train_seg, uint8_t *test_seg, size_t *n_train,
              size_t *n_test) {
    const size_t K = (size_t)cv->n_blocks;
    size_t ntr = 0, nte = 0;
    for (size_t s = 0; s < cv->n_seg; s++) {
        const uint8_t *near = cv->seg_near + s * K;
        int b = cv->seg_block[s];
        int in_outer_train = b != outer && !near[outer];
        int tr, te;
        if (inner < 0) {
            te = b == outer;
            tr = in_outer_train;
        } else {
            te = in_outer_train && b == inner;
            tr = in_outer_train && b != inner && !near[inner];
        }
        size_t len = cv->seg_start[s + 1] - cv->seg_start[s];
        train_seg[s] = (uint8_t)tr;
        test_seg[s] = (uint8_t)te;
        ntr += tr ? len : 0;
        nte += te ? len : 0;
    }
    *n_train = ntr;
    *n_test = nte;
}

int cv_check(const CvPlan *cv, int nested, size_t min_train, size_t min_test, char *err) {
    uint8_t *tr = base_malloc(cv->n_seg * 2 + 1, "cv masks"), *te = tr + cv->n_seg;
    int rc = 0;
    for (int k = 0; k < cv->n_blocks && rc == 0; k++)
        for (int j = -1; j < (nested ? cv->n_blocks : 0) && rc == 0; j++) {
            if (j == k) continue;
            size_t ntr, nte;
            cv_split(cv, k, j, tr, te, &ntr, &nte);
            if (ntr < min_train || nte < min_test) {
                char which[64];
                if (j < 0) snprintf(which, sizeof which, "fold %d", k + 1);
                else snprintf(which, sizeof which, "inner fold %d of fold %d", j + 1, k + 1);
                rc = base_errf(err, "%s trains on %zu and holds out %zu samples (gap %zu); need at least %zu and %zu",
                               which, ntr, nte, cv->gap, min_train, min_test);
            }
        }
    free(tr);
    return rc;
}
