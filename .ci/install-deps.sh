#!/usr/bin/env bash
# Install the Debian/Ubuntu packages brainsweep needs, asking apt only for what is missing.
# Used by `make deps`, `make demo`, `make test` and CI. Silent when everything is present.
# Usage: .ci/install-deps.sh [--fuzz]
set -euo pipefail

PKGS=(build-essential pkg-config make
      libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
      libopenblas-dev liblapacke-dev libyaml-dev libjansson-dev libpcre2-dev libutf8proc-dev libfftw3-dev
      libnifti2-dev libgiftiio-dev
      python3 python3-pip gnuplot-nox)
# `--fuzz`: also what `make fuzz` needs (clang 14 with libFuzzer and the sanitizer runtimes, which clang
# only recommends, and its OpenMP); kept out of the default set so `make demo` does not install a compiler
if [ "${1:-}" = "--fuzz" ]; then
  PKGS+=(clang libclang-rt-14-dev libomp-dev)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing packages: ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
