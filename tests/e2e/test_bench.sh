#!/usr/bin/env bash
# The benchmark scripts must still run against this build: `bench/run.sh --dry-run` checks that every script in
# bench/ parses, that the Python scripts' argument handling works, and that every pattern they read from the C
# programs' output (the sweep's extraction line, ridge_bench's and gemm_peak's summaries) matches what this build
# prints. Each of its "DRY ok|skip|fail" lines becomes a PASS, SKIP or FAIL here. Without torch, transformers,
# llama-cpp-python, numpy or himalaya (CI installs none of them) their parts are SKIP lines with the reason; the
# patterns against the real binary are always checked, and a pattern that matches nothing must fail loudly.
source "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$BRAINSWEEP")

bash bench/run.sh --dry-run "$BUILD" >"$E2E_TMP/dry.log" 2>&1
rc=$?
while read -r _ kind what why; do
  what=${what%:}
  case $kind in
    ok) check "$what" true ;;
    skip) skip "$what" "$why" ;;
    *) check "$what  $why" false ;;
  esac
done < <(grep '^DRY ' "$E2E_TMP/dry.log")
check "dry_run_exits_0" test $rc -eq 0
[ $rc -eq 0 ] || grep -v '^DRY ' "$E2E_TMP/dry.log" | tail -20
# the checks against the binary's real output never skip
for what in brainsweep_full_line_parsed brainsweep_tokens:4_line_parsed brainsweep_summary_parsed \
            ridge_scaling_row_parsed gemm_peak_parsed; do
  check "ran_$what" grep -q "^DRY ok $what" "$E2E_TMP/dry.log"
done

# a binary whose lines no longer match: the scripts stop with the pattern and the output, not an empty table
cat >"$E2E_TMP/stale" <<'SH'
#!/bin/sh
echo "[r000 +0.1s] bench, context full: an extraction line in some older format"
echo "median of nothing"
SH
chmod +x "$E2E_TMP/stale"
BRAINSWEEP=$E2E_TMP/stale python3 bench/compare_forward.py --dry-run >"$E2E_TMP/stale_forward.log" 2>&1
rc=$?
check "compare_forward_fails_on_unmatched_log" test $rc -ne 0
check "compare_forward_names_the_pattern" grep -q "matches the extraction pattern" "$E2E_TMP/stale_forward.log"
python3 bench/compare_ridge.py --dry-run --bench "$E2E_TMP/stale" >"$E2E_TMP/stale_ridge.log" 2>&1
rc=$?
check "compare_ridge_fails_on_unmatched_summary" test $rc -ne 0
check "compare_ridge_names_the_pattern" grep -q "DRY fail brainsweep_summary_parsed.*matches" "$E2E_TMP/stale_ridge.log"
summary
