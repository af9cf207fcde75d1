#!/usr/bin/env python3
"""The same extraction in Hugging Face transformers (fp32, CPU): the reference implementation's speed.

    python bench/hf_extract.py [RUNS]        (needs torch, transformers, gguf, accelerate; see tests/golden)

Loads SmolLM2-135M-Instruct from the same GGUF, tokenises the Alice text brainsweep builds (the rule of
host/stimulus.c, via tests/golden/make_fixtures.py) and times one forward pass over the whole chapter with
output_hidden_states=True, as brainsweep's forward stage does. Prints the median over RUNS after a warm-up.
"""
import importlib.util
import os
import statistics
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("fixtures", os.path.join(ROOT, "tests", "golden", "make_fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(os.cpu_count())
    path = fixtures.SMOLLM2
    d, f = os.path.dirname(path), os.path.basename(path)
    cfg = AutoConfig.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, config=cfg, dtype=torch.float32).eval()
    tok = fixtures.load(path)
    text, words = fixtures.alice_text()
    ids = torch.tensor([tok(text)["input_ids"]])
    times = []
    with torch.no_grad():
        for i in range(runs + 1):
            t0 = time.perf_counter()
            out = model.model(ids, output_hidden_states=True)
            dt = time.perf_counter() - t0
            if i:
                times.append(dt)
    med = statistics.median(times)
    print(f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads: {ids.shape[1]} tokens, {len(out.hidden_states)} hidden states, "
          f"forward median {med:.2f} s over {runs} runs (min {min(times):.2f}, max {max(times):.2f}), "
          f"{ids.shape[1] / med:.0f} tokens/s")


if __name__ == "__main__":
    main()
