#!/usr/bin/env bash
# The Slurm jobs on a real Slurm: a one-node cluster (munged, slurmctld and slurmd on localhost, a generated
# slurm.conf with MpiDefault=pmix in a temporary folder, nothing outside it) runs the small iEEG preset through the
# project's own job scripts: as a 2-task MPI job (jobs/sweep.sbatch), and as a job array with its prepare and merge
# jobs (the scripts `brainsweep plan` writes for jobs/array.sbatch and jobs/merge.sbatch), which must give the same
# results. The GPU job shape `plan --gpus 2` writes (one rank per GPU) runs on two GPUs of a GRES over stand-in
# device files: Slurm schedules it and gives each rank its own GPU, each rank finds no CUDA device and says so, and
# the results equal the CPU job's. A longer job is cancelled mid-run and submitted again, and another is sent the
# time-limit warning (USR1): each resumes from its unit store and equals the uninterrupted run. `plan` refuses bad input before anything is
# written. The cluster is shut down whatever happens. It needs no cgroup filesystem (a cgroup.conf points Slurm's
# cgroup plugin at an empty folder; nothing uses it), so it runs in containers too. Skipped where Slurm or munge is
# not installed or without root (slurmd must launch jobs); under CI (.ci/run installs them) those are failures.
source "$(dirname "$0")/lib.sh"
missing=""
for c in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo scancel h5diff; do
  command -v "$c" >/dev/null || missing="$missing $c"
done
if [ -n "$missing" ]; then
  skip_unless_ci "all" \
    "not installed:$missing (Debian: apt-get install --no-install-recommends slurm-wlm munge hdf5-tools)"
  summary
  exit
fi
if [ "$(id -u)" -ne 0 ]; then
  skip_unless_ci "all" "needs root: slurmd launches the jobs"
  summary
  exit
fi

B=$E2E_TMP/slurm
T0=$SECONDS
export SLURM_CONF=$B/etc/slurm.conf
BRAINSWEEP=$(cd "$(dirname "$BRAINSWEEP")" && pwd)/$(basename "$BRAINSWEEP")  # the jobs' view of it
export BRAINSWEEP

stop_cluster() {  # once; the client commands would wait for a controller that is gone
  [ -f "$SLURM_CONF" ] && [ -z "${STOPPED:-}" ] || return 0
  STOPPED=1
  timeout 10 scancel --quiet --user=root 2>/dev/null
  timeout 10 scontrol shutdown >/dev/null 2>&1
  munged -s --socket="$B/munge/run/munge.socket.2" >/dev/null 2>&1
  local f pid _
  for f in "$B/run/slurmd.pid" "$B/run/slurmctld.pid" "$B/munge/run/munged.pid"; do
    pid=$(cat "$f" 2>/dev/null) || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
  done
  return 0
}
trap 'stop_cluster; rm -rf "$E2E_TMP"' EXIT

# ---- the cluster (../shared/notes/hpc-stack.md, section 5): munge on its own socket, then the config and daemons
start_cluster() {
  chmod 711 "$E2E_TMP"  # munged wants every folder above its socket searchable by all
  mkdir -p "$B"/munge/{etc,run,log,lib} "$B"/etc "$B"/state/{ctld,d} "$B"/run "$B"/log "$B"/jobs
  chmod 700 "$B/munge/etc" "$B/munge/lib"
  chmod 755 "$B/munge/run"
  mungekey --create --keyfile="$B/munge/etc/munge.key" || return 1
  munged --key-file="$B/munge/etc/munge.key" --socket="$B/munge/run/munge.socket.2" \
    --pid-file="$B/munge/run/munged.pid" --log-file="$B/munge/log/munged.log" \
    --seed-file="$B/munge/lib/munged.seed" || return 1
  local host mem sock cores threads port
  host=$(hostname -s)
  mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  # the node's shape as slurmd sees it (not nproc, which follows OMP_NUM_THREADS, set to 1 by CI's second pass:
  # slurmctld then refuses a node whose CPUs disagree with its cores)
  read -r NODE_CPUS sock cores threads < <(slurmd -C | awk '{for (i = 1; i <= NF; i++) {split($i, a, "="); v[a[1]] = a[2]}}
    END {print v["CPUs"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"]}' | head -1)
  port=$((20000 + RANDOM % 20000))  # ports of their own: another Slurm may run here
  cat >"$SLURM_CONF" <<CONF
ClusterName=brainsweeptest
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$B/munge/run/munge.socket.2,cred_expire=5
StateSaveLocation=$B/state/ctld
SlurmdSpoolDir=$B/state/d
SlurmctldPidFile=$B/run/slurmctld.pid
SlurmdPidFile=$B/run/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
MinJobAge=600
ReturnToService=2
MailProg=/bin/true
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$NODE_CPUS Sockets=$sock CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem Gres=gpu:2
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  # slurmd initialises a cgroup plugin even with proctrack/linuxproc and task/none, and the default one refuses to
  # start without /sys/fs/cgroup (bare containers); cgroup/v1 on a folder of its own, never mounted, starts with or
  # without it (checked with Slurm 22.05)
  mkdir -p "$B/cgroup"
  # two GPUs for the GPU job shape, on stand-in device files: links to /dev/null (slurmd wants a character or block
  # device; nothing opens them, no cgroup constrains them), so slurmctld accepts and schedules --gpus-per-task and
  # slurmd sets each task's CUDA_VISIBLE_DEVICES
  mkdir -p "$B/dev"
  ln -s /dev/null "$B/dev/nvidia0" && ln -s /dev/null "$B/dev/nvidia1" || return 1
  printf 'AutoDetect=off\nName=gpu File=%s/dev/nvidia[0-1]\n' "$B" >"$B/etc/gres.conf"
  printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=%s\nCgroupAutomount=no\n' "$B/cgroup" >"$B/etc/cgroup.conf"
  slurmctld -f "$SLURM_CONF" || return 1
  slurmd -f "$SLURM_CONF" || return 1
  local until=$((SECONDS + 60))
  while [ $SECONDS -lt $until ]; do
    # a controller that died at start (its log says why) would leave each sinfo waiting on it for a minute
    if [ -s "$B/run/slurmctld.pid" ] && ! kill -0 "$(cat "$B/run/slurmctld.pid")" 2>/dev/null; then
      echo "slurmctld stopped; its log ends:"; tail -3 "$B/log/slurmctld.log"; return 1
    fi
    [ "$(timeout 10 sinfo -h -N -o %T 2>/dev/null)" = idle ] && return 0
    sleep 0.2
  done
  return 1
}

finished() {  # finished JOBID: no longer in the queue (an array: none of its tasks)
  [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]
}
wait_job() {  # wait_job JOBID [SECONDS]: until it leaves the queue
  local _
  for _ in $(seq 1 $((${2:-120} * 5))); do
    finished "$1" && return 0
    sleep 0.2
  done
  return 1
}
state_of() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }
exit_of() { scontrol show job "$1" 2>/dev/null | grep -o ' ExitCode=[0-9:]*' | head -1 | cut -d= -f2; }
completed() {  # completed JOBID...: every job (and array task) COMPLETED with exit 0
  local j s
  for j in "$@"; do
    for s in $(scontrol show job "$j" 2>/dev/null | grep -o 'JobState=[A-Z_]*\| ExitCode=[0-9:]*' | tr -d ' '); do
      case "$s" in JobState=COMPLETED | ExitCode=0:0) ;; *) echo "job $j: $s" >&2; return 1 ;; esac
    done
  done
}
layers_in() { find "$1.units/layers" -name '*.layer' 2>/dev/null | wc -l; }
features_in() { find "$1.units/features" -type f ! -name '*.partial' 2>/dev/null | wc -l; }
same_scores() {  # same_scores A B: the per-fit datasets of two results files
  local d
  for d in /scores/r /scores/r2 /scores/alpha /summary/layer_region /units/status; do
    h5diff -d 1e-6 "$1" "$2" $d $d >/dev/null || return 1
  done
}
show_log() { local f; for f in "$@"; do echo "---- $f"; tail -15 "$f"; done; }
check_log() {  # check_log "LOG..." NAME command...: check, and show the logs when it fails
  local logs=$1 before=$E2E_FAILED
  shift
  check "$@"
  # shellcheck disable=SC2086  # the logs, one word each
  [ "$E2E_FAILED" -eq "$before" ] || show_log $logs
}

if ! start_cluster; then
  check "cluster_starts" false
  tail -5 "$B/log/slurmctld.log" "$B/log/slurmd.log" "$B/munge/log/munged.log" 2>/dev/null
  summary
  exit
fi
check "cluster_starts_node_idle ($((SECONDS - T0)) s)" true
check "srun_has_pmix" bash -c "srun --mpi=list 2>&1 | grep -q pmix"

# ---- the small preset's data, and its paths moved into the temporary folder
SIM=$E2E_TMP/sim
"$BRAINSWEEP" simulate "$SIM" --subjects sub-01,sub-08 --seconds 300 --electrodes 24 >"$E2E_TMP/sim.log" 2>&1
check "simulated_podcast_dataset" test -s "$SIM/stimuli/words.tsv"
PRESET=jobs/presets/small-ieeg.yaml
DATA=(-P "stimulus.file=$SIM/stimuli/words.tsv" -P "ieeg.bids=$SIM")
OUT=$E2E_TMP/out

# ---- one MPI job of 2 tasks through jobs/sweep.sbatch
t=$SECONDS
jid=$(sbatch --parsable --output="$B/jobs/mpi.out" -n 2 jobs/sweep.sbatch "$PRESET" "${DATA[@]}" \
  -P "output.path=$OUT/mpi/results.h5")
wait_job "$jid" 120
check_log "$B/jobs/mpi.out" "mpi_job_completes ($((SECONDS - t)) s)" completed "$jid"
check "mpi_job_ran_2_ranks_through_srun" grep -q "2 rank(s)" "$B/jobs/mpi.out"
check "mpi_job_wrote_results" bash -c "h5ls '$OUT/mpi/results.h5/scores/r' | grep -q '{2, 2, 6, 1, '"
check "mpi_job_removed_unit_store" test ! -e "$OUT/mpi/results.h5.units"

# ---- plan: the scripts for this partition, and bad input refused before anything is written
"$BRAINSWEEP" plan "$PRESET" "${DATA[@]}" -P "output.path=$OUT/array/results.h5" --out "$B/plan" \
  >"$E2E_TMP/plan.log" 2>&1
check "plan_exit_0" test $? -eq 0
check "plan_read_the_partition" grep -q "partition debug: 1 node(s) of $NODE_CPUS cores" "$E2E_TMP/plan.log"
check "plan_prints_the_estimate" grep -qE "wall time .* h .* on 1 node" "$E2E_TMP/plan.log"
check "plan_wrote_scripts" test -x "$B/plan/sweep.sh" -a -x "$B/plan/array.sh" -a -s "$B/plan/units.tsv"
bad_plan() {  # bad_plan NAME PATTERN CONFIG args...: exit 1, one message, no folder written
  local name=$1 pattern=$2 config=$3
  shift 3
  "$BRAINSWEEP" plan "$config" "${DATA[@]}" --out "$E2E_TMP/bad-$name" "$@" >"$E2E_TMP/bad-$name.log" 2>&1
  local rc=$?
  check_log "$E2E_TMP/bad-$name.log" "plan_refuses_${name}" bash -c "[ $rc -eq 1 ] && \
    grep -q '$pattern' '$E2E_TMP/bad-$name.log' && [ \$(grep -c ERROR '$E2E_TMP/bad-$name.log') -eq 1 ] && \
    [ ! -e '$E2E_TMP/bad-$name' ]"
}
sed "s|tests/fixtures/stories260K-3layers.gguf|$E2E_TMP/missing.gguf|" "$PRESET" >"$E2E_TMP/missing-model.yaml"
bad_plan more_gpus_than_the_partition "partition debug has 2 GPU(s) per node.*asks for 3" "$PRESET" --gpus 3
bad_plan unknown_partition "no partition gpu in this cluster" "$PRESET" --partition gpu
bad_plan missing_model "$E2E_TMP/missing.gguf: cannot open" "$E2E_TMP/missing-model.yaml"
bad_plan unwritable_output "output.path $E2E_TMP/sim.log/results.h5: .* is not a folder" "$PRESET" \
  -P "output.path=$E2E_TMP/sim.log/results.h5"

# ---- the GPU job shape: plan --gpus 2 writes one rank per GPU; slurmctld schedules it on the node's two stand-in
# GPUs, one per task, and each task gets its own CUDA_VISIBLE_DEVICES; no CUDA device answers behind them, so each
# rank says so and computes on the CPU: the results equal the CPU job's
"$BRAINSWEEP" plan "$PRESET" "${DATA[@]}" -P "output.path=$OUT/gpu/results.h5" --gpus 2 --out "$B/plan-gpu" \
  >"$E2E_TMP/plan-gpu.log" 2>&1
check "gpu_plan_exit_0" test $? -eq 0
check "gpu_plan_read_the_gres" grep -q "partition debug: 1 node(s) of $NODE_CPUS cores, .* 2 GPU(s)" \
  "$E2E_TMP/plan-gpu.log"
check "gpu_plan_one_rank_per_gpu" grep -qF -- "--ntasks=2 --ntasks-per-node=2 --cpus-per-task=$((NODE_CPUS / 2 > 0 ? \
NODE_CPUS / 2 : 1)) --gpus-per-task=1 --gpu-bind=single:1" "$B/plan-gpu/sweep.sh"
t=$SECONDS
bash "$B/plan-gpu/sweep.sh" >"$E2E_TMP/gpu-submit.log" 2>&1
jid=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' "$E2E_TMP/gpu-submit.log")
check_log "$E2E_TMP/gpu-submit.log" "gpu_job_accepted" test -n "$jid"
wait_job "${jid:-0}" 120
check_log "$B/plan-gpu/logs/*" "gpu_job_completes ($((SECONDS - t)) s)" completed "${jid:-0}"
check "gpu_job_allocated_2_gpus" bash -c "scontrol show job -d '${jid:-0}' | grep -qE 'JOB_GRES=gpu(:[a-z0-9]+)?:2'"
gpu_visible=$(cat "$B"/plan-gpu/logs/*.out 2>/dev/null | grep -o 'CUDA_VISIBLE_DEVICES=[0-9,]* for local rank [0-9]*' | sort -u)
check "gpu_job_one_gpu_per_rank ($(echo $gpu_visible | tr -s ' ' ' '))" test "$(echo "$gpu_visible" | \
  sed 's/ for.*//' | sort -u | wc -l)" -eq 2 -a "$(echo "$gpu_visible" | grep -c 'DEVICES=[0-9]* ')" -eq 2
check "gpu_job_equals_mpi_job" same_scores "$OUT/mpi/results.h5" "$OUT/gpu/results.h5"

# ---- the same sweep as a job array (one task per model) after a prepare job, then the merge job
t=$SECONDS
bash "$B/plan/array.sh" >"$E2E_TMP/array.log" 2>&1
read -r prep arr merge < <(sed -nE 's/^submitted: prepare ([0-9]+), array ([0-9]+) .*, merge ([0-9]+)$/\1 \2 \3/p' \
  "$E2E_TMP/array.log")
check_log "$E2E_TMP/array.log" "array_submitted_with_dependencies" test -n "$merge"
wait_job "${merge:-0}" 120
check_log "$B/plan/logs/*" "prepare_array_merge_complete ($((SECONDS - t)) s)" \
  completed "${prep:-0}" "${arr:-0}" "${merge:-0}"
check "array_tasks_kept_units_no_results" bash -c "[ \$(grep -l 'no results file (--no-results): [0-9]* of this run' \
  '$B'/plan/logs/brainsweep-share-*.out | wc -l) -eq 2 ]"
check "merge_found_every_unit_done" grep -q "fit: 20 of 20 layer fits already in" "$B"/plan/logs/brainsweep-merge-*.out
check "array_and_merge_equal_mpi_job" same_scores "$OUT/mpi/results.h5" "$OUT/array/results.h5"

# ---- a longer job: uninterrupted; cancelled mid-run and submitted again; warned of its time limit (USR1)
# 8 extraction units of about a second each on 2 cores, then 40 layer fits: about 10 s
LONG=(-P "context.policy=[full, tokens:32, tokens:64, tokens:128]" -P ridge.permutations=200 -P run.layer_block=1)
submit_long() {  # submit_long NAME: its job id
  sbatch --parsable --output="$B/jobs/$1.out" -n 2 jobs/sweep.sbatch "$PRESET" "${DATA[@]}" "${LONG[@]}" \
    -P "output.path=$OUT/$1/results.h5"
}
wait_features() {  # wait_features NAME: until its store holds a finished features file (or 60 s)
  local _
  for _ in $(seq 1 600); do
    [ "$(features_in "$OUT/$1/results.h5")" -ge 1 ] && return 0
    sleep 0.1
  done
  return 1
}
t=$SECONDS
jid=$(submit_long ref)
wait_job "$jid" 180
check_log "$B/jobs/ref.out" "long_job_completes ($((SECONDS - t)) s)" completed "$jid"

t=$SECONDS
jid=$(submit_long cancel)
wait_features cancel && scancel "$jid"
wait_job "$jid" 60
kept=$(features_in "$OUT/cancel/results.h5")
check "cancelled_job_is_cancelled" test "$(state_of "$jid")" = CANCELLED
check "cancelled_job_keeps_finished_units ($kept of 8 features, $(layers_in "$OUT/cancel/results.h5") of 40 fits)" \
  test "$kept" -ge 1 -a "$(layers_in "$OUT/cancel/results.h5")" -lt 40
check "cancelled_job_wrote_no_results" test ! -e "$OUT/cancel/results.h5"
jid=$(submit_long cancel)
wait_job "$jid" 180
check_log "$B/jobs/cancel.out" "resubmitted_job_completes ($((SECONDS - t)) s)" completed "$jid"
check "resubmitted_job_resumed" grep -qE "extract: [1-8] of 8 \(model, context\) feature sets already on disk" \
  "$B/jobs/cancel.out"
check "resumed_equals_uninterrupted" same_scores "$OUT/ref/results.h5" "$OUT/cancel/results.h5"

t=$SECONDS
jid=$(submit_long limit)
wait_features limit && scancel --batch --signal=USR1 "$jid"
for _ in $(seq 1 300); do grep -q "requeueing job" "$B/jobs/limit.out" 2>/dev/null && break; sleep 0.2; done
check "time_limit_warning_stops_with_75_and_requeues" grep -q "requeueing job $jid" "$B/jobs/limit.out"
scontrol release "$jid" >/dev/null 2>&1  # a requeued job may be held (JobRequeue hold on some versions)
wait_job "$jid" 180
check_log "$B/jobs/limit.out" "requeued_job_completes ($((SECONDS - t)) s)" completed "$jid"
check "requeued_job_is_a_restart" grep -q "(restart 1)" "$B/jobs/limit.out"
check "requeued_job_resumed" grep -qE "extract: [1-8] of 8 \(model, context\) feature sets already on disk" \
  "$B/jobs/limit.out"
check "requeued_equals_uninterrupted" same_scores "$OUT/ref/results.h5" "$OUT/limit/results.h5"

stop_cluster
sleep 0.5
alive=""
for f in "$B/run/slurmd.pid" "$B/run/slurmctld.pid" "$B/munge/run/munged.pid"; do
  pid=$(cat "$f" 2>/dev/null) && kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
done
check "cluster_shut_down" test -z "$alive"
echo "slurm test: $((SECONDS - T0)) s"
summary
