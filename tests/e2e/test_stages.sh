#!/usr/bin/env bash
# A model split by layer ranges over ranks (run.pipeline_stages, or a run.max_weight_gib its checkpoint does not
# fit): each stage runs its share of the layers and passes the residual stream to the next over MPI, and the
# features come out bit for bit what the unsplit run of the same sequences gives (the same batches through the same
# kernels in the same order). Checked with 2 and 3 stages, stages chosen from the weight budget, an idle rank beside
# a 3-stage group, and stages x parts of the sequences; the results agree within what the fits' spread over ranks
# may change.
source "$(dirname "$0")/lib.sh"
CONFIG=jobs/presets/test-stories260k.yaml
if ! command -v mpirun >/dev/null; then
  skip_unless_ci "stages" "mpirun not installed"
  summary
  exit
fi
sweep() {  # sweep NAME RANKS args...: the test sweep on RANKS ranks, its features cache in $E2E_TMP/NAME.cache
  local name=$1 ranks=$2; shift 2
  mpirun -n "$ranks" "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$E2E_TMP/$name.h5" \
    -P features.cache_dir="$E2E_TMP/$name.cache" -P run.threads=1 "$@" >"$E2E_TMP/$name.log" 2>&1
  rc=$?
}
same_features() {  # same_features A B: the two runs' features files hold the same values, bit for bit
  local a=("$E2E_TMP/$1.cache"/*.h5) b=("$E2E_TMP/$2.cache"/*.h5)
  [ ${#a[@]} -eq 1 ] && [ ${#b[@]} -eq 1 ] && h5diff "${a[0]}" "${b[0]}" /features /features
}
close_results() { h5diff -d 1e-6 "$E2E_TMP/$1.h5" "$E2E_TMP/$2.h5" /scores/r /scores/r; }
# stories260K holds 0.97 MiB of tensors: a budget of 0.0007 GiB (734 KiB) takes 2 stages, 0.0004 GiB 3
sweep whole 1
check "unsplit_run_exits_0" test $rc -eq 0
[ $rc -eq 0 ] || tail -5 "$E2E_TMP/whole.log"

sweep two 2 -P run.pipeline_stages=2
check "2_stages_exit_0" test $rc -eq 0
check "2_stages_logged" grep -q "sequence(s) on 2 rank(s) (2 stages by layer ranges x 1 part(s); activations by MPI, in place in host memory)" "$E2E_TMP/two.log"
check "2_stages_features_equal_unsplit_bit_for_bit" same_features whole two
check "2_stages_results_equal_unsplit" close_results whole two

sweep three 3 -P run.pipeline_stages=3
check "3_stages_exit_0" test $rc -eq 0
check "3_stages_logged" grep -q "(3 stages by layer ranges x 1 part(s);" "$E2E_TMP/three.log"
check "3_stages_features_equal_unsplit_bit_for_bit" same_features whole three
check "3_stages_results_equal_unsplit" close_results whole three

sweep budget 2 -P run.max_weight_gib=0.0007
check "over_budget_model_runs_split_in_2" grep -q "(2 stages by layer ranges x 1 part(s);" "$E2E_TMP/budget.log"
check "over_budget_split_features_equal_unsplit" same_features whole budget

# 4 ranks, 3 stages: one part, the fourth rank idle for the unit
sweep idle 4 -P run.max_weight_gib=0.0004
check "budget_of_3_stages_on_4_ranks_exits_0" test $rc -eq 0
check "budget_of_3_stages_on_4_ranks_logged" grep -q "on 3 rank(s) (3 stages by layer ranges x 1 part(s);" "$E2E_TMP/idle.log"
check "budget_of_3_stages_on_4_ranks_features_equal_unsplit" same_features whole idle

# stages x parts: 4 ranks as 2 stages of 2 parts, against 2 unsplit parts on 2 ranks (the same batches)
sweep parts 2
sweep grid 4 -P run.pipeline_stages=2
check "2_stages_x_2_parts_logged" grep -q "(2 stages by layer ranges x 2 part(s);" "$E2E_TMP/grid.log"
check "2_stages_x_2_parts_features_equal_2_parts_bit_for_bit" same_features parts grid

# more stages wanted than the group has ranks: it runs on what there is, and says so
sweep short 2 -P run.max_weight_gib=0.0004
check "too_few_ranks_runs" test $rc -eq 0
check "too_few_ranks_warns" grep -q "wants 3 stages to fit run.max_weight_gib on each rank, but the group has 2 rank(s)" \
  "$E2E_TMP/short.log"
check "too_few_ranks_features_equal_unsplit" same_features whole short
summary
