#!/usr/bin/env bash
# Two builds of the ridge engine on the same problems: are the scores the same, and is the new one as fast?
#   bench/ridge_compare.sh OLD_RIDGE_BENCH NEW_RIDGE_BENCH [ROUNDS] [-- RIDGE_BENCH_ARGS...]
# Per round, old then new then new then old (so a drift of the machine's load falls on both alike), each one
# run of ridge_bench; prints each build's median fit time over its runs and the ratio new/old, the same for the
# processes' CPU seconds (user + system: less sensitive to other jobs on shared cores than the wall time, though
# data generation and ridge_bench's sgemm yardstick count in it alike for both), and the largest |r| and |alpha|
# difference between the builds' outputs (0: identical bit for bit). Default problem:
# --shape 2000,300,4000 --select inner, 2 threads.
set -euo pipefail
old=${1:?usage: $0 OLD NEW [ROUNDS] [-- ARGS...]} new=${2:?usage: $0 OLD NEW [ROUNDS] [-- ARGS...]}
shift 2
rounds=5
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--shape 2000,300,4000 --select inner --threads 2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/old" "$work/new"
times_old=() times_new=()
TIMEFORMAT='%U %S'
one() {  # build-name binary -> "fit-seconds cpu-seconds"
  local fit cpu
  { cpu=$( { time "$2" "${args[@]}" --reps 1 --out "$work/$1" >"$work/$1.log"; } 2>&1 ); } || return 1
  fit=$(sed -n 's/^median \([0-9.]*\) s.*/\1/p' "$work/$1.log")
  echo "$fit $(awk '{print $1 + $2}' <<<"$cpu")"
}
for ((i = 0; i < rounds; i++)); do
  times_old+=("$(one old "$old")")
  times_new+=("$(one new "$new")")
  times_new+=("$(one new "$new")")
  times_old+=("$(one old "$old")")
done
python3 - "$work" "${times_old[*]}" "${times_new[*]}" <<'EOF'
import statistics, struct, sys
work = sys.argv[1]
old_all, new_all = [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
old, new, old_cpu, new_cpu = old_all[0::2], new_all[0::2], old_all[1::2], new_all[1::2]
def f64(path):
    data = open(path, 'rb').read()
    return struct.unpack('%dd' % (len(data) // 8), data)
def maxdiff(name):
    a, b = f64(f'{work}/old/{name}'), f64(f'{work}/new/{name}')
    assert len(a) == len(b), 'the builds wrote different counts'
    d = 0.0
    for x, y in zip(a, b):
        if x != y and not (x != x and y != y):  # NaN in both counts as equal
            d = max(d, abs(x - y) if x == x and y == y else float('inf'))
    return d
mo, mn = statistics.median(old), statistics.median(new)
print(f'fit: old median {mo:.3f} s ({len(old)} runs), new median {mn:.3f} s ({len(new)} runs), new/old {mn / mo:.3f}')
print(f'     old {" ".join(f"{x:.2f}" for x in old)}; new {" ".join(f"{x:.2f}" for x in new)}')
co, cn = statistics.median(old_cpu), statistics.median(new_cpu)
print(f'cpu: old median {co:.2f} s, new median {cn:.2f} s, new/old {cn / co:.3f}')
print(f'max |r diff| {maxdiff("r.f64"):.3g}, max |alpha diff| {maxdiff("alpha.f64"):.3g}')
EOF
