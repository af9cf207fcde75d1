#!/usr/bin/env bash
# Faults inside a unit, on one process: SIGKILL in the middle of an extraction, then SIGTERM in the
# middle of an extraction and in the middle of a fit (each stops at the next batch or fit step, exit
# 75, keeping what was finished), then a rerun that completes and equals an uninterrupted run; an
# output folder that cannot be written; results written in several collective rounds (the cap on one
# write, 2 GiB, lowered) equal to results written in one. (Many ranks, SIGKILL mid-fit and a full disk:
# test_scale.sh.)
source "$(dirname "$0")/lib.sh"
CONFIG=jobs/presets/test-stories260k.yaml
# one long extraction unit (a window of 80 words for every word) and one long fit unit (the 6 layers
# in one block on one thread, 10 folds with nested alpha choice)
ARGS=(-P run.threads=1 -P "context.policy=[words:80]" -P run.layer_block=6 -P ridge.folds=10)
sweep() {  # sweep NAME LOG: output in $E2E_TMP/NAME, log in $E2E_TMP/LOG.log
  "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/$1/results.h5" "${ARGS[@]}" >"$E2E_TMP/$2.log" 2>&1
}
same() {  # same A B: one thread, the same arithmetic in the same order: equal bit for bit
  local d
  for d in /scores/r /scores/r2 /scores/alpha /summary/layer_region /units/status; do
    h5diff "$E2E_TMP/$1/results.h5" "$E2E_TMP/$2/results.h5" $d $d >/dev/null || return 1
  done
}
features_saved() { ls "$E2E_TMP/$1/results.h5.units/features" 2>/dev/null | grep -c '\.h5$'; }
layers_done() { ls "$E2E_TMP/$1/results.h5.units/layers" 2>/dev/null | grep -c '\.layer$'; }
wait_for_line() {  # wait_for_line LOG TEXT: until the log holds TEXT (or 120 s)
  local i
  for i in $(seq 1 6000); do
    grep -qF "$2" "$E2E_TMP/$1.log" 2>/dev/null && return 0
    sleep 0.02
  done
  return 1
}
STOPPED_AFTER=0
signal_when() {  # signal_when SIG LOG TEXT: starts a run of "run", sends SIG once TEXT is logged (and 0.3 s
                 # more, so the unit is under way); sets rc and STOPPED_AFTER (seconds from signal to exit)
  local sig=$1 log=$2 text=$3 pid t0
  "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/run/results.h5" "${ARGS[@]}" >"$E2E_TMP/$log.log" 2>&1 &
  pid=$!  # the process itself, not a subshell: the signal must reach it
  if wait_for_line "$log" "$text"; then
    sleep 0.3
    t0=$(date +%s.%N)
    kill -"$sig" $pid
  fi
  wait $pid 2>/dev/null  # (bash would report the kill)
  rc=$?
  STOPPED_AFTER=$(awk -v a="${t0:-0}" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

sweep ref ref
rc=$?
check "uninterrupted_run_exits_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/ref.log"

# ---- SIGKILL inside the extraction: nothing of the unit is kept, nothing half-written
signal_when KILL kill "extract: 1 (model, context) unit(s)"
check "sigkill_mid_extraction_kills" test $rc -eq 137
check "sigkill_mid_extraction_no_features_no_temp" test "$(ls -A "$E2E_TMP/run/results.h5.units/features" | wc -l)" -eq 0
check "sigkill_mid_extraction_no_results" test ! -e "$E2E_TMP/run/results.h5" -a ! -e "$E2E_TMP/run/results.h5.partial"

# ---- SIGTERM inside the extraction (the rerun after the kill): stops at the next batch, status 75
signal_when TERM term-extract "extract: 1 (model, context) unit(s)"
check "sigterm_mid_extraction_exit_75" test $rc -eq 75
check "sigterm_mid_extraction_stops_inside_the_unit" \
  bash -c "grep -q 'extraction stopped by a signal' '$E2E_TMP/term-extract.log' && [ $(features_saved run) -eq 0 ]"
# no timed check (the suite runs on busy and sanitizer-slowed machines): the stop inside the unit is asserted above,
# the time is printed for the reader
echo "     (SIGTERM in the extraction: exited ${STOPPED_AFTER}s after the signal)"
check "sigterm_mid_extraction_says_how_to_resume" grep -q "stopped by a signal: .* rerun the same command" \
  "$E2E_TMP/term-extract.log"

# ---- SIGTERM inside the fit unit (6 layers): the layers fitted stay, the rest are left for the rerun
signal_when TERM term-fit "fit: 6 layer fit(s) in 1 unit(s)"
check "sigterm_mid_fit_exit_75" test $rc -eq 75
kept=$(layers_done run)
check "sigterm_mid_fit_stops_inside_the_unit" test "$kept" -lt 6
echo "     (SIGTERM in the fit: exited ${STOPPED_AFTER}s after the signal, $kept of 6 layers kept)"
check "sigterm_mid_fit_keeps_features" test "$(features_saved run)" -eq 1
check "sigterm_mid_fit_no_half_written_record" bash -c "! ls -A '$E2E_TMP/run/results.h5.units/layers' | grep -vq '\.layer$'"

# ---- the rerun does the rest and equals the uninterrupted run
sweep run rerun
rc=$?
check "rerun_exits_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/rerun.log"
check "rerun_reuses_features" grep -q "extract: 1 of 1 (model, context) feature sets already on disk" "$E2E_TMP/rerun.log"
check "rerun_equals_uninterrupted" same ref run

# ---- an output folder that cannot be written: one error naming it, exit 1, nothing written. Root
# writes anywhere, so as root the run drops the capabilities that let it ignore permissions.
mkdir -p "$E2E_TMP/ro"
chmod 555 "$E2E_TMP/ro"
AS_USER=()
[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
  AS_USER=(setpriv --bounding-set=-dac_override,-dac_read_search,-fowner --)
# the case runs only where the folder's permissions bind the runner (setpriv may be refused in a container)
if ! "${AS_USER[@]}" touch "$E2E_TMP/ro/probe" 2>/dev/null; then
  for out in ro/results.h5 ro/new/results.h5; do
    "${AS_USER[@]}" "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/$out" -P run.threads=1 >"$E2E_TMP/ro.log" 2>&1
    rc=$?
    what=${out%/results.h5}
    check "read_only_${what//\//_}_exit_1" test $rc -eq 1
    check "read_only_${what//\//_}_one_error_naming_the_folder" \
      bash -c "[ \$(grep -c ERROR '$E2E_TMP/ro.log') -eq 1 ] && \
        grep -q \"ERROR .*cannot write into '$E2E_TMP/ro'\" '$E2E_TMP/ro.log'"
    check "read_only_${what//\//_}_nothing_written" test -z "$(ls -A "$E2E_TMP/ro")"
  done
  "${AS_USER[@]}" "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/rw/results.h5" \
    -P features.cache_dir="$E2E_TMP/ro/cache" \
    -P run.threads=1 >"$E2E_TMP/ro.log" 2>&1
  rc=$?
  check "read_only_cache_dir_exit_1" test $rc -eq 1
  check "read_only_cache_dir_one_error_naming_it" bash -c "[ \$(grep -c ERROR '$E2E_TMP/ro.log') -eq 1 ] && \
    grep -q \"ERROR features.cache_dir .*cannot write into '$E2E_TMP/ro'\" '$E2E_TMP/ro.log'"
  check "read_only_cache_dir_nothing_written" test -z "$(ls -A "$E2E_TMP/ro")" -a -z "$(ls -A "$E2E_TMP/rw" 2>/dev/null)"
else
  rm -f "$E2E_TMP/ro/probe"
  skip "read_only_output" "a read-only folder does not stop this user's writes (root without a working setpriv)"
fi
chmod 755 "$E2E_TMP/ro"

# ---- the results writes chunked: a cap of 1,000 bytes per rank and write (BRAINSWEEP_TEST_MAX_WRITE_BYTES,
# for tests only; a row of scores is 24 bytes, of weights 648) splits every dataset's write into rounds,
# across layers and inside them; the file's data must equal the one written in one round per dataset
LAUNCH=()
command -v mpirun >/dev/null && LAUNCH=(mpirun -x BRAINSWEEP_TEST_MAX_WRITE_BYTES -n 2)
CHUNK_ARGS=(-P run.threads=1 -P output.weights=true -P ridge.permutations=100 -P "context.policy=[full, tokens:8]" -v)
for cap in 0 1000; do
  BRAINSWEEP_TEST_MAX_WRITE_BYTES=$cap "${LAUNCH[@]}" "$BRAINSWEEP" sweep "$CONFIG" "${CHUNK_ARGS[@]}" \
    -P output.path="$E2E_TMP/cap$cap/results.h5" >"$E2E_TMP/cap$cap.log" 2>&1
  check "write_cap_${cap}_exits_0" test $? -eq 0
done
check "uncapped_writes_once_per_dataset" bash -c "[ \$(grep -c 'results: .* in 1 collective write(s)' \
  '$E2E_TMP/cap0.log') -eq 7 ]"
check "capped_writes_in_several_rounds" bash -c "[ \$(grep -cE 'results: .* in ([2-9]|[0-9]{2,}) collective write' \
  '$E2E_TMP/cap1000.log') -eq 7 ]"
same_data=1
for d in /scores/r /scores/r2 /scores/alpha /scores/p /scores/q /weights/intercept /weights/beta /summary/layer_region \
  /units/status; do
  h5diff "$E2E_TMP/cap0/results.h5" "$E2E_TMP/cap1000/results.h5" $d $d >/dev/null || { same_data=0; echo "  differs: $d"; }
done
check "capped_file_equals_uncapped" test $same_data -eq 1
summary
