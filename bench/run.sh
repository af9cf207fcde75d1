#!/usr/bin/env bash
# `make bench`: per-stage timings of the demo sweep (bench/stages.sh) and, where a Python with torch and
# transformers is given (BENCH_PYTHON=/path/to/python), the same extraction in transformers for comparison
# (bench/hf_extract.py), both in this one run. Paste the output into docs/PERFORMANCE.md with the date.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-3}
export BRAINSWEEP=$BUILD/brainsweep
data/fetch-smollm2.sh
echo "# $(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
bench/stages.sh jobs/presets/demo.yaml "$RUNS" | tee /tmp/bench-stages.$$
if [ -n "${BENCH_PYTHON:-}" ]; then
  hf=$("$BENCH_PYTHON" bench/hf_extract.py "$RUNS" 2>/dev/null | tail -1)
  echo "$hf"
  ours=$(grep -o 'forward, every layer captured | [0-9.]*' /tmp/bench-stages.$$ | grep -o '[0-9.]*$')
  theirs=$(grep -o 'forward median [0-9.]*' <<<"$hf" | grep -o '[0-9.]*$')
  printf 'forward time, brainsweep / transformers: %.2f\n' "$(echo "$ours / $theirs" | bc -l)"
else
  echo "(set BENCH_PYTHON to a Python with torch + transformers to compare with transformers)"
fi
rm -f /tmp/bench-stages.$$
