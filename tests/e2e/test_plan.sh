#!/usr/bin/env bash
# `brainsweep plan` without a cluster: a stand-in `sinfo` earlier on PATH prints what Slurm's sinfo prints for the
# format plan asks for (partition|gres|cores|memory MB|time limit|nodes, one line per node group), and refuses any
# other arguments, so a change of that format shows here. Checked: the partition read (GPUs, cores, memory, nodes;
# the default one; several node groups of one partition), the job scripts and units.tsv written for it, the printed
# estimate, and bad input (more GPUs, nodes or cores than the partition has, an unknown partition, a missing model,
# an unwritable output): exit 1, one message naming the problem, nothing written.
source "$(dirname "$0")/lib.sh"

BIN=$E2E_TMP/bin
mkdir -p "$BIN"
cat >"$BIN/sinfo" <<'SINFO'
#!/bin/sh
echo "$*" >>"$SINFO_LOG"
[ "$*" = "-h -o %P|%G|%c|%m|%l|%D" ] || { echo "sinfo stand-in: unexpected arguments: $*" >&2; exit 1; }
[ -n "$SINFO_SILENT" ] && exit 1  # installed, but no controller answers
cat <<'LINES'
cpu*|(null)|32|192000|1-00:00:00|10
gpu|gpu:a100:4(S:0-1)|64|512000|2-00:00:00|6
gpu|gpu:a100:2|32|256000|2-00:00:00|2
short|(null)|16|64000|30:00|4
LINES
SINFO
chmod +x "$BIN/sinfo"
export PATH="$BIN:$PATH" SINFO_LOG=$E2E_TMP/sinfo.args SINFO_SILENT=

# two models, two contexts; the demo's stimulus and recordings (27 subjects x 6 regions)
CONFIG=$E2E_TMP/two.yaml
{
  echo "models:"
  echo "  - {name: stories260K, path: data/models/stories260K.gguf}"
  echo "  - {name: stories260K-3layers, path: tests/fixtures/stories260K-3layers.gguf}"
  sed -n '/^stimulus:/,$p' jobs/presets/test-stories260k.yaml | sed 's/^  policy: full .*/  policy: [full, "tokens:8"]/'
} >"$CONFIG"
OUTPUT=(-P "output.path=$E2E_TMP/results/results.h5")

plan() {  # plan NAME args...: runs plan into $E2E_TMP/NAME, its output in $E2E_TMP/NAME.log; sets rc
  local name=$1
  shift
  "$BRAINSWEEP" plan "$CONFIG" "${OUTPUT[@]}" --out "$E2E_TMP/$name" "$@" >"$E2E_TMP/$name.log" 2>&1
  rc=$?
}
ran() {  # ran NAME: plan NAME exited 0 (its output shown when not)
  check "$1/exit_0" test $rc -eq 0
  [ $rc -eq 0 ] || tail -5 "$E2E_TMP/$1.log"
}
has() { grep -qF -- "$2" "$E2E_TMP/$1"; }  # has FILE TEXT

# ---- the default partition (cpu*): two CPU ranks per node, each with half the node's cores
plan cpu
ran cpu
check "cpu/asked_sinfo_for_its_format" test "$(sort -u "$SINFO_LOG")" = "-h -o %P|%G|%c|%m|%l|%D"
check "cpu/default_partition_read" has cpu.log \
  "partition cpu: 10 node(s) of 32 cores, 188 GiB, 0 GPU(s); time limit set"
check "cpu/counts_inputs" has cpu.log \
  "stimulus: 2127 words; recordings: 27 subject(s), 162 target(s); 362 samples per target"
# every hidden state of every model x context: (5 + 1 + 3 + 1) x 2
check "cpu/layer_fits_counted" has cpu.log "20 layer fits (every hidden state of every model x context)"
check "cpu/a_row_per_model" bash -c "grep -cE '^  stories260K(-3layers)? +[53] +64 ' '$E2E_TMP/cpu.log' | grep -qx 2"
check "cpu/shape_printed" has cpu.log "on 1 node(s) x 2 rank(s) x 16 thread(s) = 32 cores"
check "cpu/no_gpu_hours" bash -c "! grep -q 'GPU-hours' '$E2E_TMP/cpu.log'"
check "cpu/scripts_executable" test -x "$E2E_TMP/cpu/sweep.sh" -a -x "$E2E_TMP/cpu/array.sh" -a -d "$E2E_TMP/cpu/logs"
check "cpu/sweep_sh_shape" has cpu/sweep.sh \
  "--partition=cpu --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=16 --mem="
check "cpu/sweep_sh_runs_the_config" has cpu/sweep.sh \
  "jobs/sweep.sbatch '$CONFIG' -P 'output.path=$E2E_TMP/results/results.h5'"
# the time asked is 1.5 x the estimate + 10 minutes; the estimate of so small a sweep on 32 cores is the 60 s of
# start-up and well under 20 s of work: 690-720 s, asked as 12 minutes; memory rounds up to 1 GiB per node
check "cpu/sweep_sh_time_and_memory" has cpu/sweep.sh "--mem=1G --time=0-00:12:00 jobs/sweep.sbatch"
check "cpu/sweep_sh_is_bash" bash -n "$E2E_TMP/cpu/sweep.sh"
check "cpu/array_sh_is_bash" bash -n "$E2E_TMP/cpu/array.sh"
check "cpu/units_one_task_per_model" test "$(grep -v '^#' "$E2E_TMP/cpu/units.tsv")" = \
  "$(printf 'stories260K\t*\nstories260K-3layers\t*')"
check "cpu/array_of_2_tasks_then_merge" bash -c "grep -qF -- '--array=0-1 ' '$E2E_TMP/cpu/array.sh' && \
  grep -qF 'jobs/array.sbatch' '$E2E_TMP/cpu/array.sh' && \
  grep -qF -- '--dependency=afterok:\"\$arr\"' '$E2E_TMP/cpu/array.sh'"
check "cpu/no_gpus_asked" bash -c "! grep -q 'gpus-per-task' '$E2E_TMP/cpu/sweep.sh' '$E2E_TMP/cpu/array.sh'"
check "cpu/nothing_submitted_or_run" test ! -e "$E2E_TMP/results"

# ---- a model larger than a rank's weight budget: split by layer ranges (stories260K's 0.97 MiB of tensors over 0.0007 GiB
# takes 2 stages, the 3-layer fixture fits), or as run.pipeline_stages says
plan split -P run.max_weight_gib=0.0007
ran split
check "split/over_budget_model_split_in_2" bash -c "grep -A1 '^  stories260K ' '$E2E_TMP/split.log' | \
  grep -qF 'split over 2 ranks by layer ranges: a 0.000969 GiB checkpoint, a weight budget of 0.0007 GiB per rank'"
check "split/model_that_fits_not_split" bash -c "test \$(grep -c 'split over' '$E2E_TMP/split.log') -eq 1"
plan stages -P run.pipeline_stages=2
ran stages
check "stages/configured_split_for_both_models" bash -c \
  "test \$(grep -c 'split over 2 ranks by layer ranges.*(run.pipeline_stages)\$' '$E2E_TMP/stages.log') -eq 2"
plan many -P run.pipeline_stages=5
check "stages/more_than_the_job_ranks_said" has many.log "more than the job's ranks: ask for more ranks or nodes"

# ---- 2 nodes of the GPU partition, 4 GPUs each: its two node groups give the most GPUs, cores and memory
plan gpu --partition gpu --gpus 4 --nodes 2
ran gpu
check "gpu/partition_read_over_node_groups" has gpu.log "partition gpu: 8 node(s) of 64 cores, 500 GiB, 4 GPU(s)"
check "gpu/shape_printed" has gpu.log "on 2 node(s) x 4 rank(s) x 16 thread(s) = 128 cores"
check "gpu/gpu_hours_printed" has gpu.log "GPU-hours billed (wall time x 8 GPU(s); the figures are an H200's, \
the partition's GRES: gpu:a100:4(S:0-1))"
# the GPU cost model's arithmetic (host/plan.c, docs/slurm.md): extraction at 67 TFLOP/s x 0.5 on the GPU, the
# fits on the GPU too (their CPU work at 67 TFLOP/s x 0.25), 8 ranks at 90%, 60 s to start; the floor at 788 TFLOP/s
hours() { sed -n "s/^  $2 \{1,\}\([0-9.e+-]*\) h .*/\1/p" "$E2E_TMP/$1" | head -1; }  # hours LOG LABEL
near() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(b > 0 && a / b > 0.998 && a / b < 1.002) }'; }  # within 0.2% (4 digits printed)
TF=$(sed -n 's/^  extraction: \([0-9.e+-]*\) TFLOP.*/\1/p' "$E2E_TMP/gpu.log")
check "gpu/extraction_on_the_gpu_at_the_float32_rate" near "$(hours gpu.log extraction)" \
  "$(awk -v t="$TF" 'BEGIN { print t * 1e12 / (67e12 * 0.5) / 3600 }')"
check "gpu/extraction_labelled_gpu_hours" has gpu.log "GPU-hours: float32 products (run.gpu_weights) at 67 TFLOP/s x 0.50"
check "gpu/fits_labelled_gpu_hours" has gpu.log "GPU-hours: the CPU's fit work"
check "gpu/wall_time_gpu_extraction_and_gpu_fits" near "$(hours gpu.log 'wall time')" \
  "$(awk -v x="$(hours gpu.log extraction)" -v f="$(hours gpu.log fits)" 'BEGIN { print (x + f) / (8 * 0.9) + 60 / 3600 }')"
check "gpu/billed_is_wall_time_x_gpus" near "$(hours gpu.log GPU)" "$(awk -v w="$(hours gpu.log 'wall time')" 'BEGIN { print w * 8 }')"
check "gpu/floor_at_the_bf16_rate" near "$(hours gpu.log 'GPU floor')" \
  "$(awk -v t="$TF" 'BEGIN { print t / 788 / 3600 }')"
check "gpu/goal_between_floor_and_float32" awk -v g="$(hours gpu.log 'GPU goal')" -v f="$(hours gpu.log 'GPU floor')" \
  -v x="$(hours gpu.log extraction)" 'BEGIN { exit !(g > f && g > x / 11.8 * 0.99) }'

# run.gpu_weights: bf16 on the same job (the models are stored float32: auto keeps them there): the extraction at the
# bf16 rate, equal to the goal line's, and labelled so
plan gpu16 --partition gpu --gpus 4 --nodes 2 -P run.gpu_weights=bf16
ran gpu16
check "gpu16/extraction_at_the_bf16_rate" near "$(hours gpu16.log extraction)" \
  "$(awk -v t="$TF" 'BEGIN { print t * 1e12 / (788e12 * 0.5) / 3600 }')"
check "gpu16/extraction_labelled_16_bit" has gpu16.log \
  "GPU-hours: 16-bit products (run.gpu_weights) at 788 TFLOP/s x 0.50 for 2 of 2 model(s), float32 at 67 x 0.50 for the rest"
check "gpu16/goal_is_its_extraction_plus_fits" near "$(hours gpu16.log 'GPU goal')" \
  "$(awk -v x="$(hours gpu16.log extraction)" -v f="$(hours gpu16.log fits)" 'BEGIN { print x + f }')"

# run.device: cpu on GPU nodes: the GPUs wait, and the plan says so instead of a GPU estimate
plan gpu_cpu --partition gpu --gpus 4 -P run.device=cpu
ran gpu_cpu
check "gpu_cpu/gpus_wait" has gpu_cpu.log "GPU-hours billed: run.device is cpu, so the GPUs wait"
check "gpu_cpu/no_gpu_estimate" bash -c "! grep -qE 'GPU goal|GPU-hours: (float32|16-bit)' '$E2E_TMP/gpu_cpu.log'"
check "gpu_cpu/extraction_in_core_hours" grep -qE "^  extraction +[0-9.e+-]+ h +core-hours$" "$E2E_TMP/gpu_cpu.log"
check "gpu/sweep_sh_shape" has gpu/sweep.sh \
  "--partition=gpu --nodes=2 --ntasks=8 --ntasks-per-node=4 --cpus-per-task=16 --gpus-per-task=1 --gpu-bind=single:1"
check "gpu/array_task_one_gpu" bash -c "grep -F -- '--array=0-1 ' '$E2E_TMP/gpu/array.sh' | \
  grep -qF -- '--nodes=1 --ntasks=1 --ntasks-per-node=1 --cpus-per-task=16 --gpus-per-task=1'"

# ---- one array task per model x context; a partition whose time limit caps every job's
plan short --partition short --per-context
ran short
check "short/units_one_task_per_model_and_context" test "$(grep -v '^#' "$E2E_TMP/short/units.tsv")" = \
  "$(printf 'stories260K\tfull\nstories260K\ttokens:8\nstories260K-3layers\tfull\nstories260K-3layers\ttokens:8')"
check "short/array_of_4_tasks" has short/array.sh "--array=0-3 "
# the prepare and merge jobs too: a job asking more than the limit would pend forever
check "short/every_job_within_the_30_minute_limit" bash -c "grep -ohE -- '--time=[0-9]+-[0-9]{2}:[0-9]{2}:00' \
  '$E2E_TMP/short/sweep.sh' '$E2E_TMP/short/array.sh' | awk -F'[=:-]' '{m = \$4 * 1440 + \$5 * 60 + \$6; \
  n++; if (m < 1 || m > 30) bad = 1} END {exit bad || n != 4}'"

# ---- sinfo installed but no controller answering: the plan goes on without checking the partition
SINFO_SILENT=1 plan silent --partition gpu
ran silent
check "no_controller/says_partition_not_checked" has silent.log "no answer from sinfo: partition gpu not checked"
check "no_controller/still_names_the_partition" has silent/sweep.sh "--partition=gpu "

# ---- bad input: exit 1, exactly one message, no --out folder and no output folder
bad() {  # bad NAME TEXT args...
  local name=$1 text=$2
  shift 2
  plan "bad-$name" "$@"
  check "refuses_$name" bash -c "[ $rc -eq 1 ] && grep -qF -- \"\$1\" '$E2E_TMP/bad-$name.log' && \
    [ \$(grep -c ERROR '$E2E_TMP/bad-$name.log') -eq 1 ] && [ ! -e '$E2E_TMP/bad-$name' ] && \
    [ ! -e '$E2E_TMP/results' ]" _ "$text"
}
bad more_gpus_than_the_partition \
  "partition gpu has 4 GPU(s) per node (sinfo gres: gpu:a100:4(S:0-1)), but the plan asks for 8 per node" \
  --partition gpu --gpus 8
bad gpus_on_a_cpu_partition "partition cpu has 0 GPU(s) per node (sinfo gres: (null)), but the plan asks for 1" --gpus 1
bad more_nodes_than_the_partition "partition short has 4 node(s), but the plan asks for 5" --partition short --nodes 5
bad more_cores_than_the_partition "partition gpu has 64 cores per node, but the plan asks for 128" \
  --partition gpu --gpus 2 --cpus 128
bad unknown_partition "no partition nope in this cluster (sinfo lists: cpu, gpu, short)" --partition nope
sed "s|tests/fixtures/stories260K-3layers.gguf|$E2E_TMP/missing.gguf|" "$CONFIG" >"$E2E_TMP/missing.yaml"
CONFIG=$E2E_TMP/missing.yaml bad missing_model "$E2E_TMP/missing.gguf: cannot open"
OUTPUT=(-P "output.path=$CONFIG/results.h5")
bad output_under_a_file "output.path $CONFIG/results.h5: '$CONFIG' is not a folder"
OUTPUT=(-P "output.path=$E2E_TMP/results/results.h5")
bad out_under_a_file "--out $CONFIG/x/y: '$CONFIG' is not a folder" --out "$CONFIG/x/y"
summary
