#!/usr/bin/env bash
# Subject groups sharing each layer's designs (words to samples, the PCA of each outer fold, delays, scaling; and
# the ridge's split designs, its eigendecompositions) through the unit store, against another build (one that
# shares less: redoes the designs, or the splits, in every group), and against one group.
#
#   bench/design_share.sh OTHER_BRAINSWEEP [REPEATS] [D_MODEL]   (default 3 rounds, d_model 2048; from the
#                                                                repository root after `make`)
#
# OTHER_BRAINSWEEP is the build to compare with (one made before a sharing step). PYTHON names a python3
# with numpy, for bench/make_big_checkpoint.py: a random-weight Llama-shaped checkpoint of 4 layers of D_MODEL
# features (the PCA's work grows with d_model^2 x samples). Data: `brainsweep simulate --fmri` with 4 subjects on a
# small grid at a TR of 0.5 s (many samples, few voxels: the shape where a layer's PCA weighs most against its ridge).
# The features are extracted once into a cache both builds read; each round then sweeps with groups of one subject
# (run.group_gib tiny) on each build, and with one group on this build, interleaved. Prints markdown (medians).
set -euo pipefail
OTHER=${1:?usage: bench/design_share.sh OTHER_BRAINSWEEP [REPEATS] [D_MODEL]}
REPEATS=${2:-3}
D=${3:-2048}
BIN=${BRAINSWEEP:-build/brainsweep}
PY=${PYTHON:-python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PY" bench/make_big_checkpoint.py "$TMP/ckpt" --layers 4 --d-model "$D" --d-ff $((2 * D)) --heads 16 >&2
"$BIN" simulate --fmri "$TMP/sim" --subjects 4 --tr 0.5 --grid 12,14,12 --seed 4 >&2
cat >"$TMP/c.yaml" <<YAML
models:
  - {name: wide, path: $TMP/ckpt}
stimulus:
  file: $TMP/sim/stimuli/words.tsv
recordings:
  format: bids_fmri
fmri:
  bids: $TMP/sim
  task: alice
features:
  cache_dir: $TMP/features
run:
  progress_seconds: 0
YAML
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# the features, once, for every run below
"$BIN" sweep "$TMP/c.yaml" -P output.path="$TMP/warm/results.h5" >"$TMP/warm.log" 2>&1 || { tail "$TMP/warm.log" >&2; exit 1; }
grep -E "recordings:|subject\(s\) x" "$TMP/warm.log" | head -2 >&2
run() {  # run LABEL BIN GROUP_GIB ROUND: seconds of the whole sweep (features from the cache)
  local out=$TMP/$1-$4 t0 t1
  t0=$(date +%s.%N)
  "$2" sweep "$TMP/c.yaml" -P output.path="$out/results.h5" -P run.group_gib="$3" -P run.log_dir="$out-logs" \
    >"$out.log" 2>&1 ||
    { tail "$out.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
for i in $(seq "$REPEATS"); do
  a=$(run shared "$BIN" 1e-9 "$i"); echo "$a" >>"$TMP/shared"
  b=$(run other "$OTHER" 1e-9 "$i"); echo "$b" >>"$TMP/other"
  c=$(run one "$BIN" 0 "$i"); echo "$c" >>"$TMP/one"
  echo "round $i: groups of one, this build $a s, the other build $b s; one group $c s" >&2
done
# split designs taken from the store by this build's groups (a group that starts a layer before the first has
# finished it decomposes its own)
echo "fits that took split designs from the store (this build, round 1): $(cat "$TMP"/shared-1-logs/rank-*.log |
  grep -c "split designs read from the store" || true)" >&2
for k in other one; do  # the same results, up to float rounding
  if h5diff -d 1e-5 "$TMP/shared-1/results.h5" "$TMP/$k-1/results.h5" /scores/r /scores/r >/dev/null; then
    echo "r of this build's groups within 1e-5 of $k: yes" >&2
  else
    echo "r of this build's groups within 1e-5 of $k: NO" >&2
  fi
done
echo "| run | wall (median of $REPEATS) | vs the other build |"
echo "|---|---:|---:|"
r=$(median <"$TMP/other")
for k in other shared one; do
  m=$(median <"$TMP/$k")
  case $k in
    other) label="groups of one subject (the other build)" ;;
    shared) label="groups of one subject (this build)" ;;
    one) label="one group of 4 subjects (this build)" ;;
  esac
  printf '| %s | %.1f s | %.2fx |\n' "$label" "$m" "$(echo "$m / $r" | bc -l)"
done
