#!/usr/bin/env python3
"""Make the naplib references of tests/host/test_highgamma.c: the high-gamma envelope and the responsive t-test.

The fixtures are committed; the test only reads them. Run this again only when a reference changes:

    pip install --no-deps naplib==2.6.0     # in a virtual environment, plus numpy, scipy, joblib, tqdm, mpmath
    python tests/golden/make_highgamma_fixture.py

naplib's package __init__ imports mne, matplotlib, nibabel and more; none of that is needed here, so this
script registers empty stand-ins for the `naplib` package, `naplib.data.Data` (a dict) and `mne.stats` (only
fdr_correction, Benjamini-Hochberg written below), then loads naplib's own files preprocessing/filter_hilbert.py,
utils/argchecking.py and stats/responsive_ttest.py unchanged and calls phase_amplitude_extract and
responsive_ttest as a user would. Inputs come from a fixed seed and are saved with the outputs.

Writes tests/fixtures/highgamma/:
  reference.json        shapes, rates, naplib version, the filter banks for [70, 150] and [4, 8], the two-sided
                        Student-t p-values of a few (t, df) from mpmath at 40 digits
  even-x.f32            (3, 5120) input, 10 s at 512 Hz, channel-major little-endian float32
  even-env.f32          (3, 5120) naplib's full-rate high-gamma envelope (phase_amplitude_extract, no fs_out)
  even-env100.f32       (3, 1000) the same with fs_out=100
  odd-x.f32, odd-env.f32, odd-env100.f32   (2, 4999) / (2, 976): an odd length, the other Nyquist convention
  resp-env.f32          (5, 3000) a 100 Hz envelope for the responsive t-test
  resp.json             onsets (s), pre, post, and naplib's stat (pre minus post), p, BH q per channel
"""
import importlib.util
import json
import logging
import os
import sys
import types

import mpmath
import numpy as np
import scipy

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "highgamma")


def load_naplib():
    spec = importlib.util.find_spec("naplib")
    root = os.path.dirname(spec.origin)
    from importlib.metadata import version
    pkg = types.ModuleType("naplib")
    pkg.__path__ = [root]
    pkg.logger = logging.getLogger("naplib")
    sys.modules["naplib"] = pkg
    data = types.ModuleType("naplib.data")
    data.Data = type("Data", (dict,), {"__init__": lambda self, d, strict=False: dict.__init__(self, d)})
    sys.modules["naplib.data"] = data
    utils = types.ModuleType("naplib.utils")
    utils.__path__ = [os.path.join(root, "utils")]
    sys.modules["naplib.utils"] = utils
    mne = types.ModuleType("mne")
    mne_stats = types.ModuleType("mne.stats")
    mne_stats.fdr_correction = bh_fdr
    mne.stats = mne_stats
    sys.modules["mne"], sys.modules["mne.stats"] = mne, mne_stats

    def load(name, rel):
        s = importlib.util.spec_from_file_location(name, os.path.join(root, rel))
        m = importlib.util.module_from_spec(s)
        sys.modules[name] = m
        s.loader.exec_module(m)
        return m

    utils._parse_outstruct_args = load("naplib.utils.argchecking", "utils/argchecking.py")._parse_outstruct_args
    fh = load("naplib.preprocessing.filter_hilbert", "preprocessing/filter_hilbert.py")
    rt = load("naplib.stats.responsive_ttest", "stats/responsive_ttest.py")
    return fh, rt, version("naplib")


def bh_fdr(pvals, alpha=0.05, method="indep"):
    """Benjamini-Hochberg as mne.stats.fdr_correction(method='indep'): q = min over j >= i of p_(j) m / j."""
    assert method == "indep"
    p = np.asarray(pvals, dtype=float)
    order = np.argsort(p)
    m = p.size
    q_sorted = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1)
    return q < alpha, q


def save(name, a):
    np.ascontiguousarray(a, dtype="<f4").tofile(os.path.join(OUT, name))


def ieeg_like(rng, C, N, fs):
    """Pink-ish background, 60 Hz line noise and a slowly modulated high-gamma burst train per channel."""
    t = np.arange(N) / fs
    X = np.empty((C, N))
    for c in range(C):
        white = rng.standard_normal(N)
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(N, 1 / fs)
        spec[1:] /= np.sqrt(f[1:])
        spec[0] = 0
        pink = np.fft.irfft(spec, N)
        pink *= 20 / pink.std()
        hg = np.fft.irfft(np.fft.rfft(rng.standard_normal(N)) * ((f > 75) & (f < 140)), N)
        hg *= 5 / hg.std()
        mod = 1 + 0.8 * np.sin(2 * np.pi * (0.7 + 0.3 * c) * t + c)
        X[c] = pink + hg * mod + 3 * np.sin(2 * np.pi * 60 * t + 0.3 * c) + rng.standard_normal(N)
    return X.astype(np.float32)


def highgamma_case(fh, rng, tag, C, N, fs):
    x = ieeg_like(rng, C, N, fs)  # (C, N)
    full = fh.phase_amplitude_extract(field=[x.T.copy()], fs=fs, Wn=[[70, 150]])
    down = fh.phase_amplitude_extract(field=[x.T.copy()], fs=fs, Wn=[[70, 150]], fs_out=100)
    env = full["[ 70 150] amp"][0].T  # (C, N)
    env100 = down["[ 70 150] amp"][0].T
    save(f"{tag}-x.f32", x)
    save(f"{tag}-env.f32", env)
    save(f"{tag}-env100.f32", env100)
    return {"channels": C, "samples": N, "fs": fs, "out_len": int(env100.shape[1])}


def responsive_case(rt, rng):
    """Our continuous-recording reading of naplib's trials (host/responsive.h): the onsets,
    sorted, cut the series into trials [onset - pre, max(onset + post, next onset - pre)); each trial goes to
    naplib's responsive_ttest with befaft = (pre, 0)."""
    C, n, rate, pre, post = 5, 3000, 100.0, 0.5, 0.5
    onsets = np.sort(rng.uniform(0.2, 29.9, 24))
    onsets[0], onsets[-1] = 0.3, 29.7  # one window falls before the start, one after the end: both skipped
    t = np.arange(n) / rate
    env = rng.standard_normal((C, n)) + 0.3 * np.sin(2 * np.pi * 0.05 * t)
    for o in onsets:
        step = (t >= o) & (t < o + 0.8)
        env[0, step] += 0.6                 # responsive
        env[1, step] += 0.15                # weakly responsive
        env[2, (t >= o - 0.4) & (t < o)] -= 0.3  # quieter before speech: responsive too
    env = env.astype(np.float32)
    npre, npost = round(pre * rate), round(post * rate)
    idx = [round(o * rate) for o in onsets]
    used = [k for k, o in enumerate(idx) if o - npre >= 0 and o + npost <= n]
    trials = []
    for k in used:
        o = idx[k]
        end = max(o + npost, idx[k + 1] - npre if k + 1 < len(idx) else n)
        trials.append(env[:, o - npre:min(end, n)].T.astype(np.float64))
    befaft = [np.array([pre, 0.0])] * len(trials)
    _, st = rt.responsive_ttest(resp=trials, befaft=befaft, sfreq=[rate] * len(trials), pre_post=[pre, post])
    save("resp-env.f32", env)
    return {"channels": C, "samples": n, "rate": rate, "pre": pre, "post": post, "onsets": onsets.tolist(),
            "used": len(used), "stat_pre_minus_post": st["stat"].tolist(), "q": st["pval"].tolist(),
            "p": [float(v) for v in scipy.stats.ttest_ind(
                np.concatenate([tr[:npre] - tr.mean(0) for tr in trials]),
                np.concatenate([tr[npre:npre + npost] - tr.mean(0) for tr in trials])).pvalue]}


def t_table():
    """Two-sided Student-t p-values, 30 digits: p = I_{df/(df+t^2)}(df/2, 1/2)."""
    mpmath.mp.dps = 40
    rows = []
    for t, df in [(2.0, 10), (1.96, 1e6), (0.0, 5), (0.5, 1), (3.0, 1), (-2.5, 3), (1.0, 2), (10.0, 30),
                  (40.0, 200), (0.01, 1e7), (2.0, 1e7), (5.0, 1e7), (6.0, 57), (1.5, 1234.5), (0.3, 99999)]:
        x = mpmath.mpf(df) / (df + mpmath.mpf(t) ** 2)
        p = mpmath.betainc(mpmath.mpf(df) / 2, mpmath.mpf(1) / 2, 0, x, regularized=True)
        rows.append([t, df, float(p)])
    return rows


def main():
    os.makedirs(OUT, exist_ok=True)
    fh, rt, ver = load_naplib()
    rng = np.random.default_rng(20261128)
    ref = {"naplib": ver, "numpy": np.__version__, "scipy": scipy.__version__,
           "even": highgamma_case(fh, rng, "even", 3, 5120, 512),
           "odd": highgamma_case(fh, rng, "odd", 2, 4999, 512)}
    # the bank naplib uses for [70, 150] (filter_hilbert's third output)
    _, _, cfs = fh.filter_hilbert(np.zeros((64, 1), np.float32), 512, [[70, 150]])
    ref["cf"] = cfs.tolist()
    ref["sd"] = (np.sqrt(2) * 10 ** (np.log10(0.39) + 0.5 * np.log10(cfs))).tolist()
    ref["cf_4_8"] = fh.filter_hilbert(np.zeros((64, 1), np.float32), 512, [[4, 8]])[2].tolist()  # theta: another band
    ref["t_pvalues"] = t_table()
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    with open(os.path.join(OUT, "resp.json"), "w") as f:
        json.dump(responsive_case(rt, rng), f, indent=1)

    # read back: the fixtures hold what was computed
    env = np.fromfile(os.path.join(OUT, "even-env.f32"), "<f4").reshape(3, 5120)
    assert np.all(env > 0) and env.mean() > 1, env.mean()
    print(f"naplib {ver}: {len(cfs)} bands {np.round(cfs, 3)}; fixtures in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
