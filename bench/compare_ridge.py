#!/usr/bin/env python3
"""brainsweep's ridge engine beside himalaya and scikit-learn on the same data, in one run.

    python bench/compare_ridge.py [--shape N,P,T] [--alphas LO,HI,COUNT] [--folds K] [--rounds R]
                                  [--himalaya-rounds H] [--threads N] [--only NAMES] [--work DIR]

Writes a planted problem (Y = X W + noise; the signal's share of variance runs from 0.5% to 50% over the
targets, so the chosen alphas spread over the grid) to DIR as float32 files, then times, round after round
so drift hits every implementation alike:
  - brainsweep: build/bench/ridge_bench --data DIR (contiguous K folds, alpha per target by the best mean
    held-out Pearson r over the folds: select outer_mean, the protocol of himalaya's RidgeCV);
  - himalaya RidgeCV, numpy and torch CPU backends: same folds (cv=K: KFold without shuffling), same alphas,
    fit_intercept=True, score_func=correlation_score, float32;
  - scikit-learn RidgeCV(alpha_per_target=True): its efficient leave-one-out (the only protocol it offers
    with one alpha per target), float64 as it computes.
Every implementation gets the same number of threads (OpenBLAS/OpenMP/torch). Prints a Markdown table
(median seconds, ratio to brainsweep) and the agreement with himalaya: the share of targets whose alphas
agree, and max |r_brainsweep - r_himalaya| over them. Needs numpy, scikit-learn, himalaya and torch.
"""
import argparse
import os
import subprocess
import sys
import time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--shape", default="20000,500,5000")
ap.add_argument("--alphas", default="-2,5,20", help="log10 lo, log10 hi, count")
ap.add_argument("--folds", type=int, default=5)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--himalaya-rounds", type=int, default=1,
                help="rounds that include himalaya (minutes each at the default shape; the first rounds)")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--only", default="brainsweep,himalaya-numpy,himalaya-torch,sklearn")
ap.add_argument("--work", default=".cache/bench/ridge")
ap.add_argument("--bench", default="build/bench/ridge_bench")
args = ap.parse_args()

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)  # before numpy loads its BLAS

import numpy as np  # noqa: E402

n, p, t = (int(v) for v in args.shape.split(","))
lo, hi, count = args.alphas.split(",")
alphas = np.logspace(float(lo), float(hi), int(count))
names = args.only.split(",")
os.makedirs(args.work, exist_ok=True)

rng = np.random.default_rng(0)
X = rng.standard_normal((n, p), dtype=np.float32)
share = 10.0 ** np.linspace(-2.3, -0.3, t)
W = (rng.standard_normal((p, t)) * np.sqrt(share / (1 - share) / p)).astype(np.float32)
Y = X @ W + rng.standard_normal((n, t), dtype=np.float32)
X.tofile(f"{args.work}/X.f32")
Y.tofile(f"{args.work}/Y.f32")
with open(f"{args.work}/shape.txt", "w") as f:
    f.write(f"{n} {p} {t}\n")
del W


def run_brainsweep():
    out = f"{args.work}/brainsweep"
    os.makedirs(out, exist_ok=True)
    cmd = [args.bench, "--data", args.work, "--folds", str(args.folds), "--alphas", args.alphas, "--select",
           "outer_mean", "--threads", str(args.threads), "--reps", "1", "--out", out]
    t0 = time.perf_counter()
    log = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    sec = time.perf_counter() - t0
    # the engine's own time excludes reading 0.4 GB of files and the yardstick sgemm it runs first
    engine = float(log.split("median ")[1].split(" s")[0])
    r = np.fromfile(f"{out}/r.f64")
    a = np.fromfile(f"{out}/alpha.f64")
    return engine, r, a, log.strip().splitlines()[-1], sec


def run_himalaya(backend):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import correlation_score

    b = set_backend(backend)
    if backend.startswith("torch"):
        import torch

        torch.set_num_threads(args.threads)
    Xb, Yb = b.asarray(X), b.asarray(Y)
    model = RidgeCV(alphas=alphas.astype(np.float32), fit_intercept=True, cv=args.folds,
                    solver_params=dict(score_func=correlation_score))
    t0 = time.perf_counter()
    model.fit(Xb, Yb)
    sec = time.perf_counter() - t0
    return sec, b.to_numpy(model.cv_scores_).astype(np.float64), b.to_numpy(model.best_alphas_).astype(np.float64)


def run_sklearn():
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=alphas, alpha_per_target=True, fit_intercept=True)
    t0 = time.perf_counter()
    model.fit(X, Y)
    return time.perf_counter() - t0, None, np.asarray(model.alpha_, dtype=np.float64)


runners = {"brainsweep": run_brainsweep, "himalaya-numpy": lambda: run_himalaya("numpy"),
           "himalaya-torch": lambda: run_himalaya("torch"), "sklearn": run_sklearn}
times = {k: [] for k in names}
result = {}
log_line = ""
for rnd in range(args.rounds):
    for k in names:
        if k.startswith("himalaya") and rnd >= args.himalaya_rounds:
            continue
        out = runners[k]()
        times[k].append(out[0])
        result[k] = out[1:3]
        if k == "brainsweep":
            log_line = out[3]
        print(f"round {rnd + 1}: {k} {out[0]:.2f} s", file=sys.stderr, flush=True)

import himalaya  # noqa: E402
import sklearn  # noqa: E402

versions = {"himalaya-numpy": f"himalaya {himalaya.__version__}, numpy {np.__version__}",
            "himalaya-torch": f"himalaya {himalaya.__version__}", "sklearn": f"scikit-learn {sklearn.__version__}"}
if "himalaya-torch" in names:
    import torch

    versions["himalaya-torch"] += f", torch {torch.__version__} (CPU)"
flop = 2.0 * n * p * t
print(f"n {n}, p {p}, t {t}; {args.folds} folds; {int(count)} alphas 1e{lo}..1e{hi}; {args.threads} threads; "
      f"median of {args.rounds} round(s) (himalaya: {min(args.rounds, args.himalaya_rounds)})")
if log_line:
    print(f"brainsweep engine: {log_line}")
print("\n| implementation | protocol | median s | brainsweep is x faster |\n|---|---|---|---|")
base = np.median(times["brainsweep"]) if "brainsweep" in names else float("nan")
protocol = {"brainsweep": "5-fold, alpha by mean fold r", "himalaya-numpy": "5-fold, alpha by mean fold r",
            "himalaya-torch": "5-fold, alpha by mean fold r", "sklearn": "leave-one-out (GCV), alpha by squared error"}
protocol = {k: v.replace("5-fold", f"{args.folds}-fold") for k, v in protocol.items()}
for k in names:
    med = np.median(times[k])
    label = "brainsweep ridge_cv (C, OpenBLAS)" if k == "brainsweep" else f"{k.split('-')[0]} RidgeCV ({versions[k]})"
    print(f"| {label} | {protocol[k]} | {med:.2f} | {med / base:.1f} |")

if "brainsweep" in names:
    r_bs, a_bs = result["brainsweep"]
    for k in ("himalaya-numpy", "himalaya-torch"):
        if k not in names:
            continue
        r_h, a_h = result[k]
        same = np.isclose(a_bs, a_h, rtol=1e-4)
        dr = np.abs(r_bs - r_h)[same]
        print(f"\n{k}: alphas agree on {same.sum()} of {t} targets ({100 * same.mean():.1f}%); max |dr| over them "
              f"{dr.max() if dr.size else float('nan'):.2e}; max |dr| over all targets {np.abs(r_bs - r_h).max():.2e}")
