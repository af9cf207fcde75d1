#!/usr/bin/env bash
# bench/gpu_check.sh OUTDIR: the one script a device session runs, from the repository root, with .gpu-bundle/
# (bench/gpu_bundle.sh) carried along. Nothing is built here beyond what a check script compiles itself; the whole
# run stays within GPU_CHECK_BUDGET_S (default 330 s; each step gets what is left, with its own cap).
#   0. the machine: CPU, memory, nvidia-smi, nvcc --version, python's torch, and where each library of brainsweep
#      resolves (bench/gpu_env.sh: the bundle's Open MPI/HDF5/OpenBLAS/..., the machine's, or missing), printed
#      FIRST so that even a failed run says what to fix;
#   1. `brainsweep version` (its GPU probe line decides whether the GPU checks run);
#   2. the bundle's quick CPU unit tests (GPU_CHECK_TESTS to choose others), a sanity check that the carried
#      libraries work here, and test_results under the bundle's `mpirun -n 2` (parallel HDF5 over two ranks);
#   3. a small real sweep on the CPU as a singleton without mpirun (jobs/presets/test-stories260k.yaml: the tiny
#      stories260K model, 27 fMRI subjects), results.h5 written and read back with `brainsweep inspect`;
#   4. the GPU checks: every bench/gpu/*.sh, in name order. Contract of a check script: called as
#      `bench/gpu/NAME.sh LOGDIR` with BUNDLE, BS_BIN, BS_LD_PATH, BS_HAVE_GPU (1 or 0), BS_GPU_REASON exported
#      and bs_run available; exit 0 pass, 1 fail, 77 skip (the reason on a "SKIP" line); each line
#      "ROW what | figure | note" goes into the table. Without a GPU each says so and skips.
# Everything is logged under OUTDIR (one log per step, summary.tsv); the table is printed last. Exit 0 when no
# step failed (skips allowed), 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bench/gpu_check.sh OUTDIR" >&2; exit 2; }
mkdir -p "$1" || exit 2
OUT=$(cd "$1" && pwd)
BUDGET=${GPU_CHECK_BUDGET_S:-330}
T0=$SECONDS
: > "$OUT/summary.tsv"
ROWS=()
NSTEP=0

left() { echo $((BUDGET - (SECONDS - T0))); }
# step NAME CAP_S CMD...: run CMD with its output in OUTDIR/NN-NAME.log (and on the terminal), at most CAP_S
# seconds or what is left of the budget; record status, seconds and the last summary line
step() {
  local name=$1 cap=$2; shift 2
  NSTEP=$((NSTEP + 1))
  local log; log=$(printf '%s/%02d-%s.log' "$OUT" "$NSTEP" "$name")
  local lim; lim=$(left)
  [ "$cap" -lt "$lim" ] && lim=$cap
  if [ "$lim" -lt 5 ]; then
    printf '%s\tSKIP\t0\tno time left in the %s s budget\n' "$name" "$BUDGET" >> "$OUT/summary.tsv"
    echo "== $name: SKIP (no time left)"
    return 0
  fi
  echo "== $name (limit ${lim} s) =="
  LAST_LOG=$log
  local t=$SECONDS rc
  # a command or an exported function (bs_run, sweep), under timeout, its output on the terminal and in the log
  # (the terminal gets all but the PASS lines of the tests; the log gets everything)
  timeout --kill-after=5 "$lim" bash -c '"$@"' _ "$@" 2>&1 | tee "$log" | grep -v '^PASS '
  rc=${PIPESTATUS[0]}
  local secs=$((SECONDS - t)) status note
  case $rc in
    0) status=PASS ;;
    77) status=SKIP ;;
    124|137) status=TIMEOUT ;;
    *) status=FAIL ;;
  esac
  note=$(grep -E '^SKIP |: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$|^NOTE |^GPU: ' "$log" | tail -1 | sed 's/^NOTE //' | cut -c1-90)
  [ $rc -ne 0 ] && [ $rc -ne 77 ] && note="exit $rc${note:+; $note}"
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$note" >> "$OUT/summary.tsv"
  while IFS= read -r row; do ROWS+=("${row#ROW }"); done < <(grep '^ROW ' "$log")
  echo "== $name: $status (${secs} s)"
  return 0
}

# 0. the machine ---------------------------------------------------------------------------------------------------
machine() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host kernel $(uname -r), $(uname -m); $(ldd --version 2>&1 | head -1)"
  echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'); memory $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
  echo "repository: $(git rev-parse --short=12 HEAD 2>/dev/null || echo 'no git here'); bundle: $(sed -n 2p .gpu-bundle/MANIFEST 2>/dev/null || echo 'no .gpu-bundle/MANIFEST')"
  if command -v nvidia-smi >/dev/null; then
    timeout 20 nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap,clocks.max.sm,power.limit --format=csv 2>&1 | head -9
    timeout 20 nvidia-smi 2>&1 | head -12
  else
    echo "nvidia-smi: not found (no NVIDIA driver here)"
  fi
  local nvcc; nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
  if [ -n "$nvcc" ]; then echo "nvcc: $nvcc: $(timeout 20 "$nvcc" --version | tail -2 | head -1)"; else echo "nvcc: not found"; fi
  if command -v python3 >/dev/null; then
    echo "python3: $(python3 --version 2>&1); $(timeout 60 python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuda available:", torch.cuda.is_available())' 2>&1 | tail -1)"
  else
    echo "python3: not found"
  fi
  for tool in mpirun h5dump xz gnuplot compute-sanitizer ncu; do
    printf '%s: %s\n' "$tool" "$(command -v $tool || echo 'not on PATH')"
  done
}
echo "== machine =="
machine 2>&1 | tee "$OUT/00-machine.log"
echo "-- the bundle (bench/gpu_env.sh) --" | tee -a "$OUT/00-machine.log"
# shellcheck source=bench/gpu_env.sh
if ! source bench/gpu_env.sh > >(tee -a "$OUT/00-machine.log") 2>&1; then
  sleep 0.5
  echo "no usable .gpu-bundle: nothing more can run (make it with bench/gpu_bundle.sh and carry .gpu-bundle)"
  exit 1
fi
sleep 0.5
{ bs_env_report; echo "Open MPI: OPAL_PREFIX=$OPAL_PREFIX; mpirun: $BS_MPIRUN"; } 2>&1 | tee -a "$OUT/00-machine.log"
export BUNDLE BS_BIN BS_LD_PATH
export -f bs_run
BS="$BS_BIN/brainsweep"

# 1. version and the GPU probe -------------------------------------------------------------------------------------
step version 30 bs_run "$BS" version
BS_GPU_REASON=$(grep '^GPU:' "$LAST_LOG" | sed 's/^GPU: *//')
if [ -n "$BS_GPU_REASON" ] && ! grep -q 'no usable GPU\|without CUDA' <<<"$BS_GPU_REASON"; then BS_HAVE_GPU=1; else BS_HAVE_GPU=0; fi
[ -n "$BS_GPU_REASON" ] || BS_GPU_REASON="brainsweep version printed no GPU line"
export BS_HAVE_GPU BS_GPU_REASON

# 2. CPU unit tests ------------------------------------------------------------------------------------------------
# quick ones that between them load every carried library (OpenBLAS/LAPACKE, FFTW, PCRE2, utf8proc, jansson,
# libyaml, parallel HDF5, Open MPI); test_decoder, test_highgamma and test_ieeg take a minute on two cores
TESTS=${GPU_CHECK_TESTS:-"host/test_base host/test_analysis host/test_edf host/test_encoding host/test_families
  host/test_featcache host/test_inputs host/test_ops host/test_pca host/test_ridge host/test_signif
  host/test_tokenizer mpi/test_dispatch mpi/test_plan mpi/test_results mpi/test_store"}
for t in $TESTS; do
  if [ -x "$BS_BIN/tests/$t" ]; then
    step "$(basename "$t")" 120 bs_run "$BS_BIN/tests/$t"
  else
    step "$(basename "$t")" 5 bash -c "echo 'not in the bundle: $BS_BIN/tests/$t'; exit 1"
  fi
done
step mpirun2_test_results 120 bs_run "$BS_MPIRUN" -n 2 "$BS_BIN/tests/mpi/test_results"

# 3. a small real sweep on the CPU, singleton -------------------------------------------------------------------------
sweep() {
  rm -rf "$OUT/sweep" && mkdir -p "$OUT/sweep"
  bs_run "$BS" sweep jobs/presets/test-stories260k.yaml -P output.path="$OUT/sweep/results.h5" || return 1
  echo "-- brainsweep inspect --"
  bs_run "$BS" inspect "$OUT/sweep/results.h5" || return 1
  local n; n=$(bs_run "$BS" inspect "$OUT/sweep/results.h5" | grep -cE '^ +[0-5] +-?0\.[0-9]{3}')
  echo "NOTE results.h5 read back: $n of 6 layer rows, $(du -h "$OUT/sweep/results.h5" | cut -f1)"
  [ "$n" = 6 ]
}
export OUT BS
export -f sweep
step cpu_sweep_stories260k 120 sweep

# 4. GPU checks ------------------------------------------------------------------------------------------------------
# issue 17: decoder.sh (the CUDA decoder against the CPU, whole models, tokens/s) and ops.sh (each kernel against its
# CPU twin); gemm_ceiling.sh (the device's ceilings); linalg.sh (issue 18: the fits' table against the CPU's, speed);
# issue 19's sweep is a script of its own (bench/gpu_sweep.sh: a device session runs it after this one)
echo "== GPU checks: $([ "$BS_HAVE_GPU" = 1 ] && echo "GPU present: $BS_GPU_REASON" || echo "NO GPU ($BS_GPU_REASON): each check says so and skips") =="
shopt -s nullglob
checks=(bench/gpu/*.sh)
[ ${#checks[@]} -gt 0 ] || echo "(no bench/gpu/*.sh scripts)"
for c in "${checks[@]}"; do
  name=gpu_$(basename "$c" .sh)
  mkdir -p "$OUT/$name"
  step "$name" 240 bash "$c" "$OUT/$name"
done

# the table, last --------------------------------------------------------------------------------------------------
total=$((SECONDS - T0))
n_fail=$(awk -F'\t' '$2 == "FAIL" || $2 == "TIMEOUT"' "$OUT/summary.tsv" | wc -l)
n_pass=$(awk -F'\t' '$2 == "PASS"' "$OUT/summary.tsv" | wc -l)
n_skip=$(awk -F'\t' '$2 == "SKIP"' "$OUT/summary.tsv" | wc -l)
{
  echo
  echo "=== bench/gpu_check.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, GPU: $BS_GPU_REASON ==="
  printf '%-26s %-7s %5s  %s\n' step status s note
  while IFS=$'\t' read -r n s secs note; do printf '%-26s %-7s %5s  %s\n' "$n" "$s" "$secs" "$note"; done < "$OUT/summary.tsv"
  if [ ${#ROWS[@]} -gt 0 ]; then
    echo "--- figures ---"
    for r in "${ROWS[@]}"; do
      IFS='|' read -r what fig note <<<"$r"
      printf '%-44s %-16s %s\n' "$(echo $what)" "$(echo $fig)" "$(echo $note)"
    done
  fi
  grep -E '^  MISSING|^still missing|^CUDA toolkit libraries' "$OUT/00-machine.log" | sed 's/^ */libraries: /'
  echo "steps: $n_pass passed, $n_fail failed, $n_skip skipped; ${total} s of the ${BUDGET} s budget; logs in $OUT"
} | tee "$OUT/table.txt"
[ "$n_fail" -eq 0 ]
