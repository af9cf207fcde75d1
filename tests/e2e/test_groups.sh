#!/usr/bin/env bash
# Subjects as a unit axis (run.group_gib): the demo sweep in groups of one subject and of four (the last of three), on
# one rank and on two, gives the results of one group (q-values, a step-up over every target of a layer, within float
# rounding); the store keeps a record per (layer, group); --only-subject runs only its group's units and a plain
# run completes the rest; a bids_fmri sweep in groups, each group's runs read only by the ranks that fit it, gives
# the maps of one group.
source "$(dirname "$0")/lib.sh"
CONFIG=jobs/presets/test-stories260k.yaml
ARGS=(-P run.threads=1 -P ridge.permutations=50 -P "context.policy=[full]")
run() {  # run NAME [mpirun -n N] -- [sweep options]: the demo sweep into $E2E_TMP/NAME
  local name=$1; shift
  local launch=()
  while [ "$1" != "--" ]; do launch+=("$1"); shift; done
  shift
  "${launch[@]}" "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/$name/results.h5" "${ARGS[@]}" "$@" \
    >"$E2E_TMP/$name.log" 2>&1
}
same() {  # same A B: A's results equal B's up to float rounding (the groups' products have other shapes, so
  # OpenBLAS may sum in another order: measured 5e-8) and the choices they make (alpha, p, best layer) but for near-ties
  local a=$E2E_TMP/$1/results.h5 b=$E2E_TMP/$2/results.h5 d n
  for d in /scores/r /scores/r2 /scores/q /summary/layer_region; do
    h5diff -d 1e-5 "$a" "$b" $d $d >/dev/null || { echo "  differs: $d"; return 1; }
  done
  for d in /scores/alpha /scores/p /summary/best_layer; do
    n=$(h5diff "$a" "$b" $d $d | sed -n 's/^\([0-9]*\) differences found$/\1/p')
    [ "${n:-0}" -le 3 ] || { echo "  $n differences in $d"; return 1; }
  done
  h5diff "$a" "$b" /units/status /units/status >/dev/null || { echo "  differs: /units/status"; return 1; }
}

run one -- -P run.group_gib=0
check "one_group_exits_0" test $? -eq 0
check "one_group_says_nothing_of_groups" bash -c "! grep -q 'group(s) of up to' '$E2E_TMP/one.log'"
V=$(sed -n 's/.*27 subject(s) x \([0-9]*\) sample(s).*/\1/p' "$E2E_TMP/one.log")
check "samples_from_the_log ($V)" test "${V:-0}" -gt 0

run singles -- -P run.group_gib=1e-12 -P run.layer_block=3 -P run.log_dir="$E2E_TMP/singles-logs"
check "groups_of_one_exit_0" test $? -eq 0
check "groups_of_one_logged" grep -q "subjects: 27 group(s) of up to 1 subject(s)" "$E2E_TMP/singles.log"
check "groups_of_one_equal_one_group" same one singles
# the groups share each layer's design through the store: on one rank the first group makes the 6 layers' designs
# and the 26 others read them
reads=$(cat "$E2E_TMP"/singles-logs/rank-*.log | grep -cE "its design( and split designs)? read from the store")
check "groups_of_one_read_26_x_6_designs ($reads)" test "$reads" -eq 156
# and, the first group's fit of each layer done before the next group starts it on one rank, its split designs
splits=$(cat "$E2E_TMP"/singles-logs/rank-*.log | grep -c "its design and split designs read from the store")
check "groups_of_one_take_26_x_6_split_designs ($splits)" test "$splits" -eq 156

# four subjects' targets and a little: groups of 4, the seventh of 3
gib=$(awk -v v="${V:-1}" 'BEGIN {printf "%.12g", 4.5 * v * 6 * 4 / 1073741824}')
run fours mpirun -n 2 -- -P run.group_gib="$gib"
check "groups_of_four_on_two_ranks_exit_0" test $? -eq 0
check "groups_of_four_logged" grep -q "subjects: 7 group(s) of up to 4 subject(s)" "$E2E_TMP/fours.log"
check "groups_of_four_on_two_ranks_equal_one_group" same one fours

# a share of the sweep: only the group of s26 (the fifth subject: group 1 holds the fifth to the eighth), kept in the store; then the rest
STORE=$E2E_TMP/share/results.h5.units/layers
run share -- -P run.group_gib="$gib" --only-subject s26 --no-results
check "only_subject_exits_0" test $? -eq 0
check "only_subject_names_its_group" grep -q "its subject group 1 holds subjects" "$E2E_TMP/share.log"
check "only_subject_records_of_its_group_only" test "$(ls "$STORE" | grep -c '\.layer$')" -eq "$(ls "$STORE" | grep -c -- '-s4\.layer$')"
check "only_subject_a_record_per_layer" test "$(ls "$STORE" | grep -c -- '-s4\.layer$')" -eq 6
check "only_subject_no_results" test ! -e "$E2E_TMP/share/results.h5"
check "only_subject_keeps_the_designs_for_the_other_groups" \
  test "$(ls "$E2E_TMP/share/results.h5.units/designs" | grep -c '^m0-c0-h[0-5]\.design$')" -eq 6
check "only_subject_keeps_the_split_designs_for_the_other_groups" \
  test "$(ls "$E2E_TMP/share/results.h5.units/designs" | grep -c '^m0-c0-h[0-5]\.splits$')" -eq 6
run share -- -P run.group_gib="$gib" -P run.log_dir="$E2E_TMP/share-logs"
check "plain_run_after_the_share_exits_0" test $? -eq 0
check "plain_run_found_the_share" grep -q "fit: 6 of 42 layer fits already in" "$E2E_TMP/share.log"
reads=$(cat "$E2E_TMP"/share-logs/rank-*.log | grep -cE "its design( and split designs)? read from the store")
check "plain_run_read_the_shares_designs ($reads)" test "$reads" -eq 36
splits=$(cat "$E2E_TMP"/share-logs/rank-*.log | grep -c "its design and split designs read from the store")
check "plain_run_took_the_shares_split_designs ($splits)" test "$splits" -eq 36
check "share_then_plain_equals_one_group" same one share

"$BRAINSWEEP" plan "$CONFIG" -P run.group_gib=1e-12 --out "$E2E_TMP/plan" >"$E2E_TMP/plan.log" 2>&1
check "plan_counts_the_groups" grep -q "subjects: 27 group(s) of up to 1 (run.group_gib 1e-12)" "$E2E_TMP/plan.log"
check "plan_sizes_the_shared_designs" grep -qE "layer designs +[0-9.]+ MiB" "$E2E_TMP/plan.log"

run badsub -- --only-subject sub-99
check "unknown_subject_exits_1" test $? -eq 1
check "unknown_subject_named" grep -q "only-subject sub-99: no subject of that name among the sweep's 27" "$E2E_TMP/badsub.log"

# bids_fmri: a small simulated dataset in groups of one subject on two ranks, against one group
FMRI=$E2E_TMP/fmri
"$BRAINSWEEP" simulate --fmri "$FMRI" --subjects 3 >"$E2E_TMP/sim.log" 2>&1
check "fmri_simulated" test $? -eq 0
cat >"$E2E_TMP/fmri.yaml" <<YAML
models:
  - name: stories260K
    path: data/models/stories260K.gguf
stimulus:
  file: $FMRI/stimuli/words.tsv
recordings:
  format: bids_fmri
fmri:
  bids: $FMRI
  task: alice
ridge:
  alpha_count: 9
design:
  pca_components: 16
YAML
fsweep() {  # fsweep NAME [launch] -- [options]
  local name=$1; shift
  local launch=()
  while [ "$1" != "--" ]; do launch+=("$1"); shift; done
  shift
  "${launch[@]}" "$BRAINSWEEP" sweep "$E2E_TMP/fmri.yaml" -P output.path="$E2E_TMP/$name/results.h5" -P run.threads=1 "$@" \
    >"$E2E_TMP/$name.log" 2>&1
}
fsweep fone -- -P run.group_gib=0
check "fmri_one_group_exits_0" test $? -eq 0
fsweep fsingles mpirun -n 2 -- -P run.group_gib=1e-12 -P run.log_dir="$E2E_TMP/fsingles-logs"
check "fmri_groups_of_one_exit_0" test $? -eq 0
check "fmri_groups_logged" grep -q "subjects: 3 group(s) of up to 1 subject(s)" "$E2E_TMP/fsingles.log"
check "fmri_groups_equal_one_group" same fone fsingles
check "fmri_groups_same_voxels" h5diff "$E2E_TMP/fone/results.h5" "$E2E_TMP/fsingles/results.h5" /voxels/ijk /voxels/ijk
# 3 groups x 6 layers need a design (PCA to 16 per outer fold): each layer's is made once, or twice when both
# ranks start it at the same moment, and read by the rest
reads=$(cat "$E2E_TMP"/fsingles-logs/rank-*.log | grep -cE "its design( and split designs)? read from the store")
check "fmri_groups_share_the_layers_designs ($reads of 18 read)" test "$reads" -ge 6 -a "$reads" -le 12
# each group's runs read once for the inputs' checks (by one rank), then by the ranks that fit it (the rank logs say)
LOGS=$E2E_TMP/fsingles-logs
for g in 0 1 2; do
  check "fmri_group_${g}_checked_once" test "$(cat "$LOGS"/rank-*.log | grep -c "subject group $g (.*): targets prepared for the inputs' checks")" -eq 1
done
# rank 0 checks groups 2 then 0 and keeps 0, rank 1 keeps 1; the fits' hand-out keeps each rank on the group it
# holds, so group 2, which no rank holds, is read again by the first rank done with its own, and the other rank
# reads a group again only to join one still held when nothing else is left (without affinity: up to 3 groups x
# 2 ranks). Which group that is depends on timing: the ranks that read the designs of another group fit faster.
fits=$(cat "$LOGS"/rank-*.log | grep -c "targets prepared for its fits")
check "fmri_groups_read_again_only_where_no_rank_held_them ($fits)" test "$fits" -ge 1 -a "$fits" -le 2
check "fmri_group_2_read_by_a_rank_that_fits_it" grep -q "subject group 2 .*targets prepared for its fits" "$LOGS"/rank-*.log
check "fmri_rank_0_checks_its_first_group_last" bash -c "grep \"inputs' checks\" '$LOGS/rank-000.log' | tail -1 | grep -q 'subject group 0 '"
check "fmri_rank_1_checked_group_1" grep -q "subject group 1 (sub-02 to sub-02): targets prepared for the inputs' checks" "$LOGS/rank-001.log"
summary
