#!/usr/bin/env python3
"""Hidden-state extraction speed: brainsweep beside transformers and llama.cpp, in one run, round by round.

    BRAINSWEEP=build/brainsweep [LLAMA_PYTHON=python-with-llama-cpp] \\
        PYTHON_WITH_TORCH_TRANSFORMERS bench/compare_forward.py [--rounds 3] [--tokens-n 32] [--gpt2 DIR]

Models: SmolLM2-135M-Instruct from its Q4_1 GGUF (`make fetch-model`), and with --gpt2 a GPT-2-small-shaped
random checkpoint folder made by bench/make_gpt2_small_gguf.py (model.safetensors in float32 for brainsweep and
transformers, its -f32.gguf for llama.cpp). Text: the Alice chapter as brainsweep builds it from the TextGrid
(tests/golden/make_fixtures.py applies the same rule), cut to the model's window for transformers and llama.cpp.

Each round runs, one process at a time and all with the machine's cores:
  brainsweep `full` (one 2,200-token sequence for SmolLM2; 1,024-token chunks overlapping by half for GPT-2),
  transformers (bench/hf_forward.py: float32, output_hidden_states=True, one timed call after a warm-up),
  llama.cpp (bench/compare_llamacpp.py: prompt processing of the same GGUF, one batch; skipped without
  LLAMA_PYTHON), brainsweep `tokens:N` (one N-token window per word, packed into batches).
brainsweep's time is the forward stage it logs (the sweep's fit is cut to one alpha and 2 x 2 folds), with the
FLOPs it counts (decoder_flops: matrix products and causal attention). The others' GFLOP/s use brainsweep's FLOPs
per token of `full` (the same shapes; llama.cpp's quantised GGUF does the same operations). Each round starts with
OpenBLAS's sgemm at 2048^3 (build/bench/gemm_peak), the yardstick of "of sgemm peak". Ratios are taken within each
round and their median printed: the machine drifts. Paste the output into docs/PERFORMANCE.md.
"""
import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BRAINSWEEP", os.path.join(ROOT, "build", "brainsweep"))
LLAMA_PYTHON = os.environ.get("LLAMA_PYTHON")
LOG = re.compile(r"(\d+) tokens; (\d+) sequence\(s\), (\d+) tokens run, ([0-9.]+) GFLOP; [0-9.]+ s tokenize, "
                 r"([0-9.]+) s forward")
CONFIG = os.path.join(ROOT, "bench", "alice-sweep.yaml.in")


def alice_text():
    spec = importlib.util.spec_from_file_location("fixtures", os.path.join(ROOT, "tests", "golden", "make_fixtures.py"))
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    return fixtures.alice_text()[0], fixtures.SMOLLM2


def brainsweep(model, policy, tmp):
    with open(CONFIG) as f:
        text = f.read().replace("@MODEL@", os.path.abspath(model)).replace("@POLICY@", policy)
    with open(os.path.join(tmp, "bench.yaml"), "w") as f:
        f.write(text.replace("@OUTPUT@", os.path.join(tmp, "results.h5")))
    log = subprocess.run([BIN, "sweep", os.path.join(tmp, "bench.yaml")], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    tokens, seqs, run, gflop, seconds = LOG.search(log).groups()
    return {"tokens": int(run), "sequences": int(seqs), "gflop": float(gflop), "seconds": float(seconds)}


def run_json(cmd):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def transformers_forward(model, text_file, max_tokens):
    r = run_json([sys.executable, os.path.join(ROOT, "bench", "hf_forward.py"), model, text_file, str(max_tokens)])
    r["label"] = f"transformers {r['transformers']} / torch {r['torch']}"
    return r


def llama_cpp_forward(gguf, text_file, max_tokens):
    r = run_json([LLAMA_PYTHON, os.path.join(ROOT, "bench", "compare_llamacpp.py"), gguf, text_file, "1",
                  str(max_tokens)])
    r["seconds"], r["label"] = r["median_s"], f"llama.cpp (llama-cpp-python {r['llama_cpp_version']}), {r['model']}"
    return r


def sgemm_peak():
    """OpenBLAS sgemm GFLOP/s at 2048 x 2048 x 2048 with all cores, median of 3 (build/bench/gemm_peak)."""
    gemm = os.path.join(os.path.dirname(os.path.abspath(BIN)), "bench", "gemm_peak")
    out = subprocess.run([gemm, str(os.cpu_count()), "3", "2048x2048x2048"], capture_output=True, text=True,
                         check=True).stdout
    return {"gflops": float(out.strip().splitlines()[-1].split("|")[3])}


def bench_model(name, model, gguf, window, args, text_file, tmp):
    rounds = []
    for _ in range(args.rounds):
        r = {"peak": sgemm_peak(), "full": brainsweep(model, "full", tmp),
             "hf": transformers_forward(model, text_file, window)}
        if LLAMA_PYTHON and gguf:
            r["llama"] = llama_cpp_forward(gguf, text_file, window)
        r["tokens"] = brainsweep(model, f"tokens:{args.tokens_n}", tmp)
        rounds.append(r)
        print(f"  {name}: sgemm {r['peak']['gflops']:.0f} GFLOP/s, " +
              ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in r.items() if k != "peak"), file=sys.stderr)
    first = rounds[0]
    flop_per_token = first["full"]["gflop"] / first["full"]["tokens"]
    print(f"\n{name}: {args.rounds} rounds, {os.cpu_count()} threads each; brainsweep full runs "
          f"{first['full']['tokens']} tokens in {first['full']['sequences']} sequence(s), tokens:{args.tokens_n} "
          f"{first['tokens']['tokens']} tokens in {first['tokens']['sequences']} sequences; transformers "
          f"{first['hf']['tokens']} tokens" + (f", llama.cpp {first['llama']['tokens']}" if "llama" in first else "") +
          f"; OpenBLAS sgemm 2048^3 in the same rounds: median {statistics.median(r['peak']['gflops'] for r in rounds):.0f}"
          " GFLOP/s")
    print("| forward pass | tokens | median s | tokens/s | GFLOP/s | of sgemm peak | brainsweep full's speed-up |")
    print("|---|---|---|---|---|---|---|")
    for key in [k for k in ("full", "tokens", "hf", "llama") if k in first]:
        label = {"full": "brainsweep, full", "tokens": f"brainsweep, tokens:{args.tokens_n}"}.get(key)
        label = label or first[key]["label"]
        rate = lambda r: r[key]["tokens"] / r[key]["seconds"]
        gflops = lambda r: (r[key]["gflop"] if "gflop" in r[key] else flop_per_token * r[key]["tokens"]) / r[key]["seconds"]
        speedup = "-" if key in ("full", "tokens") else \
            f"{statistics.median(r['full']['tokens'] / r['full']['seconds'] / rate(r) for r in rounds):.2f}x"
        print(f"| {label} | {first[key]['tokens']} | {statistics.median(r[key]['seconds'] for r in rounds):.2f} | "
              f"{statistics.median(rate(r) for r in rounds):.0f} | {statistics.median(gflops(r) for r in rounds):.1f} | "
              f"{100 * statistics.median(gflops(r) / r['peak']['gflops'] for r in rounds):.0f}% | {speedup} |")
    ratio = statistics.median((r["tokens"]["gflop"] / r["tokens"]["seconds"]) / (r["full"]["gflop"] / r["full"]["seconds"])
                              for r in rounds)
    print(f"GFLOP/s of tokens:{args.tokens_n} over full, round by round: median {ratio:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens-n", type=int, default=32, help="N of the tokens:N runs")
    ap.add_argument("--gpt2", help="folder from bench/make_gpt2_small_gguf.py")
    args = ap.parse_args()
    text, smollm2 = alice_text()
    with tempfile.TemporaryDirectory() as tmp:
        text_file = os.path.join(tmp, "alice.txt")
        with open(text_file, "w", encoding="utf-8") as f:
            f.write(text)
        bench_model("SmolLM2-135M-Instruct (Q4_1 GGUF, run in float32)", smollm2, smollm2, 8192, args, text_file, tmp)
        if args.gpt2:
            ggufs = [os.path.join(args.gpt2, f) for f in sorted(os.listdir(args.gpt2)) if f.endswith("-f32.gguf")]
            bench_model("GPT-2-small shape (random float32 weights)", args.gpt2, ggufs[0] if ggufs else None, 1024,
                        args, text_file, tmp)


if __name__ == "__main__":
    main()
