#!/usr/bin/env bash
# bench/gpu_bareroot.sh ROOTDIR OUTDIR [SCRIPT]: prove the device bundle here, before a device session spends its
# time on it. Runs SCRIPT (bench/gpu_check.sh, or bench/gpu_sweep.sh; the environment's GPU_CHECK_* and GPU_SWEEP_*
# variables passed on) in a chroot of a minimal Debian 12 (debootstrap --variant=minbase, made in ROOTDIR the
# first time) that has none of the build's -dev packages, no Open MPI, HDF5, OpenBLAS, FFTW, jansson, libyaml,
# utf8proc, libcurl, OpenSSL, CUDA or python: only the repository's files (as a device session receives them:
# tracked and untracked-but-not-ignored) and .gpu-bundle (bench/gpu_bundle.sh) are copied in, to ROOTDIR/repo.
# The one addition is xz-utils (its .deb fetched here with apt-get download), standing in for the device's python3
# as the unpacker of libs.tar.xz. /proc and /sys are mounted for the run and unmounted after. The script's output
# folder is copied to OUTDIR. Needs root, debootstrap and Debian's package archive. Exit status: gpu_check.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: bench/gpu_bareroot.sh ROOTDIR OUTDIR [bench/gpu_check.sh|bench/gpu_sweep.sh]" >&2; exit 2; }
ROOT=$(mkdir -p "$1" && cd "$1" && pwd)
OUTDIR=$2
SCRIPT=${3:-bench/gpu_check.sh}
[ -x "$SCRIPT" ] || { echo "gpu_bareroot: $SCRIPT is not an executable script of this repository" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "gpu_bareroot: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
[ -f .gpu-bundle/libs.tar.xz ] || { echo "gpu_bareroot: no .gpu-bundle here: run bench/gpu_bundle.sh first" >&2; exit 2; }
if [ ! -f "$ROOT/etc/debian_version" ]; then
  command -v debootstrap >/dev/null || { echo "gpu_bareroot: apt-get install debootstrap" >&2; exit 2; }
  echo "[bareroot] debootstrap --variant=minbase bookworm $ROOT (a few minutes)"
  nice -n 10 debootstrap --variant=minbase bookworm "$ROOT" > "$ROOT.debootstrap.log" 2>&1 ||
    { tail -5 "$ROOT.debootstrap.log"; exit 1; }
fi
if ! chroot "$ROOT" sh -c 'command -v xz' >/dev/null; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q xz-utils >/dev/null)
  cp "$tmp"/xz-utils_*.deb "$ROOT/tmp/xz-utils.deb" && rm -rf "$tmp"
  chroot "$ROOT" dpkg -i /tmp/xz-utils.deb > /dev/null
fi
echo "[bareroot] $(chroot "$ROOT" dpkg-query -W -f='${Package}\n' | wc -l) packages installed in the root; of the build's and the bundle's:" \
     "$(chroot "$ROOT" dpkg-query -W -f='${Package}\n' | grep -E -- '-dev$|openmpi|hdf5|openblas|lapack|fftw|jansson|yaml|utf8proc|curl|libssl|gomp|cuda|python' | tr '\n' ' ' || true)(none expected)"
rm -rf "$ROOT/repo" "$ROOT/tmp/gpu-check"
mkdir -p "$ROOT/repo"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C "$ROOT/repo" -xf -
tar -cf - .gpu-bundle/build .gpu-bundle/cuda .gpu-bundle/libs.tar.xz .gpu-bundle/MANIFEST | tar -C "$ROOT/repo" -xf -
echo "[bareroot] copied the repository's files and .gpu-bundle: $(du -sh "$ROOT/repo" | cut -f1)"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
mountpoint -q "$ROOT/sys" || mount -t sysfs sysfs "$ROOT/sys"
trap 'umount "$ROOT/proc" "$ROOT/sys" 2>/dev/null || true' EXIT
set +e
mapfile -t pass_on < <(env | grep -E '^GPU_(CHECK|SWEEP)_[A-Z_]*=' || true)
chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "${pass_on[@]}" \
  bash -c 'cd /repo && "$0" /tmp/gpu-check' "$SCRIPT"
rc=$?
set -e
rm -rf "$OUTDIR" && mkdir -p "$OUTDIR" && cp -r "$ROOT/tmp/gpu-check/." "$OUTDIR/"
echo "[bareroot] $SCRIPT exited $rc; its logs are in $OUTDIR"
exit $rc
