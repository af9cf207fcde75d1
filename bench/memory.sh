#!/usr/bin/env bash
# Memory of a 7B-shaped bf16 checkpoint on this machine: bench/memory.sh [CHECKPOINT_DIR]
# Generates the checkpoint once (bench/make_big_checkpoint.py: Llama-2-7B's shape, random bf16 weights, ~13.5 GB,
# default .cache/bench/llama-7b-shape; PYTHON= a Python with numpy, default python3), then runs the Alice sweep
# on it with one rank and samples the process's resident memory every half second: file-backed pages (the mapped
# checkpoint as it is read) and anonymous pages (widened layers, activations, features) apart, plus the peak
# total the kernel reports. The fit is cut to one alpha and 2 x 2 folds: this measures extraction.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.cache/bench/llama-7b-shape}
BIN=${BRAINSWEEP:-build/brainsweep}
[ -f "$DIR/model.safetensors.index.json" ] || "${PYTHON:-python3}" bench/make_big_checkpoint.py "$DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
sed -e "s|@MODEL@|$(realpath "$DIR")|" -e "s|@POLICY@|full|" -e "s|@OUTPUT@|$TMP/results.h5|" \
  bench/alice-sweep.yaml.in >"$TMP/big.yaml"

/usr/bin/time -v -o "$TMP/time" "$BIN" sweep "$TMP/big.yaml" >"$TMP/log" 2>&1 &
sleep 0.2
pid=$(pgrep -P $! -n || true)
: >"$TMP/samples"
while kill -0 $! 2>/dev/null; do
  [ -n "$pid" ] && awk '/^RssAnon|^RssFile/ {printf "%s ", $2} END {print ""}' "/proc/$pid/status" 2>/dev/null >>"$TMP/samples" || true
  sleep 0.5
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || pid=$(pgrep -P $! -n || true)
done
wait $! || { cat "$TMP/log"; exit 1; }

gib() { awk -v k="$1" 'BEGIN {printf "%.2f", k / 1048576}'; }
stored=$(du -bc "$DIR"/*.safetensors | tail -1 | cut -f1)
anon=$(awk '{if ($1 > m) m = $1} END {print m + 0}' "$TMP/samples")
file=$(awk '{if ($2 > m) m = $2} END {print m + 0}' "$TMP/samples")
peak=$(awk -F': ' '/Maximum resident/ {print $2}' "$TMP/time")
wall=$(awk -F': ' '/Elapsed/ {print $2}' "$TMP/time")
echo "# $(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $("$BIN" version | head -1)"
grep -E "parameters|tokens run" "$TMP/log" | sed 's/^\[[^]]*\] //'
echo "| checkpoint (bf16, on disk) | peak RSS | of which mapped file | of which anonymous | wall time |"
echo "|---|---|---|---|---|"
echo "| $(awk -v b="$stored" 'BEGIN {printf "%.2f", b / 2^30}') GiB | $(gib "$peak") GiB | $(gib "$file") GiB |" \
  "$(gib "$anon") GiB | $wall |"
