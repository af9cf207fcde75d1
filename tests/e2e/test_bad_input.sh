#!/usr/bin/env bash
# Bad input: one clear message naming the file and the problem, a non-zero exit, no results file.
source "$(dirname "$0")/lib.sh"
CONFIG=jobs/presets/test-stories260k.yaml
D=$E2E_TMP

# expect_error NAME PATTERN CONFIG [overrides...]: the sweep fails with exactly one error line that
# matches PATTERN, and leaves neither results.h5 nor results.h5.partial behind
expect_error() {
  local name=$1 pattern=$2 config=$3; shift 3
  local out=$D/$name/results.h5
  "$BRAINSWEEP" sweep "$config" -P output.path="$out" "$@" >"$D/$name.out" 2>"$D/$name.err"
  local rc=$?
  local errors; errors=$(grep -cE 'ERROR|FATAL' "$D/$name.err")
  check "$name/exit_nonzero" test $rc -ne 0
  check "$name/one_error_line ($errors)" test "$errors" -eq 1
  if grep -qE "$pattern" "$D/$name.err"; then check "$name/message_names_file_and_problem" true
  else check "$name/message_names_file_and_problem" false; cat "$D/$name.err"; fi
  check "$name/no_results_written" test ! -e "$out" -a ! -e "$out.partial"
}

# a config whose one line differs from the test config
variant() {  # variant NAME SED_EXPR -> path of the new config
  sed "$2" "$CONFIG" >"$D/$1.yaml"
  echo "$D/$1.yaml"
}

expect_error missing_model "$D/nope.gguf: cannot open model file: No such file" \
  "$(variant missing_model "s|path: data/models/stories260K.gguf|path: $D/nope.gguf|")"

head -c 600000 data/models/stories260K.gguf >"$D/truncated.gguf"
expect_error truncated_model "$D/truncated.gguf: truncated GGUF file: tensor '.*' needs bytes up to [0-9]+ but the file has 600000" \
  "$(variant truncated_model "s|path: data/models/stories260K.gguf|path: $D/truncated.gguf|")"

printf 'GGUF\003\000\000\000' >"$D/tiny.gguf"
expect_error header_only_model "$D/tiny.gguf: truncated GGUF file" \
  "$(variant header_only_model "s|path: data/models/stories260K.gguf|path: $D/tiny.gguf|")"

sed 's/name = "word"/name = "words"/' data/alice/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid >"$D/notier.TextGrid"
expect_error textgrid_without_word_tier "$D/notier.TextGrid: no tier named 'word' \(tiers: 'words'\)" \
  "$(variant textgrid_without_word_tier "s|  file: data/alice.*|  file: $D/notier.TextGrid|")"

mkdir -p "$D/short" "$D/nan"
cp data/alice/fmri-6mm/*.txt "$D/short/"
sed -i '$d' "$D/short/s22-timecourses.txt"
expect_error recording_rows_mismatch "$D/short/s22-timecourses.txt: 361 rows \(volumes\), but the timing needs 362" \
  "$CONFIG" -P "recordings.files=$D/short/*.txt"

cp data/alice/fmri-6mm/*.txt "$D/nan/"
sed -i '100s/^ *[^ ]*/   NaN/' "$D/nan/s40-timecourses.txt"
expect_error nan_in_recording "$D/nan/s40-timecourses.txt: line 100 \(sample 100\), column 1 \(LATL\): value is NaN" \
  "$CONFIG" -P "recordings.files=$D/nan/*.txt"

expect_error unknown_config_key "$D/unknown_key.yaml:[0-9]+: unknown key 'delay' in section 'design' \(did you mean 'delays'\?\)" \
  "$(variant unknown_key "s|  delays: \[1, 2, 3, 4\].*|  delay: [1, 2, 3, 4]|")"

expect_error unknown_section "$D/unknown_section.yaml:[0-9]+: unknown section 'rige' \(did you mean 'ridge'\?\)" \
  "$(variant unknown_section "s|^ridge:|rige:|")"

expect_error bad_value "$D/bad_value.yaml:[0-9]+: ridge.folds: 'five' is not an integer|ridge.folds: 'five' is not a" \
  "$(variant bad_value "s|  folds: 5|  folds: five|")"

expect_error missing_recordings "recordings.files: '$D/none/\*.txt' matches no file" "$CONFIG" -P "recordings.files=$D/none/*.txt"

echo "not a folder" >"$D/plainfile"
expect_error groups_do_not_cover_samples "$CONFIG: ridge.group_sizes add up to 200 samples, but the recordings have 362" \
  "$CONFIG" -P "ridge.group_sizes=[100, 100]"
expect_error two_folds_leave_no_inner_split "$CONFIG: .*trains on 0 .*ridge.select: outer_mean" "$CONFIG" -P ridge.folds=2
expect_error word_text_rows_are_volumes "s[0-9]+-timecourses.txt: 362 rows, but word_text recordings have one row per word and .* has 2127 words" \
  "$CONFIG" -P recordings.format=word_text
expect_error word_rate_with_word_text "$CONFIG: design.extra_bands: word_rate is one per word with word_text" \
  "$CONFIG" -P recordings.format=word_text -P "design.extra_bands=[word_rate]"
expect_error weights_with_foldwise_pca "$CONFIG: output.weights needs one design for every fold, but design.pca_fit: fold" \
  "$CONFIG" -P output.weights=true -P design.pca_components=16
expect_error output_under_a_file "output.path $D/plainfile/sub/results.h5: '$D/plainfile' is not a folder" "$CONFIG" \
  -P output.path="$D/plainfile/sub/results.h5"

# a failing run leaves an existing results file untouched
mkdir -p "$D/keep"
echo "previous results" >"$D/keep/results.h5"
"$BRAINSWEEP" sweep "$(variant keep "s|path: data/models/stories260K.gguf|path: $D/nope.gguf|")" \
  -P output.path="$D/keep/results.h5" >/dev/null 2>&1
check "failed_run_keeps_previous_results" grep -q "previous results" "$D/keep/results.h5"
summary
