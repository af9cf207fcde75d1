#!/usr/bin/env bash
# A change to the decoder that keeps its arithmetic must keep its numbers and its speed. This runs the same
# extractions with two builds, compares the hidden states they store byte for byte and times the forward pass
# in interleaved rounds (the two builds alternate, and which goes first alternates too, so load from other
# processes falls on both alike), printing the median forward seconds (wall) of each and their ratio, and the
# median user CPU seconds of the whole run (less sensitive to a shared machine; the fits are the same code).
#   bench/decoder_same.sh OLD_BRAINSWEEP [NEW_BRAINSWEEP] [ROUNDS]
# NEW defaults to build/brainsweep, ROUNDS to 5. Cases: stories260K over the whole story and with per-word
# windows and mean words (the committed model), and the demo's SmolLM2 where `make fetch-model` brought it.
# THREADS (default 1) sets run.threads for every run. Exit 1 when any case's states differ.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: bench/decoder_same.sh OLD_BRAINSWEEP [NEW_BRAINSWEEP] [ROUNDS]}
NEW=${2:-build/brainsweep}
ROUNDS=${3:-5}
THREADS=${THREADS:-1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

value() { h5dump -d "$2" -y -w 0 -m '%.6f' -o "$TMP/v.txt" "$1" >/dev/null && tr ', ' '\n\n' <"$TMP/v.txt" | grep -v '^$'; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

# run BUILD_NAME BINARY CASE_DIR CONFIG ARGS...: one sweep into CASE_DIR/BUILD_NAME.N; its forward seconds and
# user CPU seconds appended to CASE_DIR/BUILD_NAME.seconds and .cpu
run() {
  local name=$1 bin=$2 dir=$3 config=$4; shift 4
  local n; n=$(find "$dir" -maxdepth 1 -type d -name "$name.*" | wc -l)
  local out=$dir/$name.$n
  mkdir -p "$out"
  local TIMEFORMAT=%U
  { time "$bin" sweep "$config" -P output.path="$out/r.h5" -P features.cache_dir="$out/cache" \
      -P run.threads="$THREADS" -q "$@" >"$out/log" 2>&1; } 2>>"$dir/$name.cpu" ||
    { echo "FAIL $name run failed, see its log:"; tail -5 "$out/log"; exit 1; }
  value "$out/r.h5" /models/forward_seconds | head -1 >>"$dir/$name.seconds"
}

# the /features dataset of a run's features file, as raw little-endian floats
states() { h5dump -d /features -b LE -o "$2" "$(ls "$1"/cache/*.h5)" >/dev/null; }

failed=0
case_() {  # NAME CONFIG ARGS...
  local label=$1 config=$2; shift 2
  local dir=$TMP/$label
  mkdir -p "$dir"
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then run old "$OLD" "$dir" "$config" "$@"; run new "$NEW" "$dir" "$config" "$@"
    else run new "$NEW" "$dir" "$config" "$@"; run old "$OLD" "$dir" "$config" "$@"; fi
  done
  states "$dir/old.0" "$dir/old.bin"
  states "$dir/new.0" "$dir/new.bin"
  local bytes; bytes=$(stat -c %s "$dir/new.bin")
  if cmp -s "$dir/old.bin" "$dir/new.bin"; then
    echo "PASS $label/states_identical  $bytes bytes"
  else
    echo "FAIL $label/states_identical  $(cmp "$dir/old.bin" "$dir/new.bin" | head -1)"
    failed=1
  fi
  local mo mn co cn
  mo=$(median <"$dir/old.seconds")
  mn=$(median <"$dir/new.seconds")
  co=$(median <"$dir/old.cpu")
  cn=$(median <"$dir/new.cpu")
  printf '| %s | %s | %s | %.3f | %s | %s | %.3f |\n' "$label" "$mo" "$mn" "$(echo "$mn / $mo" | bc -l)" "$co" "$cn" \
    "$(echo "$cn / $co" | bc -l)"
}

echo "# $(date -u +%Y-%m-%d) $(nproc) cores, run.threads=$THREADS, $ROUNDS interleaved rounds; medians"
echo "| case | forward s, old | new | new/old | user CPU s of the run, old | new | new/old |"
echo "|---|---|---|---|---|---|---|"
case_ stories260K-full jobs/presets/test-stories260k.yaml
case_ stories260K-tokens16-mean jobs/presets/test-stories260k.yaml -P 'context.policy=[tokens:16]' -P context.word=mean
if [ -f .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
  case_ smollm2-full jobs/presets/demo.yaml
else
  echo "(SmolLM2 absent: make fetch-model)"
fi
exit $failed
