#!/usr/bin/env bash
# The sweep on many ranks: identical results on 1-4 ranks and between repeats; a rank killed with
# SIGKILL mid-run, then the same command again, gives the uninterrupted file; SIGTERM stops cleanly
# with its own exit status; a failing unit is recorded and the rest go on; a full disk (a file-size
# limit here), during the fits or at the results file, stops with a clear error and the rerun resumes; progress lines
# and per-rank logs.
source "$(dirname "$0")/lib.sh"
if ! command -v mpirun >/dev/null; then
  skip_unless_ci "all" "mpirun not installed"
  summary
  exit
fi
# two models of different depth, two context policies: 4 extraction units, 20 layer fits
sed 's|^models:|models:\n  - {name: tiny3, path: tests/fixtures/stories260K-3layers.gguf}|' \
  jobs/presets/test-stories260k.yaml >"$E2E_TMP/two.yaml"
ARGS=(-P run.threads=1 -P "context.policy=[full, tokens:8]" -P run.layer_block=1 -P ridge.permutations=300)
sweep() {  # sweep RANKS NAME extra-args...: runs in the foreground, log in $E2E_TMP/NAME.log
  local n=$1 name=$2; shift 2
  mpirun -n "$n" "$BRAINSWEEP" sweep "$E2E_TMP/two.yaml" -P output.path="$E2E_TMP/$name/results.h5" "${ARGS[@]}" "$@" \
    >"$E2E_TMP/$name.log" 2>&1
}
same() {  # same A B: every per-fit dataset and summary of two results files within 1e-6
  local d
  for d in /scores/r /scores/r2 /scores/alpha /scores/p /scores/q /summary/layer_region /summary/best_layer /units/status; do
    h5diff -d 1e-6 "$E2E_TMP/$1/results.h5" "$E2E_TMP/$2/results.h5" $d $d >/dev/null || return 1
  done
}
layers_done() { ls "$E2E_TMP/$1/results.h5.units/layers" 2>/dev/null | grep -c '\.layer$'; }
ranks_of() {  # ranks_of NAME: pids of the brainsweep ranks writing $E2E_TMP/NAME (from /proc: no procps needed)
  local d c
  for d in /proc/[0-9]*; do
    c=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
    case "$c" in *"output.path=$E2E_TMP/$1/"*) ;; *) continue ;; esac
    case "$(cat "$d/comm" 2>/dev/null)" in mpirun|orterun|bash|"") ;; *) echo "${d#/proc/}" ;; esac
  done
}
wait_for_layers() {  # wait_for_layers NAME N: until the store holds N finished layers (or 60 s)
  local i
  for i in $(seq 1 3000); do
    [ "$(layers_done "$1")" -ge "$2" ] && return 0
    sleep 0.02
  done
  return 1
}

# ---- determinism: 1, 2, 3 and 4 ranks, and a repeat
sweep 1 ref
rc=$?
check "one_rank_exits_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/ref.log"
check "contexts_axis_2x2x6x27x6" bash -c "h5ls '$E2E_TMP/ref/results.h5/scores/r' | grep -q '{2, 2, 6, 27, 6}'"
check "status_map_20_fitted_4_padding" bash -c "h5dump -d /units/status -y -w 0 '$E2E_TMP/ref/results.h5' | \
  tr ', ' '\n\n' | grep -v '^$' | sort | uniq -c | tr -s ' ' | grep -qx ' 4 0' && h5dump -d /units/status -y -w 0 \
  '$E2E_TMP/ref/results.h5' | tr ', ' '\n\n' | grep -c '^1$' | grep -qx 20"
check "progress_line_at_the_end" grep -q "progress fit: 20/20 units, 0 failed" "$E2E_TMP/ref.log"
sweep 1 again
check "repeat_run_identical" same ref again
for n in 2 3 4; do
  sweep $n n$n -P run.log_dir="$E2E_TMP/logs$n"
  rc=$?
  check "${n}_ranks_exit_0" test $rc -eq 0
  [ $rc -eq 0 ] || tail -20 "$E2E_TMP/n$n.log"
  check "${n}_ranks_equal_one_rank" same ref n$n
done
check "one_log_file_per_rank" test "$(ls "$E2E_TMP/logs4" | grep -c '^rank-00[0-3]\.log$')" -eq 4
check "rank_logs_hold_their_fits" bash -c "cat '$E2E_TMP'/logs4/rank-*.log | grep -c 'fitted in' | grep -qx 20"
check "rank_seconds_4_ranks_x_9_shares" bash -c "h5ls '$E2E_TMP/n4/results.h5/meta/rank_seconds' | grep -q '{4, 9}'"

# ---- a rank killed with SIGKILL mid-run; the same command again finishes and equals the reference
sweep 4 kill &
pid=$!
if wait_for_layers kill 4; then
  kill -9 "$(ranks_of kill | tail -1)"
fi
wait $pid
rc=$?
check "killed_run_fails" test $rc -ne 0
check "killed_run_leaves_no_results" test ! -e "$E2E_TMP/kill/results.h5"
kept=$(layers_done kill)
check "killed_run_keeps_finished_layers" test "$kept" -ge 4 -a "$kept" -lt 20
sweep 4 kill
rc=$?
check "rerun_after_kill_exits_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/kill.log"
check "rerun_skips_finished_layers" grep -qE "fit: [0-9]+ of 20 layer fits already in" "$E2E_TMP/kill.log"
check "rerun_skips_extraction" grep -q "extract: 4 of 4 (model, context) feature sets already on disk" "$E2E_TMP/kill.log"
check "resumed_equals_uninterrupted" same ref kill
check "store_removed_after_success" test ! -e "$E2E_TMP/kill/results.h5.units"

# ---- SIGTERM (what Slurm sends before the time limit) to every rank: clean stop, status 75, resume
sweep 2 term &
pid=$!
if wait_for_layers term 2; then kill -TERM $(ranks_of term); fi
wait $pid
rc=$?
check "sigterm_exit_status_75" test $rc -eq 75
check "sigterm_says_how_to_resume" grep -q "stopped by a signal: .* rerun the same command" "$E2E_TMP/term.log"
check "sigterm_leaves_no_results_or_partial" test ! -e "$E2E_TMP/term/results.h5" -a ! -e "$E2E_TMP/term/results.h5.partial"
check "sigterm_no_half_written_record" bash -c "! ls '$E2E_TMP/term/results.h5.units/layers' | grep -q partial"
sweep 2 term
check "rerun_after_sigterm_exits_0" test $? -eq 0
check "rerun_after_sigterm_equals_uninterrupted" same ref term

# ---- a corrupt model (NaN weights: its last tensor, a norm, overwritten): its units fail, the rest go on
cp tests/fixtures/stories260K-3layers.gguf "$E2E_TMP/nan.gguf"
size=$(stat -c %s "$E2E_TMP/nan.gguf")
head -c 256 /dev/zero | tr '\0' '\377' | dd of="$E2E_TMP/nan.gguf" bs=1 seek=$((size - 256)) conv=notrunc status=none
sed "s|tests/fixtures/stories260K-3layers.gguf|$E2E_TMP/nan.gguf|" "$E2E_TMP/two.yaml" >"$E2E_TMP/nan.yaml"
mpirun -n 2 "$BRAINSWEEP" sweep "$E2E_TMP/nan.yaml" -P output.path="$E2E_TMP/nan/results.h5" "${ARGS[@]}" \
  >"$E2E_TMP/nan.log" 2>&1
rc=$?
check "failed_units_exit_status_3" test $rc -eq 3
check "failed_units_still_write_results" test -f "$E2E_TMP/nan/results.h5"
check "failed_units_summary_names_them" grep -q "8 layer fit(s) failed" "$E2E_TMP/nan.log"
check "failed_units_error_says_why" grep -q "tiny3, context full, layer 0: feature extraction failed: .*NaN or Inf" "$E2E_TMP/nan.log"
check "failed_units_marked_in_file" bash -c "h5dump -d /units/status -y -w 0 '$E2E_TMP/nan/results.h5' | \
  tr ', ' '\n\n' | grep -c '^-1$' | grep -qx 8"
check "failed_units_error_text_in_file" bash -c "h5dump -d /units/error '$E2E_TMP/nan/results.h5' | grep -q 'NaN or Inf'"
for run in ref nan; do  # model 1 (stories260K), both contexts
  h5dump -d /scores/r -s 1,0,0,0,0 -c 1,2,6,27,6 -y -w 0 -m '%.9g' -o "$E2E_TMP/$run.m1" "$E2E_TMP/$run/results.h5" >/dev/null
done
check "other_model_unaffected" cmp -s "$E2E_TMP/ref.m1" "$E2E_TMP/nan.m1"
mpirun -n 2 "$BRAINSWEEP" sweep "$E2E_TMP/nan.yaml" -P output.path="$E2E_TMP/nan/results.h5" "${ARGS[@]}" \
  >"$E2E_TMP/nan2.log" 2>&1
rc=$?
check "rerun_retries_only_failed_units" bash -c "[ $rc -eq 3 ] && grep -q 'fit: 12 of 20 layer fits already in' '$E2E_TMP/nan2.log'"

# ---- a full disk, as a file-size limit put on the ranks once they run (MPI's own start-up files
# must not meet it): one clear error naming the file, no results; the rerun resumes
if command -v prlimit >/dev/null; then
  sweep 2 full &
  pid=$!
  for i in $(seq 1 1500); do [ -d "$E2E_TMP/full/results.h5.units" ] && break; sleep 0.02; done
  for p in $(ranks_of full); do prlimit --pid "$p" --fsize=1000000; done
  wait $pid
  rc=$?
  check "full_disk_fails" test $rc -ne 0
  check "full_disk_names_file_and_reason" grep -qE "cannot write .*(File too large|No space left)" "$E2E_TMP/full.log"
  check "full_disk_no_results" test ! -e "$E2E_TMP/full/results.h5"
  sweep 2 full
  check "rerun_after_full_disk_exits_0" test $? -eq 0
  check "rerun_after_full_disk_equals_uninterrupted" same ref full
  # a full disk when only the results file is left to write: every fit is in the store (--no-results), and rank 0
  # meets the limit creating results.h5.partial (its datasets are allocated whole there, so the ranks' parallel
  # writes that follow never extend the file). The limit holds from the start: Open MPI keeps its own files under it
  # without PMIx's shared-memory store and shared-memory transport
  sweep 2 resfull --no-results
  check "store_complete_before_the_results" test $? -eq 0
  PMIX_MCA_gds=hash OMPI_MCA_btl=self,tcp prlimit --fsize=100000 mpirun -n 2 "$BRAINSWEEP" sweep "$E2E_TMP/two.yaml" \
    -P output.path="$E2E_TMP/resfull/results.h5" "${ARGS[@]}" >"$E2E_TMP/resfull2.log" 2>&1
  rc=$?
  check "full_disk_at_results_fails" test $rc -eq 1
  check "full_disk_at_results_names_the_file_and_reason" \
    grep -qE "FATAL .*resfull/results.h5.partial: HDF5 call failed: (File too large|No space left)" "$E2E_TMP/resfull2.log"
  check "full_disk_at_results_no_results" test ! -e "$E2E_TMP/resfull/results.h5"
  check "full_disk_at_results_store_kept" test "$(layers_done resfull)" -eq 20
  sweep 2 resfull
  check "rerun_after_full_disk_at_results_exits_0" test $? -eq 0
  check "rerun_after_full_disk_at_results_reused_every_fit" grep -q "fit: 20 of 20 layer fits already in" "$E2E_TMP/resfull.log"
  check "rerun_after_full_disk_at_results_equals_uninterrupted" same ref resfull
else
  skip_unless_ci "full_disk" "prlimit (util-linux) not installed"
fi

# ---- a config error on 2 ranks: one message, before any work
mpirun -n 2 "$BRAINSWEEP" sweep "$E2E_TMP/two.yaml" -P output.path="$E2E_TMP/bad/results.h5" -P ridge.fold=3 \
  >"$E2E_TMP/bad.log" 2>&1
rc=$?
check "config_error_exit_1" test $rc -eq 1
check "config_error_printed_once" test "$(grep -c 'ERROR' "$E2E_TMP/bad.log")" -eq 1
check "config_error_nothing_written" test ! -e "$E2E_TMP/bad"
summary
