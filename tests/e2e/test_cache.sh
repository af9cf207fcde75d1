#!/usr/bin/env bash
# The features cache: reused when everything matches, recomputed when the model changed, and the
# results are the same either way.
source "$(dirname "$0")/lib.sh"
CONFIG=jobs/presets/test-stories260k.yaml
cp data/models/stories260K.gguf "$E2E_TMP/model.gguf"
sed "s|path: data/models/stories260K.gguf|path: $E2E_TMP/model.gguf|" "$CONFIG" >"$E2E_TMP/c.yaml"
run() {  # run NAME extra-args...
  local name=$1; shift
  "$BRAINSWEEP" sweep "$E2E_TMP/c.yaml" -P output.path="$E2E_TMP/$name.h5" -P features.cache_dir="$E2E_TMP/cache" \
    -P run.threads=1 "$@" >"$E2E_TMP/$name.log" 2>&1
}
run first
check "first_run_writes_the_cache" grep -q "features in $E2E_TMP/cache/stories260K-" "$E2E_TMP/first.log"
run second
check "second_run_reads_the_cache" grep -q "features from $E2E_TMP/cache/stories260K-" "$E2E_TMP/second.log"
check "second_run_skips_the_model" bash -c "! grep -q 'sequence(s) on' '$E2E_TMP/second.log'"
check "cached_results_equal_computed" h5diff "$E2E_TMP/first.h5" "$E2E_TMP/second.h5" /scores/r /scores/r
touch -d '2001-01-01' "$E2E_TMP/model.gguf"  # the model changed (as far as anyone can tell)
run third
check "changed_model_makes_the_cache_stale" grep -q "is stale: its model_identity differs; recomputing" "$E2E_TMP/third.log"
check "stale_cache_recomputed_and_replaced" grep -q "features in $E2E_TMP/cache/" "$E2E_TMP/third.log"
run fourth -P context.policy=tokens:16
check "another_policy_another_file" test "$(ls "$E2E_TMP/cache" | wc -l)" -eq 2
run fifth -P features.cache_dtype=float16
check "float16_cache_written" bash -c "for f in $E2E_TMP/cache/*.h5; do h5dump -H -d /features \$f; done | grep -q '16-bit little-endian floating-point'"
run sixth -P features.cache_dtype=float16
check "float16_cache_read_back" grep -q "features from $E2E_TMP/cache/" "$E2E_TMP/sixth.log"
check "float16_results_close_to_float32" h5diff -d 0.02 "$E2E_TMP/first.h5" "$E2E_TMP/sixth.h5" /scores/r /scores/r
summary
