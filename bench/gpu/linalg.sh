#!/usr/bin/env bash
# bench/gpu/linalg.sh LOGDIR: a check of bench/gpu_check.sh (its contract is there). The fits' linear-algebra table
# on the device (cuda/linalg_cuda.h; issue 18, part 1):
#   1. tests/cuda/test_linalg_gpu from the bundle: every op of linalg_ops_cuda against linalg_ops_cpu on random
#      inputs at odd shapes, poisoned outputs and guards, the tolerances stated in the test (about 20 s);
#   2. `test_linalg_gpu --bench 5000 500 10000`: one ridge fit's steps (Gram, eigh, X^T Y, the projection, the shrink,
#      the weights, the prediction GEMMs) timed through both tables on the same data (about 20 s; 0.5 GB of host and
#      device memory);
#   3. tests/cuda/test_nccl_gpu: the pipeline stages' NCCL link (cuda/nccl_link.h) loads libnccl, makes an id and
#      opens and closes a one-rank end on the GPU; a message between two ends needs two GPUs (the test says so with one).
# The table loads cuBLAS, cuSOLVER and cuFFT at run time (cuda/culibs.h; the bundle leaves them to the machine), the
# link NCCL: the toolkit's folders and python's nvidia packages are searched and put on the tests' library path, and
# where one of the three math libraries is still missing the test fails naming it (a SKIP on a machine with no GPU
# either); without libnccl the NCCL test SKIPs naming it.
# Exit 0 pass, 1 fail, 77 skip (no GPU: the test still runs, to show its SKIP lines and that it loads). ROW lines:
# the test's counts and worst relative error, each timed step (GPU and CPU seconds, speed-up, GPU GFLOP/s), the fit's
# total with the prediction's difference between the tables, and the transfers.
set -uo pipefail
LOG=${1:?usage: bench/gpu/linalg.sh LOGDIR}
mkdir -p "$LOG"
declare -F bs_run >/dev/null || bs_run() { "$@"; }  # run by hand, outside bench/gpu_check.sh
exe=${BS_BIN:-.gpu-bundle/build}/tests/cuda/test_linalg_gpu
if [ ! -x "$exe" ]; then
  echo "FAIL linalg: $exe is not in the bundle (remake it with bench/gpu_bundle.sh, which copies build-gpu/tests/cuda)"
  echo "ROW GPU linalg vs CPU table | missing | test_linalg_gpu not in the bundle"
  exit 1
fi

# the CUDA math libraries, where the loader's own paths lack them
lib_dirs=
for d in ${CUDA_HOME:+$CUDA_HOME/lib64} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
  [ -d "$d" ] || continue
  for lib in cublas cusolver cufft nccl; do
    f=$(find "$d" -maxdepth 4 -name "lib$lib.so.*" 2>/dev/null | head -1)
    [ -n "$f" ] && lib_dirs=$lib_dirs${lib_dirs:+:}$(dirname "$f")
  done
done
export BS_CUDA_MATH_LIBS=$lib_dirs
run_env() { LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$BS_CUDA_MATH_LIBS bs_run "$@"; }
export -f bs_run run_env
missing=
for lib in cublas cusolver cufft; do
  found=
  for d in ${lib_dirs//:/ } $(ldconfig -p 2>/dev/null | awk -v l="lib$lib.so." 'index($1, l) == 1 {print $NF}' | xargs -r dirname); do
    ls "$d"/lib$lib.so.* >/dev/null 2>&1 && found=1
  done
  [ -n "$found" ] || missing="$missing lib$lib.so "
done
if [ -n "$missing" ] && [ "${BS_HAVE_GPU:-0}" != 1 ]; then
  # a machine without a GPU need not have the CUDA toolkit either (the bare root of bench/gpu_bareroot.sh)
  echo "SKIP linalg: no GPU here (${BS_GPU_REASON:-unknown}) and no CUDA math libraries: missing ${missing}"
  echo "ROW GPU linalg vs CPU table | skip | no GPU, and no CUDA math libraries: missing ${missing}"
  exit 77
fi
if [ -n "$missing" ]; then
  echo "FAIL linalg: the fits' table cannot load its libraries here: missing ${missing}(CUDA 13's cuBLAS 13, cuSOLVER 12, cuFFT 12)"
  echo "ROW GPU linalg vs CPU table | cannot load | missing ${missing}"
  exit 1
fi

# 1. the test
timeout 90 bash -c 'run_env "$@"' _ "$exe" > "$LOG/test_linalg_gpu.log" 2>&1
rc=$?
grep -v '^PASS ' "$LOG/test_linalg_gpu.log" | head -60
summary=$(grep -E '^test_linalg_gpu: [0-9]+ passed' "$LOG/test_linalg_gpu.log" | tail -1)
worst=$(grep -o ' rel=[0-9.e+-]*' "$LOG/test_linalg_gpu.log" | sed 's/ rel=//' | sort -g | tail -1)
[ -n "$summary" ] || echo "test_linalg_gpu: no summary line (exit $rc)"
if [ "${BS_HAVE_GPU:-0}" != 1 ]; then
  echo "SKIP linalg: no GPU here (${BS_GPU_REASON:-unknown}); test_linalg_gpu ran and skipped its cases (exit $rc)"
  [ $rc -eq 0 ] || exit 1
  exit 77
fi
status=0
# a GPU that the check sees but the test does not (every case a SKIP) is a failure too
if [ $rc -ne 0 ] || [ -z "$summary" ] || grep -qE ' [1-9][0-9]* failed|: 0 passed' <<<"$summary"; then status=1; fi
echo "ROW GPU linalg vs CPU table | ${summary#test_linalg_gpu: } | worst rel ${worst:-?} (tolerances in the test); exit $rc"

# 2. a ridge-sized fit, GPU against CPU
timeout 120 bash -c 'run_env "$@"' _ "$exe" --bench 5000 500 10000 \
  > "$LOG/bench.log" 2>&1
brc=$?
cat "$LOG/bench.log"
if [ $brc -ne 0 ] || ! grep -q '^ROW linalg fit steps' "$LOG/bench.log"; then
  status=1
  echo "FAIL linalg/bench: exit $brc"
  echo "ROW linalg fit steps n=5000 p=500 t=10000 | FAIL | exit $brc"
fi

# 3. the stages' NCCL link
nccl=${BS_BIN:-.gpu-bundle/build}/tests/cuda/test_nccl_gpu
timeout 60 bash -c 'run_env "$@"' _ "$nccl" > "$LOG/test_nccl_gpu.log" 2>&1
nrc=$?
grep -v '^PASS ' "$LOG/test_nccl_gpu.log" | head -20
nsum=$(grep -E '^test_nccl_gpu: [0-9]+ passed' "$LOG/test_nccl_gpu.log" | tail -1)
version=$(grep -o 'NCCL [0-9.]*' "$LOG/test_nccl_gpu.log" | head -1)
if [ $nrc -ne 0 ] || [ -z "$nsum" ] || grep -qE ' [1-9][0-9]* failed' <<<"$nsum"; then status=1; fi
echo "ROW NCCL link of the pipeline stages | ${nsum#test_nccl_gpu: } | ${version:-libnccl not loaded}; exit $nrc"
exit $status
