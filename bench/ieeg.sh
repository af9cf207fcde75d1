#!/usr/bin/env bash
# EDF to word responses on the full simulated Podcast dataset (9 subjects, 1,330 electrodes, 30 min at 512 Hz):
# `brainsweep ieeg` (read, re-reference, notch, high-gamma filter bank, 100 Hz envelope, z-score, word windows,
# responsiveness test, anatomy) timed REPEATS times with a fresh responses file, medians printed as markdown.
#
#   bench/ieeg.sh [DATASET_DIR] [REPEATS] [fast|exact]   (default results/bench-podcast-sim, 3, fast; from the
#                                                        repository root; the last is ieeg.envelope)
#   RANKS="1 2" bench/ieeg.sh ...   the same on 1 rank and on 2 (mpirun), rounds interleaved, each rank with the
#                                   machine's cores / ranks threads: the ranks share the subjects (subject i on
#                                   rank i mod ranks), as `brainsweep sweep` does; also prints the rank's peak memory
#
# Makes the dataset with `brainsweep simulate` when DATASET_DIR does not exist (about 4 min and 2.6 GB here).
# The side-by-side with naplib-python is bench/compare_highgamma.py (one subject; needs naplib in a venv).
set -euo pipefail
DATA=${1:-results/bench-podcast-sim}
REPEATS=${2:-3}
ENVELOPE=${3:-fast}
BIN=${BRAINSWEEP:-build/brainsweep}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if [ ! -d "$DATA" ]; then
  echo "simulating the full Podcast dataset into $DATA ..." >&2
  "$BIN" simulate "$DATA" >&2
fi
cat >"$TMP/c.yaml" <<YAML
models:
  - {name: m, path: data/models/stories260K.gguf}
stimulus:
  file: $DATA/stimuli/words.tsv
recordings:
  format: ieeg
ieeg:
  bids: $DATA
  task: podcast
  stimulus_event: podcast
  envelope: $ENVELOPE
output:
  path: $TMP/out/results.h5
YAML
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
RANKS=${RANKS:-1}
CORES=$(nproc)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for n in $RANKS; do : >"$TMP/rows-$n"; done
for i in $(seq "$REPEATS"); do
  for n in $RANKS; do
    rm -f "$TMP/out/results-responses.h5"
    threads=$((CORES / n > 0 ? CORES / n : 1))
    launch=()
    [ "$n" -eq 1 ] || launch=(mpirun -n "$n")
    # time -v's peak is the largest process's (one rank's)
    /usr/bin/time -f "%e %M" -o "$TMP/time" "${launch[@]}" "$BIN" ieeg "$TMP/c.yaml" -P run.threads=$threads \
      >"$TMP/log" 2>&1
    # "ieeg: E electrodes of S subject(s) in T s (reading R s, high-gamma H s)"
    read -r e s r h < <(sed -n 's/.*ieeg: \([0-9]*\) electrodes of \([0-9]*\) subject(s) in [0-9.]* s (reading \([0-9.]*\) s, high-gamma \([0-9.]*\) s).*/\1 \2 \3 \4/p' "$TMP/log")
    read -r wall rss <"$TMP/time"
    echo "$wall $r $h $rss $e $s" >>"$TMP/rows-$n"
    echo "run $i, $n rank(s) x $threads thread(s): $wall s wall, reading $r s, high-gamma $h s (summed over ranks), peak RSS $((rss / 1024)) MiB, $e electrodes of $s subjects" >&2
  done
done
echo "| envelope | ranks x threads | electrodes (good) | subjects | wall (median of $REPEATS) | reading EDF | re-reference + high-gamma | peak memory (one process) |"
echo "|---|---|---|---|---|---|---|---|"
for n in $RANKS; do
  rows=$TMP/rows-$n
  printf '| %s | %s x %s | %s | %s | %.1f s | %.1f s | %.1f s | %.0f MiB |\n' "$ENVELOPE" "$n" "$((CORES / n > 0 ? CORES / n : 1))" \
    "$(awk 'NR == 1 {print $5}' "$rows")" "$(awk 'NR == 1 {print $6}' "$rows")" "$(cut -d' ' -f1 "$rows" | median)" \
    "$(cut -d' ' -f2 "$rows" | median)" "$(cut -d' ' -f3 "$rows" | median)" \
    "$(cut -d' ' -f4 "$rows" | median | awk '{print $1 / 1024}')"
done
