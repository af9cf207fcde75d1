#!/usr/bin/env bash
# Bounded fuzzing for CI (`make fuzz-check`): each harness in FUZZ_DIR first replays its committed corpus
# (tests/fuzz/corpus/<harness>/, which holds the regression inputs of every bug found), then mutates a
# scratch copy of it for SECONDS. Prints "PASS fuzz/<harness> N execs" or "FAIL fuzz/<harness> ..." per
# harness and "fuzz: N passed, N failed, N skipped"; exits 1 on any crash, leak, UB report or timeout.
# Inputs that fail are kept under FUZZ_DIR/artifacts/ to reproduce with `FUZZ_DIR/<harness> <file>`.
#
# The HDF5 harnesses also reach libhdf5's own parser, which (1.10, Debian 12) trusts lengths stored in a
# file in a few places and crashes or asks for gigabytes on a damaged one, before brainsweep's code sees
# anything. Those harnesses run in libFuzzer's fork mode, which carries on past a crash; every failing
# input is then replayed, and only a fault the rules at HDF5_KNOWN_CRASH attribute to libhdf5 is counted
# as the library's, listed and not failed. Any other, including libhdf5 writing past a buffer brainsweep
# passed it, fails the run.
# FUZZ_JOBS harnesses run at once (default: the cores), each on one core; their reports print in order.
# Usage: [FUZZ_RUNS=N] tests/fuzz/run.sh FUZZ_DIR [SECONDS] [HARNESS...]
set -uo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:?usage: tests/fuzz/run.sh FUZZ_DIR [SECONDS] [HARNESS...]}
SECONDS_EACH=${2:-20}
shift $(($# < 2 ? $# : 2))
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do names+=("$(basename "$src" .c)"); done
fi
# ASan's leak checker stays on; UBSan's reports abort (the harnesses are built with no recovery)
BASE_ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# FUZZ_SEED fixes libFuzzer's random seed, so that CI repeats the search that passed where the change was made
# (a fresh seed every run suits a campaign; a gate that fails at random on a finding unrelated to the change does
# not: findings belong in the campaign and then in the committed corpus)
seed=()
[ -z "${FUZZ_SEED:-}" ] || seed=(-seed="$FUZZ_SEED")
# FUZZ_RUNS ends each harness after that many executions, or at SECONDS, whichever comes first: a campaign asks
# for a count of executions, which a time on shared cores does not give (in fork mode libFuzzer counts every job's)
runs=()
if [ -n "${FUZZ_RUNS:-}" ]; then
  [[ $FUZZ_RUNS =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_RUNS=$FUZZ_RUNS: give a whole number of executions"; exit 1; }
  runs=(-runs="$FUZZ_RUNS")
fi

HDF5_HARNESSES=" fuzz_featcache fuzz_highgamma_h5 fuzz_results "
# A fault is counted as libhdf5's when its innermost frame is in libhdf5 and either the call brainsweep
# made was not a read into its own buffer (H5Fopen, H5Aopen, H5Dopen2...: the library faulted decoding
# the file), or it was (H5Dread, H5Aread) but the fault is an out-of-memory, a timeout, or a memory error in
# or below a function that only decodes the file's own structures: H5HG_read (a global heap object's stored
# length, vlen strings; the heap is loaded through the metadata cache, so the innermost frame may be
# H5C_protect), or a fault on memory libhdf5 allocated itself (alloc_in_hdf5). A buffer brainsweep sized wrongly
# faults in the copy into it and stays ours.
HDF5_KNOWN_CRASH='^(H5HG_read)$'

# "innermost-function innermost-module api chain" of a replayed report: the innermost named frame past the
# sanitizer runtime, libc's memory and string calls and libFuzzer, the libhdf5 function brainsweep's code
# called, and every named libhdf5 frame from the innermost to that call, comma-separated
first_frame() {
  grep -E '^ +#[0-9]+ 0x[0-9a-f]+ in ' "$1" | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in ([^ ]+) \(?([^ )+]*).*/\1 \2/' |
    grep -vE '^(__asan|__interceptor|__sanitizer|__lsan|__ubsan|__mem|__str|malloc|calloc|realloc|free|mem[a-z]+|str[a-z]+|fuzzer::)' |
    awk 'NR == 1 {fn = $1; mod = $2} $2 !~ /libhdf5/ {print fn, mod, prev, chain; found = 1; exit}
         {prev = $1; chain = chain (chain == "" ? "" : ",") $1}
         END {if (!found && NR) print fn, mod, prev, chain}'
}

# alloc_in_hdf5 LOG: 1 when the memory a report's fault touched was allocated inside libhdf5 (the innermost frame of
# its "allocated by" stack past the allocator), else 0 or nothing: then a fault under H5Dread or H5Aread lies in
# libhdf5's own buffer (a block its free lists kept from an earlier, damaged file), not in the one brainsweep passed
alloc_in_hdf5() {
  awk '/allocated by thread/ {on = 1; next}
       on && !/^ +#[0-9]+ / {exit}
       on && !/ in (malloc|calloc|realloc|__interceptor_[a-z]+|__asan[^ ]*|operator new[^ ]*) / {print (/libhdf5/ ? 1 : 0); exit}' "$1"
}

# hang_stack BIN INPUT LOG: the stack of an input that hangs, where libFuzzer's alarm printed none (it mostly lands in a
# slow unwind inside malloc): the input run with no time limit, its stack sampled by gdb after a few seconds and
# appended to LOG in ASan's frame format, so first_frame reads it (frames gdb cannot name are left out; the next
# named frame in the same library stands for them). Nothing where gdb is absent, or where the input ends first.
hang_stack() {
  command -v gdb >/dev/null || return 0
  ASAN_OPTIONS=$BASE_ASAN_OPTIONS:detect_leaks=0 "$1" -timeout=0 -rss_limit_mb=8192 -malloc_limit_mb=1024 "$2" \
    >/dev/null 2>&1 &
  local pid=$!
  sleep "${FUZZ_HANG_SAMPLE_S:-6}"
  if kill -0 "$pid" 2>/dev/null; then
    gdb -p "$pid" -batch -ex "bt 64" 2>/dev/null |
      sed -nE 's/^#([0-9]+) +(0x[0-9a-f]+ in )?([^ ?][^ ]*) \(.*\)( from ([^ ]+))?.*$/    #\1 0x0 in \3 (\5)/p' >>"$3"
  fi
  kill -9 "$pid" 2>/dev/null  # a plain TERM can leave it waiting in libhdf5's state
  wait "$pid" 2>/dev/null
  return 0
}

# fuzz_one HARNESS: its report, ending with one PASS, FAIL or SKIP line
fuzz_one() {
  local h=$1 bin=$DIR/$1 seeds=tests/fuzz/corpus/$1
  if [ ! -x "$bin" ]; then
    echo "SKIP fuzz/$h  not built ($bin; run make fuzz)"; return
  fi
  if [ ! -d "$seeds" ]; then
    echo "FAIL fuzz/$h  no committed corpus at $seeds"; return
  fi
  local work log rc replay_rc execs cov why limits
  export ASAN_OPTIONS=$BASE_ASAN_OPTIONS
  work=$(mktemp -d) log=$(mktemp)
  cp -r "$seeds/." "$work/"
  limits=(-timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=2048)
  if [[ $HDF5_HARNESSES == *" $h "* ]]; then
    # full stacks for leaks (libhdf5 has no frame pointers), so lsan.supp can name libhdf5's functions;
    # a short timeout, as libhdf5 can loop for minutes over a damaged heap
    export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
    limits[0]=-timeout=5
    # libhdf5 sizes some buffers from lengths stored in the file (2 GB in H5T__conv_vlen): a single allocation that
    # big is stopped at the malloc, with its stack, below the RSS limit. The RSS limit is checked once a second and
    # also counts the freed buffer ASan still holds in quarantine, so it may stop a later input, one that runs clean
    # alone, and name no culprit
    limits[2]=-malloc_limit_mb=1024
    local art a kind fn module api chain decoder f replay known=() ours=()
    art=$(mktemp -d)
    # the committed corpus first, as a plain replay: a regression there fails as in any harness
    "$bin" "${limits[@]}" -runs=0 -artifact_prefix="$art/" "$work" >"$log" 2>&1
    rc=$? replay_rc=$?
    if [ $rc -eq 0 ]; then
      "$bin" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$SECONDS_EACH" "${runs[@]}" "${limits[@]}" \
        "${seed[@]}" -artifact_prefix="$art/" "$work" >"$log" 2>&1
      rc=$?
    fi
    execs=$(grep -oE '^#[0-9]+:' "$log" | tail -1 | tr -d '#:')
    for a in "$art"/*; do
      [ -e "$a" ] || continue
      kind=$(basename "$a" | cut -d- -f1)
      # a timeout's stack without fast_unwind_on_malloc=0: the alarm mostly lands inside a slow unwind in malloc,
      # and the stack printed from there is empty (then hang_stack samples one)
      # an out-of-memory input is replayed with room for ASan's shadow of a many-GB allocation (2 GB of RSS for a
      # 17 GB buffer libhdf5 sizes from a damaged header), which alone trips the 2 GB RSS check; that check's report
      # then races the malloc limit's and leaves no stack to attribute the input by
      replay=("${limits[@]}")
      [ "$kind" != oom ] || replay[1]=-rss_limit_mb=8192
      if [ "$kind" = timeout ]; then
        ASAN_OPTIONS=$BASE_ASAN_OPTIONS "$bin" "${replay[@]}" "$a" >"$log.replay" 2>&1
      else
        "$bin" "${replay[@]}" "$a" >"$log.replay" 2>&1
      fi
      fn='' module='' api='' chain='' decoder=''
      read -r fn module api chain < <(first_frame "$log.replay")
      if [ "$kind" = timeout ] && [ -z "$fn" ]; then
        hang_stack "$bin" "$a" "$log.replay"
        read -r fn module api chain < <(first_frame "$log.replay")
      fi
      # a timeout that ends alone within the limit was slowed by the load beside it; what makes it slow is mostly one
      # huge allocation (libhdf5 sizing a buffer from a length the file stores), whose stack a low malloc limit shows
      if [ "$kind" = timeout ] && [ -z "$fn" ]; then
        "$bin" -timeout=0 -rss_limit_mb=8192 -malloc_limit_mb=256 "$a" >>"$log.replay" 2>&1
        read -r fn module api chain < <(first_frame "$log.replay")
      fi
      for f in ${chain//,/ }; do [[ $f =~ $HDF5_KNOWN_CRASH ]] && decoder=$f; done
      if [[ $module == *libhdf5* ]] && { [[ ! $api =~ ^H5(Dread|Aread)$ ]] || [ -n "$decoder" ] ||
                                        [[ $kind =~ ^(oom|timeout)$ ]] || [ "$(alloc_in_hdf5 "$log.replay")" = 1 ]; }; then
        [ "$decoder" != "$fn" ] || decoder=''
        known+=("$kind@${decoder:+$decoder>}$fn")
      else
        ours+=("$DIR/artifacts/$h-$(basename "$a")")
        cp "$a" "${ours[-1]}"
        # an input that runs clean alone faulted on state earlier inputs of its job left (a library's global
        # state, or ours): no stack to attribute it by, so it fails the run; replay the job's inputs in one process
        # (plain mode, -detect_leaks=0) to see where
        if [ -z "$fn" ] && ! grep -qE '^==[0-9]+==ERROR|^SUMMARY: |runtime error:' "$log.replay"; then
          echo "  $(basename "$a"): runs clean alone (the fault needs the state of earlier inputs in its job)"
        else
          echo "  $(basename "$a"): innermost frame ${fn:-unknown}"
        fi
      fi
    done
    rm -rf "$art" "$log.replay"
    # fork mode exits non-zero when a job crashed or timed out, even with -ignore_*: the replays decide
    # (a committed input that fails fails the run, even inside libhdf5)
    if [ $replay_rc -eq 0 ] && [ ${#ours[@]} -eq 0 ] && { [ $rc -eq 0 ] || [ ${#known[@]} -gt 0 ]; }; then
      local lib=""
      [ ${#known[@]} -gt 0 ] && lib="  (${#known[@]} input(s) fault inside libhdf5: $(printf '%s\n' "${known[@]}" | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}'))"
      echo "PASS fuzz/$h  ${execs:-?} execs  $(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)  corpus $(ls "$work" | wc -l)$lib"
    else
      local where=""
      [ $replay_rc -ne 0 ] && where=" in the committed corpus replay"
      echo "FAIL fuzz/$h  exit $rc$where; inputs that fail in brainsweep's code: ${ours[*]:-none (see the replay above)}"
    fi
    rm -rf "$work" "$log"
    return
  fi
  "$bin" -max_total_time="$SECONDS_EACH" "${runs[@]}" "${limits[@]}" "${seed[@]}" -print_final_stats=1 -artifact_prefix="$DIR/artifacts/$h-" \
    "$work" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  if [ $rc -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: ' "$log"; then
    echo "PASS fuzz/$h  ${execs:-?} execs  ${cov:-}  corpus $(ls "$work" | wc -l)"
  else
    why=$(grep -m1 -E '^==[0-9]+==ERROR|runtime error:|^SUMMARY: |ERROR: libFuzzer' "$log")
    grep -E '^ +#[0-9]+ ' "$log" | head -12
    grep -E "Test unit written to" "$log" | tail -1
    echo "FAIL fuzz/$h  exit $rc after ${execs:-?} execs: ${why:-see log}"
  fi
  rm -rf "$work" "$log"
}

JOBS=${FUZZ_JOBS:-$(nproc)}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_JOBS=$JOBS: give a whole number of harnesses to run at once"; exit 1; }
mkdir -p "$DIR/artifacts"
if ! out=$(mktemp -d) || [ -z "$out" ]; then echo "cannot make a folder for the harnesses' reports"; exit 1; fi
trap 'kill $(jobs -rp) 2>/dev/null; rm -rf "$out"' EXIT
for i in "${!names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  # each report goes whole to a file of its own and is printed below in the harnesses' order
  fuzz_one "${names[$i]}" >"$out/$i" 2>&1 &
done
wait
passed=0 failed=0 skipped=0
for i in "${!names[@]}"; do
  cat "$out/$i"
  case "$(grep -oE '^(PASS|FAIL|SKIP) fuzz/' "$out/$i" | tail -1)" in
    PASS*) passed=$((passed + 1)) ;;
    SKIP*) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)) ;;  # a report without its verdict line failed too
  esac
done
echo "fuzz: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
