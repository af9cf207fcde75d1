#!/usr/bin/env bash
# bench/gpu/ridge.sh LOGDIR: a check of bench/gpu_check.sh (its contract is there). The fits on the device through the
# sweep's own code (issue 18, "Evidence on a device" 1 and 2), within RIDGE_BUDGET_S (default 150) seconds:
#   1. tests/cuda/test_fits_gpu from the bundle: ridge_cv, PCA and the shift null on the CUDA table against the CPU
#      table on test_ridge's kinds of problem (|dr|, |dR2| <= 1e-5, the same alphas but for float ties, PCA
#      components within 1e-4 up to sign, the same p-values);
#   2. (a) n 20,000, p 500, t 5,000, 20 alphas, 5 folds: bench/compare_ridge.py, brainsweep's ridge_bench with
#      --device cuda beside himalaya's RidgeCV on its torch_cuda backend (the bundle's wheel, the machine's torch) on
#      the same data: seconds, the ratio, alpha agreement and max |dr|; ridge_bench's own line gives the executed
#      GFLOP/s against cuBLAS's float32 rate in the same run;
#   3. (c) one 7B subject: ridge_bench --device cuda --layers 33,4096 over 5,000 words, PCA 500 on all words, 1,300
#      targets, alpha per target by inner CV (the issue's goal: under 10 s);
#   4. (b) n 20,000, p 1,000, t 100,000 (voxelwise scale), himalaya on 2,000 of the targets with its time scaled by t,
#      when at least RIDGE_B_MIN_S (default 70) seconds are left.
# Exit 0 pass, 1 fail, 77 skip (no GPU: the test still runs, to show its SKIP lines). ROW lines: the test's counts,
# each case's seconds and ratios.
set -uo pipefail
LOG=${1:?usage: bench/gpu/ridge.sh LOGDIR}
mkdir -p "$LOG"
declare -F bs_run >/dev/null || bs_run() { "$@"; }  # run by hand, outside bench/gpu_check.sh
export -f bs_run
T0=$SECONDS
BUDGET=${RIDGE_BUDGET_S:-150}
BIN=${BS_BIN:-.gpu-bundle/build}
left() { echo $((BUDGET - (SECONDS - T0))); }
status=0

# 1. the fits against the CPU's
timeout 90 bash -c 'bs_run "$@"' _ "$BIN/tests/cuda/test_fits_gpu" > "$LOG/test_fits_gpu.log" 2>&1
rc=$?
grep -v '^PASS ' "$LOG/test_fits_gpu.log" | head -40
summary=$(grep -E '^test_fits_gpu: [0-9]+ passed' "$LOG/test_fits_gpu.log" | tail -1)
if [ "${BS_HAVE_GPU:-0}" != 1 ]; then
  echo "SKIP ridge: no GPU here (${BS_GPU_REASON:-unknown}); test_fits_gpu ran and skipped its cases (exit $rc)"
  [ $rc -eq 0 ] || exit 1
  exit 77
fi
if [ $rc -ne 0 ] || [ -z "$summary" ] || grep -qE ' [1-9][0-9]* failed|: 0 passed' <<<"$summary"; then status=1; fi
ties=$(grep -o '([0-9]* ties)' "$LOG/test_fits_gpu.log" | tr -dc '0-9\n' | awk '{ s += $1 } END { print s + 0 }')
echo "ROW GPU fits vs CPU fits (ridge, PCA, null) | ${summary#test_fits_gpu: } | ${ties} alpha float ties; exit $rc"

# ridge_bench with the bundle's library path, for compare_ridge.py (python itself keeps the machine's libraries)
wrapper=$LOG/ridge_bench
printf '#!/usr/bin/env bash\nLD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %q "$@"\n' \
  "${BS_LD_PATH:-}" "$(cd "$BIN/bench" && pwd)/ridge_bench" > "$wrapper"
chmod +x "$wrapper"
wheel=$(ls "${BUNDLE:-.gpu-bundle}"/wheels/himalaya-*.whl 2>/dev/null | head -1)
others=brainsweep
[ -n "$wheel" ] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null && others=brainsweep,himalaya-torch_cuda

# compare NAME SHAPE [ARGS...]: compare_ridge.py on one shape; ROW lines from its table
compare() {
  local name=$1 shape=$2; shift 2
  local lim; lim=$(left)
  PYTHONPATH=${wheel}${PYTHONPATH:+:$PYTHONPATH} timeout "$lim" python3 bench/compare_ridge.py --shape "$shape" \
    --only "$others" --rounds 1 --threads "$(nproc)" --work "${TMPDIR:-/tmp}/bs-ridge-$name" --bench "$wrapper" \
    --bench-args "--device cuda" "$@" > "$LOG/compare_$name.log" 2>&1
  local crc=$?
  cat "$LOG/compare_$name.log"
  rm -rf "${TMPDIR:-/tmp}/bs-ridge-$name"
  local engine bs hi agree
  engine=$(sed -n 's/^brainsweep engine (last round): //p' "$LOG/compare_$name.log" | grep -oE '[0-9.]+ GFLOP/s; sgemm [0-9.]+ GFLOP/s \([0-9]+%\)')
  bs=$(grep '^| brainsweep' "$LOG/compare_$name.log" | cut -d'|' -f4 | tr -d ' ')
  hi=$(grep '^| himalaya' "$LOG/compare_$name.log" | cut -d'|' -f4,7 | tr -d ' ')
  agree=$(grep -o 'alphas agree on [0-9]* of [0-9]* targets.*' "$LOG/compare_$name.log" | head -1)
  if [ $crc -ne 0 ] || [ -z "$bs" ]; then
    status=1
    echo "ROW ridge $name ($shape) | FAIL | compare_ridge.py exit $crc"
  else
    echo "ROW ridge $name ($shape), cuda | ${bs} s | ${engine:-?}"
    [ -z "$hi" ] || echo "ROW ridge $name vs himalaya torch_cuda | ${hi#*|}x | himalaya ${hi%%|*} s; ${agree:-}"
  fi
}

# 2. (a)
compare a 20000,500,5000

# 3. (c) one 7B subject
lim=$(left)
if [ "$lim" -ge 20 ]; then
  timeout "$lim" bash -c 'bs_run "$@"' _ "$BIN/bench/ridge_bench" --device cuda --layers 33,4096 --shape 5000,500,1300 \
    --select inner --pca-fit all --threads "$(nproc)" > "$LOG/subject_7b.log" 2>&1
  src=$?
  cat "$LOG/subject_7b.log"
  secs=$(sed -n 's/.* \([0-9.]*\) s in all;.*/\1/p' "$LOG/subject_7b.log")
  if [ $src -ne 0 ] || [ -z "$secs" ]; then
    status=1
    echo "ROW ridge (c) one 7B subject | FAIL | ridge_bench exit $src"
  else
    echo "ROW ridge (c) one 7B subject: 33 x 4096 -> PCA 500 -> 1,300 targets, inner CV | ${secs} s | goal under 10 s"
  fi
else
  echo "ROW ridge (c) one 7B subject | skipped | ${lim} s left"
fi

# 4. (b) voxelwise scale, as far as the budget goes
if [ "$(left)" -ge "${RIDGE_B_MIN_S:-70}" ]; then
  compare b 20000,1000,100000 --himalaya-targets 2000
else
  echo "ROW ridge b (20000,1000,100000) | skipped | $(left) s left of ${BUDGET} s"
fi
exit $status
