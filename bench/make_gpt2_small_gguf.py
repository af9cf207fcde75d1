#!/usr/bin/env python3
"""A random-weight GPT-2-small-shaped model as GGUF (F32 and F16), for timing llama.cpp on the GPT-2 shape.

    PYTHON_WITH_TORCH_TRANSFORMERS bench/make_gpt2_small_gguf.py OUT_DIR [--llama-cpp-src DIR] [--seed N]

Steps:
1. `transformers.GPT2Config()` with its defaults (12 layers, d 768, 12 heads, FFN 3072, vocabulary 50,257,
   n_positions 1024); `GPT2LMHeadModel` with random weights (torch.manual_seed(seed), default 0), float32,
   `save_pretrained(OUT_DIR)` (config.json, model.safetensors), then `n_ctx` = n_positions added to config.json
   (transformers 5 leaves it out; the converter's GPT-2 class needs it). The weights are meaningless: only the shape and
   so the speed count.
2. The GPT-2 tokenizer the converter needs: data/tokenizers/gpt2/{vocab.json, merges.txt, tokenizer_config.json,
   special_tokens_map.json} (repository root = one folder above this script) are copied into OUT_DIR, and
   tokenizer.json is written from vocab.json + merges.txt with the `tokenizers` library (byte-level BPE,
   GPT-2's pre-tokenizer and decoder, `<|endoftext|>` as a special token).
3. llama.cpp's own `convert_hf_to_gguf.py` (with the `gguf-py` package of the same tree put first on
   PYTHONPATH) writes OUT_DIR/<name>-f32.gguf and OUT_DIR/<name>-f16.gguf, name = OUT_DIR's folder name
   (gpt2-small-random-f32.gguf for OUT_DIR=/tmp/gpt2-small-random). The converter comes from --llama-cpp-src
   (a llama.cpp checkout, or the vendor/llama.cpp folder of an unpacked llama-cpp-python sdist); without it
   the script runs `pip download --no-binary :all: --no-deps llama-cpp-python==VERSION` (VERSION from
   --llama-cpp-python-version, default 0.3.36, the build the benchmark was first run with) into
   OUT_DIR/_sdist, unpacks it there and uses its vendor/llama.cpp.

Needs torch, transformers, tokenizers, numpy (and the converter's own imports: sentencepiece, protobuf are not
needed for GPT-2). Benchmark afterwards with
    PYTHON_WITH_LLAMA_CPP bench/compare_llamacpp.py OUT_DIR/gpt2-small-random-f32.gguf 5 1024
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER_DIR = os.path.join(ROOT, "data", "tokenizers", "gpt2")


def make_model(out, seed):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config()
    model = GPT2LMHeadModel(config).to(torch.float32).eval()
    model.save_pretrained(out)
    # transformers 5 no longer writes n_ctx (= n_positions) into config.json; the converter's GPT-2 class reads it,
    # and the real openai-community/gpt2 config.json has it.
    path = os.path.join(out, "config.json")
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.setdefault("n_ctx", cfg["n_positions"])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    print(f"model: {config.n_layer} layers, d {config.n_embd}, {config.n_head} heads, vocabulary "
          f"{config.vocab_size}, n_positions {config.n_positions}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters -> {out}")


def make_tokenizer(out):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    for f in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(TOKENIZER_DIR, f)):
            shutil.copyfile(os.path.join(TOKENIZER_DIR, f), os.path.join(out, f))
    bpe = models.BPE.from_file(os.path.join(out, "vocab.json"), os.path.join(out, "merges.txt"))
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    tok.save(os.path.join(out, "tokenizer.json"))
    print(f"tokenizer: {tok.get_vocab_size()} tokens, tokenizer.json written")


def llama_cpp_src(out, version):
    """vendor/llama.cpp of the llama-cpp-python sdist, downloaded and unpacked under out/_sdist."""
    sdist = os.path.join(out, "_sdist")
    os.makedirs(sdist, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-d", sdist,
                    f"llama-cpp-python=={version}"], check=True)
    (archive,) = glob.glob(os.path.join(sdist, f"llama_cpp_python-{version}.tar.gz"))
    with tarfile.open(archive) as t:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12
            t.extractall(sdist, filter="data")
        else:
            t.extractall(sdist)
    return os.path.join(sdist, f"llama_cpp_python-{version}", "vendor", "llama.cpp")


def convert(out, src, outtype):
    name = os.path.basename(os.path.normpath(out))
    target = os.path.join(out, f"{name}-{outtype}.gguf")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.join(src, "gguf-py"), env.get("PYTHONPATH")) if p)
    subprocess.run([sys.executable, os.path.join(src, "convert_hf_to_gguf.py"), out, "--outtype", outtype,
                    "--outfile", target], check=True, env=env)
    print(f"gguf: {target} ({os.path.getsize(target):,} bytes)")
    return target


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output folder (created; its name names the GGUF files)")
    ap.add_argument("--llama-cpp-src", help="llama.cpp source tree holding convert_hf_to_gguf.py and gguf-py/")
    ap.add_argument("--llama-cpp-python-version", default="0.3.36", help="sdist to download without --llama-cpp-src")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--outtypes", default="f32,f16", help="comma-separated converter --outtype values")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    make_model(out, a.seed)
    make_tokenizer(out)
    src = os.path.abspath(a.llama_cpp_src) if a.llama_cpp_src else llama_cpp_src(out, a.llama_cpp_python_version)
    for outtype in a.outtypes.split(","):
        convert(out, src, outtype)


if __name__ == "__main__":
    main()
