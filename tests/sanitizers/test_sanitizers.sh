#!/usr/bin/env bash
# The sanitizer set-up of `make test-asan` catches what it should: a leak, a heap overflow and undefined behaviour
# (an oversized shift, a float-to-int overflow) each fail the process with status 86 and leave a report naming the
# defect where tests/run.sh looks, in a plain process and in the ranks of an mpirun; a clean MPI program leaves none (Open MPI's own
# allocations are suppressed), and a leaking one reports its own leak and nothing of Open MPI's.
# Run by tests/run.sh on a sanitizer build only, under tests/sanitizers/env.sh. Usage: test_sanitizers.sh BUILD
source "$(dirname "$0")/../e2e/lib.sh"
CANARY=${1:-build-asan}/tests/sanitizers/canary
if [ -z "${SANITIZER_LOGS:-}" ] || [ ! -x "$CANARY" ]; then
  check "runs_under_tests/sanitizers/env.sh_with_${CANARY}_built" false
  summary
  exit
fi
shopt -s nullglob
# these reports are meant: they go to a folder of this test's own, not to the one tests/run.sh checks
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do export "$v=${!v}:log_path=$E2E_TMP/report"; done

expect() {  # expect NAME REPORTS PATTERN command...: at least REPORTS report files (0: none and exit 0), each matching PATTERN
  local name=$1 want=$2 pattern=$3 f; shift 3
  rm -f "$E2E_TMP"/report.*
  "$@" >"$E2E_TMP/$name.log" 2>&1
  local rc=$?
  local reports=("$E2E_TMP"/report.*)
  if [ "$want" -eq 0 ]; then
    check "${name}_exits_0" test $rc -eq 0
    check "${name}_leaves_no_report" test ${#reports[@]} -eq 0
    [ ${#reports[@]} -eq 0 ] || head -30 "${reports[0]}"
    return
  fi
  check "${name}_exits_86" test $rc -eq 86
  check "${name}_leaves_a_report" test ${#reports[@]} -ge "$want"
  for f in "${reports[@]}"; do
    check "${name}_report_${f##*.}_says_${pattern// /_}" grep -q "$pattern" "$f"
  done
}
expect clean 0 "" "$CANARY" clean
expect leak 1 "in canary_leak tests/sanitizers/canary.c" "$CANARY" leak
expect overflow 1 "heap-buffer-overflow" "$CANARY" overflow
# undefined behaviour: UBSan's message on stderr, ASan's report of the abort that follows in the folder (env.sh)
expect shift 1 "__ubsan_handle_shift_out_of_bounds" "$CANARY" shift
check "shift_message_on_stderr" grep -q "canary.c:.*runtime error: shift exponent 33 is too large" "$E2E_TMP/shift.log"
expect float_cast 1 "__ubsan_handle_float_cast_overflow" "$CANARY" float-cast
check "float_cast_message_on_stderr" grep -q "runtime error: 2e+70 is outside the range of representable values" \
  "$E2E_TMP/float_cast.log"

if command -v mpirun >/dev/null; then
  expect mpi_clean 0 "" mpirun -n 2 "$CANARY" clean mpi
  # mpirun ends the job as soon as one rank fails: the other may be killed before its own report is out
  expect mpi_leak 1 "in canary_leak tests/sanitizers/canary.c" mpirun -n 2 "$CANARY" leak mpi
  # the 4096 bytes of canary_leak and nothing else: no allocation of Open MPI's is reported beside ours
  for f in "$E2E_TMP"/report.*; do
    check "mpi_leak_report_${f##*.}_holds_only_ours" grep -q "SUMMARY: AddressSanitizer: 4096 byte(s) leaked in 1 allocation(s)" "$f"
  done
  expect mpi_shift 1 "__ubsan_handle_shift_out_of_bounds" mpirun -n 2 "$CANARY" shift mpi
else
  skip_unless_ci "mpi" "mpirun not installed"
fi
summary
