#!/usr/bin/env python3
"""Make the numpy/scikit-learn reference of one fMRI fit of tests/e2e/test_sweep.sh.

The fit is one subject of jobs/presets/test-stories260k.yaml (stories260K on the Alice chapter), every hidden
state of the model against the subject's six regions. Everything after the word features is done here, with
numpy, scipy and scikit-learn, from docs/design.md ("Design", "Ridge") and not from brainsweep's code:

  - words to volumes: a word's features go to the volume its midpoint falls in (volume j covers
    [20 + 2j, 20 + 2(j + 1)) s on the TextGrid's clock), summed;
  - each column z-scored over the volumes (population sd; a constant column becomes 0);
  - delays of 1-4 volumes, zeros before the start;
  - high-pass, features and recordings alike: the discrete cosine basis with periods above 128 s, as SPM's
    spm_filter (K = floor(2 V TR / 128) + 1 functions, the constant included), projected out;
  - the design centred and divided by one common factor, the root of its columns' mean variance; the
    recordings z-scored per region;
  - 5 contiguous folds, block k holding samples floor(k V / 5) .. floor((k + 1) V / 5) - 1;
  - per outer fold and region, the alpha of the grid 10^0 .. 10^8 (17 values) of least squared error pooled
    over the other four blocks (each held out from a fit on the remaining three; the larger alpha on ties),
    then sklearn's Ridge (with intercept) refitted on the whole training set with that alpha and scored by
    the Pearson r of the held-out block; r averaged over the folds, alpha as the geometric mean.

The word features are the input: brainsweep's features cache of the same sweep (the extraction itself is
checked against Hugging Face transformers by tests/host/test_decoder.c), with the word times it stored in the
results file. Run from the repository root after a sweep that keeps them:

    build/brainsweep sweep jobs/presets/test-stories260k.yaml -P output.path=OUT/results.h5 \\
        -P features.cache_dir=OUT/features
    python tests/golden/make_sweep_fmri_fixture.py OUT/results.h5 OUT/features/stories260K-*.h5

Writes tests/fixtures/sweep-fmri/reference.tsv: one row per (hidden state, region) with r, alpha and tie_dr
(how much r could move where some fold's choice was within a float tie of the next alpha), after comment
lines giving the versions and the subject.
"""
import os
import sys

import h5py
import numpy as np
import scipy
import scipy.fft
import sklearn
from sklearn.linear_model import Ridge

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "sweep-fmri", "reference.tsv"))
SUBJECT = 0  # index into /subjects of the results file
T0, TR, DELAYS, HIGHPASS, FOLDS = 20.0, 2.0, (1, 2, 3, 4), 128.0, 5
ALPHAS = np.logspace(0, 8, 17)
TIE = 1e-5  # relative gap of pooled errors below which float32 and float64 arithmetic may choose differently


def zscore(a):
    sd = a.std(axis=0)
    z = np.zeros_like(a)
    ok = sd > 0
    z[:, ok] = (a[:, ok] - a[:, ok].mean(axis=0)) / sd[ok]
    return z


def highpass(a):
    v = a.shape[0]
    k = min(int(np.floor(2 * v * TR / HIGHPASS)) + 1, v)
    basis = scipy.fft.idct(np.eye(v), norm="ortho", axis=0)[:, :k]  # column k: the k-th DCT-II function
    return a - basis @ (basis.T @ a)


def design(words, mid, v):
    x = np.zeros((v, words.shape[1]))
    j = np.floor((mid - T0) / TR).astype(np.int64)
    keep = (mid >= T0) & (j < v)
    np.add.at(x, j[keep], words[keep])
    x = zscore(x)
    lagged = np.zeros((v, len(DELAYS) * x.shape[1]))
    for i, d in enumerate(DELAYS):
        lagged[d:, i * x.shape[1]:(i + 1) * x.shape[1]] = x[: v - d]
    lagged = highpass(lagged)
    lagged -= lagged.mean(axis=0)
    return lagged / np.sqrt((lagged ** 2).mean())


def pearson(a, b):
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    return (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))


def fit(x, y, block):
    """Per target: mean r, geometric-mean alpha, and where a fold's choice was within a float tie of the
    runner-up (pooled errors within a relative TIE), how much the mean r would move with the runner-up instead."""
    r, log_alpha, tie_dr = np.zeros(y.shape[1]), np.zeros(y.shape[1]), np.zeros(y.shape[1])
    for k in range(FOLDS):
        train, test = block != k, block == k
        sse = np.zeros((len(ALPHAS), y.shape[1]))
        for j in range(FOLDS):
            if j == k:
                continue
            inner, held = train & (block != j), block == j
            for a, alpha in enumerate(ALPHAS):
                pred = Ridge(alpha=alpha).fit(x[inner], y[inner]).predict(x[held])
                sse[a] += ((y[held] - pred) ** 2).sum(axis=0)
        best = len(ALPHAS) - 1 - np.argmin(sse[::-1], axis=0)  # the larger alpha on ties
        fold_r = pearson(Ridge(alpha=ALPHAS[best]).fit(x[train], y[train]).predict(x[test]), y[test])
        r += fold_r / FOLDS
        log_alpha += np.log(ALPHAS[best]) / FOLDS
        for t in range(y.shape[1]):
            others = np.delete(np.arange(len(ALPHAS)), best[t])
            second = others[np.argmin(sse[others, t])]
            if sse[second, t] - sse[best[t], t] <= TIE * sse[best[t], t]:
                alt = Ridge(alpha=ALPHAS[second]).fit(x[train], y[train, t]).predict(x[test])
                tie_dr[t] += abs(pearson(alt[:, None], y[test, t:t + 1])[0] - fold_r[t]) / FOLDS
    return r, np.exp(log_alpha), tie_dr


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with h5py.File(sys.argv[1], "r") as f:
        mid = 0.5 * (f["stimulus/onset"][:] + f["stimulus/offset"][:])
        subject = f["subjects/name"][SUBJECT].decode()
        rec_file = f["subjects/file"][SUBJECT].decode()
        regions = [s.decode() for s in f["regions/name"][:]]
    with h5py.File(sys.argv[2], "r") as f:
        feats = f["features"][:].astype(np.float64)  # (L + 1, W, D)
    y = np.loadtxt(rec_file)
    v = y.shape[0]
    y = zscore(highpass(y))
    block = np.zeros(v, dtype=np.int64)
    for k in range(FOLDS):
        block[k * v // FOLDS:(k + 1) * v // FOLDS] = k
    rows = []
    for layer in range(feats.shape[0]):
        r, alpha, tie_dr = fit(design(feats[layer], mid, v), y, block)
        rows += [f"{layer}\t{regions[t]}\t{r[t]:.7f}\t{alpha[t]:.6g}\t{tie_dr[t]:.2g}" for t in range(len(regions))]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as out:
        out.write(f"# made by tests/golden/make_sweep_fmri_fixture.py: numpy {np.__version__}, scipy "
                  f"{scipy.__version__}, scikit-learn {sklearn.__version__}\n")
        out.write(f"# subject {subject} ({rec_file}), index {SUBJECT}; {v} volumes, {len(mid)} words\n")
        out.write(f"# tie_dr: how far r moves where a fold's alpha was within a relative {TIE:g} of the next best "
                  f"(0: no such tie, and the alpha must match)\n")
        out.write("layer\tregion\tr\talpha\ttie_dr\n" + "\n".join(rows) + "\n")
    print(f"wrote {OUT} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
