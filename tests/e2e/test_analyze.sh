#!/usr/bin/env bash
# `brainsweep analyze` end to end: a simulated iEEG dataset with planted layers (as test_ieeg_sweep.sh),
# swept with two models and two context policies, is analysed into /analysis; the planted hierarchy
# comes out positive and significant and the peak layers match the planted ones, while permuted
# distances (the null control) give no hierarchy. Also: CKA from the cached features (the 3-layer
# model is the first layers of the 5-layer one), benchmark matching, an fMRI file (hierarchy skipped),
# a rerun replacing /analysis exactly, and files that are not results refused with exit 1, untouched.
source "$(dirname "$0")/lib.sh"
SIM=$E2E_TMP/sim
OUT=$E2E_TMP/out/results.h5
"$BRAINSWEEP" simulate "$SIM" --subjects sub-01,sub-03,sub-08 --seconds 300 --electrodes 24 --seed 3 \
  >"$E2E_TMP/sim.log" 2>&1
check "simulate_exit_0" test $? -eq 0

ieeg_sim_yaml "$SIM" "$OUT" stories260K=data/models/stories260K.gguf \
  stories260K-3layers=tests/fixtures/stories260K-3layers.gguf stories260K-again=data/models/stories260K.gguf \
  >"$E2E_TMP/sim.yaml"
"$BRAINSWEEP" sweep "$E2E_TMP/sim.yaml" -P "context.policy=[full, tokens:8]" -P features.cache_dir="$E2E_TMP/features" \
  -P ridge.permutations=100 -P run.threads=2 >"$E2E_TMP/sweep.log" 2>&1
rc=$?
check "sweep_exit_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/sweep.log"

# a benchmark table matched exactly or by the last path component; a model without a row gets NaN
printf '\xef\xbb\xbfModel,Average,ARC\n%s\n' 'someorg/stories260K,41.5,1' 'other/stories260K,99,1' \
  'stories260K-3layers,30,1' 'stories260K-again,50,1' \
  >"$E2E_TMP/bench.csv"
"$BRAINSWEEP" analyze "$OUT" --benchmarks "$E2E_TMP/bench.csv" --bootstrap 200 --permutations 999 --seed 5 \
  >"$E2E_TMP/analyze.log" 2>&1
rc=$?
check "analyze_exit_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$E2E_TMP/analyze.log"
check "analyze_prints_summary" grep -q "brain score" "$E2E_TMP/analyze.log"
listing=$(h5ls -r "$OUT/analysis" 2>&1)
# every dataset docs/results-format.md lists under /analysis ("`/analysis/x/a`, `b`": b beside a)
documented=$(grep '^| `/analysis/' docs/results-format.md | cut -d'|' -f2 | grep -o '`[^`]*`' | tr -d '`' |
  awk '/^\// {dir = $0; sub(/\/[^\/]*$/, "", dir); print; next} {print dir "/" $0}')
check "docs_list_analysis_datasets ($(wc -l <<<"$documented"))" test "$(wc -l <<<"$documented")" -ge 30
for d in $documented; do
  check "dataset_$d" grep -q "^${d#/analysis} " <<<"$listing"
done
check "three_models_two_contexts_in_curves" grep -q '^/curves/mean  *Dataset {3, 2, 6}' <<<"$listing"

read -r b0 b1 b2 < <(values "$OUT" /analysis/models/benchmark | tr '\n' ' ')
check "benchmark_first_row_by_last_component_then_exact ($b0, $b1, $b2)" test "$b0" = 41.5 -a "$b1" = 30 -a "$b2" = 50
# across models (full context): the stored r of benchmark with brain score is the Pearson r of the stored values
read -r s0 s1 s2 < <(values "$OUT" /analysis/scores/brain_score -s 0,0 -c 3,1 | tr '\n' ' ')
rb=$(values "$OUT" /analysis/models/r -s 0,0 -c 1,1)
nb=$(values "$OUT" /analysis/models/n -s 0,0 -c 1,1)
check "across_models_brain_score_r ($rb over $nb models)" \
  awk -v r="$rb" -v n="$nb" -v a="$b0 $b1 $b2" -v b="$s0 $s1 $s2" '
  BEGIN {split(a, x, " "); split(b, y, " "); for (i = 1; i <= 3; i++) {mx += x[i] / 3; my += y[i] / 3}
         for (i = 1; i <= 3; i++) {sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ^ 2; syy += (y[i] - my) ^ 2}
         d = sxy / sqrt(sxx * syy) - r; exit !(n == 3 && d < 1e-6 && d > -1e-6)}'

# the planted hierarchy: positive and significant (electrode level, first model, full context)
r=$(values "$OUT" /analysis/hierarchy/r -s 0,0 -c 1,1)
p=$(values "$OUT" /analysis/hierarchy/p -s 0,0 -c 1,1)
check "hierarchy_planted_positive_significant (r $r, p $p)" \
  awk -v r="$r" -v p="$p" 'BEGIN {exit !(r > 0.4 && p < 0.01)}'

# peak layers against the planted ones, every responsive electrode the sweep fitted
values "$OUT" /electrodes/subject >"$E2E_TMP/subj"
values "$OUT" /electrodes/name >"$E2E_TMP/name"
values "$OUT" /analysis/electrodes/peak_layer -s 0,0,0 -c 1,1,$(wc -l <"$E2E_TMP/name") >"$E2E_TMP/peak"
paste "$E2E_TMP/subj" "$E2E_TMP/name" "$E2E_TMP/peak" | tr -d '"' >"$E2E_TMP/found"
read -r n exact near < <(awk -F'\t' 'NR == FNR {peak[$1 "/" $2] = $3; next}
  FNR > 1 && $5 == 1 && ($1 "/" $2) in peak {
    n++; d = peak[$1 "/" $2] - $6; exact += d == 0; near += d * d <= 1}
  END {print n + 0, exact + 0, near + 0}' "$E2E_TMP/found" "$SIM/groundtruth/electrodes.tsv")
check "peak_layers_planted ($exact exact, $near within one, of $n)" \
  awk -v n="$n" -v e="$exact" -v w="$near" 'BEGIN {exit !(n >= 40 && e >= 0.8 * n && w >= 0.95 * n)}'

# CKA from the cached features: each layer of a model matches itself, and the 3-layer model's first
# hidden states (the same weights) are the 5-layer model's
check "cka_computed" bash -c "h5dump -a /analysis/cka '$OUT' | grep -q 'computed from'"
diag=$(for l in 0 1 2 3 4 5; do values "$OUT" /analysis/pathways/cka -s 0,0,0,$l,$l -c 1,1,1,1,1; done | tr '\n' ' ')
check "cka_self_diagonal_1 ($diag)" awk -v d="$diag" '
  BEGIN {n = split(d, v, " "); for (i = 1; i <= n; i++) if (v[i] < 0.9999 || v[i] > 1.0001) exit 1; exit n != 6}'
best=$(values "$OUT" /analysis/pathways/cka_best -s 0,1,0,0 -c 1,1,1,3 | tr '\n' ' ')
check "cka_shared_layers_match ($best)" test "$best" = "0 1 2 "

# idempotent: a rerun replaces /analysis with the same values
cp "$OUT" "$E2E_TMP/first.h5"
"$BRAINSWEEP" analyze "$OUT" --benchmarks "$E2E_TMP/bench.csv" --bootstrap 200 --permutations 999 --seed 5 \
  >"$E2E_TMP/again.log" 2>&1
check "rerun_exit_0" test $? -eq 0
check "rerun_same_analysis" h5diff "$E2E_TMP/first.h5" "$OUT" /analysis /analysis

# the null control: permuted distances give no hierarchy
cp "$E2E_TMP/first.h5" "$E2E_TMP/shuffled.h5"
"$BRAINSWEEP" analyze "$E2E_TMP/shuffled.h5" --shuffle-distances 11 --bootstrap 0 --permutations 999 --seed 5 \
  --features "$E2E_TMP/none" >"$E2E_TMP/shuffled.log" 2>&1
check "shuffled_exit_0" test $? -eq 0
r=$(values "$E2E_TMP/shuffled.h5" /analysis/hierarchy/r -s 0,0 -c 1,1)
p=$(values "$E2E_TMP/shuffled.h5" /analysis/hierarchy/p -s 0,0 -c 1,1)
check "hierarchy_shuffled_null (r $r, p $p)" awk -v r="$r" -v p="$p" 'BEGIN {exit !(r < 0.25 && r > -0.25 && p > 0.05)}'
check "shuffled_recorded" bash -c "h5dump -a /analysis/hierarchy '$E2E_TMP/shuffled.h5' | grep -q PERMUTED"
check "cka_skipped_without_features" \
  bash -c "h5dump -a /analysis/cka '$E2E_TMP/shuffled.h5' | grep -q 'skipped: no cached features'"

# ROI fMRI results (no /electrodes, no /voxels): analysed, hierarchy skipped
FMRI=$E2E_TMP/fmri/results.h5
"$BRAINSWEEP" sweep jobs/presets/test-stories260k.yaml -P output.path="$FMRI" -P run.threads=2 >"$E2E_TMP/fmri.log" 2>&1
"$BRAINSWEEP" analyze "$FMRI" --bootstrap 100 --permutations 99 >"$E2E_TMP/fmri-analyze.log" 2>&1
check "fmri_analyze_exit_0" test $? -eq 0
check "fmri_hierarchy_skipped" bash -c "h5dump -a /analysis/hierarchy '$FMRI' | grep -q 'skipped: no distances'"
v=$(values "$FMRI" /analysis/scores/brain_score)
check "fmri_brain_score_positive ($v)" awk -v v="$v" 'BEGIN {exit !(v == v + 0 && v > 0)}'
check "fmri_region_matrix_6_regions" bash -c "h5ls '$FMRI/analysis/curves/region' | grep -q '{1, 1, 6, 6}'"

# not a results file: exit 1, one message naming it, the file untouched
cp jobs/presets/test-stories260k.yaml "$E2E_TMP/config.yaml"
"$BRAINSWEEP" analyze "$E2E_TMP/config.yaml" >"$E2E_TMP/bad.log" 2>&1
check "text_file_exit_1" test $? -eq 1
check "text_file_named" grep -q "$E2E_TMP/config.yaml: not a brainsweep results file" "$E2E_TMP/bad.log"
feat=$(ls "$E2E_TMP"/features/*.h5 | head -1)
sum=$(md5sum <"$feat")
"$BRAINSWEEP" analyze "$feat" >"$E2E_TMP/bad2.log" 2>&1
check "other_hdf5_exit_1" test $? -eq 1
check "other_hdf5_named" grep -q "$feat: not a brainsweep results file" "$E2E_TMP/bad2.log"
check "other_hdf5_unmodified" test "$(md5sum <"$feat")" = "$sum"
"$BRAINSWEEP" analyze "$OUT" --bins 1 >"$E2E_TMP/usage.log" 2>&1
check "bad_option_exit_2" test $? -eq 2
summary
