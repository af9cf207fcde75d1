#!/usr/bin/env bash
# `brainsweep report` end to end: the demo-like fMRI sweep and a small simulated iEEG sweep (two models,
# two context policies, benchmark scores) are analysed and drawn; every figure the index embeds is a
# valid PNG with an SVG beside it, the figures that do not apply are listed as skipped, and a rerun
# into the same folder leaves no stale figure behind. Files that are not analysed results, and a
# missing gnuplot, are refused with exit 1 and no output folder.
source "$(dirname "$0")/lib.sh"

# figures_valid DIR: every PNG that DIR/index.md embeds exists with the PNG signature, its SVG is a
# whole SVG document, and its data and script are there
figures_valid() {
  local dir=$1 names name ok=0
  names=$(grep -o '](\([^)]*\)\.png)' "$dir/index.md" | sed 's/^](//; s/\.png)$//')
  [ -n "$names" ] || return 1
  for name in $names; do
    [ -s "$dir/$name.png" ] && [ -s "$dir/$name.svg" ] && [ -s "$dir/$name.tsv" ] && [ -s "$dir/$name.gp" ] || {
      echo "  $name: a file is missing or empty"; ok=1; continue; }
    [ "$(head -c 8 "$dir/$name.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || {
      echo "  $name.png: not a PNG"; ok=1; }
    head -c 400 "$dir/$name.svg" | grep -q '<svg' && tail -c 20 "$dir/$name.svg" | grep -q '</svg>' || {
      echo "  $name.svg: not a whole SVG document"; ok=1; }
  done
  return $ok
}

# files that are not analysed results: refused before gnuplot is looked for, so these run everywhere
FMRI=$E2E_TMP/fmri/results.h5
cp jobs/presets/test-stories260k.yaml "$E2E_TMP/config.yaml"
"$BRAINSWEEP" report "$E2E_TMP/config.yaml" -o "$E2E_TMP/bad" >"$E2E_TMP/bad.log" 2>&1
check "text_file_exit_1" test $? -eq 1
check "text_file_named" grep -q "$E2E_TMP/config.yaml: not a brainsweep results file" "$E2E_TMP/bad.log"
check "text_file_no_output_folder" test ! -e "$E2E_TMP/bad"

"$BRAINSWEEP" sweep jobs/presets/test-stories260k.yaml -P output.path="$FMRI" -P run.threads=2 >"$E2E_TMP/fmri.log" 2>&1
check "fmri_sweep_exit_0" test $? -eq 0
"$BRAINSWEEP" report "$FMRI" -o "$E2E_TMP/unanalysed" >"$E2E_TMP/unanalysed.log" 2>&1
check "unanalysed_exit_1" test $? -eq 1
check "unanalysed_says_run_analyze" grep -q "run brainsweep analyze" "$E2E_TMP/unanalysed.log"
check "unanalysed_no_output_folder" test ! -e "$E2E_TMP/unanalysed"
"$BRAINSWEEP" analyze "$FMRI" --bootstrap 100 --permutations 99 >"$E2E_TMP/fmri-analyze.log" 2>&1
check "fmri_analyze_exit_0" test $? -eq 0
env PATH="$E2E_TMP/no-such-dir" "$BRAINSWEEP" report "$FMRI" -o "$E2E_TMP/nognuplot" >"$E2E_TMP/nognuplot.log" 2>&1
check "no_gnuplot_exit_1" test $? -eq 1
check "no_gnuplot_names_the_package" grep -q "gnuplot-nox" "$E2E_TMP/nognuplot.log"
check "no_gnuplot_no_output_folder" test ! -e "$E2E_TMP/nognuplot"

if ! command -v gnuplot >/dev/null 2>&1; then
  skip_unless_ci "figures" "gnuplot is not installed (Debian/Ubuntu: apt-get install gnuplot-nox)"
  summary
  exit $?
fi

# (a) the demo-like fMRI sweep: one model, one context, no electrodes
REP=$E2E_TMP/fmri-report
"$BRAINSWEEP" report "$FMRI" -o "$REP" >"$E2E_TMP/report.log" 2>&1
rc=$?
check "fmri_report_exit_0" test $rc -eq 0
[ $rc -eq 0 ] || cat "$E2E_TMP/report.log"
check "fmri_figures_valid" figures_valid "$REP"
check "fmri_curves_and_matrix" test -s "$REP/curves.png" -a -s "$REP/layer_region_stories260K.png"
for f in brain_vs_benchmark peak_vs_distance hierarchy_bins pathways context brain_map; do
  check "fmri_skipped_listed_$f" grep -q "^| $f | " "$REP/index.md"
done
check "fmri_no_brain_map_drawn" test ! -e "$REP/brain_map.png"
check "fmri_brain_score_table" grep -q '^| stories260K | 5 | ' "$REP/index.md"
# the scripts stand alone: rerun one where it lies
rm "$REP/curves.png"
(cd "$REP" && gnuplot curves.gp) >"$E2E_TMP/rerun.log" 2>&1
check "script_reruns_alone" test $? -eq 0 -a -s "$REP/curves.png"

# (b) a small simulated iEEG sweep: two models, two contexts, cached features (CKA), benchmark scores
SIM=$E2E_TMP/sim
OUT=$E2E_TMP/ieeg/results.h5
"$BRAINSWEEP" simulate "$SIM" --subjects sub-01,sub-08 --seconds 240 --electrodes 16 --seed 3 \
  >"$E2E_TMP/sim.log" 2>&1
check "simulate_exit_0" test $? -eq 0
ieeg_sim_yaml "$SIM" "$OUT" stories260K=data/models/stories260K.gguf \
  stories260K-3layers=tests/fixtures/stories260K-3layers.gguf >"$E2E_TMP/sim.yaml"
"$BRAINSWEEP" sweep "$E2E_TMP/sim.yaml" -P "context.policy=[full, tokens:8]" -P features.cache_dir="$E2E_TMP/features" \
  -P run.threads=2 >"$E2E_TMP/sweep.log" 2>&1
rc=$?
check "ieeg_sweep_exit_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/sweep.log"
printf 'Model,Average\nstories260K,41.5\nstories260K-3layers,30\n' >"$E2E_TMP/bench.csv"
"$BRAINSWEEP" analyze "$OUT" --benchmarks "$E2E_TMP/bench.csv" --bootstrap 100 --permutations 99 \
  >"$E2E_TMP/analyze.log" 2>&1
check "ieeg_analyze_exit_0" test $? -eq 0
REP=$E2E_TMP/ieeg-report
"$BRAINSWEEP" report "$OUT" -o "$REP" >"$E2E_TMP/report.log" 2>&1
rc=$?
check "ieeg_report_exit_0" test $rc -eq 0
[ $rc -eq 0 ] || cat "$E2E_TMP/report.log"
check "ieeg_figures_valid" figures_valid "$REP"
for f in curves brain_vs_benchmark peak_vs_distance hierarchy_bins layer_region_stories260K \
  layer_region_stories260K-3layers pathways_stories260K_stories260K-3layers context brain_map; do
  check "ieeg_figure_$f" grep -q "]($f.png)" "$REP/index.md"
done
check "ieeg_nothing_skipped" grep -q "^None: every figure applies" "$REP/index.md"
check "ieeg_hierarchy_table" grep -q "^## Hierarchy" "$REP/index.md"
check "ieeg_cka_panel" grep -q "linear CKA" "$REP/pathways_stories260K_stories260K-3layers.gp"

# a rerun into the same folder, now from the fMRI file: the figures that do not apply are gone
"$BRAINSWEEP" report "$FMRI" -o "$REP" >"$E2E_TMP/again.log" 2>&1
check "rerun_exit_0" test $? -eq 0
check "rerun_removes_stale_figures" test ! -e "$REP/brain_map.png" -a ! -e "$REP/context.svg" \
  -a ! -e "$REP/peak_vs_distance.tsv"
check "rerun_figures_valid" figures_valid "$REP"
summary
