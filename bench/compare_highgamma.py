#!/usr/bin/env python3
"""Side by side: naplib-python's high-gamma extraction and brainsweep's, on one subject of a BIDS iEEG dataset.

    python bench/compare_highgamma.py DATASET SUBJECT [BRAINSWEEP]

(run from the repository root, in a virtual environment with numpy, scipy and naplib; naplib is loaded as
tests/golden/make_highgamma_fixture.py does, without its heavy optional imports). It reads the subject's EDF
with a few lines of numpy, takes the good ECOG/SEEG channels of channels.tsv, applies the common average
reference, and times naplib's phase_amplitude_extract(Wn=[[70, 150]], fs_out=100) on them. Then it times
`brainsweep ieeg` on a copy of the dataset that holds only that subject (same reference, notch, filter bank,
100 Hz envelope, plus the word windows and the responsiveness test), and prints both wall times and their
ratio. The two envelopes' agreement is checked in tests/host/test_highgamma.c, not here.
"""
import csv
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
from make_highgamma_fixture import load_naplib  # noqa: E402


def read_edf(path, names):
    with open(path, "rb") as f:
        h = f.read(256)
        ns, nrec = int(h[252:256]), int(h[236:244])
        hh = f.read(256 * ns)
        field = lambda off, w: [hh[off * ns + i * w: off * ns + (i + 1) * w].decode().strip() for i in range(ns)]
        labels = field(0, 16)
        o = 16 + 80 + 8
        pmin = np.array(field(o, 8), float)
        pmax = np.array(field(o + 8, 8), float)
        dmin = np.array(field(o + 16, 8), float)
        dmax = np.array(field(o + 24, 8), float)
        spr = np.array(field(o + 32 + 80, 8), int)
        raw = np.fromfile(f, dtype="<i2").reshape(nrec, spr.sum())
    starts = np.concatenate([[0], np.cumsum(spr)])
    out = []
    for name in names:
        i = labels.index(name)
        d = raw[:, starts[i]:starts[i + 1]].reshape(-1).astype(np.float64)
        out.append((d - dmin[i]) * (pmax[i] - pmin[i]) / (dmax[i] - dmin[i]) + pmin[i])
    return np.array(out, dtype=np.float32), spr[labels.index(names[0])]


def main():
    dataset, subject = sys.argv[1], sys.argv[2]
    brainsweep = sys.argv[3] if len(sys.argv) > 3 else "build/brainsweep"
    folder = os.path.join(dataset, subject, "ieeg")
    stem = f"{subject}_task-podcast"
    with open(os.path.join(folder, stem + "_channels.tsv")) as f:
        good = [r["name"] for r in csv.DictReader(f, delimiter="\t")
                if r["type"] in ("ECOG", "SEEG") and r["status"] != "bad"]
    fh, _, version = load_naplib()
    t0 = time.perf_counter()
    x, fs = read_edf(os.path.join(folder, stem + "_ieeg.edf"), good)
    x -= x.mean(axis=0, keepdims=True)  # common average reference
    t1 = time.perf_counter()
    env = fh.phase_amplitude_extract(field=[x.T.copy()], fs=float(fs), Wn=[[70, 150]], fs_out=100)
    t2 = time.perf_counter()
    hg = [v for k, v in env.items() if k.endswith("amp")][0][0]  # naplib names it '[ 70 150] amp'; one trial
    print(f"naplib {version}: {len(good)} channels x {x.shape[1]} samples: read+CAR {t1 - t0:.1f} s, "
          f"high-gamma {t2 - t1:.1f} s (output {np.shape(hg)})")

    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "ds"))
        os.symlink(os.path.abspath(os.path.join(dataset, subject)), os.path.join(tmp, "ds", subject))
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"models:\n  - {{name: m, path: data/models/stories260K.gguf}}\n"
                    f"stimulus:\n  file: {os.path.join(dataset, 'stimuli', 'words.tsv')}\n"
                    f"recordings:\n  format: ieeg\nieeg:\n  bids: {os.path.join(tmp, 'ds')}\n  task: podcast\n"
                    f"  stimulus_event: podcast\noutput:\n  path: {os.path.join(tmp, 'out', 'results.h5')}\n")
        t3 = time.perf_counter()
        log = subprocess.run([brainsweep, "ieeg", cfg], capture_output=True, text=True, check=True).stdout
        t4 = time.perf_counter()
    line = [l for l in log.splitlines() if "electrodes of" in l][0]
    print(f"brainsweep: {t4 - t3:.1f} s in all ({line.split('] ')[1]})")
    print(f"ratio naplib high-gamma / brainsweep whole path: {(t2 - t1) / (t4 - t3):.1f}x")


if __name__ == "__main__":
    main()
