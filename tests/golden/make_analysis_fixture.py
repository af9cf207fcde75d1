#!/usr/bin/env python3
"""Make the numpy/scipy reference of tests/host/test_analysis.c (host/analysis.c) on random inputs.

The fixture is committed; the test only reads it. Run this again only when a definition changes:

    python tests/golden/make_analysis_fixture.py        # numpy, scipy, h5py

Every answer is computed here independently of the C code, with numpy and scipy where they have the
statistic (scipy.stats.pearsonr, numpy.percentile, scipy.stats.false_discovery_control) and by the
definitions of host/analysis.h where they do not (centre of mass, quantile bins, linear CKA). The
bootstrap resamples and the permutations come from the same splitmix64 stream as the C code (written
out below), so the C test compares them exactly instead of within a Monte Carlo tolerance.

Writes tests/fixtures/analysis/reference.h5: inputs (r, r_b, p, group, dist, x, y, X, Y) and outputs
(everything else), with the parameters as root attributes.
"""
import os
import warnings

import h5py
import numpy as np
import scipy.stats

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "analysis", "reference.h5"))
MASK = (1 << 64) - 1


class SplitMix64:
    """host/analysis.h's stream: next, below(n) = next % n, Fisher-Yates shuffle."""

    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def shuffle(self, a):
        for i in range(len(a) - 1, 0, -1):
            j = self.below(i + 1)
            a[i], a[j] = a[j], a[i]


def finite_pairs(x, y):
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def permutation_p(x, y, n_perm, seed):
    xs, ys = finite_pairs(x, y)
    r = scipy.stats.pearsonr(xs, ys).statistic
    rng, ys = SplitMix64(seed), list(ys)
    count = 0
    for _ in range(n_perm):
        rng.shuffle(ys)
        count += abs(scipy.stats.pearsonr(xs, np.array(ys)).statistic) >= abs(r) - 1e-12
    return r, (count + 1) / (n_perm + 1)


def bootstrap_curve(r, B, seed, level):
    L, E = r.shape
    rng = SplitMix64(seed)
    means = np.empty((B, L))
    for b in range(B):
        idx = [rng.below(E) for _ in range(E)]
        means[b] = np.nanmean(r[:, idx], axis=1)
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    return np.percentile(means, q, axis=0)  # (2, L), linear interpolation


def peaks(r):
    peak = np.argmax(np.where(np.isfinite(r), r, -np.inf), axis=0)
    best = r[peak, np.arange(r.shape[1])]
    lo, hi = np.nanmin(r, axis=0), np.nanmax(r, axis=0)
    w = (r - lo) / (hi - lo)
    layers = np.arange(r.shape[0])[:, None]
    com = np.nansum(w * layers, axis=0) / np.nansum(w, axis=0)
    return peak, best, com


def quantile_bins(x, nb):
    bins = np.full(len(x), -1)
    finite = np.flatnonzero(np.isfinite(x))
    order = finite[np.argsort(x[finite], kind="stable")]
    bins[order] = np.arange(len(order)) * nb // len(order)
    return bins


def group_means(v, group, G):
    return np.array([np.nanmean(v[..., group == g], axis=-1) for g in range(G)]).T


def cka(X, Y):
    X = X.astype(np.float64) - X.mean(axis=0)
    Y = Y.astype(np.float64) - Y.mean(axis=0)
    return np.linalg.norm(X.T @ Y) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y))


def main():
    warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of an all-NaN electrode is meant to be NaN
    g = np.random.default_rng(20260915)
    L, E, LB, G, nb, W, da, db = 7, 40, 4, 4, 5, 60, 12, 9
    n_perm, B, level, seed = 400, 300, 0.95, 17

    # scores with a peak that moves with "distance", some noise, and holes
    dist = g.uniform(5, 80, E)
    planted = np.clip(np.round(dist / 80 * (L - 1)), 0, L - 1)
    layers = np.arange(L)[:, None]
    r = 0.3 * np.exp(-0.5 * ((layers - planted) / 1.5) ** 2) + 0.05 * g.standard_normal((L, E))
    r[2, 5] = np.nan
    r[:, 7] = np.nan  # an electrode without any score
    dist[11] = np.nan
    r_b = 0.2 * np.exp(-0.5 * ((np.arange(LB)[:, None] - planted * (LB - 1) / (L - 1)) / 1.0) ** 2) \
        + 0.05 * g.standard_normal((LB, E))
    p = g.uniform(0, 0.02, (L, E)) ** g.uniform(0.5, 3, E)
    group = g.integers(-1, G, E)
    x = g.standard_normal(30)
    y = 0.4 * x + g.standard_normal(30)
    x[3] = np.nan
    X = g.standard_normal((W, da)).astype(np.float32)
    Y = (X[:, :db] @ g.standard_normal((db, db)) + 0.5 * g.standard_normal((W, db))).astype(np.float32)
    Y += 3.0  # an offset the centring must remove

    peak, best, com = peaks(r)
    curve = np.nanmean(r, axis=1)
    lohi = bootstrap_curve(r, B, seed, level)
    pearson_r, pearson_p = permutation_p(x, y, n_perm, seed)

    # hierarchy: the electrodes with a distance and a peak layer
    layer = np.where(np.isfinite(best), peak, np.nan).astype(np.float64)
    d = np.where(np.isfinite(layer), dist, np.nan)
    bins = quantile_bins(d, nb)
    bin_dist, bin_layer = group_means(d, bins, nb), group_means(layer, bins, nb)
    h_r, h_p = permutation_p(d, layer, n_perm, seed)
    hb_r, hb_p = permutation_p(bin_dist, bin_layer, n_perm, seed + 1)

    # per-electrode significance: best layer's p, Bonferroni over L, BH over electrodes
    pb = np.full(E, np.nan)
    ok = np.isfinite(best)
    pb[ok] = np.minimum(1, p[peak[ok], np.flatnonzero(ok)] * L)
    q = np.full(E, np.nan)
    q[ok] = scipy.stats.false_discovery_control(pb[ok], method="bh")

    profile = np.full((L, LB), np.nan)
    for a in range(L):
        for b in range(LB):
            profile[a, b] = scipy.stats.pearsonr(*finite_pairs(r[a], r_b[b])).statistic

    first95 = int(np.flatnonzero(curve >= 0.95 * np.nanmax(curve))[0])

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with h5py.File(OUT, "w") as f:
        for k, v in dict(L=L, E=E, LB=LB, G=G, nb=nb, W=W, da=da, db=db, n_perm=n_perm, B=B, level=level,
                         seed=seed).items():
            f.attrs[k] = v
        for k, v in dict(r=r, r_b=r_b, p=p, dist=dist, x=x, y=y, curve=curve, ci_lo=lohi[0], ci_hi=lohi[1],
                         best=best, com=com, bin_dist=bin_dist, bin_layer=bin_layer, q=q, profile=profile,
                         group_curves=group_means(r, group, G),
                         pearson=[pearson_r, pearson_p], hierarchy=[h_r, h_p, hb_r, hb_p],
                         brain=[np.nanmean(best), np.nanmax(curve)], cka=[cka(X, Y), cka(X, X[:, :5])]).items():
            f[k] = np.asarray(v, dtype=np.float64)
        for k, v in dict(group=group, peak=np.where(np.isfinite(best), peak, -1), bins=bins,
                         best_match=np.nanargmax(profile, axis=1), first95=[first95],
                         best_layer=[int(np.nanargmax(curve))]).items():
            f[k] = np.asarray(v, dtype=np.int32)
        f["X"], f["Y"] = X, Y
    print(f"wrote {OUT}: hierarchy r {h_r:.3f} p {h_p:.4f}, cka {cka(X, Y):.4f}, pearson p {pearson_p:.4f}")


if __name__ == "__main__":
    main()
