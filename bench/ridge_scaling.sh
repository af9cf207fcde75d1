#!/usr/bin/env bash
# How the ridge engine's time grows with samples n, features p and targets t (5 folds, 20 alphas, alpha per target by
# the mean outer-fold r), then a subject's whole fit as a sweep runs it (33 layers of 4,096 features per word, PCA to
# 500 per fold, 1,000 electrodes), then 100,000 targets under a 4 GiB working-memory budget.
#   bench/ridge_scaling.sh [BUILD] [THREADS]      (BUILD default build, THREADS default all cores; RUNS=3 runs each)
#   bench/ridge_scaling.sh --row BUILD THREADS LABEL N,P,T [options]   one table row only (bench/run.sh --dry-run)
# Prints Markdown tables for docs/PERFORMANCE.md. Seconds are all of the engine's work per call, the targets'
# preparation (ridge_targets_init) included.
set -euo pipefail
cd "$(dirname "$0")/.."
ROW_ONLY=0
if [ "${1:-}" = "--row" ]; then ROW_ONLY=1; shift; fi
BUILD=${1:-build}
THREADS=${2:-$(nproc)}
RUNS=${RUNS:-3}
B="$BUILD/bench/ridge_bench"

row() {  # row LABEL N,P,T [more options]: one table row from ridge_bench's summary
  local label=$1 shape=$2; shift 2
  "$B" --shape "$shape" --threads "$THREADS" --reps "$RUNS" "$@" | awk -v label="$label" '
    /^median/ { s = $2; g = $7; gs = $9; pk = $12; pct = $14; gsub(/[(%);]/, "", pct); rss = $(NF - 1) }
    END { if (s == "" || pct !~ /^[0-9]+$/) {
            print "ridge_scaling: no summary line of ridge_bench matched" > "/dev/stderr"; exit 1 }
          printf "| %s | %.2f | %.0f | %.0f | %.0f | %s | %.2f |\n", label, s, g, gs, pk, pct, rss }'
}

if [ $ROW_ONLY = 1 ]; then shift 2; row "$@"; exit; fi

echo "# $(date -u +%Y-%m-%d), $(nproc) cores, $THREADS thread(s), median of $RUNS"
echo
echo "| n, p, t | seconds | GFLOP | GFLOP/s | sgemm GFLOP/s | % of sgemm | peak RSS GiB |"
echo "|---|---|---|---|---|---|---|"
for n in 5000 10000 20000 40000; do row "$n, 500, 5000" "$n,500,5000"; done
for p in 125 250 1000 2000; do row "20000, $p, 5000" "20000,$p,5000"; done
for t in 1000 20000; do row "20000, 500, $t" "20000,500,$t"; done
row "20000, 500, 5000, select inner (nested)" "20000,500,5000" --select inner
echo
echo "Whole subject: 33 layers x 4,096 features per word, 5,000 words, 1,000 electrodes (word-level targets), PCA"
echo "to 500 on all words (the reference study's choice); then per layer for the other PCA settings (LAYERS=3 layers)"
echo
"$B" --shape 5000,500,1000 --layers 33,4096 --pca-fit all --pca-method eigh --threads "$THREADS" | tail -1 |
  sed "s/^/- 33 layers, PCA all, eigh: /"
for m in "all randomized" "fold eigh" "fold randomized"; do
  set -- $m
  "$B" --shape 5000,500,1000 --layers "${LAYERS:-3},4096" --pca-fit "$1" --pca-method "$2" --threads "$THREADS" |
    tail -1 | sed "s/^/- ${LAYERS:-3} layers, PCA $1, $2: /"
done
echo
echo "100,000 targets, n 20,000, p 500, working memory 4 GiB (Y alone is 7.5 GiB):"
"$B" --shape 20000,500,100000 --threads "$THREADS" --reps 1 --memory-gib 4 | tail -1
