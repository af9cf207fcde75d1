/*
 * responsive: speech-responsive electrodes, as naplib-python's stats.responsive_ttest (2.6.0) decides them
 * (Mesgarani & Chang 2012), on one continuous recording.
 *
 * naplib takes a list of trials, each starting befaft[0] seconds before its sound onset and running to the
 * trial's end; per trial it subtracts the trial's mean (per channel), takes the samples in [-pre, 0) and
 * [0, post) around the onset, pools them over trials, runs scipy's ttest_ind (equal variances, two-sided;
 * statistic = pre minus post) per channel and corrects with Benjamini-Hochberg (mne, 'indep').
 *
 * Our recording is one series, and the onsets are the starts of speech after a pause. A trial here is what
 * an epoched naplib user would cut: onsets sorted, trial k = samples [o_k - npre, max(o_k + npost, o_{k+1} -
 * npre)), the last one running to the end of the series, with o = round(onset * rate), npre = round(pre *
 * rate), npost = round(post * rate) (nearest sample; Python's round differs only on exact halves). The trial
 * mean removes slow drifts between speech runs, as naplib's per-trial mean does. Onsets whose pre or post
 * window reaches outside the series are skipped (they still end the trial before them).
 * Our t is post minus pre (the sign naplib's "stat" has reversed): positive = more high gamma during speech.
 * tests/golden/make_highgamma_fixture.py cuts the trials this way and calls naplib's own function.
 *
 * Shapes: env (C, n) channel-major at `rate` Hz; onsets (K) seconds; t, p, q (C).
 * Errors: none; no usable onset or a constant channel gives NaN t, p and q (NaN p is left out of the FDR).
 * Threads: thread-safe (no shared state).
 */
#ifndef HOST_RESPONSIVE_H
#define HOST_RESPONSIVE_H

#include <stddef.h>

// Per channel: t (post minus pre), p (two-sided), q (BH over the C channels). Returns the number of onsets used.
size_t resp_ttest(const float *env, size_t C, size_t n, double rate, const double *onsets, size_t K, double pre,
                  double post, double *t, double *p, double *q);

// Two-sided p-value of Student's t with df > 0 degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2) by the continued
// fraction of the regularised incomplete beta; 1e-10 relative accuracy or better for df in [1, 1e7]. NaN t or
// df <= 0: NaN.
double resp_t_pvalue(double t, double df);

#endif  // HOST_RESPONSIVE_H
