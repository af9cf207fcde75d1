#!/usr/bin/env bash
# `make bench`: the figures of docs/PERFORMANCE.md, in one run.
#  1. OpenBLAS sgemm throughput on this machine, beside brainsweep's own matrix product (build/bench/gemm_peak);
#  2. per-stage timings of the demo sweep (bench/stages.sh);
#  3. with BENCH_PYTHON (a Python with torch + transformers): hidden-state extraction beside transformers, and
#     with LLAMA_PYTHON (a Python with llama-cpp-python) beside llama.cpp with flash attention on (its faster CPU
#     setting; bench/compare_forward.py --llama-flash on,off times both); with GPT2_DIR (a folder from
#     bench/make_gpt2_small_gguf.py) on the GPT-2-small shape too, against its F32 GGUF;
#  4. the ridge engine: time against n, p and t, a subject's 33-layer fit, 100,000 targets (bench/ridge_scaling.sh);
#     with BENCH_PYTHON (also with numpy, himalaya and scikit-learn): beside a plain numpy baseline and himalaya's
#     and scikit-learn's RidgeCV on the same data (bench/compare_ridge.py; himalaya takes minutes per round at the
#     issue's shape);
#  5. with BENCH_MEMORY=1: peak memory of a generated 7B-shaped bf16 checkpoint (bench/memory.sh, ~13.5 GB of
#     disk under .cache/bench, several minutes).
# RUNS (default 3) sets runs and rounds. Paste the output into docs/PERFORMANCE.md with the date.
#
# `bench/run.sh --dry-run [BUILD]` times nothing: it checks, in under a minute and with nothing beyond Python's
# own library, that every script here parses (bash -n, py_compile), that the Python scripts' argument handling
# works (their --dry-run, under BENCH_PYTHON and LLAMA_PYTHON where set, else python3), and that every pattern
# they read from brainsweep's output matches what this build prints (a short sweep of the committed 3-layer
# model, ridge_bench and gemm_peak on tiny shapes). One "DRY ok|skip|fail WHAT[: why]" line per check; what it
# cannot check without torch, transformers, llama-cpp-python, numpy or himalaya is named on a skip line. Exit 1
# on any failure. tests/e2e/test_bench.sh runs it in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--dry-run" ]; then
  BUILD=${2:-build}
  export BRAINSWEEP=$BUILD/brainsweep
  failed=0
  dry() {  # dry WHAT command...: one DRY line from the command's exit status
    local what=$1; shift
    if "$@" >/dev/null 2>&1; then echo "DRY ok $what"; else echo "DRY fail $what"; failed=1; fi
  }
  for f in bench/*.sh bench/gpu/*.sh; do dry "syntax_$(basename "$f")" bash -n "$f"; done
  for f in bench/*.py bench/gpu/*.py; do
    dry "syntax_$(basename "$f")" python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$f"
  done
  dry make_gpt2_small_gguf_arguments python3 bench/make_gpt2_small_gguf.py --help
  py=${BENCH_PYTHON:-python3}
  # each script's own checks print DRY lines; a non-zero exit without a fail line is a failure too
  for cmd in "bench/compare_forward.py --dry-run" \
             "bench/compare_ridge.py --dry-run --bench $BUILD/bench/ridge_bench" "bench/gpu/hf_speed.py --dry-run"; do
    out=$(LLAMA_PYTHON=${LLAMA_PYTHON:-} "$py" $cmd 2>&1) && rc=0 || rc=$?
    grep '^DRY ' <<<"$out" || true
    if [ $rc -ne 0 ]; then
      grep -q '^DRY fail ' <<<"$out" || { echo "DRY fail ${cmd%% *}: exit $rc"; tail -5 <<<"$out"; }
      failed=1
    fi
  done
  # ridge_scaling.sh's reader of ridge_bench's summary and the readers of gemm_peak's table, on tiny shapes
  row=$(RUNS=1 bench/ridge_scaling.sh --row "$BUILD" 1 "tiny" 600,12,40 2>&1) && rc=0 || rc=$?
  num='[0-9.]+'
  if [ $rc -eq 0 ] && [[ "$row" =~ ^\|\ tiny(\ \|\ $num){6}\ \|$ ]]; then
    echo "DRY ok ridge_scaling_row_parsed: $row"
  else
    echo "DRY fail ridge_scaling_row_parsed: '$row'"; failed=1
  fi
  peak=$("$BUILD/bench/gemm_peak" 1 1 256x256x256 2>&1 | tail -1 | cut -d'|' -f4 | tr -d ' ')
  if [[ "$peak" =~ ^[0-9.]+$ ]]; then echo "DRY ok gemm_peak_parsed: $peak GFLOP/s at 256^3"
  else echo "DRY fail gemm_peak_parsed: '$peak'"; failed=1; fi
  exit $failed
fi
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
