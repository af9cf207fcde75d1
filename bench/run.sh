#!/usr/bin/env bash
# `make bench`: the figures of docs/PERFORMANCE.md, in one run.
#  1. OpenBLAS sgemm throughput on this machine, beside brainsweep's own matrix product (build/bench/gemm_peak);
#  2. per-stage timings of the demo sweep (bench/stages.sh);
#  3. with BENCH_PYTHON (a Python with torch + transformers): hidden-state extraction beside transformers, and
#     with LLAMA_PYTHON (a Python with llama-cpp-python) beside llama.cpp (bench/compare_forward.py); with
#     GPT2_DIR (a folder from bench/make_gpt2_small_gguf.py) on the GPT-2-small shape too;
#  4. the ridge engine: time against n, p and t, a subject's 33-layer fit, 100,000 targets (bench/ridge_scaling.sh);
#     with BENCH_PYTHON (also with himalaya and scikit-learn): beside himalaya's and scikit-learn's RidgeCV on the
#     same data (bench/compare_ridge.py; himalaya takes minutes per round at the issue's shape);
#  5. with BENCH_MEMORY=1: peak memory of a generated 7B-shaped bf16 checkpoint (bench/memory.sh, ~13.5 GB of
#     disk under .cache/bench, several minutes).
# RUNS (default 3) sets runs and rounds. Paste the output into docs/PERFORMANCE.md with the date.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-3}
export BRAINSWEEP=$BUILD/brainsweep
data/fetch-smollm2.sh
echo "# $(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$BUILD/bench/gemm_peak" "$(nproc)" 7
bench/stages.sh jobs/presets/demo.yaml "$RUNS"
if [ -n "${BENCH_PYTHON:-}" ]; then
  "$BENCH_PYTHON" bench/compare_forward.py --rounds "$RUNS" ${GPT2_DIR:+--gpt2 "$GPT2_DIR"}
else
  echo "(set BENCH_PYTHON to a Python with torch + transformers to compare the forward pass with transformers)"
fi
RUNS=$RUNS bench/ridge_scaling.sh "$BUILD"
if [ -n "${BENCH_PYTHON:-}" ]; then
  "$BENCH_PYTHON" bench/compare_ridge.py --rounds "$RUNS" --bench "$BUILD/bench/ridge_bench"
fi
if [ "${BENCH_MEMORY:-0}" = 1 ]; then
  PYTHON=${BENCH_PYTHON:-python3} bench/memory.sh
fi
