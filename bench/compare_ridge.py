#!/usr/bin/env python3
"""brainsweep's ridge engine beside a plain numpy implementation, himalaya and scikit-learn on the same data.

    python bench/compare_ridge.py [--shape N,P,T] [--alphas LO,HI,COUNT] [--folds K] [--rounds R]
                                  [--himalaya-rounds H] [--threads N] [--only NAMES] [--work DIR] [--bench BIN]
                                  [--bench-args "ARGS"] [--himalaya-targets M]
    python3 bench/compare_ridge.py --dry-run [--bench BIN]

Writes a planted problem (Y = X W + noise; the signal's share of variance runs from 0.5% to 50% over the
targets, so the chosen alphas spread over the grid) to DIR as float32 files, then times, round after round
(the order reversed every other round) so drift hits every implementation alike:
  - brainsweep: build/bench/ridge_bench --data DIR (contiguous K folds, alpha per target by the best mean
    held-out Pearson r over the folds: select outer_mean, the protocol of himalaya's RidgeCV). Its time is
    all of the engine's work for the call (fold plan, ridge_targets_init, ridge_cv), not reading the files;
  - numpy: a plain eigendecomposition baseline, written here in the open (numpy_ridge below): each fold's
    X^T X and X^T Y once, then per outer fold one eigh of the centred training Gram and every alpha's held-out
    covariance and prediction variance from one GEMM each (sufficient statistics, O(n p t + K A p^2 t)); the
    Pearson r of every (alpha, target) on the held-out rows, the alpha per target by the best mean r over the
    folds, as brainsweep's outer_mean. Its max |r - r_brainsweep| over all targets is printed;
  - himalaya RidgeCV, numpy and torch CPU backends (and torch_cuda, on a GPU): same folds (cv=K: KFold without
    shuffling), same alphas, fit_intercept=True, score_func=correlation_score, float32. It forms, per fold and alpha,
    the hat matrix from the training to the held-out rows: O(alphas n^2 t), which is why it is slow, not its
    language. --himalaya-targets M runs it on the first M targets only and scales its time by t / M (its cost is
    linear in t; the table says so), and compares it over those;
  - scikit-learn RidgeCV(alpha_per_target=True): its efficient leave-one-out (the only protocol it offers
    with one alpha per target), float64 as it computes.
Every implementation gets the same number of threads (OpenBLAS/OpenMP/torch). Prints a Markdown table (median
seconds; peak resident memory with X and Y; brainsweep's speed-up as the median over rounds of the ratio within a round) and the agreement of
each implementation with brainsweep: the share of targets whose alphas agree and max |dr| over all targets.
Needs numpy; himalaya, scikit-learn and torch for their rows (--only leaves rows out).

--dry-run checks this script without timing anything and without packages beyond Python's own: a tiny planted
problem (written without numpy), the bench binary run on it and its summary line parsed (a failure when the
pattern matches nothing); where numpy is installed, the numpy baseline against brainsweep's r on it; where
himalaya or scikit-learn are, theirs too. Whatever it cannot check it names on a "DRY skip" line. Exit 1 on
any failure.
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--shape", default="20000,500,5000")
ap.add_argument("--alphas", default="-2,5,20", help="log10 lo, log10 hi, count")
ap.add_argument("--folds", type=int, default=5)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--himalaya-rounds", type=int, default=1,
                help="rounds that include himalaya (minutes each at the default shape; the first rounds)")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--only", default="brainsweep,numpy,himalaya-numpy,himalaya-torch,sklearn")
ap.add_argument("--work", default=".cache/bench/ridge")
ap.add_argument("--bench", default="build/bench/ridge_bench")
ap.add_argument("--bench-args", default="", help="more options for the bench binary (\"--device cuda\")")
ap.add_argument("--himalaya-targets", type=int, default=0,
                help="himalaya on the first M targets, its time scaled by t / M (0: all targets)")
ap.add_argument("--target-batch", type=int, default=1000, help="targets per GEMM of the numpy baseline")
ap.add_argument("--dry-run", action="store_true", help="check the script, the binary's output and the packages")
args = ap.parse_args()

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)  # before numpy loads its BLAS

RUNNERS = ("brainsweep", "numpy", "himalaya-numpy", "himalaya-torch", "himalaya-torch_cuda", "sklearn")
PROTOCOL = {"brainsweep": "K-fold, alpha by mean fold r", "numpy": "K-fold, alpha by mean fold r",
            "himalaya-numpy": "K-fold, alpha by mean fold r", "himalaya-torch": "K-fold, alpha by mean fold r",
            "himalaya-torch_cuda": "K-fold, alpha by mean fold r",
            "sklearn": "leave-one-out (GCV), alpha by squared error"}
# ridge_bench's summary line: the median seconds and the share of it spent preparing the targets
SUMMARY = re.compile(r"^median ([0-9.]+) s over (\d+) run\(s\); .*targets prepared in ([0-9.]+) s \(\d+%, included\)",
                     re.M)
names = args.only.split(",")
for k in names:
    if k not in RUNNERS:
        ap.error(f"--only: unknown implementation '{k}' (known: {', '.join(RUNNERS)})")
n, p, t = (int(v) for v in args.shape.split(","))
lo, hi, count = args.alphas.split(",")
count = int(count)


def run_brainsweep(work, folds):
    """brainsweep on the files in work: (engine seconds, r, alpha, summary line, wall seconds); r and alpha are
    None without numpy. A summary line the pattern does not match is an error, never an empty result."""
    out = f"{work}/brainsweep"
    os.makedirs(out, exist_ok=True)
    cmd = [args.bench, "--data", work, "--folds", str(folds), "--alphas", args.alphas, "--select", "outer_mean",
           "--threads", str(args.threads), "--reps", "1", "--out", out] + args.bench_args.split()
    t0 = time.perf_counter()
    log = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    sec = time.perf_counter() - t0
    m = SUMMARY.search(log)
    if not m:
        sys.exit(f"compare_ridge: no line of `{' '.join(cmd)}` matches {SUMMARY.pattern!r}; its output:\n{log}")
    engine = float(m.group(1))
    r = a = None
    if "numpy" in sys.modules:
        import numpy as np

        r, a = np.fromfile(f"{out}/r.f64"), np.fromfile(f"{out}/alpha.f64")
    return engine, r, a, m.group(0), sec


def numpy_ridge(X, Y, alphas, folds, batch):
    """The plain baseline: (r at the chosen alpha, chosen alpha), both (t,), float64. Contiguous folds as
    brainsweep's (fold k holds rows [k n / K, (k + 1) n / K)), intercept by centring on the training rows.

    Sufficient statistics: each fold's X_k^T X_k and X_k^T Y_k (float32 products, kept in float64) and sums,
    so a training set's centred Gram and cross-products are the totals less the held-out fold's. Per fold:
    one eigh of the training Gram (G = V diag(lam) V^T), B = V^T X_c^T Y_c; with D_a = diag(1 / (lam + a)) the
    weights are V D_a B, so on the held-out rows (centred on their own means; r ignores the offsets)
    cov_a = sum_j (V^T X_te^T y_te)_j (D_a B)_j for every alpha from one (A, p) x (p, t) product, and
    var_a = diag((D_a B)^T (V^T G_te V) (D_a B)) from one GEMM, (p, p) x (p, alphas x targets)."""
    import numpy as np

    n_, t_ = Y.shape
    bounds = [k * n_ // folds for k in range(folds + 1)]
    f64 = np.float64
    seg = []  # per fold: rows, sum x, sum y, sum y^2, X^T X, X^T Y
    for k in range(folds):
        Xk, Yk = X[bounds[k]:bounds[k + 1]], Y[bounds[k]:bounds[k + 1]]
        seg.append((Xk.shape[0], Xk.sum(0, dtype=f64), Yk.sum(0, dtype=f64), np.einsum("nt,nt->t", Yk, Yk, dtype=f64),
                    (Xk.T @ Xk).astype(f64), (Xk.T @ Yk).astype(f64)))
    tot = [sum(s[i] for s in seg) for i in range(6)]
    score = np.zeros((len(alphas), t_))
    for k in range(folds):
        nte, sx_te, sy_te, syy_te, G_te, C_te = seg[k]
        ntr, sx_tr, sy_tr = tot[0] - nte, tot[1] - sx_te, tot[2] - sy_te
        G_tr = tot[4] - G_te - np.outer(sx_tr, sx_tr) / ntr        # centred training Gram (p, p)
        C_tr = tot[5] - C_te - np.outer(sx_tr, sy_tr) / ntr        # centred training X^T Y (p, t)
        G_te = G_te - np.outer(sx_te, sx_te) / nte                 # the same on the held-out rows
        C_te = C_te - np.outer(sx_te, sy_te) / nte
        vyy = syy_te - sy_te ** 2 / nte
        lam, V = np.linalg.eigh(G_tr)
        lam = np.maximum(lam, 0.0)
        B = V.T @ C_tr                                             # (p, t)
        Cv = V.T @ C_te                                            # (p, t)
        Gv = (V.T @ G_te @ V).astype(np.float32)                   # (p, p)
        D = 1.0 / (lam[None, :] + alphas[:, None])                 # (A, p)
        cov = D @ (Cv * B)                                         # (A, t): all alphas, one product
        for j in range(0, t_, batch):
            b = B[:, j:j + batch]
            tb = b.shape[1]
            DB = (D.T[:, :, None] * b[:, None, :]).astype(np.float32).reshape(len(lam), len(alphas) * tb)
            GDB = Gv @ DB                                          # one GEMM, all alphas
            var = np.einsum("pk,pk->k", GDB, DB, dtype=f64).reshape(len(alphas), tb)
            den = np.sqrt(var * vyy[None, j:j + tb])
            with np.errstate(invalid="ignore", divide="ignore"):
                score[:, j:j + tb] += np.where(den > 0, cov[:, j:j + tb] / den, 0.0) / folds
    best = np.argmax(score, axis=0)
    return score[best, np.arange(t_)], alphas[best]


def run_numpy(X, Y, alphas, folds):
    t0 = time.perf_counter()
    r, a = numpy_ridge(X, Y, alphas, folds, args.target_batch)
    return time.perf_counter() - t0, r, a


def run_himalaya(X, Y, alphas, folds, backend):
    import numpy as np
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import correlation_score

    b = set_backend(backend)
    sync = lambda: None  # noqa: E731  (a GPU's work is asynchronous: the clock waits for it)
    if backend.startswith("torch"):
        import torch

        torch.set_num_threads(args.threads)
        if backend == "torch_cuda":
            sync = torch.cuda.synchronize
    m = args.himalaya_targets if 0 < args.himalaya_targets < Y.shape[1] else Y.shape[1]
    Xb, Yb = b.asarray(X), b.asarray(np.ascontiguousarray(Y[:, :m]))
    model = RidgeCV(alphas=alphas.astype(np.float32), fit_intercept=True, cv=folds,
                    solver_params=dict(score_func=correlation_score))
    sync()
    t0 = time.perf_counter()
    model.fit(Xb, Yb)
    sync()
    sec = (time.perf_counter() - t0) * Y.shape[1] / m
    return sec, b.to_numpy(model.cv_scores_).astype(np.float64), b.to_numpy(model.best_alphas_).astype(np.float64)


def run_sklearn(X, Y, alphas):
    import numpy as np
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=alphas, alpha_per_target=True, fit_intercept=True)
    t0 = time.perf_counter()
    model.fit(X, Y)
    return time.perf_counter() - t0, None, np.asarray(model.alpha_, dtype=np.float64)


def have(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def dry_run():
    """Tiny problem, every path that can run here; DRY lines; exit 1 on a failure."""
    import array
    import random

    failed = []

    def line(kind, what, why=""):
        print(f"DRY {kind} {what}" + (f": {why}" if why else ""), flush=True)
        if kind == "fail":
            failed.append(what)

    dn, dp, dt, folds = 600, 12, 40, 3
    rnd = random.Random(0)
    X = [rnd.gauss(0, 1) for _ in range(dn * dp)]
    W = [rnd.gauss(0, 1) * 0.3 for _ in range(dp * dt)]
    Y = [sum(X[i * dp + j] * W[j * dt + k] for j in range(dp)) + rnd.gauss(0, 1) for i in range(dn) for k in range(dt)]
    with tempfile.TemporaryDirectory() as work:
        for name, v in (("X.f32", X), ("Y.f32", Y)):
            with open(f"{work}/{name}", "wb") as f:
                array.array("f", v).tofile(f)
        with open(f"{work}/shape.txt", "w") as f:
            f.write(f"{dn} {dp} {dt}\n")
        if not os.access(args.bench, os.X_OK):
            line("fail", "bench_binary", f"{args.bench} is missing or not executable (make)")
            return 1
        try:
            engine, r_bs, a_bs, summary, _ = run_brainsweep(work, folds)
            line("ok", "brainsweep_summary_parsed", f"{engine:.4f} s; '{summary[:60]}...'")
        except (subprocess.CalledProcessError, SystemExit) as e:
            line("fail", "brainsweep_summary_parsed", str(e))
            return 1
        if not have("numpy"):
            for k in names:
                if k != "brainsweep":
                    line("skip", f"{k}_baseline", "numpy is not installed here")
            return 1 if failed else 0
        import numpy as np

        Xa = np.fromfile(f"{work}/X.f32", dtype=np.float32).reshape(dn, dp)
        Ya = np.fromfile(f"{work}/Y.f32", dtype=np.float32).reshape(dn, dt)
        r_bs, a_bs = np.fromfile(f"{work}/brainsweep/r.f64"), np.fromfile(f"{work}/brainsweep/alpha.f64")
        alphas = np.logspace(float(lo), float(hi), count)
        checks = {"numpy": lambda: run_numpy(Xa, Ya, alphas, folds)}
        for k, mod in (("himalaya-numpy", "himalaya"), ("himalaya-torch", "torch"), ("sklearn", "sklearn")):
            if k not in names:
                continue
            if not have(mod) or (k.startswith("himalaya") and not have("himalaya")):
                line("skip", f"{k}_runs", f"{'himalaya' if not have('himalaya') and k.startswith('himalaya') else mod}"
                     " is not installed here")
                continue
            checks[k] = {"himalaya-numpy": lambda: run_himalaya(Xa, Ya, alphas, folds, "numpy"),
                         "himalaya-torch": lambda: run_himalaya(Xa, Ya, alphas, folds, "torch"),
                         "sklearn": lambda: run_sklearn(Xa, Ya, alphas)}[k]
        for k, fn in checks.items():
            if k not in names:
                continue
            sec, r, a = fn()
            if r is None:
                line("ok", f"{k}_runs", f"{sec:.3f} s (scores not comparable: another protocol)")
                continue
            dr = float(np.abs(r - r_bs).max())
            (line("ok", f"{k}_matches_brainsweep", f"max |dr| {dr:.1e}") if dr < 1e-4 else
             line("fail", f"{k}_matches_brainsweep", f"max |dr| {dr:.1e} over {dt} targets (want < 1e-4)"))
    return 1 if failed else 0


if args.dry_run:
    sys.exit(dry_run())

import numpy as np  # noqa: E402

alphas = np.logspace(float(lo), float(hi), count)
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

summary = []


def brainsweep_round():
    engine, r, a, line, _ = run_brainsweep(args.work, args.folds)
    summary[:] = [line]
    return engine, r, a


runners = {"brainsweep": brainsweep_round,
           "numpy": lambda: run_numpy(X, Y, alphas, args.folds),
           "himalaya-numpy": lambda: run_himalaya(X, Y, alphas, args.folds, "numpy"),
           "himalaya-torch": lambda: run_himalaya(X, Y, alphas, args.folds, "torch"),
           "himalaya-torch_cuda": lambda: run_himalaya(X, Y, alphas, args.folds, "torch_cuda"),
           "sklearn": lambda: run_sklearn(X, Y, alphas)}
# peak resident memory of each implementation, X and Y included: brainsweep's from the kernel's accounting of the
# finished child (the largest over the rounds); the in-process ones as the high-water mark the kernel keeps for this
# process, reset before each run (/proc/self/clear_refs, Linux 4.0+; where it cannot be reset the column is "-")


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def own_peak_gib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


times = {k: {} for k in names}
peak = {}
result = {}
for rnd in range(args.rounds):
    order = names if rnd % 2 == 0 else names[::-1]
    for k in order:
        if k.startswith("himalaya") and rnd >= args.himalaya_rounds:
            continue
        resettable = reset_peak()
        out = runners[k]()
        if k == "brainsweep":
            peak[k] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        elif resettable:
            peak[k] = max(peak.get(k, 0.0), own_peak_gib())
        times[k][rnd] = out[0]
        result[k] = out[1:3]
        print(f"round {rnd + 1}: {k} {out[0]:.2f} s", file=sys.stderr, flush=True)

versions = {"numpy": f"numpy {np.__version__}"}
if any(k.startswith("himalaya") for k in names):
    import himalaya

    versions["himalaya-numpy"] = f"himalaya {himalaya.__version__}, numpy {np.__version__}"
    versions["himalaya-torch"] = f"himalaya {himalaya.__version__}"
    versions["himalaya-torch_cuda"] = f"himalaya {himalaya.__version__}"
if "himalaya-torch" in names:
    import torch

    versions["himalaya-torch"] += f", torch {torch.__version__} (CPU)"
if "himalaya-torch_cuda" in names:
    import torch

    versions["himalaya-torch_cuda"] += f", torch {torch.__version__} ({torch.cuda.get_device_name(0)})"
for k in versions:
    if k.startswith("himalaya") and 0 < args.himalaya_targets < t:
        versions[k] += f"; run on {args.himalaya_targets} of the {t} targets, its time x {t / args.himalaya_targets:g}"
if "sklearn" in names:
    import sklearn

    versions["sklearn"] = f"scikit-learn {sklearn.__version__}"
print(f"n {n}, p {p}, t {t}; {args.folds} folds; {count} alphas 1e{lo}..1e{hi}; {args.threads} threads; "
      f"{args.rounds} interleaved round(s) (himalaya: {min(args.rounds, args.himalaya_rounds)})")
if summary:
    print(f"brainsweep engine (last round): {summary[0]}")
engine = "CUDA table" if "cuda" in args.bench_args else "OpenBLAS"
label = {"brainsweep": f"brainsweep ridge_cv + ridge_targets_init (C, {engine})",
         "numpy": f"numpy: eigh per fold, all alphas in one GEMM ({versions['numpy']})"}
print("\n| implementation | protocol | median s | peak GiB | rounds | brainsweep is x faster: median of per-round ratios "
      "(range) |")
print("|---|---|---|---|---|---|")
for k in names:
    med = float(np.median(list(times[k].values())))
    ratios = [times[k][r] / times["brainsweep"][r] for r in times[k] if "brainsweep" in names and r in times["brainsweep"]]
    ratio = f"{np.median(ratios):.1f} ({min(ratios):.1f}-{max(ratios):.1f})" if ratios and k != "brainsweep" else \
        ("1" if k == "brainsweep" else "-")
    name = label.get(k) or f"{k.split('-')[0]} RidgeCV ({versions[k]})"
    mem = f"{peak[k]:.2f}" if k in peak else "-"
    print(f"| {name} | {PROTOCOL[k].replace('K-fold', f'{args.folds}-fold')} | {med:.2f} | {mem} | {len(times[k])} | "
          f"{ratio} |")

if "brainsweep" in names:
    for k in ("numpy", "himalaya-numpy", "himalaya-torch", "himalaya-torch_cuda", "sklearn"):
        if k not in names:
            continue
        r_o, a_o = result[k]
        if len(a_o) < t:  # himalaya on the first targets only
            r_bs, a_bs = result["brainsweep"][0][:len(a_o)], result["brainsweep"][1][:len(a_o)]
        else:
            r_bs, a_bs = result["brainsweep"]
        same = np.isclose(a_bs, a_o, rtol=1e-4)
        msg = f"\n{k}: alphas agree on {same.sum()} of {len(a_o)} targets ({100 * same.mean():.1f}%)"
        if r_o is not None:
            dr = np.abs(r_bs - r_o)
            msg += (f"; max |dr| over them {dr[same].max() if same.any() else float('nan'):.2e}; "
                    f"max |dr| over all targets {dr.max():.2e}")
        print(msg)
