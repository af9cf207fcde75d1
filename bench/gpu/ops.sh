#!/usr/bin/env bash
# bench/gpu/ops.sh LOGDIR: a check of bench/gpu_check.sh (its contract is there). The decoder's CUDA ops against
# their CPU twins (issue 17, "Evidence on a device" 1):
#   1. tests/cuda/test_ops_gpu from the bundle: every launcher of cuda/ops.h on random inputs at tiny, odd and real
#      shapes, poisoned outputs, float32 within 1e-5 relative to the norm of the CPU twin's result;
#   2. where compute-sanitizer is found (PATH, CUDA_HOME, /usr/local/cuda), memcheck and then racecheck (the norms'
#      shared-memory block sums) over the tiny and odd shapes (--quick: the real ones take minutes under the tools);
#      a machine that refuses the tool (gVisor: "Device not supported") gives a SKIP row with its words, not a FAIL.
# Exit 0 pass, 1 fail, 77 skip (no GPU: the test still runs, to show its SKIP lines and that it loads). ROW lines:
# the test's counts and worst relative error, and each sanitizer's verdict.
set -uo pipefail
LOG=${1:?usage: bench/gpu/ops.sh LOGDIR}
mkdir -p "$LOG"
declare -F bs_run >/dev/null || bs_run() { "$@"; }  # run by hand, outside bench/gpu_check.sh
export -f bs_run
exe=${BS_BIN:-.gpu-bundle/build}/tests/cuda/test_ops_gpu
if [ ! -x "$exe" ]; then
  echo "FAIL ops: $exe is not in the bundle (remake it with bench/gpu_bundle.sh, which copies build-gpu/tests/cuda)"
  echo "ROW GPU ops vs CPU twin (fp32) | missing | test_ops_gpu not in the bundle"
  exit 1
fi

# 1. the test
timeout 120 bash -c 'bs_run "$@"' _ "$exe" > "$LOG/test_ops_gpu.log" 2>&1
rc=$?
grep -v '^PASS ' "$LOG/test_ops_gpu.log" | head -60
summary=$(grep -E '^test_ops_gpu: [0-9]+ passed' "$LOG/test_ops_gpu.log" | tail -1)
worst=$(grep -o ' rel=[0-9.e+-]*' "$LOG/test_ops_gpu.log" | sed 's/ rel=//' | sort -g | tail -1)
[ -n "$summary" ] || echo "test_ops_gpu: no summary line (exit $rc)"
if [ "${BS_HAVE_GPU:-0}" != 1 ]; then
  echo "SKIP ops: no GPU here (${BS_GPU_REASON:-unknown}); test_ops_gpu ran and skipped its cases (exit $rc)"
  [ $rc -eq 0 ] || exit 1
  exit 77
fi
status=0
# a GPU that the check sees but the test does not (every case a SKIP) is a failure too
if [ $rc -ne 0 ] || [ -z "$summary" ] || grep -qE ' [1-9][0-9]* failed|: 0 passed' <<<"$summary"; then status=1; fi
echo "ROW GPU ops vs CPU twin (fp32) | ${summary#test_ops_gpu: } | worst rel ${worst:-?} (tol 1e-5); exit $rc"

# 2. compute-sanitizer
san=$(command -v compute-sanitizer || ls "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -z "$san" ]; then
  echo "NOTE compute-sanitizer not found: memcheck and racecheck skipped"
  echo "ROW ops memcheck | skipped | compute-sanitizer not found"
else
  for tool in memcheck racecheck; do
    timeout 150 bash -c 'bs_run "$@"' _ "$san" --tool "$tool" --error-exitcode 99 "$exe" --quick > "$LOG/$tool.log" 2>&1
    src=$?
    verdict=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/$tool.log" | tail -1 | sed 's/^=* *//')
    if grep -qiE 'Device not supported|not supported on this|Unable to|Target application terminated before first instrumented' "$LOG/$tool.log" &&
       ! grep -q 'test_ops_gpu: [0-9]* passed' "$LOG/$tool.log"; then
      echo "SKIP ops/$tool: the machine refuses compute-sanitizer: $(grep -iE 'not supported|Unable to' "$LOG/$tool.log" | head -1)"
      echo "ROW ops $tool | refused | $(grep -iE 'not supported|Unable to' "$LOG/$tool.log" | head -1 | cut -c1-60)"
      continue
    fi
    tail -5 "$LOG/$tool.log"
    if [ $src -eq 0 ]; then
      echo "ROW ops $tool (--quick shapes) | clean | ${verdict:-no summary}"
    else
      status=1
      echo "FAIL ops/$tool: exit $src; the first reports:"
      grep -m 20 -E '^========= ' "$LOG/$tool.log"
      echo "ROW ops $tool (--quick shapes) | FAIL | ${verdict:-exit $src}"
    fi
  done
fi
exit $status
