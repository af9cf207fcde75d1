#!/usr/bin/env bash
# bench/gpu/decoder.sh LOGDIR: a check of bench/gpu_check.sh (its contract is there). The decoder's CUDA backend
# (issue 17, "Evidence on a device" 2 and a first look at 3), float32 and the 16-bit tables:
#   1. tests/cuda/test_decoder_gpu from the bundle: the new kernels against their CPU twins, the table's matmul,
#      capture, embed and final against the CPU table's, and whole forward passes of the seven families' fixtures
#      (fp32 and bf16 checkpoints, GQA, a sliding window, ALiBi, clip_qkv, layers re-uploaded) and stories260K:
#      all L+1 hidden states within 1e-4 of the CPU decoder relative to the norm (the float32 table), within 2e-2 for
#      the bf16 and fp16 tables;
#   2. bench/decoder_speed on stories260K: CPU (all cores) against the GPU, tokens/s and the states' difference;
#   3. if at least DECODER_7B_MIN_S seconds (default 70) are left of this script's DECODER_BUDGET_S (default 140:
#      bench/gpu_check.sh runs the other checks after this one within its 6 minutes; raise it for a session that
#      runs this check alone):
#      a Llama-7B-shaped random checkpoint of 2 layers (bench/make_big_checkpoint.py, bf16, numpy, written under
#      TMPDIR and removed after), one batch of 4096 tokens as one sequence on the GPU only, with the float32 table and
#      with the bf16 one: tokens/s for 2 layers and that figure scaled to 32 layers (the layers cost alike; the
#      embedding gather is negligible); then the bf16 table against Hugging Face transformers on the same GPU and
#      checkpoint (bench/gpu/hf_speed.py: LlamaForCausalLM in bf16 with sdpa, every hidden state copied to the host),
#      one sequence of 4096 tokens and 256 windows of 16 (the context experiment's shape), as far as the budget goes;
#   4. compute-sanitizer memcheck over test_decoder_gpu --quick, where the tool is found and at least
#      DECODER_SANITIZER_MIN_S (default 50) seconds are left.
# Exit 0 pass, 1 fail, 77 skip (no GPU: the test and the CPU part still run, to show their SKIP lines and that they
# load). ROW lines: the test's counts and worst state error, each timing, memcheck's verdict.
set -uo pipefail
LOG=${1:?usage: bench/gpu/decoder.sh LOGDIR}
mkdir -p "$LOG"
declare -F bs_run >/dev/null || bs_run() { "$@"; }  # run by hand, outside bench/gpu_check.sh
export -f bs_run
T0=$SECONDS
BUDGET=${DECODER_BUDGET_S:-140}
BIN=${BS_BIN:-.gpu-bundle/build}
exe=$BIN/tests/cuda/test_decoder_gpu
speed=$BIN/bench/decoder_speed
for f in "$exe" "$speed"; do
  if [ ! -x "$f" ]; then
    echo "FAIL decoder: $f is not in the bundle (remake it with bench/gpu_bundle.sh)"
    echo "ROW GPU decoder vs CPU (fp32) | missing | $(basename "$f") not in the bundle"
    exit 1
  fi
done
status=0

# 1. the test
timeout 150 bash -c 'bs_run "$@"' _ "$exe" > "$LOG/test_decoder_gpu.log" 2>&1
rc=$?
grep -v '^PASS ' "$LOG/test_decoder_gpu.log" | head -60
summary=$(grep -E '^test_decoder_gpu: [0-9]+ passed' "$LOG/test_decoder_gpu.log" | tail -1)
# the worst state of the float32 table's passes, and of the 16-bit tables'
worst_of() { grep "/forward ($1)" "$LOG/test_decoder_gpu.log" | grep -o 'worst rel=[0-9.e+-]*' | sed 's/worst rel=//' |
             sort -g | tail -1; }
worst=$(worst_of cuda)
worst16=$(worst_of 'cuda [bf]*16')
[ -n "$summary" ] || echo "test_decoder_gpu: no summary line (exit $rc)"
if [ "${BS_HAVE_GPU:-0}" != 1 ]; then
  echo "-- the CPU part of the timing (the GPU part says why it skips) --"
  timeout 60 bash -c 'bs_run "$@"' _ "$speed" data/models/stories260K.gguf 1024 256 1 | tee "$LOG/speed_stories260K.log"
  src=${PIPESTATUS[0]}
  echo "SKIP decoder: no GPU here (${BS_GPU_REASON:-unknown}); test_decoder_gpu skipped its cases (exit $rc), decoder_speed exit $src"
  [ $rc -eq 0 ] && [ $src -eq 0 ] || exit 1
  exit 77
fi
# a GPU that the check sees but the test does not (every case a SKIP) is a failure too
if [ $rc -ne 0 ] || [ -z "$summary" ] || grep -qE ' [1-9][0-9]* failed|: 0 passed' <<<"$summary" ||
   grep -q '^SKIP .*no usable GPU' "$LOG/test_decoder_gpu.log"; then status=1; fi
echo "ROW GPU decoder vs CPU, all states | ${summary#test_decoder_gpu: } | worst forward rel: float32 ${worst:-?} (tol 1e-4), bf16/fp16 ${worst16:-?} (tol 2e-2); exit $rc"

# a figure of decoder_speed's RESULT lines: result LOG BACKEND FIELD
result() { sed -n "s/^RESULT backend=$2 .*$3=\([0-9.]*\).*/\1/p" "$1"; }

# 2. stories260K: CPU against GPU
timeout 90 bash -c 'bs_run "$@"' _ "$speed" data/models/stories260K.gguf 8192 512 5 > "$LOG/speed_stories260K.log" 2>&1
src=$?
cat "$LOG/speed_stories260K.log"
cpu=$(result "$LOG/speed_stories260K.log" cpu tokens_per_s)
gpu=$(result "$LOG/speed_stories260K.log" cuda tokens_per_s)
rel=$(sed -n 's/^RESULT states_rel=\([^ ]*\).*/\1/p' "$LOG/speed_stories260K.log")
if [ $src -ne 0 ] || [ -z "$gpu" ]; then
  status=1
  echo "ROW decoder stories260K, 8192 tokens | FAIL | decoder_speed exit $src"
else
  ratio=$(awk -v g="$gpu" -v c="${cpu:-0}" 'BEGIN { if (c > 0) printf "%.1fx the CPU", g / c; else print "no CPU figure" }')
  echo "ROW decoder stories260K, 8192 tokens (cuda) | ${gpu} tok/s | ${ratio} (${cpu:-?} tok/s, $(nproc) cores); states rel ${rel:-?}"
  awk -v r="${rel:-inf}" 'BEGIN { exit !(r + 0 <= 1e-4) }' || { status=1; echo "FAIL decoder: stories260K states differ by ${rel:-?} (> 1e-4)"; }
fi

# 3. a 7B-shaped forward, if the budget allows (a function: its early returns leave the memcheck below its chance)
forward_7b() {
  left=$((BUDGET - (SECONDS - T0)))
  if [ "$left" -lt "${DECODER_7B_MIN_S:-70}" ]; then
    echo "NOTE 7B-shaped forward skipped: ${left} s left of ${BUDGET} s"
    echo "ROW decoder 7B-shaped (2 layers) | skipped | ${left} s left of the script's ${BUDGET} s"
    return
  fi
  ckpt=$(mktemp -d "${TMPDIR:-/tmp}/bs-llama7b-2l.XXXXXX")
  trap 'rm -rf "$ckpt"' EXIT
  t=$SECONDS
  local lim=$((left - 25))
  [ "$lim" -gt 60 ] && lim=60
  if ! timeout "$lim" python3 bench/make_big_checkpoint.py "$ckpt" --layers 2 > "$LOG/make_checkpoint.log" 2>&1; then
    tail -5 "$LOG/make_checkpoint.log"
    echo "NOTE 7B-shaped checkpoint not made (python3 with numpy?): see make_checkpoint.log"
    echo "ROW decoder 7B-shaped (2 layers) | not run | make_big_checkpoint.py failed"
    return
  fi
  echo "7B-shaped checkpoint of 2 layers written in $((SECONDS - t)) s ($(du -sh "$ckpt" | cut -f1))"
  left=$((BUDGET - (SECONDS - T0) - 5))
  if [ "$left" -lt 10 ]; then
    echo "ROW decoder 7B-shaped (2 layers) | skipped | the checkpoint took the time (${left} s left)"
    return
  fi
  # the float32 table, then the bf16 one (run.gpu_weights auto on this bf16 checkpoint)
  for w in float32 bf16; do
    left=$((BUDGET - (SECONDS - T0) - 5))
    [ "$left" -ge 10 ] || { echo "ROW decoder 7B-shaped (2 layers), $w | skipped | ${left} s left"; continue; }
    timeout "$left" bash -c 'bs_run "$@"' _ "$speed" "$ckpt" 4096 4096 3 --no-cpu --weights "$w" \
      > "$LOG/speed_7b_$w.log" 2>&1
    src=$?
    cat "$LOG/speed_7b_$w.log"
    gpu=$(result "$LOG/speed_7b_$w.log" cuda tokens_per_s)
    gf=$(result "$LOG/speed_7b_$w.log" cuda gflops)
    if [ $src -ne 0 ] || [ -z "$gpu" ]; then
      status=1
      echo "ROW decoder 7B-shaped (2 layers), 4096 tokens, $w | FAIL | decoder_speed exit $src"
    else
      per32=$(awk -v g="$gpu" 'BEGIN { printf "%.0f", g * 2 / 32 }')
      gbs=$(grep -o 'states to the host [0-9.]* GB, [0-9.]* GB/s' "$LOG/speed_7b_$w.log")
      echo "ROW decoder 7B-shaped (2 of 32 layers), 1x4096 tokens (cuda $w) | ${gpu} tok/s | ${gf} GFLOP/s; ~${per32} tok/s for 32 layers; ${gbs:-?}"
    fi
  done
  # against transformers on the same GPU and checkpoint (bench/gpu/hf_speed.py: bf16, sdpa, every hidden state to the
  # host): the one sequence of 4096 tokens above, and the context experiment's windows, 256 of 16 tokens
  for len in 4096 16; do
    left=$((BUDGET - (SECONDS - T0) - 5))
    [ "$left" -ge 20 ] || { echo "ROW decoder vs transformers, 7B-shaped, ${len}-token sequences | skipped | ${left} s left"; continue; }
    ours_log=$LOG/speed_7b_bf16.log
    if [ "$len" != 4096 ]; then
      ours_log=$LOG/speed_7b_bf16_$len.log
      timeout $((left / 2)) bash -c 'bs_run "$@"' _ "$speed" "$ckpt" 4096 "$len" 3 --no-cpu --weights bf16 \
        > "$ours_log" 2>&1 || status=1
      cat "$ours_log"
    fi
    ours=$(result "$ours_log" cuda tokens_per_s)
    left=$((BUDGET - (SECONDS - T0) - 5))
    timeout "$left" python3 bench/gpu/hf_speed.py "$ckpt" 4096 "$len" 3 > "$LOG/hf_7b_$len.log" 2>&1
    tail -3 "$LOG/hf_7b_$len.log"
    hf=$(result "$LOG/hf_7b_$len.log" transformers tokens_per_s)
    ratio=$(awk -v a="${ours:-0}" -v b="${hf:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "?" }')
    echo "ROW decoder vs transformers, 7B-shaped (2 layers), bf16, $((4096 / len)) x $len tokens | ${ratio} | brainsweep ${ours:-?} tok/s, transformers ${hf:-?} tok/s (sdpa; all states to the host)"
  done
}
forward_7b

# 4. compute-sanitizer memcheck over test_decoder_gpu --quick (the ops and three families' forwards), where the tool
#    is found and DECODER_SANITIZER_MIN_S seconds (default 50) are left; a machine that refuses it gives a SKIP row
san=$(command -v compute-sanitizer || ls "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -1)
left=$((BUDGET - (SECONDS - T0)))
if [ -z "$san" ]; then
  echo "ROW decoder memcheck | skipped | compute-sanitizer not found"
elif [ "$left" -lt "${DECODER_SANITIZER_MIN_S:-50}" ]; then
  echo "ROW decoder memcheck | skipped | ${left} s left of the script's ${BUDGET} s"
else
  timeout 45 bash -c 'bs_run "$@"' _ "$san" --tool memcheck --error-exitcode 99 "$exe" --quick > "$LOG/memcheck.log" 2>&1
  mrc=$?
  verdict=$(grep -E 'ERROR SUMMARY' "$LOG/memcheck.log" | tail -1 | sed 's/^=* *//')
  if grep -qiE 'Device not supported|not supported on this|Unable to' "$LOG/memcheck.log" &&
     ! grep -q 'test_decoder_gpu: [0-9]* passed' "$LOG/memcheck.log"; then
    echo "ROW decoder memcheck | refused | $(grep -iE 'not supported|Unable to' "$LOG/memcheck.log" | head -1 | cut -c1-60)"
  elif [ $mrc -eq 0 ]; then
    echo "ROW decoder memcheck (--quick) | clean | ${verdict:-no summary}"
  elif [ $mrc -eq 124 ] || [ $mrc -eq 137 ]; then
    echo "ROW decoder memcheck (--quick) | timeout | 45 s were not enough; see memcheck.log"
  else
    status=1
    grep -m 20 -E '^========= ' "$LOG/memcheck.log"
    echo "ROW decoder memcheck (--quick) | FAIL | ${verdict:-exit $mrc}"
  fi
fi

exit $status
