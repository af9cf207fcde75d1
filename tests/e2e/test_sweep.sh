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
check "unit_store_removed_after_success" test ! -e "$OUT.units"
check "sweep_prints_matrix_and_path" grep -q "results: $OUT" "$E2E_TMP/one.log"

# every dataset docs/results-format.md promises
listing=$(h5ls -r "$OUT" 2>&1)
for d in /models/name /models/path /models/architecture /models/n_layers /models/d_model /models/n_tokens \
         /models/n_sequences /models/context_window /models/tokenize_seconds /models/forward_seconds /subjects/name /subjects/file \
         /contexts/name /regions/name /stimulus/word /stimulus/onset /stimulus/offset /scores/r /scores/r2 /scores/alpha \
         /scores/p /scores/q /design/alphas /design/sample_block /design/width /design/components \
         /summary/layer_region /summary/layer_region_sem /summary/n_subjects /summary/best_layer \
         /units/status /units/error /meta/stage /meta/stage_seconds /meta/share /meta/rank_seconds; do
  check "dataset_$d" grep -q "^$d " <<<"$listing"
done
check "scores_shape_1x1x6x27x6" grep -q '^/scores/r  *Dataset {1, 1, 6, 27, 6}' <<<"$listing"
check "attribute_complete_is_1" bash -c "h5dump -a complete '$OUT' | grep -q '(0): 1'"
check "attribute_schema" bash -c "h5dump -a schema '$OUT' | grep -q 'brainsweep-results'"
check "attribute_schema_version_3" bash -c "h5dump -a schema_version '$OUT' | grep -q '(0): 3'"
check "no_weights_unless_asked" bash -c "! grep -q '^/weights' <<<'$listing'"
check "p_is_nan_without_permutations" bash -c "h5dump -d /scores/p -c 1,1,1,1,1 '$OUT' | grep -qi nan"
h5dump -d /scores/r -y -w 0 -m '%.6f' -o "$E2E_TMP/r.txt" "$OUT" >/dev/null
values=$(tr ', ' '\n\n' <"$E2E_TMP/r.txt" | grep -v '^$')
check "all_972_r_values_read" test "$(wc -l <<<"$values")" -eq 972
check "every_r_is_finite" bash -c "! grep -qi nan <<<'$values'"
check "every_r_within_[-1,1]" awk '$1 < -1 || $1 > 1 {bad = 1} END {exit bad}' <<<"$values"

# one subject's fits against an independent numpy/scikit-learn reference of the documented method, from the same
# word features (tests/golden/make_sweep_fmri_fixture.py): every layer's r per region within 1e-4 (the engine's
# float32 design and products against float64; measured 1e-7), plus what a float tie between two alphas may move
# (tie_dr); the alpha itself wherever no fold's choice was such a tie
REF=tests/fixtures/sweep-fmri/reference.tsv
check "reference_fixture_present" test -s "$REF"
read -r S SUBJ < <(sed -n 's/^# subject \([^ ]*\) .*index \([0-9]*\);.*/\2 \1/p' "$REF")
check "reference_subject_$SUBJ" test "$(values "$OUT" /subjects/name -s "${S:-0}" -c 1 | tr -d '"')" = "${SUBJ:-?}"
values "$OUT" /scores/r -s 0,0,0,"${S:-0}",0 -c 1,1,6,1,6 >"$E2E_TMP/ref_r"
values "$OUT" /scores/alpha -s 0,0,0,"${S:-0}",0 -c 1,1,6,1,6 >"$E2E_TMP/ref_alpha"
read -r n bad_r bad_a dr < <(grep -v '^#' "$REF" | tail -n +2 | paste - "$E2E_TMP/ref_r" "$E2E_TMP/ref_alpha" |
  awk -F'\t' 'function num(x) {return x ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/}
  {n++; d = $6 - $3; d = d < 0 ? -d : d; if (d > worst) worst = d
   if (!num($6) || d > 1e-4 + $5) bad_r++
   if (!num($7) || ($5 == 0 && (log($7 / $4) / log(10)) ^ 2 > 1e-6)) bad_a++}
  END {printf "%d %d %d %.1e\n", n, bad_r, bad_a, worst}')
check "reference_r_every_layer_and_region ($n values, max |dr| $dr)" test "${n:-0}" -eq 36 -a "${bad_r:-1}" -eq 0
check "reference_alphas_where_no_tie" test "${n:-0}" -eq 36 -a "${bad_a:-1}" -eq 0

"$BRAINSWEEP" inspect "$OUT" >"$E2E_TMP/inspect.log" 2>&1
check "inspect_exits_0" test $? -eq 0
check "inspect_prints_regions" grep -q "LATL.*RATL.*LPTL.*LIPL.*LPreM.*LIFG" "$E2E_TMP/inspect.log"
check "inspect_prints_6_layer_rows" test "$(grep -cE '^ +[0-5] ' "$E2E_TMP/inspect.log")" -eq 6
# names are printed escaped: a region label with a control code reaches no terminal raw, in the sweep's table or
# in inspect's
"$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/esc/results.h5" -P run.threads=1 \
  -P 'recordings.regions=[LATL, "R\eATL", LPTL, LIPL, LPreM, LIFG]' >"$E2E_TMP/esc.log" 2>&1
"$BRAINSWEEP" inspect "$E2E_TMP/esc/results.h5" >>"$E2E_TMP/esc.log" 2>&1
check "names_printed_escaped" bash -c "[ \$(grep -c 'R\\\\x1bATL' '$E2E_TMP/esc.log') -eq 2 ] && ! grep -q \$'\\e' '$E2E_TMP/esc.log'"
"$BRAINSWEEP" inspect "$CONFIG" >"$E2E_TMP/inspect_bad.log" 2>&1
check "inspect_refuses_non_results_file" bash -c "[ $? -ne 0 ] && grep -q 'not an HDF5 file' '$E2E_TMP/inspect_bad.log'"

# a tiny fit memory: the targets run in many batches, and the scores do not change
"$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/small/results.h5" -P run.threads=1 --fit-memory 0.0005 \
  >"$E2E_TMP/small.log" 2>&1
check "small_fit_memory_exits_0" test $? -eq 0
check "small_fit_memory_same_scores" h5diff -d 1e-5 "$OUT" "$E2E_TMP/small/results.h5" /scores/r /scores/r
check "small_fit_memory_same_alphas" h5diff -p 1e-5 "$OUT" "$E2E_TMP/small/results.h5" /scores/alpha /scores/alpha

# significance, weights, PCA on all samples, a word-rate band, a gap, the faster alpha choice
OUTP=$E2E_TMP/perm/results.h5
"$BRAINSWEEP" sweep "$CONFIG" -P output.path="$OUTP" -P run.threads=1 -P ridge.permutations=200 -P output.weights=true \
  -P design.pca_components=16 -P design.pca_fit=all -P "design.extra_bands=[word_rate]" -P ridge.band_scalings=3 \
  -P ridge.gap=2 -P ridge.select=outer_mean >"$E2E_TMP/perm.log" 2>&1
rc=$?
check "options_sweep_exits_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/perm.log"
listing=$(h5ls -r "$OUTP" 2>&1)
check "weights_shape_1x1x6x68x27x6" grep -q '^/weights/beta  *Dataset {1, 1, 6, 68, 27, 6}' <<<"$listing"
check "intercepts_stored" grep -q '^/weights/intercept  *Dataset {1, 1, 6, 27, 6}' <<<"$listing"
h5dump -d /design/width -y -w 0 -o "$E2E_TMP/width.txt" "$OUTP" >/dev/null
check "design_width_68_every_layer" bash -c "tr ', ' '\\n\\n' <'$E2E_TMP/width.txt' | grep -v '^$' | sort -u | tr '\\n' ' ' | grep -qx '68 '"
h5dump -d /design/components -y -w 0 -o "$E2E_TMP/components.txt" "$OUTP" >/dev/null
check "components_16_every_layer" bash -c "tr ', ' '\\n\\n' <'$E2E_TMP/components.txt' | grep -v '^$' | sort -u | tr '\\n' ' ' | grep -qx '16 '"
for d in p q; do
  h5dump -d /scores/$d -y -w 0 -m '%.6f' -o "$E2E_TMP/$d.txt" "$OUTP" >/dev/null
  tr ', ' '\n\n' <"$E2E_TMP/$d.txt" | grep -v '^$' >"$E2E_TMP/$d.list"
  check "every_${d}_in_(0,1]" awk 'BEGIN {n = 0} $1 != $1 + 0 || $1 <= 0 || $1 > 1 {bad = 1} {n++} END {exit bad || n != 972}' "$E2E_TMP/$d.list"
done
check "p_floor_is_1_over_201" awk '$1 < 0.004975 {bad = 1} END {exit bad}' "$E2E_TMP/p.list"
check "q_at_least_p" bash -c "paste '$E2E_TMP/p.list' '$E2E_TMP/q.list' | awk '\$2 < \$1 - 1e-6 {bad = 1} END {exit bad}'"
h5dump -d /weights/beta -s 0,0,2,0,0,0 -c 1,1,1,68,1,1 -y -w 0 -o "$E2E_TMP/w.txt" "$OUTP" >/dev/null
check "weights_finite" bash -c "tr ', ' '\n\n' <'$E2E_TMP/w.txt' | grep -v '^$' | awk '\$1 != \$1 + 0 {bad = 1} {n++} END {exit bad || n != 68}'"

# word-level targets (one row per word, e.g. high-gamma around each word) and a 10 Hz continuous signal
mkdir -p "$E2E_TMP/words" "$E2E_TMP/cont"
for s in 1 2; do
  awk -v seed=$s 'BEGIN {srand(seed); for (i = 0; i < 2127; i++) print rand(), rand(), rand()}' >"$E2E_TMP/words/p$s-hg.txt"
  awk -v seed=$s 'BEGIN {srand(seed); for (i = 0; i < 7236; i++) print rand(), rand(), rand()}' >"$E2E_TMP/cont/p$s-hg.txt"
done
"$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/words/results.h5" -P run.threads=1 -P recordings.format=word_text \
  -P "recordings.regions=[e1, e2, e3]" -P "recordings.files=$E2E_TMP/words/p*-hg.txt" -P "design.delays=[0]" \
  >"$E2E_TMP/words.log" 2>&1
check "word_level_sweep_exits_0" test $? -eq 0
check "word_level_scores_1x1x6x2x3" bash -c "h5ls '$E2E_TMP/words/results.h5/scores/r' | grep -q '{1, 1, 6, 2, 3}'"
check "word_level_banner" grep -q "2 subject(s) x 2127 words x 3 region(s)" "$E2E_TMP/words.log"
"$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/cont/results.h5" -P run.threads=1 -P recordings.tr=0.1 \
  -P recordings.first_volume_time=20 -P recordings.volumes=7236 -P design.resample=onset -P "design.delays=[0, 1, 2, 3, 4]" \
  -P "recordings.regions=[e1, e2, e3]" -P "recordings.files=$E2E_TMP/cont/p*-hg.txt" >"$E2E_TMP/cont.log" 2>&1
check "continuous_sweep_exits_0" test $? -eq 0
check "continuous_banner" grep -q "7236 sample(s) (every 0.1 s from 20 s)" "$E2E_TMP/cont.log"
for run in words cont; do
  h5dump -d /scores/r -y -w 0 -m '%.6f' -o "$E2E_TMP/$run.r" "$E2E_TMP/$run/results.h5" >/dev/null
  check "${run}_noise_targets_r_near_0" bash -c "tr ', ' '\n\n' <'$E2E_TMP/$run.r' | grep -v '^$' | awk '{s += \$1; n++} \$1 != \$1 + 0 || \$1 > 0.2 || \$1 < -0.2 {bad = 1} END {exit bad || n != 36 || s / n > 0.05 || s / n < -0.05}'"
done

if command -v mpirun >/dev/null; then
  OUT2=$E2E_TMP/two/results.h5
  mpirun -n 2 "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$OUT2" -P run.threads=1 >"$E2E_TMP/two.log" 2>&1
  rc=$?
  check "two_ranks_exit_0" test $rc -eq 0
  [ $rc -eq 0 ] || tail -20 "$E2E_TMP/two.log"
  check "two_ranks_report_2_ranks" grep -q "2 rank(s)" "$E2E_TMP/two.log"
  for d in /scores/r /scores/r2 /scores/alpha /summary/layer_region /summary/best_layer /models/n_tokens; do
    check "two_ranks_equal_one_rank_$d" h5diff "$OUT" "$OUT2" "$d" "$d"
  done
  # two models of different depth on three ranks: the shallower one is padded with NaN past its L
  sed 's|^models:|models:\n  - {name: tiny3, path: tests/fixtures/stories260K-3layers.gguf}|' "$CONFIG" >"$E2E_TMP/two.yaml"
  OUT3=$E2E_TMP/three/results.h5
  mpirun -n 3 "$BRAINSWEEP" sweep "$E2E_TMP/two.yaml" -P output.path="$OUT3" -P run.threads=1 >"$E2E_TMP/three.log" 2>&1
  rc=$?
  check "two_models_three_ranks_exit_0" test $rc -eq 0
  [ $rc -eq 0 ] || tail -20 "$E2E_TMP/three.log"
  check "two_models_scores_shape_2x1x6x27x6" bash -c "h5ls '$OUT3/scores/r' | grep -q '{2, 1, 6, 27, 6}'"
  h5dump -d /scores/r -y -w 0 -o "$E2E_TMP/r3.txt" "$OUT3" >/dev/null
  tr ', ' '\n\n' <"$E2E_TMP/r3.txt" | grep -v '^$' >"$E2E_TMP/r3.list"
  # model 0 (3 layers): hidden states 0..3 finite, 4..5 NaN; model 1: all finite. 162 values per layer.
  check "shallow_model_finite_through_its_L" bash -c "sed -n '1,648p' '$E2E_TMP/r3.list' | grep -qvi nan && ! sed -n '1,648p' '$E2E_TMP/r3.list' | grep -qi nan"
  check "shallow_model_nan_past_its_L" bash -c "! sed -n '649,972p' '$E2E_TMP/r3.list' | grep -qvi nan"
  check "deep_model_all_finite" bash -c "! sed -n '973,1944p' '$E2E_TMP/r3.list' | grep -qi nan"
  h5dump -d /scores/r -s 1,0,0,0,0 -c 1,1,6,27,6 -y -w 0 -m '%.9g' -o "$E2E_TMP/r3m1.txt" "$OUT3" >/dev/null
  h5dump -d /scores/r -y -w 0 -m '%.9g' -o "$E2E_TMP/r1.txt" "$OUT" >/dev/null
  check "second_model_equals_its_single_model_run" cmp -s <(tr ', ' '\n\n' <"$E2E_TMP/r3m1.txt" | grep -v '^$') \
    <(tr ', ' '\n\n' <"$E2E_TMP/r1.txt" | grep -v '^$')
  "$BRAINSWEEP" inspect "$OUT3" >"$E2E_TMP/inspect3.log" 2>&1
  check "inspect_prints_both_models" bash -c "grep -q '^tiny3, context full:' '$E2E_TMP/inspect3.log' && grep -q '^stories260K, context full:' '$E2E_TMP/inspect3.log'"
else
  skip_unless_ci "two_ranks" "mpirun not installed"
fi
summary
