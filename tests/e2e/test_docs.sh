#!/usr/bin/env bash
# Documentation that is generated must match its generator.
source "$(dirname "$0")/lib.sh"
"$BRAINSWEEP" config-doc >"$E2E_TMP/config.md"
if diff -u docs/config.md "$E2E_TMP/config.md" >"$E2E_TMP/diff"; then check "docs_config_md_matches_config_doc" true
else check "docs_config_md_matches_config_doc (run: build/brainsweep config-doc > docs/config.md)" false; head -20 "$E2E_TMP/diff"; fi
# small-ieeg.yaml reads the simulated Podcast dataset its header says to make: made here, in the temporary folder
"$BRAINSWEEP" simulate "$E2E_TMP/sim" --subjects sub-01,sub-08 --seconds 300 --electrodes 24 >"$E2E_TMP/sim.log" 2>&1
SIM_DATA=(-P "stimulus.file=$E2E_TMP/sim/stimuli/words.tsv" -P "ieeg.bids=$E2E_TMP/sim"
          -P "output.path=$E2E_TMP/small-ieeg/results.h5")
# small-fmri.yaml likewise reads `brainsweep simulate --fmri`'s dataset
"$BRAINSWEEP" simulate --fmri "$E2E_TMP/sim-fmri" --grid 4,4,3 >"$E2E_TMP/sim-fmri.log" 2>&1
FMRI_DATA=(-P "stimulus.file=$E2E_TMP/sim-fmri/stimuli/words.tsv" -P "fmri.bids=$E2E_TMP/sim-fmri"
           -P "output.path=$E2E_TMP/small-fmri/results.h5")
for f in jobs/presets/*.yaml; do
  args=()
  [ "$f" = jobs/presets/small-ieeg.yaml ] && args=("${SIM_DATA[@]}")
  [ "$f" = jobs/presets/small-fmri.yaml ] && args=("${FMRI_DATA[@]}")
  "$BRAINSWEEP" sweep "$f" "${args[@]}" --dry-run -q >"$E2E_TMP/dry.log" 2>&1
  rc=$?
  if [ "$f" = jobs/presets/demo.yaml ] && [ ! -f .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
    check "preset_$(basename "$f")_names_the_missing_model" grep -q "SmolLM2-135M-Instruct.Q4_1.gguf: cannot open" "$E2E_TMP/dry.log"
    skip_unless_ci "preset_$(basename "$f")_passes_dry_run" "demo model not fetched (make fetch-model)"
  elif [ "$f" = jobs/presets/mischler2024.yaml ] && [ ! -f ieeg-bids/stimuli/words.tsv ]; then
    # the reference study's sweep needs the user's iEEG dataset and twelve downloaded checkpoints (docs/slurm.md)
    check "preset_$(basename "$f")_names_the_missing_word_table" grep -q "ieeg-bids/stimuli/words.tsv: cannot open" \
      "$E2E_TMP/dry.log"
  else
    check "preset_$(basename "$f")_passes_dry_run" test $rc -eq 0
  fi
done
# the benchmark scores beside the reference study's preset name its twelve models, in order
check "mischler2024_benchmarks_name_its_models" bash -c "diff <(sed -n 's/^  - {name: \([^,]*\),.*/\1/p' \
  jobs/presets/mischler2024.yaml) <(grep -v '^#' jobs/presets/mischler2024-benchmarks.tsv | tail -n +2 | cut -f1)"
summary
