#!/usr/bin/env python3
"""Make tiny random checkpoints of seven decoder families, with transformers' hidden states as references.

The fixtures are committed; CI only reads them. Run this again only when a reference changes:

    python3 -m venv ~/venvs/bs-ref && ~/venvs/bs-ref/bin/pip install torch transformers safetensors numpy
    ~/venvs/bs-ref/bin/python tests/golden/make_family_fixtures.py

No download: every model is built here from a config with random weights (fixed seeds), so the outputs are
reproducible for one transformers/torch version. It writes, for each variant, tests/fixtures/families/<variant>/:
  fp32/  config.json + model.safetensors (llama: sharded, with model.safetensors.index.json), saved in float32
  bf16/  the same model cast to bfloat16 and saved
  fp32-full.f32, bf16-full.f32       every hidden state of the whole sequence, per layer (T, dim)
  fp32-tokens8.f32, bf16-tokens8.f32 the "tokens:8" context policy: for each target, a fresh run on
                                     [BOS] + body[max(0, t-7) : t+1]; per layer (n_targets, dim), last position only
  reference.json                     ids, targets, layer widths, file list and layouts
The .f32 files are little-endian float32, the L+1 entries of `output_hidden_states` one after the other
(entry 0 = embedding output, entry L = what transformers returns last, e.g. after the final norm).
Both checkpoints are read back with from_pretrained(dtype=float32) before the runs (bf16 weights upcast exactly).
At the end it reads the files back and checks them (bf16 differs from fp32; tokens:8 equals the full run while
the window holds the whole prefix).
"""
import copy
import json
import os
import re
import shutil

import numpy as np
import torch
import transformers
from transformers import (AutoModelForCausalLM, FalconConfig, GPT2Config, GPTNeoXConfig, LlamaConfig,
                          MistralConfig, MptConfig, OPTConfig)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "families")
MADE_BY = "tests/golden/make_family_fixtures.py"

VOCAB = 128
MAX_POS = 64
BODY_LEN = 40
BODY_SEED = 1234
N = 8
TARGETS = [0, 1, 5, 7, 8, 20, 39]
INIT = 0.2          # std of the random weight matrices (initializer_range / init_std)
NORM_GAIN_STD = 0.2  # norm weights are 1 + this * randn, so a missing gain shows
BIAS_STD = 0.1       # biases (zero at init) get this * randn, so a missing bias shows


def variants():
    """(name, config, bos id or None, knobs to find in the saved config.json, what the last hidden state is)."""
    common = dict(vocab_size=VOCAB, attn_implementation="eager")
    llama = LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, rms_norm_eps=1e-5, max_position_embeddings=MAX_POS,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                        initializer_range=INIT, **common)
    mistral = MistralConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=1, sliding_window=16, max_position_embeddings=MAX_POS,
                            rope_parameters={"rope_type": "default", "rope_theta": 1e6}, rms_norm_eps=1e-5,
                            bos_token_id=1, eos_token_id=2, initializer_range=INIT, **common)
    falcon = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, bias=False, alibi=False,
                  max_position_embeddings=MAX_POS, initializer_range=INIT, bos_token_id=11, eos_token_id=11,
                  **common)
    neox = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                rotary_pct=0.25, rotary_emb_base=10000, hidden_act="gelu", max_position_embeddings=MAX_POS,
                initializer_range=INIT, **common)
    opt = dict(hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=4, word_embed_proj_dim=16,
               activation_function="relu", enable_bias=True, bos_token_id=2, eos_token_id=2, pad_token_id=1,
               max_position_embeddings=MAX_POS, init_std=INIT, **common)
    neox_knobs = {"rope_parameters.partial_rotary_factor": 0.25, "rope_parameters.rope_theta": 10000,
                  "hidden_act": "gelu", "intermediate_size": 64}
    return [
        ("llama", llama, 1,
         {"num_key_value_heads": 2, "rms_norm_eps": 1e-5, "rope_parameters.rope_theta": 10000,
          "tie_word_embeddings": False, "bos_token_id": 1},
         "model.norm (RMSNorm) of the last layer's output"),
        ("mistral", mistral, 1,
         {"num_key_value_heads": 1, "sliding_window": 16, "rope_parameters.rope_theta": 1e6, "bos_token_id": 1},
         "model.norm (RMSNorm) of the last layer's output"),
        ("falcon", FalconConfig(multi_query=True, parallel_attn=True, new_decoder_architecture=False, **falcon),
         None,
         {"multi_query": True, "parallel_attn": True, "new_decoder_architecture": False, "bias": False,
          "alibi": False},
         "transformer.ln_f (LayerNorm) of the last layer's output"),
        ("falcon-newarch", FalconConfig(new_decoder_architecture=True, num_kv_heads=2, **falcon), None,
         {"new_decoder_architecture": True, "num_kv_heads": 2, "bias": False, "alibi": False,
          "num_ln_in_parallel_attn": 2},
         "transformer.ln_f (LayerNorm) of the last layer's output"),
        # transformers' MptMLP hard-codes 4 * d_model whatever expansion_ratio says: keep the config truthful
        ("mpt", MptConfig(d_model=24, n_heads=6, n_layers=2, expansion_ratio=4, no_bias=True, max_seq_len=MAX_POS,
                          attn_config={"alibi": True, "alibi_bias_max": 8}, initializer_range=INIT, **common),
         None,
         {"n_heads": 6, "no_bias": True, "attn_config.alibi": True, "attn_config.alibi_bias_max": 8,
          "expansion_ratio": 4},
         "transformer.norm_f (LayerNorm without bias) of the last layer's output"),
        ("gpt-neox", GPTNeoXConfig(use_parallel_residual=True, **neox), None,
         dict(neox_knobs, use_parallel_residual=True),
         "gpt_neox.final_layer_norm of the last layer's output"),
        ("gpt-neox-seq", GPTNeoXConfig(use_parallel_residual=False, **neox), None,
         dict(neox_knobs, use_parallel_residual=False),
         "gpt_neox.final_layer_norm of the last layer's output"),
        ("opt", OPTConfig(do_layer_norm_before=True, **opt), 2,
         {"word_embed_proj_dim": 16, "do_layer_norm_before": True, "activation_function": "relu",
          "enable_bias": True, "bos_token_id": 2},
         "project_out(final_layer_norm(last layer's output)), width word_embed_proj_dim"),
        ("opt-postln", OPTConfig(do_layer_norm_before=False, **opt), 2,
         {"word_embed_proj_dim": 16, "do_layer_norm_before": False, "activation_function": "relu",
          "enable_bias": True, "bos_token_id": 2},
         "project_out(last layer's output): no final norm in the post-LN layout; width word_embed_proj_dim"),
        ("gpt2", GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=MAX_POS, activation_function="gelu_new",
                            bos_token_id=None, eos_token_id=None, initializer_range=INIT, **common),
         None, {"n_embd": 32, "n_layer": 2, "n_head": 4, "activation_function": "gelu_new"},
         "transformer.ln_f of the last layer's output"),
    ]


def body_ids():
    return [int(x) for x in np.random.default_rng(BODY_SEED).integers(3, VOCAB, BODY_LEN)]


def build(cfg, seed):
    """Random model from cfg; norm gains and biases moved off 1 and 0 so that they matter."""
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() != 1:
                continue
            if name.endswith("bias"):
                p.copy_(BIAS_STD * torch.randn_like(p))
            else:
                p.copy_(1.0 + NORM_GAIN_STD * torch.randn_like(p))
    return model.eval()


def save(model, path, max_shard_size="50GB"):
    if os.path.isdir(path):
        shutil.rmtree(path)
    model.save_pretrained(path, safe_serialization=True, max_shard_size=max_shard_size)
    return sorted(os.listdir(path))


def load(path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()


def hidden(model, ids):
    """The L+1 hidden states of one sequence, each (T, dim), as float32 numpy arrays."""
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_hidden_states=True, use_cache=False)
    return [h[0].numpy().astype("<f4") for h in out.hidden_states]


def windows(body, bos):
    """tokens:N: for each target t, a fresh sequence [BOS] + body[max(0, t-N+1) : t+1]."""
    pre = [] if bos is None else [bos]
    return [pre + body[max(0, t - N + 1):t + 1] for t in TARGETS]


def hidden_tokens(model, wins):
    """Last position of each window's run: per layer (n_targets, dim)."""
    runs = [hidden(model, w) for w in wins]
    return [np.stack([r[layer][-1] for r in runs]) for layer in range(len(runs[0]))]


def write_f32(path, layers):
    with open(path, "wb") as fh:
        for a in layers:
            fh.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return os.path.getsize(path)


def read_f32(path, rows, dims):
    flat = np.fromfile(path, dtype="<f4")
    out, at = [], 0
    for d in dims:
        out.append(flat[at:at + rows * d].reshape(rows, d))
        at += rows * d
    assert at == flat.size, f"{path}: {flat.size} floats, expected {at}"
    return out


def get_knob(cfg, dotted):
    v = cfg
    for k in dotted.split("."):
        v = v[k]
    return v


def check_config(path, knobs):
    cfg = json.load(open(os.path.join(path, "config.json")))
    for k, want in knobs.items():
        got = get_knob(cfg, k)
        if got != want:
            raise SystemExit(f"{path}/config.json: {k} = {got!r}, wanted {want!r}")
    return cfg


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def dump(obj):
    """JSON with indent 1, but lists of numbers on one line."""
    text = json.dumps(obj, indent=1)
    return re.sub(r"\[[-+0-9.eE,\s]*\]", lambda m: "[" + ", ".join(m.group(0)[1:-1].split()).replace(",,", ",") + "]",
                  text) + "\n"


def make_variant(index, name, cfg, bos, knobs, last_entry, body):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    seed = 100 + index
    model = build(cfg, seed)
    ids = ([] if bos is None else [bos]) + body
    fp32_files = save(model, os.path.join(d, "fp32"), "25KB" if name == "llama" else "50GB")
    bf16_files = save(copy.deepcopy(model).to(torch.bfloat16), os.path.join(d, "bf16"))  # .to() is in place
    saved = check_config(os.path.join(d, "fp32"), knobs)
    check_config(os.path.join(d, "bf16"), knobs)
    if name == "llama":
        assert "model.safetensors.index.json" in fp32_files and sum(f.endswith(".safetensors") for f in fp32_files) >= 2

    wins = windows(body, bos)
    files, dims, maxabs = {}, None, {}
    for prec in ("fp32", "bf16"):
        m = load(os.path.join(d, prec))
        if prec == "fp32":
            assert same_weights(m, model), "fp32 checkpoint does not read back exactly"
        else:
            assert same_weights(m, copy.deepcopy(model).to(torch.bfloat16).float()), "bf16 checkpoint does not upcast exactly"
        full = hidden(m, ids)
        toks = hidden_tokens(m, wins)
        dims = [a.shape[1] for a in full]
        maxabs[prec] = [float(np.abs(a).max()) for a in full]
        for kind, layers, rows in (("full", full, len(ids)), ("tokens8", toks, len(TARGETS))):
            fname = f"{prec}-{kind}.f32"
            nbytes = write_f32(os.path.join(d, fname), layers)
            files[f"{prec}-{kind}"] = {"path": fname, "checkpoint": prec, "rows": rows, "bytes": nbytes}
    files["fp32"] = {"dir": "fp32", "files": fp32_files, "dtype": "float32"}
    files["bf16"] = {"dir": "bf16", "files": bf16_files, "dtype": "bfloat16"}

    ref = {
        "made_by": MADE_BY,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "variant": name,
        "model_type": saved["model_type"],
        "architectures": saved.get("architectures"),
        "seed": seed,
        "init": {"matrices_std": INIT, "norm_gain": f"1 + {NORM_GAIN_STD} * randn", "bias": f"{BIAS_STD} * randn"},
        "knobs": knobs,
        "ids": ids,
        "bos": bos,
        "body_offset": 0 if bos is None else 1,
        "policy": f"tokens:{N}",
        "N": N,
        "targets": TARGETS,
        "windows": wins,
        "n_layers": len(dims) - 1,
        "layer_dims": dims,
        "last_entry": last_entry,
        "layout": {
            "full": "for each of the L+1 entries in order: (T, layer_dims[l]) little-endian float32, T = len(ids)",
            "tokens8": "for each of the L+1 entries in order: (len(targets), layer_dims[l]) little-endian float32; "
                       "row i = last position of a fresh run on windows[i]",
        },
        "max_abs": maxabs,
        "files": files,
    }
    with open(os.path.join(d, "reference.json"), "w") as fh:
        fh.write(dump(ref))
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
    print(f"{name}: {size // 1024} KiB, T={len(ids)}, dims {dims}, "
          f"max |h| per layer {[round(x, 3) for x in maxabs['fp32']]}")


def check_variant(name):
    """Read the files back: bf16 differs from fp32; tokens:8 equals the full run while the window is the prefix."""
    d = os.path.join(OUT, name)
    ref = json.load(open(os.path.join(d, "reference.json")))
    dims, T, off = ref["layer_dims"], len(ref["ids"]), ref["body_offset"]
    full = {p: read_f32(os.path.join(d, f"{p}-full.f32"), T, dims) for p in ("fp32", "bf16")}
    toks = {p: read_f32(os.path.join(d, f"{p}-tokens8.f32"), len(ref["targets"]), dims) for p in ("fp32", "bf16")}
    bf16_vs_fp32 = max(float(np.abs(a - b).max()) for a, b in zip(full["fp32"], full["bf16"]))
    assert bf16_vs_fp32 > 0, f"{name}: bf16 states equal fp32 states"
    prefix, later = 0.0, []
    for p in ("fp32", "bf16"):
        for i, t in enumerate(ref["targets"]):
            diff = max(float(np.abs(tk[i] - fl[t + off]).max()) for tk, fl in zip(toks[p], full[p]))
            if t < ref["N"]:
                prefix = max(prefix, diff)
            elif p == "fp32":
                later.append(diff)
    assert prefix < 1e-4, f"{name}: tokens:{ref['N']} differs from the full run by {prefix} on a whole prefix"
    assert all(x > 0 for x in later), f"{name}: a truncated window gives the full-run state"
    print(f"check {name}: max |bf16-fp32| {bf16_vs_fp32:.3g}; tokens:{ref['N']} vs full, t<N: {prefix:.3g}, "
          f"t>=N: min {min(later):.3g}")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    body = body_ids()
    all_variants = variants()
    for i, v in enumerate(all_variants):
        make_variant(i, *v, body)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    print(f"families: {total // 1024} KiB in all")
    for name, *_ in all_variants:
        check_variant(name)


if __name__ == "__main__":
    main()
