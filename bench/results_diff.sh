#!/usr/bin/env bash
# The largest difference between two results files' scores, dataset by dataset (h5dump, no Python packages):
#   bench/results_diff.sh OLD.h5 NEW.h5 [DATASET...]     (default /scores/r /scores/r2 /scores/alpha)
# Prints one line per dataset: its value count, how many differ at all, and the largest |difference|
# (NaN on both sides counts as equal, NaN on one side as infinite). Exit 1 when the shapes differ.
set -euo pipefail
a=${1:?usage: $0 OLD.h5 NEW.h5 [DATASET...]} b=${2:?usage: $0 OLD.h5 NEW.h5 [DATASET...]}
shift 2
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(/scores/r /scores/r2 /scores/alpha)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for d in "${sets[@]}"; do
  for side in a b; do
    file=${!side}
    # 17 significant digits: every float64 (and float32) value printed exactly enough to compare bit for bit
    h5dump -d "$d" -y -w 0 -m '%.17g' -o "$work/$side.txt" "$file" >/dev/null
    tr ', ' '\n\n' <"$work/$side.txt" | grep -v '^$' >"$work/$side.col"
  done
  if [ "$(wc -l <"$work/a.col")" -ne "$(wc -l <"$work/b.col")" ]; then
    echo "$d: the files hold different counts"; status=1; continue
  fi
  paste "$work/a.col" "$work/b.col" | awk -v name="$d" '
    function isnan(x) { return x ~ /nan/ }
    { n++
      if ($1 == $2) next
      if (isnan($1) && isnan($2)) next
      differ++
      d = (isnan($1) || isnan($2)) ? "inf" : ($1 - $2 < 0 ? $2 - $1 : $1 - $2)
      if (d == "inf" || d + 0 > worst + 0) worst = d }
    END { printf "%s: %d values, %d differ, max |diff| %s\n", name, n, differ + 0, worst == "" ? 0 : worst }'
done
exit $status
