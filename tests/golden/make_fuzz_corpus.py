#!/usr/bin/env python3
"""Seed corpora of the libFuzzer harnesses (tests/fuzz/corpus/<harness>/), cut from the project's own data.

Standard library only. Each seed is a small but valid instance of its format, so the fuzzer starts past the
magic bytes and the first checks: whole files are too large (a 1.4 MB tokenizer.json, a 2,400-word TextGrid),
and a truncated file is refused at once. The HDF5 seeds (highgamma, features cache) come from the harnesses
themselves (FUZZ_WRITE_SEED, written with the project's own writers); the results seed from a small sweep run
by the brainsweep binary given as --brainsweep. Regression inputs of bugs found (regress-*) are kept by hand
beside these and are not rewritten here.

Usage, from the repository root after `make fuzz`:
    python3 tests/golden/make_fuzz_corpus.py --fuzz-dir build/fuzz --brainsweep build/brainsweep
"""
import argparse
import json
import os
import re
import struct
import subprocess
import tempfile

OUT = "tests/fuzz/corpus"


def put(harness, name, data):
    os.makedirs(f"{OUT}/{harness}", exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(f"{OUT}/{harness}/{name}", "wb") as f:
        f.write(data)


def head_lines(path, n):
    with open(path, "rb") as f:
        return b"".join(f.readline() for _ in range(n))


# ---------------------------------------------------------------------------------------------------------
# GGUF: a minimal reader and writer (v3, little endian)

T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
SCALAR = {T_U8: "B", T_I8: "b", T_U16: "H", T_I16: "h", T_U32: "I", T_I32: "i", T_F32: "f", T_BOOL: "?",
          T_U64: "Q", T_I64: "q", T_F64: "d"}


def gguf_kvs(path):
    """The metadata of a GGUF file as [(key, type, value)]; arrays as (item type, [values])."""
    b = open(path, "rb").read()
    pos = 24
    n_kv = struct.unpack_from("<Q", b, 16)[0]

    def rd(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, b, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def rd_str():
        nonlocal pos
        n = rd("Q")
        s = b[pos:pos + n]
        pos += n
        return s

    def rd_val(t):
        if t == T_STR:
            return rd_str()
        if t == T_ARR:
            it, n = rd("I"), rd("Q")
            return (it, [rd_val(it) for _ in range(n)])
        return rd(SCALAR[t])

    kvs = []
    for _ in range(n_kv):
        k = rd_str().decode()
        t = rd("I")
        kvs.append((k, t, rd_val(t)))
    return kvs


def gguf_bytes(kvs, tensors=()):
    """kvs as from gguf_kvs; tensors: [(name, ne list, float32 values)] stored as F32, 32-byte aligned."""
    def s(x):
        x = x if isinstance(x, bytes) else x.encode()
        return struct.pack("<Q", len(x)) + x

    def val(t, v):
        if t == T_STR:
            return s(v)
        if t == T_ARR:
            it, items = v
            return struct.pack("<IQ", it, len(items)) + b"".join(val(it, x) for x in items)
        return struct.pack("<" + SCALAR[t], v)

    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += s(k) + struct.pack("<I", t) + val(t, v)
    data, off = b"", 0
    for name, ne, values in tensors:
        out += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", 0, off)
        blob = struct.pack(f"<{len(values)}f", *values)
        blob += b"\0" * (-len(blob) % 32)
        data += blob
        off += len(blob)
    out += b"\0" * (-len(out) % 32)
    return out + data


def tiny_llama_gguf():
    """A 1-layer llama (d 8, 2 heads, 1 kv head, ffn 16, vocab 16) with F32 weights: model_open accepts it."""
    C, H, KV, F, V = 8, 2, 1, 16, 16
    hd = C // H
    kvs = [("general.architecture", T_STR, "llama"), ("general.name", T_STR, "tiny"),
           ("llama.block_count", T_U32, 1), ("llama.embedding_length", T_U32, C),
           ("llama.attention.head_count", T_U32, H), ("llama.attention.head_count_kv", T_U32, KV),
           ("llama.feed_forward_length", T_U32, F), ("llama.context_length", T_U32, 64),
           ("llama.rope.dimension_count", T_U32, hd), ("llama.rope.freq_base", T_F32, 10000.0),
           ("llama.attention.layer_norm_rms_epsilon", T_F32, 1e-5), ("tokenizer.ggml.bos_token_id", T_U32, 1)]

    def t(name, *ne):
        n = 1
        for d in ne:
            n *= d
        return (name, list(ne), [((i * 7) % 13 - 6) / 50 for i in range(n)])

    tensors = [t("token_embd.weight", C, V), t("output_norm.weight", C), t("output.weight", C, V),
               t("blk.0.attn_norm.weight", C), t("blk.0.attn_q.weight", C, H * hd), t("blk.0.attn_k.weight", C, KV * hd),
               t("blk.0.attn_v.weight", C, KV * hd), t("blk.0.attn_output.weight", H * hd, C),
               t("blk.0.ffn_norm.weight", C), t("blk.0.ffn_gate.weight", C, F), t("blk.0.ffn_up.weight", C, F),
               t("blk.0.ffn_down.weight", F, C)]
    return gguf_bytes(kvs, tensors)


def tokenizer_gguf(path, keep):
    """The tokenizer metadata of a GGUF file, no tensors, its vocabulary cut to the first `keep` tokens (and the
    merges among them)."""
    kvs = []
    tokens = None
    for k, t, v in gguf_kvs(path):
        if not k.startswith("tokenizer.") and k != "general.architecture":
            continue
        if t == T_ARR and k in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
            v = (v[0], v[1][:keep])
            if k == "tokenizer.ggml.tokens":
                tokens = set(v[1])
        kvs.append((k, t, v))
    out = []
    for k, t, v in kvs:
        if k == "tokenizer.ggml.merges":
            merges = [m for m in v[1] if all(p in tokens for p in m.split(b" ", 1)) and m.replace(b" ", b"") in tokens]
            v = (v[0], merges[:keep])
        if k.endswith("_token_id") and v >= keep:
            v = keep - 1
        out.append((k, t, v))
    return gguf_bytes(out)


# ---------------------------------------------------------------------------------------------------------
# the formats

def safetensors_seeds():
    """The first tensors of the tiny family fixtures (real headers, F32 and BF16), re-packed under 4 KB."""
    for fam, dt in (("llama", "fp32"), ("gpt2", "fp32"), ("opt", "bf16")):
        path = f"tests/fixtures/families/{fam}/{dt}/model.safetensors"
        if not os.path.exists(path):
            continue
        b = open(path, "rb").read()
        n = struct.unpack_from("<Q", b, 0)[0]
        header = json.loads(b[8:8 + n])
        body = b[8 + n:]
        meta = header.pop("__metadata__", None)
        out, data = {}, b""
        for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            lo, hi = t["data_offsets"]
            if len(data) + hi - lo > 4096:
                continue
            out[name] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [len(data), len(data) + hi - lo]}
            data += body[lo:hi]
        if meta is not None:
            out["__metadata__"] = meta
        h = json.dumps(out, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        put("fuzz_safetensors", f"{fam}-{dt}.safetensors", struct.pack("<Q", len(h)) + h + data)


def tokenizer_json_seed(path, name, keep):
    """A tokenizer.json with its pipeline as it is and its BPE model cut to `keep` tokens."""
    j = json.load(open(path, encoding="utf-8"))
    vocab = {k: v for k, v in j["model"]["vocab"].items() if v < keep}
    merges = []
    for m in j["model"].get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    j["model"]["vocab"], j["model"]["merges"] = vocab, merges[:keep]
    j["added_tokens"] = [t for t in j.get("added_tokens", []) if t["id"] < keep]
    put("fuzz_tokenizer_json", name, json.dumps(j, ensure_ascii=False))


def vocab_merges_seed(keep):
    vocab_all = json.load(open("data/tokenizers/gpt2/vocab.json", encoding="utf-8"))
    vocab = {k: v for k, v in vocab_all.items() if v < keep}
    lines = open("data/tokenizers/gpt2/merges.txt", encoding="utf-8").read().splitlines()
    merges = [lines[0]] + [m for m in lines[1:] if len(m.split(" ")) == 2 and all(p in vocab for p in m.split(" "))
                           and m.replace(" ", "") in vocab]
    put("fuzz_vocab_merges", "gpt2-cut", json.dumps(vocab, ensure_ascii=False) + "\0" + "\n".join(merges) + "\n")


def textgrid_seed(n):
    """The first n intervals of the Alice TextGrid's word tier, written back in the long format."""
    text = open("data/alice/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid", encoding="utf-8").read()
    iv = re.findall(r'xmin = ([0-9.]+)\s+xmax = ([0-9.]+)\s+text = "([^"]*)"', text)[:n]
    lo, hi = iv[0][0], iv[-1][1]
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", f"xmin = {lo}", f"xmax = {hi}",
           "tiers? <exists>", "size = 1", "item []:", "    item [1]:", '        class = "IntervalTier"',
           '        name = "word"', f"        xmin = {lo}", f"        xmax = {hi}", f"        intervals: size = {len(iv)}"]
    for i, (a, b, w) in enumerate(iv, 1):
        out += [f"        intervals [{i}]:", f"            xmin = {a}", f"            xmax = {b}",
                f'            text = "{w}"']
    put("fuzz_textgrid", "alice-30.TextGrid", "\n".join(out) + "\n")


def bids_seed():
    d = "data/podcast/ecog/sub-02/ieeg"
    parts = [open(f"{d}/sub-02_task-podcast_ieeg.json", "rb").read(),
             head_lines(f"{d}/sub-02_task-podcast_channels.tsv", 9),
             head_lines(f"{d}/sub-02_space-MNI152NLin2009aSym_electrodes.tsv", 9),
             b"onset\tduration\ttrial_type\n0.0\t1.5\tnoise\n3.2\t1799.5\tstory\n"]
    put("fuzz_bids", "podcast-sub-02", b"\0".join(parts))
    put("fuzz_bids", "no-electrodes", b"\0".join(parts[:2] + [b""] + parts[3:]))


def results_seed(brainsweep):
    """A results file of a sweep of the tiny committed model over 120 words (47 s) and one recording
    of two regions."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = open("data/podcast/transcript.tsv", encoding="utf-8").read().splitlines()[1:121]
        with open(f"{tmp}/words.tsv", "w") as f:
            f.write("word\tonset\toffset\n")
            for ln in lines:
                _, _, w, a, b = ln.split("\t")
                f.write(f"{w}\t{a}\t{b}\n")
        volumes = int(float(b) / 2) + 1
        with open(f"{tmp}/s01.txt", "w") as f:
            for i in range(volumes):
                f.write(" ".join(f"{((i * 5 + j * 3) % 11) / 10:.2f}" for j in range(2)) + "\n")
        with open(f"{tmp}/c.yaml", "w") as f:
            f.write(f"models:\n  - name: tiny\n    path: data/models/stories260K.gguf\nstimulus:\n  file: {tmp}/words.tsv\n"
                    f"recordings:\n  format: roi_text\n  tr: 2.0\n  regions: [A, B]\n  files: {tmp}/s01.txt\n"
                    f"design:\n  delays: [1]\nridge:\n  folds: 3\n  select: outer_mean\n  alpha_count: 3\n"
                    f"output:\n  path: {tmp}/results.h5\n")
        subprocess.run([brainsweep, "sweep", f"{tmp}/c.yaml", "-P", "run.threads=1"], check=True,
                       stdout=subprocess.DEVNULL)
        put("fuzz_results", "tiny-sweep.h5", open(f"{tmp}/results.h5", "rb").read())


def fmri_seeds():
    """fuzz_fmri: each nibabel-written run of tests/fixtures/fmri-nibabel as [len][BOLD][len][mask][sidecar]."""
    for sub in ("sub-01", "sub-02"):
        d = f"tests/fixtures/fmri-nibabel/{sub}/func/{sub}_task-t_run-1_space-T1w_"
        bold_path = d + "desc-preproc_bold.nii" + ("" if os.path.exists(d + "desc-preproc_bold.nii") else ".gz")
        bold = open(bold_path, "rb").read()
        mask = open(d + "desc-brain_mask.nii.gz", "rb").read()
        side = open(d + "desc-preproc_bold.json", "rb").read()
        put("fuzz_fmri", f"nibabel-{sub}", struct.pack("<I", len(bold)) + bold + struct.pack("<I", len(mask)) + mask + side)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fuzz-dir", default="build/fuzz")
    ap.add_argument("--brainsweep", default="build/brainsweep")
    a = ap.parse_args()

    put("fuzz_gguf", "tiny-llama.gguf", tiny_llama_gguf())
    put("fuzz_gguf_tokenizer", "stories260K-spm.gguf", tokenizer_gguf("data/models/stories260K.gguf", 512))
    put("fuzz_gguf_tokenizer", "smollm2-bpe-cut.gguf", tokenizer_gguf("data/models/smollm2-135m-tokenizer.gguf", 300))
    safetensors_seeds()
    tokenizer_json_seed("data/tokenizers/llama2/tokenizer.json", "llama2-cut.json", 300)
    vocab_merges_seed(300)
    for fam in sorted(os.listdir("tests/fixtures/families")):
        for dt in ("fp32", "bf16"):
            p = f"tests/fixtures/families/{fam}/{dt}/config.json"
            if os.path.exists(p):
                put("fuzz_model_config", f"{fam}.json", open(p, "rb").read())
                break
    for name in ("test-stories260k.yaml", "small-ieeg.yaml", "demo.yaml"):
        put("fuzz_yaml_config", name, open(f"jobs/presets/{name}", "rb").read())
    textgrid_seed(30)
    put("fuzz_word_table", "podcast-40.tsv", head_lines("data/podcast/transcript.tsv", 41))
    put("fuzz_word_table", "lpp-40.csv", head_lines("data/lpp/lppEN_word_information.csv", 41))
    put("fuzz_recording", "alice-s18-30.txt", head_lines("data/alice/fmri-6mm/s18-timecourses.txt", 30))
    put("fuzz_edf", "annotated.edf", open("tests/fixtures/edf/annotated.edf", "rb").read())
    bids_seed()
    fmri_seeds()
    for h in ("fuzz_highgamma_h5", "fuzz_featcache"):
        os.makedirs(f"{OUT}/{h}", exist_ok=True)
        subprocess.run([f"{a.fuzz_dir}/{h}"], env=dict(os.environ, FUZZ_WRITE_SEED=f"{OUT}/{h}/seed.h5"), check=True)
    results_seed(a.brainsweep)


if __name__ == "__main__":
    main()
