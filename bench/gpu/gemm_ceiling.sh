#!/usr/bin/env bash
# bench/gpu/gemm_ceiling.sh LOGDIR: a check of bench/gpu_check.sh (its contract is there). Runs
# bench/gpu/gemm_ceiling.cu, the device's ceilings that later GPU figures are compared with: cuBLAS bf16, float32
# and TF32 matrix products at 8192^3 on random data and a 1 GiB device-to-device copy (medians after warm-up).
# Takes the program from the bundle; where it cannot load (no cuBLAS of its major version on the library path)
# or is absent, compiles it here with the machine's nvcc (about 20 s) into LOGDIR. Skips (77) without a GPU.
set -uo pipefail
LOG=${1:?usage: bench/gpu/gemm_ceiling.sh LOGDIR}
mkdir -p "$LOG"
if [ "${BS_HAVE_GPU:-0}" != 1 ]; then
  echo "SKIP gemm_ceiling: no GPU here (${BS_GPU_REASON:-unknown})"
  exit 77
fi
# cuBLAS from the toolkit or from python's nvidia packages, where the loader's own paths lack it
cublas_dirs=
for d in ${CUDA_HOME:+$CUDA_HOME/lib64} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
  [ -d "$d" ] || continue
  f=$(find "$d" -maxdepth 4 -name 'libcublas.so.*' 2>/dev/null | head -1)
  [ -n "$f" ] && cublas_dirs=$cublas_dirs${cublas_dirs:+:}$(dirname "$f")
done
run_env() { LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$cublas_dirs "$@"; }

exe=${BS_BIN:-.gpu-bundle/build}/bench/gpu/gemm_ceiling
if [ ! -x "$exe" ] || run_env ldd "$exe" | grep -q 'not found'; then
  echo "the bundle's gemm_ceiling $( [ -x "$exe" ] && echo 'does not load here:' || echo 'is absent'); compiling it here"
  [ -x "$exe" ] && run_env ldd "$exe" | grep 'not found'
  nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  "$nvcc" -O2 -std=c++17 -arch=native -o "$LOG/gemm_ceiling" bench/gpu/gemm_ceiling.cu -lcublas || {
    echo "FAIL gemm_ceiling: nvcc failed"; exit 1; }
  exe=$LOG/gemm_ceiling
fi
run_env ldd "$exe" | grep -E 'cublas|cudart' || true
run_env "$exe" 8192 10
