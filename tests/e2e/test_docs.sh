#!/usr/bin/env bash
# Documentation that is generated must match its generator.
source "$(dirname "$0")/lib.sh"
"$BRAINSWEEP" config-doc >"$E2E_TMP/config.md"
if diff -u docs/config.md "$E2E_TMP/config.md" >"$E2E_TMP/diff"; then check "docs_config_md_matches_config_doc" true
else check "docs_config_md_matches_config_doc (run: build/brainsweep config-doc > docs/config.md)" false; head -20 "$E2E_TMP/diff"; fi
for f in jobs/presets/*.yaml; do
  "$BRAINSWEEP" sweep "$f" --dry-run -q >"$E2E_TMP/dry.log" 2>&1
  rc=$?
  if [ "$f" = jobs/presets/demo.yaml ] && [ ! -f .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
    check "preset_$(basename "$f")_names_the_missing_model" grep -q "SmolLM2-135M-Instruct.Q4_1.gguf: cannot open" "$E2E_TMP/dry.log"
  else
    check "preset_$(basename "$f")_passes_dry_run" test $rc -eq 0
  fi
done
summary
