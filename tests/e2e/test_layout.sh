#!/usr/bin/env bash
# The dependency rules of docs/design.md ("Layout"), checked on the #include lines of the sources:
#  - host/ includes host/ only: never mpi/ or cuda/ (host/ is the part that builds and tests without either);
#  - cuda/ never includes mpi/;
#  - a reader of outside input (a file format: gguf, safetensors, edf, bids, tsv, h5io, stimulus, recording,
#    tokenizer, tokenizer_load, featcache, config, results_read) never includes the analysis code (analysis.h, analyze.h,
#    report.h), so a reader stays small enough to fuzz on its own and never drags the statistics in.
# Each broken rule is one FAIL line naming the file, the line and the include.
source "$(dirname "$0")/lib.sh"

READERS="gguf safetensors edf bids tsv h5io stimulus recording tokenizer tokenizer_load featcache config results_read"
ANALYSIS='(analysis|analyze|report)\.h'

# forbidden NAME REGEX FILES...: one check per rule; every offending include is printed on its FAIL line
forbidden() {
  local name=$1 regex=$2; shift 2
  local hits
  hits=$(grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"$regex" "$@" 2>/dev/null)
  if [ -z "$hits" ]; then check "$name" true
  else
    while IFS= read -r h; do echo "FAIL $E2E_NAME/$name  ${h%%:*}:$(cut -d: -f2 <<<"$h"): $(cut -d: -f3- <<<"$h" | tr -s ' ')"; done <<<"$hits"
    E2E_FAILED=$((E2E_FAILED + 1))
  fi
}

shopt -s nullglob
host=(host/*.c host/*.h)
cuda=(cuda/*.c cuda/*.h cuda/*.cu cuda/*.cuh cuda/ops/*.cu cuda/ops/*.cuh)
readers=()
for r in $READERS; do for f in host/$r.c host/$r.h; do [ -e "$f" ] && readers+=("$f"); done; done
check "sources_found (${#host[@]} in host/, ${#readers[@]} of readers)" test ${#host[@]} -gt 0 -a ${#readers[@]} -gt 0
forbidden "host_includes_no_mpi_or_cuda" '(mpi|cuda)/' "${host[@]}"
forbidden "cuda_includes_no_mpi" 'mpi/' "${cuda[@]}"
forbidden "readers_include_no_analysis" "([a-z]+/)?$ANALYSIS" "${readers[@]}"

# the check itself: a planted include of each kind is caught, by file name
mkdir -p "$E2E_TMP/host"
printf '#include "host/base.h"\n#include "mpi/comm.h"\n' >"$E2E_TMP/host/planted.c"
out=$(cd "$E2E_TMP" && E2E_NAME=planted forbidden x '(mpi|cuda)/' host/planted.c)
check "planted_mpi_include_caught" grep -q 'FAIL planted/x  host/planted.c:2: #include "mpi/comm.h"' <<<"$out"
summary
