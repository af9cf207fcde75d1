#!/usr/bin/env bash
# Strong and weak scaling of `brainsweep sweep` over MPI ranks on this machine, with where each rank's
# time went (/meta/rank_seconds: computing, gathering, reading and writing files, waiting).
#
#   bench/scaling.sh [REPEATS]        (default 3; run from the repository root after `make`)
#
# Strong: one fixed sweep (2 models x 3 context policies = 6 extraction units, 30 layer fits with a
# 300-shift null) on 1, 2 and 4 ranks of one thread each; 4 ranks oversubscribe a 2-core machine,
# which measures the overhead of more ranks than cores, not a speed-up.
# Weak: the work grows with the ranks (contexts = ranks: 1, 2, 4), one thread per rank.
# Rounds are interleaved (1, 2, 4, 1, 2, 4, ...) so the machine's drift hits every size alike; the
# tables give medians. Prints markdown for docs/PERFORMANCE.md.
set -euo pipefail
REPEATS=${1:-3}
BIN=${BRAINSWEEP:-build/brainsweep}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
sed 's|^models:|models:\n  - {name: tiny3, path: tests/fixtures/stories260K-3layers.gguf}|' \
  jobs/presets/test-stories260k.yaml >"$TMP/two.yaml"
COMMON=(-P run.threads=1 -P run.layer_block=1 -P ridge.permutations=300 -P run.progress_seconds=0)
STRONG_CTX="[full, tokens:8, tokens:32]"
weak_ctx() { case $1 in 1) echo "[full]" ;; 2) echo "[full, tokens:8]" ;; *) echo "[full, tokens:8, tokens:16, tokens:32]" ;; esac; }

run() {  # run KIND RANKS ROUND -> prints "wall extract gather save_feat load_feat fit save_layers write wait" (rank means)
  local kind=$1 n=$2 round=$3 ctx out=$TMP/$1-$2-$3/results.h5
  if [ "$kind" = strong ]; then ctx=$STRONG_CTX; else ctx=$(weak_ctx "$n"); fi
  local t0 t1
  t0=$(date +%s.%N)
  mpirun -n "$n" "$BIN" sweep "$TMP/two.yaml" -P output.path="$out" -P "context.policy=$ctx" "${COMMON[@]}" \
    >"$TMP/$kind-$n-$round.log" 2>&1
  t1=$(date +%s.%N)
  h5dump -d /meta/rank_seconds -y -w 0 -o "$TMP/rs.txt" "$out" >/dev/null
  tr ', ' '\n\n' <"$TMP/rs.txt" | grep -E '^[0-9.e+-]+$' |
    awk -v n="$n" -v wall="$(echo "$t1 - $t0" | bc)" '{s[(NR - 1) % 8] += $1} END {
      printf "%.3f", wall; for (i = 0; i < 8; i++) printf " %.3f", s[i] / n; printf "\n" }'
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for kind in strong weak; do
  for round in $(seq 1 "$REPEATS"); do
    for n in 1 2 4; do run $kind $n $round >>"$TMP/$kind-$n.txt"; done
  done
done

col() { awk -v c="$2" '{print $c}' "$1" | median; }
echo "| sweep | ranks | wall (s), median of $REPEATS | speed-up vs 1 rank | efficiency | compute | gather | files | wait |"
echo "|---|---|---|---|---|---|---|---|---|"
for kind in strong weak; do
  w1=$(col "$TMP/$kind-1.txt" 1)
  for n in 1 2 4; do
    f=$TMP/$kind-$n.txt
    w=$(col "$f" 1)
    compute=$(echo "$(col "$f" 2) + $(col "$f" 6)" | bc -l)
    files=$(echo "$(col "$f" 4) + $(col "$f" 5) + $(col "$f" 7) + $(col "$f" 8)" | bc -l)
    if [ $kind = strong ]; then sp=$(echo "$w1 / $w" | bc -l); eff=$(echo "$sp / $n" | bc -l)
    else sp=$(echo "$w1 * $n / $w" | bc -l); eff=$(echo "$w1 / $w" | bc -l); fi
    printf "| %s | %d | %.2f | %.2fx | %.0f%% | %.2f | %.3f | %.3f | %.2f |\n" $kind $n "$w" "$sp" \
      "$(echo "$eff * 100" | bc -l)" "$compute" "$(col "$f" 3)" "$files" "$(col "$f" 9)"
  done
done
echo
echo "compute = extract + fit, files = save features + load features + save layers + write results, wait = idle"
echo "(dispatch waits, barriers, MPI start-up); seconds per rank, mean over ranks, median over rounds."
echo "Weak: speed-up = N x wall(1) / wall(N), efficiency = wall(1) / wall(N)."
