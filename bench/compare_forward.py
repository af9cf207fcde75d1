#!/usr/bin/env python3
"""Hidden-state extraction speed: brainsweep beside transformers and llama.cpp, in one run, round by round.

    BRAINSWEEP=build/brainsweep [LLAMA_PYTHON=python-with-llama-cpp] \\
        PYTHON_WITH_TORCH_TRANSFORMERS bench/compare_forward.py [--rounds 3] [--tokens-n 32] [--gpt2 DIR]
                                                               [--llama-flash on|off|on,off]
    python3 bench/compare_forward.py --dry-run

Models: SmolLM2-135M-Instruct from its Q4_1 GGUF (`make fetch-model`), and with --gpt2 a GPT-2-small-shaped
random checkpoint folder made by bench/make_gpt2_small_gguf.py (model.safetensors in float32 for brainsweep and
transformers, its -f32.gguf for llama.cpp). Text: the Alice chapter as brainsweep builds it from the TextGrid
(tests/golden/make_fixtures.py applies the same rule), cut to the model's window for transformers and llama.cpp.

Each round runs, one process at a time and all with the machine's cores:
  brainsweep `full` (one 2,199-token sequence for SmolLM2; for GPT-2 1,024-token chunks without overlap,
  context.overlap=0, so it runs each of the story's tokens once, as the others run theirs),
  transformers (bench/hf_forward.py: float32, output_hidden_states=True, one timed call after a warm-up),
  llama.cpp (bench/compare_llamacpp.py: prompt processing of the same GGUF, one batch, with flash attention on,
  its faster CPU path, and with --llama-flash also off; skipped without LLAMA_PYTHON), each row naming its GGUF
  type and attention setting, brainsweep `tokens:N` (one N-token window per word; --tokens-n 0 leaves it out).
brainsweep's numbers come from the line it prints for each extraction ("NAME, context P: T tokens, S sequence(s)
on R rank(s), X s forward (DECODER, G GFLOP/s on this rank)"; LOG below), the seconds at full precision from the results
file (h5dump), the FLOPs as G x seconds (decoder_flops: matrix products and causal attention). A run whose output
no line of LOG matches stops this script with the pattern and the output. brainsweep's tokens/s counts the story's
tokens (T; BOS not counted); `tokens:N` runs more tokens than that and the sweep does not print how many, so its
row gives seconds and GFLOP/s only. The others' GFLOP/s use brainsweep's FLOPs per token of `full` (the same
shapes; llama.cpp's quantised GGUF does the same operations). Each round starts with OpenBLAS's sgemm at 2048^3
(build/bench/gemm_peak), the yardstick of "of sgemm peak". Ratios are taken within each round and their median
printed: the machine drifts. Paste the output into docs/PERFORMANCE.md.

--dry-run times nothing and needs no torch, transformers or llama-cpp-python: it runs the Alice sweep of the
committed 3-layer model (full and tokens:4) through LOG, and the helpers' own --dry-run, printing "DRY ok|skip|fail"
lines (bench/run.sh --dry-run, tests/e2e/test_bench.sh); exit 1 on a failure.
"""
import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BRAINSWEEP", os.path.join(ROOT, "build", "brainsweep"))
LLAMA_PYTHON = os.environ.get("LLAMA_PYTHON")
# the sweep's line for each extraction unit (mpi/sweep_extract.c), e.g.
# [r000 +1.0s] bench, context full: 5257 tokens, 5 sequence(s) on 1 rank(s), 0.6 s forward (cpu, 16.9 GFLOP/s on
# this rank); features in ...   tokens: the story's tokens; sequences: chunks (full) or windows (tokens:N)
LOG = re.compile(r"^\[r\d+ \+[0-9.]+s\] (?P<name>.+), context (?P<context>\S+): (?P<tokens>\d+) tokens, "
                 r"(?P<sequences>\d+) sequence\(s\) on (?P<ranks>\d+) rank\(s\), (?P<seconds>[0-9.]+) s forward "
                 r"\((?P<decoder>[^,()]+), (?P<gflops>[0-9.]+) GFLOP/s on this rank\)", re.M)
CONFIG = os.path.join(ROOT, "bench", "alice-sweep.yaml.in")
TINY = os.path.join(ROOT, "tests", "fixtures", "stories260K-3layers.gguf")  # the dry run's model


def alice_text():
    spec = importlib.util.spec_from_file_location("fixtures", os.path.join(ROOT, "tests", "golden", "make_fixtures.py"))
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    return fixtures.alice_text()[0], fixtures.SMOLLM2


def forward_seconds(results):
    """/models/forward_seconds of a results file at full precision (the log rounds to 0.1 s), via h5dump; None
    without h5dump."""
    if not shutil.which("h5dump"):
        return None
    out = subprocess.run(["h5dump", "-d", "/models/forward_seconds", "-m", "%.9g", results], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"\(0,0\): ([0-9.eE+-]+)", out)
    if not m:
        sys.exit(f"compare_forward: no (0,0) value in h5dump's /models/forward_seconds of {results}:\n{out}")
    return float(m.group(1))


def brainsweep(model, policy, tmp, overrides=()):
    """One sweep of the Alice config with model and policy; its extraction line parsed (a failure, with the log,
    when no line matches LOG). tokens: the story's tokens; gflop: its FLOP count (GFLOP/s x seconds)."""
    with open(CONFIG) as f:
        text = f.read().replace("@MODEL@", os.path.abspath(model)).replace("@POLICY@", policy)
    results = os.path.join(tmp, "results.h5")
    with open(os.path.join(tmp, "bench.yaml"), "w") as f:
        f.write(text.replace("@OUTPUT@", results))
    cmd = [BIN, "sweep", os.path.join(tmp, "bench.yaml"), "-P", "features.cache_dir="]
    for o in overrides:
        cmd += ["-P", o]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"compare_forward: `{' '.join(cmd)}` failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    m = LOG.search(run.stdout)
    if not m:
        sys.exit(f"compare_forward: no line of `{' '.join(cmd)}` matches the extraction pattern {LOG.pattern!r}; "
                 f"its output:\n{run.stdout}")
    seconds = forward_seconds(results) or float(m["seconds"])
    if abs(seconds - float(m["seconds"])) > 0.051 + 1e-3 * seconds:
        sys.exit(f"compare_forward: the log's {m['seconds']} s forward and the results file's {seconds} disagree")
    shutil.rmtree(results + ".units", ignore_errors=True)
    os.remove(results)
    return {"tokens": int(m["tokens"]), "sequences": int(m["sequences"]), "seconds": seconds,
            "gflop": float(m["gflops"]) * seconds, "policy": m["context"], "line": m.group(0)}


def run_json(cmd):
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0 or not run.stdout.strip():
        sys.exit(f"compare_forward: `{' '.join(cmd)}` failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def transformers_forward(model, text_file, max_tokens):
    r = run_json([sys.executable, os.path.join(ROOT, "bench", "hf_forward.py"), model, text_file, str(max_tokens)])
    r["label"] = f"transformers {r['transformers']} / torch {r['torch']}, float32"
    return r


def llama_cpp_forward(gguf, text_file, max_tokens, flash):
    r = run_json([LLAMA_PYTHON, os.path.join(ROOT, "bench", "compare_llamacpp.py"), gguf, text_file, "1",
                  str(max_tokens), str(os.cpu_count()), flash])
    if r["flash_attn"] != (flash == "on"):
        sys.exit(f"compare_forward: asked llama.cpp for flash attention {flash}, it reports {r['flash_attn']}")
    kind = "Q4_1" if "Q4_1" in r["model"] else "F32" if "f32" in r["model"].lower() else r["model"]
    r["seconds"] = r["median_s"]
    r["label"] = (f"llama.cpp (llama-cpp-python {r['llama_cpp_version']}), {kind} GGUF, flash attention "
                  f"{'on' if r['flash_attn'] else 'off'}")
    return r


def sgemm_peak():
    """OpenBLAS sgemm GFLOP/s at 2048 x 2048 x 2048 with all cores, median of 3 (build/bench/gemm_peak)."""
    gemm = os.path.join(os.path.dirname(os.path.abspath(BIN)), "bench", "gemm_peak")
    out = subprocess.run([gemm, str(os.cpu_count()), "3", "2048x2048x2048"], capture_output=True, text=True,
                         check=True).stdout
    return {"gflops": float(out.strip().splitlines()[-1].split("|")[3])}


def bench_model(name, model, gguf, window, args, text_file, tmp, overrides=()):
    """Rounds of: sgemm, brainsweep full, transformers, llama.cpp (each flash setting), brainsweep tokens:N;
    then one Markdown table of medians. brainsweep's tokens/s counts the story's tokens (BOS not counted) over
    the forward seconds of `full`, whose chunks do not overlap here (overrides), so it runs those tokens once."""
    rounds = []
    for _ in range(args.rounds):
        r = {"peak": sgemm_peak(), "full": brainsweep(model, "full", tmp, overrides),
             "hf": transformers_forward(model, text_file, window)}
        if LLAMA_PYTHON and gguf:
            for flash in args.llama_flash.split(","):
                r[f"llama-{flash}"] = llama_cpp_forward(gguf, text_file, window, flash)
        if args.tokens_n:
            r["tokens"] = brainsweep(model, f"tokens:{args.tokens_n}", tmp, overrides)
        rounds.append(r)
        print(f"  {name}: sgemm {r['peak']['gflops']:.0f} GFLOP/s, " +
              ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in r.items() if k != "peak"), file=sys.stderr)
    print_table(name, rounds, args, overrides)


def print_table(name, rounds, args, overrides):
    """The Markdown table of medians over rounds (each a dict: peak, full, hf, llama-on/off, tokens)."""
    first = rounds[0]
    full = first["full"]
    gflop_per_token = full["gflop"] / full["tokens"]
    print(f"\n{name}: {args.rounds} interleaved rounds, {os.cpu_count()} threads each; brainsweep full: the story's "
          f"{full['tokens']} tokens in {full['sequences']} sequence(s) ({' '.join(overrides) or 'default chunking'}); " +
          (f"tokens:{args.tokens_n}: {first['tokens']['sequences']} windows; " if args.tokens_n else "") +
          f"transformers {first['hf']['tokens']} tokens"
          + "".join(f", {first[k]['label'].split(', ', 1)[1]} {first[k]['tokens']} tokens"
                    for k in first if k.startswith("llama-")) +
          f"; OpenBLAS sgemm 2048^3 in the same rounds: median "
          f"{statistics.median(r['peak']['gflops'] for r in rounds):.0f} GFLOP/s")
    print(f"brainsweep's line (round 1): {full['line']}")
    print("| forward pass | tokens | median s | tokens/s | GFLOP/s | of sgemm peak | brainsweep full's speed-up |")
    print("|---|---|---|---|---|---|---|")
    keys = [k for k in ("full", "tokens", "hf") if k in first] + [k for k in first if k.startswith("llama-")]
    for key in keys:
        label = {"full": "brainsweep, full", "tokens": f"brainsweep, tokens:{args.tokens_n}"}.get(key) or first[key]["label"]
        per_token = key != "tokens"  # tokens:N runs more tokens than the story's; the sweep logs its FLOPs, not its tokens
        rate = lambda r: r[key]["tokens"] / r[key]["seconds"]
        gflops = lambda r: (r[key]["gflop"] if "gflop" in r[key] else gflop_per_token * r[key]["tokens"]) / r[key]["seconds"]
        speedup = "-" if key in ("full", "tokens") else \
            f"{statistics.median(r['full']['tokens'] / r['full']['seconds'] / rate(r) for r in rounds):.2f}x"
        tokens = first[key]["tokens"] if per_token else f"{first[key]['sequences']} windows"
        tps = f"{statistics.median(rate(r) for r in rounds):.0f}" if per_token else "-"
        print(f"| {label} | {tokens} | {statistics.median(r[key]['seconds'] for r in rounds):.2f} | {tps} | "
              f"{statistics.median(gflops(r) for r in rounds):.1f} | "
              f"{100 * statistics.median(gflops(r) / r['peak']['gflops'] for r in rounds):.0f}% | {speedup} |")
    if args.tokens_n:
        ratio = statistics.median((r["tokens"]["gflop"] / r["tokens"]["seconds"]) /
                                  (r["full"]["gflop"] / r["full"]["seconds"]) for r in rounds)
        print(f"GFLOP/s of tokens:{args.tokens_n} over full, round by round: median {ratio:.2f}")


def dry_run(args):
    """The parts that run without torch, transformers or llama-cpp-python: brainsweep's extraction lines (full
    and tokens:N, the committed 3-layer model) through LOG, the helpers' own dry runs; DRY lines, exit 1 on a
    failure."""
    failed = 0

    def line(kind, what, why=""):
        nonlocal failed
        failed += kind == "fail"
        print(f"DRY {kind} {what}" + (f": {why}" if why else ""), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        for policy in ("full", "tokens:4"):  # the pattern is the same for every N; a short N runs fast
            try:
                r = brainsweep(TINY, policy, tmp, ("context.overlap=0",))
                ok = r["policy"] == policy and r["tokens"] > 0 and r["sequences"] > 0 and r["gflop"] > 0
                line("ok" if ok else "fail", f"brainsweep_{policy}_line_parsed",
                     f"{r['tokens']} tokens, {r['sequences']} sequences, {r['seconds']:.3f} s, {r['gflop']:.2f} GFLOP")
            except SystemExit as e:
                line("fail", f"brainsweep_{policy}_line_parsed", str(e))
            if policy == "full" and not failed:
                # the report's code on these numbers, with made-up timings in place of the other tools'
                other = {"tokens": r["tokens"], "seconds": 2 * r["seconds"], "label": "x, made up"}
                fake = {"peak": {"gflops": 100.0}, "full": r, "hf": other, "llama-on": other, "llama-off": other}
                import contextlib
                import io

                with contextlib.redirect_stdout(io.StringIO()) as table:
                    print_table("dry run", [fake], argparse.Namespace(rounds=1, tokens_n=0), ("context.overlap=0",))
                rows = [x for x in table.getvalue().splitlines() if x.startswith("| ")]
                line("ok" if len(rows) == 5 and rows[-1].endswith("| 2.00x |") else "fail", "report_table",
                     f"{len(rows)} lines, last {rows[-1] if rows else None!r}")
        if not shutil.which("h5dump"):
            line("skip", "forward_seconds_from_results", "no h5dump: the log's 0.1 s resolution is used")
    helpers = [(sys.executable, "hf_forward.py")]
    helpers.append((LLAMA_PYTHON or sys.executable, "compare_llamacpp.py"))
    for python, script in helpers:
        run = subprocess.run([python, os.path.join(ROOT, "bench", script), "--dry-run"], capture_output=True, text=True)
        sys.stdout.write(run.stdout)
        if run.returncode != 0:
            line("fail", f"{script}_dry_run", f"exit {run.returncode}: {run.stderr.strip()[-300:]}")
    if importlib.util.find_spec("torch") and importlib.util.find_spec("transformers"):
        text, _ = alice_text()
        line("ok" if len(text.split()) > 2000 else "fail", "alice_text", f"{len(text.split())} words")
    else:
        line("skip", "alice_text", "tests/golden/make_fixtures.py needs torch and transformers, not installed here")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens-n", type=int, default=32, help="N of the tokens:N runs; 0: no tokens:N runs")
    ap.add_argument("--gpt2", help="folder from bench/make_gpt2_small_gguf.py")
    ap.add_argument("--llama-flash", default="on", choices=("on", "off", "on,off", "off,on"),
                    help="llama.cpp's flash attention in each round: on (default, its faster CPU path), off, or both")
    ap.add_argument("--dry-run", action="store_true",
                    help="check the log pattern against a short sweep and the helpers' arguments; time nothing")
    args = ap.parse_args()
    if args.rounds < 1 or args.tokens_n < 0:
        ap.error("--rounds is at least 1, --tokens-n at least 0")
    if args.dry_run:
        sys.exit(dry_run(args))
    text, smollm2 = alice_text()
    with tempfile.TemporaryDirectory() as tmp:
        text_file = os.path.join(tmp, "alice.txt")
        with open(text_file, "w", encoding="utf-8") as f:
            f.write(text)
        bench_model("SmolLM2-135M-Instruct (Q4_1 GGUF, run in float32)", smollm2, smollm2, 8192, args, text_file, tmp)
        if args.gpt2:
            ggufs = [os.path.join(args.gpt2, f) for f in sorted(os.listdir(args.gpt2)) if f.endswith("-f32.gguf")]
            bench_model("GPT-2-small shape (random float32 weights)", args.gpt2, ggufs[0] if ggufs else None, 1024,
                        args, text_file, tmp, ("context.overlap=0",))


if __name__ == "__main__":
    main()
