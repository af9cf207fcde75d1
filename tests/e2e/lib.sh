# Helpers for the end-to-end tests: one PASS/FAIL line per check, then the summary line.
# Sourced by tests/e2e/test_*.sh, which run from the repository root (tests/run.sh does that).
BRAINSWEEP=${BRAINSWEEP:-build/brainsweep}
# mpirun refuses root and more ranks than cores unless told; tests use 2 ranks on any machine
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
E2E_NAME=$(basename "$0" .sh)
E2E_PASSED=0 E2E_FAILED=0 E2E_SKIPPED=0
# a test without its temporary folder would write into the current one: that is a failure, not a skip
if ! E2E_TMP=$(mktemp -d) || [ -z "$E2E_TMP" ]; then
  echo "FAIL $E2E_NAME/temporary_folder  mktemp -d failed"
  echo "$E2E_NAME: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
trap 'rm -rf "$E2E_TMP"' EXIT

check() {  # check "description" command...
  local what=$1; shift
  if "$@"; then E2E_PASSED=$((E2E_PASSED + 1)); echo "PASS $E2E_NAME/$what"
  else E2E_FAILED=$((E2E_FAILED + 1)); echo "FAIL $E2E_NAME/$what"; fi
}
skip() { E2E_SKIPPED=$((E2E_SKIPPED + 1)); echo "SKIP $E2E_NAME/$1  $2"; }
# skip_unless_ci NAME REASON: a case CI provides for (.ci/run installs what it needs, CI is set there): a SKIP
# elsewhere, a FAIL under CI, which must not pass on a case it could have run (tests/test.h, SKIP_UNLESS_CI)
skip_unless_ci() {
  case "${CI:-}" in
    "" | false | 0) skip "$1" "$2" ;;
    *) E2E_FAILED=$((E2E_FAILED + 1)); echo "FAIL $E2E_NAME/$1  $2 (a failure under CI)" ;;
  esac
}
summary() { echo "$E2E_NAME: $E2E_PASSED passed, $E2E_FAILED failed, $E2E_SKIPPED skipped"; [ "$E2E_FAILED" -eq 0 ]; }

values() {  # values FILE DATASET [h5dump selection...]: one number (or quoted string) per line
  local f=$1 d=$2; shift 2
  h5dump -d "$d" "$@" -y -w 0 -m '%.9g' -o "$E2E_TMP/values.txt" "$f" >/dev/null 2>&1
  tr ', ' '\n\n' <"$E2E_TMP/values.txt" | grep -v '^$'
}

# ieeg_sim_yaml SIM OUT NAME=PATH...: the config of a sweep of a dataset made by `brainsweep simulate` (word
# responses, no delays, 5 folds), one model per NAME=PATH; other keys come as -P overrides
ieeg_sim_yaml() {
  local sim=$1 out=$2 m; shift 2
  echo "models:"
  for m in "$@"; do echo "  - {name: ${m%%=*}, path: ${m#*=}}"; done
  cat <<YAML
stimulus:
  file: $sim/stimuli/words.tsv
recordings:
  format: ieeg
ieeg:
  bids: $sim
  task: podcast
  stimulus_event: podcast
design:
  delays: [0]
ridge:
  folds: 5
output:
  path: $out
YAML
}
