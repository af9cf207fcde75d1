#!/usr/bin/env bash
# bench/gpu_bundle.sh: make .gpu-bundle/, the ignored folder a device session carries with the repository so that
# bench/gpu_check.sh runs on a bare CUDA image (no Open MPI, HDF5, OpenBLAS, ... there; nothing installable).
# Run it here, from anywhere, on Debian 12 with the build's -dev packages, nvcc and Debian's package archive:
#
#   bench/gpu_bundle.sh            build (or bring up to date) build-gpu with CUDA, then remake the bundle
#   SKIP_BUILD=1 bench/gpu_bundle.sh   take build-gpu as it is
#
# What .gpu-bundle/ holds (docs/gpu.md, "Running the device checks"), about 28 MiB:
#   build/        brainsweep, its test programs (tests/cuda's GPU tests too) and bench programs from
#                 `make BUILD=build-gpu USE_CUDA=1 all`, and h5dump (bench/gpu_sweep.sh compares results with it)
#                 (debug sections stripped), and bench/gpu/*.cu compiled with nvcc (cuBLAS linked dynamically:
#                 the machine's toolkit provides it)
#   libs.tar.xz   Debian packages unpacked with `dpkg -x` (about 100 MB unpacked, 22 MB packed), in two trees:
#                 root/  the HPC stack (Open MPI with mpirun and its data files, PMIx, hwloc, libevent, parallel
#                        HDF5, OpenBLAS, LAPACKE, gfortran, jansson, libyaml, PCRE2, utf8proc, FFTW3, szip/libaec,
#                        the fabric libraries Open MPI's components link), always first on our programs' path;
#                 base/  general libraries they also need (libstdc++, libgomp, zlib, OpenSSL, libcurl, Kerberos,
#                        ...), used one by one only where the machine lacks them, a newer system copy being safer.
#                 bench/gpu_env.sh unpacks it on the machine (xz, or python3's tarfile) and builds the path.
#   cuda/         the CUDA runtime (libcudart) our binary was linked against, used only where the machine has
#                 none, so the CPU part runs even without the toolkit (cuBLAS is not carried: the CUDA decoder
#                 loads the machine's at run time, bench/gpu_env.sh finds it)
#   wheels/       himalaya's wheel (pure Python), the baseline bench/gpu/ridge.sh runs on the machine's torch
#   MANIFEST      what went in: git revision, date, packages and versions, sizes
# The library set is found, not listed: `ldd` of every program, each library's package by `dpkg -S`, the .debs
# (at the versions installed here, or the archive's current ones where a rebuild replaced them) fetched with
# `apt-get download` into .cache/gpu-bundle/debs (kept: a rerun downloads nothing), then `ldd` again over
# everything unpacked (Open MPI's components, mpirun, orted) until no new package appears. glibc (libc6) and the
# CUDA toolkit's libraries are left to the machine. Docs, man pages, headers, static libraries and pkg-config
# files are dropped. The unpacked trees stay in .cache/gpu-bundle/stage for inspection. Idempotent: the bundle is
# remade each run (the archive only when its packages or this script changed). Fails if the bundle and the
# repository's files together pass 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-gpu
OUT=.gpu-bundle
DEBS=.cache/gpu-bundle/debs
STAGE=.cache/gpu-bundle/stage   # root/ and base/ unpacked here, then packed into $OUT/libs.tar.xz
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
NVCC=${NVCC:-$CUDA_HOME/bin/nvcc}
HIMALAYA=0.4.11
LIMIT_MIB=64
ARCH_DIR=usr/lib/x86_64-linux-gnu
# packages whose libraries the machine's own copy should provide where it has one (bundled only as a fallback)
BASE_PKGS='^(libstdc\+\+6|libgcc-s1|libgomp1|zlib1g|libzstd1|liblzma5|libbz2-1\.0|libssl3|libcrypt1|libffi8|libgmp10|libgnutls30|libhogweed6|libnettle8|libidn2-0|libunistring2|libtasn1-6|libp11-kit0|libbrotli1|libkrb5-3|libgssapi-krb5-2|libk5crypto3|libkrb5support0|libcom-err2|libkeyutils1|libldap-2\.5-0|libsasl2-2|libnghttp2-14|libpsl5|librtmp1|libssh2-1|libudev1|libsystemd0|libcap2|libgcrypt20|libgpg-error0|liblz4-1|libcurl4|libcurl3-gnutls|libxml2|libicu72|libselinux1|libnuma1|libmd0|libbsd0|libxxhash0)$'
# packages that no library needs but a run does: mpirun/orted and Open MPI's help and configuration files
EXTRA_PKGS='openmpi-bin openmpi-common'
# libraries of these packages are the machine's business
SKIP_PKGS='^(libc6|libc6-dev)$'

say() { printf '[gpu_bundle] %s\n' "$*"; }
die() { printf '[gpu_bundle] ERROR: %s\n' "$*" >&2; exit 1; }

for tool in apt-get dpkg dpkg-query ldd readelf strip; do
  command -v "$tool" >/dev/null || die "$tool not found (this script runs on Debian or Ubuntu)"
done
[ -x "$NVCC" ] || die "nvcc not found at $NVCC (set CUDA_HOME)"

# 1. the binaries ------------------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  [ -x "$BUILD/brainsweep" ] || die "SKIP_BUILD=1 but $BUILD/brainsweep does not exist"
  say "build: taking $BUILD as it is (SKIP_BUILD=1)"
else
  say "build: make BUILD=$BUILD USE_CUDA=1 all (only what changed is rebuilt)"
  set +e
  nice -n 10 make --no-print-directory BUILD=$BUILD USE_CUDA=1 all 2>&1 | { grep -vE '^  (CC|NVCC|AR|LINK|TEST|BENCH) ' || true; }
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || die "the build failed"
fi
grep -q 'BRAINSWEEP_CUDA 1' "$BUILD/version.h" || die "$BUILD was built without CUDA (run without SKIP_BUILD=1)"

rm -rf "$OUT"
rm -rf "$STAGE"
mkdir -p "$OUT/build/tests" "$OUT/build/bench/gpu" "$OUT/cuda" "$STAGE/root" "$STAGE/base" "$DEBS"
cp -p "$BUILD/brainsweep" "$OUT/build/"
# tests/cuda: the GPU op tests (bench/gpu/ops.sh runs them); a CUDA build always has them
cp -rp "$BUILD/tests/host" "$BUILD/tests/mpi" "$BUILD/tests/cuda" "$OUT/build/tests/"
find "$BUILD/bench" -maxdepth 1 -type f -perm -u+x -exec cp -p {} "$OUT/build/bench/" \;
# h5dump (Debian's hdf5-tools), which bench/results_diff.sh reads results with in bench/gpu_sweep.sh
h5dump=$(command -v h5dump) || die "h5dump not found (apt-get install hdf5-tools)"
cp -p "$(readlink -f "$h5dump")" "$OUT/build/h5dump"
# bench/gpu/*.cu: the device checks' own programs (sm_90a for the H200, compute_90 PTX for newer GPUs); kept
# between runs in $BUILD/bench/gpu and recompiled when the source changes
shopt -s nullglob
for cu in bench/gpu/*.cu; do
  name=$(basename "$cu" .cu)
  exe=$BUILD/bench/gpu/$name
  if [ ! -x "$exe" ] || [ "$cu" -nt "$exe" ]; then
    mkdir -p "$BUILD/bench/gpu"
    say "nvcc: $cu -> $exe"
    nice -n 10 "$NVCC" -O2 -std=c++17 -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90,code=compute_90 \
      -o "$exe" "$cu" -lcublas
  fi
  cp -p "$exe" "$OUT/build/bench/gpu/"
done
# debug sections stay here in build-gpu; the carried copies keep their symbols (backtraces) but not DWARF
find "$OUT/build" -type f -perm -u+x -exec strip --strip-debug {} +
say "binaries: $(find "$OUT/build" -type f | wc -l) programs copied into $OUT/build ($(du -sh "$OUT/build" | cut -f1))"

# himalaya, pure Python, the baseline of the GPU ridge benchmark (bench/gpu/ridge.sh, its torch_cuda backend): the
# wheel goes on the device's PYTHONPATH as it is (the machine has numpy, scipy, scikit-learn and torch)
mkdir -p "$OUT/wheels" .cache/gpu-bundle/wheels
if [ ! -f .cache/gpu-bundle/wheels/himalaya-$HIMALAYA-py3-none-any.whl ] &&
   ! python3 -m pip download --quiet --no-deps -d .cache/gpu-bundle/wheels "himalaya==$HIMALAYA"; then
  say "note: himalaya $HIMALAYA could not be downloaded: the GPU ridge benchmark will run without its baseline"
fi
cp .cache/gpu-bundle/wheels/himalaya-*.whl "$OUT/wheels/" 2>/dev/null || true

# 2. the libraries -------------------------------------------------------------------------------------------------
# the packages that own the given library files here, one dpkg -S call for all (a file may be registered with or
# without the /usr prefix); glibc and files of no package (the CUDA toolkit under /usr/local) are left out
owners_of() {
  local f cands=()
  for f in "$@"; do
    case "$f" in "$CUDA_HOME"*|/usr/local/cuda*) continue ;; esac
    cands+=("$f" "${f#/usr}")
    [ "${f#/usr/}" = "$f" ] && cands+=("/usr$f")
  done
  [ ${#cands[@]} -gt 0 ] || return 0
  { dpkg -S "${cands[@]}" 2>/dev/null || true; } | sed -n 's/^\([^:, ]*\)\(:[a-z0-9]*\)\{0,1\}: .*/\1/p' |
    { grep -vE "$SKIP_PKGS" || true; } | sort -u
}
lib_dirs() {  # the bundle's library folders so far, as LD_LIBRARY_PATH
  local d dirs=
  for d in "$STAGE"/root/$ARCH_DIR "$STAGE"/root/$ARCH_DIR/openblas-pthread "$STAGE"/root/$ARCH_DIR/openmpi/lib \
           "$STAGE"/base/$ARCH_DIR "$STAGE"/root/lib/x86_64-linux-gnu "$STAGE"/base/lib/x86_64-linux-gnu; do
    [ -d "$d" ] && dirs=$dirs${dirs:+:}$PWD/$d
  done
  echo "$dirs"
}
# the libraries the given ELF files load, the bundle's folders first: prints "pkg NAME" for each package outside
# the bundle that provides one, and "missing SONAME" for each that nothing provides
scan() {
  local ldp; ldp=$(lib_dirs)
  local out; out=$(for f in "$@"; do LD_LIBRARY_PATH=$ldp ldd "$f" 2>/dev/null; done | awk '$2 == "=>" {print $1, $3}' | sort -u)
  awk '$2 == "not" {print "missing", $1}' <<<"$out" | sort -u
  local paths; paths=$(awk '$2 != "not" {print $2}' <<<"$out" | { grep -v -e "^$PWD/$OUT/" -e "^$PWD/$STAGE/" || true; } | xargs -r readlink -f | sort -u)
  [ -n "$paths" ] || return 0
  owners_of $paths | sed 's/^/pkg /'
}
elf_files() {  # every ELF file under the given folders
  find "$@" -type f \( -perm -u+x -o -name '*.so*' \) 2>/dev/null | while read -r f; do
    if [ "$(head -c4 "$f" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then echo "$f"; fi
  done
}
deb_of() {  # the cached .deb of package $1 at version $2, if any
  local f
  for f in "$DEBS/${1}_${2//:/%3a}_"*.deb; do echo "$f"; return 0; done
}
installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

declare -A have=()
fetched=0 cached=0
add_package() {  # fetch (if not cached) and unpack one package into root/ or base/
  local p=$1
  [ -n "${have[$p]:-}" ] && return 0
  local v; v=$(installed_version "$p")
  [ -n "$v" ] || v=$(apt-cache policy "$p" | awk '/Candidate:/{print $2}')
  [ -n "$v" ] && [ "$v" != "(none)" ] || die "package $p: no version installed or available"
  # the version installed here, else (a rebuild may have replaced it in the archive) the archive's current one
  local cand; cand=$(apt-cache policy "$p" | awk '/Candidate:/{print $2}')
  local deb; deb=$(deb_of "$p" "$v")
  if [ -z "$deb" ] && [ -n "$cand" ] && [ "$cand" != "(none)" ] && [ "$cand" != "$v" ]; then
    deb=$(deb_of "$p" "$cand")
    [ -n "$deb" ] && v=$cand
  fi
  if [ -z "$deb" ]; then
    if ! (cd "$DEBS" && apt-get download -q "$p=$v" >/dev/null 2>&1); then
      [ -n "$cand" ] && [ "$cand" != "(none)" ] && [ "$cand" != "$v" ] || die "apt-get download $p=$v failed (apt-get update?)"
      say "note: $p $v (installed here) is no longer in the archive; taking $cand"
      v=$cand
      (cd "$DEBS" && apt-get download -q "$p=$v" >/dev/null 2>&1) || die "apt-get download $p=$v failed (apt-get update?)"
    fi
    deb=$(deb_of "$p" "$v")
    [ -n "$deb" ] || die "apt-get download $p=$v left no .deb in $DEBS"
    fetched=$((fetched + 1))
  else
    cached=$((cached + 1))
  fi
  local dest=root
  [[ $p =~ $BASE_PKGS ]] && dest=base
  dpkg -x "$deb" "$STAGE/$dest"
  have[$p]="$v $dest"
}

round=0
todo=$(scan $(elf_files "$OUT/build") | awk '$1 == "pkg" {print $2}')
for p in $EXTRA_PKGS; do todo="$todo $p"; done
while :; do
  round=$((round + 1))
  new=0
  for p in $todo; do
    [ -n "${have[$p]:-}" ] && continue
    add_package "$p"
    new=$((new + 1))
  done
  say "libraries, round $round: $new package(s) added"
  [ "$new" -gt 0 ] || break
  [ "$round" -lt 8 ] || die "the library closure did not settle in 8 rounds"
  # everything unpacked so far (components, mpirun, orted, the libraries themselves) and the programs again
  found=$(scan $(elf_files "$OUT/build" "$STAGE/root" "$STAGE/base"))
  todo=$(awk '$1 == "pkg" {print $2}' <<<"$found")
done
# sonames that still resolve outside the bundle although a file of theirs is in it: Debian makes those links in
# its install scripts (update-alternatives: libpsm_infinipath.so.1, ...; plugin folders), which dpkg -x does not
# run; link them into the library folder of the tree that holds them
aliased=
while read -r so path; do
  case "$path" in "$PWD/$STAGE"/*|"$PWD/$OUT"/*) continue ;; esac
  for tree in root base; do
    cand=$(find "$STAGE/$tree" \( -name "$so" -o -name "$so.*" \) \( -type f -o -type l \) 2>/dev/null | sort | head -1)
    if [ -n "$cand" ]; then
      mkdir -p "$STAGE/$tree/$ARCH_DIR"
      ln -sfr "$cand" "$STAGE/$tree/$ARCH_DIR/$so"
      aliased="$aliased $so"
      break
    fi
  done
done < <(ldp=$(lib_dirs); for f in $(elf_files "$OUT/build" "$STAGE/root" "$STAGE/base"); do
           LD_LIBRARY_PATH=$ldp ldd "$f" 2>/dev/null; done | awk '$2 == "=>" && $3 != "not" {print $1, $3}' | sort -u)
[ -z "$aliased" ] || say "links made where Debian's install scripts would make them:$aliased"
missing=$(scan $(elf_files "$OUT/build" "$STAGE/root" "$STAGE/base") | awk '$1 == "missing" {print $2}' | grep -v '^libcud' || true)
[ -z "$missing" ] || die "libraries still missing after the closure: $(echo $missing)"

# Open MPI finds its components, help files and configuration under OPAL_PREFIX (bench/gpu_env.sh); the
# libraries named through Debian's alternatives (libblas.so.3, liblapack.so.3) live in openblas-pthread/
for d in "$STAGE/root" "$STAGE/base"; do
  rm -rf "$d/usr/share/doc" "$d/usr/share/man" "$d/usr/share/lintian" "$d/usr/share/bug" "$d/usr/share/info" \
         "$d/usr/share/locale" "$d/usr/include" "$d/usr/lib/x86_64-linux-gnu/openmpi/include"
  find "$d" \( -name '*.a' -o -name '*.la' -o -name '*.pc' -o -name '*.h' \) -type f -delete
  find "$d" -type d -name pkgconfig -prune -exec rm -rf {} +
done
# the CUDA runtime our binary was linked against, for machines without the toolkit
cudart=$(ldd "$OUT/build/brainsweep" | awk '/libcudart/ {print $3}')
[ -n "$cudart" ] && [ -e "$cudart" ] || die "libcudart not found by ldd of $BUILD/brainsweep"
cp -L "$cudart" "$OUT/cuda/"

# root/ and base/ travel as one xz archive (about a quarter of their 100 MB; OpenBLAS with every CPU's kernels is
# 37 MB alone), unpacked on the machine by bench/gpu_env.sh; packed again only when the packages changed
pkglist=$(for p in "${!have[@]}"; do echo "$p ${have[$p]}"; done | sort)
stamp="$pkglist
script $(cksum < "$0")"
if [ -f .cache/gpu-bundle/libs.tar.xz ] && [ "$(cat .cache/gpu-bundle/libs.stamp 2>/dev/null)" = "$stamp" ]; then
  say "libs.tar.xz: same packages as last time, reused"
else
  say "libs.tar.xz: packing root/ and base/ (xz, about a minute)"
  tar -C "$STAGE" --owner=0 --group=0 --sort=name -cf - root base | nice -n 10 xz -6 -T2 > .cache/gpu-bundle/libs.tar.xz.tmp
  mv .cache/gpu-bundle/libs.tar.xz.tmp .cache/gpu-bundle/libs.tar.xz
  echo "$stamp" > .cache/gpu-bundle/libs.stamp
fi
cp .cache/gpu-bundle/libs.tar.xz "$OUT/libs.tar.xz"

# the newest glibc symbol version any bundled file asks for: the machine's glibc must be at least that
glibc_min=$(for f in $(elf_files "$OUT/build" "$STAGE/root" "$STAGE/base"); do readelf -V "$f" 2>/dev/null; done |
            grep -o 'GLIBC_2\.[0-9]*' | sed 's/GLIBC_//' | sort -t. -k2 -n -u | tail -1)

# 3. what went in --------------------------------------------------------------------------------------------------
bundle_kib=$(du -sk "$OUT" | cut -f1)
repo_kib=$(git ls-files -co --exclude-standard -z | xargs -0 du -ckb 2>/dev/null | tail -1 | awk '{print int($1 / 1024)}')
{
  echo "brainsweep device bundle"
  echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ) from git $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(test -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo -dirty)"
  echo "build: $("$OUT/build/brainsweep" version 2>/dev/null | head -2 | tr '\n' ';')"
  echo "nvcc: $("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  echo "cuda runtime fallback: $(basename "$cudart")"
  echo "glibc: $glibc_min or newer"
  echo "wheels: $(cd "$OUT/wheels" && ls 2>/dev/null | tr '\n' ' ')"
  echo "size: bundle $((bundle_kib / 1024)) MiB, repository files $((repo_kib / 1024)) MiB"
  echo "packages (name version folder):"
  sed 's/^/  /' <<<"$pkglist"
} > "$OUT/MANIFEST"
say "packages: ${#have[@]} unpacked (root/: $(grep -c ' root$' "$OUT/MANIFEST"), base/: $(grep -c ' base$' "$OUT/MANIFEST")); $fetched downloaded, $cached taken from $DEBS"
say "size: bundle $(du -sh "$OUT" | cut -f1) (build $(du -sh "$OUT/build" | cut -f1), libs.tar.xz $(du -sh "$OUT/libs.tar.xz" | cut -f1) holding root/ $(du -sh "$STAGE/root" | cut -f1) + base/ $(du -sh "$STAGE/base" | cut -f1), cuda $(du -sh "$OUT/cuda" | cut -f1)); repository files $((repo_kib / 1024)) MiB; together $(((bundle_kib + repo_kib) / 1024)) of $LIMIT_MIB MiB"
[ $((bundle_kib + repo_kib)) -le $((LIMIT_MIB * 1024)) ] || die "bundle + repository pass $LIMIT_MIB MiB: too big to carry"
say "done: carry .gpu-bundle with the repository and run bench/gpu_check.sh OUTDIR there"
