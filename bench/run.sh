#!/usr/bin/env bash
# `make bench`: per-stage timings of the demo sweep (bench/stages.sh) and, where a Python with torch and
# transformers is given (BENCH_PYTHON=/path/to/python), the same extraction in transformers for comparison
# (bench/compare_forward.py, pair by pair), both in this one run. Paste the output into docs/PERFORMANCE.md with the date.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-3}
export BRAINSWEEP=$BUILD/brainsweep
data/fetch-smollm2.sh
echo "# $(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
bench/stages.sh jobs/presets/demo.yaml "$RUNS"
if [ -n "${BENCH_PYTHON:-}" ]; then
  "$BENCH_PYTHON" bench/compare_forward.py "$RUNS" 2>/dev/null
else
  echo "(set BENCH_PYTHON to a Python with torch + transformers to compare the forward pass with transformers)"
fi
