#!/usr/bin/env python3
"""Make the reference fixtures of brainsweep's tests with Hugging Face transformers.

The fixtures are committed; CI only reads them. Run this again only when a reference changes:

    python3 -m venv ~/venvs/bs-ref && ~/venvs/bs-ref/bin/pip install torch transformers gguf accelerate numpy
    make fetch-model                      # the SmolLM2 GGUF, into .cache/models/
    ~/venvs/bs-ref/bin/python tests/golden/make_fixtures.py

It writes, under tests/fixtures/:
  tokens-stories260K-alice.json, tokens-smollm2-alice.json  token ids (and byte offsets) of the Alice text
  hidden-stories260K.{json,f32}, hidden-smollm2.{json,f32}  every hidden state (L+1, T, C) for a short text
  stories260K-3layers.gguf  stories260K cut to its first 3 layers: a second, shallower model for sweep tests
and data/models/smollm2-135m-tokenizer.gguf: the SmolLM2 file's tokenizer metadata without weights, so the
byte-level tokenizer test runs without the 93 MB model.

The Alice text is built here by the rule host/stimulus.c documents (pauses dropped, labels trimmed and
NFC-normalised, clitics attached); the C tests compare their own text with the one stored here.
"""
import hashlib
import json
import os
import re
import sys
import unicodedata

import numpy as np
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
import transformers.integrations.gguf.reader as gguf_reader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures")
TEXTGRID = os.path.join(ROOT, "data", "alice", "DownTheRabbitHoleFinal_exp120_pad_1.TextGrid")
STORIES = os.path.join(ROOT, "data", "models", "stories260K.gguf")
SMOLLM2 = os.path.join(ROOT, ".cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
SMOLLM2_TOK = os.path.join(ROOT, "data", "models", "smollm2-135m-tokenizer.gguf")

# transformers refuses token ids outside the vocabulary (stories260K stores 0xFFFFFFFF for "none")
_read = gguf_reader.read_gguf_metadata


def _read_valid_ids(path, *args, **kwargs):
    metadata, rest = _read(path, *args, **kwargs)
    tokens = metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, list):
        for key in [k for k in metadata if k.startswith("tokenizer.ggml.") and k.endswith("_token_id")]:
            if metadata[key] >= len(tokens):
                del metadata[key]
    return metadata, rest


gguf_reader.read_gguf_metadata = _read_valid_ids


def alice_text():
    """Words of tier 'word' (pauses dropped), joined with clitics attached; returns (text, words)."""
    src = open(TEXTGRID, encoding="utf-8").read()
    labels = re.findall(r'^\s*text = "((?:[^"]|"")*)"\s*$', src, flags=re.M)
    words = []
    for lab in labels:
        w = unicodedata.normalize("NFC", lab.replace('""', '"').strip())
        if w in ("sp", "sil", ""):
            continue
        words.append(w)
    text = ""
    for i, w in enumerate(words):
        clitic = w.startswith("'") or w.startswith("\u2019") or w.lower() in ("n't", "n\u2019t")
        if i > 0 and not clitic:
            text += " "
        text += w
    return text, words


def char_to_byte_offsets(text, offsets):
    starts = [0]
    for ch in text:
        starts.append(starts[-1] + len(ch.encode("utf-8")))
    return [[starts[a], starts[b]] for a, b in offsets]


def load(path):
    d, f = os.path.dirname(path), os.path.basename(path)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    return tok


def write_tokens(name, path, text):
    tok = load(path)
    enc = tok(text, return_offsets_mapping=True)
    out = {
        "made_by": "tests/golden/make_fixtures.py",
        "transformers": transformers.__version__,
        "model_file": os.path.basename(path),
        "text": text,
        "ids": enc["input_ids"],
        "byte_offsets": char_to_byte_offsets(text, enc["offset_mapping"]),
    }
    with open(os.path.join(FIX, f"tokens-{name}-alice.json"), "w") as fh:
        json.dump(out, fh)
    print(f"tokens-{name}-alice.json: {len(out['ids'])} tokens")


def write_hidden(name, path, text):
    d, f = os.path.dirname(path), os.path.basename(path)
    cfg = AutoConfig.from_pretrained(d, gguf_file=f)
    if cfg.pad_token_id is not None and cfg.pad_token_id >= cfg.vocab_size:
        cfg.pad_token_id = None
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, config=cfg, dtype=torch.float32)
    model.eval()
    tok = load(path)
    ids = tok(text)["input_ids"]
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_hidden_states=True)
    hs = torch.stack([h[0] for h in out.hidden_states]).numpy().astype("<f4")  # (L+1, T, C)
    hs.tofile(os.path.join(FIX, f"hidden-{name}.f32"))
    meta = {
        "made_by": "tests/golden/make_fixtures.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "model_file": f,
        "dtype": "float32",
        "text": text,
        "ids": ids,
        "shape": list(hs.shape),
        "layout": "(L+1, T, C) little-endian float32; entry 0 = embeddings, entry L = final norm",
    }
    with open(os.path.join(FIX, f"hidden-{name}.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
    print(f"hidden-{name}: shape {hs.shape}, max |h| per layer {[float(abs(h).max()) for h in hs]}")


def write_tokenizer_only_gguf(src, dst):
    import gguf

    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, arch="llama")
    w.add_name("SmolLM2-135M-Instruct tokenizer (no weights)")
    for key, field in r.fields.items():
        if key.startswith("tokenizer.ggml."):
            copy_field(w, key, field)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{os.path.relpath(dst, ROOT)}: {os.path.getsize(dst)} bytes, sha256 "
          f"{hashlib.sha256(open(dst, 'rb').read()).hexdigest()}")


def copy_field(w, key, field):
    import gguf

    vtype = field.types[0]
    if vtype == gguf.GGUFValueType.ARRAY:
        if field.types[-1] == gguf.GGUFValueType.STRING:
            w.add_array(key, [bytes(field.parts[i]).decode("utf-8") for i in field.data])
        else:
            w.add_array(key, [field.parts[i][0].item() for i in field.data])
    elif vtype == gguf.GGUFValueType.STRING:
        w.add_string(key, bytes(field.parts[field.data[0]]).decode("utf-8"))
    elif vtype == gguf.GGUFValueType.BOOL:
        w.add_bool(key, bool(field.parts[field.data[0]][0]))
    elif vtype == gguf.GGUFValueType.UINT32:
        w.add_uint32(key, int(field.parts[field.data[0]][0]))
    elif vtype == gguf.GGUFValueType.FLOAT32:
        w.add_float32(key, float(field.parts[field.data[0]][0]))
    else:
        raise SystemExit(f"unexpected value type for {key}: {vtype}")


def write_truncated_model(src, dst, n_layers):
    import gguf

    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, arch="llama")
    for key, field in r.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key == "llama.block_count":
            w.add_uint32(key, n_layers)
        else:
            copy_field(w, key, field)
    for t in r.tensors:
        if t.name.startswith("blk.") and int(t.name.split(".")[1]) >= n_layers:
            continue
        w.add_tensor(t.name, np.array(t.data), raw_shape=list(reversed([int(x) for x in t.shape])))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{os.path.relpath(dst, ROOT)}: {os.path.getsize(dst)} bytes")


def main():
    os.makedirs(FIX, exist_ok=True)
    text, words = alice_text()
    print(f"Alice: {len(words)} words, {len(text.encode())} bytes")
    write_tokens("stories260K", STORIES, text)
    short = " ".join(text.split(" ")[:40])
    write_hidden("stories260K", STORIES, short)
    write_truncated_model(STORIES, os.path.join(FIX, "stories260K-3layers.gguf"), 3)
    if not os.path.exists(SMOLLM2):
        sys.exit(f"{SMOLLM2} is missing: run `make fetch-model` first")
    write_tokenizer_only_gguf(SMOLLM2, SMOLLM2_TOK)
    write_tokens("smollm2", SMOLLM2_TOK, text)
    write_hidden("smollm2", SMOLLM2, "Alice was beginning to get very tired of sitting by her sister")


if __name__ == "__main__":
    main()
