#!/usr/bin/env bash
# bench/gpu_sweep.sh OUTDIR: issue 19's device evidence, the second script a device session runs (from the
# repository root, with .gpu-bundle/ carried: bench/gpu_bundle.sh); at most GPU_SWEEP_BUDGET_S (default 330 s).
# The real `brainsweep sweep`, a singleton without mpirun, on the study's shape:
#   1. a Llama-2-7B-shaped checkpoint in bf16 safetensors with random weights, written here by
#      bench/make_big_checkpoint.py --reuse (each tensor shape drawn once: the time is the disk's), and one of the
#      same shape with GPU_SWEEP_SLICE_LAYERS layers (default 2) for the CPU comparison;
#   2. the simulated Podcast dataset (`brainsweep simulate`: 9 subjects, 1,330 electrodes, the 5,134 words of the
#      transcript, 30 min at 512 Hz), made here (it is 2.6 GB: not carried), its word responses computed once by
#      the first sweep into one file the others reuse;
#   3. the sweep of jobs/presets/mischler2024.yaml for that model and data on the GPU (run.device: cuda), with
#      the contexts of GPU_SWEEP_CONTEXTS (default [full, tokens:4, tokens:16]: the float32 decoder would need
#      about 9 minutes for the preset's tokens:64 and tokens:256; the bf16 one, which run.gpu_weights auto takes for
#      this bf16 checkpoint, is not measured yet, so the default stays), PCA 500 on all words and ridge per
#      electrode: seconds per stage (the sweep's own stage timings), extraction FLOP/s, the GPU's busy share
#      (nvidia-smi's utilization sampled every 200 ms), results.h5 read back by `brainsweep inspect`;
#   4. the slice (context full, the few-layer checkpoint) on the GPU and on the CPU backend: max |Δr| over every
#      layer and electrode (bench/results_diff.sh with the bundle's h5dump), at most GPU_SWEEP_R_TOL (5e-3: the
#      checkpoint is bf16, so the GPU runs its products in bf16 under run.gpu_weights auto, and the CPU in float32;
#      issue 17's bound for bf16 against the CPU);
#   5. the preset extrapolated from what was measured: extraction FLOPs of the whole preset (`brainsweep plan` on
#      header-only checkpoints, make_big_checkpoint.py --sparse) over the measured FLOP/s, and its 1,980 layer
#      fits at the measured seconds per fit, in H200-hours, beside the goal (1) and the arithmetic floor.
# Without a GPU the same steps run on the CPU backend (the bare-root proof, bench/gpu_bareroot.sh, sets a small
# dataset and model through GPU_SWEEP_SIMULATE and GPU_SWEEP_MODEL) and the script exits 77 (skip) when they pass.
# Everything is logged under OUTDIR; the table is printed last. Exit 0 pass, 1 fail, 77 no GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bench/gpu_sweep.sh OUTDIR" >&2; exit 2; }
mkdir -p "$1" || exit 2
OUT=$(cd "$1" && pwd)
T0=$SECONDS
BUDGET=${GPU_SWEEP_BUDGET_S:-330}
CONTEXTS=${GPU_SWEEP_CONTEXTS:-"[full, tokens:4, tokens:16]"}
SLICE_LAYERS=${GPU_SWEEP_SLICE_LAYERS:-2}
LAYERS=${GPU_SWEEP_LAYERS:-32}  # fewer: a trial of the script on a CPU (its FLOP/s and seconds per fit carry over)
R_TOL=${GPU_SWEEP_R_TOL:-5e-3}
WORK=${GPU_SWEEP_WORK:-${TMPDIR:-/tmp}/brainsweep-gpu-sweep}
ROWS=()
status=0
row() { ROWS+=("$1|$2|$3"); echo "ROW $1 | $2 | $3"; }
fail() { echo "FAIL $*"; row "$1" FAIL "${*:2}"; status=1; }
left() { echo $((BUDGET - (SECONDS - T0))); }
# phase NAME CAP CMD...: CMD under timeout (CAP or what is left), output in OUTDIR/NAME.log; its seconds in SECS
phase() {
  local name=$1 cap=$2 t=$SECONDS rc lim
  shift 2
  lim=$(left)
  [ "$cap" -lt "$lim" ] && lim=$cap
  [ "$lim" -ge 5 ] || { echo "== $name: no time left"; return 124; }
  echo "== $name (limit $lim s)"
  timeout --kill-after=5 "$lim" bash -c '"$@"' _ "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  SECS=$((SECONDS - t))
  echo "== $name: exit $rc, $SECS s"
  [ $rc -eq 0 ] || tail -5 "$OUT/$name.log"
  return $rc
}

# shellcheck source=bench/gpu_env.sh
source bench/gpu_env.sh >"$OUT/env.log" 2>&1 || { cat "$OUT/env.log"; exit 1; }
export BS_LD_PATH
export -f bs_run
BS=$BS_BIN/brainsweep
GPU_LINE=$(bs_run "$BS" version 2>&1 | sed -n 's/^GPU: *//p')
if [ -n "$GPU_LINE" ] && ! grep -q 'no usable GPU\|without CUDA' <<<"$GPU_LINE"; then DEVICE=cuda; else DEVICE=cpu; fi
echo "gpu_sweep: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, GPU: ${GPU_LINE:-none}; the sweep runs on $DEVICE"
rm -rf "$WORK" && mkdir -p "$WORK"

# 1. the checkpoints -------------------------------------------------------------------------------------------------
MODEL=${GPU_SWEEP_MODEL:-}
SLICE=${GPU_SWEEP_MODEL:-}
if [ -z "$MODEL" ]; then
  MODEL=$WORK/llama-2-7b-shape SLICE=$WORK/llama-2-7b-shape-${SLICE_LAYERS}layers
  phase checkpoint 90 python3 bench/make_big_checkpoint.py "$MODEL" --reuse --layers "$LAYERS" &&
    row "7B-shaped bf16 checkpoint written" "$SECS s" "$(du -sh "$MODEL" | cut -f1), $LAYERS layers, random" ||
    fail checkpoint "bench/make_big_checkpoint.py failed (numpy?)"
  phase checkpoint_slice 30 python3 bench/make_big_checkpoint.py "$SLICE" --reuse --layers "$SLICE_LAYERS" ||
    fail checkpoint_slice "bench/make_big_checkpoint.py --layers $SLICE_LAYERS failed"
fi

# 2. the dataset -----------------------------------------------------------------------------------------------------
# shellcheck disable=SC2086  # options, one word each
phase simulate 90 bs_run "$BS" simulate "$WORK/ieeg" ${GPU_SWEEP_SIMULATE:-} &&
  row "simulated Podcast dataset" "$SECS s" "$(du -sh "$WORK/ieeg" | cut -f1) of EDF, $(ls -d "$WORK"/ieeg/sub-* | wc -l) subjects" ||
  fail simulate "brainsweep simulate failed"

# the preset with one model; paths and contexts as overrides
config() {  # config MODEL_PATH > YAML
  echo "models:"
  echo "  - {name: $(basename "$1" .gguf), path: $1}"
  sed -n '/^stimulus:/,$p' jobs/presets/mischler2024.yaml
}
config "$MODEL" >"$WORK/sweep.yaml"
config "$SLICE" >"$WORK/slice.yaml"
COMMON=(-P "stimulus.file=$WORK/ieeg/stimuli/words.tsv" -P "ieeg.bids=$WORK/ieeg" -P "ieeg.responses=$WORK/responses.h5"
        -P "features.cache_dir=")

# 3. the sweep on the device -----------------------------------------------------------------------------------------
sample_gpu() {  # utilization.gpu every 200 ms into OUTDIR/gpu-busy.csv until killed
  command -v nvidia-smi >/dev/null && exec nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 200 >"$OUT/gpu-busy.csv" 2>/dev/null
}
[ "$DEVICE" = cuda ] && { sample_gpu & sampler=$!; }
if phase sweep 240 bs_run "$BS" sweep "$WORK/sweep.yaml" "${COMMON[@]}" -P "context.policy=$CONTEXTS" \
     -P "run.device=$DEVICE" -P "output.path=$WORK/sweep/results.h5"; then
  timings=$(sed -n 's/^stage timings (s): *//p' "$OUT/sweep.log" | tail -1)
  row "sweep, $CONTEXTS, $DEVICE" "$SECS s" "stages (s): $timings"
  # extraction FLOP/s: the units' FLOPs over their forward seconds (the sweep's own lines)
  rate=$(sed -n 's/.* \([0-9.]*\) s forward ([^,]*, \([0-9.]*\) GFLOP\/s on this rank).*/\1 \2/p' "$OUT/sweep.log" |
         awk '{ s += $1; f += $1 * $2 } END { if (s > 0) printf "%.1f", f / s }')
  row "extraction rate" "${rate:-?} GFLOP/s" "2 x layer parameters x tokens over forward seconds"
  fit_s=$(awk '{ for (i = 1; i < NF; i++) if ($i == "fit") { print $(i + 1); exit } }' <<<"$timings")
  fits=$(sed -n 's/.*fit: \([0-9]*\) layer fit(s).*/\1/p' "$OUT/sweep.log" | tail -1)
  if [ -n "${sampler:-}" ]; then
    kill "$sampler" 2>/dev/null
    busy=$(awk -F', *' '{ n++; b += ($1 > 0); u += $1 } END { if (n) printf "%.0f%% %.0f%% %d", 100 * b / n, u / n, n }' \
      "$OUT/gpu-busy.csv")
    read -r share use n_samples <<<"$busy"
    row "GPU busy during the sweep" "${share:-?} of samples" "mean utilization ${use:-?} over ${n_samples:-0} samples of 200 ms"
  fi
  phase inspect 30 bs_run "$BS" inspect "$WORK/sweep/results.h5" &&
    row "results.h5 read back" "$(du -h "$WORK/sweep/results.h5" | cut -f1)" "$(grep -c '^ *[0-9]\+ ' "$OUT/inspect.log") layer rows" ||
    fail inspect "brainsweep inspect could not read results.h5"
else
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
  fail sweep "the sweep failed or ran out of time ($OUT/sweep.log)"
fi

# 4. the slice: the GPU's r against the CPU backend's ----------------------------------------------------------------
# slice-run on the sweep's device, slice-cpu on the CPU backend (without a GPU both on the CPU: the check's
# mechanics, and runs that must agree bit for bit)
for side in run cpu; do
  dev=$DEVICE
  [ $side = cpu ] && dev=cpu
  phase "slice_$side" 60 bs_run "$BS" sweep "$WORK/slice.yaml" "${COMMON[@]}" -P "context.policy=[full]" \
    -P "run.device=$dev" -P "output.path=$WORK/slice-$side/results.h5" || fail "slice_$side" "the slice failed on $dev"
done
if [ -f "$WORK/slice-run/results.h5" ] && [ -f "$WORK/slice-cpu/results.h5" ]; then
  PATH=$BS_BIN:$PATH bs_run bash bench/results_diff.sh "$WORK/slice-cpu/results.h5" "$WORK/slice-run/results.h5" \
    /scores/r >"$OUT/slice-diff.log" 2>&1
  cat "$OUT/slice-diff.log"
  dr=$(sed -n 's/.*max |diff| \([0-9.eE+-]*\)$/\1/p' "$OUT/slice-diff.log" | head -1)
  if [ -n "$dr" ] && awk -v d="$dr" -v t="$R_TOL" 'BEGIN { exit !(d <= t) }'; then
    row "slice r, $DEVICE vs the cpu backend" "max abs dr $dr" "context full, every layer and electrode (bound $R_TOL)"
  else
    fail "slice r, $DEVICE vs the cpu backend" "max abs dr ${dr:-unread} above $R_TOL ($OUT/slice-diff.log)"
  fi
fi

# 5. the preset, extrapolated ----------------------------------------------------------------------------------------
if [ -n "${rate:-}" ] && [ -n "${fit_s:-}" ] && [ -n "${fits:-}" ] && [ -z "${GPU_SWEEP_MODEL:-}" ]; then
  mkdir -p "$WORK/plan/models"
  python3 bench/make_big_checkpoint.py "$WORK/plan/models/llama-2-7b-shape" --sparse >/dev/null 2>&1
  sed -n '/^models:/,/^stimulus:/p' jobs/presets/mischler2024.yaml | sed -n 's/^  - {name: \([^,]*\),.*/\1/p' |
    while read -r m; do ln -sfn llama-2-7b-shape "$WORK/plan/models/$m"; done
  (cd "$WORK/plan" && bs_run "$BS" plan "$OLDPWD/jobs/presets/mischler2024.yaml" --gpus 1 --cpus 16 --out "$WORK/plan/slurm" \
     -P "stimulus.file=$WORK/ieeg/stimuli/words.tsv" -P "ieeg.bids=$WORK/ieeg" -P "output.path=$WORK/plan/results.h5") \
    >"$OUT/plan.log" 2>&1
  tflop=$(sed -n 's/^  extraction: \([0-9.e+]*\) TFLOP.*/\1/p' "$OUT/plan.log")
  all_fits=$(sed -n 's/^  \([0-9]*\) layer fits.*/\1/p' "$OUT/plan.log")
  if [ -n "$tflop" ] && [ -n "$all_fits" ]; then
    read -r hx hf < <(awk -v t="$tflop" -v r="$rate" -v fs="$fit_s" -v n="$fits" -v N="$all_fits" \
      'BEGIN { printf "%.3f %.3f\n", t * 1e3 / r / 3600, fs / n * N / 3600 }')
    words=$(sed -n 's/^  stimulus: \([0-9]*\) words.*/\1/p' "$OUT/plan.log")
    unit=H200-h
    [ "$DEVICE" = cuda ] || unit="h (CPU)"
    row "preset extraction ($tflop TFLOP, $words words)" "$hx h" "at the measured rate, one rank"
    row "preset fits ($all_fits) at the measured s per fit" "$hf h" "this build: on the rank's $(nproc) cores"
    row "preset, extrapolated" "$(awk -v a="$hx" -v b="$hf" 'BEGIN { printf "%.2f", a + b }') $unit" \
      "goal 1 H200-h; floor $(awk -v t="$tflop" 'BEGIN { printf "%.3f", t / 788 / 3600 }') (bf16 at 788 TFLOP/s)"
  else
    fail plan "brainsweep plan printed no extraction FLOPs ($OUT/plan.log)"
  fi
fi

# the table, last ----------------------------------------------------------------------------------------------------
{
  echo
  echo "=== bench/gpu_sweep.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, GPU: ${GPU_LINE:-none}, device $DEVICE ==="
  for r in "${ROWS[@]}"; do
    IFS='|' read -r what fig note <<<"$r"
    printf '%-48s %-18s %s\n' "$what" "$fig" "$note"
  done
  echo "$((SECONDS - T0)) s of the $BUDGET s budget; logs in $OUT"
} | tee "$OUT/table.txt"
rm -rf "$WORK"
[ $status -ne 0 ] && exit 1
[ "$DEVICE" = cuda ] || { echo "SKIP gpu_sweep: no GPU ($GPU_LINE): the steps ran on the CPU backend"; exit 77; }
exit 0
