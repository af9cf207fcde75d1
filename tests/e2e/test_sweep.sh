#!/usr/bin/env bash
# The demo config on stories260K writes results.h5 with the documented datasets and finite r;
# two MPI ranks write the same file as one.
source "$(dirname "$0")/lib.sh"
CONFIG=jobs/presets/test-stories260k.yaml
OUT=$E2E_TMP/one/results.h5

"$BRAINSWEEP" sweep "$CONFIG" -P output.path="$OUT" -P run.threads=1 >"$E2E_TMP/one.log" 2>&1
rc=$?
check "sweep_exits_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/one.log"
check "results_file_written" test -f "$OUT"
check "no_partial_file_left" test ! -e "$OUT.partial"
check "sweep_prints_matrix_and_path" grep -q "results: $OUT" "$E2E_TMP/one.log"

# every dataset docs/results-format.md promises
listing=$(h5ls -r "$OUT" 2>&1)
for d in /models/name /models/path /models/architecture /models/n_layers /models/d_model /models/n_tokens \
         /models/n_chunks /models/context_window /models/tokenize_seconds /models/forward_seconds /subjects/name /subjects/file \
         /regions/name /stimulus/word /stimulus/onset /stimulus/offset /scores/r /scores/alpha \
         /summary/layer_region /summary/layer_region_sem /summary/n_subjects /summary/best_layer \
         /meta/stage /meta/stage_seconds; do
  check "dataset_$d" grep -q "^$d " <<<"$listing"
done
check "scores_shape_1x6x27x6" grep -q '^/scores/r  *Dataset {1, 6, 27, 6}' <<<"$listing"
check "attribute_complete_is_1" bash -c "h5dump -a complete '$OUT' | grep -q '(0): 1'"
check "attribute_schema" bash -c "h5dump -a schema '$OUT' | grep -q 'brainsweep-results'"
h5dump -d /scores/r -y -w 0 -m '%.6f' -o "$E2E_TMP/r.txt" "$OUT" >/dev/null
values=$(tr ', ' '\n\n' <"$E2E_TMP/r.txt" | grep -v '^$')
check "all_972_r_values_read" test "$(wc -l <<<"$values")" -eq 972
check "every_r_is_finite" bash -c "! grep -qi nan <<<'$values'"
check "every_r_within_[-1,1]" awk '$1 < -1 || $1 > 1 {bad = 1} END {exit bad}' <<<"$values"

"$BRAINSWEEP" inspect "$OUT" >"$E2E_TMP/inspect.log" 2>&1
check "inspect_exits_0" test $? -eq 0
check "inspect_prints_regions" grep -q "LATL.*RATL.*LPTL.*LIPL.*LPreM.*LIFG" "$E2E_TMP/inspect.log"
check "inspect_prints_6_layer_rows" test "$(grep -cE '^ +[0-5] ' "$E2E_TMP/inspect.log")" -eq 6
"$BRAINSWEEP" inspect "$CONFIG" >"$E2E_TMP/inspect_bad.log" 2>&1
check "inspect_refuses_non_results_file" bash -c "[ $? -ne 0 ] && grep -q 'not an HDF5 file' '$E2E_TMP/inspect_bad.log'"

if command -v mpirun >/dev/null; then
  OUT2=$E2E_TMP/two/results.h5
  mpirun -n 2 "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$OUT2" -P run.threads=1 >"$E2E_TMP/two.log" 2>&1
  rc=$?
  check "two_ranks_exit_0" test $rc -eq 0
  [ $rc -eq 0 ] || tail -20 "$E2E_TMP/two.log"
  check "two_ranks_report_2_ranks" grep -q "2 rank(s)" "$E2E_TMP/two.log"
  for d in /scores/r /scores/alpha /summary/layer_region /summary/best_layer /models/n_tokens; do
    check "two_ranks_equal_one_rank_$d" h5diff "$OUT" "$OUT2" "$d" "$d"
  done
  # two models of different depth on three ranks: the shallower one is padded with NaN past its L
  sed 's|^models:|models:\n  - {name: tiny3, path: tests/fixtures/stories260K-3layers.gguf}|' "$CONFIG" >"$E2E_TMP/two.yaml"
  OUT3=$E2E_TMP/three/results.h5
  mpirun -n 3 "$BRAINSWEEP" sweep "$E2E_TMP/two.yaml" -P output.path="$OUT3" -P run.threads=1 >"$E2E_TMP/three.log" 2>&1
  rc=$?
  check "two_models_three_ranks_exit_0" test $rc -eq 0
  [ $rc -eq 0 ] || tail -20 "$E2E_TMP/three.log"
  check "two_models_scores_shape_2x6x27x6" bash -c "h5ls '$OUT3/scores/r' | grep -q '{2, 6, 27, 6}'"
  h5dump -d /scores/r -y -w 0 -o "$E2E_TMP/r3.txt" "$OUT3" >/dev/null
  tr ', ' '\n\n' <"$E2E_TMP/r3.txt" | grep -v '^$' >"$E2E_TMP/r3.list"
  # model 0 (3 layers): hidden states 0..3 finite, 4..5 NaN; model 1: all finite. 162 values per layer.
  check "shallow_model_finite_through_its_L" bash -c "sed -n '1,648p' '$E2E_TMP/r3.list' | grep -qvi nan && ! sed -n '1,648p' '$E2E_TMP/r3.list' | grep -qi nan"
  check "shallow_model_nan_past_its_L" bash -c "! sed -n '649,972p' '$E2E_TMP/r3.list' | grep -qvi nan"
  check "deep_model_all_finite" bash -c "! sed -n '973,1944p' '$E2E_TMP/r3.list' | grep -qi nan"
  h5dump -d /scores/r -s 1,0,0,0 -c 1,6,27,6 -y -w 0 -m '%.9g' -o "$E2E_TMP/r3m1.txt" "$OUT3" >/dev/null
  h5dump -d /scores/r -y -w 0 -m '%.9g' -o "$E2E_TMP/r1.txt" "$OUT" >/dev/null
  check "second_model_equals_its_single_model_run" cmp -s <(tr ', ' '\n\n' <"$E2E_TMP/r3m1.txt" | grep -v '^$') \
    <(tr ', ' '\n\n' <"$E2E_TMP/r1.txt" | grep -v '^$')
  "$BRAINSWEEP" inspect "$OUT3" >"$E2E_TMP/inspect3.log" 2>&1
  check "inspect_prints_both_models" bash -c "grep -q '^tiny3:' '$E2E_TMP/inspect3.log' && grep -q '^stories260K:' '$E2E_TMP/inspect3.log'"
else
  skip "two_ranks" "mpirun not installed"
fi
summary
