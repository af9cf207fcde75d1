#!/usr/bin/env bash
# The command line: `brainsweep COMMAND --help` prints that command's usage and exits 0 for every
# command the global usage lists (and runs nothing); a wrong argument prints the command's usage, exit 2;
# a context.window past a model's context is said in the log, once per model; Falcon with ALiBi is refused
# with a message that says why (docs/models.md).
source "$(dirname "$0")/lib.sh"
"$BRAINSWEEP" --help >"$E2E_TMP/all.txt" 2>&1
check "global_help_exits_0" test $? -eq 0
commands=$(sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$E2E_TMP/all.txt" | sort -u)
for c in sweep ieeg simulate plan inspect analyze report tokenize config-doc version; do
  check "global_usage_lists_$c" grep -qx "$c" <<<"$commands"
done
bin=$(readlink -f "$BRAINSWEEP")
for c in $commands; do
  # in an empty folder, so a command that ran anyway would leave something behind
  mkdir "$E2E_TMP/$c" && (cd "$E2E_TMP/$c" && "$bin" "$c" --help >out.txt 2>err.txt; echo $? >rc)
  check "${c}_help_exits_0" test "$(cat "$E2E_TMP/$c/rc")" -eq 0
  check "${c}_help_prints_its_usage_only" bash -c "grep -q '^  $c ' '$E2E_TMP/$c/out.txt' && \
    [ \$(grep -c '^  [a-z]' '$E2E_TMP/$c/out.txt' | tr -d ' ') -eq \$(grep -c '^  $c ' '$E2E_TMP/$c/out.txt') ] && \
    [ ! -s '$E2E_TMP/$c/err.txt' ]"
  check "${c}_help_runs_nothing" test "$(ls "$E2E_TMP/$c" | tr '\n' ' ')" = "err.txt out.txt rc "
done
# after the config file too, and as -h
"$BRAINSWEEP" sweep jobs/presets/test-stories260k.yaml -h >"$E2E_TMP/h.txt" 2>&1
check "help_after_arguments_exits_0" bash -c "[ $? -eq 0 ] && grep -q '^  sweep ' '$E2E_TMP/h.txt'"
"$BRAINSWEEP" plan jobs/presets/test-stories260k.yaml --gpu 4 >"$E2E_TMP/bad.txt" 2>&1
rc=$?
check "wrong_argument_exit_2_with_the_command_usage" bash -c "[ $rc -eq 2 ] && \
  grep -q \"unexpected argument '--gpu'\" '$E2E_TMP/bad.txt' && grep -q '^  plan ' '$E2E_TMP/bad.txt' && \
  ! grep -q '^  sweep ' '$E2E_TMP/bad.txt'"
# two models (both of 2,048 tokens), two context policies of which one uses the window
sed 's|^models:|models:\n  - {name: tiny3, path: tests/fixtures/stories260K-3layers.gguf}|' \
  jobs/presets/test-stories260k.yaml >"$E2E_TMP/two.yaml"
"$BRAINSWEEP" sweep "$E2E_TMP/two.yaml" --dry-run -P context.window=100000 -P "context.policy=[full, tokens:8]" \
  -P output.path="$E2E_TMP/w/results.h5" >"$E2E_TMP/window.log" 2>&1
check "window_clamp_logged_once_per_model" bash -c "[ \$(grep -c 'context.window 100000 is longer than the model.s \
context of 2048 tokens' '$E2E_TMP/window.log') -eq 2 ] && grep -q 'stories260K: context.window' '$E2E_TMP/window.log' \
  && grep -q 'tiny3: context.window' '$E2E_TMP/window.log'"
"$BRAINSWEEP" sweep "$E2E_TMP/two.yaml" --dry-run -P context.window=2048 -P output.path="$E2E_TMP/w/results.h5" \
  >"$E2E_TMP/window.log" 2>&1
check "window_within_the_context_not_logged" bash -c "! grep -q 'context.window' '$E2E_TMP/window.log'"
cp -r tests/fixtures/families/falcon/fp32 "$E2E_TMP/falcon-rw"
sed -i 's/"alibi": false/"alibi": true/' "$E2E_TMP/falcon-rw/config.json"
sed "s|path: data/models/stories260K.gguf|path: $E2E_TMP/falcon-rw|" jobs/presets/test-stories260k.yaml >"$E2E_TMP/rw.yaml"
"$BRAINSWEEP" sweep "$E2E_TMP/rw.yaml" --dry-run -P output.path="$E2E_TMP/rw/results.h5" >"$E2E_TMP/rw.log" 2>&1
rc=$?
check "falcon_alibi_refused_exit_1" test $rc -eq 1
check "falcon_alibi_one_error_naming_the_file_and_why" bash -c "[ \$(grep -c ERROR '$E2E_TMP/rw.log') -eq 1 ] && \
  grep -q 'ERROR $E2E_TMP/falcon-rw/config.json: Falcon with ALiBi .* not supported: its bias is not MPT.s' \
  '$E2E_TMP/rw.log'"
# run.device: auto says which backend it took and why; cuda where none can run is one error and writes nothing
"$BRAINSWEEP" sweep jobs/presets/test-stories260k.yaml --dry-run -P output.path="$E2E_TMP/dev/results.h5" \
  >"$E2E_TMP/auto.log" 2>&1
check "device_auto_names_its_choice_once" bash -c "[ \$(grep -c 'run.device auto: ' '$E2E_TMP/auto.log') -eq 1 ] && \
  grep -q 'compute: .* backend' '$E2E_TMP/auto.log'"
"$BRAINSWEEP" sweep jobs/presets/test-stories260k.yaml -P run.device=cuda -P output.path="$E2E_TMP/dev/results.h5" \
  >"$E2E_TMP/cuda.log" 2>&1
rc=$?
if grep -q 'run.device auto: cuda' "$E2E_TMP/auto.log"; then
  check "device_cuda_runs_where_auto_found_it" test $rc -eq 0
else
  check "device_cuda_without_backend_exit_1_one_error_nothing_written" bash -c "[ $rc -eq 1 ] && \
    [ \$(grep -c ERROR '$E2E_TMP/cuda.log') -eq 1 ] && grep -q 'ERROR run.device: cuda, but ' '$E2E_TMP/cuda.log' && \
    [ ! -e '$E2E_TMP/dev' ]"
fi
summary
