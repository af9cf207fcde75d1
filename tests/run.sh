#!/usr/bin/env bash
# Run every test program and end-to-end script; print one total line "N passed, N failed, N skipped".
# Usage: tests/run.sh [BUILD_DIR]   (from anywhere; tests run from the repository root)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
export BRAINSWEEP=$BUILD/brainsweep
# mpirun refuses root and more ranks than cores unless told; tests use 2 ranks on any machine
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

shopt -s nullglob
# which arithmetic this run tests: the OpenBLAS kernels (the test programs and the binary make the same choice,
# host/threads.h) and the OpenMP threads
echo "kernels: $("$BRAINSWEEP" version 2>/dev/null | grep -o 'OpenBLAS .*' || echo 'unknown (no binary)'); OMP_NUM_THREADS=${OMP_NUM_THREADS:-all cores}"
# a sanitizer build (make test-asan) runs every test under tests/sanitizers/env.sh, which sends each report to a file
if grep -q -- -fsanitize "$BUILD/version.h" 2>/dev/null; then
  source tests/sanitizers/env.sh || { echo "cannot make a folder for the sanitizer reports"; exit 1; }
  rm -rf "$BUILD/sanitizer-reports"
  echo "sanitizers: ASan, UBSan and LeakSanitizer on; a report fails its test (kept in $BUILD/sanitizer-reports/)"
fi
passed=0 failed=0 skipped=0 broken=()
# TEST_JOBS tests at once (default: the cores, at most 4; the tests each work in their own mktemp folder). Each
# test's output, status and sanitizer reports go to files of its own, and the verdicts print in launch order, each
# as soon as it and those before it are done. Many tests wait on mpirun, a Slurm daemon or a child process much of
# their time, so two at once on two cores took 5.8 minutes where one at a time took 8.4
cores=$(nproc 2>/dev/null || echo 1)
JOBS=${TEST_JOBS:-$((cores < 4 ? cores : 4))}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "TEST_JOBS=$JOBS: give a whole number of tests to run at once, 1 or more"; exit 1; }
if ! RESULTS=$(mktemp -d) || [ -z "$RESULTS" ]; then echo "cannot make a folder for the tests' output"; exit 1; fi
# (an interrupted run stops the tests it started)
trap 'kill $(jobs -rp) 2>/dev/null; rm -rf "$RESULTS" ${SANITIZER_LOGS:+"$SANITIZER_LOGS"}' EXIT
names=() reported=0
run() {  # run NAME command...: start it once fewer than JOBS tests run
  local name=$1; shift
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; report_done; done
  # files by launch number: two tests may share a name (tests/mpi/test_plan, tests/e2e/test_plan.sh)
  local id=${#names[@]}
  names+=("$name")
  (
    if [ -n "${SANITIZER_LOGS:-}" ]; then
      # a later log_path wins (tests/sanitizers/test_sanitizers.sh relies on it too)
      mkdir -p "$SANITIZER_LOGS/$id"
      for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do export "$v=${!v}:log_path=$SANITIZER_LOGS/$id/report"; done
    fi
    t0=$(date +%s)
    "$@" >"$RESULTS/$id.out" 2>&1
    rc=$?
    echo "$rc $(($(date +%s) - t0))" >"$RESULTS/$id.rc.tmp" && mv "$RESULTS/$id.rc.tmp" "$RESULTS/$id.rc"
  ) &
  report_done
}
report_done() {  # print the verdicts of the finished tests, in launch order, up to the first still running
  while [ $reported -lt ${#names[@]} ] && [ -e "$RESULTS/$reported.rc" ]; do
    verdict "$reported" "${names[$reported]}"
    reported=$((reported + 1))
  done
}
verdict() {  # verdict ID NAME: its failures and skips, its total, and any sanitizer report it left
  local id=$1 name=$2 out=$RESULTS/$1.out rc secs
  read -r rc secs <"$RESULTS/$id.rc"
  grep -E '^(PASS|FAIL|SKIP) ' "$out" | grep -v '^PASS' || true
  local line; line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -1)
  if [ -z "$line" ] || { [ "$rc" -ne 0 ] && ! grep -q ' [1-9][0-9]* failed' <<<"$line"; }; then
    echo "BROKEN $name (exit $rc, no summary line); its output:"; tail -20 "$out"
    broken+=("$name"); failed=$((failed + 1))
  else
    read -r p f s < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1 \2 \3/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    printf '%-28s %s  (%ds)\n' "$name" "${line#*: }" "$secs"
  fi
  # whatever the test's own verdict: it may have expected a non-zero exit, and got the sanitizer's
  local reports=("${SANITIZER_LOGS:-/nonexistent}/$id"/report.*)
  if [ ${#reports[@]} -gt 0 ]; then
    local keep=$BUILD/sanitizer-reports/$name
    mkdir -p "$keep" && mv "${reports[@]}" "$keep"/
    echo "FAIL $name/sanitizers  ${#reports[@]} report(s), kept in $keep; the first:"
    head -30 "$keep/${reports[0]##*/}"
    failed=$((failed + 1))
  fi
}

# first, that the sanitizers catch what they should, in a plain process and in the ranks of an mpirun
[ -z "${SANITIZER_LOGS:-}" ] || run test_sanitizers bash tests/sanitizers/test_sanitizers.sh "$BUILD"
# then the end-to-end scripts that take longest (minutes each, most of the run under the sanitizers): started
# first, the shorter tests fill the other slots around them instead of leaving one long test running alone at the end
LONGEST=(test_scale test_faults test_slurm test_bad_input test_sweep test_stages)
for t in "${LONGEST[@]}"; do
  [ -e "tests/e2e/$t.sh" ] || { echo "tests/run.sh: LONGEST names $t, which tests/e2e/ does not hold"; exit 1; }
  run "$t" bash "tests/e2e/$t.sh"
done
for t in "$BUILD"/tests/host/test_*; do
  [ -x "$t" ] || continue
  run "$(basename "$t")" "$t"
done
# the tests of mpi/ run on two ranks (rank 0 reports; tests/mpi/ranks.h); without mpirun, as one rank, where their
# two-rank cases SKIP (FAIL under CI)
for t in "$BUILD"/tests/mpi/test_*; do
  [ -x "$t" ] || continue
  if command -v mpirun >/dev/null; then run "$(basename "$t")" mpirun -n 2 "$t"
  else run "$(basename "$t")" "$t"; fi
done
# the GPU tests (built where nvcc is): each case against its CPU twin, or one SKIP line per case without a GPU
for t in "$BUILD"/tests/cuda/test_*; do
  [ -x "$t" ] || continue
  run "$(basename "$t")" "$t"
done
for t in tests/e2e/test_*.sh; do
  [[ " ${LONGEST[*]} " == *" $(basename "$t" .sh) "* ]] && continue
  run "$(basename "$t" .sh)" bash "$t"
done

wait
report_done
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
