#!/usr/bin/env bash
# Bad input, reader by reader (docs/RELIABILITY.md, "Bad input", lists them): every case exits non-zero with
# exactly one message, which names the file and the problem, and leaves no output or partial file behind. Bytes
# quoted from a file arrive escaped (\xNN). Then the warnings that go with valid but degraded input.
source "$(dirname "$0")/lib.sh"
CONFIG=jobs/presets/test-stories260k.yaml
D=$E2E_TMP
CASES=0

# run_case NAME PATTERN COMMAND...: COMMAND fails with exactly one message on stderr (an ERROR or FATAL line,
# or "brainsweep <command>: ..."), matching PATTERN, and writes no file into $D/out/NAME, where the case's
# outputs point
run_case() {
  local name=$1 pattern=$2; shift 2
  mkdir -p "$D/out/$name"
  "$@" >"$D/$name.out" 2>"$D/$name.err"
  local rc=$? msgs left
  msgs=$(grep -cE 'ERROR|FATAL|^brainsweep( [a-z-]+)?: ' "$D/$name.err")
  left=$(find "$D/out/$name" -mindepth 1 | head -3 | tr '\n' ' ')
  CASES=$((CASES + 1))
  check "$name/exit_nonzero ($rc)" test $rc -ne 0 -a $rc -lt 128
  check "$name/one_message ($msgs)" test "$msgs" -eq 1
  if grep -qE -- "$pattern" "$D/$name.err"; then check "$name/message_names_file_and_problem" true
  else check "$name/message_names_file_and_problem" false; head -3 "$D/$name.err"; fi
  check "$name/no_output_left${left:+ ($left)}" test -z "$left"
}

# expect_error NAME PATTERN CONFIG [sweep arguments...]: a sweep of CONFIG that writes into $D/out/NAME
expect_error() {
  local name=$1 pattern=$2 config=$3; shift 3
  run_case "$name" "$pattern" "$BRAINSWEEP" sweep "$config" -P output.path="$D/out/$name/results.h5" "$@"
}

# a config whose one line differs from the test config
variant() {  # variant NAME SED_EXPR -> path of the new config
  sed "$2" "$CONFIG" >"$D/$1.yaml"
  echo "$D/$1.yaml"
}
with_model() { variant "$1" "s|path: data/models/stories260K.gguf|path: $2|"; }
with_stimulus() { variant "$1" "s|  file: data/alice.*|  file: $2|"; }

# patch FILE OFFSET BYTES: overwrite bytes in place (printf escapes)
patch() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# ---------------------------------------------------------------------------------------------
# GGUF model files (stories260K: the first key is tokenizer.ggml.tokens at byte 24)
GGUF=data/models/stories260K.gguf
offset_of() { grep -obUa "$1" "$GGUF" | head -1 | cut -d: -f1; }
ARCH=$(offset_of general.architecture) TOKM=$(offset_of tokenizer.ggml.model) EMBD=$(offset_of token_embd.weight)

expect_error missing_model "$D/nope.gguf: cannot open model file: No such file" "$(with_model missing_model "$D/nope.gguf")"
head -c 600000 $GGUF >"$D/truncated.gguf"
expect_error truncated_model "$D/truncated.gguf: truncated GGUF file: tensor '.*' needs bytes up to [0-9]+ but the file has 600000" \
  "$(with_model truncated_model "$D/truncated.gguf")"
printf 'GGUF\003\000\000\000' >"$D/tiny.gguf"
expect_error header_only_model "$D/tiny.gguf: truncated GGUF file" "$(with_model header_only_model "$D/tiny.gguf")"
: >"$D/empty.gguf"
expect_error gguf_empty_file "$D/empty.gguf: not a GGUF file" "$(with_model gguf_empty_file "$D/empty.gguf")"
echo "not a model" >"$D/text.gguf"
expect_error gguf_text_file "$D/text.gguf: not a GGUF file \(magic bytes" "$(with_model gguf_text_file "$D/text.gguf")"
mkdir -p "$D/folder.gguf"
expect_error gguf_folder "$D/folder.gguf: no config.json|$D/folder.gguf: not a regular file" \
  "$(with_model gguf_folder "$D/folder.gguf")"
cp $GGUF "$D/v99.gguf" && patch "$D/v99.gguf" 4 '\143'
expect_error gguf_version_99 "$D/v99.gguf: GGUF version 99 is not supported" "$(with_model gguf_version_99 "$D/v99.gguf")"
cp $GGUF "$D/nkv.gguf" && patch "$D/nkv.gguf" 16 '\377\377\377\377'
expect_error gguf_key_count "$D/nkv.gguf: corrupt GGUF header: [0-9]+ keys" "$(with_model gguf_key_count "$D/nkv.gguf")"
cp $GGUF "$D/keylen.gguf" && patch "$D/keylen.gguf" 24 '\377\377\377\377\377'
expect_error gguf_key_length "$D/keylen.gguf: truncated or corrupt GGUF file: key name needs" \
  "$(with_model gguf_key_length "$D/keylen.gguf")"
cp $GGUF "$D/keytype.gguf" && patch "$D/keytype.gguf" 32 '\033[2J' && patch "$D/keytype.gguf" 53 '\143'
expect_error gguf_key_control_bytes_escaped \
  "$D/keytype.gguf: corrupt GGUF file: key '\\\\x1b\[2Jnizer.ggml.tokens' has unknown type 99" \
  "$(with_model gguf_key_control_bytes_escaped "$D/keytype.gguf")"
cp $GGUF "$D/arch.gguf" && patch "$D/arch.gguf" $((ARCH + 32)) 'gpt\001x'
expect_error gguf_architecture_escaped "$D/arch.gguf: GGUF architecture 'gpt\\\\x01x' is not supported" \
  "$(with_model gguf_architecture_escaped "$D/arch.gguf")"
cp $GGUF "$D/tokm.gguf" && patch "$D/tokm.gguf" $((TOKM + 32)) 'bert\377'
expect_error gguf_tokenizer_kind_escaped "$D/tokm.gguf: tokenizer 'bert\\\\xff' is not supported" \
  "$(with_model gguf_tokenizer_kind_escaped "$D/tokm.gguf")"
cp $GGUF "$D/dims.gguf" && patch "$D/dims.gguf" $((EMBD + 17)) '\011'
expect_error gguf_tensor_dimensions "$D/dims.gguf: corrupt GGUF file: tensor 'token_embd.weight' has 9 dimensions" \
  "$(with_model gguf_tensor_dimensions "$D/dims.gguf")"
cp $GGUF "$D/dim0.gguf" && patch "$D/dim0.gguf" $((EMBD + 21)) '\000\000'
expect_error gguf_tensor_dimension_zero "$D/dim0.gguf: corrupt GGUF file: tensor 'token_embd.weight' has dimension 0" \
  "$(with_model gguf_tensor_dimension_zero "$D/dim0.gguf")"

# ---------------------------------------------------------------------------------------------
# Hugging Face checkpoints: config.json and safetensors (a GPT-2-shaped fixture with GPT-2's tokenizer files)
hf() {  # hf NAME [SOURCE]: a checkpoint folder to break -> its path
  mkdir -p "$D/hf/$1"
  cp "${2:-tests/fixtures/families/gpt2/fp32}"/* "$D/hf/$1/"
  cp data/tokenizers/gpt2/* "$D/hf/$1/"
  echo "$D/hf/$1"
}
m=$(hf no_config) && rm "$m/config.json"
expect_error hf_no_config "$m: no config.json" "$(with_model hf_no_config "$m")"
m=$(hf bad_json) && head -c 100 tests/fixtures/families/gpt2/fp32/config.json >"$m/config.json"
expect_error hf_config_malformed_json "$m/config.json: malformed JSON at line" "$(with_model hf_config_malformed_json "$m")"
m=$(hf model_type) && sed -i 's/"model_type": "gpt2"/"model_type": "bert\\u001b"/' "$m/config.json"
expect_error hf_model_type_escaped "$m/config.json: model_type 'bert\\\\x1b' is not supported" \
  "$(with_model hf_model_type_escaped "$m")"
m=$(hf act) && sed -i 's/"activation_function": "[a-z_]*"/"activation_function": "tanh"/' "$m/config.json"
expect_error hf_activation "$m/config.json: activation 'tanh' is not supported" "$(with_model hf_activation "$m")"
m=$(hf sizes) && sed -i 's/"n_head": [0-9]*/"n_head": 0/' "$m/config.json"
expect_error hf_inconsistent_sizes "$m/config.json: inconsistent sizes" "$(with_model hf_inconsistent_sizes "$m")"
m=$(hf no_weights) && rm "$m/model.safetensors"
expect_error hf_no_weights "$m: no model.safetensors or model.safetensors.index.json" "$(with_model hf_no_weights "$m")"
m=$(hf header_len) && patch "$m/model.safetensors" 4 '\377'
expect_error st_header_length "$m/model.safetensors: header length [0-9]+ runs past the end of the file" \
  "$(with_model st_header_length "$m")"
m=$(hf truncated) && head -c 60000 tests/fixtures/families/gpt2/fp32/model.safetensors >"$m/model.safetensors"
expect_error st_truncated "$m/model.safetensors: tensor '.*': data_offsets \[[0-9]+, [0-9]+\] run past the data" \
  "$(with_model st_truncated "$m")"
m=$(hf not_json) && patch "$m/model.safetensors" 8 'x'
expect_error st_header_not_json "$m/model.safetensors: header is not a JSON object" "$(with_model st_header_not_json "$m")"
m=$(hf dtype) && sed -i '0,/"F32"/s//"F33"/' "$m/model.safetensors"
expect_error st_unknown_dtype "$m/model.safetensors: tensor '.*' has unknown dtype 'F33'" "$(with_model st_unknown_dtype "$m")"
m=$(hf shape) && sed -i '0,/"shape":\[1/s//"shape":[-/' "$m/model.safetensors"
expect_error st_bad_shape "$m/model.safetensors: tensor '.*' has a bad shape" "$(with_model st_bad_shape "$m")"
m=$(hf shard tests/fixtures/families/llama/fp32) && rm "$m/model-00002-of-00004.safetensors"
expect_error st_shard_missing "$m/model.safetensors.index.json: shard 'model-00002-of-00004.safetensors' listed in the index is missing" \
  "$(with_model st_shard_missing "$m")"
m=$(hf index tests/fixtures/families/llama/fp32) && sed -i '0,/"model-00001-of-00004.safetensors"/s//7/' "$m/model.safetensors.index.json"
expect_error st_index_entry_not_a_name "$m/model.safetensors.index.json: weight_map entry '.*' is not a file name" \
  "$(with_model st_index_entry_not_a_name "$m")"

# ---------------------------------------------------------------------------------------------
# tokenizers: vocab.json + merges.txt, tokenizer.json
m=$(hf no_tokenizer) && rm "$m/vocab.json" "$m/merges.txt"
expect_error tok_missing "$m: no tokenizer.json \(or vocab.json \+ merges.txt\)" "$(with_model tok_missing "$m")"
m=$(hf vocab_json) && head -c 1000 data/tokenizers/gpt2/vocab.json >"$m/vocab.json"
expect_error tok_vocab_json_truncated "$m/vocab.json: " "$(with_model tok_vocab_json_truncated "$m")"
m=$(hf merges_line) && printf 'ab\033c\n' >>"$m/merges.txt"
expect_error tok_merges_line_escaped "$m/merges.txt: line 'ab\\\\x1bc' is not two tokens separated by a space" \
  "$(with_model tok_merges_line_escaped "$m")"
m=$(hf merges_token) && printf 'zqzq \001xqx\n' >>"$m/merges.txt"
expect_error tok_merge_unknown_token "merge [0-9]+ \('zqzq \\\\x01xqx'\) names a token missing from the vocabulary" \
  "$(with_model tok_merge_unknown_token "$m")"
tokjson() {  # tokjson NAME SED_EXPR: a llama-shaped checkpoint with Llama 2's tokenizer.json, edited
  mkdir -p "$D/hf/$1"
  cp tests/fixtures/families/llama/fp32/* "$D/hf/$1/"
  sed "$2" data/tokenizers/llama2/tokenizer.json >"$D/hf/$1/tokenizer.json"
  echo "$D/hf/$1"
}
m=$(tokjson tj_trunc '$d')
expect_error tok_json_malformed "$m/tokenizer.json: malformed JSON at line" "$(with_model tok_json_malformed "$m")"
m=$(tokjson tj_novocab 's/"vocab": *{/"vocabulary": {/')
expect_error tok_json_no_vocab "$m/tokenizer.json: no model.vocab object" "$(with_model tok_json_no_vocab "$m")"
m=$(tokjson tj_badid '0,/"<unk>": *0/s//"<u\\u001bk>": -1/')
expect_error tok_json_bad_id_escaped "$m/tokenizer.json: vocabulary entry '<u\\\\x1bk>' has no valid id" \
  "$(with_model tok_json_bad_id_escaped "$m")"
m=$(tokjson tj_model 's/"type": *"BPE"/"type": "WordPiece"/')
expect_error tok_json_model_type "$m/tokenizer.json: .*'WordPiece' is not supported" "$(with_model tok_json_model_type "$m")"

# ---------------------------------------------------------------------------------------------
# the YAML config: keys, values, overrides
expect_error unknown_config_key "$D/unknown_key.yaml:[0-9]+: unknown key 'delay' in section 'design' \(did you mean 'delays'\?\)" \
  "$(variant unknown_key "s|  delays: \[1, 2, 3, 4\].*|  delay: [1, 2, 3, 4]|")"
expect_error unknown_section "$D/unknown_section.yaml:[0-9]+: unknown section 'rige' \(did you mean 'ridge'\?\)" \
  "$(variant unknown_section "s|^ridge:|rige:|")"
expect_error bad_value "$D/bad_value.yaml:[0-9]+: ridge.folds: 'five' is not an integer|ridge.folds: 'five' is not a" \
  "$(variant bad_value "s|  folds: 5|  folds: five|")"
expect_error yaml_value_control_bytes_escaped "$D/ctl_value.yaml:[0-9]+: recordings.format: '\\\\x1b\[2J' is not one of" \
  "$(variant ctl_value 's|  format: roi_text|  format: "\\e[2J"|')"
expect_error yaml_bad_bool "stimulus.leading_space: 'maybe' is not true or false" "$CONFIG" -P stimulus.leading_space=maybe
expect_error yaml_bad_enum "recordings.format: 'fmri' is not one of: roi_text\|word_text\|ieeg" "$CONFIG" \
  -P recordings.format=fmri
expect_error yaml_out_of_range "ridge.folds: 1 is outside" "$CONFIG" -P ridge.folds=1
expect_error yaml_not_integer "ridge.folds: '2.5' is not an integer" "$CONFIG" -P ridge.folds=2.5
expect_error yaml_list_for_single_value "ridge.folds must be a single value" "$CONFIG" -P "ridge.folds=[5]"
expect_error yaml_bad_policy "context.policy 'tokens:0' is not full, tokens:N or words:N" "$CONFIG" \
  -P "context.policy=[tokens:0]"
expect_error yaml_policy_twice "context.policy names 'full' twice" "$CONFIG" -P "context.policy=[full, full]"
expect_error yaml_override_form "override 'ridge' is not section.key=value" "$CONFIG" -P ridge
expect_error yaml_override_unknown_key "override 'ridge.fold=5': no key ridge.fold" "$CONFIG" -P ridge.fold=5
printf 'models: [data/models/stories260K.gguf\nridge: {folds: 5}\n' >"$D/malformed.yaml"
expect_error yaml_malformed "$D/malformed.yaml" "$D/malformed.yaml"
: >"$D/empty.yaml"
expect_error yaml_empty "$D/empty.yaml" "$D/empty.yaml"
expect_error yaml_missing_file "$D/none.yaml: cannot open: No such file" "$D/none.yaml"
expect_error yaml_two_models_one_name "models: two models are named 'a'" \
  "$(variant two_names "s|  - name: stories260K|  - {name: a, path: $GGUF}\n  - name: a|")"
expect_error yaml_model_name_control_bytes "models: item 1: the name 'st\\\\x1b\[31mories' holds a control character" \
  "$(variant name_ctl 's|  - name: stories260K|  - name: "st\\e[31mories"|')"
expect_error yaml_model_name_slash "models: item 1: the name 'a/b' holds a '/'" \
  "$(variant name_slash 's|  - name: stories260K|  - name: a/b|')"
expect_error yaml_model_entry_key "unknown key 'pth' in a model entry \(did you mean 'path'\?\)" \
  "$(variant model_key "s|    path: data/models|    pth: data/models|")"
expect_error yaml_missing_required_key "$D/no_stimulus.yaml: .*stimulus.file" "$(variant no_stimulus "/^  file: data\/alice/d")"

# ---------------------------------------------------------------------------------------------
# TextGrid
TG=data/alice/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid
sed 's/name = "word"/name = "words"/' $TG >"$D/notier.TextGrid"
expect_error textgrid_without_word_tier "$D/notier.TextGrid: no tier named 'word' \(tiers: 'words'\)" \
  "$(with_stimulus textgrid_without_word_tier "$D/notier.TextGrid")"
sed 's/name = "word"/name = "wo\x1brd"/' $TG >"$D/tiername.TextGrid"
expect_error textgrid_tier_name_escaped "$D/tiername.TextGrid: no tier named 'word' \(tiers: 'wo\\\\x1brd'\)" \
  "$(with_stimulus textgrid_tier_name_escaped "$D/tiername.TextGrid")"
sed '0,/xmin = 20.05891632653599/s//xmin = -20.05891632653599/' $TG >"$D/negative.TextGrid"
expect_error textgrid_negative_time "$D/negative.TextGrid: interval at line 20 starts before 0 s" \
  "$(with_stimulus textgrid_negative_time "$D/negative.TextGrid")"
sed '24s/xmin = .*/xmin = 19.5/' $TG >"$D/decreasing.TextGrid"
expect_error textgrid_decreasing_time "$D/decreasing.TextGrid: interval at line 24 runs backwards or out of order" \
  "$(with_stimulus textgrid_decreasing_time "$D/decreasing.TextGrid")"
sed '25s/xmax = .*/xmax = 20.0/' $TG >"$D/backwards.TextGrid"
expect_error textgrid_interval_backwards "$D/backwards.TextGrid: interval at line 24 runs backwards" \
  "$(with_stimulus textgrid_interval_backwards "$D/backwards.TextGrid")"
sed '25s/xmax = .*/xmax = -inf/' $TG >"$D/inf.TextGrid"
expect_error textgrid_time_not_finite "$D/inf.TextGrid: interval at line 24 has a time that is not finite" \
  "$(with_stimulus textgrid_time_not_finite "$D/inf.TextGrid")"
sed 's/ooTextFile/ooBinaryFile/' $TG >"$D/binary.TextGrid"
expect_error textgrid_not_praat_text "$D/binary.TextGrid: not a Praat text file \(file type 'ooBinaryFile'" \
  "$(with_stimulus textgrid_not_praat_text "$D/binary.TextGrid")"
head -c 3000 $TG >"$D/cut.TextGrid"
expect_error textgrid_truncated "$D/cut.TextGrid: malformed TextGrid: expected .* near line" \
  "$(with_stimulus textgrid_truncated "$D/cut.TextGrid")"
sed 's/"IntervalTier"/"Interval\x01Tier"/' $TG >"$D/class.TextGrid"
expect_error textgrid_tier_class_escaped "$D/class.TextGrid: malformed TextGrid: unknown tier class 'Interval\\\\x01Tier'" \
  "$(with_stimulus textgrid_tier_class_escaped "$D/class.TextGrid")"
sed 's/text = "Alice"/text = "Al\xffice"/' $TG >"$D/utf8.TextGrid"
expect_error textgrid_label_not_utf8 "$D/utf8.TextGrid: label near line [0-9]+ is not valid UTF-8" \
  "$(with_stimulus textgrid_label_not_utf8 "$D/utf8.TextGrid")"
sed 's/text = "[^"]*"/text = "sp"/' $TG >"$D/pauses.TextGrid"
expect_error textgrid_only_pauses "$D/pauses.TextGrid: tier 'word' holds no words" \
  "$(with_stimulus textgrid_only_pauses "$D/pauses.TextGrid")"
expect_error textgrid_missing "$D/none.TextGrid: cannot open" "$(with_stimulus textgrid_missing "$D/none.TextGrid")"

# ---------------------------------------------------------------------------------------------
# word tables (TSV, CSV)
table() {  # table NAME.tsv ROWS...: a word table with the header word/onset/offset -> its path
  local f=$D/$1; shift
  { printf 'word\tonset\toffset\n'; printf '%b\n' "$@"; } >"$f"
  echo "$f"
}
t=$(table negative.tsv 'once\t-0.5\t0.2' 'upon\t0.2\t0.4')
expect_error table_negative_time "$t: line 2: onset '-0.5' and offset '0.2' are not times in order from 0 s" \
  "$(with_stimulus table_negative_time "$t")"
t=$(table decreasing.tsv 'once\t0.1\t0.2' 'upon\t0.3\t0.4' 'a\t0.25\t0.5')
expect_error table_decreasing_time "$t: line 4: onset 0.25 s is before the previous word's onset 0.3 s" \
  "$(with_stimulus table_decreasing_time "$t")"
printf 'word,onset,offset\nonce,0.1,0.2\nupon,0.05,0.4\n' >"$D/decreasing.csv"
expect_error table_csv_decreasing_time "$D/decreasing.csv: line 3: onset 0.05 s is before the previous word's onset 0.1 s" \
  "$(with_stimulus table_csv_decreasing_time "$D/decreasing.csv")"
t=$(table backwards.tsv 'once\t0.3\t0.2')
expect_error table_offset_before_onset "$t: line 2: onset '0.3' and offset '0.2' are not times in order" \
  "$(with_stimulus table_offset_before_onset "$t")"
t=$(table cell.tsv 'once\t0.1\t0.2' 'upon\t0.3\t\033]0;x\a')
expect_error table_cell_escaped "$t: line 3: onset '0.3' and offset '\\\\x1b\]0;x\\\\x07' are not times" \
  "$(with_stimulus table_cell_escaped "$t")"
printf 'token\tstart\tstop\nonce\t0.1\t0.2\n' >"$D/columns.tsv"
expect_error table_missing_columns "$D/columns.tsv: the header needs a word column \('word'\) and onset/offset columns" \
  "$(with_stimulus table_missing_columns "$D/columns.tsv")"
t=$(table fields.tsv 'once\t0.1\t0.2' 'upon\t0.3')
expect_error table_field_count "$t: line 3 has 2 fields, the header 3" "$(with_stimulus table_field_count "$t")"
t=$(table utf8.tsv 'on\xffce\t0.1\t0.2')
expect_error table_word_not_utf8 "$t: line 2: the word is not valid UTF-8" "$(with_stimulus table_word_not_utf8 "$t")"
t=$(table nowords.tsv 'sp\t0.1\t0.2')
expect_error table_no_words "$t: no words" "$(with_stimulus table_no_words "$t")"

# ---------------------------------------------------------------------------------------------
# recordings (one text matrix per subject)
recs() {  # recs NAME: a copy of the Alice recordings to break -> its folder
  mkdir -p "$D/rec/$1"
  cp data/alice/fmri-6mm/*.txt "$D/rec/$1/"
  echo "$D/rec/$1"
}
r=$(recs short) && sed -i '$d' "$r/s22-timecourses.txt"
expect_error recording_rows_mismatch "$r/s22-timecourses.txt: 361 rows \(volumes\), but the timing needs 362" \
  "$CONFIG" -P "recordings.files=$r/*.txt"
r=$(recs nan) && sed -i '100s/^ *[^ ]*/   NaN/' "$r/s40-timecourses.txt"
expect_error nan_in_recording "$r/s40-timecourses.txt: line 100 \(sample 100\), column 1 \(LATL\): value is NaN" \
  "$CONFIG" -P "recordings.files=$r/*.txt"
r=$(recs inf) && sed -i '7s/ [^ ]*$/ -inf/' "$r/s40-timecourses.txt"
expect_error inf_in_recording "$r/s40-timecourses.txt: line 7 \(sample 7\), column 6 \(LIFG\): value is infinite" \
  "$CONFIG" -P "recordings.files=$r/*.txt"
r=$(recs word) && sed -i '5s/^ *[^ ]*/ 1.5\x1b[0m/' "$r/s18-timecourses.txt"
expect_error recording_value_escaped "$r/s18-timecourses.txt: line 5: '\\\\x1b\[0m' is not a number" \
  "$CONFIG" -P "recordings.files=$r/*.txt"
r=$(recs cols) && sed -i '12s/ [^ ]*$//' "$r/s18-timecourses.txt"
expect_error recording_column_count "$r/s18-timecourses.txt: line 12 has 5 columns, expected 6" \
  "$CONFIG" -P "recordings.files=$r/*.txt"
r=$(recs empty) && : >"$r/s18-timecourses.txt"
expect_error recording_empty "$r/s18-timecourses.txt: no samples" "$CONFIG" -P "recordings.files=$r/*.txt"
r=$(recs twice) && cp "$r/s18-timecourses.txt" "$r/s18_again.txt"
expect_error recording_subject_twice "both name subject 's18'" "$CONFIG" -P "recordings.files=$r/*.txt"
expect_error missing_recordings "recordings.files: '$D/none/\*.txt' matches no file" "$CONFIG" -P "recordings.files=$D/none/*.txt"
expect_error word_text_rows_are_volumes "s[0-9]+-timecourses.txt: 362 rows, but word_text recordings have one row per word and .* has 2127 words" \
  "$CONFIG" -P recordings.format=word_text

# ---------------------------------------------------------------------------------------------
# iEEG: BIDS folders, EDF files, sidecars (a small simulated dataset)
SIM=$D/sim
"$BRAINSWEEP" simulate "$SIM" --subjects sub-01 --seconds 40 --electrodes 6 --seed 1 >"$D/sim.log" 2>&1
check "simulate_for_ieeg_cases" test $? -eq 0
bids() {  # bids NAME: a copy of the simulated dataset to break -> its folder
  rm -rf "$D/bids/$1" && mkdir -p "$D/bids" && cp -r "$SIM" "$D/bids/$1" && echo "$D/bids/$1"
}
ieeg_error() {  # ieeg_error NAME PATTERN DATASET [overrides]: a sweep of DATASET's words with one model
  local name=$1 pattern=$2 ds=$3; shift 3
  ieeg_sim_yaml "$ds" "$D/out/$name/results.h5" stories260K=$GGUF >"$D/$name.yaml"
  expect_error "$name" "$pattern" "$D/$name.yaml" "$@"
}
run=sub-01/ieeg/sub-01_task-podcast
b=$(bids edf_version) && patch "$b/${run}_ieeg.edf" 0 'X'
ieeg_error edf_version "$b/${run}_ieeg.edf: version field is 'X', not '0'" "$b"
b=$(bids edf_version_escaped) && patch "$b/${run}_ieeg.edf" 0 '\033'
ieeg_error edf_version_escaped "$b/${run}_ieeg.edf: version field is '\\\\x1b', not '0'" "$b"
b=$(bids edf_truncated) && truncate -s 5000 "$b/${run}_ieeg.edf"
ieeg_error edf_truncated "$b/${run}_ieeg.edf: " "$b"
b=$(bids edf_signals) && patch "$b/${run}_ieeg.edf" 252 'ab  '
ieeg_error edf_signal_count "$b/${run}_ieeg.edf: header field 'number of signals' is not an integer \('ab'\)" "$b"
# signal 0's digital minimum follows the fixed header and every signal's label, transducer, unit and physical range
ns=$(dd if="$SIM/${run}_ieeg.edf" bs=1 skip=252 count=4 status=none | tr -d ' ')
b=$(bids edf_digital) && patch "$b/${run}_ieeg.edf" $((256 + ns * 120)) '40000   '
ieeg_error edf_digital_range "$b/${run}_ieeg.edf: signal 0 \('.*'\) has digital minimum" "$b"
b=$(bids no_sidecar) && rm "$b/${run}_ieeg.json"
ieeg_error ieeg_json_missing "$b/${run}_ieeg.edf: no sub-01_task-podcast_ieeg.json beside it" "$b"
b=$(bids json_bad) && echo '{"SamplingFrequency": ' >"$b/${run}_ieeg.json"
ieeg_error ieeg_json_malformed "$b/${run}_ieeg.json: not valid JSON" "$b"
b=$(bids json_rate) && sed -i 's/"SamplingFrequency": [0-9]*/"SamplingFrequency": -1/' "$b/${run}_ieeg.json"
ieeg_error ieeg_json_no_rate "$b/${run}_ieeg.json: SamplingFrequency is missing or not a positive number" "$b"
b=$(bids no_channels) && rm "$b/${run}_channels.tsv"
ieeg_error channels_missing "$b/${run}_ieeg.edf: no sub-01_task-podcast_channels.tsv beside it" "$b"
b=$(bids channel_cols) && sed -i '1s/^name/label/' "$b/${run}_channels.tsv"
ieeg_error channels_columns "$b/${run}_channels.tsv: a channels table needs the columns name and type" "$b"
b=$(bids channel_twice) && sed -i '3s/^G2/G3/' "$b/${run}_channels.tsv"
ieeg_error channel_listed_twice "$b/${run}_channels.tsv: channel 'G3' is listed twice" "$b"
b=$(bids channel_unknown) && sed -i '3s/^G2/G\x1b2/' "$b/${run}_channels.tsv"
ieeg_error channel_escaped "_electrodes.tsv: good channel 'G\\\\x1b2' has no position" "$b"
b=$(bids electrode_cols) && sed -i '1s/^name\tx/name\tX/' "$b"/sub-01/ieeg/*_electrodes.tsv
ieeg_error electrodes_columns "_electrodes.tsv: an electrodes table needs the columns name, x, y, z" "$b"
b=$(bids events_onset) && sed -i '1s/^onset/start/' "$b/${run}_events.tsv"
ieeg_error events_no_onset "$b/${run}_events.tsv: an events table needs an onset column" "$b"
b=$(bids events_type) && sed -i '2s/podcast/story/' "$b/${run}_events.tsv"
ieeg_error events_no_stimulus_event "$b/${run}_events.tsv: no event with trial_type 'podcast'" "$b"
mkdir -p "$D/bids/empty"
ieeg_error ieeg_no_runs "$D/bids/empty: no iEEG runs" "$D/bids/empty" -P stimulus.file="$SIM/stimuli/words.tsv"
b=$(bids responses) && echo "not HDF5" >"$D/out/responses.h5"
ieeg_error ieeg_responses_not_hdf5 "$D/out/responses.h5: " "$b" -P ieeg.responses="$D/out/responses.h5"

# ---------------------------------------------------------------------------------------------
# fMRI: BIDS derivatives in fMRIPrep's layout (recordings.format: bids_fmri; a small simulated dataset on a 4x4x3 grid)
FSIM=$D/fsim
"$BRAINSWEEP" simulate --fmri "$FSIM" --grid 4,4,3 >"$D/fsim.log" 2>&1
check "simulate_for_fmri_cases" test $? -eq 0
"$BRAINSWEEP" simulate --fmri "$D/fsim-wide" --grid 5,4,3 --subjects 1 --runs 1 >"$D/fsim-wide.log" 2>&1
fmri() {  # fmri NAME: a copy of the simulated dataset to break, and its config $D/NAME.yaml -> its folder
  rm -rf "$D/fmri/$1" && mkdir -p "$D/fmri" && cp -r "$FSIM" "$D/fmri/$1"
  printf 'models:\n  - {name: stories260K, path: %s}\nstimulus:\n  file: %s\nrecordings:\n  format: bids_fmri\nfmri:\n  bids: %s\n' \
    "$GGUF" "$FSIM/stimuli/words.tsv" "$D/fmri/$1" >"$D/$1.yaml"
  echo "$D/fmri/$1"
}
frun=sub-02/func/sub-02_task-alice_run-2_space-MNI152NLin2009cAsym
b=$(fmri fmri_mask_grid) && cp "$D/fsim-wide/sub-01/func/sub-01_task-alice_run-1_space-MNI152NLin2009cAsym_desc-brain_mask.nii.gz" \
  "$b/${frun}_desc-brain_mask.nii.gz"
expect_error fmri_mask_grid "$b/${frun}_desc-brain_mask.nii.gz: the mask's grid \(5x4x3 voxels, .*\) differs from its BOLD run's \(4x4x3" \
  "$D/fmri_mask_grid.yaml"
b=$(fmri fmri_3d_bold) && cp "$b/${frun}_desc-brain_mask.nii.gz" "$b/${frun}_desc-preproc_bold.nii.gz"
expect_error fmri_3d_bold "$b/${frun}_desc-preproc_bold.nii.gz: a 3D image \(4x4x3\); a BOLD run must be 4D" "$D/fmri_3d_bold.yaml"
b=$(fmri fmri_sidecar_tr) && sed -i 's/"RepetitionTime": 2/"RepetitionTime": 2.5/' "$b/${frun}_desc-preproc_bold.json"
expect_error fmri_sidecar_tr "$b/${frun}_desc-preproc_bold.json: RepetitionTime 2.5 s disagrees with the TR of $b/${frun}_desc-preproc_bold.nii.gz \(2 s" \
  "$D/fmri_sidecar_tr.yaml"
b=$(fmri fmri_missing_run) && rm "$b/${frun}_desc-preproc_bold.nii.gz"
expect_error fmri_missing_run "$b/${frun}_desc-preproc_bold.nii.gz: missing: subject sub-02 has no run task-alice_run-2" \
  "$D/fmri_missing_run.yaml"
b=$(fmri fmri_empty_mask)  # the uint8 mask's 48 values (after the 352-byte header) set to 0
gzip -dc "$b/${frun}_desc-brain_mask.nii.gz" >"$D/mask.nii" && dd if=/dev/zero of="$D/mask.nii" bs=1 seek=352 count=48 \
  conv=notrunc status=none && gzip -c "$D/mask.nii" >"$b/${frun}_desc-brain_mask.nii.gz"
expect_error fmri_empty_mask "$b/${frun}_desc-brain_mask.nii.gz: the brain mask is empty" "$D/fmri_empty_mask.yaml"
b=$(fmri fmri_missing_mask) && rm "$b/${frun}_desc-brain_mask.nii.gz"
expect_error fmri_missing_mask "$b/${frun}_desc-brain_mask.nii.gz: no such file: the brain mask of" "$D/fmri_missing_mask.yaml"
b=$(fmri fmri_truncated_bold) && head -c 3000 "$b/${frun}_desc-preproc_bold.nii.gz" >"$D/t.gz" && \
  mv "$D/t.gz" "$b/${frun}_desc-preproc_bold.nii.gz"
expect_error fmri_truncated_bold "$b/${frun}_desc-preproc_bold.nii.gz: not a readable NIfTI-1/2 image" "$D/fmri_truncated_bold.yaml"
b=$(fmri fmri_wrong_space)
expect_error fmri_wrong_space "$b: no runs sub-\*/\[ses-\*/\]func/\*_space-T1w_desc-preproc_bold" "$D/fmri_wrong_space.yaml" \
  -P fmri.space=T1w
b=$(fmri fmri_config_tr)
expect_error fmri_config_tr "recordings.tr is 1.5 s, but $b/sub-01/func/.*_bold.nii.gz has a TR of 2 s" "$D/fmri_config_tr.yaml" \
  -P recordings.tr=1.5
b=$(fmri fmri_4d_mask) && cp "$b/${frun}_desc-preproc_bold.nii.gz" "$b/${frun}_desc-brain_mask.nii.gz"
expect_error fmri_4d_mask "$b/${frun}_desc-brain_mask.nii.gz: a 4D image; a brain mask must be 3D" "$D/fmri_4d_mask.yaml"
# the atlas of fmri.atlas (host/parcels.h): simulate's slabs, broken one way each
ATLAS=$FSIM/atlas/space-MNI152NLin2009cAsym_desc-slabs_dseg.nii.gz LABELS=$FSIM/atlas/desc-slabs_dseg.tsv
b=$(fmri fmri_atlas_missing)
expect_error fmri_atlas_missing "$D/none_dseg.nii.gz: no such file" "$D/fmri_atlas_missing.yaml" -P fmri.atlas="$D/none_dseg.nii.gz"
b=$(fmri fmri_atlas_grid)
expect_error fmri_atlas_grid "$D/fsim-wide/atlas/.*_dseg.nii.gz: the atlas's grid \(5x4x3 voxels, .*\) differs from the runs' \(4x4x3" \
  "$D/fmri_atlas_grid.yaml" -P fmri.atlas="$D/fsim-wide/atlas/space-MNI152NLin2009cAsym_desc-slabs_dseg.nii.gz"
b=$(fmri fmri_atlas_not_labels)  # a BOLD run (4D, float) given as the atlas
expect_error fmri_atlas_not_labels "$b/${frun}_desc-preproc_bold.nii.gz: a 4D image; an atlas of labels must be 3D" \
  "$D/fmri_atlas_not_labels.yaml" -P fmri.atlas="$b/${frun}_desc-preproc_bold.nii.gz"
b=$(fmri fmri_atlas_unnamed_label) && head -n 5 "$LABELS" >"$D/few_dseg.tsv"
expect_error fmri_atlas_unnamed_label "$D/few_dseg.tsv: no row names label 5, which $ATLAS holds" \
  "$D/fmri_atlas_unnamed_label.yaml" -P fmri.atlas="$ATLAS" -P fmri.atlas_labels="$D/few_dseg.tsv"
b=$(fmri fmri_atlas_table_columns) && cut -f1 "$LABELS" >"$D/index_only_dseg.tsv"
expect_error fmri_atlas_table_columns "$D/index_only_dseg.tsv: no column name" "$D/fmri_atlas_table_columns.yaml" \
  -P fmri.atlas="$ATLAS" -P fmri.atlas_labels="$D/index_only_dseg.tsv"
b=$(fmri fmri_geometry_on_volumes)  # fmri.surface_geometry places surface runs' vertices
expect_error fmri_geometry_on_volumes "$D/hemi-{hemi}.surf.gii \(fmri.surface_geometry\): the runs are volumes" \
  "$D/fmri_geometry_on_volumes.yaml" -P "fmri.surface_geometry=$D/hemi-{hemi}.surf.gii"
b=$(fmri fmri_atlas_labels_alone)
expect_error fmri_atlas_labels_alone "fmri.atlas_labels names the labels of fmri.atlas, which is empty" \
  "$D/fmri_atlas_labels_alone.yaml" -P fmri.atlas_labels="$LABELS"

# ---------------------------------------------------------------------------------------------
# results files given to inspect, analyze and report (from a small valid sweep of the simulated dataset)
ieeg_sim_yaml "$SIM" "$D/good/results.h5" stories260K=$GGUF >"$D/good.yaml"
"$BRAINSWEEP" sweep "$D/good.yaml" -P ridge.folds=3 >"$D/good.log" 2>&1
check "sweep_for_results_cases" test $? -eq 0
GOOD=$D/good/results.h5
mkdir -p "$D/res"
: >"$D/res/empty.h5"
echo "results" >"$D/res/text.h5"
head -c 4096 "$GOOD" >"$D/res/truncated.h5"
cp "$SIM/groundtruth/weights.h5" "$D/res/other.h5"
mkdir -p "$D/res/folder.h5"
res_cases() {  # res_cases COMMAND [args after the file]: the command on each broken file
  local cmd=$1; shift
  run_case "${cmd}_missing_file" "$D/res/none.h5: (no such file|cannot read)" "$BRAINSWEEP" $cmd "$D/res/none.h5" "$@"
  run_case "${cmd}_empty_file" "$D/res/empty.h5: not (a brainsweep results|an HDF5) file" "$BRAINSWEEP" $cmd "$D/res/empty.h5" "$@"
  run_case "${cmd}_text_file" "$D/res/text.h5: not (a brainsweep results|an HDF5) file" "$BRAINSWEEP" $cmd "$D/res/text.h5" "$@"
  run_case "${cmd}_truncated" "$D/res/truncated.h5: (cannot open as HDF5|not)" "$BRAINSWEEP" $cmd "$D/res/truncated.h5" "$@"
  run_case "${cmd}_other_hdf5" "$D/res/other.h5: not a brainsweep results file \(no 'brainsweep-results' schema" \
    "$BRAINSWEEP" $cmd "$D/res/other.h5" "$@"
  run_case "${cmd}_folder" "$D/res/folder.h5: " "$BRAINSWEEP" $cmd "$D/res/folder.h5" "$@"
}
sums() { find "$D/res" -type f -exec md5sum {} + | sort; }
before=$(sums)
res_cases inspect
res_cases analyze
res_cases report -o "$D/out/report"
res_cases maps -o "$D/out/maps"
check "broken_results_files_untouched" test "$before" = "$(sums)"
printf 'Model,Score\nstories260K,1\n' >"$D/bench.csv"
cp "$GOOD" "$D/res/good.h5" && before=$(md5sum <"$D/res/good.h5")
run_case analyze_benchmarks_without_average "$D/bench.csv: no column 'Average'" "$BRAINSWEEP" analyze "$D/res/good.h5" --benchmarks "$D/bench.csv"
run_case analyze_benchmarks_missing "$D/none.csv: " "$BRAINSWEEP" analyze "$D/res/good.h5" --benchmarks "$D/none.csv"
check "analyze_failures_leave_the_file_untouched" test "$before" = "$(md5sum <"$D/res/good.h5")"
run_case report_before_analyze "$D/res/good.h5: no /analysis group: run brainsweep analyze" "$BRAINSWEEP" report \
  "$D/res/good.h5" -o "$D/out/report_before_analyze/report"
run_case maps_not_fmri "$D/res/good.h5: no /voxels group: not a sweep of recordings.format: bids_fmri" "$BRAINSWEEP" \
  maps "$D/res/good.h5" -o "$D/out/maps_not_fmri/maps"
cp "$GOOD" "$D/res/analyzed.h5"
"$BRAINSWEEP" analyze "$D/res/analyzed.h5" --bootstrap 10 --permutations 9 >"$D/analyze.log" 2>&1
check "analyze_for_report_cases" test $? -eq 0
echo "a file" >"$D/res/plain"
run_case report_output_under_a_file "$D/res/plain" "$BRAINSWEEP" report "$D/res/analyzed.h5" -o "$D/res/plain/report"

# the features cache is a cache: a damaged file in it is not used but recomputed and replaced, and the run goes on
"$BRAINSWEEP" sweep "$D/good.yaml" -P ridge.folds=3 -P features.cache_dir="$D/cache" \
  -P output.path="$D/cache1/results.h5" >"$D/cache1.log" 2>&1
cached=$(find "$D/cache" -name '*.h5' | head -1)
check "features_cache_written" test -n "$cached"
truncate -s 2000 "$cached"
"$BRAINSWEEP" sweep "$D/good.yaml" -P ridge.folds=3 -P features.cache_dir="$D/cache" \
  -P output.path="$D/cache2/results.h5" >"$D/cache2.log" 2>&1
check "damaged_features_cache/run_goes_on" test $? -eq 0
check "damaged_features_cache/file_replaced ($(stat -c %s "$cached") bytes)" test "$(stat -c %s "$cached")" -gt 2000

# ---------------------------------------------------------------------------------------------
# command lines
run_case cli_unknown_command "unknown command 'frob'" "$BRAINSWEEP" frob
run_case cli_sweep_without_config "a config file is required" "$BRAINSWEEP" sweep
run_case cli_sweep_unexpected_argument "unexpected argument '--frob'" "$BRAINSWEEP" sweep "$CONFIG" --frob \
  -P output.path="$D/out/cli_sweep_unexpected_argument/results.h5"
run_case cli_fit_memory_not_a_number "fit-memory|memory_gib" "$BRAINSWEEP" sweep "$CONFIG" --fit-memory lots \
  -P output.path="$D/out/cli_fit_memory_not_a_number/results.h5"
run_case cli_plan_gpus_not_a_number "unexpected argument '--gpus'" "$BRAINSWEEP" plan "$CONFIG" --gpus many \
  --out "$D/out/cli_plan_gpus_not_a_number/jobs"
run_case cli_plan_nodes_zero "unexpected argument '--nodes'" "$BRAINSWEEP" plan "$CONFIG" --nodes 0 \
  --out "$D/out/cli_plan_nodes_zero/jobs"
run_case cli_plan_missing_config "$D/none.yaml: cannot open" "$BRAINSWEEP" plan "$D/none.yaml" \
  --out "$D/out/cli_plan_missing_config/jobs"
run_case cli_analyze_bins "bins" "$BRAINSWEEP" analyze "$D/res/good.h5" --bins x
run_case cli_report_without_output "-o" "$BRAINSWEEP" report "$D/res/good.h5"
run_case cli_tokenize_missing_model "$D/none.gguf: " "$BRAINSWEEP" tokenize "$D/none.gguf" hello
run_case cli_simulate_snr "--snr needs 0 < MIN <= MAX" "$BRAINSWEEP" simulate "$D/out/cli_simulate_snr/sim" --snr 2,1
run_case cli_simulate_negative_seconds "unexpected argument '--seconds'" "$BRAINSWEEP" simulate \
  "$D/out/cli_simulate_negative_seconds/sim" --seconds -5
run_case cli_output_under_a_file "output.path $D/res/plain/sub/results.h5: '$D/res/plain' is not a folder" \
  "$BRAINSWEEP" sweep "$CONFIG" -P output.path="$D/res/plain/sub/results.h5"

# ---------------------------------------------------------------------------------------------
# the design: checks across inputs
expect_error groups_do_not_cover_samples "$CONFIG: ridge.group_sizes add up to 200 samples, but the recordings have 362" \
  "$CONFIG" -P "ridge.group_sizes=[100, 100]"
expect_error two_folds_leave_no_inner_split "$CONFIG: .*trains on 0 .*ridge.select: outer_mean" "$CONFIG" -P ridge.folds=2
expect_error word_rate_with_word_text "$CONFIG: design.extra_bands: word_rate is one per word with word_text" \
  "$CONFIG" -P recordings.format=word_text -P "design.extra_bands=[word_rate]"
expect_error weights_with_foldwise_pca "$CONFIG: output.weights needs one design for every fold, but design.pca_fit: fold" \
  "$CONFIG" -P output.weights=true -P design.pca_components=16

# a word far longer than any real one: an error when asked, else a warning naming it (stimulus.long_words)
awk '{ if (!done && $0 ~ /text = "Alice"/) { printf "            text = \""; for (i = 0; i < 3000; i++) printf "a"; print "\""; done = 1 } else print }' \
  $TG >"$D/long.TextGrid"
expect_error long_word_refused "$D/long.TextGrid: under model stories260K's tokenizer, 1 word\(s\) of more than 64 tokens; the longest, word 1 \('a+\.\.\.', 3000 bytes\), is 3000 tokens" \
  "$(with_stimulus long_word_refused "$D/long.TextGrid")" -P stimulus.long_words=error

run_case long_word_refused_by_plan "$D/long.TextGrid: under model stories260K's tokenizer, 1 word\(s\) of more than 64" \
  "$BRAINSWEEP" plan "$(with_stimulus long_word_plan "$D/long.TextGrid")" -P stimulus.long_words=error \
  --out "$D/out/long_word_refused_by_plan/jobs"

echo "bad-input cases: $CASES"
check "at_least_100_cases ($CASES)" test "$CASES" -ge 100

# ---------------------------------------------------------------------------------------------
# valid but degraded input: one warning that names what to look at, and the run goes on

"$BRAINSWEEP" sweep "$(with_stimulus long_word_warned "$D/long.TextGrid")" --dry-run \
  -P output.path="$D/out/long_word_warned/results.h5" >"$D/long_warn.out" 2>"$D/long_warn.err"
check "long_word_warned/exit_0" test $? -eq 0
check "long_word_warned/one_warning" test "$(grep -c WARNING "$D/long_warn.err")" -eq 1
check "long_word_warned/names_file_word_and_key" \
  grep -q "WARNING $D/long.TextGrid: under model stories260K's tokenizer, .*word 1 .*stimulus.max_word_tokens" "$D/long_warn.err"

r=$(recs zeros) && awk '{ for (i = 1; i <= NF; i++) $i = "0"; print }' "$r/s22-timecourses.txt" >"$r/z" && mv "$r/z" "$r/s22-timecourses.txt"
"$BRAINSWEEP" sweep "$CONFIG" --dry-run -P "recordings.files=$r/*.txt" -P output.path="$D/out/zeros/results.h5" \
  >"$D/zeros.out" 2>"$D/zeros.err"
check "recording_of_zeros/exit_0" test $? -eq 0
check "recording_of_zeros/one_warning" test "$(grep -c WARNING "$D/zeros.err")" -eq 1
check "recording_of_zeros/names_file_subject_regions" grep -q \
  "WARNING $r/s22-timecourses.txt (subject s22): 6 of 6 region(s) are all zeros: LATL, RATL, LPTL, LIPL, LPreM, LIFG; their r will be NaN" \
  "$D/zeros.err"
r=$(recs flat) && awk '{ $2 = "3.5"; print }' "$r/s40-timecourses.txt" >"$r/z" && mv "$r/z" "$r/s40-timecourses.txt"
"$BRAINSWEEP" sweep "$CONFIG" --dry-run -P "recordings.files=$r/*.txt" -P output.path="$D/out/flat/results.h5" \
  >"$D/flat.out" 2>"$D/flat.err"
check "constant_region/names_file_subject_region" grep -q \
  "WARNING $r/s40-timecourses.txt (subject s40): 1 of 6 region(s) are constant: RATL; their r will be NaN" "$D/flat.err"

# an EDF whose G2 and G3 never change: named with the file and subject before any fit
field() { dd if="$1" bs=1 skip="$2" count="$3" status=none | tr -d ' '; }
zero_signal() {  # zero_signal EDF INDEX: every sample of one signal set to 0, record by record
  local f=$1 i=$2 j r rb=0 before=0 spr=() hb nrec ns
  hb=$(field "$f" 184 8) nrec=$(field "$f" 236 8) ns=$(field "$f" 252 4)
  for ((j = 0; j < ns; j++)); do spr[j]=$(field "$f" $((256 + ns * 216 + 8 * j)) 8); rb=$((rb + 2 * spr[j])); done
  for ((j = 0; j < i; j++)); do before=$((before + 2 * spr[j])); done
  for ((r = 0; r < nrec; r++)); do
    dd if=/dev/zero of="$f" bs=$((2 * spr[i])) count=1 seek=$((hb + r * rb + before)) oflag=seek_bytes conv=notrunc \
      status=none
  done
}
b=$(bids flat)
check "flat_channels/are_G2_G3" test "$(field "$b/${run}_ieeg.edf" $((256 + 16)) 16)$(field "$b/${run}_ieeg.edf" $((256 + 32)) 16)" = G2G3
zero_signal "$b/${run}_ieeg.edf" 1 && zero_signal "$b/${run}_ieeg.edf" 2
ieeg_sim_yaml "$b" "$D/out/flat_channels/results.h5" stories260K=$GGUF >"$D/flat_channels.yaml"
"$BRAINSWEEP" sweep "$D/flat_channels.yaml" --dry-run -P ieeg.electrodes=all >"$D/flat_channels.out" 2>"$D/flat_channels.err"
check "flat_channels/exit_0" test $? -eq 0
check "flat_channels/names_file_subject_channels" grep -q \
  "WARNING $b/${run}_ieeg.edf (subject sub-01): 2 of 6 channel(s) are flat (every sample equal): G2, G3" \
  "$D/flat_channels.err"

# a failing run leaves an existing results file untouched
mkdir -p "$D/keep"
echo "previous results" >"$D/keep/results.h5"
"$BRAINSWEEP" sweep "$(with_model keep "$D/nope.gguf")" -P output.path="$D/keep/results.h5" >/dev/null 2>&1
check "failed_run_keeps_previous_results" grep -q "previous results" "$D/keep/results.h5"
summary
