#!/usr/bin/env bash
# Per-stage timings of a sweep, median over runs: bench/stages.sh [CONFIG] [RUNS]
# Reads the stage times each run stores in its results file (/meta/stage_seconds,
# /models/tokenize_seconds, /models/forward_seconds) and prints one table of medians, plus the
# whole command's wall time. Default: the demo config (SmolLM2-135M on the Alice fMRI data), 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-jobs/presets/demo.yaml}
RUNS=${2:-3}
BIN=${BRAINSWEEP:-build/brainsweep}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

value() { h5dump -d "$2" -y -w 0 -m '%.6f' -o "$TMP/v.txt" "$1" >/dev/null && tr ', ' '\n\n' <"$TMP/v.txt" | grep -v '^$'; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

for i in $(seq "$RUNS"); do
  out=$TMP/run$i.h5
  t0=$(date +%s.%N)
  "$BIN" sweep "$CONFIG" -P output.path="$out" -P features.cache_dir= -q >/dev/null  # extraction is timed too
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc >>"$TMP/wall"
  value "$out" /meta/stage_seconds | paste -sd' ' >>"$TMP/stages"
  value "$out" /models/tokenize_seconds | head -1 >>"$TMP/tok"
  value "$out" /models/forward_seconds | head -1 >>"$TMP/fwd"
  tokens=$(value "$out" /models/n_tokens | head -1)
  words=$(h5dump -H -d /stimulus/word "$out" | grep -o 'DATASPACE  SIMPLE { ( [0-9]*' | grep -o '[0-9]*$')
done

printf '%s: %s, %d runs on %s (%s cores), median seconds\n' "$(basename "$CONFIG")" "$("$BIN" version | head -1)" \
  "$RUNS" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)"
echo "| stage | seconds |"
echo "|---|---|"
names=(inputs extract fit write)
for k in 0 1 2 3; do
  [ $k -eq 1 ] && { printf '| tokenize (%s tokens, %s words) | %.2f |\n' "$tokens" "$words" "$(median <"$TMP/tok")";
                   printf '| forward, every layer captured | %.2f |\n' "$(median <"$TMP/fwd")"; continue; }
  printf '| %s | %.2f |\n' "${names[$k]}" "$(awk -v k=$((k + 1)) '{print $k}' "$TMP/stages" | median)"
done
printf '| whole command (process start to exit) | %.2f |\n' "$(median <"$TMP/wall")"
printf 'forward throughput: %.0f tokens/s\n' "$(echo "$tokens / $(median <"$TMP/fwd")" | bc -l)"
