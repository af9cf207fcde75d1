# bench/gpu_env.sh: sourced (bash) from the repository root by the device scripts (bench/gpu_check.sh, later
# bench/gpu_sweep.sh) to run the programs of .gpu-bundle/ (bench/gpu_bundle.sh) on a machine that lacks their
# libraries. It
#   1. unpacks .gpu-bundle/libs.tar.xz into BS_UNPACKED (default ${TMPDIR:-/tmp}/brainsweep-bundle-CHECKSUM, so
#      the carried folder stays as small as it was made), root/ and base/, once per archive; with xz, or with
#      python3's tarfile where there is no xz;
#   2. builds the library path of our programs: root/'s folders first (the HPC stack, always the bundle's), then
#      BS_UNPACKED/fallback, links to those base/ libraries that the machine itself lacks (found with ldd over
#      every program and library of the bundle, repeated until nothing more is missing), then the CUDA runtime's
#      folder where the machine's own libcudart is not found (the toolkit's lib64, python's nvidia packages, or
#      the bundle's copy as the last resort), and cuBLAS's folder where the binary's run path misses it (never
#      carried: the toolkit's lib64 or python's nvidia packages);
#   3. exports Open MPI's relocation variables (OPAL_PREFIX and friends, PMIx's prefix), root permission,
#      the singleton start without the helper daemon (OMPI_MCA_ess_singleton_isolated=1) and mpirun's local-only
#      launcher (OMPI_MCA_plm=isolated: no ssh on the machine, one node).
# The library path is NOT exported: bs_run CMD... runs one command with it, so the machine's own tools (nvidia-smi,
# nvcc, python3) keep their own libraries. Defines: BUNDLE, BS_BIN, BS_UNPACKED, BS_LD_PATH, bs_run, bs_ldd, bs_env_report.
# Returns non-zero (and says why) only when the bundle is absent or cannot be unpacked.

BUNDLE=$(cd "${BUNDLE:-.gpu-bundle}" 2>/dev/null && pwd) || { echo "gpu_env: no .gpu-bundle here (run bench/gpu_bundle.sh and carry .gpu-bundle)" >&2; return 1; }
BS_BIN=$BUNDLE/build
_bs_arch=usr/lib/x86_64-linux-gnu

# 1. unpack
_bs_stamp=$(cksum < "$BUNDLE/libs.tar.xz" 2>/dev/null) || { echo "gpu_env: $BUNDLE/libs.tar.xz is missing" >&2; return 1; }
BS_UNPACKED=${BS_UNPACKED:-${TMPDIR:-/tmp}/brainsweep-bundle-${_bs_stamp%% *}}
if [ "$(cat "$BS_UNPACKED/.unpacked" 2>/dev/null)" != "$_bs_stamp" ]; then
  rm -rf "$BS_UNPACKED"
  mkdir -p "$BS_UNPACKED" || { echo "gpu_env: cannot make $BS_UNPACKED" >&2; return 1; }
  if command -v xz >/dev/null; then
    xz -dc "$BUNDLE/libs.tar.xz" | tar -C "$BS_UNPACKED" -xf - || { echo "gpu_env: unpacking libs.tar.xz with xz failed" >&2; return 1; }
    _bs_unpacker=xz
  elif command -v python3 >/dev/null; then
    python3 -c 'import sys, tarfile; t = tarfile.open(sys.argv[1], "r:xz"); t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))' \
      "$BUNDLE/libs.tar.xz" "$BS_UNPACKED" || { echo "gpu_env: unpacking libs.tar.xz with python3 failed" >&2; return 1; }
    _bs_unpacker=python3
  else
    echo "gpu_env: neither xz nor python3 is here to unpack libs.tar.xz" >&2; return 1
  fi
  echo "$_bs_stamp" > "$BS_UNPACKED/.unpacked"
  echo "gpu_env: unpacked libs.tar.xz ($_bs_unpacker) into $BS_UNPACKED (root/, base/)"
fi

# 2. the library path
_bs_root=$BS_UNPACKED/root
BS_LD_PATH=
for _bs_d in "$_bs_root/$_bs_arch" "$_bs_root/$_bs_arch/openblas-pthread" "$_bs_root/$_bs_arch/openmpi/lib" \
             "$_bs_root/lib/x86_64-linux-gnu"; do
  [ -d "$_bs_d" ] && BS_LD_PATH=$BS_LD_PATH${BS_LD_PATH:+:}$_bs_d
done
_bs_elves() {  # the bundle's programs and shared libraries
  find "$BS_BIN" "$_bs_root" -type f \( -perm -u+x -o -name '*.so*' \) 2>/dev/null | while read -r f; do
    if [ "$(head -c4 "$f" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then echo "$f"; fi
  done
}
_bs_missing() {  # sonames that no folder of BS_LD_PATH nor the machine provides, over the given files
  local f
  for f in "$@"; do LD_LIBRARY_PATH=$BS_LD_PATH ldd "$f" 2>/dev/null; done | awk '$2 == "=>" && $3 == "not" {print $1}' | sort -u
}
rm -rf "$BS_UNPACKED/fallback"
mkdir -p "$BS_UNPACKED/fallback"
BS_LD_PATH=$BS_LD_PATH:$BS_UNPACKED/fallback
_bs_files=$(_bs_elves)
BS_FALLBACK=
for _bs_round in 1 2 3 4 5 6; do
  _bs_new=0
  for _bs_so in $(_bs_missing $_bs_files "$BS_UNPACKED"/fallback/*); do
    for _bs_d in "$BS_UNPACKED/base/$_bs_arch" "$BS_UNPACKED/base/lib/x86_64-linux-gnu"; do
      if [ -e "$_bs_d/$_bs_so" ] && [ ! -e "$BS_UNPACKED/fallback/$_bs_so" ]; then
        ln -s "$(readlink -f "$_bs_d/$_bs_so")" "$BS_UNPACKED/fallback/$_bs_so"
        BS_FALLBACK="$BS_FALLBACK $_bs_so"
        _bs_new=1
        break
      fi
    done
  done
  [ $_bs_new = 1 ] || break
done
# the CUDA runtime: the machine's (the binary's run path, the toolkit, python's nvidia packages), else the bundle's
BS_CUDART=machine
if _bs_missing "$BS_BIN/brainsweep" | grep -q '^libcudart'; then
  BS_CUDART=
  for _bs_d in ${CUDA_HOME:+$CUDA_HOME/lib64} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
               /usr/local/cuda-*/lib64 $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
    [ -d "$_bs_d" ] || continue
    _bs_f=$(find "$_bs_d" -maxdepth 4 -name 'libcudart.so.1[0-9]*' 2>/dev/null | head -1)
    if [ -n "$_bs_f" ]; then BS_CUDART=$(dirname "$_bs_f"); break; fi
  done
  [ -n "$BS_CUDART" ] || BS_CUDART=$BUNDLE/cuda
  BS_LD_PATH=$BS_LD_PATH:$BS_CUDART
fi
# cuBLAS (the CUDA decoder's matrix products) is loaded at run time (dlopen of libcublas.so.MAJOR, the CUDA
# runtime's major version) and never carried (hundreds of MB): the machine's, through ldconfig or the binaries' run
# path (the toolkit's lib64), else found in the toolkit's folders or python's nvidia packages and added to the path
_bs_major=$(LD_LIBRARY_PATH=$BS_LD_PATH ldd "$BS_BIN/brainsweep" 2>/dev/null | awk '$1 ~ /^libcudart\.so\./ {sub(/^libcudart\.so\./, "", $1); print $1; exit}')
BS_CUBLAS="not needed (no CUDA runtime linked)"
if [ -n "$_bs_major" ]; then
  _bs_so=libcublas.so.$_bs_major
  BS_CUBLAS="MISSING ($_bs_so: the CUDA decoder cannot run; run.device auto falls back to the CPU)"
  _bs_runpath=$(readelf -d "$BS_BIN/brainsweep" 2>/dev/null | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p' | tr ':' ' ')
  for _bs_d in $_bs_runpath ${CUDA_HOME:+$CUDA_HOME/lib64} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
               /usr/local/cuda-*/lib64 $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
    [ -d "$_bs_d" ] || continue
    _bs_f=$(find "$_bs_d" -maxdepth 4 -name "$_bs_so" 2>/dev/null | head -1)
    if [ -n "$_bs_f" ]; then BS_CUBLAS=$(dirname "$_bs_f"); BS_LD_PATH=$BS_LD_PATH:$BS_CUBLAS; break; fi
  done
  if [ "${BS_CUBLAS#MISSING}" != "$BS_CUBLAS" ] && ldconfig -p 2>/dev/null | grep -q "$_bs_so "; then
    BS_CUBLAS="the machine's ($(ldconfig -p | awk -v so="$_bs_so" '$1 == so {print $NF; exit}'))"
  fi
fi

# the fits' cuSOLVER and cuFFT and the stages' NCCL are loaded at run time the same way: their folders, where the
# machine's loader does not know them, found in the same places and added to the path
for _bs_lib in cusolver cufft nccl; do
  ldconfig -p 2>/dev/null | grep -q "lib$_bs_lib\.so\." && continue
  for _bs_d in ${CUDA_HOME:+$CUDA_HOME/lib64} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
               $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
    [ -d "$_bs_d" ] || continue
    _bs_f=$(find "$_bs_d" -maxdepth 4 -name "lib$_bs_lib.so.*" 2>/dev/null | head -1)
    if [ -n "$_bs_f" ]; then BS_LD_PATH=$BS_LD_PATH:$(dirname "$_bs_f"); break; fi
  done
done

bs_run() { LD_LIBRARY_PATH=$BS_LD_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"; }
bs_ldd() { LD_LIBRARY_PATH=$BS_LD_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$@"; }

# 3. Open MPI and PMIx from the bundle (Debian's build: prefix /usr, configuration in /etc/openmpi)
export OPAL_PREFIX=$_bs_root/usr OPAL_EXEC_PREFIX=$_bs_root/usr OPAL_BINDIR=$_bs_root/usr/bin \
       OPAL_LIBDIR=$_bs_root/$_bs_arch/openmpi/lib OPAL_PKGLIBDIR=$_bs_root/$_bs_arch/openmpi/lib/openmpi3 \
       OPAL_DATAROOTDIR=$_bs_root/usr/share OPAL_DATADIR=$_bs_root/usr/share OPAL_PKGDATADIR=$_bs_root/usr/share/openmpi \
       OPAL_SYSCONFDIR=$_bs_root/etc/openmpi PMIX_INSTALL_PREFIX=$_bs_root/$_bs_arch/pmix2 \
       OMPI_MCA_mca_base_component_path=$_bs_root/$_bs_arch/openmpi/lib/openmpi3 \
       PMIX_MCA_mca_base_component_path=$_bs_root/$_bs_arch/pmix2/lib/pmix \
       OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_ess_singleton_isolated=1 \
       OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1 \
       OMPI_MCA_plm=isolated
BS_MPIRUN=$_bs_root/usr/bin/mpirun.openmpi   # Debian names mpirun through its alternatives, which dpkg -x does not make

bs_env_report() {  # where each library of brainsweep comes from, grouped
  local so path _ root= fb= sys= cuda= miss=
  while read -r so _ path _; do
    case "$path" in
      "$BS_UNPACKED/fallback"/*|"$BS_UNPACKED/base"/*) fb="$fb $so" ;;
      "$BUNDLE/cuda"/*) cuda="$cuda $so" ;;
      "$_bs_root"/*) root="$root $so" ;;
      not) miss="$miss $so" ;;
      *) sys="$sys $so" ;;
    esac
  done < <(bs_ldd "$BS_BIN/brainsweep" | awk '$2 == "=>"')
  local need have_glibc
  need=$(sed -n 's/^glibc: \([0-9.]*\) or newer/\1/p' "$BUNDLE/MANIFEST" 2>/dev/null)
  have_glibc=$(ldd --version 2>&1 | head -1 | grep -o '[0-9]\+\.[0-9]\+$')
  if [ -n "$need" ] && [ -n "$have_glibc" ]; then
    if [ "$(printf '%s\n%s\n' "$need" "$have_glibc" | sort -t. -k1,1n -k2,2n | head -1)" = "$need" ]; then
      echo "glibc: the machine's $have_glibc, the bundle needs $need or newer: ok"
    else
      echo "glibc: the machine's $have_glibc, the bundle needs $need or newer: TOO OLD (some bundled libraries will not load)"
    fi
  fi
  echo "libraries of brainsweep (ldd with the bundle's path):"
  echo "  from the bundle's root/ ($(wc -w <<<"$root")):$root"
  echo "  from the bundle's base/, the machine lacking them ($(wc -w <<<"$fb")):${fb:- none}"
  echo "  from the machine ($(wc -w <<<"$sys")):$sys"
  if [ -n "$cuda" ]; then echo "  CUDA runtime: the copy in the bundle (the machine has none):$cuda"; else echo "  CUDA runtime: from $BS_CUDART"; fi
  echo "  cuBLAS (loaded at run time): ${BS_CUBLAS:-?}"
  echo "  MISSING ($(wc -w <<<"$miss")):${miss:- none}"
  echo "base/ libraries linked in for any bundled program:${BS_FALLBACK:- none}"
  local all other toolkit
  all=$(_bs_missing $_bs_files)
  other=$(grep -vE '^lib(cu|nv)' <<<"$all" | tr '\n' ' ')
  toolkit=$(grep -E '^lib(cu|nv)' <<<"$all" | tr '\n' ' ')
  echo "still missing over all $(wc -w <<<"$_bs_files") bundled files: ${other:-none}"
  echo "CUDA toolkit libraries that bundled programs need but this machine lacks: ${toolkit:-none}"
}
