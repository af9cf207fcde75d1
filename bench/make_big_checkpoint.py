#!/usr/bin/env python3
"""A random-weight checkpoint of Llama-2-7B's shape in bf16, for the memory benchmark (bench/memory.sh).

    python3 bench/make_big_checkpoint.py OUT_DIR [--layers 32] [--d-model 4096] [--seed 0] [--sparse | --reuse]

Writes OUT_DIR/config.json (model_type llama: 32 layers, d 4096, 32 heads, FFN 11008, vocabulary 32,000, context
4096), the weights as bf16 safetensors in shards of 4 layers with model.safetensors.index.json (about 13.5 GB in
all), and the Llama 2 tokenizer (data/tokenizers/llama2/tokenizer.json). Needs only numpy: bf16 is written as the
upper half of float32 values drawn N(0, 0.02), rounded to nearest even, one tensor at a time, so the script's own
memory stays near one FFN matrix. The weights are meaningless; only the shape, the dtype and the bytes count.
With --sparse the shards hold their headers and a hole where the data would be (sparse files of the full size,
a few kB on disk, written at once): enough for `brainsweep plan`, which maps a checkpoint and reads no weight.
With --reuse each tensor shape is drawn once and its bytes written for every layer (the file is as large, the
time is the disk's: for the device checks, which time a 7B-shaped forward pass and need no distinct layers).
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS_PER_SHARD = 4


def bf16(rng, shape, std):
    """bytes of a bf16 tensor of N(0, std) values (round to nearest even), or ones when std is None (norms)."""
    x = np.ones(shape, np.float32) if std is None else rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    u = x.view(np.uint32)
    u += np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))
    return (u >> np.uint32(16)).astype(np.uint16).tobytes()


def write_shard(path, tensors, rng, sparse, drawn):
    """tensors: [(name, shape, std)], written in order; the header is computed before any data is drawn. drawn:
    None, or a dict of the bytes already drawn per (shape, std), reused (--reuse)."""
    header, offset = {}, 0
    for name, shape, _ in tensors:
        n = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        if sparse:
            f.truncate(8 + len(blob) + offset)
            return offset
        for name, shape, std in tensors:
            if drawn is None:
                f.write(bf16(rng, shape, std))
                continue
            if (shape, std) not in drawn:
                drawn[(shape, std)] = bf16(rng, shape, std)
            f.write(drawn[(shape, std)])
    return offset


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--d-model", type=int, default=4096)
    ap.add_argument("--d-ff", type=int, default=11008)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--seed", type=int, default=0)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--sparse", action="store_true", help="headers only, the data a hole (for brainsweep plan)")
    mode.add_argument("--reuse", action="store_true", help="draw each tensor shape once, write it for every layer")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    C, F, V, std = a.d_model, a.d_ff, a.vocab, 0.02
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": C,
              "intermediate_size": F, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
              "num_key_value_heads": a.heads, "hidden_act": "silu", "max_position_embeddings": 4096,
              "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": V, "bos_token_id": 1, "eos_token_id": 2,
              "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.copyfile(os.path.join(ROOT, "data", "tokenizers", "llama2", "tokenizer.json"),
                    os.path.join(a.out, "tokenizer.json"))

    rng = np.random.default_rng(a.seed)
    groups = [[("model.embed_tokens.weight", (V, C), std)]]
    for l in range(a.layers):
        p = f"model.layers.{l}."
        layer = [(p + "input_layernorm.weight", (C,), None), (p + "post_attention_layernorm.weight", (C,), None)]
        layer += [(p + f"self_attn.{n}_proj.weight", (C, C), std) for n in "qkvo"]
        layer += [(p + "mlp.gate_proj.weight", (F, C), std), (p + "mlp.up_proj.weight", (F, C), std),
                  (p + "mlp.down_proj.weight", (C, F), std)]
        if l % LAYERS_PER_SHARD == 0:
            groups.append([])
        groups[-1] += layer
    groups[-1] += [("model.norm.weight", (C,), None), ("lm_head.weight", (V, C), std)]
    weight_map, total, drawn = {}, 0, {} if a.reuse else None
    for i, group in enumerate(groups):
        name = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        total += write_shard(os.path.join(a.out, name), group, rng, a.sparse, drawn)
        weight_map.update({t[0]: name for t in group})
        print(f"{name}: {len(group)} tensors", flush=True)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    print(f"{a.out}: {a.layers} layers, d {C}, {total / 2**30:.2f} GiB of bf16 weights")


if __name__ == "__main__":
    main()
