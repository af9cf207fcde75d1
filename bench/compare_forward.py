#!/usr/bin/env python3
"""brainsweep's forward pass beside Hugging Face transformers', run in turn, pair by pair.

    BRAINSWEEP=build/brainsweep python bench/compare_forward.py [PAIRS]
    (needs torch, transformers, gguf, accelerate: the reference environment of tests/golden)

Both run SmolLM2-135M-Instruct from the same GGUF in float32 on the CPU, over the same 2,199 tokens of Alice
chapter 1 (the text brainsweep builds; tests/golden/make_fixtures.py applies the same rule), every hidden state
returned. brainsweep's time is the forward stage it reports (the sweep runs with a one-alpha, 2x2-fold fit so the
pair stays short); transformers' is one `model.model(ids, output_hidden_states=True)` call in this process, after a
warm-up. The machine drifts, so each pair is measured back to back and the ratio is taken pair by pair.
"""
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("fixtures", os.path.join(ROOT, "tests", "golden", "make_fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)
BIN = os.environ.get("BRAINSWEEP", os.path.join(ROOT, "build", "brainsweep"))


def brainsweep_forward(out_dir):
    cmd = [BIN, "sweep", os.path.join(ROOT, "jobs", "presets", "demo.yaml"), "-P", f"output.path={out_dir}/r.h5",
           "-P", "ridge.folds=2", "-P", "ridge.inner_folds=2", "-P", "ridge.alpha_count=1"]
    log = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    tokens, seconds = re.search(r"(\d+) tokens in \d+ chunk\(s\), [0-9.]+ s tokenize, ([0-9.]+) s forward", log).groups()
    return int(tokens), float(seconds)


def main():
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_num_threads(os.cpu_count())
    path = fixtures.SMOLLM2
    d, f = os.path.dirname(path), os.path.basename(path)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, config=AutoConfig.from_pretrained(d, gguf_file=f),
                                                 dtype=torch.float32).eval()
    text, _ = fixtures.alice_text()
    ids = torch.tensor([fixtures.load(path)(text)["input_ids"]])
    ours, theirs, ratios = [], [], []
    with torch.no_grad(), tempfile.TemporaryDirectory() as tmp:
        model.model(ids, output_hidden_states=True)  # warm-up
        for _ in range(pairs):
            n_tokens, a = brainsweep_forward(tmp)
            t0 = time.perf_counter()
            out = model.model(ids, output_hidden_states=True)
            b = time.perf_counter() - t0
            ours.append(a), theirs.append(b), ratios.append(a / b)
    assert n_tokens == ids.shape[1] and len(out.hidden_states) == 31
    print(f"{pairs} pairs, {ids.shape[1]} tokens, {len(out.hidden_states)} hidden states, {os.cpu_count()} threads each")
    print("| forward pass | median s | min | max | tokens/s |\n|---|---|---|---|---|")
    for name, xs in (("brainsweep", ours), (f"transformers {transformers.__version__} / torch {torch.__version__}", theirs)):
        print(f"| {name} | {statistics.median(xs):.2f} | {min(xs):.2f} | {max(xs):.2f} | "
              f"{ids.shape[1] / statistics.median(xs):.0f} |")
    print(f"ratio brainsweep / transformers, pair by pair: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
